// Functional executor throughput: scalar/vector instruction rate in timing-only mode (the hot
// loop for full-size models) and GEMM FLOP rate in functional mode, next to OpenBLAS sgemm.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "isa/isa.hpp"
#include "sim/sim.hpp"
#ifdef PLENA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {
using namespace plena;

config::HardwareConfig bench_config() {
  auto cfg = config::preset("reference-small");
  cfg.timing.instruction_budget = ~0ull >> 1;
  cfg.timing.loop_iteration_budget = ~0ull >> 1;
  return cfg;
}

// A loop body of 8 scalar/vector instructions, repeated `iters` times.
std::vector<uint32_t> scalar_vector_program(uint32_t iters) {
  return isa::assemble(fmt::format(R"(
    S_ADDI_INT gp1, gp0, 64
    S_ADDI_INT gp2, gp0, 128
    C_LOOP_START gp3, {}
      S_ADDI_INT gp4, gp4, 1
      V_ADD_VV gp2, gp1, gp2, 0
      S_ADD_FP f1, f1, f2
      V_MUL_VF gp2, gp2, f1, 0
      S_MUL_INT gp5, gp4, gp4
      V_EXP_V gp2, gp2, 0
      V_RED_SUM f2, gp2
    C_LOOP_END gp3
  )",
                                   iters))
      .words;
}

void run_program(benchmark::State& st, sim::Mode mode, bool timing) {
  auto cfg = bench_config();
  const uint32_t iters = 100000;
  auto words = scalar_vector_program(iters);
  sim::SimOptions o;
  o.mode = mode;
  o.use_timing_model = timing;
  sim::Simulator s(cfg, o);
  uint64_t executed = 0;
  for (auto _ : st) executed += s.run(words).executed;
  st.SetItemsProcessed(int64_t(executed));
  st.counters["instr/s"] = benchmark::Counter(double(executed), benchmark::Counter::kIsRate);
}

void BM_ScalarVectorTimingOnlyExecutor(benchmark::State& st) { run_program(st, sim::Mode::TimingOnly, false); }
BENCHMARK(BM_ScalarVectorTimingOnlyExecutor)->Unit(benchmark::kMillisecond);
void BM_ScalarVectorTimingOnlyWithTimingModel(benchmark::State& st) { run_program(st, sim::Mode::TimingOnly, true); }
BENCHMARK(BM_ScalarVectorTimingOnlyWithTimingModel)->Unit(benchmark::kMillisecond);
void BM_ScalarVectorFunctional(benchmark::State& st) { run_program(st, sim::Mode::Functional, false); }
BENCHMARK(BM_ScalarVectorFunctional)->Unit(benchmark::kMillisecond);

// C[M x N] = A[M x K] @ W[K x N] with M_MM at MLEN 64, BLEN 4: operands preloaded in the SRAMs.
void BM_GemmFunctional(benchmark::State& st) {
  auto cfg = bench_config();
  const uint32_t L = cfg.geometry.mlen, B = cfg.geometry.blen;
  const uint32_t M = uint32_t(st.range(0)), K = uint32_t(st.range(1)), N = L;  // one MLEN-wide output block
  std::string p;
  for (uint32_t rg = 0; rg < M / B; ++rg)
    for (uint32_t cb = 0; cb < N / B; ++cb) {
      for (uint32_t k = 0; k < K / L; ++k)
        p += fmt::format("S_ADDI_INT gp1, gp0, {}\nS_ADDI_INT gp2, gp0, {}\nM_MM 0, gp1, gp2\n", k * L * L + cb * B * L,
                         (k * M + rg * B) * L);
      p += fmt::format("S_LUI_INT gp3, {}\nS_ADDI_INT gp3, gp3, {}\nM_MM_WO gp3, gp0, 0\n", 64,
                       rg * B * L + cb * B);
    }
  auto words = isa::assemble(p).words;
  sim::SimOptions o;
  o.use_timing_model = false;
  sim::Simulator s(cfg, o);
  std::vector<float> a(size_t(M) * K, 0.5f), w(size_t(K) * N, 0.25f);
  s.machine().write_vram(0, a);
  s.machine().write_mram(0, w);
  for (auto _ : st) s.run(words);
  st.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * K * N * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GemmFunctional)->Args({64, 256})->Args({256, 1024})->Unit(benchmark::kMillisecond);

#ifdef PLENA_HAVE_OPENBLAS
void BM_OpenBlasSgemm(benchmark::State& st) {
  const int M = int(st.range(0)), K = int(st.range(1)), N = 64;
  std::vector<float> a(size_t(M) * K, 0.5f), w(size_t(K) * N, 0.25f), c(size_t(M) * N);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a.data(), K, w.data(), N, 0.0f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * K * N * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OpenBlasSgemm)->Args({64, 256})->Args({256, 1024})->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();

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

// Geometries for the GEMM benchmarks: reference-small (MLEN 64, BLEN 4), a mid size (MLEN 256,
// BLEN 16) and the reference-analytic matrix unit (MLEN 2048, BLEN 128).
config::HardwareConfig gemm_config(uint32_t mlen, uint32_t blen) {
  auto cfg = bench_config();
  if (mlen == cfg.geometry.mlen) return cfg;
  cfg.geometry.mlen = cfg.geometry.vlen = mlen;
  cfg.geometry.blen = blen;
  cfg.geometry.hlen = blen;
  cfg.geometry.broadcast_amount = mlen / blen;
  cfg.sram.matrix_depth = 4 * mlen;                 // K up to 4 * MLEN
  cfg.sram.vector_depth = (1u << 24) / mlen;        // 16 Mi elements
  return cfg;
}

// gp[reg] = value: one S_ADDI_INT when it fits the 18-bit immediate, else S_LUI_INT + S_ADDI_INT.
std::string load_imm(unsigned reg, uint64_t value) {
  if (value < (1u << 18)) return fmt::format("S_ADDI_INT gp{}, gp0, {}\n", reg, value);
  return fmt::format("S_LUI_INT gp{0}, {1}\nS_ADDI_INT gp{0}, gp{0}, {2}\n", reg, value >> 12, value & 0xFFF);
}

// C[M x N] = A[M x K] @ W[K x N] with M_MM, N = MLEN (one MLEN-wide output block), operands
// preloaded in the SRAMs; args: MLEN, BLEN, M, K.
void BM_GemmFunctional(benchmark::State& st) {
  auto cfg = gemm_config(uint32_t(st.range(0)), uint32_t(st.range(1)));
  const uint32_t L = cfg.geometry.mlen, B = cfg.geometry.blen;
  const uint32_t M = uint32_t(st.range(2)), K = uint32_t(st.range(3)), N = L;
  const uint64_t out_base = uint64_t(M) * K;  // C right after A in VRAM
  std::string p;
  for (uint32_t rg = 0; rg < M / B; ++rg)
    for (uint32_t cb = 0; cb < N / B; ++cb) {
      for (uint32_t k = 0; k < K / L; ++k)
        p += load_imm(1, uint64_t(k) * L * L + uint64_t(cb) * B * L) + load_imm(2, (uint64_t(k) * M + rg * B) * L) +
             "M_MM 0, gp1, gp2\n";
      p += load_imm(3, out_base + uint64_t(rg) * B * L + cb * B) + "M_MM_WO gp3, gp0, 0\n";
    }
  auto words = isa::assemble(p).words;
  sim::SimOptions o;
  o.use_timing_model = false;
  sim::Simulator s(cfg, o);
  std::vector<float> a(size_t(M) * K, 0.5f), w(size_t(K) * N, 0.25f);
  s.machine().write_vram(0, a);
  s.machine().write_mram(0, w);
  for (auto _ : st) s.run(words);
  st.SetLabel(fmt::format("MLEN {} BLEN {}, M {} K {} N {}", L, B, M, K, N));
  st.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * K * N * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GemmFunctional)
    ->Args({64, 4, 64, 256})
    ->Args({64, 4, 256, 1024})
    ->Args({256, 16, 256, 1024})
    ->Args({2048, 128, 128, 4096})
    ->Unit(benchmark::kMillisecond);

#ifdef PLENA_HAVE_OPENBLAS
// The same multiply-adds as BM_GemmFunctional with the same args (N = MLEN).
void BM_OpenBlasSgemm(benchmark::State& st) {
  const int M = int(st.range(2)), K = int(st.range(3)), N = int(st.range(0));
  std::vector<float> a(size_t(M) * K, 0.5f), w(size_t(K) * N, 0.25f), c(size_t(M) * N);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a.data(), K, w.data(), N, 0.0f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * K * N * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OpenBlasSgemm)
    ->Args({64, 4, 64, 256})
    ->Args({64, 4, 256, 1024})
    ->Args({256, 16, 256, 1024})
    ->Args({2048, 128, 128, 4096})
    ->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();

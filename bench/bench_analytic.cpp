// Analytic model wall time: whole-model estimates (DRAM calibration included) and one linear op.
#include <benchmark/benchmark.h>

#include "analytic/analytic.hpp"

namespace {
using namespace plena;

void BM_Estimate70B128k(benchmark::State& st) {
  const auto cfg = config::preset("reference-analytic");
  const auto m = model::model_preset("llama-3.3-70b");
  analytic::Parallelism par;
  par.devices = 16;
  for (auto _ : st) benchmark::DoNotOptimize(analytic::estimate(m, cfg, {131072, 1024, 1}, par).ttft_s);
}
BENCHMARK(BM_Estimate70B128k)->Unit(benchmark::kMillisecond);

void BM_Estimate8BGsm8k(benchmark::State& st) {
  const auto cfg = config::preset("reference-analytic");
  const auto m = model::model_preset("llama-3.1-8b");
  for (auto _ : st) benchmark::DoNotOptimize(analytic::estimate(m, cfg, {1400, 200, 1}, {}).ttft_s);
}
BENCHMARK(BM_Estimate8BGsm8k)->Unit(benchmark::kMillisecond);

void BM_LinearCached(benchmark::State& st) {
  const auto cfg = config::preset("reference-analytic");
  analytic::MemoryModel mem(cfg);
  for (auto _ : st) benchmark::DoNotOptimize(analytic::estimate_linear(cfg, mem, 128, 8192, 28672).cycles);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_LinearCached);

// A design-space sweep's point: every iteration a config not seen before in the process (array
// shape x vector width x weight format), 8B GSM8K. Counts and calibrations of earlier points are
// shared where they apply (docs/dse.md "Speed").
void BM_EstimateDistinctConfigs(benchmark::State& st) {
  const auto m = model::model_preset("llama-3.1-8b");
  const char* formats[] = {"plena-hw-mxfp:fp8_e4m3:b8", "mase-bfp:int4:b8", "mase-bfp:int8:b8", "ocp-mx:fp4_e2m1:b32"};
  uint64_t i = 0;
  for (auto _ : st) {
    auto cfg = config::preset("reference-analytic");
    const uint64_t n = i++;
    cfg.geometry.mlen = cfg.geometry.vlen = 256u << (n % 4);
    cfg.geometry.blen = 8u << ((n / 4) % 4);
    cfg.geometry.hlen = std::min<uint32_t>(128, cfg.geometry.mlen);
    cfg.sram.matrix_depth = 2 * cfg.geometry.mlen;
    cfg.hbm.m_prefetch_amount = cfg.geometry.mlen;
    cfg.formats.m_weight = numerics::parse_format(formats[(n / 16) % 4]);
    cfg.compute.clock_ghz = 1.0 + double(n / 64) * 0.001;  // distinct beyond 64 iterations
    benchmark::DoNotOptimize(analytic::estimate(m, cfg, {1400, 200, 1}, {}).ttft_s);
  }
}
BENCHMARK(BM_EstimateDistinctConfigs)->Unit(benchmark::kMillisecond)->Iterations(64);

}  // namespace
BENCHMARK_MAIN();

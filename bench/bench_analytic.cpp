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

}  // namespace
BENCHMARK_MAIN();

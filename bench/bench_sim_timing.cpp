// Timing-only dispatch rate: TimingModel::issue on synthetic Effects streams, in simulated
// instructions per host second (items_per_second). Target: >= 50 M/s for scalar/vector streams.
#include <benchmark/benchmark.h>

#include <vector>

#include "config/config.hpp"
#include "sim/timing.hpp"
#include "sim_timing_streams.hpp"

namespace {

using plena::sim::Effects;
using plena::sim::streams::dma_stream;
using plena::sim::streams::scalar_stream;
using plena::sim::streams::vector_stream;

void run(benchmark::State& state, const std::vector<Effects>& stream, plena::config::TimingMode mode) {
  auto cfg = plena::config::preset("reference-small");
  cfg.timing.mode = mode;
  plena::sim::TimingModel tm(cfg);
  uint32_t pc = 0;
  for (auto _ : state) {
    for (const Effects& e : stream) tm.issue(e, pc++);
  }
  tm.finish();
  benchmark::DoNotOptimize(tm.stats().cycles);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["sim_cycles_per_instr"] =
      double(tm.stats().cycles) / double(state.iterations() * stream.size());
}

void BM_ScalarInOrder(benchmark::State& s) { run(s, scalar_stream(), plena::config::TimingMode::InOrder); }
void BM_ScalarDecoupled(benchmark::State& s) { run(s, scalar_stream(), plena::config::TimingMode::Decoupled); }
void BM_VectorInOrder(benchmark::State& s) { run(s, vector_stream(), plena::config::TimingMode::InOrder); }
void BM_VectorDecoupled(benchmark::State& s) { run(s, vector_stream(), plena::config::TimingMode::Decoupled); }
void BM_GemmDmaInOrder(benchmark::State& s) { run(s, dma_stream(), plena::config::TimingMode::InOrder); }
void BM_GemmDmaDecoupled(benchmark::State& s) { run(s, dma_stream(), plena::config::TimingMode::Decoupled); }

BENCHMARK(BM_ScalarInOrder);
BENCHMARK(BM_ScalarDecoupled);
BENCHMARK(BM_VectorInOrder);
BENCHMARK(BM_VectorDecoupled);
BENCHMARK(BM_GemmDmaInOrder);
BENCHMARK(BM_GemmDmaDecoupled);

}  // namespace

BENCHMARK_MAIN();

// DRAM model throughput: scheduled atoms per host second (items_per_second).
#include <benchmark/benchmark.h>

#include "dram/dram.hpp"

using namespace plena::dram;

namespace {

constexpr int kRequests = 1 << 16;  // 64 B each

uint64_t lcg(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 11;
}

// All requests queued up front, then drain(): the simulator's "complete_time_ps" style.
void run_batch(benchmark::State& state, const char* preset_name, bool random, bool write) {
  uint64_t atoms = 0;
  for (auto _ : state) {
    DramModel m(preset(preset_name));
    uint64_t s = 1;
    for (int i = 0; i < kRequests; ++i) {
      const uint64_t addr = random ? (lcg(s) % (1ull << 32)) & ~63ull : uint64_t(i) * 64;
      m.submit({.addr = addr, .size = 64, .is_write = write});
    }
    m.drain();
    const Stats st = m.stats();
    atoms += st.read_atoms + st.write_atoms;
    state.counters["GBps"] = st.bandwidth_GBps;
    state.counters["row_hit"] = st.row_hit_rate;
  }
  state.SetItemsProcessed(int64_t(atoms));
}

// Event-driven: requests arrive over time (one per 250 ps) and the caller advances in step.
void run_event_driven(benchmark::State& state, bool random) {
  uint64_t atoms = 0;
  for (auto _ : state) {
    DramModel m(preset("hbm2"));
    uint64_t s = 1, done = 0;
    for (int i = 0; i < kRequests; ++i) {
      const uint64_t t = uint64_t(i) * 250;
      done += m.advance_to(t).size();
      const uint64_t addr = random ? (lcg(s) % (1ull << 32)) & ~63ull : uint64_t(i) * 64;
      m.submit({.addr = addr, .size = 64, .arrival_ps = t});
    }
    while (m.next_event_time() != kNever) done += m.advance_to(m.next_event_time()).size();
    benchmark::DoNotOptimize(done);
    const Stats st = m.stats();
    atoms += st.read_atoms + st.write_atoms;
  }
  state.SetItemsProcessed(int64_t(atoms));
}

void BM_Hbm2SequentialRead(benchmark::State& s) { run_batch(s, "hbm2", false, false); }
void BM_Hbm2RandomRead(benchmark::State& s) { run_batch(s, "hbm2", true, false); }
void BM_Hbm2SequentialWrite(benchmark::State& s) { run_batch(s, "hbm2", false, true); }
void BM_Hbm3SequentialRead(benchmark::State& s) { run_batch(s, "hbm3", false, false); }
void BM_Ddr5RandomRead(benchmark::State& s) { run_batch(s, "ddr5", true, false); }
void BM_IdealSequentialRead(benchmark::State& s) { run_batch(s, "ideal", false, false); }
void BM_Hbm2EventDrivenSequential(benchmark::State& s) { run_event_driven(s, false); }
void BM_Hbm2EventDrivenRandom(benchmark::State& s) { run_event_driven(s, true); }

}  // namespace

BENCHMARK(BM_Hbm2SequentialRead)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hbm2RandomRead)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hbm2SequentialWrite)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hbm3SequentialRead)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Ddr5RandomRead)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IdealSequentialRead)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hbm2EventDrivenSequential)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hbm2EventDrivenRandom)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();

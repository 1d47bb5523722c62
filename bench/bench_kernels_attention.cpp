// FlashAttention kernel: code-generation time and static program size, and simulated decode /
// prefill on the reference geometry (timing model on): executed instructions, cycles, HBM bytes.
// Shapes: LLaMA-3.2-1B attention (32 query heads, 8 KV heads, head_dim 64).
#include <benchmark/benchmark.h>

#include <vector>

#include "compiler/compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "config/config.hpp"
#include "sim/sim.hpp"

namespace {
using namespace plena;
using namespace plena::compiler;

constexpr uint64_t kHeads = 32, kKvHeads = 8, kHeadDim = 64;

config::HardwareConfig bench_config() {
  auto cfg = config::preset("reference-small");
  cfg.timing.instruction_budget = ~0ull >> 1;
  cfg.timing.loop_iteration_budget = ~0ull >> 1;
  return cfg;
}

struct Built {
  std::vector<uint32_t> words;
  KernelCost cost;  // the same emission on the counting back-end
};

Built build(const config::HardwareConfig& cfg, uint64_t q_len, uint64_t kv_len) {
  ProgramBuilder b(cfg, "bench");
  MemoryPlan plan(cfg, "bench");
  const uint64_t rows = attention_rows_alloc(cfg, 1, q_len);
  plan.alloc_vram("q", rows, kHeads * kHeadDim);
  plan.alloc_vram("o", rows, kHeads * kHeadDim);
  auto kv = kv_cache_layout(cfg, 1, kKvHeads, kv_len, kHeadDim);
  place_kv_cache(plan, "k", kv);
  place_kv_cache(plan, "v", kv);
  // head_dim 64 = MLEN: no identity tile (Q is read in place).
  AttentionArgs a{.q = "q", .out = "o", .k_cache = "k", .v_cache = "v", .identity = "", .batch = 1, .q_len = q_len,
                  .kv_len = kv_len, .num_heads = kHeads, .num_kv_heads = kKvHeads, .head_dim = kHeadDim};
  Built r;
  {
    MemoryPlan copy = plan;
    ProgramBuilder counting = ProgramBuilder::counting(cfg, "bench");
    emit_flash_attention(counting, copy, a);
    r.cost = counting.cost();
  }
  emit_flash_attention(b, plan, a);
  r.words = b.words();
  return r;
}

// args: q_len, kv_len
void BM_AttentionEmit(benchmark::State& st) {
  const auto cfg = bench_config();
  Built r;
  for (auto _ : st) {
    r = build(cfg, uint64_t(st.range(0)), uint64_t(st.range(1)));
    benchmark::DoNotOptimize(r.words.data());
  }
  st.counters["static_instr"] = double(r.words.size());
}
BENCHMARK(BM_AttentionEmit)
    ->Args({1, 1024})
    ->Args({1, 4096})
    ->Args({128, 128})
    ->Args({512, 512})
    ->Unit(benchmark::kMillisecond);

void BM_AttentionSimulate(benchmark::State& st) {
  const auto cfg = bench_config();
  const Built r = build(cfg, uint64_t(st.range(0)), uint64_t(st.range(1)));
  sim::SimResult res;
  for (auto _ : st) {
    sim::Simulator s(cfg);  // functional + timing model; VRAM/HBM start at zero
    res = s.run(r.words);
  }
  st.counters["static_instr"] = double(r.words.size());
  st.counters["executed"] = double(res.executed);
  st.counters["cycles"] = double(res.timing.cycles);
  st.counters["hbm_MB"] = double(res.timing.hbm_read_bytes) / 1e6;
  st.counters["m_tmm"] = double(r.cost.count(isa::Opcode::M_TMM));
}
BENCHMARK(BM_AttentionSimulate)->Args({1, 1024})->Args({128, 128})->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();

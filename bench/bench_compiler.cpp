// Compiler throughput: instruction emission (emit_linear, rolled and unrolled), assembly text,
// and manifest write/read.
#include <benchmark/benchmark.h>

#include <string>

#include "compiler/compiler.hpp"

namespace {
using namespace plena;
using namespace plena::compiler;

// Emits one [rows, K] x [K, N] linear; returns the static instruction count.
size_t emit_one(uint64_t rows, uint64_t k, uint64_t n, LoopPolicy policy, std::string* text) {
  config::HardwareConfig cfg;
  MemoryPlan plan(cfg, "default");
  ProgramBuilder b(cfg, "default");
  b.set_loop_policy(policy);
  plan.place_hbm("w", TensorClass::Weight, {k, n}, numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8"));
  plan.alloc_vram("x", rows, k, {.row_multiple = cfg.geometry.blen});
  plan.alloc_vram("y", rows, n, {.row_multiple = cfg.geometry.blen});
  emit_linear(b, plan, {.name = "proj", .weight = "w", .input = "x", .output = "y", .max_k_tiles = 16});
  if (text) *text = b.assembly();
  return b.size();
}

void BM_EmitLinearUnrolled(benchmark::State& st) {
  const uint64_t d = uint64_t(st.range(0));
  size_t n = 0;
  for (auto _ : st) n = emit_one(64, d, d, LoopPolicy::unroll(), nullptr);
  st.SetItemsProcessed(int64_t(st.iterations() * n));  // instructions per second
  st.counters["instrs"] = double(n);
}
BENCHMARK(BM_EmitLinearUnrolled)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond);

void BM_EmitLinearRolled(benchmark::State& st) {
  const uint64_t d = uint64_t(st.range(0));
  size_t n = 0;
  for (auto _ : st) n = emit_one(64, d, d, LoopPolicy::hardware(), nullptr);
  st.counters["instrs"] = double(n);
}
BENCHMARK(BM_EmitLinearRolled)->Arg(2048)->Unit(benchmark::kMicrosecond);

void BM_EmitAndListUnrolled(benchmark::State& st) {
  std::string text;
  size_t n = 0;
  for (auto _ : st) n = emit_one(64, 1024, 1024, LoopPolicy::unroll(), &text);
  st.SetItemsProcessed(int64_t(st.iterations() * n));
  st.SetBytesProcessed(int64_t(st.iterations() * text.size()));
}
BENCHMARK(BM_EmitAndListUnrolled)->Unit(benchmark::kMillisecond);

void BM_ManifestRoundTrip(benchmark::State& st) {
  MemoryPlan plan(config::HardwareConfig{}, "default");
  for (int i = 0; i < st.range(0); ++i)
    plan.place_hbm(std::string("t").append(std::to_string(i)), TensorClass::Weight, {256, 256},
                   numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8"));
  HbmManifest m = plan.manifest();
  for (auto _ : st) benchmark::DoNotOptimize(manifest_from_json(manifest_to_json(m)));
  st.SetItemsProcessed(st.iterations() * st.range(0));  // tensors per second
}
BENCHMARK(BM_ManifestRoundTrip)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();

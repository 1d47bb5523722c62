// Host reference throughput: tiny-model prefill and decode, safetensors parse.
#include <benchmark/benchmark.h>

#include "model/model.hpp"

namespace {
using namespace plena::model;

std::vector<TokenId> tokens(size_t n, int vocab) {
  std::vector<TokenId> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<TokenId>((i * 7919 + 13) % static_cast<size_t>(vocab));
  return t;
}

void BM_TinyPrefill(benchmark::State& st) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 1);
  HostReference ref(c, w);
  auto t = tokens(static_cast<size_t>(st.range(0)), 512);
  for (auto _ : st) {
    KVCache cache = ref.new_cache();
    benchmark::DoNotOptimize(ref.forward(cache, t, false));
  }
  st.SetItemsProcessed(st.iterations() * st.range(0));
}
BENCHMARK(BM_TinyPrefill)->Arg(16)->Arg(128);

void BM_TinyDecode(benchmark::State& st) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 1);
  HostReference ref(c, w);
  auto t = tokens(static_cast<size_t>(st.range(0)), 512);
  for (auto _ : st) {
    st.PauseTiming();
    KVCache cache = ref.new_cache();
    ref.forward(cache, t, false);
    st.ResumeTiming();
    TokenId next = 1;
    benchmark::DoNotOptimize(ref.forward(cache, std::span<const TokenId>(&next, 1)));
  }
}
BENCHMARK(BM_TinyDecode)->Arg(128);

void BM_SafetensorsParseBf16(benchmark::State& st) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 1);
  auto bytes = serialize_safetensors(w.all(), DType::BF16);
  for (auto _ : st) benchmark::DoNotOptimize(parse_safetensors(bytes, "bench"));
  st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_SafetensorsParseBf16);

void BM_RandomWeightsTiny(benchmark::State& st) {
  ModelConfig c = model_preset("tiny");
  for (auto _ : st) benchmark::DoNotOptimize(make_random_weights(c, 1));
}
BENCHMARK(BM_RandomWeightsTiny);
}  // namespace
BENCHMARK_MAIN();

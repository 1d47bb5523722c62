// Byte identity of the FlashAttention emitter: the program words of representative shapes
// (prefill, decode, GQA/MQA, head_dim below / above MLEN, windows, query chunks, two tiles per
// prefetch) hash to the recorded values (re-recorded when load_imm became fixed-length, and when the column-mask table
// came to hold only the rows a call uses, and when KV tiles resident in MRAM stopped being
// re-fetched per head pass and fully masked S column blocks stopped being multiplied, and when the
// identity tensor gained the all-ones tile and one-tile prefills took row sums on the matrix unit, and when
// broadcast scores of one sequence came to build the mask table after the K|V prefetch and to trim
// their per-item address loads, and O /= l by row sums took four rows per loop iteration). A change to the
// emitted instruction stream changes a hash; update them only for an intended change.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "compiler/compiler.hpp"
#include "config/config.hpp"

using namespace plena;
using namespace plena::compiler;

namespace {

struct Shape {
  const char* config;  // preset or inline TOML
  uint64_t batch, q_len, kv_len, heads, kv_heads, head_dim;
  bool causal = true;
  uint64_t window = 0, max_q_chunk = 0;
  uint64_t expected = 0;  // FNV-1a of the program words
};

config::HardwareConfig shape_config(const std::string& spec) {
  if (spec.find('=') == std::string::npos) return config::preset(spec);
  return config::parse_config_toml(spec, "attn-words");
}

uint64_t fnv1a(const std::vector<uint32_t>& words) {
  uint64_t h = 1469598103934665603ull;
  for (uint32_t w : words)
    for (int i = 0; i < 4; ++i) {
      h ^= (w >> (8 * i)) & 0xFF;
      h *= 1099511628211ull;
    }
  return h;
}

uint64_t attention_words_hash(const Shape& s) {
  const auto cfg = shape_config(s.config);
  ProgramBuilder b(cfg, "attn-words");
  MemoryPlan plan(cfg, "attn-words");
  const uint64_t rows = attention_rows_alloc(cfg, s.batch, s.q_len), width = s.heads * s.head_dim;
  plan.alloc_vram("q", rows, width);
  plan.alloc_vram("o", rows, width);
  const KvCacheLayout kv = kv_cache_layout(cfg, s.batch, s.kv_heads, s.kv_len + 3, s.head_dim);
  place_kv_cache(plan, "k_cache", kv);
  place_kv_cache(plan, "v_cache", kv);
  const bool identity = attention_needs_identity(cfg, s.head_dim);
  if (identity) place_attention_identity(plan, "identity");
  const AttentionArgs a{.name = "attention",
                        .q = "q",
                        .out = "o",
                        .k_cache = "k_cache",
                        .v_cache = "v_cache",
                        .identity = identity ? "identity" : "",
                        .batch = s.batch,
                        .q_len = s.q_len,
                        .kv_len = s.kv_len,
                        .capacity = s.kv_len + 3,
                        .num_heads = s.heads,
                        .num_kv_heads = s.kv_heads,
                        .head_dim = s.head_dim,
                        .causal = s.causal,
                        .sliding_window = s.window,
                        .max_q_chunk = s.max_q_chunk};
  emit_flash_attention(b, plan, a);
  return fnv1a(b.words());
}

const char* kTpp2 = "base = \"tiny-fp32\"\n[hbm]\nm_prefetch_amount = 32\n";
const char* kAnalytic = "base = \"tiny-fp32\"\n[timing]\nlatency_profile = \"analytic\"\n";

}  // namespace

TEST(KernelAttentionWords, ProgramWordsUnchanged) {
  const Shape shapes[] = {
      {"tiny-fp32", 1, 4, 16, 1, 1, 16, false, 0, 0, 0x4dad923d8dd0c62full},
      {"tiny-fp32", 1, 70, 70, 2, 1, 16, true, 0, 0, 0x2d4f889a3c94c86dull},
      {"tiny-fp32", 2, 1, 70, 4, 2, 16, true, 0, 0, 0xdfe676f8c03910c0ull},
      {"tiny-fp32", 1, 6, 40, 2, 1, 32, true, 0, 0, 0x9090fdb94bd089fcull},
      {"tiny-fp32", 2, 21, 40, 4, 2, 16, true, 0, 8, 0xda6e3d855bd83f06ull},
      {"tiny-fp32", 2, 37, 50, 4, 2, 16, true, 9, 8, 0x6b5d7790a70ae1cfull},
      {"tiny-fp32", 1, 40, 40, 4, 2, 16, true, 5, 0, 0x48309698e4ed2ccbull},
      {"reference-small", 1, 64, 256, 4, 2, 64, true, 0, 0, 0x90bc1a32574ab4bfull},
      {"reference-small", 2, 1, 512, 8, 2, 64, true, 0, 0, 0x884be8515e9d76ddull},
      {"reference-small", 1, 16, 130, 4, 2, 16, true, 70, 0, 0xa3f4ed4c594e8ba8ull},
      {"reference-small", 2, 70, 70, 4, 1, 32, true, 64, 0, 0x22b2dbfcbeb04df2ull},
      {"reference-small", 1, 3, 130, 4, 1, 32, false, 0, 0, 0xec439f9b0f7e28aeull},
      {kTpp2, 2, 9, 90, 4, 2, 16, true, 21, 0, 0x7ec85cb7e4bc534cull},
      {kTpp2, 1, 1, 130, 2, 1, 32, true, 40, 0, 0x87c0c301f72943d2ull},
      {kTpp2, 1, 40, 70, 2, 2, 16, false, 0, 0, 0x0255334d214d2eabull},
      {kAnalytic, 1, 16, 16, 4, 2, 8, true, 0, 0, 0x23b6ddfbc3f1a944ull},  // one tile: row sums, S by M_BTMM
  };
  const bool print = std::getenv("PLENA_PRINT_HASHES") != nullptr;
  for (const Shape& s : shapes) {
    const uint64_t h = attention_words_hash(s);
    if (print) std::printf("0x%016llxull\n", (unsigned long long)h);
    if (!print) {
      EXPECT_EQ(h, s.expected) << fmt::format("b{} q{} kv{} h{}/{} d{} window {} chunk {}", s.batch, s.q_len, s.kv_len,
                                              s.heads, s.kv_heads, s.head_dim, s.window, s.max_q_chunk);
    }
  }
}

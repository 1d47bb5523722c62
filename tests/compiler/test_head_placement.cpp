// Head placement (placed_head_dim, placed_head_column) and the model compiler's zero-padded
// weight layout: the rule for any head_dim on any geometry, and the HBM images it implies.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "compiler/kernels_attention.hpp"
#include "compiler/layer_plan.hpp"
#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

config::HardwareConfig geometry(uint64_t mlen, uint64_t blen, uint64_t hlen) {
  return config::parse_config_toml(fmt::format("base = \"tiny-fp32\"\n[geometry]\nmlen = {0}\nvlen = {0}\nblen = {1}\n"
                                               "hlen = {2}\nbroadcast_amount = {4}\n[hbm]\nm_prefetch_amount = {0}\n"
                                               "[sram]\nmatrix_depth = {3}\n",
                                               mlen, blen, hlen, 8 * mlen, mlen / hlen),
                                   "test");
}

TEST(HeadPlacement, PlacedHeadDimIsTheSmallestLayoutTheKernelsTake) {
  const auto analytic = config::preset("reference-analytic");  // MLEN 2048, BLEN 128, HLEN 128
  for (auto [hd, p] : {std::pair<uint64_t, uint64_t>{32, 128}, {64, 128}, {80, 128}, {96, 128}, {128, 128}, {192, 256},
                       {256, 256}, {2048, 2048}, {2100, 4096}})
    EXPECT_EQ(placed_head_dim(analytic, hd), p) << hd;
  const auto tiny = config::preset("tiny-fp32");  // MLEN 16, BLEN 4, HLEN 8
  for (auto [hd, p] : {std::pair<uint64_t, uint64_t>{2, 8}, {8, 8}, {12, 16}, {24, 32}, {32, 32}, {40, 48}, {64, 64}})
    EXPECT_EQ(placed_head_dim(tiny, hd), p) << hd;
  // Whatever the geometry, the result is one kv_cache_layout accepts, and no smaller one is.
  for (const auto& cfg : {analytic, tiny, config::preset("reference-small"), geometry(128, 8, 64), geometry(256, 16, 32), geometry(32, 8, 16)})
    for (uint64_t hd = 2; hd <= 300; hd += 2) {
      const uint64_t p = placed_head_dim(cfg, hd);
      EXPECT_GE(p, hd);
      EXPECT_NO_THROW(kv_cache_layout(cfg, 1, 1, 4, p)) << hd;
      for (uint64_t q = hd; q < p; q += 2) EXPECT_THROW(kv_cache_layout(cfg, 1, 1, 4, q), InputError) << hd << " " << q;
    }
}

// RoPE's rotate-half pairs (i, i + hd/2) land on the placed pairs (i, i + P/2); the map is a
// bijection onto the real columns, and its inverse names every padding column -1.
TEST(HeadPlacement, ColumnMapKeepsRopePairs) {
  for (auto [hd, p] : {std::pair<uint64_t, uint64_t>{64, 128}, {24, 32}, {80, 128}, {128, 128}}) {
    std::set<uint64_t> seen;
    for (uint64_t j = 0; j < hd; ++j) {
      const uint64_t c = placed_head_column(hd, p, j);
      ASSERT_LT(c, p);
      EXPECT_TRUE(seen.insert(c).second);
      EXPECT_EQ(real_head_column(hd, p, c), int64_t(j));
      if (j < hd / 2) {
        EXPECT_EQ(placed_head_column(hd, p, j + hd / 2), c + p / 2);
      }
    }
    uint64_t pads = 0;
    for (uint64_t c = 0; c < p; ++c) pads += real_head_column(hd, p, c) < 0;
    EXPECT_EQ(pads, p - hd);
  }
}

// A model whose widths are all off the tiles: hidden 72, intermediate 86, vocab 100, head_dim 24
// on MLEN 16. The images hold the model's values at the mapped positions and zeros elsewhere.
TEST(HeadPlacement, ModelCompilerZeroPadsEveryWidth) {
  model::ModelConfig m = model::model_preset("tiny");
  m.name = "odd";
  m.vocab_size = 100, m.hidden_size = 72, m.intermediate_size = 86, m.num_hidden_layers = 1;
  m.num_attention_heads = 3, m.num_key_value_heads = 1, m.head_dim = 24;
  const model::ModelWeights w = model::make_random_weights(m, 7);
  ModelCompileOptions o;
  o.max_positions = 8;
  const ModelCompiler mc(config::preset("tiny-fp32"), "tiny-fp32", m, o);
  EXPECT_EQ(mc.vocab_padded(), 112u);
  const ModelDims d = model_dims(m, config::preset("tiny-fp32"));
  EXPECT_EQ(d.hidden, 80u);
  EXPECT_EQ(d.inter, 96u);
  EXPECT_EQ(d.head_dim, 32u);
  EXPECT_EQ(d.q_cols, 96u);
  EXPECT_EQ(d.kv_cols, 32u);
  // q_proj: [80, 96]; HF [72 out, 72 in]: image (i, h*32 + c) = W[h*24 + real(c)][i].
  const std::vector<float> q = mc.weight_data("layers.0.q_proj", w);
  const model::Tensor& W = w.get("model.layers.0.self_attn.q_proj.weight");
  ASSERT_EQ(q.size(), 80u * 96u);
  for (uint64_t i = 0; i < 80; ++i)
    for (uint64_t c = 0; c < 96; ++c) {
      const int64_t j = real_head_column(24, 32, c % 32);
      const float want = i >= 72 || j < 0 ? 0.f : W.data[(c / 32 * 24 + uint64_t(j)) * 72 + i];
      ASSERT_EQ(q[i * 96 + c], want) << i << " " << c;
    }
  // down_proj: [96, 80], zero rows past 86 and zero columns past 72.
  const std::vector<float> dn = mc.weight_data("layers.0.down_proj", w);
  const model::Tensor& D = w.get("model.layers.0.mlp.down_proj.weight");
  for (uint64_t i = 0; i < 96; ++i)
    for (uint64_t c = 0; c < 80; ++c)
      ASSERT_EQ(dn[i * 80 + c], i >= 86 || c >= 72 ? 0.f : D.data[c * 86 + i]) << i << " " << c;
  // The embedding table: [100, 80], zeros past the hidden size.
  const std::vector<float> e = mc.weight_data("embed_tokens", w);
  const model::Tensor& E = w.get("model.embed_tokens.weight");
  for (uint64_t r = 0; r < 100; ++r)
    for (uint64_t c = 0; c < 80; ++c) ASSERT_EQ(e[r * 80 + c], c >= 72 ? 0.f : E.data[r * 72 + c]);
}

}  // namespace
}  // namespace plena::compiler

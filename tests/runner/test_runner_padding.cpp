// End-to-end zero padding (docs/compiler.md, "Padding"): models whose head_dim is below HLEN or
// off the tiles, whose hidden, intermediate and vocabulary sizes are not multiples of MLEN, and
// whose heads do not fill a whole MLEN, reproduce the host fp32 reference on fp32 hardware.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "compiler/kernels_attention.hpp"
#include "compiler/layer_plan.hpp"
#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

// fp32 everywhere, MLEN = VLEN 64, HLEN 16 (or HLEN 64 on MLEN 128): heads of 8 and 32 are narrower than HLEN.
const char* kHlen16 =
    "base = \"tiny-fp32\"\n[geometry]\nmlen = 64\nvlen = 64\nblen = 4\nhlen = 16\nbroadcast_amount = 4\n"
    "[hbm]\nm_prefetch_amount = 64\n[sram]\nmatrix_depth = 4096\n";
const char* kHlen64 =
    "base = \"tiny-fp32\"\n[geometry]\nmlen = 128\nvlen = 128\nblen = 8\nhlen = 64\nbroadcast_amount = 2\n"
    "[hbm]\nm_prefetch_amount = 128\n[sram]\nmatrix_depth = 8192\n";

struct Case {
  std::string name, hw;
  int64_t vocab, hidden, inter, heads, kv_heads, head_dim;
  bool qwen3 = false;  // q/k norms and q/k/v biases on the padded heads
};

model::ModelConfig config_of(const Case& c) {
  model::ModelConfig m = model::model_preset(c.qwen3 ? "tiny-qwen3" : "tiny");
  m.name = c.name;
  m.vocab_size = c.vocab, m.hidden_size = c.hidden, m.intermediate_size = c.inter;
  m.num_attention_heads = c.heads, m.num_key_value_heads = c.kv_heads, m.head_dim = c.head_dim;
  if (c.qwen3) m.attention_bias = m.o_proj_bias = true;
  return m;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("plena_runner_pad_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

void expect_matches_reference(const Case& c) {
  SCOPED_TRACE(c.name);
  const model::ModelConfig m = config_of(c);
  const auto dir = temp_dir(c.name);
  model::save_hf_model(dir / "model", m, model::make_random_weights(m, 11), model::DType::F32);
  RunOptions o;
  o.model = (dir / "model").string();
  o.hw = c.hw;
  o.prompt_len = 5;
  o.gen = 3;
  o.dump_hidden_layers = true;  // the residual stream's real columns, layer by layer
  o.dump_dir = dir / "dump";
  const RunReport r = run_model(o);
  ASSERT_EQ(r.steps.size(), 3u);
  for (const StepReport& st : r.steps) {
    ASSERT_EQ(st.hidden_layers.size(), size_t(m.num_hidden_layers + 1));
    for (const HiddenAgreement& h : st.hidden_layers) {
      EXPECT_LE(h.max_abs, 1e-4 * std::max(1.0, h.ref_rms)) << h.stage;
      EXPECT_GT(h.cosine, 0.99999) << h.stage;
    }
  }
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_EQ(r.greedy_match, 1.0);
  EXPECT_EQ(r.teacher_forced_top1, 1.0);
  EXPECT_LE(r.logits_max_abs, 1e-4);
  EXPECT_GT(r.logits_min_cosine, 0.99999);
  std::filesystem::remove_all(dir);
}

// Each case pads something the kernels could not tile before.
TEST(RunnerPadding, HeadDimBelowHlen) {
  // head_dim 8 on HLEN 16 (placed at 16), 4 heads of 8: q width 64 = one MLEN with padding heads.
  expect_matches_reference({"hd8-hlen16", kHlen16, 256, 64, 128, 4, 2, 8});
  // head_dim 32 on HLEN 64 (placed at 64): the LLaMA-3.2-1B / SmolLM2 situation scaled down.
  expect_matches_reference({"hd32-hlen64", kHlen64, 256, 128, 256, 4, 2, 32});
}

TEST(RunnerPadding, HeadsShortOfMlen) {
  // 3 heads of 16 = 48 columns on MLEN 64: attention's output gets 16 zeroed padding columns.
  expect_matches_reference({"heads48-of-64", kHlen16, 256, 64, 128, 3, 1, 16});
}

TEST(RunnerPadding, OddWidthsOnTinyFp32) {
  // hidden 72, intermediate 86 (688 / 8), vocab 100, head_dim 24 (placed at 32) on MLEN 16.
  expect_matches_reference({"odd-widths", "tiny-fp32", 100, 72, 86, 3, 1, 24});
  // intermediate_size alone off the tiles: 172 on MLEN 16, the 688 on MLEN 64.
  expect_matches_reference({"inter-172", "tiny-fp32", 256, 64, 172, 4, 2, 16});
  expect_matches_reference({"inter-688", kHlen16, 256, 64, 688, 4, 2, 16});
}

TEST(RunnerPadding, Qwen3NormsAndBiasesOnPaddedHeads) {
  // q/k norms average over the real 12 columns of a head placed at 16; biases follow the placement.
  expect_matches_reference({"qwen3-hd12", "tiny-fp32", 128, 48, 80, 4, 2, 12, true});
}

// Not vacuous: these models did need padding (the placed widths differ from the model's).
TEST(RunnerPadding, CasesAreOffTheTiles) {
  const auto hd = [](const char* hw, uint64_t d) { return compiler::placed_head_dim(config::parse_config_toml(hw, "t"), d); };
  EXPECT_EQ(hd(kHlen16, 8), 16u);
  EXPECT_EQ(hd(kHlen64, 32), 64u);
  EXPECT_EQ(compiler::placed_head_dim(config::preset("tiny-fp32"), 24), 32u);
  EXPECT_EQ(compiler::placed_head_dim(config::preset("tiny-fp32"), 12), 16u);
}

// The MLEN-64 cases (kv heads 2 x 16, 1 x 16) run end to end on combined K|V cache rows
// (docs/kernels-attention.md §2: the store's merge and the shared tile read), the MLEN-128 one
// (2 x 64) and tiny-fp32 (MLEN 16) on separate K and V caches.
TEST(RunnerPadding, CombinedKvRowsAreCovered) {
  const auto cfg = [](const char* hw) { return config::parse_config_toml(hw, "t"); };
  EXPECT_TRUE(compiler::kv_combinable(cfg(kHlen16), 2, 16));
  EXPECT_TRUE(compiler::kv_combinable(cfg(kHlen16), 1, 16));
  EXPECT_FALSE(compiler::kv_combinable(cfg(kHlen64), 2, 64));
  EXPECT_FALSE(compiler::kv_combinable(config::preset("tiny-fp32"), 1, 32));
}

// The MLEN-64 LLaMA-style cases above also run the fused K|V projection (one linear writes the
// combined cache row). Its HBM image: k_proj's columns, then v_proj's, then zeros. Biases or q/k
// norms keep separate projections.
TEST(RunnerPadding, FusedKvProjectionImage) {
  const config::HardwareConfig hw = config::parse_config_toml(kHlen16, "t");
  const model::ModelConfig m = config_of({"fused", kHlen16, 256, 64, 128, 3, 1, 16});
  ASSERT_TRUE(compiler::model_dims(m, hw).fused_kv);
  EXPECT_TRUE(compiler::model_dims(config_of({"hd8", kHlen16, 256, 64, 128, 4, 2, 8}), hw).fused_kv);
  EXPECT_FALSE(compiler::model_dims(config_of({"q3", kHlen16, 256, 64, 128, 3, 1, 16, true}), hw).fused_kv);
  EXPECT_FALSE(compiler::model_dims(config_of({"hd32", kHlen64, 256, 128, 256, 4, 2, 32}),
                                    config::parse_config_toml(kHlen64, "t"))
                   .fused_kv);
  compiler::ModelCompileOptions opt;
  opt.max_positions = 8;
  const compiler::ModelCompiler mc(hw, "t", m, opt);
  EXPECT_THROW((void)mc.manifest().tensor("layers.0.k_proj"), InputError);
  const model::ModelWeights w = model::make_random_weights(m, 5);
  const std::vector<float> img = mc.weight_data("layers.1.kv_proj", w);
  const auto& wk = w.get("model.layers.1.self_attn.k_proj.weight").data;  // [16 out, 64 in]
  const auto& wv = w.get("model.layers.1.self_attn.v_proj.weight").data;
  const uint64_t H = 64, cols = 64, kvw = 16;
  ASSERT_EQ(img.size(), H * cols);
  for (uint64_t i = 0; i < H; ++i)
    for (uint64_t c = 0; c < cols; ++c) {
      const float want = c < kvw ? wk[c * H + i] : c < 2 * kvw ? wv[(c - kvw) * H + i] : 0.f;
      ASSERT_EQ(img[i * cols + c], want) << i << "," << c;
    }
}

}  // namespace
}  // namespace plena::runner

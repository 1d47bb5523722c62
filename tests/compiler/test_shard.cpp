// The tensor/pipeline split rule (compiler/shard.hpp) that `plena estimate` costs and `plena run
// --devices` compiles, and the model compiler's pipeline-stage programs and padded shard widths.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "compiler/layer_plan.hpp"
#include "compiler/model_compiler.hpp"
#include "compiler/shard.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

TEST(Shard, TensorShardDividesHeadsFfnAndVocabRoundingUp) {
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");  // 32 heads, 8 kv, 14336, 128256
  const model::ModelConfig s4 = tensor_shard(m, 4);
  EXPECT_EQ(s4.num_attention_heads, 8);
  EXPECT_EQ(s4.num_key_value_heads, 2);
  EXPECT_EQ(s4.intermediate_size, 3584);
  EXPECT_EQ(s4.vocab_size, 32064);
  EXPECT_EQ(s4.num_hidden_layers, m.num_hidden_layers);
  EXPECT_EQ(s4.hidden_size, m.hidden_size);
  EXPECT_EQ(s4.head_dim, m.head_dim);
  const model::ModelConfig s3 = tensor_shard(m, 3);
  EXPECT_EQ(s3.num_attention_heads, 11);  // ceil(32 / 3)
  EXPECT_EQ(s3.num_key_value_heads, 3);
  EXPECT_EQ(s3.intermediate_size, 4779);
  EXPECT_EQ(s3.vocab_size, 42752);
  // More shards than kv heads: each shard keeps one (replicated).
  EXPECT_EQ(tensor_shard(m, 16).num_key_value_heads, 1);
  EXPECT_EQ(tensor_shard(m, 16).num_attention_heads, 2);
  EXPECT_EQ(tensor_shard(m, 1), m);
}

TEST(Shard, ModelDimsAreTheShardsPaddedDims) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const model::ModelConfig m = model::model_preset("llama-3.3-70b");
  for (uint32_t tp : {1u, 2u, 4u, 16u}) {
    const ModelDims a = model_dims(m, cfg, tp), b = model_dims(tensor_shard(m, tp), cfg);
    EXPECT_EQ(a.heads, b.heads) << tp;
    EXPECT_EQ(a.kv_heads, b.kv_heads) << tp;
    EXPECT_EQ(a.q_cols, b.q_cols) << tp;
    EXPECT_EQ(a.kv_cols, b.kv_cols) << tp;
    EXPECT_EQ(a.inter, b.inter) << tp;
    EXPECT_EQ(a.vocab, b.vocab) << tp;
  }
  const ModelDims d16 = model_dims(m, cfg, 16);  // 4 heads x 128 = 512 columns, padded to MLEN 2048
  EXPECT_EQ(d16.heads, 4u);
  EXPECT_EQ(d16.q_cols, 2048u);
  EXPECT_EQ(d16.inter, 2048u);  // 28672 / 16 = 1792
}

TEST(Shard, PipelineStagesGiveTheRemainderToTheFirstStages) {
  const auto st = pipeline_stages(32, 3);
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].layers, 11u);
  EXPECT_EQ(st[1].layers, 11u);
  EXPECT_EQ(st[2].layers, 10u);
  EXPECT_EQ(st[1].first_layer, 11u);
  EXPECT_EQ(st[2].first_layer, 22u);
  EXPECT_TRUE(st[0].first && !st[0].last);
  EXPECT_TRUE(!st[1].first && !st[1].last);
  EXPECT_TRUE(!st[2].first && st[2].last);
  const auto one = pipeline_stages(80, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0].first && one[0].last);
  EXPECT_EQ(one[0].layers, 80u);
  for (const auto& s : pipeline_stages(80, 16)) EXPECT_EQ(s.layers, 5u);
}

std::string split_error(const model::ModelConfig& m, uint32_t d, uint32_t tp, uint32_t pp) {
  try {
    explicit_split(m, d, tp, pp);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(Shard, ExplicitSplitFillsTheOtherDegreeAndRejectsImpossibleSplits) {
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  EXPECT_EQ(explicit_split(m, 4, 4, 0).pp, 1u);
  EXPECT_EQ(explicit_split(m, 4, 0, 2).tp, 2u);
  EXPECT_EQ(explicit_split(m, 8, 2, 4).tp, 2u);
  EXPECT_NE(split_error(m, 4, 3, 0).find("--tp 3 x --pp 1 must equal --devices 4"), std::string::npos);
  EXPECT_NE(split_error(m, 4, 2, 3).find("must equal --devices 4"), std::string::npos);
  EXPECT_NE(split_error(m, 4, 0, 8).find("must equal --devices 4"), std::string::npos);
  EXPECT_NE(split_error(m, 64, 1, 64).find("exceeds the model's 32 layers"), std::string::npos);
  EXPECT_NE(split_error(m, 64, 64, 1).find("exceeds the model's 32 attention heads"), std::string::npos);
}

ModelCompileOptions timing_options(bool first, bool last) {
  ModelCompileOptions o;
  o.max_positions = 16;
  o.assembly = false;
  o.words = false;
  o.host_data = false;
  o.first_stage = first;
  o.last_stage = last;
  return o;
}

bool has_tensor(const ModelCompiler& mc, const std::string& name) {
  const auto& ts = mc.manifest().tensors;
  return std::any_of(ts.begin(), ts.end(), [&](const HbmTensor& t) { return t.name == name; });
}

// A middle stage has neither the embedding nor the LM head; the first only the embedding, the
// last only the LM head; each is shorter than the whole model's program.
TEST(Shard, PipelineStageProgramsCarryOnlyTheirRole) {
  const config::HardwareConfig cfg = config::preset("reference-small");
  const model::ModelConfig m = model::model_preset("tiny");
  const std::vector<std::vector<int64_t>> tokens{{1, 2, 3}};
  const ModelCompiler whole(cfg, "reference-small", m, timing_options(true, true));
  const size_t whole_len = whole.compile_step(tokens, 0).program.instrs.size();
  const std::pair<bool, bool> roles[] = {{true, false}, {false, false}, {false, true}};
  for (const auto& [first, last] : roles) {
    const ModelCompiler mc(cfg, "reference-small", m, timing_options(first, last));
    EXPECT_EQ(has_tensor(mc, "embed_tokens"), first);
    EXPECT_EQ(has_tensor(mc, "lm_head"), last);
    EXPECT_EQ(has_tensor(mc, "final_norm"), last);
    const CompiledStep& st = mc.compile_step(tokens, 0);
    EXPECT_LT(st.program.instrs.size(), whole_len) << first << last;
    EXPECT_TRUE(st.residual_pcs.empty());  // a stage's boundaries are not the model's
  }
}

// A tensor shard whose q/o and FFN widths are not MLEN multiples compiles timing-only, padded as
// model_dims pads it; a run with data still needs the model's own widths to be multiples.
TEST(Shard, ShardPadsWidthsToMlen) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const model::ModelConfig shard = tensor_shard(model::model_preset("llama-3.1-8b"), 4);
  // Timing-only and with data alike: widths are zero-padded to whole MLEN tiles (docs/compiler.md).
  for (bool host_data : {false, true}) {
    ModelCompileOptions opt = timing_options(true, true);
    opt.host_data = host_data;
    const ModelCompiler mc(cfg, "reference-analytic", shard, opt);
    EXPECT_EQ(mc.manifest().tensor("layers.0.q_proj").cols, 2048u);     // 8 heads x 128, padded
    EXPECT_EQ(mc.manifest().tensor("layers.0.gate_proj").cols, 4096u);  // 3584, padded
    EXPECT_EQ(mc.manifest().tensor("lm_head").cols, 32768u);
  }
  const ModelCompiler mc(cfg, "reference-analytic", shard, timing_options(true, true));
  EXPECT_GT(mc.compile_step({{5, 6}}, 0).program.instrs.size(), 0u);
}

}  // namespace
}  // namespace plena::compiler

// The references' greedy tokens come from their teacher-forced pass (one pass per run): they must
// equal an independent HostReference::generate_greedy also when the simulator's tokens diverge
// from them (the pass forks at the first divergence).
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "model/model.hpp"
#include "numerics/numerics.hpp"
#include "runner/runner.hpp"
#include "runner/runner_numerics.hpp"

namespace plena::runner {
namespace {

std::vector<std::vector<int64_t>> greedy_of(const model::HostReference& r, const std::vector<std::vector<int64_t>>& prompts,
                                            uint64_t gen) {
  std::vector<std::vector<model::TokenId>> p32;
  for (const auto& p : prompts) p32.emplace_back(p.begin(), p.end());
  std::vector<std::vector<int64_t>> out;
  for (const auto& g : r.generate_greedy(p32, gen)) out.emplace_back(g.begin(), g.end());
  return out;
}

struct Expected {
  std::vector<std::vector<int64_t>> fp32, quant;
};

Expected expected_greedy(const RunOptions& o, const std::vector<std::vector<int64_t>>& prompts) {
  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, o.seed);
  const config::HardwareConfig hw = config::resolve_config(o.hw);
  const detail::QuantizedModel q = detail::quantize_like_hardware(cfg, w, hw);
  model::HostReference quant(q.config, q.weights);
  quant.set_rounding(detail::hardware_rounding(hw));
  return {greedy_of(model::HostReference(cfg, w), prompts, o.gen), greedy_of(quant, prompts, o.gen)};
}

RunOptions mxfp8_run(bool teacher_force) {
  RunOptions o;
  o.model = "preset:tiny";
  o.hw = "reference-small";  // MXFP8 + bf16: the simulator leaves both references' greedy paths
  o.prompt_len = 4;
  o.gen = 12;
  o.batch = 2;
  o.teacher_force = teacher_force;
  return o;
}

TEST(RunnerGreedy, ForksAtTheFirstDivergenceAndMatchesGenerateGreedy) {
  const RunOptions o = mxfp8_run(false);
  const RunReport r = run_model(o);
  const Expected e = expected_greedy(o, r.prompts);
  EXPECT_EQ(r.ref_generated, e.fp32);
  EXPECT_NE(r.generated, e.fp32) << "the simulator should leave the fp32 greedy path (fork exercised)";
  EXPECT_NE(r.generated, e.quant) << "the simulator should leave the quantized greedy path (fork exercised)";
  EXPECT_EQ(r.greedy_match, detail::token_match(r.generated, e.fp32));
  EXPECT_LT(r.verdict.quant_greedy_match, 1.0);
  EXPECT_EQ(r.verdict.quant_greedy_match, detail::token_match(e.quant, e.fp32));
}

TEST(RunnerGreedy, TeacherForcedRunFeedsTheFp32GreedyTokens) {
  const RunOptions o = mxfp8_run(true);
  const RunReport r = run_model(o);
  const Expected e = expected_greedy(o, r.prompts);
  EXPECT_EQ(r.ref_generated, e.fp32);
  EXPECT_EQ(r.verdict.quant_greedy_match, detail::token_match(e.quant, e.fp32));
}

// The quantized references look rows up through stored_embedding: each row must be exactly the
// row of the quantized model's (lazy) table.
TEST(RunnerGreedy, StoredEmbeddingRowsAreTheQuantizedTable) {
  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 5);
  const config::HardwareConfig hw = config::resolve_config("reference-small");
  const detail::QuantizedModel q = detail::quantize_like_hardware(cfg, w, hw);
  EXPECT_FALSE(q.weights.converted("model.embed_tokens.weight"));
  const auto lookup = detail::stored_embedding(w, hw);
  const model::Tensor& table = q.weights.get("model.embed_tokens.weight");
  const size_t h = size_t(cfg.hidden_size);
  size_t changed = 0;
  for (model::TokenId t : {0, 1, 77, 511}) {
    std::vector<float> row(h);
    lookup(t, row);
    const std::vector<float> want(table.data.begin() + t * h, table.data.begin() + (t + 1) * h);
    EXPECT_EQ(row, want) << "token " << t;
    for (size_t i = 0; i < h; ++i) changed += row[i] != w.get("model.embed_tokens.weight").data[t * h + i];
  }
  EXPECT_GT(changed, 0u) << "MXFP8 should move some embedding values";
}

// The quantized LM head: each HF column through m_weight then the matrix SRAM type. Held as bf16
// words when every value is a bf16 value (MXFP8 values are, whatever the SRAM type) and read in
// place by the references; else (fp16 weights in an fp32 SRAM) as f32. Both equal the rule
// applied column by column.
TEST(RunnerGreedy, QuantizedHeadIsEachColumnAsStored) {
  model::ModelConfig cfg = model::model_preset("tiny");
  cfg.tie_word_embeddings = true;  // the head is the embedding table
  const model::ModelWeights w = model::make_random_weights(cfg, 6);
  const model::Tensor& e = w.get("model.embed_tokens.weight");
  const size_t out = e.shape.at(0), in = e.shape.at(1);
  struct Case {
    const char *weights, *sram;
    bool bf16;
  };
  for (const Case k : {Case{nullptr, "bf16", true}, Case{nullptr, "fp32", true}, Case{"fp16", "fp32", false}}) {
    config::HardwareConfig hw = config::resolve_config("reference-small");
    if (k.weights) hw.formats.m_weight = numerics::parse_format(k.weights);
    hw.sram.matrix_type = numerics::parse_format(k.sram);
    const detail::QuantizedModel q = detail::quantize_like_hardware(cfg, w, hw);
    EXPECT_EQ(q.weights.bf16_values("lm_head.weight").empty(), !k.bf16) << k.sram;
    const model::Tensor& head = q.weights.get("lm_head.weight");
    for (size_t i : {size_t(0), in / 2, in - 1}) {
      std::vector<float> col(out);
      for (size_t o = 0; o < out; ++o) col[o] = e.data[o * in + i];
      numerics::fake_quantize(hw.formats.m_weight, col);
      for (float& x : col) x = numerics::round_to_format(x, hw.sram.matrix_type);
      for (size_t o = 0; o < out; ++o) ASSERT_EQ(head.data[o * in + i], col[o]) << "column " << i << " row " << o;
    }
  }
}

}  // namespace
}  // namespace plena::runner

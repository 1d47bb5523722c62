// The run's HBM image shortcuts give the same bytes and values as the whole image: the embedding
// rows a step looks up, and the quantized reference's LM head decoded from the image.
#include <gtest/gtest.h>

#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner_detail.hpp"
#include "runner/runner_numerics.hpp"
#include "sim/sim.hpp"

namespace plena::runner {
namespace {

compiler::ModelCompileOptions options() {
  compiler::ModelCompileOptions o;
  o.max_positions = 8;
  return o;
}

std::vector<uint8_t> tensor_row_bytes(const sim::HbmStore& hbm, const numerics::HbmTensor& t, uint64_t row) {
  const uint64_t e = row * t.stride();
  std::vector<uint8_t> elems(numerics::packed_element_bytes(t.format, t.cols)), scales(numerics::scale_bytes(t.format, t.cols));
  hbm.read(t.element_address(e), elems);
  if (!scales.empty()) hbm.read(t.scale_address(e), scales);
  elems.insert(elems.end(), scales.begin(), scales.end());
  return elems;
}

TEST(RunnerImage, LookedUpEmbeddingRowsEqualTheWholeTable) {
  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 5);
  const config::HardwareConfig hw = config::preset("reference-small");
  const compiler::ModelCompiler mc(hw, "reference-small", cfg, options());
  sim::HbmStore whole(hw.hbm.size_bytes), lazy(hw.hbm.size_bytes);
  detail::write_weight_image(whole, mc, w);
  detail::write_weight_image(lazy, mc, w, false);
  const uint64_t before = lazy.allocated_pages();
  detail::write_embedding_rows(lazy, mc, w, {{7, 3, 7}, {1, 0, 2}});
  EXPECT_LT(lazy.allocated_pages(), whole.allocated_pages());
  EXPECT_GT(lazy.allocated_pages(), before);
  const numerics::HbmTensor t = mc.manifest().tensor("embed_tokens");
  for (const uint64_t r : {0u, 1u, 2u, 3u, 7u})
    EXPECT_EQ(tensor_row_bytes(lazy, t, r), tensor_row_bytes(whole, t, r)) << "row " << r;
  for (const uint64_t r : {4u, 8u, 300u})  // never looked up: not written
    EXPECT_NE(tensor_row_bytes(lazy, t, r), tensor_row_bytes(whole, t, r)) << "row " << r;
}

// The head decoded from the image equals the head quantized from the checkpoint, for a format
// where it decodes (block formats, unpadded vocabulary) and where it does not (a plain format).
void expect_same_head(const std::string& hw_name, const char* m_weight) {
  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 9);
  config::HardwareConfig hw = config::preset(hw_name);
  if (m_weight) hw.formats.m_weight = numerics::parse_format(m_weight);
  const compiler::ModelCompiler mc(hw, hw_name, cfg, options());
  ASSERT_EQ(mc.vocab_padded(), uint64_t(cfg.vocab_size));
  sim::HbmStore hbm(hw.hbm.size_bytes);
  detail::write_weight_image(hbm, mc, w);
  const detail::EncodedHead head{hbm, mc.manifest().tensor("lm_head")};
  const detail::QuantizedModel decoded = detail::quantize_like_hardware(cfg, w, hw, &head);
  const detail::QuantizedModel quantized = detail::quantize_like_hardware(cfg, w, hw);
  const std::vector<float>& a = decoded.weights.get("lm_head.weight").data;
  const std::vector<float>& b = quantized.weights.get("lm_head.weight").data;
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << i;
  const std::vector<float> raw = w.get("lm_head.weight").data;
  EXPECT_NE(a, raw);  // quantized: a test that cannot pass by copying the checkpoint
}

TEST(RunnerImage, DecodedHeadEqualsQuantizedHead) {
  expect_same_head("reference-small", nullptr);
  expect_same_head("reference-small", "ocp-mx:fp4_e2m1:b32");
  expect_same_head("reference-small", "asym-int:uint4:g32");
  expect_same_head("reference-small", "fp8_e4m3");
}

}  // namespace
}  // namespace plena::runner

// The chunked-prefill rule (ModelCompiler::prefill_schedule): equal chunks of whole granules, the
// longest that fits the on-chip memories, checked against what compile_step accepts.
#include <gtest/gtest.h>

#include <numeric>

#include "compiler/layer_plan.hpp"
#include "compiler/model_compiler.hpp"
#include "compiler/kernels_vector.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

std::vector<uint64_t> lengths(const std::vector<PrefillChunk>& v) {
  std::vector<uint64_t> out;
  uint64_t pos = 0;
  for (const auto& c : v) {
    EXPECT_EQ(c.past, pos);  // contiguous from 0
    pos += c.q_len;
    out.push_back(c.q_len);
  }
  return out;
}

TEST(PrefillChunks, SplitIsEqualChunksOfWholeGranules) {
  EXPECT_EQ(lengths(split_prefill(2048, 2048, 128)), (std::vector<uint64_t>{2048}));
  EXPECT_EQ(lengths(split_prefill(100, 128, 4)), (std::vector<uint64_t>{100}));  // fits whole: no rounding
  // Not 3968 + 128: two equal chunks.
  EXPECT_EQ(lengths(split_prefill(4096, 3968, 128)), (std::vector<uint64_t>{2048, 2048}));
  EXPECT_EQ(lengths(split_prefill(100, 32, 4)), (std::vector<uint64_t>{28, 28, 28, 16}));
  EXPECT_EQ(lengths(split_prefill(20, 8, 4)), (std::vector<uint64_t>{8, 8, 4}));
  EXPECT_EQ(lengths(split_prefill(32768, 2048, 128)), std::vector<uint64_t>(16, 2048));
  EXPECT_EQ(lengths(split_prefill(5, 4, 4)), (std::vector<uint64_t>{4, 1}));
}

ModelCompileOptions options(uint64_t positions, uint64_t chunk = 0) {
  ModelCompileOptions o;
  o.max_positions = positions;
  o.assembly = o.words = o.host_data = false;
  o.max_prefill_chunk = chunk;
  return o;
}

// A step of `len` prompt tokens ending at position `end` compiles (true) or runs out of memory.
bool compiles(const ModelCompiler& mc, uint64_t len, uint64_t end) {
  try {
    mc.compile_step({std::vector<int64_t>(len, 1)}, end - len);
    return true;
  } catch (const InputError&) {
    return false;
  }
}

TEST(PrefillChunks, AutomaticChunkIsTheLongestThatCompiles) {
  const config::HardwareConfig hw = config::resolve_config("base = \"tiny-fp32\"\n[sram]\nvector_depth = 2048\n");
  const model::ModelConfig m = model::model_preset("tiny");
  const ModelCompiler mc(hw, "small-vram", m, options(200));
  const uint64_t g = mc.prefill_granule();
  EXPECT_EQ(g, 4u);  // BLEN 4, write-back group 4
  const uint64_t c = mc.max_prefill_chunk(200);
  ASSERT_LT(c, 200u);
  EXPECT_EQ(c % g, 0u);
  EXPECT_TRUE(compiles(mc, c, 200));
  EXPECT_FALSE(compiles(mc, c + g, 200));
  const auto sched = mc.prefill_schedule(200);
  EXPECT_EQ(sched.size(), (200 + c - 1) / c);
  for (const auto& ch : sched) EXPECT_TRUE(compiles(mc, ch.q_len, ch.past + ch.q_len));
  // A prompt that fits is one step, of any length.
  EXPECT_EQ(lengths(mc.prefill_schedule(std::min<uint64_t>(c, 7))), (std::vector<uint64_t>{std::min<uint64_t>(c, 7)}));
}

TEST(PrefillChunks, ForcedChunkBoundsTheSchedule) {
  const config::HardwareConfig hw = config::preset("tiny-fp32");
  const ModelCompiler mc(hw, "tiny-fp32", model::model_preset("tiny"), options(64, 8));
  EXPECT_EQ(lengths(mc.prefill_schedule(20)), (std::vector<uint64_t>{8, 8, 4}));
  EXPECT_EQ(lengths(mc.prefill_schedule(8)), (std::vector<uint64_t>{8}));
  const ModelCompiler bad(hw, "tiny-fp32", model::model_preset("tiny"), options(64, 6));
  EXPECT_THROW(bad.prefill_schedule(20), InputError);
}

// LLaMA-3.1-8B on reference-analytic: a 2048-token prompt is one step; 4096 and 32768 are chunked
// into steps that each fit.
TEST(PrefillChunks, Llama8bOnReferenceAnalytic) {
  const config::HardwareConfig hw = config::preset("reference-analytic");
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  const ModelCompiler mc(hw, "reference-analytic", m, options(32768 + 127));
  EXPECT_EQ(lengths(mc.prefill_schedule(2048)), (std::vector<uint64_t>{2048}));
  const auto s4 = lengths(mc.prefill_schedule(4096));
  EXPECT_GT(s4.size(), 1u);
  const auto s32 = lengths(mc.prefill_schedule(32768));
  EXPECT_EQ(std::accumulate(s32.begin(), s32.end(), uint64_t(0)), 32768u);
  EXPECT_LE(s32[0], mc.max_prefill_chunk(32768));
}


// The layer plan's swap-tile prefetch (PlanBuilder::swap_prefetch): in a prefill step the fused
// K|V projection hands RoPE's swap tile over (next_k x next_n = the swap matrix) and both RoPE calls
// find it loaded; a decode step with the swap hand-off to attention keeps rope_q's own prefetch.
TEST(LayerPlan, KvProjPrefetchesTheRopeSwapTile) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const ModelDims d = model_dims(model::model_preset("llama-3.1-8b"), cfg);
  ASSERT_TRUE(d.fused_kv);
  auto call = [](const StepPlan& p, const std::string& name) {
    for (const auto& c : p.layer)
      if (c.name == name) return c.shape;
    ADD_FAILURE() << "no call " << name;
    return KernelShape{};
  };
  const StepPlan prefill = step_plan(d, cfg, {1, 2048, 0, 2048 + 128});
  EXPECT_EQ(call(prefill, "kv_proj").get_or("next_k", 0), rope_swap_rows(cfg));
  EXPECT_EQ(call(prefill, "kv_proj").get_or("next_n", 0), cfg.geometry.mlen);
  EXPECT_EQ(call(prefill, "rope_q").get_or("swap_loaded", 0), 1u);
  EXPECT_EQ(call(prefill, "rope_k").get_or("swap_loaded", 0), 1u);
  const StepPlan decode = step_plan(d, cfg, {1, 1, 2048, 2048 + 128});
  EXPECT_EQ(call(decode, "kv_proj").get_or("next_n", 0), 0u);
  EXPECT_EQ(call(decode, "rope_q").get_or("swap_loaded", 0), 0u);
}

}  // namespace
}  // namespace plena::compiler

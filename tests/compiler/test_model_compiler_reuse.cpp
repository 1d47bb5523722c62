// ModelCompiler's program reuse: a decode step compiled as the previous step's program with its
// step values patched must be exactly the step emitted from scratch (instructions, words, init
// data, checkpoints), at every position across KV-tile boundaries, for every architecture and
// batch size; and steps that may not be patched (sliding windows, prefill, new tokens) are not.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"

namespace plena::compiler {
namespace {

void expect_same_step(const CompiledStep& a, const CompiledStep& b, const std::string& where) {
  ASSERT_EQ(a.program.instrs.size(), b.program.instrs.size()) << where;
  for (size_t i = 0; i < a.program.instrs.size(); ++i)
    ASSERT_TRUE(a.program.instrs[i] == b.program.instrs[i]) << where << ": instruction " << i;
  EXPECT_EQ(a.program.words, b.program.words) << where;
  EXPECT_EQ(a.past, b.past) << where;
  EXPECT_EQ(a.residual_pcs, b.residual_pcs) << where;
  EXPECT_EQ(a.logits.base(), b.logits.base()) << where;
  ASSERT_EQ(a.vram_inits.size(), b.vram_inits.size()) << where;
  for (size_t i = 0; i < a.vram_inits.size(); ++i) {
    EXPECT_EQ(a.vram_inits[i].tensor.base(), b.vram_inits[i].tensor.base()) << where;
    EXPECT_EQ(a.vram_inits[i].data, b.vram_inits[i].data) << where << ": init " << i;
  }
  ASSERT_EQ(a.hbm_inits.size(), b.hbm_inits.size()) << where;
}

struct Case {
  const char* model;
  const char* hw;
  uint64_t batch;
  int64_t window = 0;  // sliding_window override
};

// Decode steps from past = 1 across three KV tiles: every one compared with a fresh emission.
uint64_t check_decode_steps(const Case& c) {
  const config::HardwareConfig hw = config::preset(c.hw);
  model::ModelConfig m = model::model_preset(c.model);
  m.sliding_window = c.window;
  const uint64_t mlen = hw.geometry.mlen, last = 3 * mlen + 2;
  ModelCompileOptions reuse, fresh;
  reuse.batch = fresh.batch = c.batch;
  reuse.max_positions = fresh.max_positions = last + 1;
  reuse.assembly = fresh.assembly = false;
  fresh.reuse_programs = false;
  const ModelCompiler patched(hw, c.hw, m, reuse), emitted(hw, c.hw, m, fresh);
  std::vector<std::vector<int64_t>> tokens(c.batch, std::vector<int64_t>{3});
  for (uint64_t past = 1; past < last; ++past) {
    const std::string where = fmt::format("{} on {}, batch {}, window {}, past {}", c.model, c.hw, c.batch, c.window, past);
    expect_same_step(patched.compile_step(tokens, past), emitted.compile_step(tokens, past), where);
    if (::testing::Test::HasFatalFailure()) return 0;
  }
  EXPECT_EQ(emitted.patched_steps(), 0u);
  return patched.patched_steps();
}

TEST(ModelCompilerReuse, PatchedDecodeStepsEqualFreshOnes) {
  for (const Case& c : {Case{"tiny", "tiny-fp32", 1}, Case{"tiny", "tiny-fp32", 2}, Case{"tiny-qwen2", "tiny-fp32", 1},
                        Case{"tiny-qwen3", "reference-small", 2}, Case{"tiny", "reference-small", 1}}) {
    const uint64_t mlen = config::preset(c.hw).geometry.mlen;
    // Steps whose KV length crosses into a new BLEN block of keys (the last tile's S blocks) or
    // fills a tile are emitted: at most two per BLEN block.
    const uint64_t blen = config::preset(c.hw).geometry.blen;
    EXPECT_GE(check_decode_steps(c), 3 * mlen + 1 - 2 * (3 * mlen / blen + 1)) << c.model << " on " << c.hw;
  }
}

TEST(ModelCompilerReuse, SlidingWindowsAreEmittedEveryStep) {
  EXPECT_EQ(check_decode_steps(Case{"tiny", "tiny-fp32", 1, 5}), 0u);
}

TEST(ModelCompilerReuse, NewTokensOrPrefillAreEmitted) {
  const config::HardwareConfig hw = config::preset("tiny-fp32");
  ModelCompileOptions o;
  o.max_positions = 32;
  o.assembly = false;
  const ModelCompiler mc(hw, "tiny-fp32", model::model_preset("tiny"), o);
  mc.compile_step({{1, 2, 3}}, 0);
  mc.compile_step({{1, 2, 3}}, 3);  // prefill: never patched
  // KV lengths 9, 10, 11: one step class (same tiles and BLEN key blocks of the last tile).
  mc.compile_step({{4}}, 8);
  mc.compile_step({{5}}, 9);  // another token: its embedding row is an immediate
  EXPECT_EQ(mc.patched_steps(), 0u);
  mc.compile_step({{5}}, 10);
  EXPECT_EQ(mc.patched_steps(), 1u);
}

}  // namespace
}  // namespace plena::compiler

// End-to-end: a model compiled step by step, simulated with the KV cache in HBM, against the
// host fp32 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

RunOptions tiny(const std::string& hw, uint64_t prompt_len, uint64_t gen) {
  RunOptions o;
  o.model = "tiny";
  o.hw = hw;
  o.prompt_len = prompt_len;
  o.gen = gen;
  return o;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("plena_runner_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// fp32 everywhere: the simulated model reproduces the reference's greedy tokens and its logits.
TEST(Runner, TinyFp32PrefillAndDecodeMatchReference) {
  RunOptions o = tiny("tiny-fp32", 4, 2);
  o.dump_dir = temp_dir("fp32");
  const RunReport r = run_model(o);
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_EQ(r.greedy_match, 1.0);
  EXPECT_EQ(r.teacher_forced_top1, 1.0);
  EXPECT_LE(r.logits_max_abs, 1e-3);
  EXPECT_GT(r.logits_min_cosine, 0.9999);
  // Non-trivial: the reference logits are not all equal and not all zero.
  for (int s = 0; s < 3; ++s) {
    const auto ref = npy_load(o.dump_dir / ("step000" + std::to_string(s) + "_ref_logits.npy")).to_f32();
    const auto got = npy_load(o.dump_dir / ("step000" + std::to_string(s) + "_logits.npy")).to_f32();
    ASSERT_EQ(ref.size(), got.size());
    float lo = ref[0], hi = ref[0];
    for (float v : ref) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_GT(hi - lo, 0.05f) << "step " << s;
  }
  EXPECT_GT(r.ttft_s, 0);
  EXPECT_GT(r.tpot_s, 0);
  EXPECT_GT(r.hbm_read_bytes, 0u);
  EXPECT_GT(r.hbm_write_bytes, 0u);  // the KV cache stores
  std::filesystem::remove_all(o.dump_dir);
}

// A batch of two different prompts, one program per step for both.
TEST(Runner, TinyFp32BatchOfTwo) {
  RunOptions o = tiny("tiny-fp32", 3, 1);
  o.batch = 2;
  const RunReport r = run_model(o);
  ASSERT_EQ(r.generated.size(), 2u);
  EXPECT_NE(r.prompts[0], r.prompts[1]);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_LE(r.logits_max_abs, 1e-3);
}

// Unrolled loops compute the same thing.
TEST(Runner, UnrolledLoopsSameTokens) {
  RunOptions o = tiny("tiny-fp32", 2, 1);
  o.loops = compiler::LoopPolicy::unroll();
  const RunReport r = run_model(o);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_LE(r.logits_max_abs, 1e-3);
}

}  // namespace
}  // namespace plena::runner

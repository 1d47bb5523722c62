// End-to-end sliding-window attention (Mistral): the simulated model with a window smaller than
// the prompt reproduces the host reference, and the window visibly changes the result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "model/model.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("plena_runner_sw_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// The tiny preset as a Mistral model directory with the given window (same random weights).
std::filesystem::path mistral_dir(const std::string& name, int64_t window) {
  model::ModelConfig cfg = model::model_preset("tiny");
  cfg.name = "tiny-mistral";
  cfg.architecture = model::Architecture::Mistral;
  cfg.sliding_window = window;
  const model::ModelWeights w = model::make_random_weights(cfg, 3);
  const auto dir = temp_dir(name);
  model::save_hf_model(dir / "model", cfg, w, model::DType::F32);
  return dir;
}

RunReport run(const std::filesystem::path& dir) {
  RunOptions o;
  o.model = (dir / "model").string();
  o.hw = "tiny-fp32";  // MLEN 16: prompt 20 + 4 decode steps span two KV tiles
  o.prompt_len = 20;
  o.gen = 5;
  o.dump_dir = dir / "dump";
  return run_model(o);
}

TEST(RunnerSlidingWindow, MistralWindowSmallerThanPromptMatchesReference) {
  const auto win = mistral_dir("w5", 5);
  const RunReport r = run(win);
  ASSERT_EQ(r.steps.size(), 5u);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_EQ(r.greedy_match, 1.0);
  EXPECT_EQ(r.teacher_forced_top1, 1.0);
  EXPECT_LE(r.logits_max_abs, 1e-3);
  EXPECT_GT(r.logits_min_cosine, 0.9999);

  // Not vacuous: without the window the reference's prefill logits differ.
  const auto full = mistral_dir("w0", 0);
  const RunReport rf = run(full);
  EXPECT_EQ(rf.generated, rf.ref_generated);
  const auto a = npy_load(win / "dump" / "step0000_ref_logits.npy").to_f32();
  const auto b = npy_load(full / "dump" / "step0000_ref_logits.npy").to_f32();
  ASSERT_EQ(a.size(), b.size());
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, double(std::abs(a[i] - b[i])));
  EXPECT_GT(diff, 1e-3);
  std::filesystem::remove_all(win);
  std::filesystem::remove_all(full);
}

}  // namespace
}  // namespace plena::runner

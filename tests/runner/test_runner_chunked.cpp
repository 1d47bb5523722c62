// Chunked prefill end to end: a prompt run as several prefill steps (each appending its K/V to the
// cache, attending causally over everything so far) gives bit for bit the logits of the one-step
// prefill, and both match the unchunked host reference.
#include <fmt/format.h>
#include <gtest/gtest.h>

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
  auto d = std::filesystem::temp_directory_path() / ("plena_runner_chunk_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

RunOptions tiny_run(const std::string& model, const std::string& hw, uint64_t chunk, const std::filesystem::path& dump) {
  RunOptions o;
  o.model = model;
  o.hw = hw;
  o.prompt_len = 20;  // MLEN 16 on tiny-fp32: the prompt spans two KV tiles
  o.gen = 3;
  o.prefill_chunk = chunk;
  o.dump_dir = dump;
  return o;
}

uint64_t prefill_steps(const RunReport& r) {
  uint64_t n = 0;
  for (const auto& s : r.steps) n += s.kind == "prefill";
  return n;
}

std::vector<float> logits_file(const std::filesystem::path& dir, int token, const char* what = "logits") {
  return npy_load(dir / fmt::format("step{:04d}_{}.npy", token, what)).to_f32();
}

// `chunked` against the one-step prefill `whole`: same tokens, the same logits bit for bit at
// every generated token, the same reference; and the prefill steps tile the prompt.
void expect_same_as_unchunked(const RunReport& chunked, const std::filesystem::path& cdir, const RunReport& whole,
                              const std::filesystem::path& wdir, uint64_t chunks) {
  ASSERT_EQ(prefill_steps(chunked), chunks);
  ASSERT_EQ(chunked.steps.size(), chunks + whole.steps.size() - 1);
  uint64_t pos = 0;
  double ttft = 0;
  for (uint64_t i = 0; i < chunks; ++i) {
    EXPECT_EQ(chunked.steps[i].past, pos);
    pos += chunked.steps[i].q_len;
    ttft += double(chunked.steps[i].time_ps) * 1e-12;
  }
  EXPECT_EQ(pos, chunked.prompt_len);
  EXPECT_DOUBLE_EQ(chunked.ttft_s, ttft);  // TTFT: the prefill steps only
  EXPECT_EQ(chunked.generated, whole.generated);
  EXPECT_EQ(chunked.ref_generated, whole.ref_generated);
  for (int t = 0; t < int(whole.gen); ++t) {
    EXPECT_EQ(logits_file(cdir, t), logits_file(wdir, t)) << "token " << t;
    EXPECT_EQ(logits_file(cdir, t, "ref_logits"), logits_file(wdir, t, "ref_logits")) << "token " << t;
  }
  EXPECT_EQ(chunked.teacher_forced_top1, 1.0);
  EXPECT_LE(chunked.logits_max_abs, 1e-3);
  EXPECT_GT(chunked.logits_min_cosine, 0.9999);
}

TEST(RunnerChunked, ForcedChunksAreBitExactWithOneStepPrefill) {
  const auto wdir = temp_dir("whole"), cdir = temp_dir("c8"), c4dir = temp_dir("c4");
  const RunReport whole = run_model(tiny_run("tiny", "tiny-fp32", 0, wdir));
  ASSERT_EQ(prefill_steps(whole), 1u);
  EXPECT_EQ(whole.generated, whole.ref_generated);
  // 20 tokens in chunks of at most 8: ceil(20 / 8) = 3 equal chunks of round_up(7, 4) = 8, 8, 4.
  const RunReport c8 = run_model(tiny_run("tiny", "tiny-fp32", 8, cdir));
  expect_same_as_unchunked(c8, cdir, whole, wdir, 3);
  EXPECT_EQ(c8.steps[2].q_len, 4u);
  const RunReport c4 = run_model(tiny_run("tiny", "tiny-fp32", 4, c4dir));
  expect_same_as_unchunked(c4, c4dir, whole, wdir, 5);
  // A chunk no shorter than the prompt is the one-step prefill.
  EXPECT_EQ(prefill_steps(run_model(tiny_run("tiny", "tiny-fp32", 64, ""))), 1u);
  for (const auto& d : {wdir, cdir, c4dir}) std::filesystem::remove_all(d);
}

// The chunk length the compiler picks on its own when the VRAM cannot hold the whole prompt.
TEST(RunnerChunked, AutomaticChunksWhenTheVramIsSmallAreBitExact) {
  const auto wdir = temp_dir("auto_whole"), cdir = temp_dir("auto");
  const RunReport whole = run_model(tiny_run("tiny", "tiny-fp32", 0, wdir));
  const std::string small = "base = \"tiny-fp32\"\n[sram]\nvector_depth = 1024\n";  // 8 rows a step
  const RunReport autoc = run_model(tiny_run("tiny", small, 0, cdir));
  const uint64_t n = prefill_steps(autoc);
  EXPECT_EQ(n, 3u);  // 8, 8, 4
  expect_same_as_unchunked(autoc, cdir, whole, wdir, n);
  for (const auto& d : {wdir, cdir}) std::filesystem::remove_all(d);
}

// A prefill step whose instructions exceed the simulator's budget is chunked too (the whole
// 20-token prefill executes ~485k instructions): every step runs, bit-exact as before.
TEST(RunnerChunked, InstructionBudgetBoundsTheChunk) {
  const auto wdir = temp_dir("budget_whole"), cdir = temp_dir("budget");
  const RunReport whole = run_model(tiny_run("tiny", "tiny-fp32", 0, wdir));
  ASSERT_GT(whole.steps[0].executed, 300000u);
  const std::string budget = "base = \"tiny-fp32\"\n[timing]\ninstruction_budget = 300000\n";
  const RunReport c = run_model(tiny_run("tiny", budget, 0, cdir));
  const uint64_t n = prefill_steps(c);
  EXPECT_GT(n, 1u);
  for (const auto& s : c.steps) EXPECT_LE(s.executed, 300000u);
  expect_same_as_unchunked(c, cdir, whole, wdir, n);
  for (const auto& d : {wdir, cdir}) std::filesystem::remove_all(d);
}

// Mistral's sliding window across chunk boundaries (window 5 < chunk 8 < prompt 20).
TEST(RunnerChunked, SlidingWindowChunksAreBitExact) {
  model::ModelConfig cfg = model::model_preset("tiny");
  cfg.name = "tiny-mistral";
  cfg.architecture = model::Architecture::Mistral;
  cfg.sliding_window = 5;
  const auto mdir = temp_dir("mistral");
  model::save_hf_model(mdir / "model", cfg, model::make_random_weights(cfg, 3), model::DType::F32);
  const auto wdir = mdir / "whole", cdir = mdir / "c8";
  const RunReport whole = run_model(tiny_run((mdir / "model").string(), "tiny-fp32", 0, wdir));
  EXPECT_EQ(whole.generated, whole.ref_generated);
  const RunReport c8 = run_model(tiny_run((mdir / "model").string(), "tiny-fp32", 8, cdir));
  expect_same_as_unchunked(c8, cdir, whole, wdir, 3);
  std::filesystem::remove_all(mdir);
}

// plena compile writes one step: a prompt that needs several is refused with the longest that fits.
TEST(RunnerChunked, CompileRefusesAPromptLongerThanOneStep) {
  CompileOptions o;
  o.model = "tiny";
  o.hw = "base = \"tiny-fp32\"\n[sram]\nvector_depth = 1024\n";
  o.prompt_len = 20;
  o.weights = false;
  o.out_dir = temp_dir("compile");
  try {
    compile_model(o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("a prompt of 20 tokens does not fit one step"), std::string::npos) << e.what();
  }
  o.prompt_len = 8;  // the longest that fits
  EXPECT_FALSE(compile_model(o).empty());
  std::filesystem::remove_all(o.out_dir);
}

TEST(RunnerChunked, ChunkNotAMultipleOfTheGranuleIsAnInputError) {
  RunOptions o = tiny_run("tiny", "tiny-fp32", 6, "");
  o.timing_only = true;
  try {
    run_model(o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--prefill-chunk: error: 6 is not a multiple of 4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace plena::runner

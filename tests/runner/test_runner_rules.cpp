// `plena run` rules: --gen N gives N new tokens, prompt ids and counts are validated, the report
// names the formats and ends with a verdict, and the memory check refuses runs that cannot fit.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/resources.hpp"
#include "runner/runner.hpp"
#include "runner/runner_numerics.hpp"
#include "sim/resources.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

RunOptions fp32(uint64_t prompt_len, uint64_t gen) {
  RunOptions o;
  o.hw = "tiny-fp32";
  o.prompt_len = prompt_len;
  o.gen = gen;
  return o;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

std::filesystem::path fresh(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("plena_rules_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// --gen N: N new tokens like max_new_tokens: the prefill gives the first, then N - 1 decode steps.
TEST(RunnerRules, GenCountsNewTokens) {
  for (uint64_t gen : {1u, 3u}) {
    const RunReport r = run_model(fp32(3, gen));
    ASSERT_EQ(r.steps.size(), gen);
    EXPECT_EQ(r.generated[0].size(), gen);
    EXPECT_EQ(r.ref_generated[0].size(), gen);
    EXPECT_EQ(r.generated, r.ref_generated);
    EXPECT_EQ(r.steps.back().past + r.steps.back().q_len, 3 + gen - 1);  // last fed position
    EXPECT_EQ(r.teacher_forced_steps, gen);
  }
  // --gen 0: the prefill alone (logits compared, TTFT), no token generated.
  const RunReport z = run_model(fp32(3, 0));
  ASSERT_EQ(z.steps.size(), 1u);
  EXPECT_TRUE(z.generated[0].empty());
  EXPECT_TRUE(z.ref_generated[0].empty());
  EXPECT_EQ(z.teacher_forced_steps, 1u);
  EXPECT_GT(z.ttft_s, 0);
  EXPECT_EQ(z.verdict.status, "consistent");
}

TEST(RunnerRules, PromptIds) {
  EXPECT_NE(message_of([] { parse_prompt_ids(""); }).find("empty"), std::string::npos);
  EXPECT_NE(message_of([] { parse_prompt_ids("1,2;"); }).find("not a token id"), std::string::npos);
  EXPECT_EQ(parse_prompt_ids("1,2;3,4"), (std::vector<std::vector<int64_t>>{{1, 2}, {3, 4}}));
  const auto dir = fresh("ids");
  npy_save(dir / "two.npy", npy_from_i64(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_EQ(parse_prompt_ids((dir / "two.npy").string()), (std::vector<std::vector<int64_t>>{{1, 2, 3}, {4, 5, 6}}));
  npy_save(dir / "empty.npy", npy_from_i64(std::vector<int64_t>{}, {0}));
  EXPECT_NE(message_of([&] { parse_prompt_ids((dir / "empty.npy").string()); }).find("no token ids"), std::string::npos);
  npy_save(dir / "cube.npy", npy_from_i64(std::vector<int64_t>{1, 2}, {1, 1, 2}));
  EXPECT_NE(message_of([&] { parse_prompt_ids((dir / "cube.npy").string()); }).find("rank 3"), std::string::npos);
  npy_save(dir / "neg.npy", npy_from_i64(std::vector<int64_t>{1, -2}, {2}));
  EXPECT_NE(message_of([&] { parse_prompt_ids((dir / "neg.npy").string()); }).find("non-negative"), std::string::npos);

  // Two prompts run as a batch of two, each its own sequence.
  RunOptions o = fp32(0, 1);
  o.batch = 2;
  o.prompt_ids = {{1, 2, 3}, {4, 5, 6}};
  const RunReport r = run_model(o);
  EXPECT_EQ(r.prompts, o.prompt_ids);
  EXPECT_EQ(r.generated, r.ref_generated);
  o.batch = 3;  // two prompts for three sequences: not silently flattened or repeated
  EXPECT_NE(message_of([&] { run_model(o); }).find("2 prompts for --batch 3"), std::string::npos);
  o.batch = 2;
  o.prompt_ids = {{1, 2, 3}, {4, 5}};
  EXPECT_NE(message_of([&] { run_model(o); }).find("same length"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(RunnerRules, CountsAreRangeChecked) {
  RunOptions o = fp32(4, 2);
  o.gen = 5000;  // tiny: max_position_embeddings 2048
  EXPECT_NE(message_of([&] { run_model(o); }).find("max_position_embeddings 2048"), std::string::npos);
  o.gen = ~uint64_t(0);
  EXPECT_NE(message_of([&] { run_model(o); }).find("max_position_embeddings"), std::string::npos);
  o = fp32(~uint64_t(0) - 1, 2);
  EXPECT_NE(message_of([&] { run_model(o); }).find("--prompt-len"), std::string::npos);
  o = fp32(4, 2);
  o.batch = 0;
  EXPECT_NE(message_of([&] { run_model(o); }).find("--batch"), std::string::npos);
  o.batch = 1u << 20;
  EXPECT_NE(message_of([&] { run_model(o); }).find("--batch"), std::string::npos);
  o.batch = 1;
  for (uint32_t bytes : {3u, 16u, 1u << 25}) {
    o.dma_request_bytes = bytes;
    EXPECT_NE(message_of([&] { run_model(o); }).find("--dma-request-bytes"), std::string::npos) << bytes;
  }
}

// The report names the formats and judges the agreement against a host reference quantized the
// same way: fp32 hardware has no quantization effect; the MXFP8 default has one, and the simulator
// sits closer to the quantized reference than the formats move it from fp32.
TEST(RunnerRules, VerdictOnDefaultAndFp32Hardware) {
  const RunReport f = run_model(fp32(4, 3));
  EXPECT_EQ(f.verdict.status, "consistent") << f.verdict.reason;
  EXPECT_EQ(f.verdict.quant_max_abs, 0.0);
  EXPECT_EQ(f.formats.weights, "fp32");

  RunOptions o = fp32(8, 8);
  o.hw = "reference-small";
  const RunReport q = run_model(o);
  EXPECT_EQ(q.formats.weights, "plena-hw-mxfp:fp8_e4m3:b8");
  EXPECT_EQ(q.formats.kv, "plena-hw-mxfp:fp8_e4m3:b8");
  EXPECT_EQ(q.formats.activations, "bf16");
  EXPECT_EQ(q.verdict.status, "consistent") << q.verdict.reason;
  EXPECT_GT(q.verdict.quant_max_abs, 1e-2);                      // the formats visibly move the logits
  EXPECT_LT(q.verdict.sim_vs_quant_max_abs, q.logits_max_abs);  // ... and explain part of the error
  EXPECT_GT(q.verdict.sim_vs_quant_min_cosine, q.logits_min_cosine);
  const std::string text = q.to_text();
  EXPECT_NE(text.find("formats      HBM: weights plena-hw-mxfp:fp8_e4m3:b8"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict      consistent: "), std::string::npos) << text;
  EXPECT_NE(text.find("MXFP8 weights"), std::string::npos) << text;
  EXPECT_NE(q.to_json().find("\"verdict\""), std::string::npos);

  o.timing_only = true;
  const RunReport t = run_model(o);
  EXPECT_EQ(t.verdict.status, "not applicable");
  EXPECT_NE(t.to_text().find("verdict      not applicable: timing-only"), std::string::npos);
}

// A checkpoint's dtype is named; a tied checkpoint is quantized with an untied LM head.
TEST(RunnerRules, CheckpointDtypeNamed) {
  const auto dir = fresh("ckpt");
  model::ModelConfig c = model::model_preset("tiny-qwen2");  // tied embeddings
  model::save_hf_model(dir, c, model::make_random_weights(c, 2), model::DType::BF16);
  RunOptions o = fp32(4, 2);
  o.model = (dir / "config.json").string();  // a checkpoint file stands for its folder
  o.hw = "reference-small";
  const RunReport r = run_model(o);
  EXPECT_EQ(r.formats.checkpoint, "checkpoint torch_dtype bfloat16");
  EXPECT_NE(r.model.find("using its folder"), std::string::npos) << r.model;
  EXPECT_EQ(r.verdict.status, "consistent") << r.verdict.reason;
  std::filesystem::remove_all(dir);
}

TEST(RunnerRules, JudgeRule) {
  detail::VerdictInputs in;
  in.quant_vs_fp32.max_abs = 0.3;
  in.quant_vs_stored.max_abs = 0.1;  // the on-chip rounding alone
  in.sim_vs_quant.max_abs = 0.05;
  in.ref_logit_max = 2;
  in.formats_label = "X";
  EXPECT_EQ(detail::judge(in).status, "consistent");
  EXPECT_DOUBLE_EQ(detail::judge(in).bound, 0.3 + 2e-5);
  in.sim_vs_quant.max_abs = 0.31;  // more than the formats explain
  EXPECT_EQ(detail::judge(in).status, "inconsistent");
  in.sim_vs_quant.max_abs = 0.05;
  in.sim_vs_quant.max_miss_margin = 0.11;  // a miss that is no near tie
  EXPECT_EQ(detail::judge(in).status, "inconsistent");
  in.sim_vs_quant.max_miss_margin = 0.09;
  EXPECT_EQ(detail::judge(in).status, "consistent");
  in = {};
  in.sim_vs_quant.max_abs = 5e-6;  // fp32 hardware: only the summation-order floor
  EXPECT_EQ(detail::judge(in).status, "consistent");
  in.sim_vs_quant.max_abs = 1e-3;
  EXPECT_EQ(detail::judge(in).status, "inconsistent");
}

// The memory estimate, by hand for the tiny preset on reference-small (MXFP8 b8: 9 bits/element).
TEST(RunnerRules, MemoryEstimateArithmetic) {
  const model::ModelConfig tiny = model::model_preset("tiny");
  const config::HardwareConfig hw = config::preset("reference-small");
  // Linear: 2 layers x (2*256*256 + 2*256*64 + 3*256*512) + lm_head 512*256 = 1245184.
  ASSERT_EQ(tiny.linear_param_count(), 1245184u);
  const uint64_t other = tiny.param_count() - 1245184u;  // embedding, norms
  ASSERT_EQ(other, 512u * 256 + 2 * 2 * 256 + 256);
  const uint64_t kv = 2 * 2 * 64 * 10 * 3;  // layers x K,V x kv_dim x positions x batch
  const MemoryNeed n = detail::run_memory_need(tiny, hw, 3, 10, true, false);
  std::map<std::string, uint64_t> parts;
  for (const auto& p : n.parts) EXPECT_TRUE(parts.emplace(p.what, p.bytes).second) << p.what;
  EXPECT_EQ(parts.at("host weights (f32)"), tiny.param_count() * 4);
  // The quantized reference: all but the embedding and the (untied) head in f32, the head in bf16.
  const uint64_t table = 512u * 256;
  EXPECT_EQ(parts.at("quantized reference weights"), (tiny.param_count() - 2 * table) * 4 + table * 2);
  EXPECT_EQ(parts.at("staging of weight rows"), uint64_t(4) << 20);
  // 30 lookups (3 x 10) may touch the whole embedding table; one lookup two HBM pages of it.
  const uint64_t table_bytes = table * 9 / 8 + 1;
  EXPECT_EQ(parts.at("HBM image"), (1245184u * 9 / 8 + 1) + (other * 9 / 8 + 1) + (kv * 9 / 8 + 1));
  auto part = [](const MemoryNeed& need, const std::string& what) {
    for (const auto& p : need.parts)
      if (p.what == what) return p.bytes;
    return ~uint64_t(0);
  };
  EXPECT_EQ(part(detail::run_memory_need(tiny, hw, 1, 1, true, false), "HBM image"),
            (1245184u * 9 / 8 + 1) + (other * 9 / 8 + 1) - table_bytes + 2 * 65536 + (2 * 2 * 64 * 9 / 8 + 1));
  // A bf16 checkpoint's embedding and untied head are read in place, not converted to f32.
  model::ModelConfig bf16 = tiny;
  bf16.torch_dtype = "bfloat16";
  EXPECT_EQ(part(detail::run_memory_need(bf16, hw, 1, 1, true, true), "host weights (f32)"),
            (tiny.param_count() - 2 * table) * 4);
  // The simulator's arrays are the simulator's own estimate (one formula), each with its knob.
  EXPECT_EQ(parts.at("Vector SRAM") + parts.at("Matrix SRAM") + parts.at("FP SRAM") + parts.at("INT SRAM"),
            (262144u * 64 + 4096u * 64 + 1024 + 1024) * 4);
  EXPECT_EQ(parts.at("HBM page table"), sim::hbm_page_table_bytes(hw));
  uint64_t sim_total = 0;
  for (const auto& p : sim::simulator_memory(hw, true).parts) sim_total += parts.at(p.what);
  EXPECT_EQ(sim_total, sim::simulator_memory(hw, true).total());
  EXPECT_EQ(parts.at("reference KV caches (f32)"), kv * 4 * 3 + kv * 4 / 3);  // + one sequence's greedy fork
  EXPECT_EQ(parts.count("checkpoint file bytes while converting"), 0u);
  // Timing-only holds no data (working set and INT SRAM); absurd sizes saturate instead of wrapping.
  const MemoryNeed timing = detail::run_memory_need(tiny, hw, 3, 10, false, false);
  ASSERT_EQ(timing.parts.size(), 2u);
  EXPECT_EQ(timing.parts[1].what, "INT SRAM");
  EXPECT_EQ(timing.total(), (uint64_t(64) << 20) + 1024 * 4);
  model::ModelConfig huge = tiny;
  huge.num_hidden_layers = int64_t(1) << 40;
  EXPECT_EQ(detail::run_memory_need(huge, hw, 1u << 16, uint64_t(1) << 40, true, true).total(), ~uint64_t(0));
}

TEST(RunnerRules, MemoryCheckRefusesWithAdvice) {
  const model::ModelConfig big = model::model_preset("llama-3.1-8b");
  const config::HardwareConfig hw = config::preset("reference-analytic");
  const auto need = detail::run_memory_need(big, hw, 1, 4, true, false);
  EXPECT_GT(need.total(), uint64_t(64) << 30);  // two f32 copies of 8 B parameters
  const std::string m = message_of([&] { require_memory(need, uint64_t(16) << 30, "plena run", "add --timing-only"); });
  EXPECT_NE(m.find("plena run: error: needs about"), std::string::npos) << m;
  EXPECT_NE(m.find("but this machine has 16.0 GiB available; add --timing-only"), std::string::npos) << m;
  EXPECT_NE(m.find("host weights (f32) 29.9 GiB"), std::string::npos) << m;
  EXPECT_NE(m.find("add --timing-only"), std::string::npos) << m;
  EXPECT_NO_THROW(require_memory(detail::run_memory_need(big, hw, 1, 4, false, false), uint64_t(16) << 30,
                                 "plena run", ""));
  // compile: a 1 PiB HBM needs a 128 GiB page table for hbm.bin, named with its config key.
  config::HardwareConfig huge_hbm = config::preset("tiny-fp32");
  huge_hbm.hbm.size_bytes = uint64_t(1) << 50;
  const std::string c = message_of([&] {
    require_memory(detail::compile_memory_need(model::model_preset("tiny"), huge_hbm, 1, 4, true, false),
                   uint64_t(16) << 30, "plena compile", "");
  });
  EXPECT_NE(c.find("(HBM page table 128.0 GiB (hbm.size_bytes)"), std::string::npos) << c;
}

// The CLI: negative counts, empty prompt ids, and an 8 B functional run are refused with exit 1.
TEST(RunnerRules, Cli) {
  const std::string plena = std::string(PLENA_BINARY_DIR) + "/plena";
  const auto dir = fresh("cli");
  const std::string out = (dir / "out.txt").string();
  auto run = [&](const std::string& args) {
    const int rc = std::system((plena + " " + args + " > " + out + " 2>&1").c_str());
    return std::make_pair(WEXITSTATUS(rc), read_text_file(out));
  };
  for (const char* bad : {"run --gen -1", "run --batch -2", "run --prompt-len 1e3", "compile --gen -1 -o x"}) {
    const auto [rc, text] = run(bad);
    EXPECT_EQ(rc, 1) << bad << ": " << text;
    EXPECT_NE(text.find("not a count"), std::string::npos) << bad << ": " << text;
  }
  auto [rc, text] = run("run --prompt-ids ''");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(text.find("--prompt-ids: error: empty"), std::string::npos) << text;
  if (host_memory_available().value_or(0) < (uint64_t(64) << 30)) {
    std::tie(rc, text) = run("run --model llama-3.1-8b --no-progress");
    EXPECT_EQ(rc, 1) << text;
    EXPECT_NE(text.find("--timing-only"), std::string::npos) << text;
  }
  std::tie(rc, text) = run("run --no-progress");  // the README's first command
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("verdict      consistent"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace plena::runner

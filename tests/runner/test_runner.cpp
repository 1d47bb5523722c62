// End-to-end: a model compiled step by step, simulated with the KV cache in HBM, against the
// host fp32 reference.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "sim/runspec.hpp"
#include "sim/sim.hpp"
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
  RunOptions o = tiny("tiny-fp32", 4, 3);
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
    const auto hid = npy_load(o.dump_dir / ("step000" + std::to_string(s) + "_hidden.npy")).to_f32();
    ASSERT_EQ(hid.size(), 256u);
    double energy = 0;
    for (float v : hid) energy += double(v) * v;
    EXPECT_NEAR(energy / 256.0, 1.0, 0.5);  // RMS-normalised (norm weights are 1 +- 0.1)
  }
  EXPECT_GT(r.ttft_s, 0);
  EXPECT_GT(r.tpot_s, 0);
  EXPECT_GT(r.hbm_read_bytes, 0u);
  EXPECT_GT(r.hbm_write_bytes, 0u);  // the KV cache stores
  std::filesystem::remove_all(o.dump_dir);
}

// A batch of two different prompts, one program per step for both.
TEST(Runner, TinyFp32BatchOfTwo) {
  RunOptions o = tiny("tiny-fp32", 3, 2);
  o.batch = 2;
  const RunReport r = run_model(o);
  ASSERT_EQ(r.generated.size(), 2u);
  EXPECT_NE(r.prompts[0], r.prompts[1]);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_LE(r.logits_max_abs, 1e-3);
}

// Unrolled loops compute the same thing.
TEST(Runner, UnrolledLoopsSameTokens) {
  RunOptions o = tiny("tiny-fp32", 2, 2);
  o.loops = compiler::LoopPolicy::unroll();
  const RunReport r = run_model(o);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_LE(r.logits_max_abs, 1e-3);
}

// bf16 weights, activations, KV and SRAMs: teacher-forced top-1 agreement with the fp32 reference.
TEST(Runner, TinyBf16TeacherForcedAgreement) {
  // 2 sequences x (prefill + 24 decode steps: 25 new tokens) = 50 teacher-forced comparisons: a sample large
  // enough that one near-tie miss does not decide the 95% target.
  RunOptions o = tiny(
      "base = \"reference-small\"\n[formats]\nm_weight = \"bf16\"\nm_kv = \"bf16\"\nv_act = \"bf16\"\nv_kv = \"bf16\"\n", 16,
      25);
  o.batch = 2;
  o.teacher_force = true;
  const RunReport r = run_model(o);
  EXPECT_EQ(r.hw, "<inline>");
  EXPECT_EQ(r.teacher_forced_steps, 50u);
  EXPECT_GE(r.teacher_forced_top1, 0.95);
  EXPECT_EQ(r.teacher_forced_misses, r.teacher_forced_steps - uint64_t(std::lround(r.teacher_forced_top1 * 50)));
  // A miss is a near tie: the reference's own margin is below twice the logit error.
  EXPECT_LE(r.max_miss_margin, 2 * r.logits_max_abs);
  EXPECT_GT(r.logits_min_cosine, 0.999);
  EXPECT_GT(r.logits_max_abs, 0.0);  // bf16 rounding is visible: the comparison is not vacuous
  EXPECT_LT(r.logits_max_abs, 0.05);
}

// The hardware default (MXFP8 HBM, bf16 SRAMs) reports bounded, non-trivial errors.
TEST(Runner, TinyReferenceSmallReportsErrors) {
  const RunReport r = run_model(tiny("reference-small", 4, 3));
  EXPECT_GT(r.logits_max_abs, 1e-3);
  EXPECT_LT(r.logits_max_abs, 0.5);
  EXPECT_GT(r.logits_min_cosine, 0.97);
  EXPECT_GE(r.teacher_forced_top1, 0.3);
  // Deterministic: a second run gives the same tokens, cycles and instruction counts.
  const RunReport r2 = run_model(tiny("reference-small", 4, 3));
  EXPECT_EQ(r.generated, r2.generated);
  ASSERT_EQ(r.steps.size(), r2.steps.size());
  for (size_t i = 0; i < r.steps.size(); ++i) {
    EXPECT_EQ(r.steps[i].cycles, r2.steps[i].cycles);
    EXPECT_EQ(r.steps[i].executed, r2.steps[i].executed);
  }
}

// Calibrated DRAM fidelity on whole compiled steps (prefill + decode, in-order and decoupled):
// within 5% of the bank-level model's simulated time, same bytes and instructions.
TEST(Runner, CalibratedDramFidelityTracksBankLevel) {
  for (const char* hw : {"reference-small", "base = \"reference-small\"\n[timing]\nmode = \"decoupled\"\n"}) {
    SCOPED_TRACE(hw);
    RunOptions o = tiny(hw, 32, 4);
    o.timing_only = true;
    const RunReport bank = run_model(o);
    o.dram_fidelity = sim::DramFidelity::Calibrated;
    const RunReport cal = run_model(o);
    EXPECT_EQ(cal.dram, "hbm2 (calibrated)");
    EXPECT_EQ(cal.executed, bank.executed);
    EXPECT_EQ(cal.hbm_read_bytes, bank.hbm_read_bytes);
    EXPECT_NEAR(cal.ttft_s / bank.ttft_s, 1.0, 0.05);
    EXPECT_NEAR(cal.tpot_s / bank.tpot_s, 1.0, 0.05);
    EXPECT_NE(cal.steps[0].cycles, bank.steps[0].cycles);  // a different model, not the same path
  }
}

// Timing-only decode steps take the step before's timing only where it is proven identical
// (sim/step_reuse.hpp): the same results as simulating every step, in both timing modes, across a
// KV tile boundary (kv_len 64), with most decode steps reused.
TEST(Runner, StepReuseEqualsFullSimulation) {
  for (const char* hw : {"reference-small", "base = \"reference-small\"\n[timing]\nmode = \"decoupled\"\n"}) {
    SCOPED_TRACE(hw);
    RunOptions o = tiny(hw, 50, 30);
    o.timing_only = true;
    o.dram_fidelity = sim::DramFidelity::Calibrated;
    const RunReport reused = run_model(o);
    o.step_reuse = false;
    const RunReport full = run_model(o);
    ASSERT_EQ(reused.steps.size(), full.steps.size());
    for (size_t i = 0; i < full.steps.size(); ++i) {
      const StepReport &a = reused.steps[i], &b = full.steps[i];
      EXPECT_EQ(a.executed, b.executed) << "step " << i;
      EXPECT_EQ(a.cycles, b.cycles) << "step " << i;
      EXPECT_EQ(a.time_ps, b.time_ps) << "step " << i;
      EXPECT_EQ(a.hbm_read_bytes, b.hbm_read_bytes) << "step " << i;
      EXPECT_EQ(a.hbm_write_bytes, b.hbm_write_bytes) << "step " << i;
      EXPECT_FALSE(b.reused);
    }
    for (size_t u = 0; u < full.units.size(); ++u) EXPECT_EQ(reused.units[u].utilization, full.units[u].utilization);
    EXPECT_EQ(full.reused_steps, 0u);
    // Of 29 decode steps, simulated: the first two, those after the tile boundary or after a
    // BLEN = 4 key-block boundary of the last tile (attention multiplies only the S blocks that
    // hold keys, so the program changes there), and those whose KV-store rows (64 B elements + 8 B
    // scales here) split into a different number of 64-byte DRAM requests than the template's.
    EXPECT_GE(reused.reused_steps, 12u);
    EXPECT_FALSE(reused.steps[0].reused);
  }
}

// Within a step, layers that repeat the one before take its timing (sim::SegmentReuse): chunked
// prefill steps and the first decode step of a 30-layer model, identical to full simulation.
TEST(Runner, LayerReuseEqualsFullSimulation) {
  RunOptions o;
  o.model = "preset:smollm2-135m";
  o.hw = "base = \"reference-small\"\n[timing]\nmode = \"decoupled\"\n";
  o.prompt_len = 32;
  o.prefill_chunk = 16;
  o.gen = 2;
  o.timing_only = true;
  o.dram_fidelity = sim::DramFidelity::Calibrated;
  const RunReport reused = run_model(o);
  o.step_reuse = false;
  const RunReport full = run_model(o);
  ASSERT_EQ(reused.steps.size(), 3u);
  ASSERT_EQ(full.steps.size(), 3u);
  for (size_t i = 0; i < full.steps.size(); ++i) {
    const StepReport &a = reused.steps[i], &b = full.steps[i];
    EXPECT_EQ(a.executed, b.executed) << "step " << i;
    EXPECT_EQ(a.cycles, b.cycles) << "step " << i;
    EXPECT_EQ(a.hbm_read_bytes, b.hbm_read_bytes) << "step " << i;
    EXPECT_EQ(a.hbm_write_bytes, b.hbm_write_bytes) << "step " << i;
    EXPECT_GE(a.skipped_layers, 20u) << "step " << i;  // of 30: the first ones are simulated
    EXPECT_EQ(b.skipped_layers, 0u);
  }
  for (size_t u = 0; u < full.units.size(); ++u) {
    EXPECT_EQ(reused.units[u].utilization, full.units[u].utilization);
    EXPECT_EQ(reused.units[u].busy_cycles, full.units[u].busy_cycles);
  }
}

// Timing-only runs the same programs without data: same instruction counts and cycles.
TEST(Runner, TimingOnlyMatchesFunctionalTiming) {
  RunOptions o = tiny("reference-small", 6, 3);
  const RunReport f = run_model(o);
  o.timing_only = true;
  const RunReport t = run_model(o);
  EXPECT_TRUE(t.generated[0].empty());
  ASSERT_EQ(t.steps.size(), 3u);
  EXPECT_EQ(t.steps[0].executed, f.steps[0].executed);
  EXPECT_EQ(t.steps[0].cycles, f.steps[0].cycles);
  EXPECT_GT(t.ttft_s, 0);
  EXPECT_GT(t.tpot_s, 0);
  EXPECT_GT(t.hbm_read_bytes, 0u);
  EXPECT_GT(t.units[0].utilization, 0);  // matrix
}

TEST(Runner, UnsupportedModelsAreInputErrors) {
  RunOptions o = tiny("tiny-fp32", 2, 0);
  {
    // An odd head_dim has no rotate-half RoPE pairs (widths off the tiles are zero-padded instead).
    model::ModelConfig c = model::model_preset("tiny");
    c.head_dim = 31;
    const auto dir = temp_dir("unsupported");
    model::save_hf_model(dir, c, model::make_random_weights(c, 1), model::DType::F32);
    o.model = dir.string();
    EXPECT_THROW(run_model(o), InputError);
    std::filesystem::remove_all(dir);
  }
  o = tiny("tiny-fp32", 2, 0);
  o.prompt_ids = {{1, 2, 100000}};
  EXPECT_THROW(run_model(o), InputError);
  o = tiny("no-such-hw", 2, 0);
  EXPECT_THROW(run_model(o), InputError);
  EXPECT_THROW(parse_prompt_ids("1,x,3"), InputError);
  EXPECT_EQ(parse_prompt_ids("1,2,3"), (std::vector<std::vector<int64_t>>{{1, 2, 3}}));
}

// ---- architecture features: Qwen2 q/k/v bias, Qwen3 per-head q/k RMSNorm, LLaMA attention_bias ----

struct ArchVariant {
  std::string name;
  model::ModelConfig cfg;
  bool preset = false;              // run by preset name (else written to a temporary HF directory)
  model::ModelConfig without;       // the same model with the feature switched off (non-triviality)
};

std::vector<ArchVariant> arch_variants() {
  std::vector<ArchVariant> v;
  auto strip = [](model::ModelConfig c) {
    c.attention_bias = c.o_proj_bias = c.qk_norm = false;
    return c;
  };
  for (const char* p : {"tiny-qwen2", "tiny-qwen3"}) {
    model::ModelConfig c = model::model_preset(p);
    v.push_back({p, c, true, strip(c)});
  }
  model::ModelConfig llama = model::model_preset("tiny");
  llama.name = "tiny-llama-attention-bias";
  llama.attention_bias = llama.o_proj_bias = true;  // q/k/v and o_proj biases
  v.push_back({llama.name, llama, false, strip(llama)});
  model::ModelConfig q3 = model::model_preset("tiny-qwen3");
  q3.name = "tiny-qwen3-attention-bias";
  q3.attention_bias = q3.o_proj_bias = true;  // every feature at once
  v.push_back({q3.name, q3, false, strip(q3)});
  return v;
}

// Writes the variant's random weights as a HF directory unless it is a preset; returns the --model spec.
std::string model_spec(const ArchVariant& a, const std::filesystem::path& dir) {
  if (a.preset) return a.name;
  model::save_hf_model(dir, a.cfg, model::make_random_weights(a.cfg, 1), model::DType::F32);
  return dir.string();
}

// Largest |simulated - reference-without-the-feature| over the prefill's last-token logits.
double distance_without_feature(const ArchVariant& a, const RunReport& r, const std::filesystem::path& dumps) {
  const model::ModelWeights w = model::make_random_weights(a.cfg, 1);
  model::HostReference ref(a.without, w);
  model::KVCache cache = ref.new_cache();
  std::vector<model::TokenId> prompt(r.prompts[0].begin(), r.prompts[0].end());
  const model::Tensor plain = ref.forward(cache, prompt, false);
  const auto got = npy_load(dumps / "step0000_logits.npy").to_f32();
  EXPECT_EQ(got.size(), plain.data.size());
  double d = 0;
  for (size_t i = 0; i < std::min(got.size(), plain.data.size()); ++i)
    d = std::max(d, std::fabs(double(got[i]) - plain.data[i]));
  return d;
}

// fp32 hardware: every variant reproduces the reference's greedy tokens and logits, and the
// feature visibly matters (the reference without it is far from the simulated logits).
TEST(Runner, ArchFeaturesTinyFp32MatchReference) {
  for (const ArchVariant& a : arch_variants()) {
    SCOPED_TRACE(a.name);
    const auto dir = temp_dir("arch_" + a.name);
    RunOptions o = tiny("tiny-fp32", 4, 3);
    o.model = model_spec(a, dir / "model");
    o.dump_dir = dir / "dumps";
    const RunReport r = run_model(o);
    ASSERT_EQ(r.steps.size(), 3u);
    EXPECT_EQ(r.generated, r.ref_generated);
    EXPECT_EQ(r.greedy_match, 1.0);
    EXPECT_EQ(r.teacher_forced_top1, 1.0);
    EXPECT_LE(r.logits_max_abs, 1e-3);
    EXPECT_GT(r.logits_min_cosine, 0.9999);
    const double off = distance_without_feature(a, r, o.dump_dir);
    EXPECT_GT(off, 1e-2);
    EXPECT_GT(off, 100 * r.logits_max_abs);
    std::filesystem::remove_all(dir);
  }
}

// bf16 formats and SRAMs (reference-small, VLEN 64: two 32-wide heads per block for the q/k
// norm): bounded, non-trivial errors.
TEST(Runner, ArchFeaturesBf16BoundedErrors) {
  for (const ArchVariant& a : arch_variants()) {
    SCOPED_TRACE(a.name);
    const auto dir = temp_dir("arch_bf16_" + a.name);
    RunOptions o = tiny(
        "base = \"reference-small\"\n[formats]\nm_weight = \"bf16\"\nm_kv = \"bf16\"\nv_act = \"bf16\"\nv_kv = "
        "\"bf16\"\n",
        6, 4);
    o.model = model_spec(a, dir / "model");
    const RunReport r = run_model(o);
    EXPECT_GT(r.logits_max_abs, 0.0);
    EXPECT_LT(r.logits_max_abs, 0.05);
    EXPECT_GT(r.logits_min_cosine, 0.999);
    EXPECT_GE(r.teacher_forced_top1, 0.75);
    std::filesystem::remove_all(dir);
  }
}

// The HBM placement of the new parameters: k's and v's biases zero-padded to the cache row width.
TEST(Runner, BiasAndNormPlacement) {
  const config::HardwareConfig hw = config::preset("reference-small");
  model::ModelConfig m = model::model_preset("tiny-qwen3");
  m.attention_bias = m.o_proj_bias = true;
  compiler::ModelCompileOptions opt;
  opt.max_positions = 8;
  const compiler::ModelCompiler mc(hw, "reference-small", m, opt);
  const compiler::HbmManifest man = mc.manifest();
  const uint64_t kvw = mc.kv_layout().width, hd = uint64_t(m.head_dim), kvh = uint64_t(m.num_key_value_heads);
  EXPECT_EQ(man.tensor("layers.1.q_bias").cols, uint64_t(m.q_dim()));
  EXPECT_EQ(man.tensor("layers.1.o_bias").cols, uint64_t(m.hidden_size));
  EXPECT_EQ(man.tensor("layers.1.k_norm").cols, hd);
  EXPECT_EQ(man.tensor("layers.1.v_bias").cols, kvw);
  EXPECT_EQ(man.tensor("layers.1.q_norm").format, hw.formats.v_act);
  const model::ModelWeights w = model::make_random_weights(m, 3);
  const auto vb = mc.weight_data("layers.1.v_bias", w);
  const auto& hf = w.get("model.layers.1.self_attn.v_proj.bias").data;
  ASSERT_EQ(vb.size(), kvw);
  for (uint64_t j = 0; j < kvw; ++j) EXPECT_EQ(vb[j], j < kvh * hd ? hf[j] : 0.f) << j;
  const auto kb = mc.weight_data("layers.1.k_bias", w);
  for (size_t i = 0; i < kb.size(); ++i)
    EXPECT_EQ(kb[i], i < hf.size() ? w.get("model.layers.1.self_attn.k_proj.bias").data[i] : 0.f);
  EXPECT_EQ(mc.weight_data("layers.0.q_norm", w), w.get("model.layers.0.self_attn.q_norm.weight").data);
  // Without the features nothing is placed.
  const compiler::ModelCompiler plain(hw, "reference-small", model::model_preset("tiny"), opt);
  EXPECT_THROW((void)plain.manifest().tensor("layers.0.q_bias"), InputError);
}

// The HBM image streamed in row chunks from a bf16 checkpoint, read in place, is the whole-tensor
// image of the same weights converted to f32; the embedding / LM head table is never converted.
TEST(Runner, WeightRowsFromBf16CheckpointMatchWholeF32) {
  const config::HardwareConfig hw = config::preset("reference-small");
  for (bool tied : {true, false}) {
    model::ModelConfig m = model::model_preset("tiny");
    m.tie_word_embeddings = tied;
    const auto dir = temp_dir(fmt::format("weight_rows_{}", tied));
    model::save_hf_model(dir, m, model::make_random_weights(m, 4), model::DType::BF16);
    const model::LoadedModel lazy = model::load_hf_model(dir);
    model::ModelWeights eager;
    for (auto& [name, t] : model::load_safetensors(dir / "model.safetensors")) eager.set(name, std::move(t));
    compiler::ModelCompileOptions opt;
    opt.max_positions = 8;
    const compiler::ModelCompiler mc(hw, "reference-small", lazy.config, opt);
    std::vector<float> staging;
    for (const auto& name : mc.weight_tensors()) {
      const std::vector<float> whole = mc.weight_data(name, eager);
      const uint64_t rows = mc.manifest().tensor(name).rows;
      std::vector<float> parts;
      for (uint64_t r = 0; r < rows; r += 3) {
        const auto v = mc.weight_rows(name, lazy.weights, r, std::min<uint64_t>(3, rows - r), staging);
        parts.insert(parts.end(), v.begin(), v.end());
      }
      EXPECT_EQ(parts, whole) << name;
    }
    EXPECT_FALSE(lazy.weights.converted("model.embed_tokens.weight"));
    if (!tied) {
      EXPECT_FALSE(lazy.weights.converted("lm_head.weight"));
    }
    EXPECT_THROW((void)mc.weight_rows("lm_head", lazy.weights, 1, uint64_t(m.hidden_size), staging), std::logic_error);
    std::filesystem::remove_all(dir);
  }
}

// plena compile's run spec replays the prefill through `plena sim` machinery: same logits bits
// as the run's first step.
TEST(Runner, CompiledRunSpecReplaysPrefill) {
  const auto dir = temp_dir("compile");
  CompileOptions c;
  c.hw = "reference-small";
  c.prompt_len = 5;
  c.out_dir = dir;
  compile_model(c);
  for (const char* f : {"prefill.asm", "prefill.mem", "manifest.json", "hbm.bin", "run.toml"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  sim::RunSpec spec = sim::load_run_spec(dir / "run.toml");
  sim::SimOptions so;
  so.expected_config_hash = spec.expected_config_hash;
  sim::Simulator s(spec.hw, so);
  sim::apply_preloads(spec, s);
  s.run(sim::load_program(spec.program));
  sim::write_dumps(spec, s, dir);
  const auto vram = npy_load(dir / "logits_vram.npy").to_f32();

  RunOptions o = tiny("reference-small", 5, 0);
  o.dump_dir = dir / "run";
  run_model(o);
  const auto want = npy_load(o.dump_dir / "step0000_logits.npy").to_f32();
  const size_t vlen = 64, blocks = want.size() / vlen, rows_alloc = vram.size() / vlen / blocks;
  ASSERT_EQ(want.size(), 512u);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(vram[(i / vlen) * rows_alloc * vlen + i % vlen], want[i]) << i;
  std::filesystem::remove_all(dir);
}

// The CLI: `plena run` prints the agreement line and exits 0; bad flags exit 1.
TEST(Runner, CliSmoke) {
  const std::string plena = std::string(PLENA_BINARY_DIR) + "/plena";
  const auto dir = temp_dir("cli");
  const std::string out = (dir / "out.txt").string(), json = (dir / "r.json").string();
  ASSERT_EQ(std::system((plena + " run --hw tiny-fp32 --prompt-ids 1,2,3 --gen 2 --no-progress --json " + json + " > " +
                         out + " 2>&1").c_str()),
            0);
  const std::string text = read_text_file(out);
  EXPECT_NE(text.find("agreement    vs the fp32 reference: greedy 100.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("TTFT"), std::string::npos);
  EXPECT_NE(read_text_file(json).find("\"teacher_forced_top1\": 1.0"), std::string::npos);
  const int rc = std::system((plena + " run --prompt-ids 1,x > " + out + " 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::filesystem::remove_all(dir);
}


// --stats-dir / --trace-dir: one statistics file and one streamed trace per step; the statistics
// are the step's own (cycles as reported), the trace holds exactly the window's instructions.
TEST(Runner, PerStepStatsAndTraces) {
  const auto dir = temp_dir("steps");
  RunOptions o = tiny("reference-small", 4, 3);
  o.timing_only = true;
  o.stats_dir = dir / "stats";
  o.trace_dir = dir / "trace";
  o.trace_first = 50;
  o.trace_last = 250;
  const RunReport r = run_model(o);
  ASSERT_EQ(r.steps.size(), 3u);
  for (size_t s = 0; s < r.steps.size(); ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "step%04zu", s);
    const auto stats = nlohmann::json::parse(read_text_file(o.stats_dir / (std::string(name) + ".stats.json")));
    EXPECT_EQ(stats.at("cycles").get<uint64_t>(), r.steps[s].cycles) << name;
    const auto trace = nlohmann::json::parse(read_text_file(o.trace_dir / (std::string(name) + ".trace.json")));
    std::set<uint64_t> seqs;
    for (const auto& e : trace.at("traceEvents"))
      if (e.value("ph", "") == "X") seqs.insert(e.at("args").at("seq").get<uint64_t>());
    ASSERT_EQ(seqs.size(), 200u) << name;
    EXPECT_EQ(*seqs.begin(), 50u);
    EXPECT_EQ(*seqs.rbegin(), 249u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace plena::runner

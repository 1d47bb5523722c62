// Per-layer residual-stream dumps (`plena run --dump-hidden`): the simulator's x after the
// embedding and after every layer, observed at the compiler's stage-boundary pcs, against the
// host reference's capture of the same stages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "runner/runner.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

constexpr uint64_t kHidden = 256, kStages = 3;  // the tiny preset: hidden 256, 2 layers

const char* kBf16 =
    "base = \"reference-small\"\n[formats]\nm_weight = \"bf16\"\nm_kv = \"bf16\"\nv_act = \"bf16\"\nv_kv = \"bf16\"\n";

RunOptions tiny_hidden(const std::string& hw, const std::string& dir_name, uint64_t prompt_len, uint64_t gen,
                       uint64_t batch) {
  RunOptions o;
  o.model = "tiny";
  o.hw = hw;
  o.prompt_len = prompt_len;
  o.gen = gen;
  o.batch = batch;
  o.dump_hidden_layers = true;
  o.dump_dir = std::filesystem::temp_directory_path() / ("plena_hidden_" + dir_name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(o.dump_dir);
  return o;
}

std::string step_file(int s, const char* what) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "step%04d_%s.npy", s, what);
  return buf;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

// The compiler's checkpoints: one per stage, increasing, inside the program, and no instruction
// is added for them (the same program as a plain compile, which has no other mode anyway).
TEST(RunnerHidden, CheckpointsAreOrderedTopLevelPcs) {
  const config::HardwareConfig hw = config::preset("tiny-fp32");
  compiler::ModelCompileOptions mo;
  mo.batch = 2;
  mo.max_positions = 8;
  const compiler::ModelCompiler mc(hw, "tiny-fp32", model::model_preset("tiny"), mo);
  for (uint64_t T : {4u, 1u}) {
    const compiler::CompiledStep st = mc.compile_step({std::vector<int64_t>(T, 3), std::vector<int64_t>(T, 5)}, 0);
    ASSERT_EQ(st.residual_pcs.size(), kStages);
    EXPECT_EQ(st.residual.rows, 2 * T);
    EXPECT_EQ(st.residual.cols, kHidden);
    for (size_t i = 0; i < st.residual_pcs.size(); ++i) {
      EXPECT_GT(st.residual_pcs[i], i ? st.residual_pcs[i - 1] : 0u);
      EXPECT_LT(st.residual_pcs[i], st.program.instrs.size());
    }
    // Outside every hardware loop: the loop nesting depth just before each checkpoint is 0.
    int depth = 0;
    size_t next = 0;
    for (size_t pc = 0; pc < st.program.instrs.size() && next < st.residual_pcs.size(); ++pc) {
      if (pc == st.residual_pcs[next]) {
        EXPECT_EQ(depth, 0) << "checkpoint " << next;
        ++next;
      }
      if (st.program.instrs[pc].op == isa::Opcode::C_LOOP_START) ++depth;
      if (st.program.instrs[pc].op == isa::Opcode::C_LOOP_END) --depth;
    }
    EXPECT_EQ(next, st.residual_pcs.size());
  }
}

// fp32: every stage's last-token residual equals the reference within 1e-4; the stages are
// non-trivial (non-zero, each layer changes x); files have shape [stages, batch, hidden].
TEST(RunnerHidden, TinyFp32LayersMatchReference) {
  const RunOptions o = tiny_hidden("tiny-fp32", "fp32", 4, 3, 2);
  const RunReport r = run_model(o);
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.generated, r.ref_generated);
  for (int s = 0; s < 3; ++s) {
    SCOPED_TRACE(s);
    const NpyArray sim_a = npy_load(o.dump_dir / step_file(s, "hidden_layers"));
    const NpyArray ref_a = npy_load(o.dump_dir / step_file(s, "ref_hidden_layers"));
    EXPECT_EQ(sim_a.dtype, "f4");
    EXPECT_EQ(sim_a.shape, (std::vector<size_t>{kStages, 2, kHidden}));
    EXPECT_EQ(ref_a.shape, sim_a.shape);
    const auto sim = sim_a.to_f32(), ref = ref_a.to_f32();
    const size_t stage = 2 * kHidden;
    EXPECT_LE(max_abs_diff(sim.data(), ref.data(), sim.size()), 1e-4);
    for (size_t st = 0; st < kStages; ++st) {
      double energy = 0;
      for (size_t i = 0; i < stage; ++i) energy += double(ref[st * stage + i]) * ref[st * stage + i];
      EXPECT_GT(energy, 1e-3) << "stage " << st;
      if (st) {
        EXPECT_GT(max_abs_diff(&ref[st * stage], &ref[(st - 1) * stage], stage), 1e-3) << "stage " << st;
      }
    }
    // The two sequences have different prompts, so their rows differ.
    EXPECT_GT(max_abs_diff(&ref[0], &ref[kHidden], kHidden), 1e-3);
    ASSERT_EQ(r.steps[size_t(s)].hidden_layers.size(), kStages);
    for (const auto& h : r.steps[size_t(s)].hidden_layers) {
      EXPECT_LE(h.max_abs, 1e-4) << h.stage;
      EXPECT_GT(h.cosine, 0.99999) << h.stage;
      EXPECT_GT(h.ref_rms, 0) << h.stage;
    }
  }
  EXPECT_EQ(r.steps[0].hidden_layers[0].stage, "embed");
  EXPECT_EQ(r.steps[0].hidden_layers[2].stage, "layer 1");
  EXPECT_NE(r.to_text().find("hidden       residual stream"), std::string::npos);
  EXPECT_NE(r.to_json().find("\"hidden_layers\""), std::string::npos);
  std::filesystem::remove_all(o.dump_dir);
}

// Hardware loops vs unrolled: different pcs, the same arithmetic, so bit-identical dumps (a
// checkpoint taken inside a loop or at the wrong iteration would differ).
TEST(RunnerHidden, UnrolledLoopsGiveIdenticalDumps) {
  RunOptions hwl = tiny_hidden("reference-small", "hwloop", 3, 2, 1);
  RunOptions unr = tiny_hidden("reference-small", "unroll", 3, 2, 1);
  unr.loops = compiler::LoopPolicy::unroll();
  const RunReport a = run_model(hwl), b = run_model(unr);
  EXPECT_LT(a.steps[0].program_words, b.steps[0].program_words);  // the loops really differ
  for (int s = 0; s < 2; ++s) {
    const auto x = npy_load(hwl.dump_dir / step_file(s, "hidden_layers")).to_f32();
    const auto y = npy_load(unr.dump_dir / step_file(s, "hidden_layers")).to_f32();
    ASSERT_EQ(x.size(), kStages * kHidden);
    EXPECT_EQ(x, y) << "step " << s;
  }
  std::filesystem::remove_all(hwl.dump_dir);
  std::filesystem::remove_all(unr.dump_dir);
}

// bf16 activations and weights: visible, bounded errors; the last layer's error is at least the
// embedding's (quantization error accumulates through the residual stream).
TEST(RunnerHidden, TinyBf16ErrorsBoundedAndAccumulate) {
  const RunOptions o = tiny_hidden(kBf16, "bf16", 8, 3, 2);
  const RunReport r = run_model(o);
  for (const auto& st : r.steps) {
    ASSERT_EQ(st.hidden_layers.size(), kStages);
    for (const auto& h : st.hidden_layers) {
      EXPECT_LT(h.max_abs, 0.05 * std::max(1.0, h.ref_rms)) << h.stage;
      EXPECT_GT(h.cosine, 0.999) << h.stage;
    }
    EXPECT_GT(st.hidden_layers.back().max_abs, 0.0);  // bf16 rounding is visible
    EXPECT_GE(st.hidden_layers.back().max_abs, st.hidden_layers.front().max_abs);
  }
  std::filesystem::remove_all(o.dump_dir);
}

// The observer only reads: tokens, cycles, instruction counts and HBM traffic are unchanged.
TEST(RunnerHidden, FlagDoesNotChangeTheRun) {
  RunOptions with = tiny_hidden("reference-small", "same", 4, 3, 2);
  RunOptions without = with;
  without.dump_hidden_layers = false;
  without.dump_dir.clear();
  const RunReport a = run_model(with), b = run_model(without);
  EXPECT_EQ(a.generated, b.generated);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].program_words, b.steps[i].program_words);
    EXPECT_EQ(a.steps[i].executed, b.steps[i].executed);
    EXPECT_EQ(a.steps[i].cycles, b.steps[i].cycles);
    EXPECT_EQ(a.steps[i].time_ps, b.steps[i].time_ps);
    EXPECT_EQ(a.steps[i].hbm_read_bytes, b.steps[i].hbm_read_bytes);
    EXPECT_EQ(a.steps[i].sim_tokens, b.steps[i].sim_tokens);
    EXPECT_EQ(a.steps[i].agreement.size(), b.steps[i].agreement.size());
    EXPECT_EQ(a.steps[i].agreement[0].max_abs, b.steps[i].agreement[0].max_abs);
    EXPECT_TRUE(b.steps[i].hidden_layers.empty());
  }
  std::filesystem::remove_all(with.dump_dir);
}

TEST(RunnerHidden, NeedsDumpDirAndData) {
  RunOptions o = tiny_hidden("tiny-fp32", "err", 2, 0, 1);
  o.dump_dir.clear();
  EXPECT_THROW(run_model(o), InputError);
  o = tiny_hidden("tiny-fp32", "err", 2, 0, 1);
  o.timing_only = true;
  EXPECT_THROW(run_model(o), InputError);
  std::filesystem::remove_all(o.dump_dir);
}

TEST(RunnerHidden, Cli) {
  const std::string plena = std::string(PLENA_BINARY_DIR) + "/plena";
  const RunOptions o = tiny_hidden("tiny-fp32", "cli", 2, 2, 1);
  std::filesystem::create_directories(o.dump_dir);
  const std::string out = (o.dump_dir / "out.txt").string(), dumps = (o.dump_dir / "d").string();
  ASSERT_EQ(std::system((plena + " run --hw tiny-fp32 --prompt-ids 1,2 --gen 2 --no-progress --dump-hidden --dump-dir " +
                         dumps + " > " + out + " 2>&1")
                            .c_str()),
            0)
      << read_text_file(out);
  const std::string text = read_text_file(out);
  EXPECT_NE(text.find("hidden       residual stream"), std::string::npos) << text;
  EXPECT_NE(text.find("layer 1"), std::string::npos) << text;
  EXPECT_EQ(npy_load(std::filesystem::path(dumps) / "step0001_hidden_layers.npy").shape,
            (std::vector<size_t>{kStages, 1, kHidden}));
  const int rc = std::system((plena + " run --hw tiny-fp32 --prompt-ids 1,2 --dump-hidden > " + out + " 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  EXPECT_NE(read_text_file(out).find("--dump-dir"), std::string::npos);
  std::filesystem::remove_all(o.dump_dir);
}


// Without the assembly text (what `plena run` asks for) the step is the same program; the RoPE
// swap image is built once and shared by every step.
TEST(RunnerHidden, StepsWithoutAssemblyAreTheSameProgram) {
  const config::HardwareConfig hw = config::preset("reference-small");  // head_dim <= VLEN: a swap tensor
  compiler::ModelCompileOptions mo;
  mo.batch = 1;
  mo.max_positions = 8;
  const compiler::ModelCompiler with_text(hw, "reference-small", model::model_preset("tiny"), mo);
  mo.assembly = false;
  const compiler::ModelCompiler without(hw, "reference-small", model::model_preset("tiny"), mo);
  const compiler::CompiledStep a = with_text.compile_step({{1, 2, 3}}, 0);
  const compiler::CompiledStep b = without.compile_step({{1, 2, 3}}, 0);
  const compiler::CompiledStep c = without.compile_step({{4}}, 3);
  EXPECT_FALSE(a.program.assembly.empty());
  EXPECT_TRUE(b.program.assembly.empty());
  EXPECT_EQ(a.program.words, b.program.words);
  ASSERT_EQ(b.hbm_inits.size(), 1u);
  ASSERT_EQ(c.hbm_inits.size(), 1u);
  EXPECT_EQ(b.hbm_inits[0].data.get(), c.hbm_inits[0].data.get());
  EXPECT_EQ(*a.hbm_inits[0].data, *b.hbm_inits[0].data);
}


// A compiled step runs the same from its instructions (no encode/decode) as from its words:
// executed count, cycles and the logits it leaves in VRAM.
TEST(RunnerHidden, DecodedProgramRunsLikeItsWords) {
  const config::HardwareConfig hw = config::preset("tiny-fp32");
  compiler::ModelCompileOptions mo;
  mo.batch = 1;
  mo.max_positions = 8;
  mo.assembly = false;
  const compiler::ModelCompiler mc(hw, "tiny-fp32", model::model_preset("tiny"), mo);
  const compiler::CompiledStep st = mc.compile_step({{1, 2, 3}}, 0);
  sim::SimOptions so;
  so.expected_config_hash = config::canonical_hash(hw);
  sim::Simulator from_words(hw, so), from_instrs(hw, so);
  const sim::SimResult a = from_words.run(st.program.words);
  const sim::SimResult b = from_instrs.run(std::span<const isa::Instr>(st.program.instrs));
  EXPECT_GT(a.executed, 1000u);
  EXPECT_EQ(a.executed, b.executed);
  EXPECT_EQ(a.timing.cycles, b.timing.cycles);
  // No weights are loaded (NaNs): compare the bits. The runner tests cover the values (fp32-exact).
  const uint64_t n = st.logits.cols;
  const std::vector<float> x = from_words.machine().read_vram(st.logits.address(0, 0), n);
  const std::vector<float> y = from_instrs.machine().read_vram(st.logits.address(0, 0), n);
  ASSERT_EQ(x.size(), y.size());
  EXPECT_EQ(std::memcmp(x.data(), y.data(), n * sizeof(float)), 0);
}

}  // namespace
}  // namespace plena::runner

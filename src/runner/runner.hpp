// Public header of the runner module: the end-to-end host loop of `plena run` (compile a model
// step by step, simulate prefill then decode with the KV cache in HBM, compare with the host fp32
// reference) and `plena compile` (write a step's program, manifest and HBM image). docs/run.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "compiler/builder.hpp"
#include "model/model.hpp"
#include "sim/timing.hpp"

namespace plena::runner {

struct RunOptions {
  std::string model = "tiny";          // model preset name or a Hugging Face model directory
  std::string hw = "reference-small";  // hardware preset, TOML file or inline TOML
  uint64_t prompt_len = 4;             // used when prompt_ids is empty
  std::vector<int64_t> prompt_ids;     // one prompt, used for every sequence of the batch
  uint64_t gen = 4;                    // decode steps after the prefill (gen + 1 generated tokens)
  uint64_t batch = 1;
  uint64_t seed = 1;                   // random weights of a preset and the random prompt
  bool timing_only = false;            // no weights, no data: timing of full-size models
  bool teacher_force = false;          // feed the simulator the reference's tokens instead of its own
  compiler::LoopPolicy loops = compiler::LoopPolicy::hardware();
  // DMA streams are cut into DRAM requests of this many bytes (power of two; 0: the timing
  // model's default, 64 B). Larger values make full-size timing runs cheaper to simulate.
  uint32_t dma_request_bytes = 0;
  sim::DramFidelity dram_fidelity = sim::DramFidelity::Bank;  // calibrated: fast full-size timing
  std::filesystem::path dump_dir;      // non-empty: per-step logits (.npy) are written here
  // Also dump the residual stream after the embedding and after every layer (each sequence's
  // last token, simulated and reference) and report per-layer errors. Needs dump_dir and data
  // (not timing_only). Observes the simulator per instruction, so it costs host time only when set.
  bool dump_hidden_layers = false;
  // Called after each simulated step (step index, total steps): progress display.
  std::function<void(size_t, size_t)> progress;
};

struct Agreement {
  double max_abs = 0, mean_abs = 0, cosine = 0;
  bool top1 = false;
  // How close a miss was, in the reference's own logits: ref[ref top-1] - ref[simulator's top-1]
  // (0 when top-1 agrees). A miss with a margin below the logit error is a near tie, not a bug.
  double miss_margin = 0;
};

// Simulated vs reference residual stream at one stage (the embedding or a layer's output), over
// the last token of every sequence: the largest abs error and the smallest per-sequence cosine.
struct HiddenAgreement {
  std::string stage;  // "embed" | "layer 0" ...
  double max_abs = 0, cosine = 0;
  double ref_rms = 0;  // RMS of the reference rows: the scale the error compares against
};

struct StepReport {
  std::string kind;  // "prefill" | "decode"
  uint64_t past = 0, q_len = 0;
  uint64_t program_words = 0, executed = 0;
  uint64_t time_ps = 0, cycles = 0;
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  double host_seconds = 0, compile_seconds = 0;
  std::vector<int64_t> sim_tokens;  // argmax of the simulated logits per sequence
  std::vector<int64_t> ref_tokens;  // argmax of the reference logits on the same context
  std::vector<Agreement> agreement; // per sequence (empty in timing-only runs)
  std::vector<HiddenAgreement> hidden_layers;  // per stage; only with RunOptions::dump_hidden_layers
};

struct UnitUtilization {
  std::string unit;
  uint64_t busy_cycles = 0;
  double utilization = 0;  // busy cycles / total simulated cycles
};

struct RunReport {
  std::string model, hw, hw_hash;
  std::string dram = "bank";  // DRAM preset and fidelity, e.g. "hbm2 (bank)"
  bool timing_only = false, teacher_force = false;
  uint64_t batch = 1, prompt_len = 0, gen = 0;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> generated;      // simulator tokens per sequence
  std::vector<std::vector<int64_t>> ref_generated;  // host reference greedy tokens per sequence
  std::vector<StepReport> steps;
  // Agreement: free-running greedy (simulated ids == reference greedy ids, position by position)
  // and teacher-forced (per step, both on the same context: top-1 equal).
  double greedy_match = 0, teacher_forced_top1 = 0;
  uint64_t teacher_forced_steps = 0, teacher_forced_misses = 0;  // (sequence, step) comparisons
  double max_miss_margin = 0;  // largest Agreement::miss_margin over all misses
  double logits_max_abs = 0, logits_mean_abs = 0, logits_min_cosine = 1;
  double ttft_s = 0, tpot_s = 0, tokens_per_s = 0;
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  double hbm_gbps = 0;
  std::vector<UnitUtilization> units;
  double host_seconds = 0, sim_instr_per_s = 0;
  double wall_seconds = 0;  // host wall time of the whole run (compile + simulate + reference)
  uint64_t executed = 0;

  std::string to_text() const;
  std::string to_json() const;
};

RunReport run_model(const RunOptions& opt);

// Parses "1,2,3" or a .npy file of integer ids (InputError naming the input otherwise).
std::vector<int64_t> parse_prompt_ids(const std::string& spec);

struct CompileOptions {
  std::string model = "tiny";
  std::string hw = "reference-small";
  uint64_t prompt_len = 4;
  std::vector<int64_t> prompt_ids;
  uint64_t gen = 0;  // KV capacity for this many decode steps after the prompt
  uint64_t batch = 1;
  uint64_t seed = 1;
  bool weights = true;  // write hbm.bin with the weights (false: layout only)
  compiler::LoopPolicy loops = compiler::LoopPolicy::hardware();
  std::filesystem::path out_dir;
};
// Writes out_dir/prefill.{asm,mem}, manifest.json (the prefill step's placement: weights, KV
// caches, RoPE tables), hbm.bin (sparse image, see docs/run.md), fp_sram.npy, int_sram.npy and
// vram_init.npy/json; returns the written paths.
std::vector<std::filesystem::path> compile_model(const CompileOptions& opt);

}  // namespace plena::runner

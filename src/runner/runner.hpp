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
#include "support/json_fields.hpp"

namespace plena::runner {

// Each report struct below has its JSON field list next to it (support/json_fields.hpp); the
// static_asserts fail when a member is missing from its list.
using report_json::field;
using report_json::field_unless_empty;
using report_json::to_json;

struct RunOptions {
  std::string model = "preset:tiny";   // --model: preset or checkpoint (model/source.hpp)
  std::string hw = "reference-small";  // hardware preset, TOML file or inline TOML
  uint64_t prompt_len = 4;             // used when prompt_ids is empty
  // Explicit prompts: one (used for every sequence of the batch) or exactly `batch`, of equal length.
  std::vector<std::vector<int64_t>> prompt_ids;
  // New tokens per sequence, as Hugging Face's max_new_tokens: the prefill gives the first, then
  // gen - 1 decode steps. 0 runs the prefill alone (logits compared, TTFT) and generates nothing.
  uint64_t gen = 4;
  uint64_t batch = 1;
  // Prompt tokens per prefill step at most (compiler::ModelCompileOptions::max_prefill_chunk);
  // 0: automatic, the largest chunk that fits the on-chip memories.
  uint64_t prefill_chunk = 0;
  uint64_t seed = 1;                   // random weights of a preset and the random prompt
  bool timing_only = false;            // no weights, no data: timing of full-size models
  // Timing-only: a step whose program differs from the last simulated one's only in values its
  // timing provably does not depend on takes that step's result (sim/step_reuse.hpp).
  bool step_reuse = true;
  bool teacher_force = false;          // feed the simulator the reference's tokens instead of its own
  compiler::LoopPolicy loops = compiler::LoopPolicy::hardware();
  // DMA streams are cut into DRAM requests of this many bytes (power of two; 0: the timing
  // model's default, 64 B). Larger values make full-size timing runs cheaper to simulate.
  uint32_t dma_request_bytes = 0;
  sim::DramFidelity dram_fidelity = sim::DramFidelity::Bank;  // calibrated: fast full-size timing
  std::filesystem::path dump_dir;      // non-empty: per-step logits (.npy) are written here
  // Non-empty: each step's timing statistics (stepNNNN.stats.json, as `plena sim --stats`) and
  // Perfetto trace (stepNNNN.trace.json, streamed: bounded memory) are written here. The trace
  // keeps the executed instructions [trace_first, trace_last) of every step.
  std::filesystem::path stats_dir, trace_dir;
  uint64_t trace_first = 0, trace_last = ~uint64_t{0};
  // Also dump the residual stream after the embedding and after every layer (each sequence's
  // last token, simulated and reference) and report per-layer errors. Needs dump_dir and data
  // (not timing_only). Observes the simulator per instruction, so it costs host time only when set.
  bool dump_hidden_layers = false;
  // Called after each simulated step (step index, total steps): progress display.
  std::function<void(size_t, size_t)> progress;
  // A system of `devices` PLENA devices, tensor parallel tp x pipeline parallel pp (both 0: the
  // split `plena estimate` finds fastest; one 0: devices / the other), joined by links of
  // link_gbps GB/s and link_latency_us per message. More than one device: timing-only; each
  // distinct shard program is simulated once and the collectives are charged on the link model
  // (docs/run.md "Multi-device runs").
  uint32_t devices = 1, tp = 0, pp = 0;
  double link_gbps = 100, link_latency_us = 1;
};

struct Agreement {
  double max_abs = 0, mean_abs = 0, cosine = 0;
  bool top1 = false;
  // How close a miss was, in the reference's own logits: ref[ref top-1] - ref[simulator's top-1]
  // (0 when top-1 agrees). A miss with a margin below the logit error is a near tie, not a bug.
  double miss_margin = 0;
};
constexpr auto json_fields(std::type_identity<Agreement>) {
  using A = Agreement;
  return std::tuple{field("max_abs", &A::max_abs), field("mean_abs", &A::mean_abs), field("cosine", &A::cosine),
                    field("top1", &A::top1), field("miss_margin", &A::miss_margin)};
}
static_assert(report_json::lists_every_member<Agreement>());

// Simulated vs reference residual stream at one stage (the embedding or a layer's output), over
// the last token of every sequence: the largest abs error and the smallest per-sequence cosine.
struct HiddenAgreement {
  std::string stage;  // "embed" | "layer 0" ...
  double max_abs = 0, cosine = 0;
  double ref_rms = 0;  // RMS of the reference rows: the scale the error compares against
};
constexpr auto json_fields(std::type_identity<HiddenAgreement>) {
  using H = HiddenAgreement;
  return std::tuple{field("stage", &H::stage), field("max_abs", &H::max_abs), field("ref_rms", &H::ref_rms),
                    field("cosine", &H::cosine)};
}
static_assert(report_json::lists_every_member<HiddenAgreement>());

// Energy from the simulated activity x the PPA tables (ppa::EnergyModel, docs/ppa.md); a step's
// or the whole run's, all devices.
struct RunEnergy {
  double total_j = 0;
  double matrix_j = 0, vector_j = 0, scalar_j = 0, sram_j = 0, control_j = 0, dma_j = 0, dram_j = 0, link_j = 0;
  double leakage_j = 0;
  static RunEnergy from(const ppa::Energy& e);
  ppa::Energy parts() const;
  RunEnergy& add(const RunEnergy& o, double times = 1.0);
};
constexpr auto json_fields(std::type_identity<RunEnergy>) {
  using E = RunEnergy;
  return std::tuple{field("total_j", &E::total_j), field("matrix_j", &E::matrix_j),   field("vector_j", &E::vector_j),
                    field("scalar_j", &E::scalar_j), field("sram_j", &E::sram_j),       field("control_j", &E::control_j),
                    field("dma_j", &E::dma_j),       field("dram_j", &E::dram_j),       field("link_j", &E::link_j),
                    field("leakage_j", &E::leakage_j)};
}
static_assert(report_json::lists_every_member<RunEnergy>());

// HBM traffic of one memory pool ([memory.<pool>], docs/memory.md); reported only with pools.
struct PoolReport {
  std::string name, dram;
  uint64_t read_bytes = 0, write_bytes = 0, transfers = 0;
};
constexpr auto json_fields(std::type_identity<PoolReport>) {
  using P = PoolReport;
  return std::tuple{field("name", &P::name), field("dram", &P::dram), field("read_bytes", &P::read_bytes),
                    field("write_bytes", &P::write_bytes), field("transfers", &P::transfers)};
}
static_assert(report_json::lists_every_member<PoolReport>());

struct StepReport {
  std::string kind;  // "prefill" | "decode"
  uint64_t past = 0, q_len = 0;
  uint64_t program_words = 0, executed = 0;
  uint64_t time_ps = 0, cycles = 0;
  uint64_t collective_ps = 0;  // multi-device: the step's all-reduces and pipeline hand-offs (in time_ps)
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  double host_seconds = 0;     // host time simulating the step
  double compile_seconds = 0;  // host time compiling the step
  bool reused = false;         // timing reused from the last simulated step (proven identical)
  uint64_t skipped_layers = 0; // layers whose timing was proven to repeat the layer before (sim::SegmentReuse)
  RunEnergy energy;
  std::vector<int64_t> sim_tokens;  // argmax of the simulated logits per sequence
  std::vector<int64_t> ref_tokens;  // argmax of the reference logits on the same context
  std::vector<Agreement> agreement; // per sequence (empty in timing-only runs)
  std::vector<HiddenAgreement> hidden_layers;  // per stage; only with RunOptions::dump_hidden_layers
  std::vector<PoolReport> pools;  // per memory pool; only with [memory.<pool>] tables
};
constexpr auto json_fields(std::type_identity<StepReport>) {
  using S = StepReport;
  return std::tuple{field("kind", &S::kind), field("past", &S::past), field("q_len", &S::q_len),
                    field("program_words", &S::program_words), field("executed", &S::executed),
                    field("time_ps", &S::time_ps), field("cycles", &S::cycles),
                    field("collective_ps", &S::collective_ps),
                    field("hbm_read_bytes", &S::hbm_read_bytes), field("hbm_write_bytes", &S::hbm_write_bytes),
                    field("host_s", &S::host_seconds), field("compile_s", &S::compile_seconds),
                    field("reused", &S::reused), field("skipped_layers", &S::skipped_layers),
                    field("energy", &S::energy),
                    field("sim_tokens", &S::sim_tokens), field("ref_tokens", &S::ref_tokens),
                    field("agreement", &S::agreement), field_unless_empty("hidden_layers", &S::hidden_layers),
                    field_unless_empty("pools", &S::pools)};
}
static_assert(report_json::lists_every_member<StepReport>());

// The number formats a run applies (names as in the hardware TOML, numerics::Format::name()).
struct RunFormats {
  std::string weights;      // linear weights and LM head in HBM: formats.m_weight
  std::string vectors;      // embedding table, norm weights, biases in HBM: formats.v_act
  std::string kv;           // KV cache in HBM: formats.m_kv (= v_kv)
  std::string activations;  // on-chip activations: sram.vector_type
  std::string matrix_sram, fp_sram;
  std::string checkpoint;   // where the weights come from and their dtype
  std::string label;        // short summary for the verdict line, e.g. "MXFP8 (plena-hw-mxfp:fp8_e4m3:b8) weights"
};
constexpr auto json_fields(std::type_identity<RunFormats>) {
  using F = RunFormats;
  return std::tuple{field("weights", &F::weights),         field("vectors", &F::vectors),
                    field("kv", &F::kv),                   field("activations", &F::activations),
                    field("matrix_sram", &F::matrix_sram), field("fp_sram", &F::fp_sram),
                    field("checkpoint", &F::checkpoint),   field("label", &F::label)};
}
static_assert(report_json::lists_every_member<RunFormats>());

// The simulator's agreement judged against what the formats are expected to give: the host
// reference run with the same quantization (docs/run.md "Verdict").
struct Verdict {
  std::string status = "not applicable";  // "consistent" | "inconsistent" | "not applicable"
  std::string reason;
  // Quantized host reference vs fp32 host reference: the effect of the formats alone.
  double quant_max_abs = 0, quant_min_cosine = 1, quant_top1 = 1, quant_greedy_match = 1;
  // Simulator vs quantized host reference: what the emulation does not explain.
  double sim_vs_quant_max_abs = 0, sim_vs_quant_min_cosine = 1, sim_vs_quant_top1 = 1, sim_vs_quant_miss_margin = 0;
  // Effect of the on-chip (activation) rounding alone: quantized reference with vs without it.
  double onchip_max_abs = 0;
  double bound = 0;  // largest |simulator - quantized reference| logit error that counts as consistent
};
constexpr auto json_fields(std::type_identity<Verdict>) {
  using V = Verdict;
  return std::tuple{field("status", &V::status),
                    field("reason", &V::reason),
                    field("quant_max_abs", &V::quant_max_abs),
                    field("quant_min_cosine", &V::quant_min_cosine),
                    field("quant_top1", &V::quant_top1),
                    field("quant_greedy_match", &V::quant_greedy_match),
                    field("sim_vs_quant_max_abs", &V::sim_vs_quant_max_abs),
                    field("sim_vs_quant_min_cosine", &V::sim_vs_quant_min_cosine),
                    field("sim_vs_quant_top1", &V::sim_vs_quant_top1),
                    field("sim_vs_quant_miss_margin", &V::sim_vs_quant_miss_margin),
                    field("onchip_max_abs", &V::onchip_max_abs),
                    field("bound", &V::bound)};
}
static_assert(report_json::lists_every_member<Verdict>());

// One distinct shard program of a multi-device run, simulated once: a pipeline stage (or several
// identical ones) of one tensor-parallel shard; every tp shard of a stage runs the same program.
struct ShardReport {
  std::string program;  // e.g. "stage 0 of 2: embedding + layers 0-15"
  uint64_t stages = 1;  // pipeline stages running this program, each on tp devices
  uint64_t first_layer = 0, layers = 0;
  bool embedding = false, lm_head = false;
  uint64_t heads = 0, kv_heads = 0, intermediate = 0, vocab = 0;  // the shard's (unpadded)
  double prefill_s = 0, tpot_s = 0;  // its prefill step and mean decode step
  uint64_t executed = 0, reused_steps = 0, skipped_layers = 0;
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;  // one device, whole run
  double host_seconds = 0, compile_seconds = 0;
};
constexpr auto json_fields(std::type_identity<ShardReport>) {
  using S = ShardReport;
  return std::tuple{field("program", &S::program),     field("stages", &S::stages),
                    field("first_layer", &S::first_layer), field("layers", &S::layers),
                    field("embedding", &S::embedding), field("lm_head", &S::lm_head),
                    field("heads", &S::heads),         field("kv_heads", &S::kv_heads),
                    field("intermediate", &S::intermediate), field("vocab", &S::vocab),
                    field("prefill_s", &S::prefill_s), field("tpot_s", &S::tpot_s),
                    field("executed", &S::executed),   field("reused_steps", &S::reused_steps),
                    field("skipped_layers", &S::skipped_layers),
                    field("hbm_read_bytes", &S::hbm_read_bytes), field("hbm_write_bytes", &S::hbm_write_bytes),
                    field("host_s", &S::host_seconds), field("compile_s", &S::compile_seconds)};
}
static_assert(report_json::lists_every_member<ShardReport>());

struct UnitUtilization {
  std::string unit;
  uint64_t busy_cycles = 0;
  double utilization = 0;  // busy cycles / total simulated cycles
};
// A list of units as one JSON object keyed by unit name, holding one member of each:
// {"matrix": 0.42, "vector": 0.1, ...}. RunReport lists `units` once per member.
template <auto Member>
struct PerUnit {
  template <class Json, class Units>
  void operator()(Json& out, const Units& units) const {
    out = Json::object();
    for (const auto& u : units) out[u.unit] = u.*Member;
  }
};

struct RunReport {
  std::string model, hw, hw_hash;
  std::string dram = "bank";  // DRAM preset and fidelity, e.g. "hbm2 (bank)"
  bool timing_only = false, teacher_force = false;
  uint64_t batch = 1, prompt_len = 0, gen = 0;  // gen: new tokens per sequence
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
  RunFormats formats;
  Verdict verdict;
  double ttft_s = 0, tpot_s = 0, tokens_per_s = 0;
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  double hbm_gbps = 0;
  std::vector<PoolReport> pools;  // per memory pool, whole run; only with [memory.<pool>] tables
  RunEnergy energy;             // whole run, all devices
  double tokens_per_j = 0;      // batch x gen / energy (tokens_per_s's tokens)
  double average_power_w = 0;   // energy / simulated time
  std::vector<UnitUtilization> units;
  double host_seconds = 0, sim_instr_per_s = 0;  // host_seconds: simulating, over all steps
  double compile_seconds = 0;  // host time compiling the steps
  double wall_seconds = 0;  // host wall time of the whole run (compile + simulate + reference)
  uint64_t executed = 0;
  uint64_t reused_steps = 0;  // steps whose timing was reused (StepReport::reused)
  uint64_t skipped_layers = 0;  // layers whose timing was reused within their step (StepReport::skipped_layers)
  // Multi-device system (RunOptions::devices): the split, the link, the collectives' share of the
  // run and the shard programs. Steps, latency and HBM traffic are then the system's (HBM bytes
  // summed over all devices; executed instructions over one device of each pipeline stage).
  uint32_t devices = 1, tp = 1, pp = 1;
  double link_gbps = 0, link_latency_s = 0;
  std::string split;  // how the split was chosen
  double collective_s = 0;  // all steps
  std::vector<ShardReport> shards;

  std::string to_text() const;
  std::string to_json() const;
  std::string devices_text() const;  // to_text's multi-device lines
};
constexpr auto json_fields(std::type_identity<RunReport>) {
  using R = RunReport;
  return std::tuple{field("model", &R::model),
                    field("hw", &R::hw),
                    field("hw_hash", &R::hw_hash),
                    field("dram", &R::dram),
                    field("timing_only", &R::timing_only),
                    field("teacher_force", &R::teacher_force),
                    field("batch", &R::batch),
                    field("prompt_len", &R::prompt_len),
                    field("gen", &R::gen),
                    field("prompts", &R::prompts),
                    field("generated", &R::generated),
                    field("ref_generated", &R::ref_generated),
                    field("greedy_match", &R::greedy_match),
                    field("teacher_forced_top1", &R::teacher_forced_top1),
                    field("teacher_forced_steps", &R::teacher_forced_steps),
                    field("teacher_forced_misses", &R::teacher_forced_misses),
                    field("max_miss_margin", &R::max_miss_margin),
                    field("logits_max_abs", &R::logits_max_abs),
                    field("logits_mean_abs", &R::logits_mean_abs),
                    field("logits_min_cosine", &R::logits_min_cosine),
                    field("formats", &R::formats),
                    field("verdict", &R::verdict),
                    field("ttft_s", &R::ttft_s),
                    field("tpot_s", &R::tpot_s),
                    field("tokens_per_s", &R::tokens_per_s),
                    field("hbm_read_bytes", &R::hbm_read_bytes),
                    field("hbm_write_bytes", &R::hbm_write_bytes),
                    field("hbm_gbps", &R::hbm_gbps),
                    field_unless_empty("pools", &R::pools),
                    field("energy", &R::energy),
                    field("tokens_per_j", &R::tokens_per_j),
                    field("average_power_w", &R::average_power_w),
                    field("utilization", &R::units, PerUnit<&UnitUtilization::utilization>{}),
                    field("busy_cycles", &R::units, PerUnit<&UnitUtilization::busy_cycles>{}),
                    field("host_s", &R::host_seconds),
                    field("compile_s", &R::compile_seconds),
                    field("executed", &R::executed),
                    field("reused_steps", &R::reused_steps),
                    field("skipped_layers", &R::skipped_layers),
                    field("devices", &R::devices),
                    field("tp", &R::tp),
                    field("pp", &R::pp),
                    field("link_gbps", &R::link_gbps),
                    field("link_latency_s", &R::link_latency_s),
                    field_unless_empty("split", &R::split),
                    field("collective_s", &R::collective_s),
                    field_unless_empty("shards", &R::shards),
                    field("sim_instr_per_s", &R::sim_instr_per_s),
                    field("wall_s", &R::wall_seconds),
                    field("steps", &R::steps)};
}
static_assert(report_json::lists_every_member<RunReport>());

RunReport run_model(const RunOptions& opt);

// Parses "1,2,3" (one prompt) or a .npy file of integer ids: 1-D (one prompt) or 2-D [B, T] (one
// prompt per sequence). Empty input, negative ids, other ranks: InputError naming the input.
std::vector<std::vector<int64_t>> parse_prompt_ids(const std::string& spec);

struct CompileOptions {
  std::string model = "preset:tiny";
  std::string hw = "reference-small";
  uint64_t prompt_len = 4;
  std::vector<std::vector<int64_t>> prompt_ids;  // as RunOptions::prompt_ids
  uint64_t gen = 0;  // KV capacity for the positions `plena run --gen gen` feeds (gen - 1 decode steps)
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

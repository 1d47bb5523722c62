// Internals shared by run.cpp and compile.cpp (not part of the public header).
#pragma once
#include <string>
#include <vector>

#include "compiler/model_compiler.hpp"
#include "runner/runner.hpp"
#include "model/model.hpp"
#include "sim/sim.hpp"

namespace plena::runner::detail {

struct ResolvedModel {
  model::ModelConfig config;
  model::ModelWeights weights;  // empty when not needed (timing-only)
  std::string source;
  bool from_checkpoint = false;  // a Hugging Face checkpoint (its torch_dtype is meaningful)
};
// A model preset name (random weights from `seed`) or a Hugging Face checkpoint (model/source.hpp).
ResolvedModel resolve_model(const std::string& spec, uint64_t seed, bool need_weights);
// `batch` prompts: the explicit `ids` (one prompt for every sequence, or one per sequence), or
// seeded random ids of prompt_len tokens each.
std::vector<std::vector<int64_t>> make_prompts(const model::ModelConfig& cfg,
                                               const std::vector<std::vector<int64_t>>& ids, uint64_t prompt_len,
                                               uint64_t batch, uint64_t seed);
// KV positions a run of `gen` new tokens feeds: the prompt, then every generated token but the last.
inline uint64_t fed_positions(uint64_t prompt_len, uint64_t gen) { return prompt_len + (gen ? gen - 1 : 0); }
// Range checks of the counts a user passes (InputError naming the option).
void check_run_counts(const model::ModelConfig& cfg, uint64_t prompt_len, uint64_t gen, uint64_t batch);
// The config's name in reports and program headers ("<inline>" for inline TOML).
std::string hw_display_name(const std::string& spec);
// RoPE tables, swap matrix, FP/INT SRAM images of one step (functional mode only).
void preload_step(sim::Simulator& s, const compiler::CompiledStep& step);
// Every weight tensor of `mc` into `hbm`, a few MB of rows at a time (no full-size fp32 copy).
// Without the embedding table when `embedding` is false: a run then writes the rows a step looks
// up (write_embedding_rows), the only rows its program reads, in the same bytes.
void write_weight_image(sim::HbmStore& hbm, const compiler::ModelCompiler& mc, const model::ModelWeights& w,
                        bool embedding = true);
// The embedding table's rows of every token in `tokens` (one list per sequence) into `hbm`.
void write_embedding_rows(sim::HbmStore& hbm, const compiler::ModelCompiler& mc, const model::ModelWeights& w,
                          const std::vector<std::vector<int64_t>>& tokens);
// Real rows x cols of a VRAM tensor, row-major.
std::vector<float> read_rows(const sim::Machine& m, const compiler::VramTensor& t, uint64_t rows, uint64_t cols);

// The program one device of a multi-device run executes: a tensor shard (compiler::tensor_shard)
// restricted to one pipeline stage's layers. The default is the whole model on one device.
struct ShardRole {
  uint32_t tp = 1;
  uint64_t layers = 0;  // 0: all of the model's
  bool first = true, last = true;
  bool whole() const { return tp == 1 && layers == 0 && first && last; }
};
// run_model for one shard program (timing-only unless whole): prompts and report name the full
// model; the shard embeds each id modulo its vocabulary share (timing does not depend on ids).
RunReport run_shard(const RunOptions& opt, const ShardRole& role);
// The first (largest) prefill step a shard program would run: the stages of a pipeline differ in
// layers, embedding and LM head, so each fits its own chunk; a system step is one chunk on every
// stage, so the run takes the smallest (simulate_groups).
uint64_t shard_prefill_chunk(const RunOptions& opt, const ShardRole& role);
// A multi-device run (RunOptions::devices > 1): every distinct shard program once, combined.
RunReport run_multi_device(const RunOptions& opt);
// Appends a step and adds it to the report's totals (instructions, reuse, HBM bytes, host time).
void add_step(RunReport& rep, StepReport st);
// TTFT, TPOT, tokens/s and achieved HBM bandwidth from the report's steps.
void summarize_latency(RunReport& rep);

}  // namespace plena::runner::detail

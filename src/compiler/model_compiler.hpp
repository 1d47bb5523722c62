// Whole-model compilation: a LLaMA-family decoder (model::ModelConfig) becomes one PLENA program
// per inference step (prefill of T tokens, or one decode token per sequence), all sharing one HBM
// placement of weights and per-layer KV caches. Token ids and positions are baked into each
// step's program (the host loop of a serving runtime picks the next token between steps).
// Layout, padding and quantization rules: docs/run.md. Included on its own (not via compiler.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "compiler/layer_plan.hpp"
#include "model/model.hpp"

namespace plena::compiler {

struct ModelCompileOptions {
  uint64_t batch = 1;          // sequences per step (all with the same number of new tokens)
  uint64_t max_positions = 0;  // KV positions per sequence the run needs (prompt + generated)
  LoopPolicy loops = LoopPolicy::hardware();
  bool assembly = true;  // CompiledProgram::assembly (text); a simulation-only run needs none
  bool host_data = true;  // CompiledStep's VRAM/HBM init data (RoPE tables); timing-only needs none
  // A step whose program is the last emitted one's but for step values (decode steps of one KV
  // tile count with the same tokens; not with assembly) is that program, patched (compile_step).
  bool reuse_programs = true;
  bool words = true;  // CompiledProgram::words (encoded); a simulation-only run needs the instructions
  // Pipeline-parallel stage role (compiler::pipeline_stages): a stage other than the first gets
  // the residual stream from the stage before (no embedding), one other than the last hands it on
  // (no final norm, no LM head). Only whole-model programs carry residual checkpoints.
  bool first_stage = true, last_stage = true;
  // One shard of a tensor-parallel split (the model config is the shard's): its o_proj / down_proj
  // partial sums are reduced before the residual adds, which therefore stay separate calls.
  bool tensor_shard = false;
  // At most this many prompt tokens per sequence in one prefill step (a positive multiple of
  // prefill_granule()); 0: automatic, the largest chunk that fits the on-chip memories.
  uint64_t max_prefill_chunk = 0;
};

// One step of a chunked prefill: q_len prompt tokens per sequence at positions past ..
// past + q_len - 1. Only the last chunk of a prompt computes logits.
struct PrefillChunk {
  uint64_t past = 0, q_len = 0;
  friend bool operator==(const PrefillChunk&, const PrefillChunk&) = default;
};
// The chunking rule (docs/compiler.md "Chunked prefill"): n = ceil(prompt_len / max_chunk) steps
// of round_up(ceil(prompt_len / n), granule) tokens each, the last one taking the rest. Equal
// chunks, not max_chunk plus a short remainder: every chunk streams all weights once, so a short
// chunk would cost a weight stream for little work. max_chunk is a multiple of granule.
std::vector<PrefillChunk> split_prefill(uint64_t prompt_len, uint64_t max_chunk, uint64_t granule);

// A host-computed VRAM tensor a step needs before it runs (RoPE tables): row-major [rows, cols]
// of the named tensor's real rows and cols.
struct VramInit {
  VramTensor tensor;
  std::vector<float> data;
};
// A host-computed HBM tensor a step places (the RoPE swap matrix), row-major [rows, cols].
struct HbmInit {
  HbmTensor tensor;
  std::shared_ptr<const std::vector<float>> data;  // the same for every step: built once
};

struct CompiledStep {
  CompiledProgram program;
  uint64_t batch = 1, q_len = 1, past = 0;
  std::vector<VramInit> vram_inits;
  std::vector<HbmInit> hbm_inits;
  VramTensor logits;  // [batch, vocab_padded]: the last token's logits of every sequence
  VramTensor hidden;  // [batch, hidden]: the final-norm output the LM head reads (same rows)
  // The residual stream "x" [batch*q_len rows, hidden] (sequence b's token t at row b*q_len + t),
  // updated in place by every layer, and where to observe it: residual_pcs[0] is the index of
  // the first instruction after the embedding, residual_pcs[l + 1] the first after layer l's MLP
  // residual add. When execution is about to reach residual_pcs[s] for the first time (the
  // simulator's next pc), x holds stage s's output (HF output_hidden_states before the final
  // norm). Every such pc is at top level, outside any hardware loop. Nothing is emitted for them.
  VramTensor residual;
  std::vector<uint64_t> residual_pcs;  // num_hidden_layers + 1 entries, increasing
  // The first instruction of each of this program's layers, then the first after the last one
  // (every stage, also a pipeline stage; top level). Timing-only runs reuse repeated layers' timing.
  std::vector<uint64_t> layer_pcs;
};

class ModelCompiler {
 public:
  // InputError for unsupported models (dims the kernels cannot tile, activations other than SiLU).
  ModelCompiler(const config::HardwareConfig& hw, std::string hw_name, const model::ModelConfig& m,
                const ModelCompileOptions& opt);

  const model::ModelConfig& model() const { return m_; }
  const config::HardwareConfig& hardware() const { return hw_; }
  uint64_t vocab_padded() const { return vocab_pad_; }
  uint64_t kv_capacity() const { return kv_.capacity; }
  const KvCacheLayout& kv_layout() const { return kv_; }

  // The placement every step shares: weights (class weight), KV caches (class kv), constants.
  HbmManifest manifest() const { return base_.manifest(); }
  // HBM tensors whose contents come from the model weights (or are generated: the attention identity tile).
  const std::vector<std::string>& weight_tensors() const { return weight_names_; }
  // Row-major [rows, cols] contents of one of weight_tensors() in its HBM layout (HF [out, in]
  // linears transposed to [in, out], zero-padded columns where the layout needs them).
  std::vector<float> weight_data(const std::string& tensor, const model::ModelWeights& w) const;
  // The same without a copy where the HBM layout is the model's own (embedding, norms, biases):
  // a view of `w`'s tensor, else of `staging`, which it fills.
  std::span<const float> weight_data(const std::string& tensor, const model::ModelWeights& w,
                                     std::vector<float>& staging) const;
  // Rows [row0, row0 + rows) of the same (a tensor streams through a small staging buffer).
  std::span<const float> weight_rows(const std::string& tensor, const model::ModelWeights& w, uint64_t row0,
                                     uint64_t rows, std::vector<float>& staging) const;

  // One step: tokens[b] are sequence b's new tokens (same count for every sequence) at positions
  // past .. past + count - 1. InputError when past + count exceeds max_positions. Keeps the last
  // step's program to patch (ModelCompileOptions::reuse_programs): not for concurrent calls.
  // The step is valid until the next call (the compiler patches it in place for the next step).
  // Without logits (a prefill chunk before the last) the step ends after the last layer: no
  // final norm, no LM head, CompiledStep::logits and ::hidden empty.
  const CompiledStep& compile_step(const std::vector<std::vector<int64_t>>& tokens, uint64_t past,
                                   bool logits = true) const;

  // ---- chunked prefill (docs/compiler.md "Chunked prefill") ----
  // Chunk lengths are multiples of this many tokens: BLEN (the matrix unit's row group) and the
  // KV store's write-back group, so every chunk but the last starts on whole row groups.
  uint64_t prefill_granule() const;
  // The longest prefill step for a prompt of prompt_len tokens per sequence: prompt_len when the
  // whole prompt fits the on-chip memories (and max_prefill_chunk allows), else the largest
  // multiple of prefill_granule() whose step fits with the last chunk's KV length (prompt_len).
  // "Fits" includes the step's executed instructions within timing.instruction_budget, so that
  // the simulator runs every step (a config with a larger budget gets longer chunks).
  // InputError when not even one granule fits, or max_prefill_chunk is not a multiple of it.
  uint64_t max_prefill_chunk(uint64_t prompt_len) const;
  // The prefill steps of a prompt: split_prefill(prompt_len, max_prefill_chunk(prompt_len), granule).
  std::vector<PrefillChunk> prefill_schedule(uint64_t prompt_len) const;
  // Steps compile_step returned as a patched copy of the step before (for tests and reports).
  uint64_t patched_steps() const { return patched_steps_; }

 private:
  // How one HBM dimension maps onto the model's: the first `real` indices are the model's own and
  // the rest zero padding, or (heads > 0) `heads` heads of head_dim placed at dims_.head_dim each
  // (placed_head_column).
  struct Axis {
    uint64_t real = 0, heads = 0;
  };
  struct Source {
    // Transpose: HF [out, in] -> [in (rows axis), out (cols axis)]; Row: a 1-D parameter -> [1,
    // cols]; Copy: HF [rows, in] -> [rows, cols]; AttnIdentity: attention_identity_data; LmHead: a
    // Transpose of lm_head.weight or the tied embedding.
    // TransposePair: `hf` into columns [0, col2) and `hf2` (same axes) into [col2, 2*col2), zeros
    // after (the fused K|V projection).
    enum class Kind : uint8_t { Transpose, AttnIdentity, Row, Copy, LmHead, TransposePair } kind;
    std::string hf;
    Axis rows{}, cols{};
    std::string hf2{};
    uint64_t col2 = 0;
  };
  const Source& weight_source(const std::string& tensor) const;  // InputError if not a weight tensor
  int64_t model_index(const Axis& ax, uint64_t i) const;        // the model's index, or -1 (padding)
  std::vector<int64_t> axis_map(const Axis& ax, uint64_t begin, uint64_t n) const;
  void transpose_rows(const std::string& tensor, const model::ModelWeights& w, const Source& src, const std::string& hf,
                      uint64_t row0, uint64_t nrows, uint64_t cols, std::vector<float>& d, uint64_t d_cols = 0,
                      uint64_t d_col0 = 0) const;
  void padded_rows(const model::ModelWeights& w, const Source& src, uint64_t row0, uint64_t nrows, uint64_t cols,
                   std::vector<float>& d) const;
  config::HardwareConfig hw_;
  std::string hw_name_;
  model::ModelConfig m_;
  ModelCompileOptions opt_;
  MemoryPlan base_;
  ModelDims dims_;  // the placed widths (model_dims)
  KvCacheLayout kv_;
  uint64_t vocab_pad_ = 0;
  uint64_t k_cols_ = 0;  // K/V projection width = the cache row: kv_heads * head_dim rounded up to MLEN
  std::vector<std::string> weight_names_;
  std::vector<std::pair<std::string, Source>> sources_;
  std::shared_ptr<const std::vector<float>> rope_swap_;  // the swap tensor's HBM image, when needed

  // ---- compile_step's program reuse ----
  struct StepKey {
    uint64_t batch = 0, q_len = 0, attention = 0;  // attention: attention_step_class
    bool logits = true;
    std::vector<int64_t> tokens;
    bool operator==(const StepKey&) const = default;
  };
  struct RopeInitPlace {
    VramTensor cos, sin;
    uint64_t rows = 0;  // physical rows
  };
  struct StepTemplate {
    StepKey key;
    CompiledStep step;  // patched in place: the last step compiled from it
    uint64_t past = 0;  // the position its sites were emitted for
    std::vector<ProgramBuilder::StepSite> sites;
    RopeInitPlace rope;
  };
  std::optional<StepKey> step_key(uint64_t B, uint64_t T, uint64_t past, bool logits,
                                  const std::vector<int64_t>& flat) const;
  // What one step emits: batch x q_len tokens after `past`, `layers` of the model's layers
  // (a fit check emits one: every layer allocates alike), the tail when `logits`.
  struct StepShape {
    uint64_t batch = 1, q_len = 1, past = 0;
    int64_t layers = 0;
    bool logits = true;
  };
  CompiledStep emit_step(const std::vector<int64_t>& flat, uint64_t B, uint64_t T, uint64_t past, bool logits) const;
  // Emits the step's calls into b against plan; with `step`, also its RoPE inits, residual
  // checkpoints and output tensors.
  void emit_calls(ProgramBuilder& b, MemoryPlan& plan, const std::vector<int64_t>& flat, const StepShape& sh,
                  CompiledStep* step) const;
  // Whether a prefill step of q_len tokens with KV length kv_len fits the on-chip memories (one
  // and two layers emitted on the counting back-end against the real memory plan) and the
  // simulator's timing.instruction_budget (the counted instructions of all layers).
  bool prefill_fits(uint64_t q_len, uint64_t kv_len) const;
  void patch_step(StepTemplate& t, uint64_t past) const;
  void add_rope_inits(CompiledStep& step, const RopeInitPlace& rope) const;
  mutable std::unique_ptr<StepTemplate> template_;
  mutable CompiledStep last_;  // the last step when it is not template_'s
  mutable std::vector<ProgramBuilder::StepSite> last_sites_;  // of the last emit_step
  mutable RopeInitPlace rope_place_;                          // of the last emit_step
  mutable uint64_t patched_steps_ = 0;
};

}  // namespace plena::compiler

// Model input (HF config.json + safetensors), built-in presets with seeded random weights,
// and the host fp32 reference forward pass that every kernel and model run is checked against.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plena::model {

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

enum class Architecture { Llama, Qwen2, Qwen3, Mistral };
std::string_view architecture_name(Architecture a);  // "LlamaForCausalLM", ...
std::vector<std::string> supported_architectures();

enum class RopeScalingType { None, Llama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  bool operator==(const RopeScaling&) const = default;
};

struct ModelConfig {
  std::string name;  // preset name or source file, informational only
  Architecture architecture = Architecture::Llama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // explicit in config.json, else hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2 always; LLaMA/Qwen3 if set)
  bool o_proj_bias = false;     // o_proj carries a bias (LLaMA/Qwen3 attention_bias=true; never Qwen2)
  bool qk_norm = false;         // per-head RMSNorm on q and k before RoPE (Qwen3)
  int64_t sliding_window = 0;   // 0 = full causal attention (Mistral may set a window)
  int64_t max_position_embeddings = 0;
  std::string hidden_act = "silu";
  std::string torch_dtype = "float32";

  bool operator==(const ModelConfig&) const = default;
  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // Total parameters (tied embeddings counted once).
  uint64_t param_count() const;
  // Parameters of the matrices that are quantized on the accelerator (q/k/v/o, gate/up/down,
  // and an untied lm_head); embeddings, norms and biases excluded.
  uint64_t linear_param_count() const;
  // Bytes to hold all parameters at `bits` per element (rounded up to whole bytes).
  uint64_t weight_bytes(double bits) const;
  // Bytes of K and V cache for `tokens` positions of `batch` sequences at `bits` per element.
  uint64_t kv_cache_bytes(uint64_t tokens, uint64_t batch, double bits) const;
};

// Parses a Hugging Face config.json. Errors are InputError "file:line:col: error: key ...".
ModelConfig parse_hf_config(const std::filesystem::path& config_json);
ModelConfig parse_hf_config_text(std::string_view json_text, std::string_view source_name = "config.json");
// Writes a config.json that parse_hf_config reads back to the same ModelConfig (except name).
std::string hf_config_json(const ModelConfig& cfg);

// Presets: "tiny", "tiny-qwen2", "tiny-qwen3", "smollm2-135m", "llama-3.2-1b", "llama-3.1-8b",
// "llama-3.3-70b", "qwen3-8b".
// Config only; weights come from make_random_weights so timing-only runs never allocate them.
std::vector<std::string> model_preset_names();
ModelConfig model_preset(std::string_view name);  // InputError listing the presets if unknown

// ---------------------------------------------------------------------------------------------
// Weights
// ---------------------------------------------------------------------------------------------

// Host tensor: row-major f32. bf16/fp16 inputs are converted exactly.
struct Tensor {
  std::vector<size_t> shape;
  std::vector<float> data;
  size_t numel() const;
  bool operator==(const Tensor&) const = default;
};

enum class DType { F32, BF16, F16 };
std::string_view dtype_name(DType d);  // safetensors spelling: "F32", "BF16", "F16"
size_t dtype_size(DType d);

// Named tensors in Hugging Face naming (model.embed_tokens.weight, model.layers.{i}.self_attn.
// q_proj.weight [out, in], ..., model.norm.weight, lm_head.weight unless tied).
// A tensor may be lazy (set_lazy): its shape is known at once and its values are produced on the
// first access that needs them (get, get_mut, all), e.g. decoded from a memory-mapped checkpoint,
// so loading a model converts only what a run uses. Not for concurrent first access.
class ModelWeights {
 public:
  // Fills all numel(shape) values of a lazy tensor.
  using Fill = std::function<void(std::span<float> out)>;

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const Tensor& get(const std::string& name) const;  // InputError naming the tensor if absent
  Tensor& get_mut(const std::string& name);
  // Shape without converting a lazy tensor.
  const std::vector<size_t>& shape(const std::string& name) const;
  // False while a lazy tensor's values have not been produced.
  bool converted(const std::string& name) const { return has(name) && pending_.count(name) == 0; }
  void set(const std::string& name, Tensor t);
  // A lazy tensor's values as little-endian bf16 words (exactly its f32 values), kept alive by `owner`.
  struct Bf16Source {
    std::span<const uint16_t> values;
    std::shared_ptr<const void> owner;
  };
  void set_lazy(const std::string& name, std::vector<size_t> shape, Fill fill, Bf16Source bf16 = {});
  // Those words when the tensor has such a source, else empty: readers of a vocabulary-sized table
  // use them instead of converting it. Valid until the tensor is replaced (set, get_mut).
  std::span<const uint16_t> bf16_values(const std::string& name) const;
  // Elements [first, first + out.size()) in row-major order, from the bf16 source where there is one
  // (the tensor is not converted), else from get(name). InputError past the end.
  void read(const std::string& name, size_t first, std::span<float> out) const;
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return tensors_.size(); }
  const std::map<std::string, Tensor>& all() const;  // converts every lazy tensor
  // lm_head.weight, or model.embed_tokens.weight when the config ties them.
  const Tensor& lm_head(const ModelConfig& cfg) const;

 private:
  const Tensor& converted_entry(std::map<std::string, Tensor>::iterator it) const;
  mutable std::map<std::string, Tensor> tensors_;  // a lazy tensor has its shape and no data yet
  mutable std::map<std::string, Fill> pending_;
  std::map<std::string, Bf16Source> bf16_;
};

// Every tensor a config requires, with its shape, in a stable order.
std::vector<std::pair<std::string, std::vector<size_t>>> expected_tensors(const ModelConfig& cfg);
// InputError naming `source`, the missing/misshaped tensor and the expected shape.
void validate_weights(const ModelConfig& cfg, const ModelWeights& w, std::string_view source);

// Deterministic random weights (own splitmix64 stream per tensor name, uniform with std 0.02 for
// matrices and biases, 1 +- 0.1 for norm weights). Same (cfg, seed) -> same bits on any platform.
ModelWeights make_random_weights(const ModelConfig& cfg, uint64_t seed);

// ---- safetensors ----
// Parses a safetensors image; `source` names the file in errors. Tensors of dtype F32/BF16/F16.
std::map<std::string, Tensor> parse_safetensors(std::span<const uint8_t> bytes, std::string_view source);
std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path);
// Loads model.safetensors.index.json and its shards (tensors named in weight_map must exist in
// the shard named there).
std::map<std::string, Tensor> load_safetensors_index(const std::filesystem::path& index_json);
// Serializes tensors with keys sorted, header padded to 8 bytes; f32 -> bf16/f16 round to
// nearest even. Metadata goes into "__metadata__".
std::vector<uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors, DType dtype,
                                           const std::map<std::string, std::string>& metadata = {});
void save_safetensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors,
                      DType dtype, const std::map<std::string, std::string>& metadata = {});

struct LoadedModel {
  ModelConfig config;
  ModelWeights weights;
};
// dir/config.json + dir/model.safetensors or dir/model.safetensors.index.json; validated.
LoadedModel load_hf_model(const std::filesystem::path& dir);
// Writes config.json and model.safetensors (or shards of at most max_shard_bytes plus an index
// when that is non-zero and the weights do not fit in one shard).
void save_hf_model(const std::filesystem::path& dir, const ModelConfig& cfg, const ModelWeights& w,
                   DType dtype, uint64_t max_shard_bytes = 0);

// Exact conversions used by the loader and writer.
float bf16_bits_to_f32(uint16_t b);
float f16_bits_to_f32(uint16_t h);
uint16_t f32_to_bf16_bits(float f);  // round to nearest even, NaN stays NaN
uint16_t f32_to_f16_bits(float f);   // round to nearest even, overflow -> inf

// ---------------------------------------------------------------------------------------------
// Host fp32 reference: building blocks (also the truth for the compiler's kernel tests)
// ---------------------------------------------------------------------------------------------
// Accumulation order (all f32, no FMA contraction): dot products of length n use 8 interleaved
// partial sums (lane j takes elements j, j+8, ...), combined as ((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7)).

float dot_f32(const float* a, const float* b, size_t n);
// dot_f32 with b given as bf16 words: the same sums in the same order (bf16 -> f32 is exact).
float dot_bf16(const float* a, const uint16_t* b, size_t n);
// y[rows, out] = x[rows, in] * W[out, in]^T (+ bias[out] if non-null).
void linear(const float* x, size_t rows, size_t in, const float* w, size_t out, const float* bias, float* y);
// y = x / sqrt(mean(x^2) + eps) * w over each row of length n; mean = dot_f32(x, x) / n.
void rmsnorm(const float* x, size_t rows, size_t n, const float* w, double eps, float* y);
float silu(float x);  // x / (1 + exp(-x))
// out[i] = silu(gate[i]) * up[i]
void swiglu(const float* gate, const float* up, size_t n, float* out);
// In-place max-subtracted softmax over n values.
void softmax(float* x, size_t n);

// RoPE inverse frequencies (length head_dim/2), including llama3 scaling.
std::vector<float> rope_inv_freq(const ModelConfig& cfg);
std::vector<float> rope_inv_freq(int64_t head_dim, double theta, const RopeScaling& scaling);
// Rotate-half RoPE on one head vector of length d at position pos: pairs (i, i + d/2).
void rope_apply(float* x, size_t d, int64_t pos, const std::vector<float>& inv_freq);

// Causal GQA attention for `n_q` query rows at positions q_pos0.. against a K/V history of
// `n_kv` positions (0..n_kv-1). q: [n_q, heads, d], k/v: [n_kv, kv_heads, d], out: [n_q, heads, d].
// Query row r at position q_pos0 + r sees keys j <= q_pos0 + r (and within `window` if > 0).
void attention(const float* q, size_t n_q, int64_t q_pos0, const float* k, const float* v, size_t n_kv,
               size_t heads, size_t kv_heads, size_t d, float scale, int64_t window, float* out);

// ---------------------------------------------------------------------------------------------
// Host fp32 reference: full model
// ---------------------------------------------------------------------------------------------

using TokenId = int32_t;

// K/V of one sequence, per layer [pos][kv_heads][head_dim] (after RoPE / k-norm).
struct KVCache {
  std::vector<std::vector<float>> k, v;
  int64_t length = 0;
};

// Optional capture of every intermediate, keyed "embed", "layers.{i}.{stage}", "final_norm",
// "logits"; each [tokens, width]. Stages: input, attn_norm, q, k, v (projections incl. bias),
// q_norm, k_norm (Qwen3), q_rope, k_rope, attn (before o_proj), o_proj, attn_residual, mlp_norm,
// gate, up, act (silu(gate)*up), down, output.
using Capture = std::map<std::string, Tensor>;

// Rounding the reference can apply to emulate a lower-precision machine (the runner's quantized
// reference, docs/run.md "Verdict"). `activation` gets every stage output and the logits, row by
// row; `kv_row` each K/V row (one position, every kv head) before it enters the cache. Unset
// members leave the fp32 reference unchanged.
// `embedding_row`, when set, writes token t's embedding row as the emulated machine stores it and
// replaces the weights' own table, which is then never read (nor converted, if lazy).
struct ReferenceRounding {
  std::function<void(std::span<float> row)> activation;
  std::function<void(std::span<float> row)> kv_row;
  std::function<void(TokenId t, std::span<float> row)> embedding_row;
};

class HostReference {
 public:
  // Validates the weights against the config; keeps a reference to `w` (must outlive this).
  HostReference(const ModelConfig& cfg, const ModelWeights& w);
  const ModelConfig& config() const { return cfg_; }
  void set_rounding(ReferenceRounding r) { rounding_ = std::move(r); }

  KVCache new_cache() const;
  // Appends `tokens` to `cache` (positions cache.length ...) and returns logits [n, vocab], or
  // [1, vocab] for the last token only when all_logits is false.
  Tensor forward(KVCache& cache, std::span<const TokenId> tokens, bool all_logits = true,
                 Capture* capture = nullptr) const;

  // Batched helpers: each sequence has its own cache (sequences may differ in length).
  std::vector<Tensor> prefill(std::vector<KVCache>& caches, const std::vector<std::vector<TokenId>>& prompts,
                              bool all_logits = true) const;
  // One token per sequence; returns [B, vocab].
  Tensor decode(std::vector<KVCache>& caches, std::span<const TokenId> tokens) const;
  // Greedy generation (argmax, lowest id on ties): returns the new tokens only.
  std::vector<std::vector<TokenId>> generate_greedy(const std::vector<std::vector<TokenId>>& prompts,
                                                    size_t max_new_tokens) const;

 private:
  // An [out, in] weight matrix read in place: its bf16 words where the weights have them (never
  // converted to f32; dot_bf16 gives dot_f32's sums), else the f32 tensor's values.
  struct Matrix {
    const float* f32 = nullptr;
    const uint16_t* bf16 = nullptr;
  };
  struct Layer {
    const Tensor *attn_norm, *q_bias, *k_bias, *v_bias, *o_bias, *q_norm, *k_norm, *mlp_norm;
    Matrix q, k, v, o, gate, up, down;
  };
  // y[rows, out] = x[rows, in] * w^T (+ bias[out] if non-null), as linear() does.
  static void linear(const float* x, size_t rows, size_t in, const Matrix& w, size_t out, const float* bias, float* y);
  static Matrix matrix(const ModelWeights& w, const std::string& name);
  ModelConfig cfg_;
  const ModelWeights* weights_;
  mutable const Tensor* embed_ = nullptr;  // looked up on first use (unless embedding_row is set)
  const Tensor* final_norm_;
  Matrix lm_head_;
  std::span<const uint16_t> embed_bf16_;
  std::vector<Layer> layers_;
  std::vector<float> inv_freq_;
  ReferenceRounding rounding_;
};

size_t argmax(const float* x, size_t n);  // lowest index on ties

}  // namespace plena::model

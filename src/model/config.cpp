// config.json parsing, presets and size helpers.
#include <fmt/core.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "support/json_strict.hpp"
#include "support/support.hpp"

namespace plena::model {
namespace {

using json = nlohmann::json;

struct ArchInfo {
  Architecture arch;
  const char* hf_name;
  const char* model_type;
};
constexpr ArchInfo kArchs[] = {
    {Architecture::Llama, "LlamaForCausalLM", "llama"},
    {Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2"},
    {Architecture::Qwen3, "Qwen3ForCausalLM", "qwen3"},
    {Architecture::Mistral, "MistralForCausalLM", "mistral"},
};

// Upper bounds for integer keys: far above any published checkpoint (vocab 256k, hidden 16k,
// 126 layers, 128 heads, 1M positions), low enough that every size derived from them fits in 64 bits.
constexpr int64_t kMaxDim = int64_t{1} << 24;         // vocab, hidden, intermediate, heads, head_dim
constexpr int64_t kMaxLayers = int64_t{1} << 16;
constexpr int64_t kMaxPositions = (int64_t{1} << 31) - 1;
constexpr double kMaxParams = 0x1p50;                // ~1.1e15 parameters

// Reads keys of a config.json and reports errors at the key's position in the text
// (first occurrence of "key" after the enclosing key, which is exact for HF configs).
class ConfigReader {
 public:
  ConfigReader(std::string_view text, std::string_view source) : text_(text), source_(source) {
    root_ = parse_json_strict(text_, source_, "a Hugging Face config.json object");
    if (!root_.is_object()) throw_input(source_, 1, 1, "config.json must be a JSON object");
  }
  const json& root() const { return root_; }

  [[noreturn]] void fail(std::string_view key, std::string_view msg, std::string_view parent = {}) const {
    size_t from = 0;
    if (!parent.empty()) {
      size_t p = text_.find(fmt::format("\"{}\"", parent));
      if (p != std::string_view::npos) from = p;
    }
    size_t pos = text_.find(fmt::format("\"{}\"", key), from);
    if (pos == std::string_view::npos) throw_input(source_, 0, 0, fmt::format("key '{}': {}", key, msg));
    auto [l, c] = json_line_col(text_, pos);
    throw_input(source_, l, c, fmt::format("key '{}': {}", key, msg));
  }

  static bool present(const json& obj, const char* key) { return obj.contains(key) && !obj.at(key).is_null(); }

  int64_t positive_int(const json& obj, const char* key, int64_t max_value, std::string_view parent = {}) const {
    if (!obj.contains(key)) fail_missing(key, "a positive integer");
    return as_int(obj.at(key), key, parent, 1, max_value);
  }
  int64_t int_or(const json& obj, const char* key, int64_t dflt, int64_t min_value, int64_t max_value,
                 std::string_view parent = {}) const {
    if (!present(obj, key)) return dflt;
    return as_int(obj.at(key), key, parent, min_value, max_value);
  }
  double positive_double_or(const json& obj, const char* key, double dflt, std::string_view parent = {}) const {
    if (!present(obj, key)) return dflt;
    const json& v = obj.at(key);
    if (!v.is_number()) fail(key, fmt::format("expected a number, got {}", json_text(v)), parent);
    double d = v.get<double>();
    if (!(d > 0) || !std::isfinite(d)) fail(key, fmt::format("expected a positive finite number, got {}", json_text(v)), parent);
    return d;
  }
  bool bool_or(const json& obj, const char* key, bool dflt) const {
    if (!present(obj, key)) return dflt;
    const json& v = obj.at(key);
    if (!v.is_boolean()) fail(key, fmt::format("expected true or false, got {}", json_text(v)));
    return v.get<bool>();
  }
  std::string string_or(const json& obj, const char* key, std::string dflt) const {
    if (!present(obj, key)) return dflt;
    const json& v = obj.at(key);
    if (!v.is_string()) fail(key, fmt::format("expected a string, got {}", json_text(v)));
    return v.get<std::string>();
  }

 private:
  [[noreturn]] void fail_missing(const char* key, std::string_view expected) const {
    throw_input(source_, 0, 0, fmt::format("missing required key '{}' (expected {})", key, expected));
  }
  // JSON integers only: a float such as 4096.0 is an error, as is any value outside [min, max].
  int64_t as_int(const json& v, const char* key, std::string_view parent, int64_t min_value, int64_t max_value) const {
    if (!v.is_number_integer()) fail(key, fmt::format("expected an integer, got {}", json_text(v)), parent);
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(max_value)
                                                 : v.get<int64_t>() >= min_value && v.get<int64_t>() <= max_value;
    if (!in_range || (v.is_number_unsigned() && int64_t(v.get<uint64_t>()) < min_value))
      fail(key, fmt::format("expected an integer in [{}, {}], got {}", min_value, max_value, json_text(v)), parent);
    return v.get<int64_t>();
  }

  std::string_view text_;
  std::string source_;
  json root_;
};

// Parameter count in double precision, so absurd sizes cannot overflow before they are rejected.
double approx_params(const ModelConfig& c) {
  const double h = double(c.hidden_size), q = double(c.num_attention_heads) * double(c.head_dim),
               kv = double(c.num_key_value_heads) * double(c.head_dim), inter = double(c.intermediate_size);
  return double(c.num_hidden_layers) * (2 * h * q + 2 * h * kv + 3 * h * inter) + 2 * double(c.vocab_size) * h;
}

std::string supported_list() {
  std::string s;
  for (const auto& a : kArchs) {
    if (!s.empty()) s += ", ";
    s += a.hf_name;
  }
  return s;
}

}  // namespace

std::string_view architecture_name(Architecture a) {
  for (const auto& i : kArchs)
    if (i.arch == a) return i.hf_name;
  return "?";
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> v;
  for (const auto& a : kArchs) v.emplace_back(a.hf_name);
  return v;
}

ModelConfig parse_hf_config_text(std::string_view text, std::string_view source) {
  ConfigReader r(text, source);
  const json& j = r.root();
  ModelConfig c;
  c.name = std::string(source);

  // Architecture: "architectures": ["XForCausalLM"], falling back to model_type.
  bool found = false;
  if (ConfigReader::present(j, "architectures")) {
    const json& a = j.at("architectures");
    if (!a.is_array() || a.size() != 1 || !a[0].is_string())
      r.fail("architectures", fmt::format("expected a list with one architecture name, got {}", json_text(a)));
    std::string name = a[0].get<std::string>();
    for (const auto& i : kArchs)
      if (name == i.hf_name) c.architecture = i.arch, found = true;
    if (!found)
      r.fail("architectures", fmt::format("unsupported architecture '{}'; supported: {}", name, supported_list()));
  } else if (ConfigReader::present(j, "model_type")) {
    std::string mt = r.string_or(j, "model_type", "");
    for (const auto& i : kArchs)
      if (mt == i.model_type) c.architecture = i.arch, found = true;
    if (!found)
      r.fail("model_type", fmt::format("unsupported model_type '{}'; supported architectures: {}", mt, supported_list()));
  } else {
    throw_input(source, 0, 0,
                fmt::format("missing key 'architectures' (expected one of: {})", supported_list()));
  }

  if (ConfigReader::present(j, "quantization_config"))
    r.fail("quantization_config", "pre-quantized checkpoints are not supported; expected a bf16/fp16/fp32 checkpoint");

  c.vocab_size = r.positive_int(j, "vocab_size", kMaxDim);
  c.hidden_size = r.positive_int(j, "hidden_size", kMaxDim);
  c.intermediate_size = r.positive_int(j, "intermediate_size", kMaxDim);
  c.num_hidden_layers = r.positive_int(j, "num_hidden_layers", kMaxLayers);
  c.num_attention_heads = r.positive_int(j, "num_attention_heads", kMaxDim);
  c.num_key_value_heads = r.int_or(j, "num_key_value_heads", c.num_attention_heads, 1, kMaxDim);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    r.fail("num_key_value_heads",
           fmt::format("{} must divide num_attention_heads ({})", c.num_key_value_heads, c.num_attention_heads));
  if (ConfigReader::present(j, "head_dim")) {
    c.head_dim = r.int_or(j, "head_dim", 0, 2, kMaxDim);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      r.fail("num_attention_heads", fmt::format("hidden_size {} is not divisible by {} and no head_dim is given",
                                                c.hidden_size, c.num_attention_heads));
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) r.fail("head_dim", fmt::format("RoPE needs an even head_dim, got {}", c.head_dim));
  if (double n = approx_params(c); n > kMaxParams)
    r.fail("hidden_size", fmt::format("these sizes give {:.3g} parameters; expected at most 2^50 (~1.1e15)", n));

  // Defaults are those of the transformers config classes when a key is absent.
  c.rms_norm_eps = r.positive_double_or(j, "rms_norm_eps", 1e-6);
  c.tie_word_embeddings = r.bool_or(j, "tie_word_embeddings", false);
  c.hidden_act = r.string_or(j, "hidden_act", "silu");
  if (c.hidden_act != "silu")
    r.fail("hidden_act", fmt::format("unsupported activation '{}'; expected \"silu\"", c.hidden_act));
  c.torch_dtype = r.string_or(j, "torch_dtype", r.string_or(j, "dtype", "float32"));
  int64_t default_max_pos = c.architecture == Architecture::Llama     ? 2048
                            : c.architecture == Architecture::Mistral ? 4096 * 32
                                                                      : 32768;
  c.max_position_embeddings = r.int_or(j, "max_position_embeddings", default_max_pos, 1, kMaxPositions);

  bool attention_bias = r.bool_or(j, "attention_bias", false);
  if (r.bool_or(j, "mlp_bias", false)) r.fail("mlp_bias", "MLP biases are not supported; expected false");
  switch (c.architecture) {
    case Architecture::Llama:
    case Architecture::Qwen3:
      c.attention_bias = c.o_proj_bias = attention_bias;
      break;
    case Architecture::Qwen2:
      c.attention_bias = true;  // Qwen2 always has q/k/v bias and never an o_proj bias
      c.o_proj_bias = false;
      break;
    case Architecture::Mistral:
      if (attention_bias) r.fail("attention_bias", "MistralForCausalLM has no attention biases; expected false");
      break;
  }
  c.qk_norm = c.architecture == Architecture::Qwen3;

  if (c.architecture == Architecture::Mistral) {
    c.sliding_window = r.int_or(j, "sliding_window", 0, 1, kMaxPositions);
  } else if (c.architecture == Architecture::Qwen2 || c.architecture == Architecture::Qwen3) {
    if (r.bool_or(j, "use_sliding_window", false))
      r.fail("use_sliding_window", "per-layer sliding windows (max_window_layers) are not supported; expected false");
  }

  // RoPE: rope_theta + rope_scaling, or the newer combined rope_parameters.
  const json* rope = nullptr;
  const char* rope_key = "rope_scaling";
  c.rope_theta = r.positive_double_or(j, "rope_theta", 10000.0);
  if (ConfigReader::present(j, "rope_parameters")) {
    rope = &j.at("rope_parameters");
    rope_key = "rope_parameters";
    if (!rope->is_object()) r.fail(rope_key, "expected an object");
    c.rope_theta = r.positive_double_or(*rope, "rope_theta", c.rope_theta, rope_key);
  } else if (ConfigReader::present(j, "rope_scaling")) {
    rope = &j.at("rope_scaling");
    if (!rope->is_object()) r.fail(rope_key, fmt::format("expected an object or null, got {}", rope->dump()));
  }
  if (rope) {
    std::string type = r.string_or(*rope, "rope_type", r.string_or(*rope, "type", "default"));
    if (type == "llama3") {
      RopeScaling& s = c.rope_scaling;
      s.type = RopeScalingType::Llama3;
      for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
        if (!ConfigReader::present(*rope, k))
          r.fail(rope_key, fmt::format("llama3 scaling needs '{}'", k));
      s.factor = r.positive_double_or(*rope, "factor", 1.0, rope_key);
      s.low_freq_factor = r.positive_double_or(*rope, "low_freq_factor", 1.0, rope_key);
      s.high_freq_factor = r.positive_double_or(*rope, "high_freq_factor", 4.0, rope_key);
      s.original_max_position_embeddings = r.int_or(*rope, "original_max_position_embeddings", 0, 1, kMaxPositions, rope_key);
      if (!(s.high_freq_factor > s.low_freq_factor))
        r.fail("high_freq_factor", "expected high_freq_factor > low_freq_factor", rope_key);
    } else if (type != "default") {
      r.fail(rope_key, fmt::format("unsupported RoPE scaling type '{}'; expected null, \"default\" or \"llama3\"", type));
    }
  }
  return c;
}

ModelConfig parse_hf_config(const std::filesystem::path& path) {
  std::string text = read_text_file(path);
  return parse_hf_config_text(text, path.string());
}

std::string hf_config_json(const ModelConfig& c) {
  json j;
  j["architectures"] = json::array({std::string(architecture_name(c.architecture))});
  for (const auto& a : kArchs)
    if (a.arch == c.architecture) j["model_type"] = a.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type == RopeScalingType::Llama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.architecture != Architecture::Qwen2 && c.architecture != Architecture::Mistral)
    j["attention_bias"] = c.attention_bias;
  if (c.architecture == Architecture::Mistral)
    j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["hidden_act"] = c.hidden_act;
  j["torch_dtype"] = c.torch_dtype;
  return j.dump(2) + "\n";
}

uint64_t ModelConfig::linear_param_count() const {
  uint64_t h = static_cast<uint64_t>(hidden_size);
  uint64_t per_layer = h * static_cast<uint64_t>(q_dim()) * 2 + h * static_cast<uint64_t>(kv_dim()) * 2 +
                       3 * h * static_cast<uint64_t>(intermediate_size);
  uint64_t n = per_layer * static_cast<uint64_t>(num_hidden_layers);
  if (!tie_word_embeddings) n += static_cast<uint64_t>(vocab_size) * h;
  return n;
}

uint64_t ModelConfig::param_count() const {
  uint64_t h = static_cast<uint64_t>(hidden_size);
  uint64_t per_layer = 2 * h;  // input and post-attention norms
  if (attention_bias) per_layer += static_cast<uint64_t>(q_dim() + 2 * kv_dim());
  if (o_proj_bias) per_layer += h;
  if (qk_norm) per_layer += 2 * static_cast<uint64_t>(head_dim);
  return linear_param_count() + per_layer * static_cast<uint64_t>(num_hidden_layers) +
         static_cast<uint64_t>(vocab_size) * h + h;  // embedding + final norm
}

uint64_t ModelConfig::weight_bytes(double bits) const {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(param_count()) * bits / 8.0));
}

uint64_t ModelConfig::kv_cache_bytes(uint64_t tokens, uint64_t batch, double bits) const {
  double elems = 2.0 * static_cast<double>(num_hidden_layers) * static_cast<double>(kv_dim()) *
                 static_cast<double>(tokens) * static_cast<double>(batch);
  return static_cast<uint64_t>(std::ceil(elems * bits / 8.0));
}

// ---- presets (dimensions from the published config.json files; sources in docs/models.md) ----

namespace {
ModelConfig llama_like(std::string name, int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads,
                       int64_t kv_heads, int64_t head_dim, double theta, double eps, bool tied, int64_t max_pos) {
  ModelConfig c;
  c.name = std::move(name);
  c.architecture = Architecture::Llama;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = head_dim;
  c.rope_theta = theta;
  c.rms_norm_eps = eps;
  c.tie_word_embeddings = tied;
  c.max_position_embeddings = max_pos;
  c.torch_dtype = "bfloat16";
  return c;
}
RopeScaling llama3_scaling(double factor) {
  return RopeScaling{RopeScalingType::Llama3, factor, 1.0, 4.0, 8192};
}
}  // namespace

std::vector<std::string> model_preset_names() {
  return {"tiny", "tiny-qwen2", "tiny-qwen3", "smollm2-135m", "llama-3.2-1b", "llama-3.1-8b", "llama-3.3-70b",
          "qwen3-8b"};
}

ModelConfig model_preset(std::string_view name) {
  if (name == "tiny") {
    ModelConfig c = llama_like("tiny", 512, 256, 512, 2, 8, 2, 32, 10000.0, 1e-5, false, 2048);
    c.torch_dtype = "float32";
    return c;
  }
  // Tiny Qwen variants (same scale as "tiny") for end-to-end checks of the architecture features:
  // Qwen2 q/k/v biases (tied embeddings as Qwen2-0.5B); Qwen3 per-head q/k RMSNorm with an
  // explicit head_dim (16 heads of 32 > hidden 256 / 16).
  if (name == "tiny-qwen2") {
    ModelConfig c = llama_like("tiny-qwen2", 512, 256, 512, 2, 8, 2, 32, 1000000.0, 1e-6, true, 32768);
    c.architecture = Architecture::Qwen2;
    c.attention_bias = true;
    c.torch_dtype = "float32";
    return c;
  }
  if (name == "tiny-qwen3") {
    ModelConfig c = llama_like("tiny-qwen3", 512, 256, 512, 2, 16, 4, 32, 1000000.0, 1e-6, false, 32768);
    c.architecture = Architecture::Qwen3;
    c.qk_norm = true;
    c.torch_dtype = "float32";
    return c;
  }
  if (name == "smollm2-135m") return llama_like("smollm2-135m", 49152, 576, 1536, 30, 9, 3, 64, 100000.0, 1e-5, true, 8192);
  if (name == "llama-3.2-1b") {
    ModelConfig c = llama_like("llama-3.2-1b", 128256, 2048, 8192, 16, 32, 8, 64, 500000.0, 1e-5, true, 131072);
    c.rope_scaling = llama3_scaling(32.0);
    return c;
  }
  if (name == "llama-3.1-8b") {
    ModelConfig c = llama_like("llama-3.1-8b", 128256, 4096, 14336, 32, 32, 8, 128, 500000.0, 1e-5, false, 131072);
    c.rope_scaling = llama3_scaling(8.0);
    return c;
  }
  if (name == "llama-3.3-70b") {
    ModelConfig c = llama_like("llama-3.3-70b", 128256, 8192, 28672, 80, 64, 8, 128, 500000.0, 1e-5, false, 131072);
    c.rope_scaling = llama3_scaling(8.0);
    return c;
  }
  if (name == "qwen3-8b") {
    ModelConfig c = llama_like("qwen3-8b", 151936, 4096, 12288, 36, 32, 8, 128, 1000000.0, 1e-6, false, 40960);
    c.architecture = Architecture::Qwen3;
    c.qk_norm = true;
    return c;
  }
  std::string names;
  for (const auto& n : model_preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw InputError(fmt::format("error: unknown model preset '{}'; expected one of: {}", name, names));
}

}  // namespace plena::model

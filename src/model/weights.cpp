// Weight container, required-tensor table and seeded random weights.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>

#include "model/model.hpp"
#include "support/big_buffer.hpp"
#include "support/support.hpp"

namespace plena::model {

namespace {
[[noreturn]] void missing(const std::string& name) { throw InputError(fmt::format("error: missing tensor '{}'", name)); }
}  // namespace

const Tensor& ModelWeights::converted_entry(std::map<std::string, Tensor>::iterator it) const {
  auto p = pending_.find(it->first);
  if (p == pending_.end()) return it->second;
  Tensor& t = it->second;
  t.data = zeroed_floats(t.numel());
  p->second(t.data);
  pending_.erase(p);  // also releases what the fill held (e.g. the file mapping)
  return t;
}

const Tensor& ModelWeights::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) missing(name);
  return converted_entry(it);
}

Tensor& ModelWeights::get_mut(const std::string& name) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) missing(name);
  converted_entry(it);
  bf16_.erase(name);  // the caller may change the values
  return it->second;
}

std::span<const uint16_t> ModelWeights::bf16_values(const std::string& name) const {
  auto it = bf16_.find(name);
  return it == bf16_.end() ? std::span<const uint16_t>() : it->second.values;
}

void ModelWeights::read(const std::string& name, size_t first, std::span<float> out) const {
  const std::span<const uint16_t> b = bf16_values(name);
  const size_t n = b.empty() ? get(name).data.size() : b.size();
  if (first > n || out.size() > n - first)
    throw InputError(fmt::format("error: elements [{}, {}) of tensor '{}' ({} elements)", first, first + out.size(),
                                 name, n));
  if (b.empty()) {
    std::copy_n(get(name).data.begin() + std::ptrdiff_t(first), out.size(), out.begin());
    return;
  }
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(uint32_t(b[first + i]) << 16);
}

const std::vector<size_t>& ModelWeights::shape(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) missing(name);
  return it->second.shape;
}

void ModelWeights::set(const std::string& name, Tensor t) {
  pending_.erase(name);
  bf16_.erase(name);
  tensors_[name] = std::move(t);
}

void ModelWeights::set_lazy(const std::string& name, std::vector<size_t> shape, Fill fill, Bf16Source bf16) {
  size_t numel = 1;
  for (size_t d : shape) numel *= d;
  bf16_.erase(name);
  if (!bf16.values.empty() && bf16.values.size() == numel) bf16_[name] = std::move(bf16);
  tensors_[name] = Tensor{std::move(shape), {}};
  pending_[name] = std::move(fill);
}

const std::map<std::string, Tensor>& ModelWeights::all() const {
  for (auto it = tensors_.begin(); it != tensors_.end(); ++it) converted_entry(it);
  return tensors_;
}

std::vector<std::string> ModelWeights::names() const {
  std::vector<std::string> v;
  for (const auto& [n, t] : tensors_) v.push_back(n);
  return v;
}

const Tensor& ModelWeights::lm_head(const ModelConfig& cfg) const {
  return get(cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
}

std::vector<std::pair<std::string, std::vector<size_t>>> expected_tensors(const ModelConfig& c) {
  auto z = [](int64_t v) { return static_cast<size_t>(v); };
  const size_t h = z(c.hidden_size), q = z(c.q_dim()), kv = z(c.kv_dim()), inter = z(c.intermediate_size);
  std::vector<std::pair<std::string, std::vector<size_t>>> v;
  v.push_back({"model.embed_tokens.weight", {z(c.vocab_size), h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    std::string p = fmt::format("model.layers.{}.", i);
    v.push_back({p + "input_layernorm.weight", {h}});
    v.push_back({p + "self_attn.q_proj.weight", {q, h}});
    v.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    v.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    v.push_back({p + "self_attn.o_proj.weight", {h, q}});
    if (c.attention_bias) {
      v.push_back({p + "self_attn.q_proj.bias", {q}});
      v.push_back({p + "self_attn.k_proj.bias", {kv}});
      v.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    if (c.o_proj_bias) v.push_back({p + "self_attn.o_proj.bias", {h}});
    if (c.qk_norm) {
      v.push_back({p + "self_attn.q_norm.weight", {z(c.head_dim)}});
      v.push_back({p + "self_attn.k_norm.weight", {z(c.head_dim)}});
    }
    v.push_back({p + "post_attention_layernorm.weight", {h}});
    v.push_back({p + "mlp.gate_proj.weight", {inter, h}});
    v.push_back({p + "mlp.up_proj.weight", {inter, h}});
    v.push_back({p + "mlp.down_proj.weight", {h, inter}});
  }
  v.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) v.push_back({"lm_head.weight", {z(c.vocab_size), h}});
  return v;
}

void validate_weights(const ModelConfig& cfg, const ModelWeights& w, std::string_view source) {
  for (const auto& [name, shape] : expected_tensors(cfg)) {
    if (!w.has(name))
      throw_input(source, 0, 0,
                  fmt::format("missing tensor '{}' (expected shape [{}] for {})", name, fmt::join(shape, ", "),
                              architecture_name(cfg.architecture)));
    // Shapes first: a lazy tensor is not converted to be checked (its fill writes numel values).
    const std::vector<size_t>& have = w.shape(name);
    if (have != shape)
      throw_input(source, 0, 0,
                  fmt::format("tensor '{}' has shape [{}]; expected [{}]", name, fmt::join(have, ", "),
                              fmt::join(shape, ", ")));
    if (!w.converted(name)) continue;
    const Tensor& t = w.get(name);
    if (t.data.size() != t.numel())
      throw_input(source, 0, 0, fmt::format("tensor '{}' holds {} values for shape [{}]", name, t.data.size(),
                                            fmt::join(t.shape, ", ")));
  }
}

namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// Uniform in [-1, 1) from the top 24 bits: exact in f32, identical on every platform.
float uniform_pm1(uint64_t& state) {
  return static_cast<float>(static_cast<int32_t>(splitmix64(state) >> 40) - (1 << 23)) * 0x1p-23f;
}
}  // namespace

ModelWeights make_random_weights(const ModelConfig& cfg, uint64_t seed) {
  // Uniform on [-a, a] has std a/sqrt(3); a = 0.02*sqrt(3) matches the HF initializer_range std.
  const float matrix_amp = 0.034641016f;
  ModelWeights w;
  for (const auto& [name, shape] : expected_tensors(cfg)) {
    // A stream per tensor name, so adding tensors never shifts the values of others.
    uint64_t state = fnv1a64(name, seed ^ 0xcbf29ce484222325ull);
    Tensor t;
    t.shape = shape;
    t.data.resize(t.numel());
    bool is_norm = name.find("norm.weight") != std::string::npos;
    for (float& x : t.data) {
      float u = uniform_pm1(state);
      x = is_norm ? 1.0f + 0.1f * u : matrix_amp * u;
    }
    w.set(name, std::move(t));
  }
  return w;
}

}  // namespace plena::model

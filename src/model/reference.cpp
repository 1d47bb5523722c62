// Host fp32 reference forward pass. Transcendentals are evaluated in double and rounded once to
// f32 so results do not depend on the platform's float libm.
#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::model {

float dot_f32(const float* a, const float* b, size_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) s[i % 8] += a[i] * b[i];
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

float dot_bf16(const float* a, const uint16_t* b, size_t n) {
  auto f = [](uint16_t u) { return std::bit_cast<float>(uint32_t(u) << 16); };
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) s[j] += a[i + j] * f(b[i + j]);
  for (; i < n; ++i) s[i % 8] += a[i] * f(b[i]);
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

void linear(const float* x, size_t rows, size_t in, const float* w, size_t out, const float* bias, float* y) {
  // Weight row outer so each W row is read from memory once per call (results do not depend on
  // the loop order: every output is one dot_f32).
  for (size_t o = 0; o < out; ++o) {
    const float* wo = w + o * in;
    for (size_t r = 0; r < rows; ++r) {
      float acc = dot_f32(x + r * in, wo, in);
      y[r * out + o] = bias ? acc + bias[o] : acc;
    }
  }
}

void rmsnorm(const float* x, size_t rows, size_t n, const float* w, double eps, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float mean = dot_f32(xr, xr, n) / static_cast<float>(n);
    float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(mean + static_cast<float>(eps))));
    for (size_t i = 0; i < n; ++i) yr[i] = (xr[i] * inv) * w[i];
  }
}

float silu(float x) {
  float e = static_cast<float>(std::exp(-static_cast<double>(x)));
  return x / (1.0f + e);
}

void swiglu(const float* gate, const float* up, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void softmax(float* x, size_t n) {
  if (n == 0) return;
  float m = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(std::exp(static_cast<double>(x[i] - m)));
    sum += x[i];
  }
  for (size_t i = 0; i < n; ++i) x[i] /= sum;
}

std::vector<float> rope_inv_freq(int64_t head_dim, double theta, const RopeScaling& sc) {
  const size_t half = static_cast<size_t>(head_dim / 2);
  std::vector<float> inv(half);
  for (size_t i = 0; i < half; ++i) {
    // As transformers: exponent (2i)/d in f32, theta^e, then 1/x in f32.
    float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    float p = static_cast<float>(std::pow(theta, static_cast<double>(e)));
    inv[i] = 1.0f / p;
  }
  if (sc.type == RopeScalingType::Llama3) {
    // transformers _compute_llama3_parameters: long wavelengths divided by `factor`, short ones
    // kept, and a linear blend (in 1/wavelength) between the two thresholds.
    const double old_ctx = static_cast<double>(sc.original_max_position_embeddings);
    const double low_wavelen = old_ctx / sc.low_freq_factor;
    const double high_wavelen = old_ctx / sc.high_freq_factor;
    for (float& f : inv) {
      double fd = f;
      double wavelen = 2.0 * std::numbers::pi / fd;
      double r = fd;
      if (wavelen > low_wavelen) {
        r = fd / sc.factor;
      } else if (wavelen >= high_wavelen) {
        double smooth = (old_ctx / wavelen - sc.low_freq_factor) / (sc.high_freq_factor - sc.low_freq_factor);
        r = (1.0 - smooth) * fd / sc.factor + smooth * fd;
      }
      f = static_cast<float>(r);
    }
  }
  return inv;
}

std::vector<float> rope_inv_freq(const ModelConfig& cfg) {
  return rope_inv_freq(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling);
}

void rope_apply(float* x, size_t d, int64_t pos, const std::vector<float>& inv_freq) {
  const size_t half = d / 2;
  for (size_t i = 0; i < half; ++i) {
    float angle = static_cast<float>(pos) * inv_freq[i];
    float c = static_cast<float>(std::cos(static_cast<double>(angle)));
    float s = static_cast<float>(std::sin(static_cast<double>(angle)));
    float x1 = x[i], x2 = x[i + half];
    x[i] = x1 * c + (-x2) * s;
    x[i + half] = x2 * c + x1 * s;
  }
}

void attention(const float* q, size_t n_q, int64_t q_pos0, const float* k, const float* v, size_t n_kv, size_t heads,
               size_t kv_heads, size_t d, float scale, int64_t window, float* out) {
  const size_t group = heads / kv_heads;
  const size_t kv_stride = kv_heads * d;
  std::vector<float> p(n_kv);
  for (size_t r = 0; r < n_q; ++r) {
    const int64_t pos = q_pos0 + static_cast<int64_t>(r);
    const size_t hi = static_cast<size_t>(std::min<int64_t>(pos, static_cast<int64_t>(n_kv) - 1));  // inclusive
    const size_t lo = window > 0 && pos - window + 1 > 0 ? static_cast<size_t>(pos - window + 1) : 0;
    for (size_t h = 0; h < heads; ++h) {
      const float* qh = q + (r * heads + h) * d;
      const size_t kvh = h / group;
      const size_t cnt = hi - lo + 1;
      for (size_t j = 0; j < cnt; ++j) p[j] = dot_f32(qh, k + (lo + j) * kv_stride + kvh * d, d) * scale;
      softmax(p.data(), cnt);
      float* oh = out + (r * heads + h) * d;
      std::fill(oh, oh + d, 0.0f);
      for (size_t j = 0; j < cnt; ++j) {
        const float* vj = v + (lo + j) * kv_stride + kvh * d;
        for (size_t i = 0; i < d; ++i) oh[i] += p[j] * vj[i];
      }
    }
  }
}

size_t argmax(const float* x, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------

HostReference::HostReference(const ModelConfig& cfg, const ModelWeights& w) : cfg_(cfg) {
  validate_weights(cfg, w, cfg.name.empty() ? "<weights>" : cfg.name);
  weights_ = &w;
  final_norm_ = &w.get("model.norm.weight");
  // Matrices (the vocabulary-sized head above all) with a bf16 source are read in place.
  lm_head_ = matrix(w, cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  embed_bf16_ = w.bf16_values("model.embed_tokens.weight");
  auto opt = [&](const std::string& n, bool on) { return on ? &w.get(n) : nullptr; };
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    std::string p = fmt::format("model.layers.{}.", i);
    Layer L{};
    L.attn_norm = &w.get(p + "input_layernorm.weight");
    L.q = matrix(w, p + "self_attn.q_proj.weight");
    L.k = matrix(w, p + "self_attn.k_proj.weight");
    L.v = matrix(w, p + "self_attn.v_proj.weight");
    L.o = matrix(w, p + "self_attn.o_proj.weight");
    L.q_bias = opt(p + "self_attn.q_proj.bias", cfg.attention_bias);
    L.k_bias = opt(p + "self_attn.k_proj.bias", cfg.attention_bias);
    L.v_bias = opt(p + "self_attn.v_proj.bias", cfg.attention_bias);
    L.o_bias = opt(p + "self_attn.o_proj.bias", cfg.o_proj_bias);
    L.q_norm = opt(p + "self_attn.q_norm.weight", cfg.qk_norm);
    L.k_norm = opt(p + "self_attn.k_norm.weight", cfg.qk_norm);
    L.mlp_norm = &w.get(p + "post_attention_layernorm.weight");
    L.gate = matrix(w, p + "mlp.gate_proj.weight");
    L.up = matrix(w, p + "mlp.up_proj.weight");
    L.down = matrix(w, p + "mlp.down_proj.weight");
    layers_.push_back(L);
  }
  inv_freq_ = rope_inv_freq(cfg);
}

HostReference::Matrix HostReference::matrix(const ModelWeights& w, const std::string& name) {
  const std::span<const uint16_t> b = w.bf16_values(name);
  return b.empty() ? Matrix{w.get(name).data.data(), nullptr} : Matrix{nullptr, b.data()};
}

void HostReference::linear(const float* x, size_t rows, size_t in, const Matrix& w, size_t out, const float* bias,
                           float* y) {
  if (w.f32) return model::linear(x, rows, in, w.f32, out, bias, y);
  for (size_t o = 0; o < out; ++o)
    for (size_t r = 0; r < rows; ++r) {
      const float acc = dot_bf16(x + r * in, w.bf16 + o * in, in);
      y[r * out + o] = bias ? acc + bias[o] : acc;
    }
}

KVCache HostReference::new_cache() const {
  KVCache c;
  c.k.resize(static_cast<size_t>(cfg_.num_hidden_layers));
  c.v.resize(static_cast<size_t>(cfg_.num_hidden_layers));
  return c;
}

namespace {
const float* data_or_null(const Tensor* t) { return t ? t->data.data() : nullptr; }
void put(Capture* cap, const std::string& key, const std::vector<float>& v, size_t rows, size_t width) {
  if (!cap) return;
  (*cap)[key] = Tensor{{rows, width}, std::vector<float>(v.begin(), v.begin() + static_cast<long>(rows * width))};
}
// Applies `round` to each of the first `rows` rows of `v` (no-op when unset).
void round_rows(const std::function<void(std::span<float>)>& round, std::vector<float>& v, size_t rows,
                size_t width) {
  if (!round) return;
  for (size_t r = 0; r < rows; ++r) round(std::span<float>(v.data() + r * width, width));
}
}  // namespace

Tensor HostReference::forward(KVCache& cache, std::span<const TokenId> tokens, bool all_logits,
                              Capture* capture) const {
  const size_t n = tokens.size();
  if (n == 0) throw InputError("error: forward pass needs at least one token");
  const size_t L = static_cast<size_t>(cfg_.num_hidden_layers);
  if (cache.k.size() != L || cache.v.size() != L)
    throw InputError(fmt::format("error: KV cache has {} layers; expected {}", cache.k.size(), L));
  const size_t h = static_cast<size_t>(cfg_.hidden_size), qd = static_cast<size_t>(cfg_.q_dim()),
               kvd = static_cast<size_t>(cfg_.kv_dim()), inter = static_cast<size_t>(cfg_.intermediate_size),
               hd = static_cast<size_t>(cfg_.head_dim), heads = static_cast<size_t>(cfg_.num_attention_heads),
               kvh = static_cast<size_t>(cfg_.num_key_value_heads), vocab = static_cast<size_t>(cfg_.vocab_size);
  const int64_t pos0 = cache.length;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));

  std::vector<float> x(n * h), xn(n * h), q(n * qd), k(n * kvd), v(n * kvd), att(n * qd), o(n * h);
  std::vector<float> gate(n * inter), up(n * inter), act(n * inter), down(n * h);
  for (size_t t = 0; t < n; ++t) {
    if (tokens[t] < 0 || static_cast<int64_t>(tokens[t]) >= cfg_.vocab_size)
      throw InputError(fmt::format("error: token id {} at index {} is outside the vocabulary [0, {})", tokens[t], t,
                                   cfg_.vocab_size));
    if (rounding_.embedding_row) {
      rounding_.embedding_row(tokens[t], std::span<float>(x.data() + t * h, h));
      continue;
    }
    if (!embed_bf16_.empty()) {
      weights_->read("model.embed_tokens.weight", static_cast<size_t>(tokens[t]) * h, std::span<float>(x.data() + t * h, h));
      continue;
    }
    if (!embed_) embed_ = &weights_->get("model.embed_tokens.weight");
    std::copy_n(embed_->data.data() + static_cast<size_t>(tokens[t]) * h, h, x.data() + t * h);
  }
  // Every stage output is rounded (when the reference emulates a lower precision) and captured.
  auto stage = [&](const std::string& key, std::vector<float>& v, size_t rows, size_t width) {
    round_rows(rounding_.activation, v, rows, width);
    put(capture, key, v, rows, width);
  };
  stage("embed", x, n, h);

  for (size_t l = 0; l < L; ++l) {
    const Layer& W = layers_[l];
    const std::string pre = capture ? fmt::format("layers.{}.", l) : std::string();
    stage(pre + "input", x, n, h);
    rmsnorm(x.data(), n, h, W.attn_norm->data.data(), cfg_.rms_norm_eps, xn.data());
    stage(pre + "attn_norm", xn, n, h);
    linear(xn.data(), n, h, W.q, qd, data_or_null(W.q_bias), q.data());
    linear(xn.data(), n, h, W.k, kvd, data_or_null(W.k_bias), k.data());
    linear(xn.data(), n, h, W.v, kvd, data_or_null(W.v_bias), v.data());
    stage(pre + "q", q, n, qd);
    stage(pre + "k", k, n, kvd);
    stage(pre + "v", v, n, kvd);
    if (cfg_.qk_norm) {
      // Per-head RMSNorm over head_dim (in place is safe: each row is read before it is written).
      rmsnorm(q.data(), n * heads, hd, W.q_norm->data.data(), cfg_.rms_norm_eps, q.data());
      rmsnorm(k.data(), n * kvh, hd, W.k_norm->data.data(), cfg_.rms_norm_eps, k.data());
      stage(pre + "q_norm", q, n, qd);
      stage(pre + "k_norm", k, n, kvd);
    }
    for (size_t t = 0; t < n; ++t) {
      const int64_t pos = pos0 + static_cast<int64_t>(t);
      for (size_t hh = 0; hh < heads; ++hh) rope_apply(q.data() + t * qd + hh * hd, hd, pos, inv_freq_);
      for (size_t hh = 0; hh < kvh; ++hh) rope_apply(k.data() + t * kvd + hh * hd, hd, pos, inv_freq_);
    }
    stage(pre + "q_rope", q, n, qd);
    stage(pre + "k_rope", k, n, kvd);
    round_rows(rounding_.kv_row, k, n, kvd);
    round_rows(rounding_.kv_row, v, n, kvd);
    cache.k[l].insert(cache.k[l].end(), k.begin(), k.end());
    cache.v[l].insert(cache.v[l].end(), v.begin(), v.end());
    const size_t n_kv = static_cast<size_t>(pos0) + n;
    attention(q.data(), n, pos0, cache.k[l].data(), cache.v[l].data(), n_kv, heads, kvh, hd, scale,
              cfg_.sliding_window, att.data());
    stage(pre + "attn", att, n, qd);
    linear(att.data(), n, qd, W.o, h, data_or_null(W.o_bias), o.data());
    stage(pre + "o_proj", o, n, h);
    for (size_t i = 0; i < n * h; ++i) x[i] += o[i];
    stage(pre + "attn_residual", x, n, h);

    rmsnorm(x.data(), n, h, W.mlp_norm->data.data(), cfg_.rms_norm_eps, xn.data());
    stage(pre + "mlp_norm", xn, n, h);
    linear(xn.data(), n, h, W.gate, inter, nullptr, gate.data());
    linear(xn.data(), n, h, W.up, inter, nullptr, up.data());
    stage(pre + "gate", gate, n, inter);
    stage(pre + "up", up, n, inter);
    swiglu(gate.data(), up.data(), n * inter, act.data());
    stage(pre + "act", act, n, inter);
    linear(act.data(), n, inter, W.down, h, nullptr, down.data());
    stage(pre + "down", down, n, h);
    for (size_t i = 0; i < n * h; ++i) x[i] += down[i];
    stage(pre + "output", x, n, h);
  }
  cache.length += static_cast<int64_t>(n);

  rmsnorm(x.data(), n, h, final_norm_->data.data(), cfg_.rms_norm_eps, xn.data());
  stage("final_norm", xn, n, h);
  const size_t first = all_logits ? 0 : n - 1;
  const size_t rows = n - first;
  Tensor logits{{rows, vocab}, std::vector<float>(rows * vocab)};
  linear(xn.data() + first * h, rows, h, lm_head_, vocab, nullptr, logits.data.data());
  round_rows(rounding_.activation, logits.data, rows, vocab);
  if (capture) (*capture)["logits"] = logits;
  return logits;
}

std::vector<Tensor> HostReference::prefill(std::vector<KVCache>& caches,
                                           const std::vector<std::vector<TokenId>>& prompts, bool all_logits) const {
  if (caches.size() != prompts.size())
    throw InputError(fmt::format("error: {} caches for {} prompts", caches.size(), prompts.size()));
  std::vector<Tensor> out;
  for (size_t b = 0; b < prompts.size(); ++b) out.push_back(forward(caches[b], prompts[b], all_logits));
  return out;
}

Tensor HostReference::decode(std::vector<KVCache>& caches, std::span<const TokenId> tokens) const {
  if (caches.size() != tokens.size())
    throw InputError(fmt::format("error: {} caches for {} decode tokens", caches.size(), tokens.size()));
  const size_t vocab = static_cast<size_t>(cfg_.vocab_size);
  Tensor out{{tokens.size(), vocab}, std::vector<float>(tokens.size() * vocab)};
  for (size_t b = 0; b < tokens.size(); ++b) {
    Tensor l = forward(caches[b], tokens.subspan(b, 1), false);
    std::copy(l.data.begin(), l.data.end(), out.data.begin() + static_cast<long>(b * vocab));
  }
  return out;
}

std::vector<std::vector<TokenId>> HostReference::generate_greedy(const std::vector<std::vector<TokenId>>& prompts,
                                                                 size_t max_new_tokens) const {
  const size_t vocab = static_cast<size_t>(cfg_.vocab_size);
  std::vector<KVCache> caches(prompts.size(), new_cache());
  std::vector<std::vector<TokenId>> out(prompts.size());
  if (max_new_tokens == 0) return out;
  std::vector<Tensor> first = prefill(caches, prompts, false);
  std::vector<TokenId> next(prompts.size());
  for (size_t b = 0; b < prompts.size(); ++b) next[b] = static_cast<TokenId>(argmax(first[b].data.data(), vocab));
  for (size_t step = 0;; ++step) {
    for (size_t b = 0; b < prompts.size(); ++b) out[b].push_back(next[b]);
    if (step + 1 == max_new_tokens) break;
    Tensor logits = decode(caches, next);
    for (size_t b = 0; b < prompts.size(); ++b)
      next[b] = static_cast<TokenId>(argmax(logits.data.data() + b * vocab, vocab));
  }
  return out;
}

}  // namespace plena::model

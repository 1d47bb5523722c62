// Host fp32 reference: building blocks against naive double implementations, and full-model
// properties (KV-cache consistency, causality, GQA equivalence, Qwen2/Qwen3/Mistral paths).
#include <cmath>
#include <numbers>
#include <set>

#include "test_util.hpp"

namespace plena::model {
namespace {
using testing::expect_input_error;

// Independent test PRNG (not the library's) for inputs.
struct Lcg {
  uint64_t s;
  double next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) * 0x1p-53 * 2.0 - 1.0;
  }
  std::vector<float> vec(size_t n, double amp = 1.0) {
    std::vector<float> v(n);
    for (float& x : v) x = static_cast<float>(amp * next());
    return v;
  }
};

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// Max |a-b| relative to max |b|, with a non-triviality check on b.
double rel_err(const float* a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < b.size(); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  double m = max_abs(b);
  EXPECT_GT(m, 1e-3) << "reference is (nearly) all zero";
  return d / m;
}

// ---- naive double building blocks ----

std::vector<double> naive_rmsnorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * w[i];
  return y;
}

std::vector<double> naive_inv_freq(const ModelConfig& c) {
  std::vector<double> f;
  for (int64_t i = 0; i < c.head_dim / 2; ++i) {
    double base = 1.0 / std::pow(c.rope_theta, 2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    if (c.rope_scaling.type == RopeScalingType::Llama3) {
      const auto& s = c.rope_scaling;
      double L = static_cast<double>(s.original_max_position_embeddings);
      double wl = 2 * std::numbers::pi / base;
      if (wl < L / s.high_freq_factor) {
      } else if (wl > L / s.low_freq_factor) {
        base /= s.factor;
      } else {
        double sm = (L / wl - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        base = (1 - sm) * base / s.factor + sm * base;
      }
    }
    f.push_back(base);
  }
  return f;
}

void naive_rope(double* x, size_t d, double pos, const std::vector<double>& inv) {
  for (size_t i = 0; i < d / 2; ++i) {
    double a = pos * inv[i], c = std::cos(a), s = std::sin(a);
    double x1 = x[i], x2 = x[i + d / 2];
    x[i] = x1 * c - x2 * s;
    x[i + d / 2] = x2 * c + x1 * s;
  }
}

std::vector<double> to_d(const float* p, size_t n) { return std::vector<double>(p, p + n); }

// y = W x + b in double; W [out, in].
std::vector<double> naive_linear(const Tensor& w, const std::vector<double>& x, const Tensor* b = nullptr) {
  size_t out = w.shape[0], in = w.shape[1];
  std::vector<double> y(out);
  for (size_t o = 0; o < out; ++o) {
    double acc = 0;
    for (size_t i = 0; i < in; ++i) acc += static_cast<double>(w.data[o * in + i]) * x[i];
    y[o] = acc + (b ? b->data[o] : 0.0);
  }
  return y;
}

// The whole model in double, recomputing attention over the full prefix for every position.
std::vector<std::vector<double>> naive_model(const ModelConfig& c, const ModelWeights& w,
                                             const std::vector<TokenId>& toks) {
  const size_t T = toks.size(), h = static_cast<size_t>(c.hidden_size), hd = static_cast<size_t>(c.head_dim);
  const size_t H = static_cast<size_t>(c.num_attention_heads), KV = static_cast<size_t>(c.num_key_value_heads);
  auto W = [&](const std::string& n) -> const Tensor& { return w.get(n); };
  auto Wd = [&](const std::string& n) { return to_d(w.get(n).data.data(), w.get(n).data.size()); };
  std::vector<double> inv = naive_inv_freq(c);
  std::vector<std::vector<double>> x(T);
  for (size_t t = 0; t < T; ++t) x[t] = to_d(W("model.embed_tokens.weight").data.data() + toks[t] * h, h);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    std::string p = fmt::format("model.layers.{}.", l);
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      auto xn = naive_rmsnorm(x[t], Wd(p + "input_layernorm.weight"), c.rms_norm_eps);
      auto bias = [&](const char* n) { return c.attention_bias ? &W(p + "self_attn." + n + ".bias") : nullptr; };
      q[t] = naive_linear(W(p + "self_attn.q_proj.weight"), xn, bias("q_proj"));
      k[t] = naive_linear(W(p + "self_attn.k_proj.weight"), xn, bias("k_proj"));
      v[t] = naive_linear(W(p + "self_attn.v_proj.weight"), xn, bias("v_proj"));
      for (size_t hh = 0; hh < H; ++hh) {
        if (c.qk_norm) {
          auto n = naive_rmsnorm({q[t].begin() + hh * hd, q[t].begin() + (hh + 1) * hd}, Wd(p + "self_attn.q_norm.weight"), c.rms_norm_eps);
          std::copy(n.begin(), n.end(), q[t].begin() + hh * hd);
        }
        naive_rope(q[t].data() + hh * hd, hd, static_cast<double>(t), inv);
      }
      for (size_t hh = 0; hh < KV; ++hh) {
        if (c.qk_norm) {
          auto n = naive_rmsnorm({k[t].begin() + hh * hd, k[t].begin() + (hh + 1) * hd}, Wd(p + "self_attn.k_norm.weight"), c.rms_norm_eps);
          std::copy(n.begin(), n.end(), k[t].begin() + hh * hd);
        }
        naive_rope(k[t].data() + hh * hd, hd, static_cast<double>(t), inv);
      }
    }
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> att(H * hd, 0.0);
      for (size_t hh = 0; hh < H; ++hh) {
        size_t g = hh / (H / KV);
        std::vector<double> s;
        size_t lo = c.sliding_window > 0 && t + 1 > static_cast<size_t>(c.sliding_window) ? t + 1 - c.sliding_window : 0;
        for (size_t j = lo; j <= t; ++j) {
          double d = 0;
          for (size_t i = 0; i < hd; ++i) d += q[t][hh * hd + i] * k[j][g * hd + i];
          s.push_back(d / std::sqrt(static_cast<double>(hd)));
        }
        double m = *std::max_element(s.begin(), s.end()), z = 0;
        for (double& e : s) z += (e = std::exp(e - m));
        for (size_t j = lo; j <= t; ++j)
          for (size_t i = 0; i < hd; ++i) att[hh * hd + i] += s[j - lo] / z * v[j][g * hd + i];
      }
      auto o = naive_linear(W(p + "self_attn.o_proj.weight"), att, c.o_proj_bias ? &W(p + "self_attn.o_proj.bias") : nullptr);
      for (size_t i = 0; i < h; ++i) x[t][i] += o[i];
      auto xn = naive_rmsnorm(x[t], Wd(p + "post_attention_layernorm.weight"), c.rms_norm_eps);
      auto g = naive_linear(W(p + "mlp.gate_proj.weight"), xn);
      auto u = naive_linear(W(p + "mlp.up_proj.weight"), xn);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      auto d = naive_linear(W(p + "mlp.down_proj.weight"), g);
      for (size_t i = 0; i < h; ++i) x[t][i] += d[i];
    }
  }
  std::vector<std::vector<double>> logits(T);
  const Tensor& head = c.tie_word_embeddings ? W("model.embed_tokens.weight") : W("lm_head.weight");
  for (size_t t = 0; t < T; ++t) logits[t] = naive_linear(head, naive_rmsnorm(x[t], Wd("model.norm.weight"), c.rms_norm_eps));
  return logits;
}

ModelConfig small(Architecture a) {
  ModelConfig c = model_preset("tiny");
  c.architecture = a;
  c.vocab_size = 96;
  c.hidden_size = 64;
  c.intermediate_size = 80;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 24;  // q_dim 96 != hidden: head_dim is not hidden/heads
  c.attention_bias = a == Architecture::Qwen2;
  c.qk_norm = a == Architecture::Qwen3;
  return c;
}

std::vector<TokenId> prompt(size_t n, int vocab, uint64_t seed) {
  Lcg g{seed};
  std::vector<TokenId> t(n);
  for (auto& x : t) x = static_cast<TokenId>((g.next() + 1.0) * 0.5 * vocab) % vocab;
  return t;
}

// ---- building blocks ----

TEST(ModelBlocks, LinearAndDotMatchDouble) {
  Lcg g{1};
  for (size_t in : {1u, 7u, 8u, 33u, 256u}) {
    auto x = g.vec(3 * in), w = g.vec(5 * in), b = g.vec(5);
    std::vector<float> y(15);
    linear(x.data(), 3, in, w.data(), 5, b.data(), y.data());
    std::vector<double> ref(15);
    for (size_t r = 0; r < 3; ++r)
      for (size_t o = 0; o < 5; ++o) {
        double a = b[o];
        for (size_t i = 0; i < in; ++i) a += static_cast<double>(x[r * in + i]) * w[o * in + i];
        ref[r * 5 + o] = a;
      }
    EXPECT_LT(rel_err(y.data(), ref), 1e-6) << in;
  }
  // The documented lane order: element i goes to lane i % 8.
  std::vector<float> a(9, 1.0f), one(9, 1.0f);
  a[0] = 1e8f;
  a[8] = -1e8f;  // same lane as a[0]: cancels exactly before the other lanes are added
  EXPECT_EQ(dot_f32(a.data(), one.data(), 9), 7.0f);
}

TEST(ModelBlocks, RmsnormSiluSwigluSoftmaxMatchDouble) {
  Lcg g{2};
  auto x = g.vec(2 * 96, 3.0), w = g.vec(96);
  std::vector<float> y(2 * 96);
  rmsnorm(x.data(), 2, 96, w.data(), 1e-5, y.data());
  for (size_t r = 0; r < 2; ++r) {
    auto ref = naive_rmsnorm(to_d(x.data() + r * 96, 96), to_d(w.data(), 96), 1e-5);
    EXPECT_LT(rel_err(y.data() + r * 96, ref), 1e-6);
  }
  // eps matters when the row is tiny.
  std::vector<float> tiny(4, 1e-4f), ones(4, 1.0f), out(4);
  rmsnorm(tiny.data(), 1, 4, ones.data(), 1e-6, out.data());
  EXPECT_NEAR(out[0], 1e-4 / std::sqrt(1e-8 + 1e-6), 1e-6);

  auto gate = g.vec(50, 8.0), up = g.vec(50, 2.0);
  std::vector<float> act(50);
  swiglu(gate.data(), up.data(), 50, act.data());
  std::vector<double> ref(50);
  for (size_t i = 0; i < 50; ++i) ref[i] = gate[i] / (1 + std::exp(-static_cast<double>(gate[i]))) * up[i];
  EXPECT_LT(rel_err(act.data(), ref), 1e-6);
  EXPECT_EQ(silu(0.0f), 0.0f);
  EXPECT_NEAR(silu(-20.0f), -20.0 / (1 + std::exp(20.0)), 1e-12);

  auto s = g.vec(37, 20.0);
  std::vector<double> sref(37);
  double m = -1e300, z = 0;
  for (float v : s) m = std::max(m, static_cast<double>(v));
  for (size_t i = 0; i < 37; ++i) z += (sref[i] = std::exp(s[i] - m));
  for (double& v : sref) v /= z;
  softmax(s.data(), 37);
  EXPECT_LT(rel_err(s.data(), sref), 1e-6);
}

TEST(ModelBlocks, RopeIsRotateHalfAndMatchesDouble) {
  // Pairs are (i, i + d/2), not interleaved (2i, 2i+1).
  std::vector<float> inv = {0.5f, 0.25f};
  std::vector<float> x = {1, 0, 0, 0};
  rope_apply(x.data(), 4, 3, inv);
  EXPECT_FLOAT_EQ(x[0], std::cos(1.5f));
  EXPECT_FLOAT_EQ(x[2], std::sin(1.5f));
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[3], 0.0f);
  // Position 0 is the identity.
  Lcg g{3};
  auto y = g.vec(32), y0 = y;
  ModelConfig c = model_preset("tiny");
  auto f = rope_inv_freq(c);
  rope_apply(y.data(), 32, 0, f);
  EXPECT_EQ(y, y0);
  auto fd = naive_inv_freq(c);
  for (int64_t pos : {1, 17, 100, 1000}) {
    auto z = g.vec(32);
    std::vector<double> ref = to_d(z.data(), 32);
    naive_rope(ref.data(), 32, static_cast<double>(pos), fd);
    rope_apply(z.data(), 32, pos, f);
    // The angle pos*inv_freq is rounded to f32 (as transformers does): error ~ pos * 2^-24.
    EXPECT_LT(rel_err(z.data(), ref), 2e-7 * static_cast<double>(pos) + 1e-6) << pos;
  }
}

TEST(ModelBlocks, Llama3RopeScalingHandComputed) {
  RopeScaling s{RopeScalingType::Llama3, 8.0, 1.0, 4.0, 8192};
  auto f = rope_inv_freq(8, 500000.0, s);
  // theta^(-2i/8) = 1, 0.0376060309, 0.00141421356, 5.3182959e-5; wavelengths 6.3, 167, 4443, 118144
  // against thresholds 2048 (high) and 8192 (low): kept, kept, blended, divided by 8.
  ASSERT_EQ(f.size(), 4u);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[1], 0.03760603093086393f);
  EXPECT_FLOAT_EQ(f[2], 0.0005248461609929547f);
  EXPECT_FLOAT_EQ(f[3], 6.647869871181236e-06f);
  auto none = rope_inv_freq(8, 500000.0, RopeScaling{});
  EXPECT_FLOAT_EQ(none[3], 5.318295896944989e-05f);
  // The real LLaMA-3.1 tables: the highest frequencies are unchanged, the lowest divided by 8.
  ModelConfig l = model_preset("llama-3.1-8b");
  auto fl = rope_inv_freq(l);
  auto fn = rope_inv_freq(l.head_dim, l.rope_theta, RopeScaling{});
  EXPECT_EQ(fl[0], fn[0]);
  EXPECT_FLOAT_EQ(fl[63], fn[63] / 8.0f);
}

TEST(ModelBlocks, AttentionCausalGqaWindowMatchesDouble) {
  const size_t heads = 4, kvh = 2, d = 8, n_kv = 6, n_q = 3;
  const int64_t pos0 = 3;
  Lcg g{4};
  auto q = g.vec(n_q * heads * d, 2.0), k = g.vec(n_kv * kvh * d, 2.0), v = g.vec(n_kv * kvh * d);
  for (int64_t window : {int64_t{0}, int64_t{2}}) {
    std::vector<float> out(n_q * heads * d);
    float scale = 1.0f / std::sqrt(static_cast<float>(d));
    attention(q.data(), n_q, pos0, k.data(), v.data(), n_kv, heads, kvh, d, scale, window, out.data());
    std::vector<double> ref(out.size(), 0.0);
    for (size_t r = 0; r < n_q; ++r)
      for (size_t h = 0; h < heads; ++h) {
        size_t pos = pos0 + r, kh = h / 2, lo = window && pos + 1 > size_t(window) ? pos + 1 - window : 0;
        std::vector<double> p;
        for (size_t j = lo; j <= pos; ++j) {
          double s = 0;
          for (size_t i = 0; i < d; ++i) s += double(q[(r * heads + h) * d + i]) * k[(j * kvh + kh) * d + i];
          p.push_back(s / std::sqrt(double(d)));
        }
        double m = *std::max_element(p.begin(), p.end()), z = 0;
        for (double& e : p) z += (e = std::exp(e - m));
        for (size_t j = lo; j <= pos; ++j)
          for (size_t i = 0; i < d; ++i) ref[(r * heads + h) * d + i] += p[j - lo] / z * v[(j * kvh + kh) * d + i];
      }
    EXPECT_LT(rel_err(out.data(), ref), 2e-6) << window;
  }
}

// ---- full model ----

TEST(ModelReference, MatchesNaiveDoubleModelForEveryArchitecture) {
  std::vector<ModelConfig> cfgs;
  for (Architecture a : {Architecture::Llama, Architecture::Qwen2, Architecture::Qwen3, Architecture::Mistral})
    cfgs.push_back(small(a));
  cfgs[0].rope_scaling = RopeScaling{RopeScalingType::Llama3, 8.0, 1.0, 4.0, 64};  // thresholds in range of tiny dims
  cfgs[0].rope_theta = 500000.0;
  cfgs[1].tie_word_embeddings = true;
  cfgs[3].sliding_window = 3;
  ModelConfig lb = small(Architecture::Llama);  // LLaMA with attention_bias: q/k/v and o biases
  lb.attention_bias = lb.o_proj_bias = true;
  cfgs.push_back(lb);
  for (const auto& c : cfgs) {
    ModelWeights w = make_random_weights(c, 11);
    // Larger biases so the bias path visibly matters.
    for (const auto& n : w.names())
      if (n.ends_with(".bias"))
        for (float& b : w.get_mut(n).data) b *= 20.0f;
    HostReference ref(c, w);
    auto toks = prompt(9, static_cast<int>(c.vocab_size), 5);
    KVCache cache = ref.new_cache();
    Tensor logits = ref.forward(cache, toks);
    auto want = naive_model(c, w, toks);
    for (size_t t = 0; t < toks.size(); ++t)
      EXPECT_LT(rel_err(logits.data.data() + t * c.vocab_size, want[t]), 2e-5)
          << architecture_name(c.architecture) << " t=" << t;
  }
}

TEST(ModelReference, PrefillEqualsPrefixPlusDecode) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 42);
  HostReference ref(c, w);
  auto toks = prompt(12, static_cast<int>(c.vocab_size), 9);
  KVCache full = ref.new_cache();
  Tensor all = ref.forward(full, toks);
  ASSERT_EQ(all.shape, (std::vector<size_t>{12, 512}));
  EXPECT_EQ(full.length, 12);
  const size_t V = 512;
  for (size_t t : {1u, 6u, 11u}) {
    KVCache cache = ref.new_cache();
    ref.forward(cache, std::span(toks).first(t), false);
    Tensor step = ref.forward(cache, std::span(toks).subspan(t, 1));
    std::vector<double> want(all.data.begin() + t * V, all.data.begin() + (t + 1) * V);
    EXPECT_LT(rel_err(step.data.data(), want), 1e-5) << t;
  }
  // Token-by-token decode reproduces every prefill row.
  KVCache one = ref.new_cache();
  for (size_t t = 0; t < 12; ++t) {
    Tensor r = ref.forward(one, std::span(toks).subspan(t, 1));
    std::vector<double> want(all.data.begin() + t * V, all.data.begin() + (t + 1) * V);
    EXPECT_LT(rel_err(r.data.data(), want), 1e-5) << t;
  }
  // Last-only logits are the last row.
  KVCache c2 = ref.new_cache();
  Tensor last = ref.forward(c2, toks, false);
  EXPECT_EQ(last.shape, (std::vector<size_t>{1, V}));
  EXPECT_TRUE(std::equal(last.data.begin(), last.data.end(), all.data.begin() + 11 * V));
  // Non-degenerate: logits spread and not all rows share one argmax.
  std::set<size_t> argmaxes;
  double sq = 0;
  for (size_t t = 0; t < 12; ++t) argmaxes.insert(argmax(all.data.data() + t * V, V));
  for (float v : all.data) sq += double(v) * v;
  EXPECT_GT(argmaxes.size(), 3u);
  EXPECT_GT(std::sqrt(sq / double(all.data.size())), 0.05);
}

TEST(ModelReference, Causality) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 3);
  HostReference ref(c, w);
  auto a = prompt(10, 512, 1), b = a;
  b[7] = (b[7] + 1) % 512;
  KVCache ca = ref.new_cache(), cb = ref.new_cache();
  Tensor la = ref.forward(ca, a), lb = ref.forward(cb, b);
  const size_t V = 512;
  EXPECT_TRUE(std::equal(la.data.begin(), la.data.begin() + 7 * V, lb.data.begin()));
  for (size_t t = 7; t < 10; ++t)
    EXPECT_FALSE(std::equal(la.data.begin() + t * V, la.data.begin() + (t + 1) * V, lb.data.begin() + t * V)) << t;
}

TEST(ModelReference, GqaEqualsMhaWithRepeatedKvHeads) {
  ModelConfig g = model_preset("tiny");  // 8 heads, 2 kv heads
  ModelWeights wg = make_random_weights(g, 5);
  ModelConfig m = g;
  m.num_key_value_heads = g.num_attention_heads;
  ModelWeights wm = wg;
  const size_t hd = 32, h = 256, rep = 4;
  for (int64_t l = 0; l < g.num_hidden_layers; ++l)
    for (const char* p : {"k_proj", "v_proj"}) {
      std::string n = fmt::format("model.layers.{}.self_attn.{}.weight", l, p);
      const Tensor& src = wg.get(n);
      Tensor t{{8 * hd, h}, {}};
      for (size_t head = 0; head < 8; ++head)
        t.data.insert(t.data.end(), src.data.begin() + (head / rep) * hd * h, src.data.begin() + (head / rep + 1) * hd * h);
      wm.set(n, t);
    }
  HostReference rg(g, wg), rm(m, wm);
  auto toks = prompt(8, 512, 2);
  KVCache cg = rg.new_cache(), cm = rm.new_cache();
  Tensor lg = rg.forward(cg, toks), lm = rm.forward(cm, toks);
  std::vector<double> want(lm.data.begin(), lm.data.end());
  EXPECT_LT(rel_err(lg.data.data(), want), 1e-6);
  EXPECT_EQ(cg.k[0].size() * 4, cm.k[0].size());  // GQA cache is 4x smaller
}

TEST(ModelReference, Qwen2BiasAndQwen3QkNormPathsAreUsed) {
  // Qwen2: captured q equals x_norm W^T + b.
  ModelConfig q2 = small(Architecture::Qwen2);
  ModelWeights w2 = make_random_weights(q2, 8);
  HostReference r2(q2, w2);
  auto toks = prompt(4, 96, 4);
  Capture cap;
  KVCache c2 = r2.new_cache();
  Tensor with_bias = r2.forward(c2, toks, true, &cap);
  const Tensor& xn = cap.at("layers.0.attn_norm");
  auto want = naive_linear(w2.get("model.layers.0.self_attn.q_proj.weight"), to_d(xn.data.data() + 64, 64),
                           &w2.get("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_LT(rel_err(cap.at("layers.0.q").data.data() + 96, want), 1e-6);
  EXPECT_EQ(cap.at("layers.0.k").shape, (std::vector<size_t>{4, 48}));
  EXPECT_TRUE(cap.count("layers.1.output") && cap.count("final_norm") && cap.count("logits"));
  EXPECT_FALSE(cap.count("layers.0.q_norm"));
  ModelWeights w2z = w2;
  for (float& b : w2z.get_mut("model.layers.0.self_attn.v_proj.bias").data) b = 0.0f;
  HostReference r2z(q2, w2z);
  KVCache c2z = r2z.new_cache();
  EXPECT_NE(r2z.forward(c2z, toks).data, with_bias.data);

  // Qwen3: captured q_norm is the per-head RMSNorm of q with the q_norm weight.
  ModelConfig q3 = small(Architecture::Qwen3);
  ModelWeights w3 = make_random_weights(q3, 9);
  HostReference r3(q3, w3);
  Capture cap3;
  KVCache c3 = r3.new_cache();
  Tensor l3 = r3.forward(c3, toks, true, &cap3);
  const Tensor& q = cap3.at("layers.0.q");
  const Tensor& qn = cap3.at("layers.0.q_norm");
  for (size_t head = 0; head < 4; ++head) {
    auto ref = naive_rmsnorm(to_d(q.data.data() + 96 + head * 24, 24),
                             to_d(w3.get("model.layers.0.self_attn.q_norm.weight").data.data(), 24), q3.rms_norm_eps);
    EXPECT_LT(rel_err(qn.data.data() + 96 + head * 24, ref), 1e-6);
  }
  ModelWeights w3k = w3;
  w3k.get_mut("model.layers.1.self_attn.k_norm.weight").data[5] += 0.5f;
  HostReference r3k(q3, w3k);
  KVCache c3k = r3k.new_cache();
  EXPECT_NE(r3k.forward(c3k, toks).data, l3.data);
}

TEST(ModelReference, RandomWeightsAreDeterministic) {
  ModelConfig c = model_preset("tiny");
  ModelWeights a = make_random_weights(c, 1234), b = make_random_weights(c, 1234), d = make_random_weights(c, 1235);
  EXPECT_EQ(a.all(), b.all());
  EXPECT_NE(a.get("model.embed_tokens.weight").data, d.get("model.embed_tokens.weight").data);
  // Pinned bits: any change to the generator changes this hash.
  std::string bytes;
  for (const char* n : {"model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight"}) {
    const auto& v = a.get(n).data;
    bytes.append(reinterpret_cast<const char*>(v.data()), 64 * sizeof(float));
  }
  EXPECT_EQ(hex64(fnv1a64(bytes)), "ce768767b596c84d");
  // Scale: matrices ~ std 0.02, norms within 1 +- 0.1.
  const auto& e = a.get("model.embed_tokens.weight").data;
  double s = 0;
  for (float v : e) s += double(v) * v;
  EXPECT_NEAR(std::sqrt(s / double(e.size())), 0.02, 0.001);
  for (float v : a.get("model.layers.0.input_layernorm.weight").data) EXPECT_TRUE(v >= 0.9f && v <= 1.1f);
  EXPECT_EQ(a.size(), expected_tensors(c).size());
}

TEST(ModelReference, GreedyGenerationAndBatching) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 77);
  HostReference ref(c, w);
  std::vector<std::vector<TokenId>> prompts = {prompt(5, 512, 1), prompt(9, 512, 2), prompt(1, 512, 3)};
  auto out = ref.generate_greedy(prompts, 6);
  ASSERT_EQ(out.size(), 3u);
  for (size_t b = 0; b < 3; ++b) {
    ASSERT_EQ(out[b].size(), 6u);
    // Same as running each sequence alone with full prefill every step.
    std::vector<TokenId> seq = prompts[b];
    for (size_t s = 0; s < 6; ++s) {
      KVCache cache = ref.new_cache();
      Tensor l = ref.forward(cache, seq, false);
      TokenId next = static_cast<TokenId>(argmax(l.data.data(), 512));
      EXPECT_EQ(out[b][s], next) << b << " " << s;
      seq.push_back(next);
    }
  }
  EXPECT_EQ(ref.generate_greedy(prompts, 6), out);
}

TEST(ModelReference, BadInputsThrow) {
  ModelConfig c = model_preset("tiny");
  ModelWeights w = make_random_weights(c, 1);
  HostReference ref(c, w);
  KVCache cache = ref.new_cache();
  std::vector<TokenId> bad = {1, 512};
  expect_input_error([&] { ref.forward(cache, bad); }, {"token id 512", "[0, 512)"});
  std::vector<TokenId> none;
  expect_input_error([&] { ref.forward(cache, none); }, {"at least one token"});
  ModelWeights missing = w;
  ModelWeights empty;
  expect_input_error([&] { HostReference r(c, empty); }, {"missing tensor 'model.embed_tokens.weight'"});
}

}  // namespace
}  // namespace plena::model

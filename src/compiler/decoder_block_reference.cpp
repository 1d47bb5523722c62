// Host references of the decoder blocks (compiler/decoder_block.hpp) and T5's relative position
// bias. f32 values in and out, double accumulation in every dot product and softmax.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compiler/decoder_block.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::compiler {

namespace {

using Mat = std::vector<float>;  // row-major

const Mat& get(const BlockTensors& io, const std::string& name, size_t size) {
  auto it = io.find(name);
  if (it == io.end()) throw InputError(fmt::format("decoder block reference: input '{}' is missing", name));
  if (it->second.size() != size)
    throw InputError(fmt::format("decoder block reference: input '{}' has {} values, expected {}", name,
                                 it->second.size(), size));
  return it->second;
}

// The first `cols` columns of w [rows, stored] (a K/V projection padded to MLEN), or w itself.
Mat real_columns(const Mat& w, uint64_t rows, uint64_t cols) {
  if (w.size() == rows * cols) return w;
  const uint64_t stored = w.size() / rows;
  Mat out(rows * cols);
  for (uint64_t r = 0; r < rows; ++r)
    std::copy_n(w.begin() + long(r * stored), cols, out.begin() + long(r * cols));
  return out;
}

// y[rows, n] = x[rows, k] @ w[k, n]
Mat matmul(const Mat& x, uint64_t rows, uint64_t k, const Mat& w, uint64_t n) {
  Mat y(rows * n);
  std::vector<double> acc(n);
  for (uint64_t r = 0; r < rows; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (uint64_t i = 0; i < k; ++i) {
      const double a = x[r * k + i];
      for (uint64_t j = 0; j < n; ++j) acc[j] += a * w[i * n + j];
    }
    for (uint64_t j = 0; j < n; ++j) y[r * n + j] = float(acc[j]);
  }
  return y;
}

Mat rmsnorm(const Mat& x, uint64_t rows, uint64_t n, const Mat& w, double eps) {
  Mat y(rows * n);
  for (uint64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (uint64_t j = 0; j < n; ++j) ss += double(x[r * n + j]) * x[r * n + j];
    const double s = 1.0 / std::sqrt(ss / double(n) + eps);
    for (uint64_t j = 0; j < n; ++j) y[r * n + j] = float(x[r * n + j] * s * w[j]);
  }
  return y;
}

void add_into(Mat& y, const Mat& a) {
  for (size_t i = 0; i < y.size(); ++i) y[i] += a[i];
}

struct AttnShape {
  uint64_t q_len, kv_len, heads, kv_heads, hd;
  bool causal;
  double scale;
};

// softmax(scale q k^T + bias) v per head; q [q_len, heads*hd], k/v [kv_len, kv_heads*hd],
// bias [heads*q_len, kv_len] or null. Query i sits at position kv_len - q_len + i.
Mat attention(const AttnShape& s, const Mat& q, const Mat& k, const Mat& v, const Mat* bias) {
  const uint64_t qw = s.heads * s.hd, kw = s.kv_heads * s.hd, group = s.heads / s.kv_heads;
  Mat out(s.q_len * qw, 0.f);
  std::vector<double> p(s.kv_len);
  for (uint64_t h = 0; h < s.heads; ++h) {
    const uint64_t g = h / group;
    for (uint64_t i = 0; i < s.q_len; ++i) {
      const uint64_t vis = s.causal ? s.kv_len - s.q_len + i + 1 : s.kv_len;
      double mx = -INFINITY;
      for (uint64_t j = 0; j < vis; ++j) {
        double dot = 0;
        for (uint64_t c = 0; c < s.hd; ++c) dot += double(q[i * qw + h * s.hd + c]) * k[j * kw + g * s.hd + c];
        p[j] = dot * s.scale + (bias ? double((*bias)[(h * s.q_len + i) * s.kv_len + j]) : 0.0);
        mx = std::max(mx, p[j]);
      }
      double sum = 0;
      for (uint64_t j = 0; j < vis; ++j) sum += (p[j] = std::exp(p[j] - mx));
      for (uint64_t c = 0; c < s.hd; ++c) {
        double acc = 0;
        for (uint64_t j = 0; j < vis; ++j) acc += p[j] * v[j * kw + g * s.hd + c];
        out[i * qw + h * s.hd + c] = float(acc / sum);
      }
    }
  }
  return out;
}

void rope_rows(Mat& x, uint64_t rows, uint64_t heads, uint64_t hd, const std::vector<float>& inv_freq) {
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t h = 0; h < heads; ++h) model::rope_apply(&x[(r * heads + h) * hd], hd, int64_t(r), inv_freq);
}

// wk / wv as [hidden, kv_heads*head_dim], or padded to a whole MLEN (the stored tensor).
Mat kv_weight(const BlockTensors& io, const std::string& name, uint64_t rows, uint64_t cols) {
  auto it = io.find(name);
  if (it != io.end() && it->second.size() > rows * cols && it->second.size() % rows == 0)
    return real_columns(it->second, rows, cols);
  return get(io, name, rows * cols);
}

Mat llama_block(const DecoderBlockDims& d, const BlockTensors& io) {
  const uint64_t S = d.seq, H = d.hidden, I = d.intermediate, kvh = d.kv_heads ? d.kv_heads : d.heads;
  const uint64_t qd = d.heads * d.head_dim, kvd = kvh * d.head_dim;
  const Mat& x = get(io, "x", S * H);
  const Mat h = rmsnorm(x, S, H, get(io, "attn_norm", H), d.eps);
  Mat q = matmul(h, S, H, get(io, "wq", H * qd), qd);
  Mat k = matmul(h, S, H, kv_weight(io, "wk", H, kvd), kvd);
  const Mat v = matmul(h, S, H, kv_weight(io, "wv", H, kvd), kvd);
  const std::vector<float> inv_freq = model::rope_inv_freq(int64_t(d.head_dim), d.rope_theta, {});
  rope_rows(q, S, d.heads, d.head_dim, inv_freq);
  rope_rows(k, S, kvh, d.head_dim, inv_freq);
  const Mat a = attention({S, S, d.heads, kvh, d.head_dim, true, 1.0 / std::sqrt(double(d.head_dim))}, q, k, v, nullptr);
  Mat y = x;
  add_into(y, matmul(a, S, qd, get(io, "wo", qd * H), H));
  const Mat h2 = rmsnorm(y, S, H, get(io, "mlp_norm", H), d.eps);
  Mat gate = matmul(h2, S, H, get(io, "w_gate", H * I), I);
  const Mat up = matmul(h2, S, H, get(io, "w_up", H * I), I);
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = float(double(model::silu(gate[i])) * up[i]);
  add_into(y, matmul(gate, S, I, get(io, "w_down", I * H), H));
  return y;
}

double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

Mat t5_block(const DecoderBlockDims& d, const BlockTensors& io) {
  const uint64_t S = d.seq, E = d.enc_len, H = d.hidden, I = d.intermediate, qd = d.heads * d.head_dim;
  const Mat& x = get(io, "x", S * H);
  const Mat& enc = get(io, "enc", E * H);
  const Mat& bias = get(io, "position_bias", d.heads * S * S);
  Mat h = rmsnorm(x, S, H, get(io, "self_norm", H), d.eps);
  Mat a = attention({S, S, d.heads, d.heads, d.head_dim, true, 1.0}, matmul(h, S, H, get(io, "wq", H * qd), qd),
                    matmul(h, S, H, get(io, "wk", H * qd), qd), matmul(h, S, H, get(io, "wv", H * qd), qd), &bias);
  Mat y = x;
  add_into(y, matmul(a, S, qd, get(io, "wo", qd * H), H));
  h = rmsnorm(y, S, H, get(io, "cross_norm", H), d.eps);
  a = attention({S, E, d.heads, d.heads, d.head_dim, false, 1.0}, matmul(h, S, H, get(io, "wcq", H * qd), qd),
                matmul(enc, E, H, get(io, "wck", H * qd), qd), matmul(enc, E, H, get(io, "wcv", H * qd), qd), nullptr);
  add_into(y, matmul(a, S, qd, get(io, "wco", qd * H), H));
  h = rmsnorm(y, S, H, get(io, "ff_norm", H), d.eps);
  Mat gate = matmul(h, S, H, get(io, "wi0", H * I), I);
  const Mat up = matmul(h, S, H, get(io, "wi1", H * I), I);
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = float(gelu_tanh(gate[i]) * up[i]);
  add_into(y, matmul(gate, S, I, get(io, "wff", I * H), H));
  return y;
}

}  // namespace

void decoder_block_reference(const DecoderBlockDims& d, BlockTensors& io) {
  io["y"] = d.kind == DecoderKind::T5 ? t5_block(d, io) : llama_block(d, io);
}

// As HF computes it: the log-spaced part in f32 (torch float tensors), truncated toward zero.
int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                    int64_t max_distance) {
  if (num_buckets < 2 || max_distance < 1)
    throw InputError(fmt::format("T5 relative position buckets: num_buckets {} must be >= 2 and max_distance {} >= 1",
                                 num_buckets, max_distance));
  int64_t bucket = 0, n = relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    if (n > 0) bucket += num_buckets;
    n = n < 0 ? -n : n;
  } else {
    n = n < 0 ? -n : 0;
  }
  const int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return bucket + n;
  const float log_ratio = std::log(float(n) / float(max_exact));
  const float span = float(std::log(double(max_distance) / double(max_exact)));
  const int64_t large = max_exact + int64_t(log_ratio / span * float(num_buckets - max_exact));
  return bucket + std::min(large, num_buckets - 1);
}

std::vector<float> t5_position_bias(std::span<const float> table, uint64_t heads, uint64_t q_len, uint64_t kv_len,
                                    bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  if (table.size() != uint64_t(num_buckets) * heads)
    throw InputError(fmt::format("T5 position bias: the table has {} values, expected num_buckets {} x heads {}",
                                 table.size(), num_buckets, heads));
  if (q_len > kv_len) throw InputError(fmt::format("T5 position bias: q_len {} exceeds kv_len {}", q_len, kv_len));
  std::vector<float> out(heads * q_len * kv_len);
  for (uint64_t i = 0; i < q_len; ++i)
    for (uint64_t j = 0; j < kv_len; ++j) {
      const int64_t rel = int64_t(j) - int64_t(kv_len - q_len + i);
      const auto b = uint64_t(t5_relative_position_bucket(rel, bidirectional, num_buckets, max_distance));
      for (uint64_t h = 0; h < heads; ++h) out[(h * q_len + i) * kv_len + j] = table[b * heads + h];
    }
  return out;
}

}  // namespace plena::compiler

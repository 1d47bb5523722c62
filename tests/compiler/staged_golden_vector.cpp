// Host references and staged goldens of the vector kernels. Each staged function mirrors the
// instruction sequence in kernels_vector*.cpp; a change there must be mirrored here (the kernel
// tests compare them bit for bit).
#include "staged_golden_vector.hpp"

#include <cmath>
#include <numbers>
#include <algorithm>
#include <limits>

namespace plena::compiler::golden {

void layernorm_ref(const float* x, size_t rows, size_t n, const float* w, const float* b, double eps, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    double mean = 0;
    for (size_t i = 0; i < n; ++i) mean += xr[i];
    mean /= double(n);
    double var = 0;
    for (size_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= double(n);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (size_t i = 0; i < n; ++i) y[r * n + i] = float((xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.0));
  }
}

float gelu_erf_ref(float x) { return float(0.5 * double(x) * (1.0 + std::erf(double(x) / std::numbers::sqrt2))); }
float gelu_tanh_ref(float x) {
  const double k = std::sqrt(2.0 / std::numbers::pi), d = x;
  return float(0.5 * d * (1.0 + std::tanh(k * (d + 0.044715 * d * d * d))));
}
float relu_ref(float x) { return x < 0.f ? 0.f : x; }

Rounding::Rounding(const config::HardwareConfig& cfg)
    : vec(cfg.sram.vector_type), fp(cfg.sram.fp_type), vlen(cfg.geometry.vlen) {}
float Rounding::v(float x) const { return numerics::round_to_format(x, vec); }
float Rounding::f(float x) const { return numerics::round_to_format(x, fp); }

namespace {

float clamp_exp(float x) { return x < -88.f ? -88.f : (x > 88.f ? 88.f : x); }
float vexp(float x) { return std::exp(clamp_exp(x)); }  // float overload, as V_EXP_V

// V_RED_SUM over each VLEN block of the real values t[0..cols) (padding contributes exact zeros):
// acc = round_fp(block_sum + acc) per block, block sums in f32 ascending from 0.
float red_sum_blocks(const Rounding& r, const float* t, size_t cols, float acc) {
  for (size_t b0 = 0; b0 < cols; b0 += r.vlen) {
    float s = 0.f;
    const size_t b1 = std::min(cols, b0 + size_t(r.vlen));
    for (size_t i = b0; i < b1; ++i) s += t[i];
    acc = r.f(s + acc);
  }
  return acc;
}

}  // namespace

std::vector<float> staged_rmsnorm(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                  std::span<const float> w, float eps) {
  std::vector<float> y(rows * cols), t(cols);
  const float inv_n = r.f(float(1.0 / double(cols))), e = r.f(eps);
  for (size_t row = 0; row < rows; ++row) {
    const float* xr = x.data() + row * cols;
    for (size_t i = 0; i < cols; ++i) t[i] = r.v(xr[i] * xr[i]);
    float acc = red_sum_blocks(r, t.data(), cols, r.f(0.f));
    acc = r.f(acc * inv_n);
    acc = r.f(acc + e);
    acc = r.f(std::sqrt(acc));
    acc = r.f(1.0f / acc);
    for (size_t i = 0; i < cols; ++i) y[row * cols + i] = r.v(r.v(xr[i] * acc) * w[i]);
  }
  return y;
}

std::vector<float> staged_head_rmsnorm(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                       size_t head_dim, std::span<const float> w, float eps) {
  return staged_rmsnorm(r, x, rows * (cols / head_dim), head_dim, w, eps);
}

std::vector<float> staged_bias_add(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                   std::span<const float> bias) {
  std::vector<float> y(rows * cols);
  for (size_t row = 0; row < rows; ++row)
    for (size_t c = 0; c < cols; ++c) y[row * cols + c] = r.v(x[row * cols + c] + bias[c]);
  return y;
}

std::vector<float> staged_layernorm(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                    std::span<const float> w, std::span<const float> bias, float eps) {
  std::vector<float> y(rows * cols), t(cols);
  const float inv_n = r.f(float(1.0 / double(cols))), e = r.f(eps);
  for (size_t row = 0; row < rows; ++row) {
    const float* xr = x.data() + row * cols;
    float* yr = y.data() + row * cols;
    float mean = red_sum_blocks(r, xr, cols, r.f(0.f));
    mean = r.f(mean * inv_n);
    for (size_t i = 0; i < cols; ++i) {
      yr[i] = r.v(xr[i] - mean);
      t[i] = r.v(yr[i] * yr[i]);
    }
    float var = red_sum_blocks(r, t.data(), cols, r.f(0.f));
    var = r.f(var * inv_n);
    var = r.f(var + e);
    var = r.f(std::sqrt(var));
    var = r.f(1.0f / var);
    for (size_t i = 0; i < cols; ++i) {
      yr[i] = r.v(r.v(yr[i] * var) * w[i]);
      if (!bias.empty()) yr[i] = r.v(yr[i] + bias[i]);
    }
  }
  return y;
}

std::vector<float> staged_softmax(const Rounding& r, std::span<const float> x, size_t rows, size_t cols) {
  std::vector<float> y(rows * cols);
  for (size_t row = 0; row < rows; ++row) {
    const float* xr = x.data() + row * cols;
    float* yr = y.data() + row * cols;
    // The running max starts at the masking constant; it never wins against a real value.
    float mx = -std::numeric_limits<float>::infinity();
    for (size_t b0 = 0; b0 < cols; b0 += r.vlen) {
      float bm = -std::numeric_limits<float>::infinity();
      for (size_t i = b0; i < std::min(cols, b0 + size_t(r.vlen)); ++i)
        if (xr[i] > bm) bm = xr[i];
      mx = r.f(bm > mx ? bm : mx);
    }
    for (size_t i = 0; i < cols; ++i) yr[i] = r.v(vexp(r.v(xr[i] - mx)));
    float sum = red_sum_blocks(r, yr, cols, r.f(0.f));
    const float inv = r.f(1.0f / sum);
    for (size_t i = 0; i < cols; ++i) yr[i] = r.v(yr[i] * inv);
  }
  return y;
}

std::vector<float> staged_activation(const Rounding& r, Activation kind, std::span<const float> x) {
  std::vector<float> y(x.size());
  const float one = r.f(1.0f);
  const float c = r.f(0.044715f), k = r.f(float(-2.0 * std::sqrt(2.0 / std::numbers::pi)));
  for (size_t i = 0; i < x.size(); ++i) {
    const float a = x[i];
    switch (kind) {
      case Activation::Relu: y[i] = r.v(a < 0.f ? 0.f : a); break;
      case Activation::Silu: {
        float t = r.v(0.f - a);
        t = r.v(vexp(t));
        t = r.v(t + one);
        t = r.v(1.0f / t);
        y[i] = r.v(a * t);
        break;
      }
      case Activation::Gelu: {
        float t = r.v(a * a);
        t = r.v(t * c);
        t = r.v(t + one);
        t = r.v(t * a);
        t = r.v(t * k);
        t = r.v(vexp(t));
        t = r.v(t + one);
        t = r.v(1.0f / t);
        y[i] = r.v(a * t);
        break;
      }
    }
  }
  return y;
}

std::vector<float> staged_swiglu(const Rounding& r, std::span<const float> gate, std::span<const float> up) {
  std::vector<float> y(gate.size());
  const float one = r.f(1.0f);
  for (size_t i = 0; i < gate.size(); ++i) {
    float t = r.v(0.f - gate[i]);
    t = r.v(vexp(t));
    t = r.v(t + one);
    t = r.v(1.0f / t);
    t = r.v(gate[i] * t);
    y[i] = r.v(t * up[i]);
  }
  return y;
}

std::vector<float> staged_residual_add(const Rounding& r, std::span<const float> a, std::span<const float> b) {
  std::vector<float> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = r.v(a[i] + b[i]);
  return y;
}

std::vector<float> staged_rope(const Rounding& r, std::span<const float> x, size_t rows, size_t cols, size_t head_dim,
                               const RopeTables& tables) {
  std::vector<float> y(rows * cols);
  const size_t half = head_dim / 2;
  for (size_t row = 0; row < rows; ++row)
    for (size_t i = 0; i < cols; ++i) {
      const size_t j = i % head_dim;  // head-relative column
      const size_t partner = i - j + (j < half ? j + half : j - half);
      // Table column: the head pattern repeats across a VLEN row when head_dim <= VLEN.
      const size_t tc = tables.width == head_dim ? j : i % tables.width;
      const float c = r.v(tables.cos[row * tables.width + tc]);
      const float s = r.v(tables.sin[row * tables.width + tc]);
      const float xs = x[row * cols + partner];  // the swap is exact (one 0/1 product per output)
      y[row * cols + i] = r.v(r.v(x[row * cols + i] * c) + r.v(xs * s));
    }
  return y;
}

}  // namespace plena::compiler::golden

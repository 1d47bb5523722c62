// Host goldens for the vector kernels (kernels_vector.hpp):
//  - fp32/f64 host references for the ops src/model lacks (LayerNorm, GELU erf/tanh, ReLU);
//  - staged goldens that replay each kernel's exact op sequence with the simulator's rounding
//    points (f32 compute, vector results rounded to sram.vector_type, FP-register results to
//    sram.fp_type, V_RED_SUM = f32 ascending block sum added to the register, constants rounded
//    to the FP type by the preload). They match the simulator BIT-EXACTLY (docs/kernels-vector.md).
// Inputs are row-major [rows, cols] (real columns only) holding the values as they sit in VRAM,
// i.e. already in the vector type. Constants are the raw values defined in the plan.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "compiler/kernels_vector.hpp"
#include "config/config.hpp"
#include "numerics/numerics.hpp"

namespace plena::compiler::golden {

// ---- host references (the truth for ops src/model does not provide) ----
// y = (x - mean)/sqrt(var + eps) * w + b (b may be null), biased variance, f64 accumulation.
void layernorm_ref(const float* x, size_t rows, size_t n, const float* w, const float* b, double eps, float* y);
float gelu_erf_ref(float x);   // 0.5 x (1 + erf(x / sqrt 2)), in double
float gelu_tanh_ref(float x);  // 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))), in double
float relu_ref(float x);

// Rounding to the SRAM types of a config.
struct Rounding {
  explicit Rounding(const config::HardwareConfig& cfg);
  numerics::Format vec, fp;
  uint64_t vlen = 0;
  float v(float x) const;  // vector_type
  float f(float x) const;  // fp_type
};

// ---- staged goldens (same op order and rounding as the emitted kernels) ----
std::vector<float> staged_rmsnorm(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                  std::span<const float> w, float eps);
// Per-head RMSNorm: x [rows, cols] is [rows * cols/head_dim, head_dim]; every head is normalised
// exactly as staged_rmsnorm (the kernel's masked sums add only exact zeros to each head's sum).
std::vector<float> staged_head_rmsnorm(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                       size_t head_dim, std::span<const float> w, float eps);
// y = round_v(x + bias[col]) (bias as stored in VRAM).
std::vector<float> staged_bias_add(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                   std::span<const float> bias);
std::vector<float> staged_layernorm(const Rounding& r, std::span<const float> x, size_t rows, size_t cols,
                                    std::span<const float> w, std::span<const float> bias, float eps);
// mask_neg: vk mask value (only relevant when a row's real values are all below it).
std::vector<float> staged_softmax(const Rounding& r, std::span<const float> x, size_t rows, size_t cols);
std::vector<float> staged_activation(const Rounding& r, Activation kind, std::span<const float> x);
std::vector<float> staged_swiglu(const Rounding& r, std::span<const float> gate, std::span<const float> up);
std::vector<float> staged_residual_add(const Rounding& r, std::span<const float> a, std::span<const float> b);
// x [rows, cols], tables as placed in VRAM (values rounded to the vector type by the caller or here).
std::vector<float> staged_rope(const Rounding& r, std::span<const float> x, size_t rows, size_t cols, size_t head_dim,
                               const RopeTables& tables);

}  // namespace plena::compiler::golden

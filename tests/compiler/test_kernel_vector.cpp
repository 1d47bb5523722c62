// Vector kernels through the simulator: (a) against the host fp32 reference (src/model, or the
// references in staged_golden_vector.hpp) with tight bounds + non-triviality, and (b) against
// the staged goldens, bit for bit. Fast subset; the full geometry matrix is in
// test_kernel_vector_matrix.cpp (PLENA_LARGE_TESTS=1).
#include "kernel_harness_vector.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using namespace plena::test::kv;

namespace {

const Geo kTinyF32{16, 4, "fp32", "fp32"};
const Geo kTinyBf16{16, 4, "bf16", "fp32"};
const Geo kRefBf16{64, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"};

}  // namespace

// ---- RMSNorm ----
TEST(KernelVector, RmsNormTinyFp32NearExact) {
  for (size_t cols : {16, 48, 40, 7}) check_rmsnorm(kTinyF32, 3, cols, false);
}
TEST(KernelVector, RmsNormBf16BitExactStaged) {
  check_rmsnorm(kTinyBf16, 5, 40, false);
  check_rmsnorm(kRefBf16, 4, 192, false);
  check_rmsnorm(kRefBf16, 2, 100, false);
}
TEST(KernelVector, RmsNormWeightFromHbm) {
  check_rmsnorm(kTinyF32, 3, 40, true);
  check_rmsnorm(kRefBf16, 3, 100, true);  // MXFP8 weight decoded by the DMA
  check_rmsnorm(Geo{16, 4, "bf16", "bf16", 2}, 2, 72, true);
}
TEST(KernelVector, RmsNormPaddingColumnsDoNotMatter) { check_padding_invariance(kTinyBf16, "rmsnorm"); }
TEST(KernelVector, RmsNormInPlace) { check_rmsnorm(kTinyBf16, 3, 40, false, /*in_place=*/true); }

// ---- residual add ----
TEST(KernelVector, ResidualAdd) {
  check_residual(kTinyF32, 3, 40);
  check_residual(kTinyBf16, 5, 16);
  check_residual(kRefBf16, 4, 100);
}

// ---- SiLU / SwiGLU / GELU / ReLU ----
TEST(KernelVector, Silu) {
  check_activation(kTinyF32, Activation::Silu, 3, 40);
  check_activation(kTinyBf16, Activation::Silu, 4, 32);
  check_activation(kRefBf16, Activation::Silu, 2, 100);
}
TEST(KernelVector, SwiGluHfOrder) {
  check_swiglu(kTinyF32, 3, 40);
  check_swiglu(kTinyBf16, 4, 48);
  check_swiglu(kRefBf16, 2, 128);
}
TEST(KernelVector, GeluTanhForm) {
  check_activation(kTinyF32, Activation::Gelu, 3, 40);
  check_activation(kTinyBf16, Activation::Gelu, 4, 32);
  check_activation(kRefBf16, Activation::Gelu, 2, 100);
}
TEST(KernelVector, GeluTanhVersusErfBound) { check_gelu_erf_bound(); }
TEST(KernelVector, Relu) {
  check_activation(kTinyF32, Activation::Relu, 3, 40);
  check_activation(kRefBf16, Activation::Relu, 2, 100);
}

// ---- softmax ----
TEST(KernelVector, Softmax) {
  for (size_t cols : {16, 48, 40, 5}) check_softmax(kTinyF32, 3, cols);
  check_softmax(kTinyBf16, 4, 40);
  check_softmax(kRefBf16, 3, 100);
  check_softmax(kRefBf16, 2, 256);
}
TEST(KernelVector, SoftmaxPaddingColumnsDoNotMatter) { check_padding_invariance(kTinyBf16, "softmax"); }
TEST(KernelVector, SoftmaxLargeLogitsStayFinite) { check_softmax_extreme(kTinyBf16); }

// ---- LayerNorm ----
TEST(KernelVector, LayerNorm) {
  for (size_t cols : {16, 40}) check_layernorm(kTinyF32, 3, cols, true, false);
  check_layernorm(kTinyF32, 2, 40, false, false);
  check_layernorm(kTinyBf16, 4, 40, true, false);
  check_layernorm(kRefBf16, 3, 100, true, true);
}
TEST(KernelVector, LayerNormPaddingColumnsDoNotMatter) { check_padding_invariance(kTinyBf16, "layernorm"); }

// ---- errors ----
TEST(KernelVector, BadInputsAreInputErrors) { check_errors(); }

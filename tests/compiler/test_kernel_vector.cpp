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

// ---- RoPE ----
TEST(KernelVector, RopeHeadDimBelowVlenUsesSwapMatrix) {
  check_rope(kTinyF32, {.rows = 3, .heads = 4, .head_dim = 8, .pos0 = 0});
  check_rope(kTinyF32, {.rows = 5, .heads = 2, .head_dim = 16, .pos0 = 7, .pos_step = 3});
  check_rope(kTinyBf16, {.rows = 4, .heads = 2, .head_dim = 8, .pos0 = 100});
  check_rope(kRefBf16, {.rows = 6, .heads = 2, .head_dim = 64, .pos0 = 17, .llama3 = true});
  check_rope(kRefBf16, {.rows = 2, .heads = 4, .head_dim = 32, .pos0 = 9000, .llama3 = true, .in_place = true});
}
TEST(KernelVector, RopeHeadDimAboveVlenPairsBlocks) {
  check_rope(kTinyF32, {.rows = 3, .heads = 2, .head_dim = 32, .pos0 = 5});
  check_rope(kTinyF32, {.rows = 2, .heads = 1, .head_dim = 64, .pos0 = 3, .in_place = true});
  check_rope(kRefBf16, {.rows = 3, .heads = 2, .head_dim = 128, .pos0 = 12000, .pos_step = 0, .llama3 = true});
}
TEST(KernelVector, RopeDecodePositionsPerRow) {
  // Batch decode: every row its own position (offset), llama3 scaling in the tables.
  check_rope(kTinyF32, {.rows = 4, .heads = 2, .head_dim = 16, .pos0 = 8191, .pos_step = 1000, .llama3 = true});
}

// ---- embedding ----
TEST(KernelVector, EmbeddingLookup) {
  check_embedding(kTinyF32, 50, 40, {3, 49, 0, 3, 17});
  check_embedding(kTinyF32, 20, 16, {5});
  check_embedding(kTinyF32, 20, 32, {1, 2, 3, 4, 5, 6, 7, 8}, 4);
  check_embedding(kRefBf16, 40, 192, {39, 1, 22});  // MXFP8 table decoded by the DMA
  check_embedding(Geo{16, 4, "bf16", "bf16", 8}, 30, 48, {4, 9, 29}, 1);  // prefetch of 8 rows, 3 output rows
}

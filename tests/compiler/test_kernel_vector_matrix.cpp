// The full (MLEN, BLEN, batch, seq) matrix of the vector kernels: every kernel, bit-exact against
// its staged golden and within bounds of the host reference. Slow-ish (about a minute): runs only
// with PLENA_LARGE_TESTS=1 (GTEST_SKIP otherwise), e.g.
//   PLENA_LARGE_TESTS=1 ./tests/compiler/test_kernels --gtest_filter='KernelVectorMatrix*'
#include "kernel_harness_vector.hpp"

using namespace plena;
using namespace plena::compiler;
using namespace plena::test::kv;

namespace {

struct MatrixPoint {
  Geo g;
  size_t batch = 1, seq = 1;
};

std::vector<MatrixPoint> matrix_points() {
  std::vector<MatrixPoint> pts;
  for (uint32_t mlen : {16u, 64u, 256u})
    for (uint32_t blen : {4u, 8u, 16u})
      for (size_t batch : {1, 2, 4})
        for (size_t seq : {1, 7, 64, 512}) {
          if (blen > mlen) continue;
          // bf16 SRAMs with MXFP8 HBM (the reference precision) everywhere; fp32 on the tiny tiles.
          Geo g{mlen, blen, mlen == 16 && seq == 7 ? "fp32" : "bf16",
                mlen == 16 && seq == 7 ? "fp32" : "plena-hw-mxfp:fp8_e4m3:b8"};
          pts.push_back({g, batch, seq});
        }
  return pts;
}

#define SKIP_UNLESS_LARGE() \
  if (!large_tests()) GTEST_SKIP() << "set PLENA_LARGE_TESTS=1 to run the full matrix"

}  // namespace

TEST(KernelVectorMatrix, NormsAndSoftmax) {
  SKIP_UNLESS_LARGE();
  for (const auto& p : matrix_points()) {
    const size_t rows = p.batch * p.seq, cols = 2 * p.g.mlen + p.g.mlen / 2 + 1;  // a partial last block
    check_rmsnorm(p.g, rows, cols, p.seq == 64);
    check_layernorm(p.g, rows, cols, true, p.seq == 512);
    check_softmax(p.g, rows, cols);
  }
}

TEST(KernelVectorMatrix, ElementWise) {
  SKIP_UNLESS_LARGE();
  for (const auto& p : matrix_points()) {
    const size_t rows = p.batch * p.seq, cols = 2 * p.g.mlen + 3;
    check_residual(p.g, rows, cols);
    check_swiglu(p.g, rows, cols);
    for (Activation k : {Activation::Silu, Activation::Gelu, Activation::Relu}) check_activation(p.g, k, rows, cols);
  }
}

TEST(KernelVectorMatrix, Rope) {
  SKIP_UNLESS_LARGE();
  for (const auto& p : matrix_points()) {
    const size_t rows = p.batch * p.seq;
    // One head_dim below/at VLEN (swap matrix) and one above (block pairs) where the geometry allows.
    const size_t small = std::max<size_t>(8, p.g.mlen / 4), large = 2 * p.g.mlen;
    const int64_t pos0 = p.seq == 1 ? 4097 : 0;  // decode rows sit at an offset
    check_rope(p.g, {.rows = rows, .heads = 2, .head_dim = small, .pos0 = pos0, .llama3 = true});
    if (p.g.mlen <= 64) check_rope(p.g, {.rows = rows, .heads = 1, .head_dim = large, .pos0 = pos0, .llama3 = p.batch == 2});
  }
}

TEST(KernelVectorMatrix, Embedding) {
  SKIP_UNLESS_LARGE();
  for (const auto& p : matrix_points()) {
    const size_t rows = p.batch * p.seq, hidden = p.g.mlen + p.g.mlen / 2;
    std::vector<int64_t> ids(rows);
    for (size_t i = 0; i < rows; ++i) ids[i] = int64_t((i * 37 + 11) % 97);
    check_embedding(p.g, 97, hidden, ids, p.seq == 7 ? p.g.blen : 1);
  }
}

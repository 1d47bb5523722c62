// Batched matmul through the simulator: C[i] = A[i] @ W[i]. Bit-exact against a staged golden
// that replays the matrix unit's order (per MLEN tile an f32 sum over k ascending from 0, added to
// the accumulator; rounded to the VRAM type at M_MM_WO; K chunks rounded and added with V_ADD_VV),
// against host fp32 (model::linear per matrix) within tight bounds, with the closed-form counts
// equal to the executed instruction mix.
#include <cmath>
#include <map>

#include "compiler/kernels.hpp"
#include "interp.hpp"
#include "kernel_harness_vector.hpp"
#include "staged_matmul.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using namespace plena::test::kv;

namespace {

struct BmmCase {
  size_t batch = 2, rows = 4, k = 32, n = 32;
  uint64_t max_k_tiles = 0;
};

void check_bmm(const Geo& g, const BmmCase& c) {
  SCOPED_TRACE(fmt::format("{} batch {} rows {} K {} N {} max_k_tiles {}", geo_name(g), c.batch, c.rows, c.k, c.n,
                           c.max_k_tiles));
  Rig r(make_config(g));
  const size_t R = c.batch * c.rows;
  r.put_vram("resident", 3, 16, std::vector<float>(48, 2.f));  // nothing starts at VRAM 0
  auto a = r.put_vram("a", R, c.k, randv(R * c.k, 201 + c.k, 1.0f), 8);  // padded rows past batch*rows
  std::vector<float> w_raw = randv(c.batch * c.k * c.n, 202 + c.n, 0.5f);
  auto w = r.put_hbm("w", c.batch * c.k, c.n, w_raw, r.cfg.formats.m_weight, 1, TensorClass::Weight);
  for (auto& v : w) v = numerics::round_to_format(v, r.cfg.sram.matrix_type);  // MRAM type
  r.alloc_vram("c", R, c.n, 8);
  const BatchedMatmulArgs args{.weight = "w", .input = "a", .output = "c", .batch = c.batch, .max_k_tiles = c.max_k_tiles};
  const KernelCost cost =
      count_emission(r.cfg, r.plan, [&](ProgramBuilder& b, MemoryPlan& p) { emit_batched_matmul(b, p, args); });
  const uint64_t chunk_tiles = emit_batched_matmul(r.b, r.plan, args);
  EXPECT_FALSE(r.plan.mram_space().contains("bmm.mram"));
  expect_counts_match(r.b, cost);
  EXPECT_EQ(cost.count(isa::Opcode::M_MM), c.batch * (c.n / g.blen) * (c.rows / g.blen) * (c.k / g.mlen));
  if (c.max_k_tiles && c.k / g.mlen > c.max_k_tiles) {
    EXPECT_LT(chunk_tiles, c.k / g.mlen);
  }
  r.run();
  auto got = r.get_vram("c");
  std::vector<float> staged, ref(R * c.n), wt(c.n * c.k);
  for (size_t i = 0; i < c.batch; ++i) {
    auto s = staged_matmul(r.rnd, a.data() + i * c.rows * c.k, w.data() + i * c.k * c.n, c.rows, c.k, c.n, g.mlen,
                           chunk_tiles);
    staged.insert(staged.end(), s.begin(), s.end());
    // Host truth with the ORIGINAL weights: model::linear takes W as [out, in].
    for (size_t kk = 0; kk < c.k; ++kk)
      for (size_t col = 0; col < c.n; ++col) wt[col * c.k + kk] = w_raw[(i * c.k + kk) * c.n + col];
    model::linear(a.data() + i * c.rows * c.k, c.rows, c.k, wt.data(), c.n, nullptr, ref.data() + i * c.rows * c.n);
  }
  EXPECT_TRUE(bits_equal(got, staged));
  const Metrics m = compare(got, ref);
  expect_nontrivial(m, 0.1);
  const bool exact_weights = g.hbm == "fp32" && g.sram == "fp32";
  const double rms = std::sqrt(m.ref_energy / double(ref.size()));
  if (exact_weights) {
    // Only the summation order differs (K <= 64 terms of |.| <= 0.5): a few f32 ulps.
    EXPECT_LT(m.max_abs, 1e-5);
    EXPECT_GT(m.cosine, 0.9999999);
  } else {
    // Weight quantisation: 4-bit mantissas (~2^-4 relative per weight) vs 8-bit formats.
    const bool int4 = g.hbm.find("int4") != std::string::npos;
    EXPECT_LT(m.max_abs, (int4 ? 0.4 : 0.2) * rms);
    EXPECT_GT(m.cosine, int4 ? 0.995 : 0.999);
    EXPECT_GT(m.max_abs, 0.0);  // the quantised weights are visible
  }
  // Each matrix uses its own weights: the first matrix's weights for the second batch are wrong.
  if (c.batch > 1) {
    std::vector<float> wrong(c.rows * c.n);
    for (size_t kk = 0; kk < c.k; ++kk)
      for (size_t col = 0; col < c.n; ++col) wt[col * c.k + kk] = w_raw[kk * c.n + col];
    model::linear(a.data() + c.rows * c.k, c.rows, c.k, wt.data(), c.n, nullptr, wrong.data());
    std::vector<float> got1(got.begin() + long(c.rows * c.n), got.begin() + long(2 * c.rows * c.n));
    EXPECT_LT(compare(got1, wrong).cosine, 0.5);
  }
}

}  // namespace

TEST(KernelBmm, Fp32BitExact) {
  check_bmm(Geo{16, 4, "fp32", "fp32"}, {.batch = 3, .rows = 4, .k = 32, .n = 48});
  check_bmm(Geo{16, 4, "fp32", "fp32"}, {.batch = 2, .rows = 8, .k = 64, .n = 16, .max_k_tiles = 2});  // K-split
  check_bmm(Geo{16, 4, "fp32", "fp32"}, {.batch = 1, .rows = 4, .k = 16, .n = 16});
}

TEST(KernelBmm, MxWeights) {
  check_bmm(Geo{16, 4, "fp32", "plena-hw-mxfp:fp8_e4m3:b8"}, {.batch = 2, .rows = 4, .k = 48, .n = 32});
  check_bmm(Geo{16, 4, "fp32", "mase-bfp:int4:b16"}, {.batch = 2, .rows = 4, .k = 32, .n = 16, .max_k_tiles = 1});
  check_bmm(Geo{16, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8", 4, 32}, {.batch = 2, .rows = 8, .k = 64, .n = 32});
}

TEST(KernelBmm, BadShapesAreInputErrors) {
  Rig r(make_config(Geo{16, 4, "fp32", "fp32"}));
  r.alloc_vram("a", 8, 32);
  r.alloc_vram("c", 8, 16);
  r.alloc_vram("c6", 6, 16);
  r.put_hbm("w", 64, 16, std::vector<float>(64 * 16, 0.f), r.cfg.formats.m_weight);
  auto bmm = [&](const std::string& out, uint64_t batch, const std::string& w = "w") {
    emit_batched_matmul(r.b, r.plan, {.weight = w, .input = "a", .output = out, .batch = batch});
  };
  EXPECT_NO_THROW(bmm("c", 2));
  EXPECT_THROW(bmm("c", 4), InputError);   // 2 rows per matrix: not a multiple of BLEN
  EXPECT_THROW(bmm("c", 1), InputError);   // weight holds 2 matrices of K 32
  EXPECT_THROW(bmm("c", 3), InputError);   // 8 rows not a multiple of 3
  EXPECT_THROW(bmm("c6", 2), InputError);  // row counts differ
  EXPECT_THROW(bmm("c", 0), InputError);
  EXPECT_THROW(bmm("c", 2, "missing"), InputError);
}

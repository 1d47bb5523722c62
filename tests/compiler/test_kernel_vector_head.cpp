// Per-head RMSNorm (Qwen3 q/k norm) and bias add through the simulator: bit-exact against the
// staged goldens, within bounds of the host fp32 reference (model::rmsnorm per head, x + b), and
// non-trivial (a whole-row RMSNorm is clearly different; the output padding stays 0).
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

struct HeadCase {
  size_t rows = 3, heads = 4, head_dim = 8;
  bool weight_in_hbm = false, in_place = false;
};

void check_head_rmsnorm(const Geo& g, const HeadCase& c) {
  const size_t cols = c.heads * c.head_dim;
  SCOPED_TRACE(tag(g, c.rows, cols) + fmt::format(" head_dim {} hbm {} in_place {}", c.head_dim, c.weight_in_hbm,
                                                  c.in_place));
  Rig r(make_config(g));
  r.plan.fp_constant("eps", 1e-6f);
  // Head h scaled by (1 + h): per-head and whole-row normalisation then differ clearly.
  std::vector<float> raw = randv(c.rows * cols, 101 + cols, 1.5f, 0.2f);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] *= float(1 + (i % cols) / c.head_dim);
  auto x = r.put_vram("x", c.rows, cols, raw, 4);
  std::vector<float> w;
  if (c.weight_in_hbm) {
    w = r.put_hbm("w", 1, c.head_dim, randv(c.head_dim, 102, 0.2f, 1.0f), r.cfg.formats.v_act, r.vlen(),
                  TensorClass::Weight);
    for (auto& v : w) v = r.rnd.v(v);  // the DMA rounds to the VRAM type
  } else {
    w = r.put_vram("w", 1, c.head_dim, randv(c.head_dim, 102, 0.2f, 1.0f));
  }
  if (!c.in_place) r.alloc_vram("y", c.rows, cols, 4);
  const std::string out = c.in_place ? "x" : "y";
  emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = out, .weight = "w", .head_dim = c.head_dim});
  EXPECT_EQ(r.b.regs().live_gp(), 0);
  EXPECT_EQ(r.b.regs().live_fp(), 0);
  // Head masks come from the vector unit: no VLEN-entry FP SRAM scratch (VLEN 2048 geometries
  // have fewer FP SRAM entries than that) unless the row itself has a partial block.
  if (cols % r.vlen() == 0) {
    EXPECT_FALSE(r.plan.fp_space().contains("vec.fill_scratch"));
  }
  r.run();
  auto got = r.get_vram(out);
  EXPECT_TRUE(bits_equal(got, golden::staged_head_rmsnorm(r.rnd, x, c.rows, cols, c.head_dim, w, 1e-6f)));
  std::vector<float> ref(c.rows * cols);
  model::rmsnorm(x.data(), c.rows * c.heads, c.head_dim, w.data(), 1e-6, ref.data());
  expect_close(got, ref, ref_rtol(g), 0.05, "head rmsnorm vs model::rmsnorm per head");
  if (g.sram == "fp32") {
    // Same products as the reference; only the sum order and sqrt/reci differ: a few ulps.
    EXPECT_LT(compare(got, ref).max_rel, 1e-6);
  }
  if (c.heads > 1) {
    std::vector<float> whole(c.rows * cols);
    std::vector<float> wt(cols);
    for (size_t i = 0; i < cols; ++i) wt[i] = w[i % c.head_dim];
    model::rmsnorm(x.data(), c.rows, cols, wt.data(), 1e-6, whole.data());
    EXPECT_LT(compare(got, whole).cosine, 0.99) << "per-head, not whole-row, normalisation";
  }
  auto padded = r.get_vram(out, true);
  const size_t wdt = padded.size() / c.rows;
  for (size_t row = 0; row < c.rows; ++row)
    for (size_t col = cols; col < wdt; ++col) EXPECT_EQ(padded[row * wdt + col], 0.f);
}

void check_bias_add(const Geo& g, size_t rows, size_t cols, bool bias_in_hbm, bool in_place) {
  SCOPED_TRACE(tag(g, rows, cols) + fmt::format(" hbm {} in_place {}", bias_in_hbm, in_place));
  Rig r(make_config(g));
  auto x = r.put_vram("x", rows, cols, randv(rows * cols, 111 + cols, 2.0f), 4);
  std::vector<float> bias;
  if (bias_in_hbm) {
    bias = r.put_hbm("bias", 1, cols, randv(cols, 112, 0.5f, 0.1f), r.cfg.formats.v_act, r.vlen(), TensorClass::Weight);
    for (auto& v : bias) v = r.rnd.v(v);
  } else {
    bias = r.put_vram("bias", 1, cols, randv(cols, 112, 0.5f, 0.1f));
  }
  if (!in_place) r.alloc_vram("y", rows, cols, 8);  // a different rows_alloc than x
  const std::string out = in_place ? "x" : "y";
  emit_bias_add(r.b, r.plan, {.input = "x", .output = out, .bias = "bias"});
  EXPECT_EQ(r.b.regs().live_gp(), 0);
  r.run();
  auto got = r.get_vram(out);
  EXPECT_TRUE(bits_equal(got, golden::staged_bias_add(r.rnd, x, rows, cols, bias)));
  std::vector<float> ref(rows * cols);
  for (size_t row = 0; row < rows; ++row)
    for (size_t col = 0; col < cols; ++col) ref[row * cols + col] = x[row * cols + col] + bias[col];
  if (g.sram == "fp32") {
    EXPECT_TRUE(bits_equal(got, ref));
  }
  expect_close(got, ref, g.sram == "fp32" ? 0 : 1.0 / 256, 0, "bias add vs x + b");
  EXPECT_LT(compare(got, x).cosine, 0.999) << "the bias changed the values";
  auto padded = r.get_vram(out, true);
  const size_t wdt = padded.size() / rows;
  for (size_t row = 0; row < rows; ++row)
    for (size_t col = cols; col < wdt; ++col) EXPECT_EQ(padded[row * wdt + col], 0.f);
}

}  // namespace

// ---- per-head RMSNorm ----
TEST(KernelVectorHead, HeadDimMultipleOfVlen) {
  check_head_rmsnorm(kTinyF32, {.rows = 3, .heads = 2, .head_dim = 32});
  check_head_rmsnorm(kTinyF32, {.rows = 2, .heads = 3, .head_dim = 16, .in_place = true});
  check_head_rmsnorm(kTinyBf16, {.rows = 5, .heads = 2, .head_dim = 48, .weight_in_hbm = true});
  check_head_rmsnorm(kRefBf16, {.rows = 4, .heads = 2, .head_dim = 128, .weight_in_hbm = true});
}
TEST(KernelVectorHead, SeveralHeadsPerBlock) {
  check_head_rmsnorm(kTinyF32, {.rows = 3, .heads = 4, .head_dim = 8});
  check_head_rmsnorm(kTinyF32, {.rows = 1, .heads = 8, .head_dim = 4, .in_place = true});  // decode row
  check_head_rmsnorm(kTinyF32, {.rows = 2, .heads = 3, .head_dim = 8, .weight_in_hbm = true});  // partial last block
  check_head_rmsnorm(kTinyBf16, {.rows = 4, .heads = 4, .head_dim = 8, .weight_in_hbm = true});
  check_head_rmsnorm(kRefBf16, {.rows = 4, .heads = 4, .head_dim = 32, .weight_in_hbm = true, .in_place = true});
  check_head_rmsnorm(kRefBf16, {.rows = 2, .heads = 5, .head_dim = 16});  // 4 per block, tail of 1
}
TEST(KernelVectorHead, ZeroHeadsStayZero) {
  // Zero padding heads (the K projection padded to a whole MLEN) come out as exact zeros.
  Rig r(make_config(kTinyF32));
  r.plan.fp_constant("eps", 1e-6f);
  std::vector<float> data = randv(2 * 32, 7, 1.0f);
  for (size_t row = 0; row < 2; ++row)
    for (size_t c = 16; c < 32; ++c) data[row * 32 + c] = 0.f;
  r.put_vram("x", 2, 32, data, 4);
  r.put_vram("w", 1, 8, randv(8, 8, 0.1f, 1.0f));
  emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w", .head_dim = 8});
  r.run();
  auto got = r.get_vram("x");
  for (size_t row = 0; row < 2; ++row)
    for (size_t c = 0; c < 32; ++c) {
      if (c >= 16)
        EXPECT_EQ(got[row * 32 + c], 0.f);
      else
        EXPECT_NE(got[row * 32 + c], 0.f);
    }
}
TEST(KernelVectorHead, HardwareLoopsAndUnrollingAgree) {
  std::vector<float> outs[2];
  for (int u = 0; u < 2; ++u) {
    Rig r(make_config(kTinyBf16));
    r.b.set_loop_policy(u ? LoopPolicy::unroll() : LoopPolicy::hardware());
    r.plan.fp_constant("eps", 1e-6f);
    r.put_vram("x", 5, 40, randv(5 * 40, 9, 2.0f), 4);
    r.put_vram("w", 1, 8, randv(8, 10, 0.1f, 1.0f));
    r.put_vram("b", 1, 40, randv(40, 11, 0.3f));
    emit_bias_add(r.b, r.plan, {.input = "x", .output = "x", .bias = "b"});
    emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w", .head_dim = 8});
    r.run();
    outs[u] = r.get_vram("x");
  }
  EXPECT_TRUE(bits_equal(outs[1], outs[0]));
  EXPECT_GT(compare(outs[0], outs[0]).ref_energy, 0.0);
}

// ---- bias add ----
TEST(KernelVectorHead, BiasAdd) {
  check_bias_add(kTinyF32, 3, 48, false, false);
  check_bias_add(kTinyF32, 5, 40, true, true);   // partial last block, HBM bias
  check_bias_add(kTinyBf16, 4, 40, true, false);
  check_bias_add(kRefBf16, 3, 100, true, true);  // MXFP8 bias decoded by the DMA
  check_bias_add(kRefBf16, 1, 256, false, false);
}

TEST(KernelVectorHead, BadInputsAreInputErrors) {
  Rig r(make_config(kTinyF32));
  r.plan.fp_constant("eps", 1e-6f);
  r.alloc_vram("x", 4, 48);
  r.alloc_vram("w", 1, 12);
  r.alloc_vram("w8", 1, 8);
  r.alloc_vram("b", 1, 40);
  EXPECT_THROW(emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w", .head_dim = 12}),
               InputError);  // 12 neither divides nor is a multiple of VLEN 16
  EXPECT_THROW(emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w8", .head_dim = 32}),
               InputError);  // 32 does not divide 48
  EXPECT_THROW(emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w", .head_dim = 8}),
               InputError);  // weight [1, 12] for head_dim 8
  EXPECT_THROW(emit_head_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w8", .head_dim = 0}),
               InputError);
  EXPECT_THROW(emit_bias_add(r.b, r.plan, {.input = "x", .output = "x", .bias = "b"}), InputError);  // [1, 40]
  EXPECT_THROW(emit_bias_add(r.b, r.plan, {.input = "x", .output = "x", .bias = "nope"}), InputError);
}

// The full geometry matrix (PLENA_LARGE_TESTS=1, ctest label 'large' via kernel_matrix_full):
// MLEN {16, 64, 256} x BLEN {4, 8, 16} x rows {1, 7, 64, 512} x batch {1, 2, 4}, a packed and a
// multi-block head_dim, bf16 SRAMs with MXFP8 HBM (fp32 on the tiny tiles at 7 rows).
TEST(KernelVectorHeadMatrix, HeadNormAndBias) {
  if (!large_tests()) GTEST_SKIP() << "set PLENA_LARGE_TESTS=1 to run the full matrix";
  for (uint32_t mlen : {16u, 64u, 256u})
    for (uint32_t blen : {4u, 8u, 16u})
      for (size_t batch : {1, 2, 4})
        for (size_t seq : {1, 7, 64, 512}) {
          const bool f32 = mlen == 16 && seq == 7;
          const Geo g{mlen, blen, f32 ? "fp32" : "bf16", f32 ? "fp32" : "plena-hw-mxfp:fp8_e4m3:b8"};
          const size_t rows = batch * seq;
          check_head_rmsnorm(g, {.rows = rows, .heads = 2 * mlen / 8 + 1, .head_dim = std::max<size_t>(mlen / 8, 2),
                                 .weight_in_hbm = seq != 64});
          if (mlen <= 64)
            check_head_rmsnorm(g, {.rows = rows, .heads = 2, .head_dim = 2 * mlen, .weight_in_hbm = batch == 2,
                                   .in_place = seq == 7});
          check_bias_add(g, rows, 2 * mlen + mlen / 2, seq != 512, batch == 4);
        }
}

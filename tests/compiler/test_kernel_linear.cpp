// emit_linear numerically, through the simulator: bit-exact against the staged golden (the matrix
// unit's summation and rounding order) and within tight bounds of host fp32 (model::linear), with
// error metrics, over MLEN 16/64/256 x BLEN 4/8/16 x batch 1/2/4 x sequence 1..512 (the full
// matrix with PLENA_LARGE_TESTS=1 / ctest -L large; a fast subset otherwise). The executed
// instruction mix must equal linear_counts.
#include <cmath>

#include "compiler/kernels.hpp"
#include "kernel_harness_vector.hpp"
#include "model/model.hpp"
#include "staged_matmul.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using namespace plena::test::kv;

namespace {

struct LinearCase {
  size_t rows = 4, k = 32, n = 32;
  uint64_t max_k_tiles = 0;
};

Metrics check_linear(const Geo& g, const LinearCase& c) {
  SCOPED_TRACE(fmt::format("{} rows {} K {} N {} max_k_tiles {}", geo_name(g), c.rows, c.k, c.n, c.max_k_tiles));
  Rig r(make_config(g));
  r.put_vram("resident", 3, 16, std::vector<float>(48, 2.f));  // nothing starts at VRAM 0
  auto x = r.put_vram("x", c.rows, c.k, randv(c.rows * c.k, 301 + c.k + c.rows, 1.0f), g.blen);
  const std::vector<float> w_raw = randv(c.k * c.n, 302 + c.n, 0.5f);
  auto w = r.put_hbm("w", c.k, c.n, w_raw, r.cfg.formats.m_weight, 1, TensorClass::Weight);
  for (auto& v : w) v = numerics::round_to_format(v, r.cfg.sram.matrix_type);  // as in MRAM
  r.alloc_vram("y", c.rows, c.n, g.blen);
  const LinearArgs args{.name = "lin", .weight = "w", .input = "x", .output = "y", .max_k_tiles = c.max_k_tiles};
  const KernelCost cost = count_emission(r.cfg, r.plan, [&](ProgramBuilder& b, MemoryPlan& p) { emit_linear(b, p, args); });
  const uint64_t chunk_tiles = emit_linear(r.b, r.plan, args);
  EXPECT_FALSE(r.plan.mram_space().contains("lin.mram"));
  expect_counts_match(r.b, cost);
  if (c.max_k_tiles && c.k / g.mlen > c.max_k_tiles) {
    EXPECT_LT(chunk_tiles, c.k / g.mlen);
  }
  r.run();
  const auto got = r.get_vram("y");
  const auto staged = staged_matmul(r.rnd, x.data(), w.data(), c.rows, c.k, c.n, g.mlen, chunk_tiles);
  EXPECT_TRUE(bits_equal(got, staged));
  // Host truth with the original (unquantised) weights; model::linear takes W as [out, in].
  std::vector<float> wt(c.n * c.k), xr = randv(c.rows * c.k, 301 + c.k + c.rows, 1.0f), ref(c.rows * c.n);
  for (size_t kk = 0; kk < c.k; ++kk)
    for (size_t col = 0; col < c.n; ++col) wt[col * c.k + kk] = w_raw[kk * c.n + col];
  model::linear(xr.data(), c.rows, c.k, wt.data(), c.n, nullptr, ref.data());
  const Metrics m = compare(got, ref);
  expect_nontrivial(m, 0.1);
  const double rms = std::sqrt(m.ref_energy / double(ref.size()));
  if (g.hbm == "fp32" && g.sram == "fp32") {
    EXPECT_LT(m.max_abs, 2e-6 * std::sqrt(double(c.k)) * rms + 1e-6);  // summation order only
    EXPECT_GT(m.cosine, 0.9999999);
  } else {
    // bf16 activations/outputs and MXFP8 weights (3 mantissa bits, shared block scale).
    EXPECT_LT(m.max_abs, 0.25 * rms);
    EXPECT_GT(m.cosine, 0.998);
    EXPECT_GT(m.max_abs, 0.0);  // quantisation is visible: the comparison is not vacuous
  }
  return m;
}

struct MatrixPoint {
  Geo g;
  size_t batch, seq;
};

std::vector<MatrixPoint> matrix_points(bool full) {
  std::vector<MatrixPoint> pts;
  for (uint32_t mlen : {16u, 64u, 256u})
    for (uint32_t blen : {4u, 8u, 16u})
      for (size_t batch : {1, 2, 4})
        for (size_t seq : {1, 7, 64, 512}) {
          if (blen > mlen) continue;
          // The fast subset: one batch size per geometry, short sequences, MLEN 256 only once.
          if (!full && (batch != (blen == 8 ? 2 : 1) || seq > 64 || (mlen == 256 && (blen != 16 || seq != 7)))) continue;
          const bool exact = seq == 7 || seq == 1;  // fp32 everywhere: bit-exact and host-exact
          pts.push_back({Geo{mlen, blen, exact ? "fp32" : "bf16", exact ? "fp32" : "plena-hw-mxfp:fp8_e4m3:b8"}, batch,
                         seq});
        }
  return pts;
}

void run_matrix(bool full) {
  double worst_cos = 1, worst_rel = 0;
  size_t n = 0;
  for (const auto& p : matrix_points(full)) {
    const size_t rows = p.batch * p.seq, mlen = p.g.mlen;
    // K of 3 tiles with and without a K-split; N of 2 column blocks (one when MLEN is 256).
    const size_t k = 3 * mlen, cols = mlen == 256 ? mlen : 2 * mlen;
    for (uint64_t kt : {uint64_t(0), uint64_t(2)}) {
      const Metrics m = check_linear(p.g, {.rows = rows, .k = k, .n = cols, .max_k_tiles = kt});
      worst_cos = std::min(worst_cos, m.cosine);
      worst_rel = std::max(worst_rel, m.max_abs / std::sqrt(m.ref_energy / double(rows * cols)));
      ++n;
    }
  }
  // Reported for the record (ctest --output-on-failure / -V shows it).
  std::printf("linear matrix: %zu cases, worst cosine %.7f, worst max_abs/rms %.4f\n", n, worst_cos, worst_rel);
  EXPECT_GT(n, 0u);
}

}  // namespace

TEST(KernelLinear, Fp32BitExactSmall) {
  check_linear(Geo{16, 4, "fp32", "fp32"}, {.rows = 1, .k = 16, .n = 16});
  check_linear(Geo{16, 4, "fp32", "fp32"}, {.rows = 5, .k = 64, .n = 48, .max_k_tiles = 1});  // one tile per chunk
  check_linear(Geo{16, 4, "fp32", "fp32", 4, 32}, {.rows = 8, .k = 96, .n = 32});           // 2 tiles per prefetch
}

// Chained linears (as a model step's q -> k -> v and gate -> up -> down): A prefetches B's first
// chunk, B prefetches C's (a different K, so a different chunk size), each output bit-exact.
void check_chain(const Geo& g, uint64_t mram_tiles) {
  SCOPED_TRACE(fmt::format("{} MRAM {} tiles", geo_name(g), mram_tiles));
  config::HardwareConfig cfg = make_config(g);
  cfg.sram.matrix_depth = mram_tiles * g.mlen;
  Rig r(cfg);
  const size_t rows = 5, k = 64, n1 = 48, n2 = 32, n3 = 32;
  r.put_vram("resident", 3, 16, std::vector<float>(48, 2.f));
  auto x = r.put_vram("x", rows, k, randv(rows * k, 311, 1.0f), g.blen);
  auto put_w = [&](const std::string& name, size_t kk, size_t nn, uint32_t seed) {
    auto w = r.put_hbm(name, kk, nn, randv(kk * nn, seed, 0.5f), r.cfg.formats.m_weight, 1, TensorClass::Weight);
    for (auto& v : w) v = numerics::round_to_format(v, r.cfg.sram.matrix_type);
    return w;
  };
  const auto w1 = put_w("w1", k, n1, 312), w2 = put_w("w2", k, n2, 313), w3 = put_w("w3", n1, n3, 314);
  r.alloc_vram("y1", rows, n1, g.blen);
  r.alloc_vram("y2", rows, n2, g.blen);
  r.alloc_vram("y3", rows, n3, g.blen);
  uint64_t half = 7;
  const uint64_t c1 = emit_linear(r.b, r.plan, {.name = "a", .weight = "w1", .input = "x", .output = "y1",
                                                .next_weight = "w2", .chain_half = &half});
  EXPECT_TRUE(r.plan.mram_space().contains("linear.chain"));
  EXPECT_LE(half, 1u);
  const uint64_t c2 = emit_linear(r.b, r.plan, {.name = "b", .weight = "w2", .input = "x", .output = "y2",
                                                .next_weight = "w3", .chained = true, .chain_half = &half});
  const uint64_t c3 = emit_linear(r.b, r.plan, {.name = "c", .weight = "w3", .input = "y1", .output = "y3",
                                                .chained = true, .chain_half = &half});
  EXPECT_FALSE(r.plan.mram_space().contains("linear.chain"));
  r.run();
  EXPECT_TRUE(bits_equal(r.get_vram("y1"), staged_matmul(r.rnd, x.data(), w1.data(), rows, k, n1, g.mlen, c1)));
  EXPECT_TRUE(bits_equal(r.get_vram("y2"), staged_matmul(r.rnd, x.data(), w2.data(), rows, k, n2, g.mlen, c2)));
  const auto y1 = r.get_vram("y1");
  EXPECT_TRUE(bits_equal(r.get_vram("y3"), staged_matmul(r.rnd, y1.data(), w3.data(), rows, n1, n3, g.mlen, c3)));
}

TEST(KernelLinear, ChainedLinearsPrefetchTheNextFirstChunk) {
  check_chain(Geo{16, 4, "fp32", "fp32"}, 64);  // K fits a buffer: no K-split
  check_chain(Geo{16, 4, "fp32", "fp32"}, 4);   // two-tile buffers: K-split, odd and even step counts
  check_chain(Geo{16, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"}, 2);  // one tile per buffer, as reference-analytic
}

TEST(KernelLinear, MxWeightFormats) {
  check_linear(Geo{16, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"}, {.rows = 6, .k = 64, .n = 32});
  check_linear(Geo{64, 8, "bf16", "ocp-mx:fp8_e4m3:b32:rne"}, {.rows = 4, .k = 192, .n = 64, .max_k_tiles = 2});
  check_linear(Geo{16, 4, "bf16", "mase-bfp:int8:b16"}, {.rows = 4, .k = 48, .n = 32});
}

TEST(KernelLinear, FastMatrix) { run_matrix(false); }

TEST(KernelLinear, LargeMatrix) {
  if (!large_tests()) GTEST_SKIP() << "set PLENA_LARGE_TESTS=1 (or ctest -L large) for the full matrix";
  run_matrix(true);
}

// SwiGLU fused into the up projection (LinearArgs::swiglu_gate) gives the bits of the linear
// followed by emit_swiglu, and the counting back-end counts what executes.
void check_fused_swiglu(const Geo& g, const LinearCase& c) {
  SCOPED_TRACE(fmt::format("{} rows {} K {} N {} max_k_tiles {}", geo_name(g), c.rows, c.k, c.n, c.max_k_tiles));
  auto run = [&](bool fused) {
    Rig r(make_config(g));
    r.put_vram("resident", 3, 16, std::vector<float>(48, 2.f));
    r.put_vram("x", c.rows, c.k, randv(c.rows * c.k, 321, 1.0f), g.blen);
    r.put_vram("gate", c.rows, c.n, randv(c.rows * c.n, 322, 2.0f), g.blen);
    r.put_hbm("w", c.k, c.n, randv(c.k * c.n, 323, 0.5f), r.cfg.formats.m_weight, 1, TensorClass::Weight);
    r.alloc_vram("up", c.rows, c.n, g.blen);
    LinearArgs a{.name = "up", .weight = "w", .input = "x", .output = "up", .max_k_tiles = c.max_k_tiles};
    if (fused) {
      a.swiglu_gate = "gate";
      const KernelCost cost = count_emission(r.cfg, r.plan, [&](ProgramBuilder& b, MemoryPlan& p) { emit_linear(b, p, a); });
      emit_linear(r.b, r.plan, a);
      expect_counts_match(r.b, cost);
    } else {
      emit_linear(r.b, r.plan, a);
      emit_swiglu(r.b, r.plan, {"act", "gate", "up", "gate"});
    }
    r.run();
    return r.get_vram("gate");
  };
  const auto fused = run(true), separate = run(false);
  EXPECT_TRUE(bits_equal(fused, separate));
  EXPECT_GT(compare(fused, std::vector<float>(fused.size(), 0.f)).nonzero, fused.size() / 2);  // not vacuous
}

// The residual add fused into the projection (LinearArgs::residual) gives the bits of the linear
// followed by emit_residual_add, and the counting back-end counts what executes.
void check_fused_residual(const Geo& g, const LinearCase& c) {
  SCOPED_TRACE(fmt::format("{} rows {} K {} N {} max_k_tiles {}", geo_name(g), c.rows, c.k, c.n, c.max_k_tiles));
  auto run = [&](bool fused) {
    Rig r(make_config(g));
    r.put_vram("resident", 3, 16, std::vector<float>(48, 2.f));
    r.put_vram("attn", c.rows, c.k, randv(c.rows * c.k, 331, 1.0f), g.blen);
    r.put_vram("x", c.rows, c.n, randv(c.rows * c.n, 332, 2.0f), g.blen);
    r.put_hbm("w", c.k, c.n, randv(c.k * c.n, 333, 0.5f), r.cfg.formats.m_weight, 1, TensorClass::Weight);
    r.alloc_vram("o", c.rows, c.n, g.blen);
    LinearArgs a{.name = "o_proj", .weight = "w", .input = "attn", .output = "o", .max_k_tiles = c.max_k_tiles};
    if (fused) {
      a.residual = "x";
      const KernelCost cost = count_emission(r.cfg, r.plan, [&](ProgramBuilder& b, MemoryPlan& p) { emit_linear(b, p, a); });
      emit_linear(r.b, r.plan, a);
      expect_counts_match(r.b, cost);
    } else {
      emit_linear(r.b, r.plan, a);
      emit_residual_add(r.b, r.plan, {"res", "x", "o", "x"});
    }
    r.run();
    return r.get_vram("x");
  };
  const auto fused = run(true), separate = run(false);
  EXPECT_TRUE(bits_equal(fused, separate));
  EXPECT_GT(compare(fused, std::vector<float>(fused.size(), 0.f)).nonzero, fused.size() / 2);  // not vacuous
}

TEST(KernelLinear, FusedResidualEqualsSeparate) {
  check_fused_residual(Geo{16, 4, "fp32", "fp32"}, {.rows = 5, .k = 32, .n = 48, .max_k_tiles = 1});
  check_fused_residual(Geo{16, 4, "fp32", "fp32"}, {.rows = 8, .k = 16, .n = 16});
  check_fused_residual(Geo{16, 4, "fp32", "fp32"}, {.rows = 13, .k = 48, .n = 32, .max_k_tiles = 1});  // lagged last block
  check_fused_residual(Geo{16, 4, "fp32", "fp32"}, {.rows = 12, .k = 32, .n = 16, .max_k_tiles = 1});  // one block, lagged
  check_fused_residual(Geo{64, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"}, {.rows = 6, .k = 64, .n = 128});
}

// RMSNorm fused into the projection that reads it (LinearArgs::norm) gives the bits of
// emit_rmsnorm followed by the linear (both the normalised rows and the product), and the
// counting back-end counts what executes. The norm's rows run one row group ahead of the
// multiplies: full groups, a partial last group, fewer rows than one group, padded groups.
void check_fused_norm(const Geo& g, const LinearCase& c, size_t rows_alloc, bool weight_in_hbm) {
  SCOPED_TRACE(fmt::format("{} rows {} (of {}) K {} N {} max_k_tiles {} weight in {}", geo_name(g), c.rows, rows_alloc,
                           c.k, c.n, c.max_k_tiles, weight_in_hbm ? "HBM" : "VRAM"));
  auto run = [&](bool fused) {
    Rig r(make_config(g));
    r.plan.fp_constant("eps", 1e-5f);
    r.put_vram("resident", 3, 16, std::vector<float>(48, 2.f));
    r.put_vram("x", c.rows, c.k, randv(c.rows * c.k, 341, 2.0f), rows_alloc);
    r.alloc_vram("h", c.rows, c.k, rows_alloc);
    const std::vector<float> nw = randv(c.k, 342, 0.5f, 1.0f);
    if (weight_in_hbm)
      r.put_hbm("nw", 1, c.k, nw, r.cfg.formats.v_act, r.vlen());
    else
      r.put_vram("nw", 1, c.k, nw);
    r.put_hbm("w", c.k, c.n, randv(c.k * c.n, 343, 0.5f), r.cfg.formats.m_weight, 1, TensorClass::Weight);
    r.alloc_vram("q", c.rows, c.n, rows_alloc);
    const RmsNormArgs norm{"attn_norm", "x", "h", "nw"};
    LinearArgs a{.name = "q_proj", .weight = "w", .input = "h", .output = "q", .max_k_tiles = c.max_k_tiles};
    if (fused) {
      a.norm = &norm;
      const KernelCost cost = count_emission(r.cfg, r.plan, [&](ProgramBuilder& b, MemoryPlan& p) { emit_linear(b, p, a); });
      emit_linear(r.b, r.plan, a);
      expect_counts_match(r.b, cost);
    } else {
      emit_rmsnorm(r.b, r.plan, norm);
      emit_linear(r.b, r.plan, a);
    }
    r.run();
    return std::make_pair(r.get_vram("h"), r.get_vram("q"));
  };
  const auto fused = run(true), separate = run(false);
  EXPECT_TRUE(bits_equal(fused.first, separate.first));
  EXPECT_TRUE(bits_equal(fused.second, separate.second));
  EXPECT_GT(compare(fused.second, std::vector<float>(fused.second.size(), 0.f)).nonzero, fused.second.size() / 2);
}

TEST(KernelLinear, FusedNormEqualsSeparate) {
  const Geo fp32{16, 4, "fp32", "fp32"}, mx{64, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"};
  check_fused_norm(fp32, {.rows = 13, .k = 32, .n = 48}, 4, false);                    // full groups + a partial one
  check_fused_norm(fp32, {.rows = 16, .k = 32, .n = 32, .max_k_tiles = 1}, 4, true);  // K split, all groups full
  check_fused_norm(fp32, {.rows = 3, .k = 16, .n = 16}, 12, false);                    // one partial group, padding
  check_fused_norm(fp32, {.rows = 9, .k = 48, .n = 16}, 16, true);                     // one block, padded groups
  check_fused_norm(mx, {.rows = 6, .k = 128, .n = 128}, 4, true);                      // rows after each group
}

TEST(KernelLinear, FusedSwiGluEqualsSeparate) {
  check_fused_swiglu(Geo{16, 4, "fp32", "fp32"}, {.rows = 5, .k = 32, .n = 48, .max_k_tiles = 1});  // rows per column
  check_fused_swiglu(Geo{16, 4, "fp32", "fp32"}, {.rows = 8, .k = 16, .n = 16});                     // one block: tail only
  check_fused_swiglu(Geo{16, 4, "fp32", "fp32"}, {.rows = 16, .k = 32, .n = 48, .max_k_tiles = 1});  // last block lagged
  check_fused_swiglu(Geo{64, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"}, {.rows = 6, .k = 64, .n = 128});  // rows per group
}

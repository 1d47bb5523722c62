// Vector kernels through the simulator: (a) against the host fp32 reference (src/model, or the
// references in staged_golden_vector.hpp) with tight bounds + non-triviality, and (b) against
// the staged goldens, bit for bit. Fast subset; the full geometry matrix is in
// test_kernel_vector_matrix.cpp (PLENA_LARGE_TESTS=1).
#include "compiler/kernel_registry.hpp"
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
// rotate_cols: only the first heads rotate (the K half of a fused K|V row), the rest keep their bits:
// whole blocks, a block cut on an HLEN segment (V_MASK), and head_dim > VLEN.
TEST(KernelVector, RopeRotatesLeadingColumnsOnly) {
  const Geo f32_64{64, 4, "fp32", "fp32"};
  check_rope(kTinyF32, {.rows = 3, .heads = 4, .head_dim = 8, .pos0 = 5, .rotate_heads = 2});
  check_rope(f32_64, {.rows = 5, .heads = 4, .head_dim = 16, .pos0 = 9, .rotate_heads = 2});
  check_rope(f32_64, {.rows = 2, .heads = 8, .head_dim = 16, .pos0 = 3, .pos_step = 7, .rotate_heads = 6});
  check_rope(kRefBf16, {.rows = 4, .heads = 8, .head_dim = 16, .pos0 = 100, .llama3 = true, .rotate_heads = 5});
  check_rope(kTinyF32, {.rows = 3, .heads = 3, .head_dim = 32, .pos0 = 5, .rotate_heads = 1});
}

// A partial rotation multiplies only the BLEN-wide swap columns that rotate: 4 heads of 16 at
// MLEN 64, BLEN 4 rotate 2 heads = 8 of 16 columns per row group; the whole row needs all 16.
TEST(KernelVector, RopePartialRowMultipliesOnlyRotatedColumns) {
  const config::HardwareConfig cfg = make_config({64, 4, "fp32", "fp32"});
  KernelShape s;
  s.set("rows", 8).set("rows_alloc", 8).set("cols", 64).set("head_dim", 16);
  const uint64_t whole = count_kernel(cfg, "rope", s).count(isa::Opcode::M_MM);
  s.set("rotate_cols", 32);
  const uint64_t part = count_kernel(cfg, "rope", s).count(isa::Opcode::M_MM);
  EXPECT_EQ(whole, 2u * 16u);  // 2 row groups x 16 columns
  EXPECT_EQ(part, 2u * 8u);
}

// swapped_output (decode's Q for attention's swap-tile copy): swap(rope(x)) bit for bit.
TEST(KernelVector, RopeSwappedOutput) {
  check_rope(kTinyF32, {.rows = 3, .heads = 4, .head_dim = 8, .pos0 = 5, .swapped = true});
  check_rope(kRefBf16, {.rows = 2, .heads = 4, .head_dim = 32, .pos0 = 9000, .llama3 = true, .in_place = true,
                        .swapped = true});
}

TEST(KernelVector, RopeRotateColsErrors) {
  Rig r(make_config({64, 4, "fp32", "fp32"}));
  r.alloc_vram("x", 4, 64, 4);
  r.alloc_vram("y", 4, 64, 4);
  const RopePlacement p = place_rope_tables(r.plan, "rope", 4, 16);
  auto run = [&](const std::string& out, uint64_t rot) {
    RopeArgs a{.input = "x", .output = out, .head_dim = 16, .tables = p};
    a.rotate_cols = rot;
    emit_rope(r.b, r.plan, a);
  };
  EXPECT_THROW(run("x", 24), InputError);   // not whole heads
  EXPECT_THROW(run("x", 80), InputError);   // past the input
  EXPECT_THROW(run("y", 32), InputError);   // not in place
  Rig t(make_config(kTinyF32));             // HLEN = VLEN: no segment inside a block
  t.alloc_vram("x", 4, 32, 4);
  const RopePlacement pt = place_rope_tables(t.plan, "rope", 4, 8);
  RopeArgs a{.input = "x", .output = "x", .head_dim = 8, .tables = pt};
  a.rotate_cols = 8;
  EXPECT_THROW(emit_rope(t.b, t.plan, a), InputError);
}

// A swap tile left in another kernel's MRAM block (RopeArgs::tile_block, the fused K|V projection's
// chain buffers): only with swap_loaded, the block allocated, the whole tile inside it.
TEST(KernelVector, RopeTileBlockErrors) {
  Rig r(make_config({64, 4, "fp32", "fp32"}));
  r.alloc_vram("x", 4, 64, 4);
  const RopePlacement p = place_rope_tables(r.plan, "rope", 4, 16);
  const uint64_t tile = r.plan.config().hbm.m_prefetch_amount / 64, elems = 64 * 64;
  auto run = [&](bool loaded, const std::string& block, uint64_t address) {
    RopeArgs a{.input = "x", .output = "x", .head_dim = 16, .tables = p};
    a.swap_loaded = loaded;
    a.keep_swap = true;
    a.tile_block = block;
    a.tile_address = address;
    emit_rope(r.b, r.plan, a);
  };
  EXPECT_THROW(run(true, "chain", 0), InputError);  // not allocated
  const uint64_t base = r.plan.alloc_mram("chain", 2 * tile).address();
  EXPECT_THROW(run(false, "chain", base), InputError);                      // would prefetch into it
  EXPECT_THROW(run(true, "chain", base + tile * elems + 1), InputError);    // not on a tile
  EXPECT_THROW(run(true, "chain", base + (tile + 1) * elems), InputError);  // runs past the block
  EXPECT_NO_THROW(run(true, "chain", base + tile * elems));
  EXPECT_TRUE(r.plan.mram_space().contains("chain"));  // keep_swap leaves it
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
// Decoupled: one window of v_prefetch_amount rows per token (and per `amount` blocks), landing in
// a ring; the last table rows' windows start earlier; a table smaller than a window reads blocks.
TEST(KernelVector, EmbeddingLookupWindows) {
  const auto d = config::TimingMode::Decoupled;
  check_embedding(kTinyF32, 50, 40, {3, 49, 0, 3, 17}, 1, d);
  check_embedding(kTinyF32, 20, 32, {1, 2, 3, 4, 5, 6, 7, 8, 19, 18, 0}, 4, d);
  check_embedding(kRefBf16, 40, 192, {39, 1, 22, 38}, 1, d);  // MXFP8 table decoded by the DMA
  check_embedding(Geo{16, 4, "bf16", "bf16", 2}, 30, 80, {4, 29, 28}, 1, d);  // 5 blocks: 3 windows per token
  check_embedding(Geo{16, 4, "bf16", "bf16", 8}, 3, 16, {2, 0, 1}, 1, d);      // table under one window
  std::vector<int64_t> many(40);
  for (size_t i = 0; i < many.size(); ++i) many[i] = int64_t((i * 7 + 3) % 50);
  check_embedding(kTinyF32, 50, 40, many, 1, d);  // the ring wraps
}

// ---- loop policies: hardware loops and full unrolling run the same dynamic stream ----
TEST(KernelVector, HardwareLoopsAndUnrollingAgree) {
  std::vector<float> outs[2];
  size_t sizes[2] = {0, 0};
  for (int u = 0; u < 2; ++u) {
    Rig r(make_config(kTinyBf16));
    r.b.set_loop_policy(u ? LoopPolicy::unroll() : LoopPolicy::hardware());
    r.plan.fp_constant("eps", 1e-6f);
    // 16 rows: the norm's code is the row body three times (prologue, loop, epilogue).
    r.put_vram("x", 16, 40, randv(16 * 40, 5, 2.0f), 4);
    r.put_vram("w", 1, 40, randv(40, 6, 0.1f, 1.0f));
    r.alloc_vram("y", 16, 40, 4);
    emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "y", .weight = "w"});
    emit_softmax(r.b, r.plan, {.input = "y", .output = "y"});
    emit_swiglu(r.b, r.plan, {.gate = "y", .up = "x", .output = "x"});
    r.run();
    outs[u] = r.get_vram("x");
    sizes[u] = r.b.size();
  }
  EXPECT_TRUE(bits_equal(outs[1], outs[0]));
  EXPECT_GT(compare(outs[0], outs[0]).ref_energy, 0.0);
  EXPECT_LT(sizes[0] * 3, sizes[1]);  // hardware loops keep the program small
}

TEST(KernelVector, StaticSizeDoesNotGrowWithRows) {
  size_t sizes[2];
  for (int i = 0; i < 2; ++i) {
    Rig r(make_config(kRefBf16));
    r.plan.fp_constant("eps", 1e-6f);
    const size_t rows = i ? 512 : 12;  // RoPE: three BLEN row groups or more keep its lagged group loop a real loop
    r.alloc_vram("x", rows, 200, 4);
    r.alloc_vram("w", 1, 200);
    emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w"});
    emit_softmax(r.b, r.plan, {.input = "x", .output = "x"});
    emit_activation(r.b, r.plan, {.kind = Activation::Gelu, .input = "x", .output = "x"});
    RopePlacement p = place_rope_tables(r.plan, "rope", rows, 64);
    r.alloc_vram("q", rows, 256, 4);
    emit_rope(r.b, r.plan, {.input = "q", .output = "q", .head_dim = 64, .tables = p});
    sizes[i] = r.b.size();
  }
  // Only immediates grow: addresses past 2^18 take S_LUI_INT + S_ADDI_INT instead of one S_ADDI_INT.
  EXPECT_LE(sizes[1], sizes[0] + 24);
  EXPECT_GE(sizes[1], sizes[0]);
}

// ---- host helpers ----
TEST(KernelVector, RopeHostTables) {
  // The swap matrix is a symmetric permutation pairing (i, i + d/2) inside each head.
  auto m = rope_swap_matrix(8, 16);
  for (size_t k = 0; k < 16; ++k) {
    float row = 0, col = 0;
    for (size_t n = 0; n < 16; ++n) {
      row += m[k * 16 + n];
      col += m[n * 16 + k];
      EXPECT_EQ(m[k * 16 + n], m[n * 16 + k]);
    }
    EXPECT_EQ(row, 1.f);
    EXPECT_EQ(col, 1.f);
  }
  EXPECT_EQ(m[0 * 16 + 4], 1.f);   // head 0: 0 <-> 4
  EXPECT_EQ(m[9 * 16 + 13], 1.f);  // head 1: 9 <-> 13
  // llama3 scaling changes the low frequencies, so the tables differ at a large position.
  model::RopeScaling l3{model::RopeScalingType::Llama3, 8.0, 1.0, 4.0, 8192};
  auto plain = model::rope_inv_freq(64, 500000.0, {}), scaled = model::rope_inv_freq(64, 500000.0, l3);
  const std::vector<int64_t> pos = {0, 100000};
  auto a = rope_tables(plain, 64, 64, pos), b = rope_tables(scaled, 64, 64, pos);
  EXPECT_EQ(a.width, 64u);
  EXPECT_EQ(a.cos[0], 1.f);                      // position 0: cos 1
  EXPECT_EQ(a.sin[64 + 1], -float(std::sin(double(100000.f * plain[1]))));  // first half: -sin
  EXPECT_NE(a.cos[64 + 31], b.cos[64 + 31]);     // lowest frequency: scaled
  EXPECT_EQ(a.cos[64 + 0], b.cos[64 + 0]);       // highest frequency: kept
  EXPECT_EQ(a.sin[64 + 40], -a.sin[64 + 8]);     // rotate-half sign folded in
  // Bad geometries are InputErrors.
  EXPECT_THROW(rope_swap_matrix(12, 16), InputError);
  EXPECT_THROW(rope_tables(plain, 96, 64, pos), InputError);
  EXPECT_THROW(rope_tables(plain, 7, 64, pos), InputError);
}

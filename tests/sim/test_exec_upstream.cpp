// Upstream kernel patterns the reference emulator runs: M_MV/M_TMV with element column offsets
// (upstream's GEMV template) and H_PREFETCH_V rows starting inside an MX block (its im2col kernel).
// Programs are written here in the shape those templates emit; results are checked against host
// computations of the reference's rule.
#include <fmt/format.h>

#include "test_exec_util.hpp"

using namespace plena;
using namespace plena::sim;
using namespace plena::sim::test;

namespace {

const char* kMx = "plena-hw-mxfp:fp8_e4m3:b8";

// GEMV y[1, N] = x[1, K] @ W[K, N] in the upstream gemv_asm structure: per BLEN output columns, the
// MRAM address is tile base + column (an element offset), stepping MLEN*MLEN per K tile; every
// MLEN columns the K tiles are prefetched (rows STRIDE_REG = N apart). W at HBM a0, x at VRAM 0,
// y at VRAM `y_base` as N/MLEN rows.
std::string gemv_program(uint32_t L, uint32_t B, uint32_t K, uint32_t N, uint32_t y_base, const char* mv) {
  std::string s = fmt::format("S_ADDI_INT gp1, gp0, {}\nC_SET_SCALE_REG gp1 \n", K * N);
  s += fmt::format("S_ADDI_INT gp1, gp0, {}\nC_SET_STRIDE_REG gp1 \n", N);
  for (uint32_t wr = 0; wr < N / B; ++wr) {
    const uint32_t col = (wr % (L / B)) * B;
    if (col == 0) {
      s += fmt::format("S_ADDI_INT gp2, gp0, 0 \nS_ADDI_INT gp4, gp0, {} \n", wr * B);
      for (uint32_t kt = 0; kt < K / L; ++kt)
        s += fmt::format("H_PREFETCH_M gp2, gp4, a0, 1, 0 \nS_ADDI_INT gp2, gp2, {} \nS_ADDI_INT gp4, gp4, {} \n",
                         L * L, L * N);
    }
    s += fmt::format("S_ADDI_INT gp2, gp0, {} \n", col);
    s += fmt::format("S_ADDI_INT gp5, gp0, {} \n", y_base + (wr * B / L) * L + col);
    s += "S_ADDI_INT gp3, gp0, 0 \nS_ADDI_INT gp6, gp2, 0 \n";
    for (uint32_t kt = 0; kt < K / L; ++kt)
      s += fmt::format("{} 0, gp6, gp3 \nS_ADDI_INT gp6, gp6, {} \nS_ADDI_INT gp3, gp3, {} \n", mv, L * L, L);
    s += "M_MV_WO gp5, gp0, 0 \n";
  }
  return s;
}

struct Gemv {
  config::HardwareConfig cfg = tiny_config();  // MLEN = VLEN = 16, BLEN = 4, fp32 SRAMs
  uint32_t K = 32, N = 32;
  std::vector<float> x, w;  // w: the MX-decoded weights [K, N]
  Gemv() { cfg.formats.m_weight = numerics::parse_format(kMx); }
  void load(Rig& r) {
    HbmTensor t;
    t.rows = K;
    t.cols = N;
    t.format = cfg.formats.m_weight;
    write_hbm_tensor(r.m().hbm(), t, randv(K * N, 21, 2.0f));
    w = read_hbm_tensor(r.m().hbm(), t);
    x = randv(K, 22);
    r.m().write_vram(0, x);
  }
};

}  // namespace

TEST(ExecUpstream, GemvElementOffsetsMatchHost) {
  Gemv g;
  Rig r(g.cfg);
  g.load(r);
  const uint32_t L = 16;
  r.run(gemv_program(L, 4, g.K, g.N, 256, "M_MV"));
  auto y = r.m().read_vram(256, g.N);
  int nonzero = 0;
  for (uint32_t j = 0; j < g.N; ++j) {
    float acc = 0.f;  // per K tile: f32 sum over k ascending from 0, then added to the accumulator
    for (uint32_t kt = 0; kt < g.K / L; ++kt) {
      float part = 0.f;
      for (uint32_t k = 0; k < L; ++k) part += g.x[kt * L + k] * g.w[(kt * L + k) * g.N + j];
      acc += part;
    }
    EXPECT_EQ(f2u(y[j]), f2u(acc)) << j;
    nonzero += acc != 0.f;
  }
  EXPECT_GT(nonzero, 28);
}

// M_TMV with an element offset reads tile rows [col, col + BLEN) (the transposed tile's columns).
TEST(ExecUpstream, TmvElementOffsetMatchesHost) {
  Rig r(tiny_config());
  const int L = 16, B = 4;
  auto x = randv(L, 31), w = randv(2 * L * L, 32);
  r.m().write_vram(0, x);
  r.m().write_mram(0, w);
  r.run(R"(
    S_ADDI_INT gp1, gp0, 268     ; tile 1 (256) + element column 12
    M_TMV 0, gp1, gp0
    S_ADDI_INT gp2, gp0, 64
    M_MV_WO gp2, gp0, 8
    S_ADDI_INT gp1, gp0, 448     ; tile 1 + row-granular column 12 (12 * 16): the same operand
    M_TMV 0, gp1, gp0
    M_MV_WO gp2, gp0, 0
  )");
  for (int j = 0; j < B; ++j) {
    float t = 0.f;
    for (int k = 0; k < L; ++k) t += x[k] * w[L * L + (12 + j) * L + k];
    EXPECT_EQ(f2u(r.m().read_vram(64 + 8 + j, 1)[0]), f2u(0.f + t)) << j;
    EXPECT_EQ(f2u(r.m().read_vram(64 + j, 1)[0]), f2u(0.f + t)) << j;
  }
}

TEST(ExecUpstream, MvOffsetsOutsideBothRulesFault) {
  auto run = [](const std::string& src) { Rig(tiny_config()).run(src); };
  // Column 2 is not a multiple of BLEN; 16 + 4 is neither col < MLEN nor col * MLEN.
  expect_fault([&] { run("S_ADDI_INT gp1, gp0, 2\nM_MV 0, gp1, gp0"); },
               {"pc 0x0001", "M_MV 0, gp1, gp0", "column 2", "multiple of BLEN (4)"});
  expect_fault([&] { run("S_ADDI_INT gp1, gp0, 20\nM_TMV 0, gp1, gp0"); },
               {"pc 0x0001", "M_TMV", "offset 20", "col*MLEN or col < MLEN"});
  // M_MM keeps the row-granular rule only (the reference asserts the same).
  expect_fault([&] { run("S_ADDI_INT gp1, gp0, 4\nM_MM 0, gp1, gp0"); }, {"M_MM", "offset 4", "not col*MLEN with"});
  // Out-of-range MRAM is still a fault naming the instruction.
  expect_fault([&] { run("S_LUI_INT gp1, 1\nM_MV 0, gp1, gp0"); }, {"pc 0x0001", "M_MV"});
}

namespace {

// MX activations [rows x cols] at HBM 0 with hand-made bytes: element codes from `codes`, the scale
// of block b equal to 2^(b mod 8 - 3) (E8M0 byte 124 + b mod 8), so a wrong block shows.
struct MxInput {
  config::HardwareConfig cfg = tiny_config();
  uint32_t rows = 8, cols = 32;
  std::vector<uint8_t> codes;
  MxInput() {
    cfg.formats.v_act = numerics::parse_format(kMx);
    codes.resize(rows * cols);
    uint32_t s = 7;
    for (auto& c : codes) {
      s = s * 1103515245u + 12345u;
      c = uint8_t((s >> 16) % 0x78);  // non-negative codes below the top binade (no Inf/NaN, which the
                                      // im2col mask (x * 0) would spread)
    }
  }
  std::vector<uint8_t> scales() const {
    std::vector<uint8_t> sc(rows * cols / 8);
    for (size_t b = 0; b < sc.size(); ++b) sc[b] = uint8_t(124 + b % 8);
    return sc;
  }
  void load(Rig& r) const {
    r.m().hbm().write(0, codes);
    r.m().hbm().write(rows * cols, scales());
  }
  // Element j of a row starting at element e: its code, scaled by the run of scales that starts at
  // block floor(e / 8) (the reference's rule), decoded by the format's row decoder.
  std::vector<float> reference_row(uint64_t e) const {
    const numerics::Format f = cfg.formats.v_act;
    std::vector<uint8_t> eb(codes.begin() + e, codes.begin() + e + 16);
    auto all = scales();
    std::vector<uint8_t> sb(all.begin() + e / 8, all.begin() + e / 8 + 2);
    std::vector<float> out(16);
    numerics::decode_row(f, eb, sb, out);
    return out;
  }
};

}  // namespace

TEST(ExecUpstream, PrefetchVRowsStartingInsideAnMxBlock) {
  MxInput in;
  Rig r(in.cfg);
  in.load(r);
  // Rows start at element 13 + 32 r: scales from block 1 + 4 r, so element j uses block 1 + 4 r + j / 8.
  r.run(R"(
    S_ADDI_INT gp1, gp0, 256     ; SCALE_REG = element count
    C_SET_SCALE_REG gp1
    S_ADDI_INT gp1, gp0, 32
    C_SET_STRIDE_REG gp1
    S_ADDI_INT gp2, gp0, 13
    S_ADDI_INT gp3, gp0, 64
    H_PREFETCH_V gp3, gp2, a0, 1, 0
  )");
  for (uint32_t row = 0; row < 4; ++row) {
    const uint64_t e = 13 + 32 * row;
    auto want = in.reference_row(e);
    EXPECT_TRUE(bits_equal(r.m().read_vram(64 + 16 * row, 16), want)) << row;
    // Hand check of the rule on two elements: j = 2 (global block 1 + 4 r: same as its own block)
    // and j = 5 (global element in block 2 + 4 r, but the reference scales it with block 1 + 4 r).
    for (uint32_t j : {2u, 5u}) {
      const uint32_t blk = uint32_t(e / 8 + j / 8);
      std::vector<float> one(1);
      numerics::decode_row(numerics::parse_format("fp8_e4m3"), std::vector<uint8_t>{in.codes[e + j]},
                           std::vector<uint8_t>{}, one);
      EXPECT_EQ(r.m().read_vram(64 + 16 * row + j, 1)[0], one[0] * std::ldexp(1.0f, int(blk % 8) - 3)) << row << "," << j;
    }
  }
  const Effects& x = r.effects.back();
  ASSERT_EQ(x.n_hbm, 2);
  EXPECT_EQ(x.hbm[0].base, 13u);
  EXPECT_EQ(x.hbm[0].stride, 32u);
  EXPECT_EQ(x.hbm[1].base, 256u + 1);  // SCALE_REG + floor(13 / 8)
  EXPECT_EQ(x.hbm[1].bytes, 2u);
  EXPECT_EQ(x.hbm[1].stride, 4u);
}

// The im2col pattern: prefetch a row at an arbitrary pixel column, keep its first K elements with a
// 0/1 mask, shift them into place and accumulate, for K = 3 patch rows.
TEST(ExecUpstream, Im2colStyleKernelMatchesHost) {
  MxInput in;
  Rig r(in.cfg);
  in.load(r);
  const uint32_t K = 3, pixel_col = 5;
  std::vector<float> mask(16, 0.f);
  for (uint32_t k = 0; k < K; ++k) mask[k] = 1.f;
  r.m().write_vram(1024, mask);
  std::string src = "S_ADDI_INT gp1, gp0, 256\nC_SET_SCALE_REG gp1\nS_ADDI_INT gp1, gp0, 32\nC_SET_STRIDE_REG gp1\n"
                    "S_ADDI_INT gp7, gp0, 1024\nS_ADDI_INT gp8, gp0, 512\nV_MUL_VF gp8, gp7, f0, 0\n"
                    "S_ADDI_INT gp3, gp0, 64\n";
  for (uint32_t kr = 0; kr < K; ++kr) {
    src += fmt::format("S_ADDI_INT gp2, gp0, {}\nH_PREFETCH_V gp3, gp2, a0, 1, 0\n", (1 + kr) * in.cols + pixel_col);
    src += "V_MUL_VV gp3, gp3, gp7, 0\n";
    if (kr) src += fmt::format("S_ADDI_INT gp4, gp0, {}\nV_SHFT_V gp3, gp3, gp4\n", kr * K);
    src += "V_ADD_VV gp8, gp8, gp3, 0\n";
  }
  r.run(src);
  std::vector<float> want(16, 0.f);
  for (uint32_t kr = 0; kr < K; ++kr) {
    auto row = in.reference_row((1 + kr) * in.cols + pixel_col);
    for (uint32_t k = 0; k < K; ++k) want[kr * K + k] = 0.f + row[k] * 1.f;
  }
  auto got = r.m().read_vram(512, 16);
  EXPECT_TRUE(bits_equal(got, want));
  int nonzero = 0;
  for (float v : got) nonzero += v != 0.f;
  EXPECT_GE(nonzero, 6);
}

TEST(ExecUpstream, StoreInsideAnMxBlockAndOutOfRangeStillFault) {
  MxInput in;
  auto run = [&](const std::string& src) { Rig(in.cfg).run(src); };
  expect_fault([&] { run("S_ADDI_INT gp2, gp0, 13\nH_STORE_V gp0, gp2, a0, 0, 0"); },
               {"pc 0x0001", "H_STORE_V gp0, gp2, a0", "inside a", "block boundary"});
  expect_fault([&] { run("S_LUI_INT gp1, 4096\nC_SET_ADDR_REG a1, gp0, gp1\nS_ADDI_INT gp2, gp0, 13\n"
                         "H_PREFETCH_V gp0, gp2, a1, 0, 0"); },
               {"pc 0x0003", "H_PREFETCH_V gp0, gp2, a1", "exceed the HBM size"});
}

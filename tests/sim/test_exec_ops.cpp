// Per-opcode semantics against hand-computed expectations (tiny geometry: MLEN = VLEN = 16,
// BLEN = 4, HLEN = 8, BROADCAST = 2).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "test_exec_util.hpp"

using namespace plena;
using namespace plena::sim;
using namespace plena::sim::test;

namespace {

std::vector<float> iota_f(size_t n, float start = 0.f, float step = 1.f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * float(i);
  return v;
}

}  // namespace

TEST(ExecInt, ArithmeticWrapsAndGp0IsZero) {
  Rig r(tiny_config());
  r.m().write_intsram(3, std::vector<uint32_t>{0xDEADBEEFu});
  r.run(R"(
    S_ADDI_INT gp1, gp0, 7
    S_ADDI_INT gp2, gp0, 9
    S_SUB_INT gp3, gp1, gp2
    S_MUL_INT gp4, gp1, gp2
    S_ADD_INT gp5, gp3, gp2
    S_LUI_INT gp6, 0x3FFFFF
    S_ADDI_INT gp0, gp0, 5
    S_LD_INT gp7, gp0, 3
    S_ST_INT gp4, gp1, 1
    S_ADD_INT gp8, gp0, gp0
  )");
  const auto& gp = r.m().gp;
  EXPECT_EQ(gp[0], 0u);
  EXPECT_EQ(gp[3], 0xFFFFFFFEu);
  EXPECT_EQ(gp[4], 63u);
  EXPECT_EQ(gp[5], 7u);
  EXPECT_EQ(gp[6], 0xFFFFF000u);
  EXPECT_EQ(gp[7], 0xDEADBEEFu);
  EXPECT_EQ(r.m().read_intsram(8, 1)[0], 63u);
  // The dropped gp0 write records no register write.
  EXPECT_EQ(r.effects[6].n_writes, 0);
  EXPECT_EQ(r.effects[0].writes[0].space, Space::GpReg);
}

TEST(ExecFp, ArithmeticClampsAndF0) {
  Rig r(tiny_config());
  r.m().write_fpsram(0, std::vector<float>{2.0f, 3.0f, 100.0f, -4.0f, 16.0f});
  r.run(R"(
    S_LD_FP f1, gp0, 0
    S_LD_FP f2, gp0, 1
    S_ADD_FP f3, f1, f2
    S_SUB_FP f4, f1, f2
    S_MUL_FP f5, f1, f2
    S_MAX_FP f6, f4, f1
    S_ST_FP f5, gp0, 10
    S_LD_FP f7, gp0, 2
    S_EXP_FP f7, f7
    S_ADD_FP f0, f1, f2
  )");
  const auto& f = r.m().fp;
  EXPECT_EQ(f[0], 0.0f);
  EXPECT_EQ(f[3], 5.0f);
  EXPECT_EQ(f[4], -1.0f);
  EXPECT_EQ(f[5], 6.0f);
  EXPECT_EQ(f[6], 2.0f);
  EXPECT_EQ(f[7], std::exp(88.0f));  // clamped to 88
  EXPECT_EQ(r.m().read_fpsram(10, 1)[0], 6.0f);
  EXPECT_TRUE(r.effects.back().zero_latency);  // the reference skips ops writing f0
  EXPECT_EQ(r.effects.back().n_writes, 0);
  EXPECT_FALSE(r.effects[2].zero_latency);

  Rig q(tiny_config());
  q.m().write_fpsram(0, std::vector<float>{16.0f, 4.0f, -100.f});
  q.run("S_LD_FP f1, gp0, 0\nS_SQRT_FP f2, f1\nS_LD_FP f3, gp0, 1\nS_RECI_FP f4, f3\nS_LD_FP f5, gp0, 2\nS_EXP_FP f6, f5");
  EXPECT_EQ(q.m().fp[2], 4.0f);
  EXPECT_EQ(q.m().fp[4], 0.25f);
  EXPECT_EQ(q.m().fp[6], std::exp(-88.0f));
}

TEST(ExecFp, Bf16RegistersRoundEveryOp) {
  Rig r(tiny_config("bf16"));
  // 1 + 2^-9 is not a bf16 value: the add rounds to 1 (ties-to-even on 2^-8 ulp).
  r.m().write_fpsram(0, std::vector<float>{1.0f, 1.0f / 512, 3.0f});
  r.run("S_LD_FP f1, gp0, 0\nS_LD_FP f2, gp0, 1\nS_ADD_FP f3, f1, f2\nS_LD_FP f4, gp0, 2\nS_RECI_FP f5, f4");
  EXPECT_EQ(r.m().fp[3], 1.0f);
  EXPECT_EQ(r.m().fp[5], bf(1.0f / 3.0f));
  EXPECT_NE(r.m().fp[5], 1.0f / 3.0f);
}

TEST(ExecFp, MapVFp) {
  Rig r(tiny_config("bf16"));
  auto vals = randv(16, 3);
  std::vector<float> pre(20, 0.f);
  std::copy(vals.begin(), vals.end(), pre.begin() + 4);
  r.m().write_fpsram(0, pre);
  r.run("S_ADDI_INT gp1, gp0, 32\nS_ADDI_INT gp2, gp0, 1\nS_MAP_V_FP gp1, gp2, 3");
  std::vector<float> want(16);
  for (int i = 0; i < 16; ++i) want[i] = bf(vals[i]);
  EXPECT_TRUE(bits_equal(r.m().read_vram(32, 16), want));
  EXPECT_EQ(r.effects.back().writes[0].space, Space::Vram);
  EXPECT_EQ(r.effects.back().writes[0].lo, 32u);
  EXPECT_EQ(r.effects.back().writes[0].hi, 48u);
}

TEST(ExecVector, ElementwiseOps) {
  Rig r(tiny_config());
  auto a = iota_f(16, 1.0f);          // 1..16 at row 0
  auto b = iota_f(16, 0.5f, 0.25f);   // at row 1
  r.m().write_vram(0, a);
  r.m().write_vram(16, b);
  r.m().write_fpsram(0, std::vector<float>{0.0f, 3.0f});
  r.run(R"(
    S_ADDI_INT gp1, gp0, 0
    S_ADDI_INT gp2, gp0, 16
    S_LD_FP f1, gp0, 1
    S_ADDI_INT gp3, gp0, 32
    V_ADD_VV gp3, gp1, gp2, 0
    S_ADDI_INT gp3, gp0, 48
    V_SUB_VV gp3, gp1, gp2, 0
    S_ADDI_INT gp3, gp0, 64
    V_MUL_VV gp3, gp1, gp2, 0
    S_ADDI_INT gp3, gp0, 80
    V_SUB_VF gp3, gp1, f1, 0, 0
    S_ADDI_INT gp3, gp0, 96
    V_SUB_VF gp3, gp1, f1, 0, 1
    S_ADDI_INT gp3, gp0, 112
    V_MAX_VF gp3, gp1, f1, 0
    S_ADDI_INT gp3, gp0, 128
    V_MIN_VF gp3, gp1, f1, 0
    S_ADDI_INT gp3, gp0, 144
    V_ADD_VF gp3, gp1, f1, 0
    S_ADDI_INT gp3, gp0, 160
    V_MUL_VF gp3, gp1, f1, 0
    S_ADDI_INT gp3, gp0, 176
    V_RECI_V gp3, gp1, 0
  )");
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(r.m().read_vram(32 + i, 1)[0], a[i] + b[i]);
    EXPECT_EQ(r.m().read_vram(48 + i, 1)[0], a[i] - b[i]);  // rs1 - rs2 (emulator order)
    EXPECT_EQ(r.m().read_vram(64 + i, 1)[0], a[i] * b[i]);
    EXPECT_EQ(r.m().read_vram(80 + i, 1)[0], a[i] - 3.0f);
    EXPECT_EQ(r.m().read_vram(96 + i, 1)[0], 3.0f - a[i]);
    EXPECT_EQ(r.m().read_vram(112 + i, 1)[0], std::max(a[i], 3.0f));
    EXPECT_EQ(r.m().read_vram(128 + i, 1)[0], std::min(a[i], 3.0f));
    EXPECT_EQ(r.m().read_vram(144 + i, 1)[0], a[i] + 3.0f);
    EXPECT_EQ(r.m().read_vram(160 + i, 1)[0], a[i] * 3.0f);
    EXPECT_EQ(r.m().read_vram(176 + i, 1)[0], 1.0f / a[i]);
  }
}

TEST(ExecVector, ExpClampsAndRoundsToVramType) {
  Rig r(tiny_config("bf16"));
  std::vector<float> x = {0.f, 1.f, -1.f, 100.f, -100.f, 0.5f, 2.f, 3.f, 88.f, -88.f, 10.f, -10.f, 0.25f, 4.f, 5.f, 6.f};
  r.m().write_vram(0, x);
  r.run("S_ADDI_INT gp1, gp0, 16\nV_EXP_V gp1, gp0, 0");
  auto got = r.m().read_vram(16, 16);
  for (int i = 0; i < 16; ++i) {
    float xi = bf(x[i]);
    float want = bf(std::exp(std::min(88.f, std::max(-88.f, xi))));
    EXPECT_EQ(f2u(got[i]), f2u(want)) << i;
  }
  EXPECT_EQ(got[3], bf(std::exp(88.f)));
}

TEST(ExecVector, MaskKeepsFirstSourceInInactiveHeads) {
  Rig r(tiny_config());
  auto a = iota_f(16, 1.0f);
  auto b = iota_f(16, 100.0f);
  r.m().write_vram(0, a);
  r.m().write_vram(16, b);
  // V_MASK = 0b10: head 1 (elements 8..15) active, head 0 keeps rs1's values.
  r.run(R"(
    S_ADDI_INT gp1, gp0, 16
    S_ADDI_INT gp2, gp0, 2
    C_SET_V_MASK_REG gp2
    S_ADDI_INT gp3, gp0, 32
    V_ADD_VV gp3, gp0, gp1, 1
    S_ADDI_INT gp4, gp0, 48
    V_EXP_V gp4, gp1, 1
    S_ADDI_INT gp5, gp0, 64
    V_ADD_VV gp5, gp0, gp1
  )");
  auto got = r.m().read_vram(32, 16);
  auto ex = r.m().read_vram(48, 16);
  auto un = r.m().read_vram(64, 16);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(got[i], i < 8 ? a[i] : a[i] + b[i]) << i;
    EXPECT_EQ(ex[i], i < 8 ? b[i] : std::exp(std::min(88.f, b[i]))) << i;
    EXPECT_EQ(un[i], a[i] + b[i]) << i;  // rmask 0: whole row regardless of V_MASK
  }
  // The masked op reads V_MASK (Ctrl 2) for the scoreboard.
  const Effects& e = r.effects[4];
  bool reads_mask = false;
  for (int i = 0; i < e.n_reads; ++i) reads_mask |= e.reads[i].space == Space::Ctrl && e.reads[i].lo == 2;
  EXPECT_TRUE(reads_mask);
}

TEST(ExecVector, ReductionsAccumulateAndMaskCorrectly) {
  Rig r(tiny_config());
  auto a = iota_f(16, 1.0f);  // sum 136; head 0 max 8, head 1 max 16
  r.m().write_vram(0, a);
  r.m().write_fpsram(0, std::vector<float>{0.f, 10.f, 12.f});
  r.run(R"(
    S_LD_FP f1, gp0, 1
    V_RED_SUM f1, gp0
    V_RED_SUM f1, gp0
    S_ADDI_INT gp1, gp0, 1
    C_SET_V_MASK_REG gp1
    S_LD_FP f2, gp0, 0
    V_RED_MAX f2, gp0, 1
    S_LD_FP f3, gp0, 2
    V_RED_MAX f3, gp0, 1
    S_LD_FP f4, gp0, 0
    V_RED_MAX f4, gp0, 0
  )");
  EXPECT_EQ(r.m().fp[1], 10.f + 136.f + 136.f);
  EXPECT_EQ(r.m().fp[2], 8.f);   // only head 0 is active
  EXPECT_EQ(r.m().fp[3], 12.f);  // f[rd] larger than the masked max
  EXPECT_EQ(r.m().fp[4], 16.f);
}

TEST(ExecVector, ShiftPrefixHadamard) {
  Rig r(tiny_config());
  auto a = iota_f(16, 1.0f);
  r.m().write_vram(0, a);
  r.run(R"(
    S_ADDI_INT gp1, gp0, 3
    S_ADDI_INT gp2, gp0, 16
    V_SHFT_V gp2, gp0, gp1
    S_ADDI_INT gp3, gp0, 32
    V_PS_V gp3, gp0
    S_ADDI_INT gp4, gp0, 48
    C_HADAMARD_TRANSFORM gp4, gp0
    S_ADDI_INT gp5, gp0, 99
    S_ADDI_INT gp6, gp0, 64
    V_SHFT_V gp6, gp0, gp5
  )");
  auto sh = r.m().read_vram(16, 16);
  auto ps = r.m().read_vram(32, 16);
  auto ht = r.m().read_vram(48, 16);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(sh[i], i < 3 ? 0.f : a[i - 3]);
    EXPECT_EQ(ps[i], float((i + 1) * (i + 2) / 2));
  }
  EXPECT_EQ(r.m().read_vram(64, 16), std::vector<float>(16, 0.f));
  // Normalised 8-point Walsh-Hadamard (Sylvester order) of each head of 1..16.
  const float norm = float(1.0 / std::sqrt(8.0));
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 8; ++k) {
      float s = 0;
      for (int j = 0; j < 8; ++j) s += (__builtin_popcount(j & k) % 2 ? -1.f : 1.f) * a[h * 8 + j];
      EXPECT_EQ(ht[h * 8 + k], s * norm) << h << " " << k;
    }
}

TEST(ExecVector, TopK) {
  Rig r(tiny_config());
  std::vector<float> logits(32);
  for (int i = 0; i < 32; ++i) logits[i] = float(i) * 0.0625f - 3.f;
  logits[10] = logits[21] = 5.f;  // tie: lower index first
  logits[30] = 4.5f;
  logits[9] = logits[12] = 4.f;
  logits[3] = std::numeric_limits<float>::quiet_NaN();  // NaN counts as -inf
  r.m().write_vram(0, logits);  // 32 logits span two 16-wide rows
  r.run("S_ADDI_INT gp1, gp0, 20\nS_ADDI_INT gp2, gp0, 5\nV_TOPK gp1, gp0, gp2, 0");
  auto idx = r.m().read_intsram(5, 4);
  EXPECT_EQ(idx, (std::vector<uint32_t>{10, 21, 30, 9}));  // 5, 5, 4.5, then the lowest index of 4
  EXPECT_EQ(logits[9], 4.f);
  auto w = r.m().read_fpsram(20, 4);
  std::vector<float> e = {1.f, 1.f, std::exp(-0.5f), std::exp(-1.f)};
  float s = e[0] + e[1] + e[2] + e[3];
  for (int j = 0; j < 4; ++j) EXPECT_EQ(w[j], e[j] / s);
  EXPECT_EQ(r.effects.back().repeat, 32u);
}

TEST(ExecMatrix, MmWithColumnOffsetAndWriteOut) {
  Rig r(tiny_config());
  const int L = 16, B = 4;
  auto x = randv(B * L, 1);
  auto w = randv(L * L, 2);
  r.m().write_vram(0, x);       // BLEN rows at 0
  r.m().write_mram(256, w);     // tile 1
  // col = 8: MRAM address 256 + 8*16; two M_MMs accumulate, M_MM_WO writes at column 4 of rows
  // 64.. with stride 2 (rows 64, 96, 128, 160), then the accumulator is zero.
  r.run(R"(
    S_ADDI_INT gp1, gp0, 384
    M_MM 0, gp1, gp0
    M_MM 0, gp1, gp0
    S_ADDI_INT gp2, gp0, 64
    S_ADDI_INT gp3, gp0, 2
    M_MM_WO gp2, gp3, 4
    M_MM_WO gp2, gp0, 8
  )");
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) {
      float t = 0;
      for (int k = 0; k < L; ++k) t += x[i * L + k] * w[k * L + 8 + j];
      float acc = 0.f + t;
      acc = acc + t;
      EXPECT_EQ(r.m().read_vram(64 + i * 32 + 4 + j, 1)[0], acc) << i << "," << j;
      EXPECT_EQ(r.m().read_vram(64 + i * 16 + 8 + j, 1)[0], 0.f);  // drained accumulator is zero
    }
  const Effects& mm = r.effects[1];
  EXPECT_EQ(mm.unit, isa::Unit::Matrix);
  EXPECT_EQ(mm.latency, isa::Latency::MatMul);
}

TEST(ExecMatrix, TmmMvTmv) {
  Rig r(tiny_config());
  const int L = 16, B = 4;
  auto x = randv(B * L, 5);
  auto w = randv(L * L, 6);
  r.m().write_vram(0, x);
  r.m().write_mram(0, w);
  r.run(R"(
    S_ADDI_INT gp1, gp0, 64      ; row-granular offset 4*16: rows 4..7 transposed
    M_TMM 0, gp0, gp1
    S_ADDI_INT gp2, gp0, 256
    M_MM_WO gp2, gp0, 0
    M_MV 0, gp1, gp0             ; columns 4..7
    S_ADDI_INT gp3, gp0, 512
    M_MV_WO gp3, 12
    M_TMV 0, gp1, gp0
    M_MV_WO gp3, 0
  )");
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) {
      float t = 0;
      for (int k = 0; k < L; ++k) t += x[i * L + k] * w[(4 + j) * L + k];
      EXPECT_EQ(r.m().read_vram(256 + i * 16 + j, 1)[0], 0.f + t);
    }
  for (int j = 0; j < B; ++j) {
    float t = 0, u = 0;
    for (int k = 0; k < L; ++k) {
      t += x[k] * w[k * L + 4 + j];
      u += x[k] * w[(4 + j) * L + k];
    }
    EXPECT_EQ(r.m().read_vram(512 + 12 + j, 1)[0], 0.f + t);
    EXPECT_EQ(r.m().read_vram(512 + j, 1)[0], 0.f + u);
  }
}

TEST(ExecMatrix, BatchedHeadsAndScale) {
  auto cfg = tiny_config();
  cfg.compute.bmm_scale = 0.5;
  Rig r(cfg);
  const int L = 16, H = 8, Bc = 2;
  auto q = randv(L * L, 7);
  auto k = randv(L * L, 8);
  r.m().write_vram(0, q);   // 16 rows
  r.m().write_mram(0, k);
  r.run(R"(
    S_ADDI_INT gp1, gp0, 8        ; head offset 8 (second KV head)
    M_BTMM 0, gp1, gp0
    S_ADDI_INT gp2, gp0, 1024
    M_BMM_WO gp2, 0
    M_BMM 0, gp1, gp0
    S_ADDI_INT gp3, gp0, 2048
    M_BMM_WO gp3, 0
    S_ADDI_INT gp4, gp0, 3
    S_ADDI_INT gp5, gp0, 5        ; gp5 + gp4 = 8
    M_BTMV gp4, gp5, gp0
    S_ADDI_INT gp6, gp0, 3072
    M_BMV_WO gp6, 0
    M_BMV gp4, gp5, gp0
    M_BMV_WO gp6, 32
  )");
  for (int h = 0; h < Bc; ++h)
    for (int row = 0; row < L; ++row)
      for (int c = 0; c < L; ++c) {
        float t = 0, u = 0;
        for (int kk = 0; kk < H; ++kk) {
          t += q[row * L + h * H + kk] * k[c * L + 8 + kk];   // BTMM: [BROADCAST, HLEN] view
          u += q[row * L + kk * Bc + h] * k[(8 + kk) * L + c];  // BMM: [HLEN, BROADCAST] view
        }
        size_t off = size_t(h * L + row) * L + c;
        EXPECT_EQ(r.m().read_vram(1024 + off, 1)[0], 0.f + t * 0.5f);
        EXPECT_EQ(r.m().read_vram(2048 + off, 1)[0], 0.f + u * 0.5f);
        if (row == 0) {
          EXPECT_EQ(r.m().read_vram(3072 + h * L + c, 1)[0], 0.f + t * 0.5f);
          EXPECT_EQ(r.m().read_vram(3072 + 32 + h * L + c, 1)[0], 0.f + u * 0.5f);
        }
      }
}

TEST(ExecLoops, NestedLoopsAndBreak) {
  Rig r(tiny_config());
  r.run(R"(
    C_LOOP_START gp1, 3
      C_LOOP_START gp2, 4
        S_ADDI_INT gp5, gp5, 1
      C_LOOP_END gp2
      S_ADDI_INT gp6, gp6, 1
    C_LOOP_END gp1
    C_LOOP_START gp3, 0          ; count 0 still runs the body once (reference behaviour)
      S_ADDI_INT gp7, gp7, 1
    C_LOOP_END gp3
    C_LOOP_START gp1, 10
      S_ADDI_INT gp8, gp8, 1
      C_LOOP_START gp2, 5
        S_ADDI_INT gp9, gp9, 1
        C_BREAK
        S_ADDI_INT gp10, gp10, 1
      C_LOOP_END gp2
    C_LOOP_END gp1
  )");
  const auto& gp = r.m().gp;
  EXPECT_EQ(gp[5], 12u);
  EXPECT_EQ(gp[6], 3u);
  EXPECT_EQ(gp[7], 1u);
  EXPECT_EQ(gp[8], 10u);
  EXPECT_EQ(gp[9], 10u);   // the inner loop breaks on its first iteration
  EXPECT_EQ(gp[10], 0u);
  EXPECT_EQ(gp[1], 0u);    // counters end at 0
  EXPECT_TRUE(r.m().loops.empty());
}

TEST(ExecMatrix, Blen8AndBlen16KernelsMatchScalarLoops) {
  for (uint32_t blen : {8u, 16u}) {
    auto cfg = tiny_config("bf16");
    cfg.geometry.blen = blen;
    cfg.geometry.hlen = 16;
    cfg.geometry.broadcast_amount = 1;
    config::validate_config(cfg);
    Rig r(cfg);
    const int L = 16, B = int(blen);
    auto x = randv(B * L, 71 + blen, 2.f), w = randv(L * L, 72 + blen, 2.f);
    r.m().write_vram(0, x);
    r.m().write_mram(0, w);
    x = r.m().read_vram(0, B * L);
    w = r.m().read_mram(0, L * L);
    const int col = 16 - B;
    r.run(fmt::format("S_ADDI_INT gp1, gp0, {}\nM_MM 0, gp1, gp0\nM_TMM 0, gp0, gp1\nS_ADDI_INT gp2, gp0, 1024\n"
                      "M_MM_WO gp2, gp0, 0",
                      col * L));
    for (int i = 0; i < B; ++i)
      for (int j = 0; j < B; ++j) {
        float t = 0.f, u = 0.f;
        for (int k = 0; k < L; ++k) {
          t += x[i * L + k] * w[k * L + col + j];
          u += x[i * L + k] * w[(col + j) * L + k];
        }
        float acc = (0.f + t) + u;
        EXPECT_EQ(f2u(r.m().read_vram(1024 + i * L + j, 1)[0]), f2u(bf(acc))) << blen << " " << i << "," << j;
      }
  }
}

TEST(ExecRounding, InlineBf16MatchesNumericsAndGenericFormatsRound) {
  // Every 2^-7 step of the exponent range plus specials: the inline bf16 path equals numerics.
  std::vector<float> xs = {0.f, -0.f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                           std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
                           1.00390625f, 1.01171875f, 3.3895314e38f};
  uint32_t s = 1;
  for (int i = 0; i < 200000; ++i) {
    s = s * 1664525u + 1013904223u;
    float x;
    std::memcpy(&x, &s, 4);
    xs.push_back(x);
  }
  for (float x : xs) {
    float a = Rounder::bf16(x), b = numerics::round_to_bf16(x);
    ASSERT_EQ(f2u(a), f2u(b)) << x;
  }
  Rig r(tiny_config("fp16"));
  r.m().write_vram(0, std::vector<float>(16, 1.0f / 3.0f));
  EXPECT_EQ(r.m().read_vram(0, 1)[0], numerics::round_to_fp16(1.0f / 3.0f));
  EXPECT_NE(r.m().read_vram(0, 1)[0], bf(1.0f / 3.0f));
}

TEST(ExecModes, TimingOnlyRunsFullSizeGeometryWithoutData) {
  auto cfg = config::preset("reference-analytic");  // MLEN 2048: data arrays would take GiBs
  SimOptions o;
  o.mode = Mode::TimingOnly;
  o.use_timing_model = false;
  Simulator s(cfg, o);
  EXPECT_EQ(s.machine().vram(), nullptr);
  EXPECT_TRUE(s.machine().acc_hm.empty());
  auto words = isa::assemble(R"(
    S_LUI_INT gp1, 1
    H_PREFETCH_M gp0, gp0, a0, 0, 0
    H_PREFETCH_V gp1, gp0, a0, 0, 0
    M_BTMM 0, gp0, gp1
    M_BMM_WO gp1, 0
    M_MM 0, gp0, gp1
    M_MM_WO gp1, gp0, 0
    V_EXP_V gp1, gp1, 0
  )").words;
  EXPECT_EQ(s.run(words).executed, 8u);
}

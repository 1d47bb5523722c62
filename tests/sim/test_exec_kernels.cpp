// Multi-instruction kernels (assembly text) against host computations that apply the same
// rounding points (bf16 SRAMs and registers, MX HBM formats), compared bit-exactly.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "test_exec_util.hpp"

using namespace plena;
using namespace plena::sim;
using namespace plena::sim::test;

namespace {

constexpr int L = 16, BL = 4;  // tiny geometry: MLEN = VLEN = 16, BLEN = 4, HLEN = 8, BROADCAST = 2

// Energy guard: the golden must not be trivially zero.
double energy(const std::vector<float>& v) {
  double e = 0;
  for (float x : v) e += double(x) * x;
  return e;
}

}  // namespace

// Y[M x N] = X[M x K] @ W[K x N] with K = 2*MLEN split in two MLEN chunks: chunk 0 writes Y,
// chunk 1 a scratch block, then V_ADD_VV adds the partial sums. X and W come from HBM in MXFP8.
void gemm_k_split(config::HardwareConfig cfg, int M, int N) {
  const int L = int(cfg.geometry.mlen), BL = int(cfg.geometry.blen), K = 2 * L;
  const int VP = int(cfg.hbm.v_prefetch_amount);
  ASSERT_EQ(cfg.hbm.m_prefetch_amount, uint64_t(L));  // one tile per H_PREFETCH_M
  ASSERT_EQ(N, L);                                    // one MLEN-wide output block
  cfg.formats.m_weight = numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");
  cfg.formats.v_act = numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");
  Rig r(cfg);
  auto x = randv(M * K, 31, 2.0f), w = randv(K * N, 32, 0.5f);
  HbmTensor tx, tw;
  tx.base = 0x0000, tx.rows = uint64_t(M), tx.cols = uint64_t(K), tx.format = cfg.formats.v_act;
  tw.base = 0x10000, tw.rows = uint64_t(K), tw.cols = uint64_t(N), tw.format = cfg.formats.m_weight;
  write_hbm_tensor(r.m().hbm(), tx, x);
  write_hbm_tensor(r.m().hbm(), tw, w);
  auto xq = read_hbm_tensor(r.m().hbm(), tx), wq = read_hbm_tensor(r.m().hbm(), tw);
  for (auto& v : xq) v = bf(v);
  for (auto& v : wq) v = bf(v);

  const int X0 = 0, Y = 2 * M * L, S = 3 * M * L;  // VRAM: X column blocks at X0 + c*M*L
  std::string p = fmt::format(
      "S_ADDI_INT gp1, gp0, {}\nC_SET_ADDR_REG a1, gp0, gp1\nS_ADDI_INT gp2, gp0, {}\nC_SET_SCALE_REG gp2\n"
      "S_ADDI_INT gp2, gp0, {}\nC_SET_STRIDE_REG gp2\n",
      tx.base, tx.scale_elems(), K);
  for (int c = 0; c < K / L; ++c)
    for (int r0 = 0; r0 < M; r0 += VP)  // VP rows per prefetch, strided by K
      p += fmt::format("S_ADDI_INT gp3, gp0, {}\nS_ADDI_INT gp4, gp0, {}\nH_PREFETCH_V gp3, gp4, a1, 1, 0\n",
                       X0 + (c * M + r0) * L, r0 * K + c * L);
  p += fmt::format("S_ADDI_INT gp1, gp0, {}\nC_SET_ADDR_REG a2, gp0, gp1\nS_ADDI_INT gp2, gp0, {}\nC_SET_SCALE_REG gp2\n",
                   tw.base, tw.scale_elems());
  for (int k = 0; k < K / L; ++k)
    p += fmt::format("S_ADDI_INT gp3, gp0, {}\nS_ADDI_INT gp4, gp0, {}\nH_PREFETCH_M gp3, gp4, a2, 0, 0\n", k * L * L,
                     k * L * N);
  for (int kk = 0; kk < K / L; ++kk)
    for (int rg = 0; rg < M / BL; ++rg)
      for (int cb = 0; cb < N / BL; ++cb)
        p += fmt::format("S_ADDI_INT gp5, gp0, {}\nS_ADDI_INT gp6, gp0, {}\nM_MM 0, gp5, gp6\n"
                         "S_ADDI_INT gp7, gp0, {}\nM_MM_WO gp7, gp0, 0\n",
                         kk * L * L + cb * BL * L, X0 + (kk * M + rg * BL) * L, (kk ? S : Y) + rg * BL * L + cb * BL);
  p += fmt::format("S_ADDI_INT gp8, gp0, {}\nS_ADDI_INT gp9, gp0, {}\nC_LOOP_START gp10, {}\n"
                   "V_ADD_VV gp8, gp8, gp9, 0\nS_ADDI_INT gp8, gp8, {}\nS_ADDI_INT gp9, gp9, {}\nC_LOOP_END gp10\n",
                   Y, S, M, L, L);
  r.run(p);

  std::vector<float> want(M * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float part[2];
      for (int kk = 0; kk < 2; ++kk) {
        float t = 0.f;
        for (int k = kk * L; k < (kk + 1) * L; ++k) t += xq[i * K + k] * wq[k * N + j];
        part[kk] = bf(0.f + t);  // M_MM_WO rounds the accumulator to the VRAM type
      }
      want[i * N + j] = bf(part[0] + part[1]);  // V_ADD_VV
    }
  EXPECT_TRUE(bits_equal(r.m().read_vram(Y, M * N), want));
  EXPECT_GT(energy(want), 1.0);
}

TEST(ExecKernels, TiledGemmWithKSplitBitExact) { gemm_k_split(tiny_config("bf16"), 8, 16); }
TEST(ExecKernels, TiledGemmWithKSplitReferenceGeometryBitExact) { gemm_k_split(ref_config("bf16"), 16, 64); }

namespace {

// Row softmax as the kernels emit it; rows at gp1, output at gp2, `rows` rows (hardware loop).
std::string softmax_program(int src, int dst, int rows, int L = ::L) {
  return fmt::format(R"(
    S_ADDI_INT gp1, gp0, {}
    S_ADDI_INT gp2, gp0, {}
    C_LOOP_START gp3, {}
      S_LD_FP f1, gp0, 0          ; -inf
      V_RED_MAX f1, gp1, 0
      V_SUB_VF gp2, gp1, f1, 0, 0
      V_EXP_V gp2, gp2, 0
      S_LD_FP f2, gp0, 1          ; 0.0
      V_RED_SUM f2, gp2
      S_RECI_FP f3, f2
      V_MUL_VF gp2, gp2, f3, 0
      S_ADDI_INT gp1, gp1, {}
      S_ADDI_INT gp2, gp2, {}
    C_LOOP_END gp3
  )",
                     src, dst, rows, L, L);
}

std::vector<float> host_softmax_rows(const std::vector<float>& x, int rows, int L = ::L) {
  std::vector<float> y(x.size());
  std::vector<float> e(L);
  for (int r = 0; r < rows; ++r) {
    const float* a = x.data() + r * L;
    float m = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < L; ++i) m = a[i] > m ? a[i] : m;
    float sum = 0.f;
    for (int i = 0; i < L; ++i) {
      float t = bf(a[i] - m);
      t = std::max(-88.f, std::min(88.f, t));
      e[i] = bf(std::exp(t));
      sum += e[i];
    }
    float s = bf(sum + 0.f);
    float inv = bf(1.0f / s);
    for (int i = 0; i < L; ++i) y[r * L + i] = bf(e[i] * inv);
  }
  return y;
}

}  // namespace

TEST(ExecKernels, SoftmaxRowsBitExact) {
  Rig r(tiny_config("bf16"));
  const int rows = 4;
  auto x = randv(rows * L, 41, 6.0f);
  for (auto& v : x) v = bf(v);
  r.m().write_vram(0, x);
  r.m().write_fpsram(0, std::vector<float>{-std::numeric_limits<float>::infinity(), 0.f});
  r.run(softmax_program(0, 256, rows));
  auto want = host_softmax_rows(x, rows);
  EXPECT_TRUE(bits_equal(r.m().read_vram(256, rows * L), want));
  // Non-trivial: each row sums to about 1.
  for (int row = 0; row < rows; ++row) {
    double s = 0;
    for (int i = 0; i < L; ++i) s += want[row * L + i];
    EXPECT_NEAR(s, 1.0, 0.05);
  }
}

TEST(ExecKernels, RmsNormBitExact) {
  Rig r(tiny_config("bf16"));
  const int rows = 4, X = 0, W = 512, Yb = 1024, T = 2048;
  auto x = randv(rows * L, 51, 3.0f), w = randv(L, 52, 1.5f);
  for (auto& v : x) v = bf(v);
  for (auto& v : w) v = bf(v);
  r.m().write_vram(X, x);
  r.m().write_vram(W, w);
  const float eps = 1e-5f;
  r.m().write_fpsram(0, std::vector<float>{0.f, 1.0f / L, eps});
  r.run(fmt::format(R"(
    S_ADDI_INT gp1, gp0, {}
    S_ADDI_INT gp2, gp0, {}
    S_ADDI_INT gp4, gp0, {}
    S_ADDI_INT gp5, gp0, {}
    S_LD_FP f5, gp0, 1
    S_LD_FP f6, gp0, 2
    C_LOOP_START gp3, {}
      V_MUL_VV gp5, gp1, gp1, 0
      S_LD_FP f1, gp0, 0
      V_RED_SUM f1, gp5
      S_MUL_FP f2, f1, f5
      S_ADD_FP f2, f2, f6
      S_SQRT_FP f2, f2
      S_RECI_FP f2, f2
      V_MUL_VF gp2, gp1, f2, 0
      V_MUL_VV gp2, gp2, gp4, 0
      S_ADDI_INT gp1, gp1, {}
      S_ADDI_INT gp2, gp2, {}
    C_LOOP_END gp3
  )",
                    X, Yb, W, T, rows, L, L));
  std::vector<float> want(rows * L);
  const float inv_n = bf(1.0f / L), beps = bf(eps);
  for (int row = 0; row < rows; ++row) {
    const float* a = x.data() + row * L;
    float sum = 0.f;
    for (int i = 0; i < L; ++i) sum += bf(a[i] * a[i]);
    float f = bf(sum + 0.f);
    f = bf(f * inv_n);
    f = bf(f + beps);
    f = bf(std::sqrt(f));
    f = bf(1.0f / f);
    for (int i = 0; i < L; ++i) want[row * L + i] = bf(bf(a[i] * f) * w[i]);
  }
  EXPECT_TRUE(bits_equal(r.m().read_vram(Yb, rows * L), want));
  EXPECT_GT(energy(want), 1.0);
}

// One FlashAttention tile (one KV tile, so a plain softmax): BROADCAST query heads share one KV
// head (GQA packing of M_BTMM), S = bmm_scale * Q K^T, P = softmax(S), O_h = P_h V.
void flash_attention_tile(config::HardwareConfig cfg) {
  const int L = int(cfg.geometry.mlen), BL = int(cfg.geometry.blen), H = int(cfg.geometry.hlen),
            Bc = int(cfg.geometry.broadcast_amount);
  cfg.compute.bmm_scale = 1.0 / std::sqrt(double(H));
  Rig r(cfg);
  const int Q0 = 0, S0 = 2 * L * L, P0 = S0 + Bc * L * L, O0 = P0 + Bc * L * L;
  const int T2 = L * L;  // MRAM tile size
  auto q = randv(L * L, 61, 2.0f), k = randv(L * L, 62, 2.0f), v = randv(L * L, 63, 1.0f);
  for (auto* t : {&q, &k, &v})
    for (auto& e : *t) e = bf(e);
  for (int row = 0; row < L; ++row)  // only KV head 0 (columns 0..HLEN-1) is meaningful
    for (int c = H; c < L; ++c) k[row * L + c] = v[row * L + c] = 0.f;
  r.m().write_vram(Q0, q);
  r.m().write_mram(0, k);   // tile 0: K [kv tokens x MLEN]
  r.m().write_mram(T2, v);  // tile 1: V [kv tokens x MLEN]
  r.m().write_fpsram(0, std::vector<float>{-std::numeric_limits<float>::infinity(), 0.f});
  std::string p = fmt::format("S_ADDI_INT gp1, gp0, {}\nM_BTMM 0, gp0, gp1\nS_ADDI_INT gp2, gp0, {}\nM_BMM_WO gp2, 0\n",
                              Q0, S0);
  p += softmax_program(S0, P0, Bc * L, L);
  for (int h = 0; h < Bc; ++h)
    for (int rg = 0; rg < L / BL; ++rg)
      for (int cb = 0; cb < H / BL; ++cb)
        p += fmt::format("S_ADDI_INT gp5, gp0, {}\nS_ADDI_INT gp6, gp0, {}\nM_MM 0, gp5, gp6\n"
                         "S_ADDI_INT gp7, gp0, {}\nM_MM_WO gp7, gp0, 0\n",
                         T2 + cb * BL * L, P0 + (h * L + rg * BL) * L, O0 + rg * BL * L + h * H + cb * BL);
  r.run(p);

  const float scale = float(cfg.compute.bmm_scale);
  std::vector<float> s(Bc * L * L);
  for (int h = 0; h < Bc; ++h)
    for (int i = 0; i < L; ++i)
      for (int j = 0; j < L; ++j) {
        float t = 0.f;
        for (int d = 0; d < H; ++d) t += q[i * L + h * H + d] * k[j * L + d];
        s[(h * L + i) * L + j] = bf(0.f + t * scale);
      }
  EXPECT_TRUE(bits_equal(r.m().read_vram(S0, Bc * L * L), s));
  auto pm = host_softmax_rows(s, Bc * L, L);
  std::vector<float> o(L * L);
  for (int h = 0; h < Bc; ++h)
    for (int i = 0; i < L; ++i)
      for (int d = 0; d < H; ++d) {
        float t = 0.f;
        for (int j = 0; j < L; ++j) t += pm[(h * L + i) * L + j] * v[j * L + d];
        o[i * L + h * H + d] = bf(0.f + t);
      }
  EXPECT_TRUE(bits_equal(r.m().read_vram(O0, L * L), o));
  EXPECT_GT(energy(o), 1.0);
}

TEST(ExecKernels, FlashAttentionTileBitExact) { flash_attention_tile(tiny_config("bf16")); }
TEST(ExecKernels, FlashAttentionTileReferenceGeometryBitExact) { flash_attention_tile(ref_config("bf16")); }

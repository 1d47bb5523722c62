// BitDecoding-style asymmetric integer groups.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "numerics/numerics.hpp"

using namespace plena::numerics;

TEST(Asym, ReferenceExample_6_3) {
  std::vector<float> x = {-1, 0, 0.5f, 2};
  std::vector<uint8_t> q(4);
  uint16_t sc = 0, zp = 0;
  asym_quantize_group(x, 4, q, sc, zp);
  EXPECT_EQ(q, (std::vector<uint8_t>{0, 5, 8, 15}));  // 7.5 rounds away from zero
  EXPECT_EQ(fp16_to_f32(sc), 0.199951171875f);
  EXPECT_EQ(fp16_to_f32(zp), -1.0f);
  std::vector<uint32_t> wide(q.begin(), q.end());
  std::vector<uint8_t> packed(2);
  pack_codes(wide, 4, packed);
  EXPECT_EQ(packed[0] | (packed[1] << 8), 0xF850);  // element 0 in the least significant bits
  const float want[] = {-1, -std::ldexp(1.0f, -12), 0.599609375f, 1.9990234375f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(asym_dequant_value(q[size_t(i)], sc, zp), want[i]) << i;
  // Constant group: scale 0, dequant = zero point (the reference would produce Inf/NaN here).
  std::vector<float> c = {0.75f, 0.75f};
  std::vector<uint8_t> cq(2);
  asym_quantize_group(c, 2, cq, sc, zp);
  EXPECT_EQ(sc, 0);
  EXPECT_EQ(asym_dequant_value(cq[0], sc, zp), 0.75f);
}

TEST(Asym, KPerChannelVPerToken) {
  const size_t T = 64, C = 48;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> x(T * C);
  for (size_t t = 0; t < T; ++t)
    for (size_t c = 0; c < C; ++c) x[t * C + c] = nd(rng) * float(1 + c % 5);  // per-channel spread
  for (int bits : {2, 4}) {
    for (AsymAxis ax : {AsymAxis::PerChannel, AsymAxis::PerToken}) {
      auto q = asym_quantize(x, T, C, bits, 32, ax);
      // K: 64 tokens -> 2 groups per channel; V: 48 channels -> groups of 32 and 16 per token.
      EXPECT_EQ(q.scale.size(), ax == AsymAxis::PerChannel ? 2 * C : T * 2);
      auto y = asym_dequantize(q);
      size_t max_code = 0;
      for (auto v : q.codes) max_code = std::max<size_t>(max_code, v);
      EXPECT_EQ(max_code, (1u << bits) - 1);
      const size_t G = 32;
      for (size_t t = 0; t < T; ++t)
        for (size_t c = 0; c < C; ++c) {
          size_t p = ax == AsymAxis::PerToken ? t * 2 + c / G : (t / G) * C + c;
          float step = fp16_to_f32(q.scale[p]);
          float tol = 0.5f * step * 1.01f + std::ldexp(std::fabs(x[t * C + c]) + 2 * std::fabs(fp16_to_f32(q.zero[p])), -10);
          ASSERT_LE(std::fabs(y[t * C + c] - x[t * C + c]), tol) << t << "," << c;
        }
    }
  }
  // Row API: asym-int treats a row as per-token groups.
  Format f = parse_format("asym-int:uint4:g32");
  std::vector<uint8_t> e(packed_element_bytes(f, C)), s(scale_bytes(f, C));
  encode_row(f, std::span<const float>(x).subspan(0, C), e, s);
  std::vector<float> row(C);
  decode_row(f, e, s, row);
  auto q = asym_quantize(std::span<const float>(x).subspan(0, C), 1, C, 4, 32, AsymAxis::PerToken);
  EXPECT_EQ(row, asym_dequantize(q));
}

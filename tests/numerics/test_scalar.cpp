// Scalar formats: bf16, fp16, minifloats; exhaustive code round trips.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

using namespace plena::numerics;

namespace {
float f(uint32_t u) { return std::bit_cast<float>(u); }
}

TEST(Scalar, Bf16) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(f(0x3F808001)), 0x3F81);                    // above the tie
  EXPECT_EQ(f32_to_bf16(f(0x7F7FFFFF)), 0x7F80);                    // overflow -> Inf
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(f32_to_bf16(f(0x7F800001)), 0x7FC0);  // signalling NaN -> quiet NaN
  EXPECT_EQ(f32_to_bf16(f(0xFFC12345)), 0xFFC1);  // payload and sign kept
  EXPECT_EQ(f32_to_bf16(f(0x00018000)), 0x0002);  // subnormal tie -> even
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_EQ(round_to_bf16(3.14159265f), 3.140625f);
  EXPECT_EQ(round_to_format(3.14159265f, parse_format("bf16")), 3.140625f);
}

TEST(Scalar, Fp16) {
  EXPECT_EQ(f32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16(65519.996f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7C00);  // max + half ulp -> Inf
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even zero
  EXPECT_EQ(f32_to_fp16(3 * std::ldexp(1.0f, -26)), 0x0001);
  EXPECT_EQ(f32_to_fp16(-1.0f / 3.0f), 0xB555);
  EXPECT_EQ(f32_to_fp16(0.2f), 0x3266);
  EXPECT_EQ(fp16_to_f32(0x3266), 0.199951171875f);
  EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(std::nanf("")))));
  EXPECT_EQ(f64_to_fp16(1.9992675781250), 0x3FFF);  // 2047.25 ulps -> 2047
  EXPECT_EQ(f64_to_fp16(1e6), 0x7C00);
  EXPECT_EQ(f64_to_fp16(-std::ldexp(1.0, -25)), 0x8000);
  EXPECT_EQ(f64_to_fp16(std::ldexp(3.0, -26)), 0x0001);
}

TEST(Scalar, MinifloatRules) {
  Format e4m3 = parse_format("fp8_e4m3");
  EXPECT_EQ(round_to_format(500.0f, e4m3), 448.0f);  // OCP E4M3 saturates
  EXPECT_EQ(round_to_format(-1e30f, e4m3), -448.0f);
  EXPECT_EQ(encode_scalar(std::nanf(""), e4m3), 0x7Fu);
  Format e5m2 = parse_format("fp8_e5m2");
  EXPECT_EQ(round_to_format(57344.0f, e5m2), 57344.0f);
  EXPECT_TRUE(std::isinf(round_to_format(1e6f, e5m2)));  // IEEE-like: overflow -> Inf
  Format fp4 = parse_format("fp4_e2m1");
  EXPECT_EQ(round_to_format(7.0f, fp4), 6.0f);
  EXPECT_EQ(round_to_format(0.25f, fp4), 0.0f);
  EXPECT_EQ(round_to_format(0.26f, fp4), 0.5f);
  EXPECT_EQ(round_to_format(-std::numeric_limits<float>::infinity(), fp4), -6.0f);
  EXPECT_THROW(encode_scalar(std::nanf(""), fp4), plena::InputError);
  EXPECT_TRUE(std::isnan(round_to_format(std::nanf(""), fp4)));
  Format ieee_e4m3 = parse_format("minifloat_e4m3");  // IEEE-like: max 240, Inf at field 15
  EXPECT_EQ(round_to_format(247.0f, ieee_e4m3), 240.0f);
  EXPECT_TRUE(std::isinf(round_to_format(248.0f, ieee_e4m3)));
  Format fn = parse_format("minifloat_e3m2fn");
  EXPECT_EQ(round_to_format(100.0f, fn), 28.0f);
  EXPECT_EQ(round_to_format(1.1f, parse_format("fp32")), 1.1f);
  EXPECT_THROW(round_to_format(1.0f, parse_format("ocp-mx:fp8_e4m3:b32")), plena::InputError);
}

// Every non-NaN code of every small plain format decodes to a float that encodes back to itself.
TEST(Scalar, ExhaustiveCodeRoundTrip) {
  for (const char* name : {"bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1",
                           "minifloat_e4m3", "minifloat_e5m4fn", "minifloat_e3m0", "minifloat_e8m3"}) {
    Format fm = parse_format(name);
    size_t checked = 0;
    float prev = -std::numeric_limits<float>::infinity();
    for (uint32_t c = 0; c < (1u << fm.width); ++c) {
      float v = decode_scalar(c, fm);
      if (std::isnan(v)) continue;
      EXPECT_EQ(encode_scalar(v, fm), c) << name << " code " << c;
      EXPECT_EQ(round_to_format(v, fm), v) << name;
      // Positive codes increase in value.
      if (c < (1u << (fm.width - 1))) {
        EXPECT_GT(v, prev) << name << " code " << c;
        prev = v;
      }
      ++checked;
    }
    EXPECT_GT(checked, (1u << fm.width) / 2) << name;
  }
}

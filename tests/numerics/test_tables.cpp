// Hand-derived expectations from reference/quant_formats.md §6.1-6.3 (explicit values).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "numerics/numerics.hpp"

using namespace plena::numerics;

namespace {

struct TableRow {
  const char* format;  // block 32, 8 inputs followed by 24 zeros
  int scale_byte;
  std::vector<float> in, rne, ties_away;
  std::vector<int> rne_codes;
};

float p2(int e) { return std::ldexp(1.0f, e); }

void expect_block(const std::string& fmt_text, const std::vector<float>& in8, int want_sb,
                  const std::vector<float>& want, const std::vector<int>* want_codes) {
  Format f = parse_format(fmt_text);
  std::vector<float> in(size_t(f.block), 0.0f), out(size_t(f.block));
  std::copy(in8.begin(), in8.end(), in.begin());
  std::vector<uint8_t> codes(size_t(f.block));
  uint8_t sb = encode_block(f, in, codes);
  EXPECT_EQ(int(sb), want_sb) << fmt_text;
  decode_block(f, sb, codes, out);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(out[i], want[i]) << fmt_text << " element " << i << " input " << in[i];
    if (want_codes) {
      EXPECT_EQ(int(codes[i]), (*want_codes)[i]) << fmt_text << " element " << i;
    }
  }
  for (size_t i = want.size(); i < out.size(); ++i) EXPECT_EQ(out[i], 0.0f);
}

}  // namespace

TEST(Tables, OcpMx_6_2) {
  const std::vector<TableRow> rows = {
      {"fp8_e4m3", 127, {485, 475, 400, -485, -475, -450, p2(-6), -p2(-6)},
       {448, 448, 384, -448, -448, -448, p2(-6), -p2(-6)},
       {448, 448, 416, -448, -448, -448, p2(-6), -p2(-6)},
       {0x7E, 0x7E, 0x7C, 0xFE, 0xFE, 0xFE, 0x08, 0x88}},
      {"fp8_e4m3", 119, {1.8125f, 1.0f, 8.5f / 256, 9.5f / 256, 300.0f / 256, -3 * p2(-18), p2(-18), -0.5f},
       {1.75f, 1.0f, 0.03125f, 0.0390625f, 1.125f, -p2(-16), 0, -0.5f},
       {1.75f, 1.0f, 9.0f / 256, 0.0390625f, 1.125f, -p2(-16), p2(-17), -0.5f},
       {0x7E, 0x78, 0x50, 0x52, 0x79, 0x82, 0x00, 0xF0}},
      {"fp8_e5m2", 112, {1.8f, 1.0f, -0.3f, p2(-30), 3 * p2(-32), p2(-32), 0.15625f, -0.171875f},
       {1.75f, 1.0f, -0.3125f, p2(-30), p2(-30), 0, 0.15625f, -0.1875f},
       {1.75f, 1.0f, -0.3125f, p2(-30), p2(-30), p2(-31), 0.15625f, -0.1875f},
       {0x7B, 0x78, 0xF1, 0x02, 0x02, 0x00, 0x6D, 0xEE}},
      {"fp6_e3m2", 127, {30, 13, -0.09375f, 0.03125f, 1, -5, 0.3f, 7.5f},
       {28, 12, -0.125f, 0, 1, -5, 0.3125f, 8},
       {28, 14, -0.125f, 0.0625f, 1, -5, 0.3125f, 8},
       {0x1F, 0x1A, 0x22, 0x00, 0x0C, 0x35, 0x05, 0x18}},
      {"fp6_e2m3", 127, {7.75f, 5.25f, -0.1875f, 0.0625f, 1, -2.3f, 0.3f, 3.125f},
       {7.5f, 5.0f, -0.25f, 0, 1, -2.25f, 0.25f, 3.0f},
       {7.5f, 5.5f, -0.25f, 0.125f, 1, -2.25f, 0.25f, 3.25f},
       {0x1F, 0x1A, 0x22, 0x00, 0x08, 0x31, 0x02, 0x14}},
      {"fp4_e2m1", 127, {7.9f, 5, 2.5f, 0.25f, 0.75f, -1.25f, -3.5f, 0.1f},
       {6, 4, 2, 0, 1, -1, -4, 0},
       {6, 6, 3, 0.5f, 1, -1.5f, -4, 0},
       {0x7, 0x6, 0x4, 0x0, 0x2, 0xA, 0xE, 0x0}},
      {"int8", 127, {-1.9999f, 1, 0.3f, 1.9921875f, 0.5078125f, -0.0234375f, p2(-7), -1},
       {-1.984375f, 1, 0.296875f, 1.984375f, 0.5f, -0.03125f, 0, -1},
       {-1.984375f, 1, 0.296875f, 1.984375f, 0.515625f, -0.03125f, p2(-6), -1},
       {0x81, 0x40, 0x13, 0x7F, 0x20, 0xFE, 0x00, 0xC0}},
  };
  for (const auto& r : rows) {
    expect_block(std::string("ocp-mx:") + r.format + ":b32:rne", r.in, r.scale_byte, r.rne, &r.rne_codes);
    expect_block(std::string("ocp-mx:") + r.format + ":b32:ties-away", r.in, r.scale_byte, r.ties_away, nullptr);
  }
  // Shared-exponent hazard: exact exponent extraction, not log2 (python path would give 256).
  expect_block("ocp-mx:int8:b32:rne", {256 - p2(-16), 1.0f}, 134, {254, 0}, nullptr);
}

TEST(Tables, Microxcaling_6_1) {
  expect_block("ocp-mx:fp8_e4m3:b8:ties-away", {485, 475, 400, -485, -475, -450, p2(-6), -p2(-6)}, 127,
               {448, 448, 416, -448, -448, -448, p2(-6), -p2(-6)}, nullptr);
  expect_block("ocp-mx:int8:b8:ties-away", {1.015625f, 1.0234375f, 1.03125f, 1.0390625f}, 127,
               {1.015625f, 1.03125f, 1.03125f, 1.046875f}, nullptr);
}

TEST(Tables, MaseBfp_6_3) {
  std::vector<int> codes = {4, 0xE, 1, 1, 3, 0x9, 0, 0};  // two's complement of sign-magnitude 4 A 1 1 3 F 0 0
  expect_block("mase-bfp:int4:b16", {1.0f, -0.5f, 0.3f, 0.26f, 0.74f, -1.99f, 0.01f, 0}, 128,
               {1.0f, -0.5f, 0.25f, 0.25f, 0.75f, -1.75f, 0, 0}, &codes);
  expect_block("mase-bfp:int4:b16", {1, -1, 0.5f, 0.25f, 0.125f, 0.0625f, 0.75f, -0.9375f}, 127,
               {0.875f, -0.875f, 0.5f, 0.25f, 0.125f, 0, 0.75f, -0.875f}, nullptr);
  // PLENA_Tools README: MXINT8 magnitude 53, sign 1, scale byte 180 -> -(53/128) * 2^53.
  Format f = parse_format("mase-bfp:int8:b32");
  EXPECT_EQ(decode_element(f, uint8_t(-53)) * scale_value(f, 180), -(53.0f / 128) * p2(53));
}

TEST(Tables, PlenaHw_6_3) {
  std::vector<int> c1 = {0x20, 0x28, 0x30, 0x38, 0x35, 0xA3, 0x02, 0x28};
  expect_block("plena-hw-mxfp:fp8_e4m3:b8", {0.5f, 1, 2, 4, 3.3f, -0.7f, 0.01f, 1.0625f}, 129,
               {0.5f, 1, 2, 4, 3.25f, -0.6875f, 0.0078125f, 1.0f}, &c1);
  float q = 0.875f * p2(-7);
  std::vector<int> c2 = {0x38, 0x07, 0x07, 0x04, 0x01, 0x07, 0x38, 0xBA};
  expect_block("plena-hw-mxfp:fp8_e4m3:b8", {1, p2(-7), q, p2(-8), p2(-10), 0.01f, 1.0859375f, -1.1875f}, 127,
               {1, q, q, p2(-8), p2(-10), q, 1.0f, -1.25f}, &c2);
  std::vector<int> c3 = {0x20, 0x28, 0x30, 0x38};
  expect_block("plena-hw-mxfp:fp8_e4m3:b4", {0.5f, 1, 2, 4}, 129, {0.5f, 1, 2, 4}, &c3);
  // hardware_round examples (block max 1.328125 keeps the scale at 2^0).
  expect_block("plena-hw-mxfp:fp8_e4m3:b4", {1.0625f, 1.0859375f, 1.1875f, 1.328125f}, 127,
               {1.0f, 1.0f, 1.25f, 1.25f}, nullptr);
  Format f = parse_format("plena-hw-mxfp:fp8_e4m3:b8");
  EXPECT_EQ(decode_element(f, 0x07), 0.0068359375f);
  EXPECT_EQ(decode_element(f, 0x01), 0.0009765625f);
  EXPECT_EQ(decode_element(f, 0x38), 1.0f);
  EXPECT_EQ(decode_element(f, 0x3F), 1.875f);
  EXPECT_EQ(decode_element(f, 0xB8), -1.0f);
  EXPECT_EQ(scale_value(f, 127), 1.0f);
  EXPECT_EQ(scale_value(f, 124), 0.125f);
  EXPECT_EQ(scale_value(f, 130), 8.0f);
  EXPECT_EQ(scale_value(f, 0), 0.0f);
  // All-zero block: floor(log2(0 + 1e-9)) = -30 -> byte 97.
  expect_block("plena-hw-mxfp:fp8_e4m3:b8", {0, 0, 0, 0, 0, 0, 0, 0}, 97, {0, 0, 0, 0, 0, 0, 0, 0}, nullptr);
}

TEST(Tables, OcpSpecialBlocks) {
  Format f = parse_format("ocp-mx:fp8_e4m3:b32");
  EXPECT_EQ(scale_value(f, 0), p2(-127));  // OCP E8M0 byte 0 is 2^-127, not zero
  EXPECT_TRUE(std::isnan(scale_value(f, 255)));
  std::vector<float> in(32, 1.0f), out(32);
  std::vector<uint8_t> codes(32);
  in[5] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(encode_block(f, in, codes), 255);
  decode_block(f, 255, codes, out);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
  std::fill(in.begin(), in.end(), -0.0f);
  EXPECT_EQ(encode_block(f, in, codes), 0);
  // int8 decodes 0x80 as -2.0 but never produces it.
  Format i8 = parse_format("ocp-mx:int8:b32");
  EXPECT_EQ(decode_element(i8, 0x80), -2.0f);
  std::fill(in.begin(), in.end(), -1.999999f);
  encode_block(i8, in, codes);
  EXPECT_EQ(codes[0], 0x81);
}

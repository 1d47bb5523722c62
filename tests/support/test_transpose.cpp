// Tile transposes: every element lands where the definition says, at sizes with and without
// partial tiles and with strides wider than the data.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <vector>

#include "support/transpose.hpp"

namespace {

struct Shape {
  size_t rows, cols, src_pad, dst_pad;
};

const Shape kShapes[] = {{16, 16, 0, 0}, {32, 48, 0, 0}, {17, 33, 3, 5}, {5, 7, 0, 1}, {48, 3, 2, 0}, {1, 64, 0, 0}};

uint16_t word(size_t i, size_t j) { return uint16_t((i * 7919 + j * 104729 + 12345) & 0xFFFF); }

TEST(Transpose, Bf16ToF32PlacesEveryElement) {
  for (const Shape& s : kShapes) {
    const size_t ss = s.cols + s.src_pad, ds = s.rows + s.dst_pad;
    std::vector<uint16_t> src(s.rows * ss);
    for (size_t i = 0; i < s.rows; ++i)
      for (size_t j = 0; j < s.cols; ++j) src[i * ss + j] = word(i, j);
    std::vector<float> dst(s.cols * ds, -1.f);
    plena::transpose_bf16_to_f32(src.data(), ss, s.rows, s.cols, dst.data(), ds);
    for (size_t j = 0; j < s.cols; ++j)
      for (size_t i = 0; i < ds; ++i) {
        const uint32_t want = i < s.rows ? uint32_t(word(i, j)) << 16 : std::bit_cast<uint32_t>(-1.f);  // padding untouched
        ASSERT_EQ(std::bit_cast<uint32_t>(dst[j * ds + i]), want) << s.rows << "x" << s.cols << " at " << i << "," << j;
      }
  }
}

TEST(Transpose, F32ToBf16KeepsHighHalvesAndReportsLowBits) {
  for (const Shape& s : kShapes) {
    const size_t ss = s.cols + s.src_pad, ds = s.rows + s.dst_pad;
    std::vector<float> src(s.rows * ss, 0.f);
    for (size_t i = 0; i < s.rows; ++i)
      for (size_t j = 0; j < s.cols; ++j) src[i * ss + j] = std::bit_cast<float>(uint32_t(word(i, j)) << 16);
    std::vector<uint16_t> dst(s.cols * ds, 0xABCD);
    EXPECT_EQ(plena::transpose_f32_to_bf16(src.data(), ss, s.rows, s.cols, dst.data(), ds), 0u);
    for (size_t j = 0; j < s.cols; ++j)
      for (size_t i = 0; i < ds; ++i) ASSERT_EQ(dst[j * ds + i], i < s.rows ? word(i, j) : 0xABCD) << i << "," << j;
    // One low bit anywhere (first, inside a tile, last) is reported.
    for (size_t k : {size_t(0), (s.rows / 2) * ss + s.cols / 2, (s.rows - 1) * ss + s.cols - 1}) {
      std::vector<float> t = src;
      t[k] = std::bit_cast<float>(std::bit_cast<uint32_t>(t[k]) | 0x100u);
      EXPECT_EQ(plena::transpose_f32_to_bf16(t.data(), ss, s.rows, s.cols, dst.data(), ds), 0x100u) << k;
    }
  }
}

}  // namespace

// support/math.hpp: ceil_div and round_up, including the edges where a + b - 1 would wrap.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "support/math.hpp"

namespace {
using plena::ceil_div;
using plena::round_up;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

static_assert(ceil_div(0u, 4u) == 0);
static_assert(ceil_div(7u, 7u) == 1);
static_assert(ceil_div(8u, 7u) == 2);
static_assert(round_up(64u, 64u) == 64);

TEST(Math, CeilDivRoundsUpOnlyWithARemainder) {
  for (uint64_t b = 1; b <= 9; ++b)
    for (uint64_t a = 0; a <= 40; ++a) {
      const uint64_t q = ceil_div(a, b);
      EXPECT_GE(q * b, a) << a << "/" << b;
      EXPECT_LT(q * b, a + b) << a << "/" << b;
    }
}

TEST(Math, CeilDivDoesNotWrapNearTheTop) {
  EXPECT_EQ(ceil_div(kMax, uint64_t{2}), kMax / 2 + 1);
  EXPECT_EQ(ceil_div(kMax, kMax), 1u);
  EXPECT_EQ(ceil_div(kMax - 1, kMax), 1u);
}

TEST(Math, MixedWidthsUseTheWiderType) {
  const uint32_t mlen = 64;
  const uint64_t big = uint64_t(1) << 40;
  EXPECT_EQ(round_up(big + 1, mlen), big + 64);
  static_assert(std::is_same_v<decltype(round_up(big, mlen)), uint64_t>);
}

TEST(Math, RoundUpIsTheNextMultiple) {
  EXPECT_EQ(round_up(0u, 64u), 0u);
  EXPECT_EQ(round_up(1u, 64u), 64u);
  EXPECT_EQ(round_up(65u, 64u), 128u);
  EXPECT_EQ(round_up(uint64_t{1000}, uint64_t{1000}), 1000u);
}

TEST(Math, WideProducts) {
  const unsigned __int128 num = static_cast<unsigned __int128>(kMax) * 8u, den = 3;
  EXPECT_TRUE(ceil_div(num, den) * den >= num && ceil_div(num, den) * den < num + den);
}

}  // namespace

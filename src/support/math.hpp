// Integer rounding helpers shared by every module: one ceil_div, one round_up.
//
// Overflow: ceil_div never overflows (it does not form a + b - 1). round_up's result can exceed
// the type when `a` is within `b` of its maximum; where the operands come from a user (a file, a
// flag, a model config), bound them first or use the checked helpers in support/checked.hpp.
#pragma once
#include <concepts>
#include <type_traits>

namespace plena {

// Unsigned only: a negative count has no rounding the callers mean, so it is a compile error.
// unsigned __int128 (a GCC/Clang extension, not integral under -std=c++20) is admitted for exact
// wide products such as the DRAM model's bytes * 8e6 / rate.
__extension__ using uint128_t = unsigned __int128;
template <class T>
concept UnsignedInt = (std::unsigned_integral<T> && !std::same_as<T, bool>) || std::same_as<T, uint128_t>;

// ceil(a / b) for b > 0.
template <UnsignedInt A, UnsignedInt B>
constexpr std::common_type_t<A, B> ceil_div(A a, B b) {
  using T = std::common_type_t<A, B>;
  return T(a) / T(b) + (T(a) % T(b) != 0);
}

// The smallest multiple of b that is >= a, for b > 0.
template <UnsignedInt A, UnsignedInt B>
constexpr std::common_type_t<A, B> round_up(A a, B b) {
  using T = std::common_type_t<A, B>;
  return ceil_div(a, b) * T(b);
}

}  // namespace plena

// Overflow-checked size arithmetic for readers: every size taken from an input file or flag goes
// through these before anything is allocated or indexed with it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

namespace plena {

// a * b, or nullopt when it does not fit in size_t.
inline std::optional<size_t> checked_mul(size_t a, size_t b) {
  size_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a + b, or nullopt when it does not fit in size_t.
inline std::optional<size_t> checked_add(size_t a, size_t b) {
  size_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Product of all dims (1 for none), or nullopt on overflow.
inline std::optional<size_t> checked_product(std::span<const size_t> dims) {
  size_t n = 1;
  for (size_t d : dims) {
    auto m = checked_mul(n, d);
    if (!m) return std::nullopt;
    n = *m;
  }
  return n;
}
inline std::optional<size_t> checked_product(std::initializer_list<size_t> dims) {
  return checked_product(std::span<const size_t>(dims.begin(), dims.size()));
}

}  // namespace plena

#include "support/big_buffer.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace plena {

namespace {
// Capacity n, the huge-page advice applied before the first fault.
std::vector<float> reserved_floats(size_t n) {
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  std::vector<float> v;
  v.reserve(n);  // untouched memory: the advice applies before the first fault
  const uintptr_t begin = reinterpret_cast<uintptr_t>(v.data()), end = begin + n * sizeof(float);
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (last > first && last - first >= 2 * kHuge)
    (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // advice only
  return v;
}
}  // namespace

std::vector<float> zeroed_floats(size_t n) {
  std::vector<float> v = reserved_floats(n);
  v.resize(n);
  return v;
}

std::vector<float> copied_floats(std::span<const float> src) {
  std::vector<float> v = reserved_floats(src.size());
  v.assign(src.begin(), src.end());  // within capacity: no reallocation, no zeroing
  return v;
}

}  // namespace plena

#include "support/big_buffer.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace plena {

std::vector<float> zeroed_floats(size_t n) {
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  std::vector<float> v;
  v.reserve(n);  // untouched memory: the advice applies before the first fault
  const uintptr_t begin = reinterpret_cast<uintptr_t>(v.data()), end = begin + n * sizeof(float);
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (last > first && last - first >= 2 * kHuge)
    (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // advice only
  v.resize(n);
  return v;
}

}  // namespace plena

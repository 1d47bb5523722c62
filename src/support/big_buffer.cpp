#include "support/big_buffer.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace plena {

void advise_huge_pages(void* p, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (last > first && last - first >= 2 * kHuge)
    (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // advice only
}

namespace {
void populate(const void* p, size_t bytes, int advice) {
  constexpr uintptr_t kPage = 4096, kMin = uintptr_t(256) << 10;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
  const uintptr_t first = (begin + kPage - 1) & ~(kPage - 1), last = end & ~(kPage - 1);
  if (last > first && last - first >= kMin) (void)::madvise(reinterpret_cast<void*>(first), last - first, advice);
}
}  // namespace

void prefault(void* p, size_t bytes) { populate(p, bytes, MADV_POPULATE_WRITE); }
void prefault_read(const void* p, size_t bytes) { populate(p, bytes, MADV_POPULATE_READ); }

std::vector<float> zeroed_floats(size_t n) {
  std::vector<float> v;
  v.reserve(n);  // untouched memory: the advice applies before the first fault
  advise_huge_pages(v.data(), n * sizeof(float));
  prefault(v.data(), n * sizeof(float));
  v.resize(n);
  return v;
}

void resize_staging(std::vector<float>& v, size_t n) {
  if (v.capacity() < n) v = zeroed_floats(n);
  v.resize(n);
}

}  // namespace plena

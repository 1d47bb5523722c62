// Large float buffers for weight tensors: the same as std::vector<float>(n), but the kernel is
// asked to back them with transparent huge pages (madvise), which cuts page faults and TLB misses
// on tensors of tens of MB (a vocabulary-sized embedding or LM head). Small sizes, or a kernel
// that declines, get ordinary pages.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

namespace plena {

std::vector<float> zeroed_floats(size_t n);
// A copy of `src` in such a buffer, written once (not zeroed first).
std::vector<float> copied_floats(std::span<const float> src);

}  // namespace plena

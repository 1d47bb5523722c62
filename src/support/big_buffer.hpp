// Large float buffers for weight tensors: the same as std::vector<float>(n), but the kernel is
// asked to back them with transparent huge pages (madvise), which cuts page faults and TLB misses
// on tensors of tens of MB (a vocabulary-sized embedding or LM head). Small sizes, or a kernel
// that declines, get ordinary pages.
#pragma once
#include <cstddef>
#include <vector>

namespace plena {

std::vector<float> zeroed_floats(size_t n);
// v.resize(n) for a staging buffer reused across calls: when it must grow, its new memory comes
// from zeroed_floats (huge pages, prefaulted).
void resize_staging(std::vector<float>& v, size_t n);
// Asks for huge pages on the 2 MiB-aligned part of [p, p + bytes) (untouched memory; advice only).
void advise_huge_pages(void* p, size_t bytes);
// Maps the pages of [p, p + bytes) (fresh memory about to be written in full) in one call rather
// than one fault per page: a trap per 4 KiB page is what fresh tensors cost otherwise, and traps
// are dear under virtualization. Ranges under 256 KiB, or a kernel before 5.14, are left to
// fault (advice only).
void prefault(void* p, size_t bytes);
// The same for memory about to be read in full (a mapped checkpoint tensor read across its rows).
void prefault_read(const void* p, size_t bytes);

}  // namespace plena

// Machine state, the sparse HBM store and the SRAM preload/dump helpers.
#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "sim/exec_detail.hpp"
#include "sim/sim.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::sim {

// ---------------------------------------------------------------------------------------------
Rounder::Rounder(const numerics::Format& f) : format_(f) {
  if (f.is_block())
    throw InputError(fmt::format("SRAM/register type {} must be a plain format", f.name()));
  if (f.ebits == 8 && f.mbits == 23 && !f.finite_only && f.width == 32)
    kind_ = Kind::Identity;
  else if (f.ebits == 8 && f.mbits == 7 && !f.finite_only && f.width == 16)
    kind_ = Kind::Bf16;
  else
    kind_ = Kind::Generic;
}

float Rounder::generic(float x) const { return numerics::round_to_format(x, format_); }

// ---------------------------------------------------------------------------------------------
HbmStore::HbmStore(uint64_t size_bytes) : size_(size_bytes), pages_(ceil_div(size_bytes, kPageBytes), nullptr) {}

HbmStore::~HbmStore() {
  for (const Chunk& c : chunks_) ::munmap(c.map, c.bytes);
}

// Pages come from 32 MiB chunks on 2 MiB boundaries with transparent huge pages advised: a
// vocabulary-sized LM head fills tens of MB, and one fault per 2 MiB instead of per 4 KiB is
// most of its cost. mmap memory is already zero; untouched parts of a chunk cost nothing.
uint8_t* HbmStore::new_page() {
  constexpr size_t kHuge = size_t(2) << 20, kChunk = size_t(32) << 20;
  if (chunk_next_ == chunk_end_) {
    const size_t bytes = kChunk + kHuge;
    void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) throw std::bad_alloc();
    chunks_.push_back({map, bytes});
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(map) + kHuge - 1) & ~uintptr_t(kHuge - 1);
    chunk_next_ = reinterpret_cast<uint8_t*>(begin);
    chunk_end_ = chunk_next_ + kChunk;
    (void)::madvise(chunk_next_, kChunk, MADV_HUGEPAGE);  // advice only
  }
  uint8_t* page = chunk_next_;
  chunk_next_ += kPageBytes;
  ++allocated_;
  return page;
}

void HbmStore::check(uint64_t addr, uint64_t n, const char* what) const {
  if (addr > size_ || n > size_ - addr)
    throw SimFault(fmt::format("HBM {} of {} bytes at 0x{:x} exceeds the HBM size ({} bytes)", what, n, addr, size_));
}

void HbmStore::read(uint64_t addr, std::span<uint8_t> out) const {
  check(addr, out.size(), "read");
  size_t done = 0;
  while (done < out.size()) {
    uint64_t a = addr + done;
    uint64_t page = a >> kPageBits, off = a & (kPageBytes - 1);
    size_t n = size_t(std::min<uint64_t>(kPageBytes - off, out.size() - done));
    if (pages_[page])
      std::memcpy(out.data() + done, pages_[page] + off, n);
    else
      std::memset(out.data() + done, 0, n);
    done += n;
  }
}

void HbmStore::write(uint64_t addr, std::span<const uint8_t> in) {
  check(addr, in.size(), "write");
  size_t done = 0;
  while (done < in.size()) {
    uint64_t a = addr + done;
    uint64_t page = a >> kPageBits, off = a & (kPageBytes - 1);
    size_t n = size_t(std::min<uint64_t>(kPageBytes - off, in.size() - done));
    if (!pages_[page]) pages_[page] = new_page();
    std::memcpy(pages_[page] + off, in.data() + done, n);
    done += n;
  }
}

// ---------------------------------------------------------------------------------------------
void Machine::FreeDeleter::operator()(void* p) const { std::free(p); }

namespace {

// Zeroed memory the OS commits page by page on first touch (no up-front memset).
template <class T>
T* calloc_array(uint64_t n, const char* what) {
  if (n == 0) return nullptr;
  void* p = std::calloc(size_t(n), sizeof(T));
  if (!p)
    throw InputError(fmt::format("cannot allocate the {} ({} elements); use timing-only mode for this config", what, n));
  return static_cast<T*>(p);
}
}  // namespace

Machine::Machine(const config::HardwareConfig& cfg, Mode mode)
    : cfg_(cfg),
      mode_(mode),
      vround_(cfg.sram.vector_type),
      mround_(cfg.sram.matrix_type),
      fround_(cfg.sram.fp_type) {
  const auto& g = cfg_.geometry;
  hbm_addr.assign(cfg_.hbm.addr_regs, 0);
  vram_elems_ = cfg_.sram.vector_depth * g.vlen;
  mram_elems_ = cfg_.sram.matrix_depth * g.mlen;
  loops.reserve(kMaxLoopDepth);
  // INT SRAM is kept in timing-only mode too: it is small and feeds addresses (S_LD_INT).
  int_elems_ = cfg_.sram.int_depth;
  intsram_.reset(calloc_array<uint32_t>(int_elems_, "INT SRAM"));
  if (functional()) {
    acc_m.assign(size_t(g.blen) * g.blen, 0.f);
    // acc_hm (BROADCAST x MLEN^2, 256 MiB at MLEN 2048) is allocated by the first batched matmul.
    acc_hv.assign(size_t(g.broadcast_amount) * g.mlen, 0.f);
    acc_v.assign(g.blen, 0.f);
    vram_.reset(calloc_array<float>(vram_elems_, "Vector SRAM"));
    mram_.reset(calloc_array<float>(mram_elems_, "Matrix SRAM"));
    fp_elems_ = cfg_.sram.fp_depth;
    fpsram_.reset(calloc_array<float>(fp_elems_, "FP SRAM"));
    hbm_ = std::make_unique<HbmStore>(cfg_.hbm.size_bytes);
    scratch_f.resize(size_t(g.mlen) * g.mlen);
    scratch_f2.resize(size_t(g.mlen) * g.mlen);
  }
}

Machine::~Machine() = default;

void Machine::set_fp(unsigned r, float v) {
  if (r != 0 && r < 8) fp[r] = fround_(v);
}

HbmStore& Machine::hbm() {
  if (!hbm_) throw SimFault("HBM data is not available in timing-only mode");
  return *hbm_;
}
const HbmStore& Machine::hbm() const {
  if (!hbm_) throw SimFault("HBM data is not available in timing-only mode");
  return *hbm_;
}

namespace {
void check_helper_range(const Machine& m, const char* what, uint64_t index, uint64_t n, uint64_t size,
                        bool always = false) {
  if (!always && !m.functional()) throw SimFault(fmt::format("{} data is not available in timing-only mode", what));
  if (index > size || n > size - index)
    throw SimFault(fmt::format("{} access [{}, {}) exceeds its {} entries", what, index, index + n, size));
}
}  // namespace

void Machine::write_vram(uint64_t addr, std::span<const float> values) {
  check_helper_range(*this, "Vector SRAM", addr, values.size(), vram_elems_);
  float* d = vram_.get() + addr;
  for (size_t i = 0; i < values.size(); ++i) d[i] = vround_(values[i]);
}
std::vector<float> Machine::read_vram(uint64_t addr, size_t n) const {
  check_helper_range(*this, "Vector SRAM", addr, n, vram_elems_);
  return std::vector<float>(vram_.get() + addr, vram_.get() + addr + n);
}
void Machine::write_mram(uint64_t addr, std::span<const float> values) {
  check_helper_range(*this, "Matrix SRAM", addr, values.size(), mram_elems_);
  float* d = mram_.get() + addr;
  for (size_t i = 0; i < values.size(); ++i) d[i] = mround_(values[i]);
}
std::vector<float> Machine::read_mram(uint64_t addr, size_t n) const {
  check_helper_range(*this, "Matrix SRAM", addr, n, mram_elems_);
  return std::vector<float>(mram_.get() + addr, mram_.get() + addr + n);
}
void Machine::write_fpsram(uint64_t index, std::span<const float> values) {
  check_helper_range(*this, "FP SRAM", index, values.size(), fp_elems_);
  for (size_t i = 0; i < values.size(); ++i) fpsram_[index + i] = fround_(values[i]);
}
std::vector<float> Machine::read_fpsram(uint64_t index, size_t n) const {
  check_helper_range(*this, "FP SRAM", index, n, fp_elems_);
  return std::vector<float>(fpsram_.get() + index, fpsram_.get() + index + n);
}
void Machine::write_intsram(uint64_t index, std::span<const uint32_t> values) {
  check_helper_range(*this, "INT SRAM", index, values.size(), int_elems_, true);
  std::copy(values.begin(), values.end(), intsram_.get() + index);
}
std::vector<uint32_t> Machine::read_intsram(uint64_t index, size_t n) const {
  check_helper_range(*this, "INT SRAM", index, n, int_elems_, true);
  return std::vector<uint32_t>(intsram_.get() + index, intsram_.get() + index + n);
}

}  // namespace plena::sim

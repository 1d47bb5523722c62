// RangeAllocator, HBM layout rules and the MemoryPlan.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "compiler/memory.hpp"
#include "support/math.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {


}  // namespace

// ------------------------------------------------------------------------------------------------
// RangeAllocator

RangeAllocator::RangeAllocator(std::string space, std::string unit, uint64_t capacity)
    : space_(std::move(space)), unit_(std::move(unit)), capacity_(capacity) {
  if (capacity_) free_[0] = capacity_;
}

uint64_t RangeAllocator::allocate(std::string_view name, uint64_t size, uint64_t align, uint64_t lo, uint64_t hi) {
  if (align == 0) align = 1;
  if (size == 0) throw InputError(fmt::format("{}: allocation '{}' has size 0", space_, name));
  if (blocks_.count(std::string(name)))
    throw InputError(fmt::format("{}: '{}' is already allocated", space_, name));
  auto best = free_.end();
  uint64_t best_start = 0;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const uint64_t from = std::max(it->first, lo), to = std::min(it->first + it->second, hi);
    if (from >= to) continue;
    uint64_t start = round_up(from, std::max<uint64_t>(align, 1));
    if (start < from || start - from >= to - from || (to - from) - (start - from) < size) continue;
    if (best == free_.end() || it->second < best->second) {
      best = it;
      best_start = start;
    }
  }
  if (best == free_.end())
    throw InputError(fmt::format(
        "{}: '{}' needs {} {} (alignment {}) but does not fit: capacity {}, in use {}, largest free range {}",
        space_, name, size, unit_, align, capacity_, used_, largest_free(align)));
  uint64_t off = best->first, len = best->second;
  free_.erase(best);
  if (best_start > off) free_[off] = best_start - off;
  uint64_t end = best_start + size;
  if (end < off + len) free_[end] = off + len - end;
  blocks_[std::string(name)] = Block{best_start, size};
  used_ += size;
  peak_used_ = std::max(peak_used_, used_);
  high_water_ = std::max(high_water_, end);
  return best_start;
}

void RangeAllocator::free(std::string_view name) {
  auto it = blocks_.find(std::string(name));
  if (it == blocks_.end()) throw InputError(fmt::format("{}: cannot free '{}': not allocated", space_, name));
  uint64_t off = it->second.offset, len = it->second.size;
  used_ -= len;
  blocks_.erase(it);
  // Coalesce with the neighbours.
  auto next = free_.lower_bound(off);
  if (next != free_.end() && next->first == off + len) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  free_[off] = len;
}

const RangeAllocator::Block& RangeAllocator::block(std::string_view name) const {
  auto it = blocks_.find(std::string(name));
  if (it == blocks_.end()) throw InputError(fmt::format("{}: '{}' is not allocated", space_, name));
  return it->second;
}

uint64_t RangeAllocator::largest_free_in(uint64_t lo, uint64_t hi, uint64_t align) const {
  uint64_t best = 0;
  for (const auto& [off, len] : free_) {
    const uint64_t from = std::max(off, lo), to = std::min(off + len, hi);
    if (from >= to) continue;
    const uint64_t start = round_up(from, std::max<uint64_t>(align, 1));
    if (start < to) best = std::max(best, to - start);
  }
  return best;
}

uint64_t RangeAllocator::largest_free(uint64_t align) const {
  uint64_t best = 0;
  for (const auto& [off, len] : free_) {
    uint64_t start = round_up(off, std::max<uint64_t>(align, 1));
    if (start - off < len) best = std::max(best, len - (start - off));
  }
  return best;
}

bool RangeAllocator::fits(uint64_t size, uint64_t align) const { return size > 0 && largest_free(align) >= size; }

// ------------------------------------------------------------------------------------------------
// MemoryPlan

MemoryPlan::MemoryPlan(const config::HardwareConfig& cfg, std::string config_name)
    : cfg_(cfg), config_name_(std::move(config_name)), config_hash_(config::canonical_hash(cfg)),
      hbm_("HBM", "bytes", cfg.hbm.size_bytes), vram_("VRAM", "rows", cfg.sram.vector_depth),
      mram_("MRAM", "tiles", cfg.matrix_tiles()), fp_("FP SRAM", "entries", cfg.sram.fp_depth),
      int_("INT SRAM", "entries", cfg.sram.int_depth) {
  const auto pools = config::memory_pools(cfg);
  for (size_t i = 0; i < pools.size(); ++i)
    pool_use_.push_back({pools[i].name, config::pool_base(cfg, i), pools[i].capacity_bytes, 0, 0});
}

// The pool window of class `cls`; a tensor that does not fit names the pool (capacity checks are
// per pool, docs/memory.md).
uint64_t MemoryPlan::allocate_in_pool(std::string_view name, TensorClass cls, uint64_t bytes, uint64_t align) {
  const size_t i = config::pool_index(cfg_, config::memory_class_of(cls));
  PoolUse& u = pool_use_[i];
  uint64_t base = 0;
  if (cfg_.memory.empty()) {
    base = hbm_.allocate(name, bytes, align);
  } else {
    if (hbm_.contains(name)) (void)hbm_.allocate(name, bytes, align);  // the duplicate-name error
    const uint64_t lo = u.base, hi = u.base + u.capacity;
    if (hbm_.largest_free_in(lo, hi, align) < bytes)
      throw InputError(fmt::format(
          "memory pool '{}' ({} {}, capacity {} bytes, holds {}): {} tensor '{}' needs {} bytes but does not fit: {} "
          "bytes in use, largest free range {} bytes; raise [memory.{}] capacity or place the class in another pool",
          u.name, cfg_.memory[i].standard, cfg_.memory[i].speed, u.capacity, pool_holds_text(i), tensor_class_name(cls),
          name, bytes, u.used, hbm_.largest_free_in(lo, hi, align), u.name));
    base = hbm_.allocate(name, bytes, align, lo, hi);
  }
  u.used += bytes;
  u.peak = std::max(u.peak, u.used);
  hbm_pool_[std::string(name)] = i;
  return base;
}

std::string MemoryPlan::pool_holds_text(size_t i) const {
  std::string out;
  for (config::MemoryClass m : cfg_.memory.at(i).holds)
    out += (out.empty() ? "" : ", ") + std::string(config::memory_class_name(m));
  return out;
}

const HbmTensor& MemoryPlan::place_hbm(std::string_view name, TensorClass cls, std::vector<uint64_t> shape,
                                       const numerics::Format& format, const HbmPlaceOptions& opt) {
  HbmTensor t = hbm_layout(std::string(name), cls, std::move(shape), format, opt.row_multiple);
  uint64_t align = std::lcm<uint64_t>(64, std::max<uint64_t>(opt.align, 1));
  if (opt.tile_align) {
    uint64_t tile = numerics::packed_element_bytes(format, uint64_t(cfg_.geometry.mlen) * cfg_.geometry.mlen);
    align = std::lcm(align, tile);
  }
  // Allocations are whole 64-byte DMA blocks so neighbours never share a block.
  t.base = allocate_in_pool(name, cls, round_up(t.bytes(), uint64_t{64}), align);
  return hbm_tensors_[t.name] = std::move(t);
}

const HbmTensor& MemoryPlan::hbm(std::string_view name) const {
  auto it = hbm_tensors_.find(std::string(name));
  if (it == hbm_tensors_.end()) throw InputError(fmt::format("HBM: no tensor named '{}'", name));
  return it->second;
}

std::optional<TensorClass> MemoryPlan::hbm_class_at(uint64_t addr) const {
  for (const auto& [name, t] : hbm_tensors_)
    if (addr >= t.base && addr < t.base + t.bytes()) return t.cls;
  return std::nullopt;
}

void MemoryPlan::free_hbm(std::string_view name) {
  const uint64_t bytes = hbm_.contains(name) ? hbm_.block(name).size : 0;
  hbm_.free(name);
  if (auto it = hbm_pool_.find(name); it != hbm_pool_.end()) {
    pool_use_[it->second].used -= bytes;
    hbm_pool_.erase(it);
  }
  hbm_tensors_.erase(std::string(name));
}

static uint64_t vram_rows_alloc(uint64_t rows, const VramPlaceOptions& opt) {
  return round_up(rows, std::max<uint64_t>(opt.row_multiple, 1));
}

const VramTensor& MemoryPlan::alloc_vram(std::string_view name, uint64_t rows, uint64_t cols,
                                         const VramPlaceOptions& opt) {
  if (rows == 0 || cols == 0) throw InputError(fmt::format("VRAM: tensor '{}' has a zero dimension", name));
  VramTensor t;
  t.name = name;
  t.rows = rows;
  t.cols = cols;
  t.vlen = cfg_.geometry.vlen;
  t.rows_alloc = vram_rows_alloc(rows, opt);
  t.col_blocks = ceil_div(cols, t.vlen);
  t.base_row = vram_.allocate(name, t.vram_rows(), opt.align_rows);
  return vram_tensors_[t.name] = std::move(t);
}

const VramTensor& MemoryPlan::vram(std::string_view name) const {
  auto it = vram_tensors_.find(std::string(name));
  if (it == vram_tensors_.end()) throw InputError(fmt::format("VRAM: no tensor named '{}'", name));
  return it->second;
}

void MemoryPlan::free_vram(std::string_view name) {
  vram_.free(name);
  vram_tensors_.erase(std::string(name));
}

SpillDecision MemoryPlan::decide_residency(uint64_t rows, uint64_t cols, const VramPlaceOptions& opt) const {
  SpillDecision d;
  d.rows_needed = vram_rows_alloc(rows, opt) * ceil_div(cols, cfg_.geometry.vlen);
  d.largest_free = vram_.largest_free(opt.align_rows);
  if (d.rows_needed <= d.largest_free) {
    d.where = Residency::Vram;
    d.reason = fmt::format("fits: needs {} VRAM rows, largest free range {}", d.rows_needed, d.largest_free);
  } else {
    d.where = Residency::HbmStream;
    d.reason = fmt::format("spill: needs {} VRAM rows, largest free range {} (of {}); keep in HBM and stream",
                           d.rows_needed, d.largest_free, vram_.capacity());
  }
  return d;
}

const MramBlock& MemoryPlan::alloc_mram(std::string_view name, uint64_t tiles) {
  MramBlock b;
  b.name = name;
  b.tiles = tiles;
  b.mlen = cfg_.geometry.mlen;
  b.first_tile = mram_.allocate(name, tiles);
  return mram_blocks_[b.name] = std::move(b);
}

const MramBlock& MemoryPlan::mram(std::string_view name) const {
  auto it = mram_blocks_.find(std::string(name));
  if (it == mram_blocks_.end()) throw InputError(fmt::format("MRAM: no block named '{}'", name));
  return it->second;
}

void MemoryPlan::free_mram(std::string_view name) {
  mram_.free(name);
  mram_blocks_.erase(std::string(name));
}

uint64_t MemoryPlan::fp_constant(std::string_view name, float value) {
  if (!std::isfinite(value))
    throw InputError(fmt::format("FP SRAM constant '{}' = {} is not finite (the manifest holds finite values)", name,
                                 value));
  for (const auto& c : fp_constants_) {
    if (c.name != name) continue;
    if (std::bit_cast<uint32_t>(c.value) != std::bit_cast<uint32_t>(value))
      throw InputError(fmt::format("FP SRAM constant '{}' is already defined as {} (slot {}), cannot redefine as {}",
                                   name, c.value, c.slot, value));
    return c.slot;
  }
  // Skip free slots that scratch used before (see fp_scratch_touched_): hold them while searching.
  std::vector<std::string> holds;
  uint64_t slot = 0;
  for (;;) {
    std::string hold = fmt::format("<constant-search-{}>", holds.size());
    slot = fp_.allocate(hold, 1);
    if (slot >= fp_scratch_touched_.size() || !fp_scratch_touched_[slot]) {
      fp_.free(hold);
      break;
    }
    holds.push_back(std::move(hold));
  }
  // Best fit is deterministic: with the same free list the named allocation gets the same slot.
  slot = fp_.allocate(name, 1);
  for (const auto& h : holds) fp_.free(h);
  fp_constants_.push_back({std::string(name), slot, value});
  return slot;
}

uint64_t MemoryPlan::fp_slot(std::string_view name) const {
  for (const auto& c : fp_constants_)
    if (c.name == name) return c.slot;
  std::string known;
  for (const auto& c : fp_constants_) known += (known.empty() ? "" : ", ") + c.name;
  throw InputError(fmt::format("FP SRAM: no constant named '{}' (defined: {})", name, known.empty() ? "none" : known));
}

float MemoryPlan::fp_value(std::string_view name) const {
  for (const auto& c : fp_constants_)
    if (c.name == name) return c.value;
  (void)fp_slot(name);  // throws the descriptive error
  return 0;
}

uint64_t MemoryPlan::alloc_fp_scratch(std::string_view name, uint64_t entries) {
  uint64_t off = fp_.allocate(name, entries);
  if (fp_scratch_touched_.size() < off + entries) fp_scratch_touched_.resize(off + entries, false);
  for (uint64_t i = off; i < off + entries; ++i) fp_scratch_touched_[i] = true;
  return off;
}
void MemoryPlan::free_fp_scratch(std::string_view name) {
  for (const auto& c : fp_constants_)
    if (c.name == name) throw InputError(fmt::format("FP SRAM: '{}' is a constant, not scratch", name));
  fp_.free(name);
}

uint64_t MemoryPlan::int_preload(std::string_view name, std::vector<uint32_t> values) {
  uint64_t off = int_.allocate(name, values.size());
  int_preloads_.push_back({std::string(name), off, std::move(values)});
  return off;
}
uint64_t MemoryPlan::alloc_int_scratch(std::string_view name, uint64_t entries) { return int_.allocate(name, entries); }
void MemoryPlan::free_int_scratch(std::string_view name) {
  for (const auto& p : int_preloads_)
    if (p.name == name) throw InputError(fmt::format("INT SRAM: '{}' is a preload, not scratch", name));
  int_.free(name);
}

HbmManifest MemoryPlan::manifest() const {
  HbmManifest m;
  m.config_hash = config_hash_;
  m.config_name = config_name_;
  m.hbm_size = cfg_.hbm.size_bytes;
  m.hbm_high_water = hbm_.high_water();
  m.fp_sram_depth = cfg_.sram.fp_depth;
  m.int_sram_depth = cfg_.sram.int_depth;
  for (const auto& [n, t] : hbm_tensors_) m.tensors.push_back(t);
  std::sort(m.tensors.begin(), m.tensors.end(), [](const HbmTensor& a, const HbmTensor& b) { return a.base < b.base; });
  m.fp_constants = fp_constants_;
  std::sort(m.fp_constants.begin(), m.fp_constants.end(),
            [](const FpConstant& a, const FpConstant& b) { return a.slot < b.slot; });
  m.int_preloads = int_preloads_;
  std::sort(m.int_preloads.begin(), m.int_preloads.end(),
            [](const IntPreload& a, const IntPreload& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < cfg_.memory.size(); ++i) {
    const config::MemoryPool& p = cfg_.memory[i];
    ManifestPool mp{p.name, p.standard, p.speed, config::pool_base(cfg_, i), p.capacity_bytes, {}};
    for (config::MemoryClass c : p.holds) mp.holds.emplace_back(config::memory_class_name(c));
    m.pools.push_back(std::move(mp));
  }
  return m;
}

void define_standard_constants(MemoryPlan& plan, const model::ModelConfig& m) {
  if (m.hidden_size <= 0 || m.head_dim <= 0)
    throw InputError(fmt::format("model '{}': hidden_size {} and head_dim {} must be positive", m.name, m.hidden_size,
                                 m.head_dim));
  plan.fp_constant("zero", 0.0f);
  plan.fp_constant("one", 1.0f);
  plan.fp_constant("neg_large", -1.0e30f);
  plan.fp_constant("eps", float(m.rms_norm_eps));
  plan.fp_constant("inv_hidden", float(1.0 / double(m.hidden_size)));
  plan.fp_constant("attn_scale", float(1.0 / std::sqrt(double(m.head_dim))));
}

}  // namespace plena::compiler

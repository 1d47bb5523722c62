// The kernel registry (kernel_registry.hpp): the table from kernels/kernels.def.
#include "compiler/kernel_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "compiler/cost_affine.hpp"
#include "support/support.hpp"

namespace plena::compiler {

#define PLENA_KERNEL(name, entry) extern const KernelEntry entry;
#include "compiler/kernels/kernels.def"

uint64_t KernelShape::get(std::string_view name) const {
  for (const auto& [n, v] : dims)
    if (n == name) return v;
  throw std::logic_error(fmt::format("kernel shape '{}' has no dimension '{}'", text(), name));
}

uint64_t KernelShape::get_or(std::string_view name, uint64_t fallback) const {
  for (const auto& [n, v] : dims)
    if (n == name) return v;
  return fallback;
}

KernelShape& KernelShape::set(std::string name, uint64_t v) {
  for (auto& [n, x] : dims)
    if (n == name) {
      x = v;
      return *this;
    }
  dims.emplace_back(std::move(name), v);
  return *this;
}

std::string KernelShape::text() const {
  std::string s;
  for (const auto& [n, v] : dims) s += fmt::format("{}{}={}", s.empty() ? "" : " ", n, v);
  return s;
}

std::span<const KernelEntry> kernel_registry() {
  static const std::vector<KernelEntry> table = {
#define PLENA_KERNEL(name, entry) entry,
#include "compiler/kernels/kernels.def"
  };
  return table;
}

const KernelEntry& find_kernel(std::string_view name) {
  std::string known;
  for (const KernelEntry& e : kernel_registry()) {
    if (e.name == name) return e;
    known += fmt::format("{}{}", known.empty() ? "" : ", ", e.name);
  }
  throw InputError(fmt::format("error: unknown kernel '{}' (known kernels: {})", name, known));
}

// The config a count depends on: emitters never read the DRAM preset or the clock, and counting
// lifts the VRAM and HBM capacities, so configs differing only there share their counts (a sweep
// over DRAM technologies or clocks counts each kernel once).
static config::HardwareConfig counting_config(const config::HardwareConfig& cfg) {
  config::HardwareConfig roomy = cfg;
  // VRAM addresses stay 32-bit (element addresses in GP registers); HBM addresses are 64-bit.
  roomy.sram.vector_depth = std::max<uint64_t>(cfg.sram.vector_depth, (uint64_t(1) << 32) / cfg.geometry.vlen);
  roomy.hbm.size_bytes = std::max<uint64_t>(cfg.hbm.size_bytes, uint64_t(1) << 50);
  roomy.hbm.dram = config::HardwareConfig{}.hbm.dram;
  roomy.memory.clear();  // pools move tensors in the address space, never the counts
  roomy.compute.clock_ghz = 1.0;
  return roomy;
}

// One emission's counts, cached by (counting config, kernel, shape).
static KernelCost count_emitted(const config::HardwareConfig& cfg, std::string_view kernel, const KernelShape& shape) {
  // Bounded: a long design-space sweep counts many configs; dropping the cache only costs recounts.
  constexpr size_t kMaxEntries = 200000;
  static std::mutex mutex;
  static std::map<std::string, KernelCost> cache;
  // The last config this thread counted for and its hash (one estimate asks for the same config
  // hundreds of times; hashing is a TOML emission).
  thread_local config::HardwareConfig last_cfg, last_roomy;
  thread_local std::string last_hash;
  if (last_hash.empty() || !(last_cfg == cfg)) {
    last_cfg = cfg;
    last_roomy = counting_config(cfg);
    last_hash = config::canonical_hash(last_roomy);
  }
  const std::string key = fmt::format("{}|{}|{}", last_hash, kernel, shape.text());
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const KernelEntry& entry = find_kernel(kernel);
  ProgramBuilder b = ProgramBuilder::counting(last_roomy, "count");
  MemoryPlan plan(last_roomy, "count");
  b.classify_hbm_with([&plan](uint64_t addr) { return plan.hbm_class_at(addr); });
  entry.emit_standalone(b, plan, shape);
  KernelCost cost = b.cost();
  cost.kernel = std::string(kernel);
  std::lock_guard lock(mutex);
  if (cache.size() >= kMaxEntries) cache.clear();
  return cache.emplace(key, std::move(cost)).first->second;
}

namespace {

// A decode step's (q_len 1) kernel whose shape carries the context: the dimension, and what to
// add to it for the cache length the step reads (attention's kv_len counts the new token; the
// store's past does not).
struct ContextDim {
  const char* name = nullptr;
  uint64_t to_length = 0;
};
ContextDim context_dim(std::string_view kernel, const KernelShape& shape) {
  if (shape.get_or("q_len", 0) != 1 || shape.get_or("batch", 0) == 0) return {};
  if (kernel == "attention" && shape.get_or("window", 0) == 0) return {"kv_len", 0};
  if (kernel == "kv_store") return {"past", 1};
  return {};
}

// The longest cache length the emitter accepts for this shape (the capacity; the store also
// needs room for its writeback group).
uint64_t length_limit(const config::HardwareConfig& cfg, std::string_view kernel, const KernelShape& shape,
                      ContextDim dim) {
  const uint64_t cap = shape.get_or("capacity", 0);
  if (cap == 0) return shape.get(dim.name) + dim.to_length;
  return kernel == "kv_store" ? cap - std::min<uint64_t>(cap, cfg.hbm.v_writeback_amount) + 1 : cap;
}

// Decode kernels walk the cache's last KV tile (MLEN positions) in blocks of BLEN rows: their
// counts are constant within a block and affine in the block's index within a tile. So x's count
// is interpolated between the blocks one inside the tile's ends (the first and last blocks may
// take their own paths), and only when the middle block's first and last lengths, emitted, lie on
// that line too. Empty when x is outside those blocks or the counts are not on one line.
std::optional<KernelCost> count_on_tile_line(const config::HardwareConfig& cfg, std::string_view kernel,
                                             const KernelShape& shape, ContextDim dim) {
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  if (blen == 0 || mlen % blen != 0) return std::nullopt;
  const uint64_t len = shape.get(dim.name) + dim.to_length, per_tile = mlen / blen;
  if (len == 0) return std::nullopt;
  const uint64_t block = (len + blen - 1) / blen, first = (len - 1) / mlen * per_tile + 2;
  const uint64_t last = std::min(first + per_tile - 3, length_limit(cfg, kernel, shape, dim) / blen);
  if (block < first || block > last || last < first + 2) return std::nullopt;
  const uint64_t mid = first + (last - first) / 2;
  auto at_length = [&](uint64_t l) {
    return count_emitted(cfg, kernel, KernelShape(shape).set(dim.name, l - dim.to_length));
  };
  try {
    const KernelCost a = at_length(first * blen), b = at_length(last * blen);
    const auto m = interpolate_cost(a, first, b, last, mid);
    if (!m || !same_cost(*m, at_length(mid * blen)) || !same_cost(*m, at_length((mid - 1) * blen + 1)))
      return std::nullopt;
    return interpolate_cost(a, first, b, last, block);
  } catch (const InputError&) {  // a length the emitter rejects: count x itself
    return std::nullopt;
  }
}

}  // namespace

KernelCost count_kernel(const config::HardwareConfig& cfg, std::string_view kernel, const KernelShape& shape) {
  if (const ContextDim dim = context_dim(kernel, shape); dim.name)
    if (auto cost = count_on_tile_line(cfg, kernel, shape, dim)) return std::move(*cost);
  return count_emitted(cfg, kernel, shape);
}

namespace standalone {

const VramTensor& activation(MemoryPlan& plan, const KernelShape& shape, const std::string& name, uint64_t cols) {
  VramPlaceOptions act;
  act.row_multiple = shape.get("rows_alloc");
  return plan.alloc_vram(name, shape.get("rows"), cols, act);
}

const HbmTensor& hbm_rows(MemoryPlan& plan, const std::string& name, uint64_t rows, uint64_t cols) {
  HbmPlaceOptions rowvec;
  rowvec.row_multiple = plan.config().geometry.vlen;
  return plan.place_hbm(name, TensorClass::Weight, {rows, cols}, plan.config().formats.v_act, rowvec);
}

}  // namespace standalone
}  // namespace plena::compiler

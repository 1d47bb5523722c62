// The kernel registry (kernel_registry.hpp): the table from kernels/kernels.def.
#include "compiler/kernel_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

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
  roomy.compute.clock_ghz = 1.0;
  return roomy;
}

KernelCost count_kernel(const config::HardwareConfig& cfg, std::string_view kernel, const KernelShape& shape) {
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
  entry.emit_standalone(b, plan, shape);
  KernelCost cost = b.cost();
  cost.kernel = std::string(kernel);
  std::lock_guard lock(mutex);
  if (cache.size() >= kMaxEntries) cache.clear();
  return cache.emplace(key, std::move(cost)).first->second;
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

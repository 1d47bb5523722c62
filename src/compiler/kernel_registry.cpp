// The kernel registry (kernel_registry.hpp): the table from kernels/kernels.def.
#include "compiler/kernel_registry.hpp"

#include <fmt/format.h>

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

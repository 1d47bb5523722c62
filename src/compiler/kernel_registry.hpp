// The kernel registry: every kernel the compiler has, by name (table: kernels/kernels.def; each
// entry is defined next to its emitter in src/compiler/kernels/<name>.cpp). An entry can emit its
// kernel standalone for a named shape, laid out as a model step lays it out, which is what the
// validation set and the kernel tests use. docs/compiler.md.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

// The named sizes of one kernel call.
struct KernelShape {
  std::vector<std::pair<std::string, uint64_t>> dims;
  uint64_t get(std::string_view name) const;  // std::logic_error if absent
  uint64_t get_or(std::string_view name, uint64_t fallback) const;
  KernelShape& set(std::string name, uint64_t v);
  std::string text() const;  // "rows=16 cols=576"
};

// How the analytic model composes a kernel's counted cost into time (docs/analytic.md §2): its
// phases one after another; weights streamed through MRAM under the matrix unit; or FlashAttention's
// overlap of the matrix and vector units with the KV stream.
enum class KernelSchedule : uint8_t { Phased, StreamedWeights, Attention };

struct KernelEntry {
  std::string_view name, summary;
  std::vector<std::string_view> dims;  // shape names it takes, in order
  // Places standalone inputs/outputs for `shape` in `plan` exactly as a model step lays them out
  // (activations with rows_alloc = the given rows_alloc, norm weights / biases / tables in HBM in
  // formats.v_act with whole-VLEN row stride, weights in formats.m_weight, KV caches by
  // kv_cache_layout) and emits the kernel once into b.
  void (*emit_standalone)(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& shape);
  KernelSchedule schedule = KernelSchedule::Phased;
  // The validation set's shapes on reference-small (VLEN = MLEN = 64), dims in `dims` order
  // without rows_alloc (rounded from rows as a model step does): every kernel brings its own, so
  // adding a kernel touches nothing in src/analytic.
  std::vector<std::vector<uint64_t>> validation_shapes = {};
};

std::span<const KernelEntry> kernel_registry();         // every registered kernel, in .def order
const KernelEntry& find_kernel(std::string_view name);  // InputError listing the known names

// What the kernel executes for `shape`: its standalone emission run on the counting back-end
// (ProgramBuilder::counting), memoized per (config, kernel, shape). The VRAM and HBM capacities are
// lifted for counting (a long-context shape need not fit to be costed); nothing a kernel's schedule
// depends on (MRAM, FP SRAM) changes.
KernelCost count_kernel(const config::HardwareConfig& cfg, std::string_view kernel, const KernelShape& shape);

// Placement helpers of the standalone setups (kernel files only).
namespace standalone {
// A VRAM activation [rows, cols] with shape's rows_alloc physical rows.
const VramTensor& activation(MemoryPlan& plan, const KernelShape& shape, const std::string& name, uint64_t cols);
// A [rows, cols] HBM parameter in formats.v_act with a whole-VLEN row stride (norm weights, biases, tables).
const HbmTensor& hbm_rows(MemoryPlan& plan, const std::string& name, uint64_t rows, uint64_t cols);
}  // namespace standalone

}  // namespace plena::compiler

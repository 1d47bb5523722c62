// The Markdown description of one task cell: everything an agent needs to write the kernel.
#include <fmt/format.h>

#include "bench/bench.hpp"
#include "support/math.hpp"

namespace plena::bench {

namespace {

std::string tensor_line(const TensorSpec& t, const config::HardwareConfig& hw) {
  if (t.region == Region::Vram) {
    const uint64_t vlen = hw.geometry.vlen, blocks = ceil_div(t.cols, vlen);
    return fmt::format("| {} | {} | [{}, {}] | VRAM element address {} (0x{:x}); activation layout: {} column block(s) of "
                       "{} rows x VLEN={}, block b at {} + b*{} | {} |",
                       t.name, role_name(t.role), t.rows, t.cols, t.address, t.address, blocks, t.rows_alloc, vlen,
                       t.address, t.rows_alloc * vlen, t.role == Role::Input ? fmt::format("U[-{0:g}, {0:g}]", t.value_range) : "");
  }
  return fmt::format("| {} | {} | [{}, {}] | HBM byte address {} (0x{:x}); format {}; row stride {} elements | {} |", t.name,
                     role_name(t.role), t.rows, t.cols, t.address, t.address, t.format, t.row_stride,
                     t.role == Role::Input ? fmt::format("U[-{0:g}, {0:g}]", t.value_range) : "");
}

std::string hardware_text(const config::HardwareConfig& hw) {
  const auto& g = hw.geometry;
  return fmt::format(
      "MLEN={} VLEN={} BLEN={} HLEN={} BROADCAST_AMOUNT={}; SRAM types vector={} matrix={} fp={}; VRAM {} rows, "
      "MRAM {} tiles, FP SRAM {} entries, INT SRAM {} entries; HBM formats m_weight={} m_kv={} v_act={} v_kv={}; "
      "H_PREFETCH_M {} rows, H_PREFETCH_V {} rows, H_STORE_V {} rows",
      g.mlen, g.vlen, g.blen, g.hlen, g.broadcast_amount, hw.sram.vector_type.name(), hw.sram.matrix_type.name(),
      hw.sram.fp_type.name(), hw.sram.vector_depth, hw.matrix_tiles(), hw.sram.fp_depth, hw.sram.int_depth,
      hw.formats.m_weight.name(), hw.formats.m_kv.name(), hw.formats.v_act.name(), hw.formats.v_kv.name(),
      hw.hbm.m_prefetch_amount, hw.hbm.v_prefetch_amount, hw.hbm.v_writeback_amount);
}

}  // namespace

std::string describe(const Task& task, const TaskConfig& cfg) {
  std::string out = fmt::format("# Task {} {} ({}, L{}) — configuration {}\n\n{}\n\n", task.number, task.name, task.id,
                                int(task.level), cfg.id, cfg.summary);
  out += "## Computation\n\n" + task.computation + "\n\n";
  std::vector<std::string> dims;
  for (const auto& [k, v] : cfg.dims) dims.push_back(fmt::format("{}={}", k, v));
  out += fmt::format("Sizes: {}\n\n", fmt::join(dims, ", "));
  out += "## Tensors\n\n| name | role | shape | placement | input values |\n|---|---|---|---|---|\n";
  for (const auto& t : cfg.tensors) out += tensor_line(t, cfg.hardware) + "\n";
  if (cfg.tensors.empty()) out += "| (placement not yet available for this task) | | | | |\n";
  out += "\nInputs and constants are read-only: writing them, or HBM outside the outputs, fails the check "
         "(out-of-region write). Other VRAM, MRAM, FP and INT SRAM are free scratch. Padding columns of an output "
         "row block are not compared.\n\n";
  if (!cfg.fp_constants.empty()) {
    out += "## FP SRAM constants (preloaded)\n\n| slot | name | value |\n|---|---|---|\n";
    for (const auto& k : cfg.fp_constants) out += fmt::format("| {} | {} | {:g} |\n", k.slot, k.name, k.value);
    out += "\n";
  }
  out += fmt::format("## Hardware ({})\n\n{}\n\n", cfg.hardware_name, hardware_text(cfg.hardware));
  out += fmt::format("## Checking\n\nTolerance per output element: {}. Instruction budget: {} executed instructions "
                     "per evaluation. Iteration budget (level {}): {} evaluations.\n",
                     cfg.tolerance.text(), cfg.instruction_budget, int(task.level), iteration_budget(task.level));
  return out;
}

}  // namespace plena::bench

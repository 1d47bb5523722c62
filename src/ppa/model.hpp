// Shared rules of the ppa module (internal): the array's operand formats, memory sizes, DRAM
// interface pins, and the area computation used by both the fast path and the report.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "ppa/ppa.hpp"
#include "ppa/tables.hpp"

namespace plena::ppa::detail {

// One operand side of the array multipliers: integer width, or float exponent/mantissa bits.
struct Operand {
  bool is_int = true;
  int width = 4, ebits = 0, mbits = 0;
};
// T side: the wider of the weight and KV formats (the array multiplies both); L side: activations.
Operand weight_side(const config::HardwareConfig& cfg);
Operand activation_side(const config::HardwareConfig& cfg);
std::string operand_name(const Operand& o);
// Leaf PE area (um2, DC corner) of a T x L multiplier.
double pe_um2(const Tables& t, const Operand& T, const Operand& L);

// One on-chip memory: bits and ports.
struct Memory {
  const char* name;
  double bits = 0, ports = 1, word_bits = 16;
};
std::vector<Memory> memories(const config::HardwareConfig& cfg, const Tables& t);

// DRAM interface: data pins and the PHY class ("hbm" | "ddr" | "none").
struct DramInterface {
  double pins = 0;
  std::string phy_class;
  uint32_t channels = 0, pseudo_channels = 0, bus_width_bits = 0;
  std::string pool;  // [memory.<pool>] it serves; empty for hbm.dram
};
// One per memory pool (config::memory_pools order): every pool has its own PHYs and controllers.
std::vector<DramInterface> dram_interfaces(const config::HardwareConfig& cfg);

// Area (mm2 at opt.node_nm) and leakage of every component; `out` gets the report rows when
// non-null (formulas, sources), the summary is always filled.
AreaSummary compute_area(const config::HardwareConfig& cfg, const Options& opt, std::vector<Component>* out);

// The per-event energies (pJ at opt.node_nm); InputError when the DRAM preset has no entry.
EventEnergy event_energy(const config::HardwareConfig& cfg, const Options& opt);

// Leakage power density of logic at node_nm, W per mm2 (Aladdin 40 nm library, scaled).
double logic_leakage_w_per_mm2(const Tables& t, double node_nm);

}  // namespace plena::ppa::detail

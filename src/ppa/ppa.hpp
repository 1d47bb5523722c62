// Public header of the ppa module: area, leakage and energy per event of a PLENA device, from
// rules whose coefficients live in data/ppa/*.toml (embedded in the binary), every number with
// its source (docs/ppa.md). Two uses:
//   - `plena ppa`: the full component breakdown with formulas and sources (report()).
//   - sweeps and the energy of a run or an estimate: area() and EnergyModel, no strings, no
//     allocation per call (microseconds per config).
// Energy from activity is ONE model: events (dynamic instructions by opcode, HBM bytes, link
// bytes) x the per-event table + leakage x time. The simulator and the analytic estimate both
// feed it their own counts.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace plena::ppa {

struct Options {
  double node_nm = 7.0;  // technology node of the reported figures: 7 .. 130 (Stillmaker-Baas range)
};
// InputError naming the flag/key `what` when node_nm is outside the supported range.
void check_options(const Options& opt, const std::string& what);

// ---------------------------------------------------------------- area and leakage
// Fast path for design-space sweeps: the component groups of the device, at opt.node_nm.
struct AreaSummary {
  double matrix_mm2 = 0;   // the MLEN x BLEN array (PEs, slices, reduce tree, output cells)
  double vector_mm2 = 0;   // VLEN-lane vector unit
  double scalar_mm2 = 0;   // scalar INT + FP units
  double dma_mm2 = 0;      // HBM system: DMA engine, MX quantizer/dequantizer
  double glue_mm2 = 0;     // top-level control, SRAM wrappers, on-chip interconnect
  double sram_mm2 = 0;     // VRAM + MRAM + FP SRAM + INT SRAM + instruction memory
  double dram_io_mm2 = 0;  // DRAM PHY + memory controllers (all channels)
  double link_mm2 = 0;     // chip-to-chip link PHY + controller
  double leakage_w = 0;    // whole device
  double logic_mm2() const { return matrix_mm2 + vector_mm2 + scalar_mm2 + dma_mm2 + glue_mm2; }
  double total_mm2() const { return logic_mm2() + sram_mm2 + dram_io_mm2 + link_mm2; }
};
// InputError if the config has no DRAM energy/PHY entry or opt is out of range.
AreaSummary area(const config::HardwareConfig& cfg, const Options& opt = {});

// ---------------------------------------------------------------- energy per event
// Dynamic energy of the unit events at opt.node_nm, pJ.
struct EventEnergy {
  double mac_pj = 0;  // one multiply-accumulate in the array's element formats
  double vector_add_pj = 0, vector_mul_pj = 0, vector_exp_pj = 0, vector_reci_pj = 0;  // per element
  double scalar_fp_add_pj = 0, scalar_fp_mul_pj = 0, scalar_int_add_pj = 0, scalar_int_mul_pj = 0;
  // Per bit read or written, by memory (size-dependent).
  double vram_bit_pj = 0, mram_bit_pj = 0, fp_sram_bit_pj = 0, int_sram_bit_pj = 0, imem_bit_pj = 0;
  double dram_bit_pj = 0;  // per bit over the DRAM interface (device + I/O), by technology
  // With [memory.<pool>] tables: each pool's technology, per bit (config::memory_pools order).
  std::array<double, config::kMaxPools> pool_bit_pj{};
  double link_bit_pj = 0;  // per bit over the chip-to-chip link
};

// What a run did: the simulator's statistics or the estimate's counted kernels.
struct Activity {
  std::array<double, 64> per_opcode{};  // dynamic instructions by opcode value (isa::info(op).code)
  double hbm_read_bytes = 0, hbm_write_bytes = 0;
  // Read + write bytes per memory pool (config::memory_pools order); used where the config has
  // [memory.<pool>] tables, each pool's bits at its own technology's energy.
  std::array<double, config::kMaxPools> pool_bytes{};
  double link_bytes = 0;  // bytes sent over chip-to-chip links
  double seconds = 0;     // wall time (leakage)
  Activity& add(const Activity& o, double times = 1.0);
};

struct Energy {
  double matrix_j = 0, vector_j = 0, scalar_j = 0;  // arithmetic of each unit
  double sram_j = 0;     // on-chip memory accesses (VRAM, MRAM, FP, INT)
  double control_j = 0;  // instruction fetch and decode
  double dma_j = 0;      // DMA engine: MX conversion of the transferred elements
  double dram_j = 0, link_j = 0;
  double leakage_j = 0;
  double dynamic_j() const { return matrix_j + vector_j + scalar_j + sram_j + control_j + dma_j + dram_j + link_j; }
  double total_j() const { return dynamic_j() + leakage_j; }
  Energy& add(const Energy& o, double times = 1.0);
};
// The parts of e as (name, joules) in a fixed order: matrix, vector, scalar, sram, control, dma,
// dram, link, leakage (what reports print and serialise).
std::vector<std::pair<std::string_view, double>> breakdown(const Energy& e);
// "matrix 0.4% sram 4.9% ... leakage 76.5%": each non-zero part's share of the total.
std::string shares_text(const Energy& e);

// The per-event table and per-opcode energies of one config, built once (microseconds), then
// applied to any number of activities.
class EnergyModel {
 public:
  explicit EnergyModel(const config::HardwareConfig& cfg, const Options& opt = {});
  Energy operator()(const Activity& a) const;
  const EventEnergy& events() const { return ev_; }
  double leakage_w() const { return leakage_w_; }
  // pJ of one executed instruction (arithmetic + its SRAM accesses + fetch/decode), by opcode value.
  double instruction_pj(uint8_t opcode) const;

 private:
  struct PerOp {
    double compute_pj = 0, sram_pj = 0, fetch_pj = 0;
    uint8_t unit = 0;  // isa::Unit
  };
  // DRAM energy: per pool where the config has pools and `a` splits its bytes by pool.
  double dram_joules(const Activity& a) const;
  EventEnergy ev_;
  bool pooled_ = false;
  std::array<PerOp, 64> op_{};
  double leakage_w_ = 0;
};

// ---------------------------------------------------------------- full report (`plena ppa`)
struct Component {
  std::string name;   // matrix, vector, scalar, dma, glue, vram, mram, fp_sram, int_sram, imem, dram_phy, dram_ctrl, link
  std::string group;  // logic | sram | io
  double area_mm2 = 0;
  double leakage_w = 0;
  double uncertainty = 0;  // relative, of the component's class (docs/ppa.md)
  std::string formula;     // the rule with this config's numbers
  std::string source;
};

struct EventRow {
  std::string event, unit;
  double value = 0;
  double uncertainty = 0;
  std::string source;
};

struct Report {
  std::string hw;
  std::string config_hash;
  double node_nm = 7;
  std::string array_formats;  // e.g. "mxint4 x mxint4"
  std::vector<Component> components;
  AreaSummary summary;
  std::vector<EventRow> events;
  double peak_dynamic_w = 0;  // every MAC of the array each cycle + the DRAM at peak bandwidth
};
Report report(const config::HardwareConfig& cfg, const std::string& hw_name, const Options& opt = {});
std::string to_text(const Report& r);
std::string to_json(const Report& r);

}  // namespace plena::ppa

// `plena ppa` report: components with formulas and sources, the per-event energy table, text
// and JSON forms.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dram/dram.hpp"
#include "dram/standards.hpp"
#include "ppa/model.hpp"

namespace plena::ppa {
namespace {

std::vector<EventRow> event_rows(const EventEnergy& e, const config::HardwareConfig& cfg) {
  const detail::Tables& t = detail::tables();
  const double hu = t.e("horowitz.uncertainty").v, su = t.e("sram.uncertainty").v;
  const std::string h = t.e("horowitz.int_mult_8b").source + "; node scaling: " + t.technology_source;
  const std::string hs = t.e("horowitz.sram_read_64b_1mib").source + "; " + t.e("sram.bank_bytes").source;
  std::vector<EventRow> rows = {
      {"mac (" + detail::operand_name(detail::weight_side(cfg)) + " x " +
           detail::operand_name(detail::activation_side(cfg)) + ")",
       "pJ", e.mac_pj, hu, h},
      {"vector add per element (" + cfg.sram.vector_type.element + ")", "pJ", e.vector_add_pj, hu, h},
      {"vector multiply per element", "pJ", e.vector_mul_pj, hu, h},
      {"vector exp per element", "pJ", e.vector_exp_pj, 1.0, t.e("vector.exp_mult_equivalents").source},
      {"vector reciprocal per element", "pJ", e.vector_reci_pj, 1.0, t.e("vector.reci_mult_equivalents").source},
      {"scalar fp add (" + cfg.sram.fp_type.element + ")", "pJ", e.scalar_fp_add_pj, hu, h},
      {"scalar fp multiply", "pJ", e.scalar_fp_mul_pj, hu, h},
      {"scalar int32 add", "pJ", e.scalar_int_add_pj, hu, h},
      {"scalar int32 multiply", "pJ", e.scalar_int_mul_pj, hu, h},
      {"VRAM access per bit", "pJ", e.vram_bit_pj, su, hs},
      {"MRAM access per bit", "pJ", e.mram_bit_pj, su, hs},
      {"FP SRAM access per bit", "pJ", e.fp_sram_bit_pj, su, hs},
      {"INT SRAM access per bit", "pJ", e.int_sram_bit_pj, su, hs},
      {"instruction memory access per bit", "pJ", e.imem_bit_pj, su, hs},
  };
  // Each memory pool's traffic costs its own technology's energy (docs/memory.md "Energy").
  for (size_t i = 0; i < cfg.memory.size(); ++i) {
    const auto& pool = cfg.memory[i];
    rows.push_back({"DRAM per bit (" + pool.name + ": " + pool.standard + ")", "pJ", e.pool_bit_pj[i],
                    t.e("dram.uncertainty").v, dram::standard_info(pool.standard).tech.pj_source});
  }
  if (cfg.memory.empty())
    rows.push_back({"DRAM per bit (" + cfg.hbm.dram + ")", "pJ", e.dram_bit_pj, t.e("dram.uncertainty").v,
                    t.dram_pj_per_bit.at(cfg.hbm.dram).source});
  rows.push_back({"link per bit", "pJ", e.link_bit_pj, t.e("link.uncertainty").v, t.e("link.pj_per_bit").source});
  return rows;
}

// Every pool streaming at its peak, each at its own pJ/bit.
double peak_dram_w(const EventEnergy& e, const config::HardwareConfig& cfg) {
  if (cfg.memory.empty()) return dram::preset(cfg.hbm.dram).peak_bandwidth_GBps() * 8e9 * e.dram_bit_pj * 1e-12;
  double w = 0;
  for (size_t i = 0; i < cfg.memory.size(); ++i)
    w += config::pool_params(cfg, i).peak_bandwidth_GBps() * 8e9 * e.pool_bit_pj[i] * 1e-12;
  return w;
}

}  // namespace

Report report(const config::HardwareConfig& cfg, const std::string& hw_name, const Options& opt) {
  Report r;
  r.hw = hw_name;
  r.config_hash = config::canonical_hash(cfg);
  r.node_nm = opt.node_nm;
  r.array_formats = detail::operand_name(detail::weight_side(cfg)) + " x " +
                    detail::operand_name(detail::activation_side(cfg));
  r.summary = detail::compute_area(cfg, opt, &r.components);
  const EventEnergy e = detail::event_energy(cfg, opt);
  r.events = event_rows(e, cfg);
  const double macs_per_s = double(cfg.geometry.mlen) * cfg.geometry.blen * cfg.compute.clock_ghz * 1e9;
  r.peak_dynamic_w = macs_per_s * e.mac_pj * 1e-12 + peak_dram_w(e, cfg);
  return r;
}

std::string to_text(const Report& r) {
  std::string s = fmt::format("ppa of {} at {} nm (config {}), array {}\n\n", r.hw, r.node_nm, r.config_hash,
                              r.array_formats);
  s += fmt::format("{:<10} {:<6} {:>12} {:>12} {:>6}  {}\n", "component", "group", "area mm2", "leakage mW", "+-",
                   "rule");
  for (const auto& c : r.components)
    s += fmt::format("{:<10} {:<6} {:>12.4f} {:>12.3f} {:>5.0f}%  {}\n", c.name, c.group, c.area_mm2,
                     c.leakage_w * 1e3, c.uncertainty * 100, c.formula);
  const AreaSummary& a = r.summary;
  s += fmt::format("\nlogic {:.4f} mm2, SRAM {:.4f} mm2, DRAM I/O {:.4f} mm2, link {:.4f} mm2: total {:.4f} mm2\n",
                   a.logic_mm2(), a.sram_mm2, a.dram_io_mm2, a.link_mm2, a.total_mm2());
  s += fmt::format("leakage {:.3f} W; peak dynamic (array + DRAM at peak) {:.2f} W\n\n", a.leakage_w,
                   r.peak_dynamic_w);
  s += fmt::format("{:<40} {:>12} {:>6}\n", "event", "energy", "+-");
  for (const auto& e : r.events)
    s += fmt::format("{:<40} {:>9.4f} {} {:>5.0f}%\n", e.event, e.value, e.unit, e.uncertainty * 100);
  s += "\nsources:\n";
  for (const auto& c : r.components) s += fmt::format("  {}: {}\n", c.name, c.source);
  for (const auto& e : r.events) s += fmt::format("  {}: {}\n", e.event, e.source);
  return s;
}

std::string to_json(const Report& r) {
  nlohmann::ordered_json j;
  j["hw"] = r.hw;
  j["config_hash"] = r.config_hash;
  j["node_nm"] = r.node_nm;
  j["array_formats"] = r.array_formats;
  for (const auto& c : r.components)
    j["components"].push_back({{"name", c.name}, {"group", c.group}, {"area_mm2", c.area_mm2},
                               {"leakage_w", c.leakage_w}, {"uncertainty", c.uncertainty}, {"formula", c.formula},
                               {"source", c.source}});
  const AreaSummary& a = r.summary;
  j["area_mm2"] = {{"matrix", a.matrix_mm2}, {"vector", a.vector_mm2}, {"scalar", a.scalar_mm2},
                   {"dma", a.dma_mm2},       {"glue", a.glue_mm2},     {"logic", a.logic_mm2()},
                   {"sram", a.sram_mm2},     {"dram_io", a.dram_io_mm2}, {"link", a.link_mm2},
                   {"total", a.total_mm2()}};
  j["leakage_w"] = a.leakage_w;
  j["peak_dynamic_w"] = r.peak_dynamic_w;
  for (const auto& e : r.events)
    j["events"].push_back({{"event", e.event}, {"value", e.value}, {"unit", e.unit}, {"uncertainty", e.uncertainty},
                           {"source", e.source}});
  return j.dump(2);
}

}  // namespace plena::ppa

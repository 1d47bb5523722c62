// Capital cost of a device: die (wafer price over good dies) plus DRAM capacity by technology;
// DRAM background power.
// Constants and sources: docs/serving.md "Cost".
#include <algorithm>
#include <cmath>

#include "dram/standards.hpp"
#include "serve/serve.hpp"

namespace plena::serve {

// LLMCompass cost model (ppa_dse_memory_mcp.md §1.2): 300 mm wafer $9,346 at 7 nm, defect density
// 0.0015 /mm2, yield (1 + A·D/3)^-3, dies per wafer pi·r²/A − pi·d/sqrt(2A).
double die_cost_usd(double area_mm2) {
  constexpr double kWafer = 9346, kDefects = 0.0015, kRadius = 150;
  const double pi = 3.14159265358979323846;
  const double dies = pi * kRadius * kRadius / area_mm2 - pi * 2 * kRadius / std::sqrt(2 * area_mm2);
  const double yield = std::pow(1 + area_mm2 * kDefects / 3, -3);
  return kWafer / (std::max(dies, 1.0) * yield);
}

double device_cost_usd(double area_mm2, double memory_bytes, double usd_per_gb) {
  return die_cost_usd(area_mm2) + usd_per_gb * memory_bytes / 1e9;
}

// Each pool's capacity at its standard's price and background (standby + refresh) power
// (data/memory/<standard>.toml [tech], docs/memory.md); a legacy config is its one implicit pool.
double memory_cost_usd(const config::HardwareConfig& cfg, double usd_per_gb_override) {
  double usd = 0;
  for (const auto& p : config::memory_pools(cfg))
    usd += double(p.capacity_bytes) / 1e9 *
           (usd_per_gb_override >= 0 ? usd_per_gb_override : dram::standard_info(p.standard).tech.cost_usd_per_gb);
  return usd;
}

double memory_background_w(const config::HardwareConfig& cfg) {
  double w = 0;
  for (const auto& p : config::memory_pools(cfg))
    w += double(p.capacity_bytes) / 1e9 * dram::standard_info(p.standard).tech.background_mw_per_gb * 1e-3;
  return w;
}

}  // namespace plena::serve

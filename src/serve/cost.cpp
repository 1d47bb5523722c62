// Capital cost of a device: die (wafer price over good dies) plus DRAM capacity by technology.
// Constants and sources: docs/serving.md "Cost".
#include <algorithm>
#include <cmath>
#include <map>

#include "serve/serve.hpp"

namespace plena::serve {

// LLMCompass cost model (ppa_dse_memory_mcp.md §1.2): 300 mm wafer $9,346 at 7 nm, defect density
// 0.0015 /mm2, yield (1 + A·D/3)^-3, dies per wafer pi·r²/A − pi·d/sqrt(2A).
double device_cost_usd(double area_mm2, double memory_bytes, double usd_per_gb) {
  constexpr double kWafer = 9346, kDefects = 0.0015, kRadius = 150;
  const double pi = 3.14159265358979323846;
  const double dies = pi * kRadius * kRadius / area_mm2 - pi * 2 * kRadius / std::sqrt(2 * area_mm2);
  const double yield = std::pow(1 + area_mm2 * kDefects / 3, -3);
  return kWafer / (std::max(dies, 1.0) * yield) + usd_per_gb * memory_bytes / 1e9;
}

double memory_usd_per_gb(const std::string& dram) {
  // HBM $7/GB and DDR5 $2.4/GB: LLMCompass (dramexchange, Oct 2023) [F]. GDDR: "~50% lower cost
  // than HBM3E/HBM4" (Rubin CPX coverage) [D]. LPDDR: the DDR price [S]. HBF: "8-16x HBM capacity
  // at similar cost" -> HBM / 12 [D]. Anything else: the HBM price [S].
  static const std::map<std::string, double> kUsdPerGb = {
      {"hbm2", 7.0},  {"hbm2e", 7.0},   {"hbm2e-a100", 7.0}, {"hbm3", 7.0},   {"hbm3e", 7.0},
      {"hbm4", 7.0},  {"gddr6", 3.5},   {"gddr7", 3.5},      {"ddr4", 2.4},   {"ddr5", 2.4},
      {"lpddr5", 2.4}, {"lpddr5x", 2.4}, {"hbf", 7.0 / 12.0}, {"ideal", 7.0},
  };
  const auto it = kUsdPerGb.find(dram);
  return it == kUsdPerGb.end() ? 7.0 : it->second;
}

}  // namespace plena::serve

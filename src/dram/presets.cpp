// Technology presets: the legacy names, now speed grades of the standards in data/memory/
// (dram/standards.hpp); closed-form figures of Params.
#include <algorithm>
#include <cmath>
#include <string>

#include "dram/dram.hpp"
#include "dram/standards.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::dram {
namespace {

// The legacy preset names, in their historical order; each is a speed grade of a standard in
// data/memory/ that carries `preset = "<name>"`.
constexpr std::string_view kPresets[] = {"hbm2",    "hbm2e", "hbm2e-a100", "hbm3", "hbm3e", "lpddr5x",
                                         "gddr6",   "gddr7", "ddr5",       "hbf",  "ideal"};

}  // namespace

Params preset(std::string_view name) {
  std::string standard, speed;
  if (std::find(std::begin(kPresets), std::end(kPresets), name) != std::end(kPresets) &&
      preset_grade(name, standard, speed))
    return standard_params(standard, speed, {}, 0, "dram preset");
  std::string known;
  for (std::string_view e : kPresets) known += std::string(known.empty() ? "" : ", ") + std::string(e);
  throw InputError(located("dram preset", 0, 0,
                           "unknown DRAM preset '" + std::string(name) + "', expected one of: " + known));
}

std::vector<std::string> preset_names() { return {std::begin(kPresets), std::end(kPresets)}; }

uint64_t Params::burst_time_from_rate_ps() const {
  const double bits = 8.0 * atom_bytes;
  return static_cast<uint64_t>(std::llround(bits * 1e6 / (double(bus_width_bits) * data_rate_mbps)));
}

uint64_t Params::idle_read_latency_ps() const {
  if (kind == Kind::Ideal) {
    const uint64_t bits = uint64_t(atom_bytes) * 8 * 1000000;
    const uint64_t den = uint64_t(bus_width_bits) * data_rate_mbps;
    return ideal_latency_ps + ceil_div(bits, den) + controller_latency_ps;
  }
  return tRCD + tCL + tBL + controller_latency_ps;
}

double Params::refresh_limited_bandwidth_GBps() const {
  if (kind == Kind::Ideal || tREFI == 0) return peak_bandwidth_GBps();
  return peak_bandwidth_GBps() * (1.0 - double(tRFC) / double(tREFI));
}

double Params::peak_bandwidth_GBps() const {
  return double(units()) * bus_width_bits * (data_rate_mbps * 1e6) / 8.0 / 1e9;
}

}  // namespace plena::dram

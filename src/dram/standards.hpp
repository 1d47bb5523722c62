// Memory technologies as data: DRAM standards and their speed grades, read from
// data/memory/<standard>.toml (embedded at build time), resolved into dram::Params with
// optional per-field overrides. The legacy preset names (hbm2, hbm2e-a100, ...) are speed grades
// that carry `preset = "<name>"`. See docs/memory.md.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plena::dram {

struct Params;  // dram/dram.hpp

// One override of a Params field. Timing fields (t*) take ns, clocks of tCK, or ps; counts,
// bytes, Mbps, GB/s and queue depths take a plain number (Unit::Number).
struct FieldValue {
  enum class Unit : uint8_t { Number, Ns, Clocks, Ps };
  Unit unit = Unit::Number;
  double value = 0;
  bool operator==(const FieldValue&) const = default;
};
struct FieldOverride {
  std::string field;  // a Params member name, e.g. "tRCD", "channels", "data_rate_mbps"
  FieldValue value;
  bool operator==(const FieldOverride&) const = default;
};

// Energy, power and cost figures of a standard (data/memory/<standard>.toml [tech]).
struct TechInfo {
  double pj_per_bit = 0;            // energy per bit moved (array + I/O)
  double background_mw_per_gb = 0;  // standby + refresh power per GB of capacity
  double cost_usd_per_gb = 0;
  double device_capacity_gb = 0;    // one stack / package / DIMM set as organised in [params]
  double write_endurance_cycles = 0;  // 0: unlimited (DRAM); flash: program/erase cycles
  std::string pj_source, background_source, cost_source, capacity_source;
};

struct StandardInfo {
  std::string name, description, source, kind;  // kind: "dram" | "flash" | "ideal"
  std::string default_speed;
  std::vector<std::string> speeds;  // in file order
  TechInfo tech;
};

std::vector<std::string> standard_names();  // sorted
// InputError listing the known standards (or speeds) when unknown.
const StandardInfo& standard_info(std::string_view standard);
// The resolved parameters: [params], then the speed grade's keys, then `overrides` (in order),
// then `channels` if non-zero. Clock-valued timings follow the final tCK. tBL is the burst time
// of one atom at the final rate unless overridden. An empty speed means the default speed.
// Validated (Params::validate); errors name `where` (e.g. "memory.kv").
Params standard_params(std::string_view standard, std::string_view speed,
                       std::span<const FieldOverride> overrides = {}, uint32_t channels = 0,
                       std::string_view where = "memory");
// The fields an override may name, and a check of one (InputError naming `where`).
std::vector<std::string> override_field_names();
void check_override(const FieldOverride& o, std::string_view where);
// Text of a value as written in TOML: 14.0, { ck = 2 }, { ps = 833 }, 16.
std::string field_value_text(const FieldValue& v);

// Legacy preset name -> (standard, speed); false if `name` is no preset.
bool preset_grade(std::string_view preset, std::string& standard, std::string& speed);

}  // namespace plena::dram

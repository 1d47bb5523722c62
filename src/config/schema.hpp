// Internal: the key schema. One row per TOML key drives parsing, validation of single values,
// canonical emission (TOML and JSON) and "did you mean" suggestions, so no key is listed twice.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace plena::config::detail {

enum class Kind : uint8_t {
  UInt,    // TOML integer within [lo, hi]
  Float,   // TOML float or integer, finite, > 0 and <= fhi
  Choice,  // string out of `choices`
  Name,    // identifier-like string: [a-z0-9][a-z0-9_.-]*
  Format,  // numerics format text
};

struct Field {
  std::string_view table;
  std::string_view key;
  Kind kind = Kind::UInt;
  std::string_view unit;  // short unit/description for messages
  uint64_t lo = 0, hi = 0;
  double fhi = 0;
  std::span<const std::string_view> choices;
  bool plain_only = false;  // Format: SRAM element types cannot be block codecs
  bool latency = false;     // filled from the profile when absent

  uint64_t (*get_u)(const HardwareConfig&) = nullptr;
  void (*set_u)(HardwareConfig&, uint64_t) = nullptr;
  double (*get_f)(const HardwareConfig&) = nullptr;
  void (*set_f)(HardwareConfig&, double) = nullptr;
  std::string (*get_s)(const HardwareConfig&) = nullptr;  // Choice, Name, Format (canonical name)
  void (*set_s)(HardwareConfig&, std::string_view) = nullptr;  // Choice, Name (value pre-checked)
  const numerics::Format& (*get_fmt)(const HardwareConfig&) = nullptr;
  void (*set_fmt)(HardwareConfig&, const numerics::Format&) = nullptr;

  std::string path() const { return std::string(table) + "." + std::string(key); }
};

std::span<const Field> schema();
std::span<const std::string_view> table_names();  // in canonical order
// Canonical spelling of one value (as written by to_toml).
std::string value_text(const Field& f, const HardwareConfig& cfg);

}  // namespace plena::config::detail

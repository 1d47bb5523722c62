// The key schema and the canonical emitters (TOML, JSON, hash), all driven by one table.
#include "config/schema.hpp"

#include "config/memory_detail.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <vector>

#include "support/support.hpp"

namespace plena::config {

std::string_view timing_mode_name(TimingMode m) {
  return m == TimingMode::InOrder ? "in-order" : "decoupled";
}

std::string_view latency_profile_name(LatencyProfile p) {
  switch (p) {
    case LatencyProfile::ReferenceEmulator: return "reference-emulator";
    case LatencyProfile::RtlAligned: return "rtl-aligned";
    case LatencyProfile::Analytic: return "analytic";
    case LatencyProfile::Custom: return "custom";
  }
  return "custom";
}

namespace detail {
namespace {

constexpr uint64_t kMaxLen = uint64_t{1} << 16;
constexpr uint64_t kMaxU32 = 0xffffffffull;
constexpr uint64_t kMaxMaskHeads = 32;
constexpr uint64_t kMaxI64 = 0x7fffffffffffffffull;  // TOML integers are signed 64-bit

constexpr std::string_view kModeChoices[] = {"in-order", "decoupled"};
constexpr std::string_view kProfileChoices[] = {"reference-emulator", "rtl-aligned", "analytic",
                                                "custom"};

Field make_field(std::string_view table, std::string_view key, Kind kind, std::string_view unit) {
  Field f;
  f.table = table;
  f.key = key;
  f.kind = kind;
  f.unit = unit;
  return f;
}

// Choice and Name keys: string-valued, converted by hand-written accessors.
Field text_field(std::string_view table, std::string_view key, Kind kind, std::string_view unit,
                 std::span<const std::string_view> choices, std::string (*get)(const HardwareConfig&),
                 void (*set)(HardwareConfig&, std::string_view)) {
  Field f = make_field(table, key, kind, unit);
  f.choices = choices;
  f.get_s = get;
  f.set_s = set;
  return f;
}

template <auto Section, auto Member>
Field uint_field(std::string_view table, std::string_view key, std::string_view unit, uint64_t lo,
                 uint64_t hi, bool latency = false) {
  Field f = make_field(table, key, Kind::UInt, unit);
  f.lo = lo;
  f.hi = hi;
  f.latency = latency;
  f.get_u = [](const HardwareConfig& c) -> uint64_t { return (c.*Section).*Member; };
  f.set_u = [](HardwareConfig& c, uint64_t v) {
    using T = std::remove_cvref_t<decltype((c.*Section).*Member)>;
    (c.*Section).*Member = static_cast<T>(v);
  };
  return f;
}

template <auto Member>
Field latency_field(std::string_view key, std::string_view unit) {
  // Wider than 32 bits: the analytic M_BMM cost (MLEN/BLEN)^2*BLEN reaches 2^32 at the extremes.
  return uint_field<&HardwareConfig::latency, Member>("latency", key, unit, 0, uint64_t{1} << 48, true);
}

template <auto Section, auto Member>
Field float_field(std::string_view table, std::string_view key, std::string_view unit, double hi) {
  Field f = make_field(table, key, Kind::Float, unit);
  f.fhi = hi;
  f.get_f = [](const HardwareConfig& c) -> double { return (c.*Section).*Member; };
  f.set_f = [](HardwareConfig& c, double v) { (c.*Section).*Member = v; };
  return f;
}

template <auto Section, auto Member>
Field format_field(std::string_view table, std::string_view key, std::string_view unit,
                   bool plain_only) {
  Field f = make_field(table, key, Kind::Format, unit);
  f.plain_only = plain_only;
  f.get_fmt = [](const HardwareConfig& c) -> const numerics::Format& { return (c.*Section).*Member; };
  f.set_fmt = [](HardwareConfig& c, const numerics::Format& v) { (c.*Section).*Member = v; };
  f.get_s = [](const HardwareConfig& c) { return ((c.*Section).*Member).name(); };
  return f;
}

std::vector<Field> build_schema() {
  using HC = HardwareConfig;
  std::vector<Field> s;
  // [geometry]
  s.push_back(uint_field<&HC::geometry, &Geometry::mlen>("geometry", "mlen", "elements", 1, kMaxLen));
  s.push_back(uint_field<&HC::geometry, &Geometry::blen>("geometry", "blen", "elements", 1, kMaxLen));
  s.push_back(uint_field<&HC::geometry, &Geometry::vlen>("geometry", "vlen", "elements", 1, kMaxLen));
  s.push_back(uint_field<&HC::geometry, &Geometry::hlen>("geometry", "hlen", "elements", 1, kMaxLen));
  // V_MASK is one 32-bit GP value with one bit per head, so at most 32 heads can be masked.
  s.push_back(uint_field<&HC::geometry, &Geometry::broadcast_amount>("geometry", "broadcast_amount",
                                                                     "heads", 1, kMaxMaskHeads));
  // [sram]
  s.push_back(uint_field<&HC::sram, &Sram::vector_depth>("sram", "vector_depth", "rows of VLEN", 1, kMaxU32));
  s.push_back(uint_field<&HC::sram, &Sram::matrix_depth>("sram", "matrix_depth", "rows of MLEN", 1, kMaxU32));
  s.push_back(uint_field<&HC::sram, &Sram::fp_depth>("sram", "fp_depth", "entries", 1, kMaxU32));
  s.push_back(uint_field<&HC::sram, &Sram::int_depth>("sram", "int_depth", "entries", 1, kMaxU32));
  s.push_back(format_field<&HC::sram, &Sram::vector_type>("sram", "vector_type", "plain format", true));
  s.push_back(format_field<&HC::sram, &Sram::matrix_type>("sram", "matrix_type", "plain format", true));
  s.push_back(format_field<&HC::sram, &Sram::fp_type>("sram", "fp_type", "plain format", true));
  // [hbm]
  s.push_back(uint_field<&HC::hbm, &Hbm::size_bytes>("hbm", "size_bytes", "bytes", 64, uint64_t{1} << 50));
  s.push_back(uint_field<&HC::hbm, &Hbm::m_prefetch_amount>("hbm", "m_prefetch_amount", "rows of MLEN", 1, kMaxU32));
  s.push_back(uint_field<&HC::hbm, &Hbm::v_prefetch_amount>("hbm", "v_prefetch_amount", "rows of VLEN", 1, kMaxU32));
  s.push_back(uint_field<&HC::hbm, &Hbm::v_writeback_amount>("hbm", "v_writeback_amount", "rows of VLEN", 1, kMaxU32));
  // The encoding's register operand field is 4 bits wide, so at most 16 are addressable.
  s.push_back(uint_field<&HC::hbm, &Hbm::addr_regs>("hbm", "addr_regs", "registers", 1, 16));
  s.push_back(text_field("hbm", "dram", Kind::Name, "DRAM preset name", {},
                         [](const HC& c) { return c.hbm.dram; },
                         [](HC& c, std::string_view v) { c.hbm.dram = std::string(v); }));
  // [formats]
  s.push_back(format_field<&HC::formats, &Formats::m_weight>("formats", "m_weight", "format", false));
  s.push_back(format_field<&HC::formats, &Formats::m_kv>("formats", "m_kv", "format", false));
  s.push_back(format_field<&HC::formats, &Formats::v_act>("formats", "v_act", "format", false));
  s.push_back(format_field<&HC::formats, &Formats::v_kv>("formats", "v_kv", "format", false));
  // [compute]
  s.push_back(float_field<&HC::compute, &Compute::bmm_scale>("compute", "bmm_scale", "factor", 1e30));
  s.push_back(float_field<&HC::compute, &Compute::clock_ghz>("compute", "clock_ghz", "GHz", 1000.0));
  // [timing]
  s.push_back(text_field("timing", "mode", Kind::Choice, "timing mode", kModeChoices,
                         [](const HC& c) { return std::string(timing_mode_name(c.timing.mode)); },
                         [](HC& c, std::string_view v) {
                           c.timing.mode = v == "in-order" ? TimingMode::InOrder : TimingMode::Decoupled;
                         }));
  s.push_back(text_field("timing", "latency_profile", Kind::Choice, "latency profile", kProfileChoices,
                         [](const HC& c) { return std::string(latency_profile_name(c.timing.latency_profile)); },
                         [](HC& c, std::string_view v) {
                           for (auto p : {LatencyProfile::ReferenceEmulator, LatencyProfile::RtlAligned,
                                          LatencyProfile::Analytic, LatencyProfile::Custom}) {
                             if (latency_profile_name(p) == v) c.timing.latency_profile = p;
                           }
                         }));
  s.push_back(uint_field<&HC::timing, &Timing::instruction_budget>("timing", "instruction_budget",
                                                                   "instructions", 1, kMaxI64));
  s.push_back(uint_field<&HC::timing, &Timing::loop_iteration_budget>(
      "timing", "loop_iteration_budget", "loop iterations", 1, kMaxI64));
  // [latency]
  s.push_back(latency_field<&Latency::systolic_overhead>("systolic_overhead", "cycles"));
  s.push_back(latency_field<&Latency::matrix_mm>("matrix_mm", "cycles"));
  s.push_back(latency_field<&Latency::matrix_bmm>("matrix_bmm", "cycles"));
  s.push_back(latency_field<&Latency::matrix_mv>("matrix_mv", "cycles"));
  s.push_back(latency_field<&Latency::matrix_bmv>("matrix_bmv", "cycles"));
  s.push_back(latency_field<&Latency::matrix_writeout>("matrix_writeout", "cycles"));
  s.push_back(latency_field<&Latency::vector_add>("vector_add", "cycles"));
  s.push_back(latency_field<&Latency::vector_mul>("vector_mul", "cycles"));
  s.push_back(latency_field<&Latency::vector_exp>("vector_exp", "cycles"));
  s.push_back(latency_field<&Latency::vector_reci>("vector_reci", "cycles"));
  s.push_back(latency_field<&Latency::vector_max>("vector_max", "cycles"));
  s.push_back(latency_field<&Latency::vector_sum>("vector_sum", "cycles"));
  s.push_back(latency_field<&Latency::vector_shift>("vector_shift", "cycles"));
  s.push_back(latency_field<&Latency::vector_prefix_scan>("vector_prefix_scan", "cycles"));
  s.push_back(latency_field<&Latency::scalar_fp_basic>("scalar_fp_basic", "cycles"));
  s.push_back(latency_field<&Latency::scalar_fp_exp>("scalar_fp_exp", "cycles"));
  s.push_back(latency_field<&Latency::scalar_fp_sqrt>("scalar_fp_sqrt", "cycles"));
  s.push_back(latency_field<&Latency::scalar_fp_reci>("scalar_fp_reci", "cycles"));
  s.push_back(latency_field<&Latency::scalar_fp_load_store>("scalar_fp_load_store", "cycles"));
  s.push_back(latency_field<&Latency::scalar_map_v_fp>("scalar_map_v_fp", "cycles"));
  s.push_back(latency_field<&Latency::scalar_int_basic>("scalar_int_basic", "cycles"));
  s.push_back(latency_field<&Latency::control>("control", "cycles"));
  return s;
}

constexpr std::string_view kTables[] = {"geometry", "sram", "hbm", "formats", "compute", "timing",
                                        "latency"};

// Shortest text that reads back to the same double, always spelled as a TOML float.
std::string float_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string t = fmt::format("{}", v);
  if (t.find_first_of(".e") == std::string::npos) t += ".0";
  return t;
}

}  // namespace

std::span<const Field> schema() {
  static const std::vector<Field> s = build_schema();
  return s;
}

std::span<const std::string_view> table_names() { return kTables; }

std::string value_text(const Field& f, const HardwareConfig& cfg) {
  switch (f.kind) {
    case Kind::UInt: return std::to_string(f.get_u(cfg));
    case Kind::Float: return float_text(f.get_f(cfg));
    case Kind::Choice:
    case Kind::Name:
    case Kind::Format: return fmt::format("\"{}\"", f.get_s(cfg));
  }
  return {};
}

}  // namespace detail

std::string to_toml(const HardwareConfig& cfg) {
  std::string out;
  std::string_view table;
  for (const auto& f : detail::schema()) {
    if (f.table != table) {
      if (!table.empty()) out += '\n';
      table = f.table;
      out += fmt::format("[{}]\n", table);
    }
    out += fmt::format("{} = {}\n", f.key, detail::value_text(f, cfg));
  }
  return out + detail::memory_toml(cfg);
}

std::string canonical_hash(const HardwareConfig& cfg) { return hex64(fnv1a64(to_toml(cfg))); }

std::string to_json(const HardwareConfig& cfg) {
  nlohmann::ordered_json j;
  j["canonical_hash"] = canonical_hash(cfg);
  for (const auto& f : detail::schema()) {
    auto& slot = j[std::string(f.table)][std::string(f.key)];
    switch (f.kind) {
      case detail::Kind::UInt: slot = f.get_u(cfg); break;
      case detail::Kind::Float: {
        double v = f.get_f(cfg);
        // JSON has no inf/nan; validated configs never hold them, but keep the output parseable.
        if (std::isfinite(v)) slot = v; else slot = detail::value_text(f, cfg);
        break;
      }
      default: slot = f.get_s(cfg); break;
    }
  }
  if (!cfg.memory.empty()) j["memory"] = detail::memory_json(cfg);
  return j.dump(2) + "\n";
}

}  // namespace plena::config

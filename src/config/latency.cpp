// Cycles per instruction from the [latency] keys, by the latency classes table
// (isa/latency_classes.def), and the docs/config.md key table generated from it.
#include <bit>
#include <stdexcept>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/schema.hpp"
#include "isa/isa.hpp"

namespace plena::config {
namespace {

using isa::LatencyRule;

uint64_t apply_rule(LatencyRule rule, uint64_t key, const HardwareConfig& cfg) {
  switch (rule) {
    case LatencyRule::Key: return key;
    case LatencyRule::SystolicPlusKey: return cfg.latency.systolic_overhead + key;
    case LatencyRule::KeyPerStage:
      return key * static_cast<uint64_t>(std::bit_width(uint64_t{cfg.geometry.vlen}) - 1);
    case LatencyRule::Dram: return 0;
  }
  throw std::out_of_range(fmt::format("not a latency rule: {}", static_cast<int>(rule)));
}

std::string opcode_list(isa::Latency cls) {
  std::string s;
  for (const isa::OpInfo& o : isa::all_opcodes())
    if (o.latency == cls) s += fmt::format("{}`{}`", s.empty() ? "" : ", ", o.mnemonic);
  return s;
}

// The cell of one key: the plain classes' opcodes first, then each class with a qualifier.
std::string key_cell(std::string_view key) {
  std::string plain, qualified, systolic;
  auto add = [](std::string& to, const std::string& what, std::string_view sep) {
    to += (to.empty() ? "" : std::string(sep)) + what;
  };
  for (const isa::LatencyInfo& c : isa::kLatencyClasses) {
    const std::string ops = opcode_list(c.cls);
    if (ops.empty()) continue;
    if (key == "systolic_overhead" && c.rule == LatencyRule::SystolicPlusKey) add(systolic, ops, ", ");
    if (c.key != key) continue;
    if (c.rule == LatencyRule::SystolicPlusKey) add(qualified, ops + " (plus `systolic_overhead`)", "; ");
    else if (c.rule == LatencyRule::KeyPerStage) add(qualified, ops + " × log2(VLEN)", "; ");
    else if (!c.note.empty()) add(qualified, ops + " " + std::string(c.note), "; ");
    else add(plain, ops, ", ");
  }
  if (!systolic.empty()) add(qualified, "added to " + systolic, "; ");
  if (!plain.empty() && !qualified.empty()) return plain + "; " + qualified;
  return plain.empty() ? (qualified.empty() ? "—" : qualified) : plain;
}

}  // namespace

uint64_t latency_cycles(const HardwareConfig& cfg, isa::Latency cls) {
  const Latency& l = cfg.latency;
  switch (cls) {
#define PLENA_LATENCY(c, rule, key, note) \
  case isa::Latency::c: return apply_rule(LatencyRule::rule, l.key, cfg);
#define PLENA_LATENCY_DRAM(c) \
  case isa::Latency::c: return 0;
#include "isa/latency_classes.def"
  }
  throw std::out_of_range(fmt::format("not a latency class: {}", static_cast<int>(cls)));
}

uint64_t latency_cycles(const HardwareConfig& cfg, isa::Opcode op) {
  if (!isa::is_valid_opcode(static_cast<uint8_t>(op)))
    throw std::out_of_range(fmt::format("not a PLENA opcode: 0x{:02X}", static_cast<unsigned>(op)));
  return latency_cycles(cfg, isa::latency_of(op));
}

std::string latency_keys_markdown() {
  std::string out = "| key | instructions |\n|---|---|\n";
  for (const detail::Field& f : detail::schema())
    if (f.latency) out += fmt::format("| `{}` | {} |\n", f.key, key_cell(f.key));
  std::string dram;
  for (const isa::LatencyInfo& c : isa::kLatencyClasses)
    if (c.rule == LatencyRule::Dram) dram += (dram.empty() ? "" : ", ") + opcode_list(c.cls);
  out += fmt::format("\n{} take their time from the DRAM model, not from this table.\n", dram);
  return out;
}

}  // namespace plena::config

// Each opcode's FORM (isa/opcodes.def) parsed at compile time: operand kinds and which trailing
// operands are optional. For code that checks operands statically, such as the compiler's typed
// builder methods. The run-time table (isa::info(op).form) parses the same text with full
// checks; tests/isa compares the two.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "isa/isa.hpp"

namespace plena::isa {

struct StaticOperand {
  OperandKind kind{};
  bool optional = false;
};
struct StaticForm {
  std::array<StaticOperand, kMaxOperands> ops{};
  uint8_t count = 0;      // operands in the full form
  uint8_t min_count = 0;  // required operands
};

namespace detail {
inline constexpr std::string_view kFormSpecs[] = {
#define PLENA_OPCODE(name, code, cls, unit, lat, rtl, form, sem) form,
#include "isa/opcodes.def"
};

// Not constexpr: reaching it during constant evaluation makes a malformed FORM a compile error.
inline void static_form_error() {}

constexpr OperandKind static_kind(std::string_view k) {
  if (k == "gp") return OperandKind::Gp;
  if (k == "fp") return OperandKind::Fp;
  if (k == "hbm") return OperandKind::Hbm;
  if (k == "imm") return OperandKind::Imm;
  if (k == "flag") return OperandKind::Flag;
  if (k != "zgp") static_form_error();
  return OperandKind::ZeroOrGp;
}

constexpr StaticForm parse_static_form(std::string_view spec) {
  StaticForm f;
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty()) {
    // Each item is `kind[?]:field:role`; only the kind and the '?' matter here.
    const size_t colon = spec.find(':');
    if (colon == std::string_view::npos || f.count == kMaxOperands) static_form_error();
    std::string_view kind = spec.substr(0, colon);
    StaticOperand o;
    if (!kind.empty() && kind.back() == '?') o.optional = true, kind.remove_suffix(1);
    o.kind = static_kind(kind);
    f.ops[f.count++] = o;
    if (!o.optional) f.min_count = f.count;
    const size_t comma = spec.find(',');
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  }
  return f;
}
}  // namespace detail

constexpr StaticForm static_form(Opcode op) {
  return detail::parse_static_form(detail::kFormSpecs[static_cast<uint8_t>(op) - kMinOpcode]);
}

}  // namespace plena::isa

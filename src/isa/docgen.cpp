// Markdown reference generated from the opcode table (embedded in docs/isa.md, checked by a test).
#include <fmt/format.h>

#include "isa/isa.hpp"

namespace plena::isa {
namespace {

std::string operand_cell(const Form& f) {
  std::string s;
  for (int k = 0; k < f.count; ++k) {
    const Operand& o = f.ops[k];
    if (k) s += ", ";
    std::string item = fmt::format("{}:{}→{}", o.role, to_string(o.kind), to_string(o.field));
    s += o.optional ? "[" + item + "]" : item;
  }
  return s.empty() ? "—" : s;
}

// Markdown table cells cannot hold a bare '|'.
std::string cell(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (c == '|') s += '\\';
    s += c;
  }
  return s;
}

std::string example(const OpInfo& o) {
  Instr in;
  in.op = o.op;
  return disassemble(in);
}

}  // namespace

std::string opcode_table_markdown() {
  std::string out;
  out += "| Opcode | Mnemonic | Class | Operands (role:kind→field) | Unit | Latency class | Semantics |\n";
  out += "|---|---|---|---|---|---|---|\n";
  for (const OpInfo& o : all_opcodes()) {
    out += fmt::format("| 0x{:02X} | `{}` | {} | {} | {} | {} | {}{} |\n", o.code, o.mnemonic, to_string(o.cls),
                       operand_cell(o.form), to_string(o.unit), to_string(o.latency),
                       o.rtl_only ? "**RTL-only.** " : "", cell(o.semantics));
  }
  out += "\nCanonical disassembly of each opcode with all fields zero:\n\n```\n";
  for (const OpInfo& o : all_opcodes()) out += fmt::format("0x{:08X}  {}\n", uint32_t(o.code), example(o));
  out += "```\n";
  return out;
}

// One cell per operand position: the field it fills in this class, or "dropped" (the assembler's
// check_position rejects the combinations upstream cannot encode).
static std::string position_cell(EncClass c, int k) {
  if (k == 0) return c == EncClass::R0 ? "dropped" : "rd (register or number)";
  const Field reg = upstream_slot(k, true), num = upstream_slot(k, false);
  if (reg == num) return fmt::format("{} (number)", class_has(c, reg) ? to_string(reg) : "dropped");
  if (class_has(c, reg)) return fmt::format("{} (register)", to_string(reg));
  if (!class_has(c, num)) return "dropped";
  if (k == 1) return "imm (number); a register is dropped";
  return c == EncClass::I22 ? "imm (number); a register is dropped after an imm in operand 2" : "imm (number)";
}

std::string operand_positions_markdown() {
  std::string out = "| Class | Operand 1 | Operand 2 | Operand 3 | Operand 4 | Operand 5 | Operand 6 |\n";
  out += "|---|---|---|---|---|---|---|\n";
  for (EncClass c : {EncClass::I18, EncClass::I22, EncClass::R1, EncClass::R0, EncClass::RD, EncClass::MEM,
                     EncClass::VM, EncClass::R3}) {
    out += fmt::format("| {} |", to_string(c));
    for (int k = 0; k < kMaxOperands; ++k) out += fmt::format(" {} |", position_cell(c, k));
    out += "\n";
  }
  return out;
}

}  // namespace plena::isa

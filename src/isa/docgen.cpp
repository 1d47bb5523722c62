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
    std::string item = fmt::format("{}:{}", o.role, to_string(o.kind));
    item += o.field == Field::None ? std::string("→(ignored)") : fmt::format("→{}", to_string(o.field));
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
  out += "| Opcode | Mnemonic | Class | Operands (role:kind→field) | Also accepted | Unit | Latency class | Semantics |\n";
  out += "|---|---|---|---|---|---|---|---|\n";
  for (const OpInfo& o : all_opcodes()) {
    out += fmt::format("| 0x{:02X} | `{}` | {} | {} | {} | {} | {} | {}{} |\n", o.code, o.mnemonic, to_string(o.cls),
                       operand_cell(o.form), o.alt.count ? operand_cell(o.alt) : "—", to_string(o.unit),
                       to_string(o.latency), o.rtl_only ? "**RTL-only.** " : "", cell(o.semantics));
  }
  out += "\nCanonical disassembly of each opcode with all fields zero:\n\n```\n";
  for (const OpInfo& o : all_opcodes()) out += fmt::format("0x{:08X}  {}\n", uint32_t(o.code), example(o));
  out += "```\n";
  return out;
}

}  // namespace plena::isa

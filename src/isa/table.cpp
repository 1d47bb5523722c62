// Builds the OpInfo table from opcodes.def, and implements encode/decode/disassemble on it.
#include <fmt/format.h>

#include <stdexcept>

#include "isa/isa.hpp"
#include "support/support.hpp"

namespace plena::isa {
namespace {

struct RawOp {
  Opcode op;
  std::string_view mnemonic;
  uint8_t code;
  EncClass cls;
  Unit unit;
  Latency latency;
  bool rtl_only;
  std::string_view form;
  std::string_view semantics;
};

constexpr RawOp kRaw[] = {
#define PLENA_OPCODE(name, code, cls, unit, lat, rtl, form, sem) \
  {Opcode::name, #name, code, EncClass::cls, Unit::unit, Latency::lat, rtl != 0, form, sem},
#include "isa/opcodes.def"
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

[[noreturn]] void table_bug(std::string_view mnemonic, std::string_view what) {
  throw std::logic_error(fmt::format("opcodes.def: {}: {}", mnemonic, what));
}

OperandKind parse_kind(std::string_view k, std::string_view mn) {
  if (k == "gp") return OperandKind::Gp;
  if (k == "fp") return OperandKind::Fp;
  if (k == "hbm") return OperandKind::Hbm;
  if (k == "imm") return OperandKind::Imm;
  if (k == "flag") return OperandKind::Flag;
  if (k == "zgp") return OperandKind::ZeroOrGp;
  table_bug(mn, fmt::format("unknown operand kind '{}'", k));
}

Field parse_field(std::string_view f, std::string_view mn) {
  if (f == "rd") return Field::Rd;
  if (f == "rs1") return Field::Rs1;
  if (f == "rs2") return Field::Rs2;
  if (f == "rs3") return Field::Rs3;
  if (f == "funct1") return Field::Funct1;
  if (f == "imm") return Field::Imm;
  table_bug(mn, fmt::format("unknown field '{}'", f));
}

Form parse_form(std::string_view spec, EncClass cls, std::string_view mn) {
  Form form;
  spec = trim(spec);
  if (spec.empty()) return form;
  bool saw_optional = false;
  while (true) {
    size_t comma = spec.find(',');
    std::string_view item = trim(spec.substr(0, comma));
    size_t c1 = item.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : item.find(':', c1 + 1);
    if (c2 == std::string_view::npos) table_bug(mn, fmt::format("bad operand '{}'", item));
    std::string_view kind = item.substr(0, c1);
    Operand o;
    if (!kind.empty() && kind.back() == '?') {
      o.optional = true;
      kind.remove_suffix(1);
    }
    o.kind = parse_kind(kind, mn);
    o.field = parse_field(item.substr(c1 + 1, c2 - c1 - 1), mn);
    o.role = item.substr(c2 + 1);
    if (!class_has(cls, o.field))
      table_bug(mn, fmt::format("field of operand '{}' is not carried by its class", o.role));
    // Upstream reads registers into rd/rs1/rs2 and numbers into imm/rs3/funct1 by position.
    const bool reg = o.kind == OperandKind::Gp || o.kind == OperandKind::Fp || o.kind == OperandKind::Hbm ||
                     o.kind == OperandKind::ZeroOrGp;
    if (upstream_slot(form.count, reg) != o.field)
      table_bug(mn, fmt::format("operand '{}' at position {} is not where upstream reads its field", o.role,
                                form.count + 1));
    if ((o.kind == OperandKind::Imm) != (o.field == Field::Imm) && o.kind != OperandKind::Flag)
      table_bug(mn, "imm operands and the imm field go together");
    if (saw_optional && !o.optional) table_bug(mn, "optional operands must be trailing");
    saw_optional = saw_optional || o.optional;
    if (form.count == form.ops.size()) table_bug(mn, "more than 6 operands");
    form.ops[form.count++] = o;
    if (!o.optional) form.min_count = form.count;
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return form;
}

std::array<OpInfo, kNumOpcodes> build_table() {
  std::array<OpInfo, kNumOpcodes> t{};
  for (size_t i = 0; i < std::size(kRaw); ++i) {
    const RawOp& r = kRaw[i];
    OpInfo& o = t[i];
    o.op = r.op;
    o.mnemonic = r.mnemonic;
    o.code = r.code;
    o.cls = r.cls;
    o.unit = r.unit;
    o.latency = r.latency;
    o.rtl_only = r.rtl_only;
    o.form = parse_form(r.form, r.cls, r.mnemonic);
    o.semantics = r.semantics;
    o.form_spec = r.form;
    o.imm_bits = r.cls == EncClass::I18 ? 18 : r.cls == EncClass::I22 ? 22 : 0;
    for (int k = 0; k < o.form.count; ++k) {
      const Operand& op = o.form.ops[k];
      if (op.role == "rmask") o.mask_field = op.field;
      if (op.role == "rstride") o.rstride_field = op.field;
      if (op.role == "prec") o.precision_field = op.field;
      if (op.role == "rorder") o.rorder_field = op.field;
    }
  }
  return t;
}

const std::array<OpInfo, kNumOpcodes>& table() {
  static const std::array<OpInfo, kNumOpcodes> t = build_table();
  return t;
}

uint32_t field_limit(const Operand& o, const OpInfo& inf) {
  switch (o.kind) {
    case OperandKind::Gp:
    case OperandKind::ZeroOrGp: return 16;
    case OperandKind::Fp:
    case OperandKind::Hbm: return 8;
    case OperandKind::Flag: return 16;
    case OperandKind::Imm: return 1u << inf.imm_bits;
  }
  return 0;
}

uint32_t field_of(const Instr& in, Field f) {
  switch (f) {
    case Field::None: return 0;
    case Field::Rd: return in.rd;
    case Field::Rs1: return in.rs1;
    case Field::Rs2: return in.rs2;
    case Field::Rs3: return in.rs3;
    case Field::Funct1: return in.funct1;
    case Field::Imm: return in.imm;
  }
  return 0;
}

std::string operand_text(const Operand& o, uint32_t v) {
  switch (o.kind) {
    case OperandKind::Gp: return fmt::format("gp{}", v);
    case OperandKind::ZeroOrGp: return v == 0 ? std::string("0") : fmt::format("gp{}", v);
    case OperandKind::Fp: return fmt::format("f{}", v);
    case OperandKind::Hbm: return fmt::format("a{}", v);
    case OperandKind::Imm:
    case OperandKind::Flag: return fmt::format("{}", v);
  }
  return "?";
}

}  // namespace

bool class_has(EncClass c, Field f) {
  switch (c) {
    case EncClass::I18: return f == Field::Rd || f == Field::Rs1 || f == Field::Imm;
    case EncClass::I22: return f == Field::Rd || f == Field::Imm;
    case EncClass::R1: return f == Field::Rd || f == Field::Rs1;
    case EncClass::R0: return false;
    case EncClass::RD: return f == Field::Rd;
    case EncClass::MEM:
      return f == Field::Rd || f == Field::Rs1 || f == Field::Rs2 || f == Field::Rs3 || f == Field::Funct1;
    case EncClass::VM: return f == Field::Rd || f == Field::Rs1 || f == Field::Rs2 || f == Field::Rs3;
    case EncClass::R3: return f == Field::Rd || f == Field::Rs1 || f == Field::Rs2;
  }
  return false;
}

Field upstream_slot(int position, bool is_register) {
  switch (position) {
    case 0: return Field::Rd;
    case 1: return is_register ? Field::Rs1 : Field::Imm;
    case 2: return is_register ? Field::Rs2 : Field::Imm;
    case 3: return Field::Rs3;
    case 4: return Field::Funct1;
    default: return Field::None;
  }
}

const Operand* form_operand(const OpInfo& inf, Field f) {
  for (int k = 0; k < inf.form.count; ++k)
    if (inf.form.ops[k].field == f) return &inf.form.ops[k];
  return nullptr;
}

std::span<const OpInfo> all_opcodes() { return table(); }

bool is_valid_opcode(uint32_t code) { return code >= kMinOpcode && code <= kMaxOpcode; }

const OpInfo& info(Opcode op) {
  auto code = static_cast<uint32_t>(op);
  if (!is_valid_opcode(code)) throw std::out_of_range(fmt::format("not a PLENA opcode: 0x{:02X}", code));
  return table()[code - kMinOpcode];
}

const OpInfo* find_mnemonic(std::string_view name) {
  for (const OpInfo& o : table())
    if (o.mnemonic == name) return &o;
  return nullptr;
}

std::string_view mnemonic(Opcode op) { return info(op).mnemonic; }

std::string_view to_string(EncClass c) {
  static constexpr std::string_view n[] = {"I18", "I22", "R1", "R0", "RD", "MEM", "VM", "R3"};
  return n[static_cast<int>(c)];
}
std::string_view to_string(Unit u) {
  static constexpr std::string_view n[] = {"matrix", "vector", "scalar-int", "scalar-fp", "control", "dma"};
  return n[static_cast<int>(u)];
}
std::string_view to_string(Latency l) { return latency_info(l).name; }
std::string_view to_string(Field f) {
  static constexpr std::string_view n[] = {"-", "rd", "rs1", "rs2", "rs3", "funct1", "imm"};
  return n[static_cast<int>(f)];
}
std::string_view to_string(OperandKind k) {
  static constexpr std::string_view n[] = {"gp", "fp", "hbm", "imm", "flag", "zgp", "zero", "gp0"};
  return n[static_cast<int>(k)];
}

uint8_t field_value(const Instr& in, Field f) { return static_cast<uint8_t>(field_of(in, f)); }

void set_field(Instr& in, Field f, uint32_t value) {
  switch (f) {
    case Field::None: break;
    case Field::Rd: in.rd = uint8_t(value); break;
    case Field::Rs1: in.rs1 = uint8_t(value); break;
    case Field::Rs2: in.rs2 = uint8_t(value); break;
    case Field::Rs3: in.rs3 = uint8_t(value); break;
    case Field::Funct1: in.funct1 = uint8_t(value); break;
    case Field::Imm: in.imm = value; break;
  }
}

namespace {

// Per opcode, one past the largest value of each field (rd, rs1, rs2, rs3, funct1, imm): 1 for a
// field the form does not encode (it must be 0). The common case of validate() in a table.
using FieldLimits = std::array<uint32_t, 6>;
const std::array<FieldLimits, kNumOpcodes>& field_limits() {
  static const std::array<FieldLimits, kNumOpcodes> t = [] {
    std::array<FieldLimits, kNumOpcodes> r{};
    for (size_t i = 0; i < kNumOpcodes; ++i) {
      const OpInfo& inf = table()[i];
      r[i].fill(1);
      for (int k = 0; k < inf.form.count; ++k)
        if (inf.form.ops[k].field != Field::None)
          r[i][static_cast<size_t>(inf.form.ops[k].field) - 1] = field_limit(inf.form.ops[k], inf);
    }
    return r;
  }();
  return t;
}

bool fields_in_range(const Instr& in) {
  const FieldLimits& l = field_limits()[static_cast<uint32_t>(in.op) - kMinOpcode];
  return in.rd < l[0] && in.rs1 < l[1] && in.rs2 < l[2] && in.rs3 < l[3] && in.funct1 < l[4] && in.imm < l[5];
}

}  // namespace

std::string validate(const Instr& in) {
  if (!is_valid_opcode(static_cast<uint32_t>(in.op)))
    return fmt::format("invalid opcode 0x{:02X}", static_cast<uint32_t>(in.op));
  if (fields_in_range(in)) return {};
  const OpInfo& inf = info(in.op);
  bool used[7] = {};
  for (int k = 0; k < inf.form.count; ++k) {
    const Operand& o = inf.form.ops[k];
    used[static_cast<int>(o.field)] = true;
    uint32_t v = field_of(in, o.field);
    uint32_t lim = field_limit(o, inf);
    if (v >= lim)
      return fmt::format("{}: {} {} = {} is out of range (expected 0..{})", inf.mnemonic, to_string(o.field),
                         o.role, v, lim - 1);
  }
  for (Field f : {Field::Rd, Field::Rs1, Field::Rs2, Field::Rs3, Field::Funct1, Field::Imm}) {
    if (!used[static_cast<int>(f)] && field_of(in, f) != 0)
      return fmt::format("{}: field {} = {} is not encoded by this instruction (must be 0)", inf.mnemonic,
                         to_string(f), field_of(in, f));
  }
  return {};
}

uint32_t encode(const Instr& in) {
  if (!is_valid_opcode(static_cast<uint32_t>(in.op)) || !fields_in_range(in)) throw InputError("encode: " + validate(in));
  const OpInfo& inf = info(in.op);
  uint32_t w = inf.code;
  switch (inf.cls) {
    case EncClass::I18: return w | uint32_t(in.rd) << 6 | uint32_t(in.rs1) << 10 | in.imm << 14;
    case EncClass::I22: return w | uint32_t(in.rd) << 6 | in.imm << 10;
    case EncClass::R1: return w | uint32_t(in.rd) << 6 | uint32_t(in.rs1) << 10;
    case EncClass::R0: return w;
    case EncClass::RD: return w | uint32_t(in.rd) << 6;
    case EncClass::MEM:
    case EncClass::VM:
    case EncClass::R3:
      return w | uint32_t(in.rd) << 6 | uint32_t(in.rs1) << 10 | uint32_t(in.rs2) << 14 |
             uint32_t(in.rs3) << 18 | uint32_t(in.funct1) << 22;
  }
  return w;
}

std::optional<Instr> try_decode(uint32_t word) noexcept {
  uint32_t code = word & 0x3Fu;
  if (!is_valid_opcode(code)) return std::nullopt;
  const OpInfo& inf = table()[code - kMinOpcode];
  Instr in;
  in.op = inf.op;
  auto bits = [&](int lo, int n) { return (word >> lo) & ((1u << n) - 1u); };
  switch (inf.cls) {
    case EncClass::I18:
      in.rd = uint8_t(bits(6, 4));
      in.rs1 = uint8_t(bits(10, 4));
      in.imm = bits(14, 18);
      break;
    case EncClass::I22:
      in.rd = uint8_t(bits(6, 4));
      in.imm = bits(10, 22);
      break;
    case EncClass::R1:
      in.rd = uint8_t(bits(6, 4));
      in.rs1 = uint8_t(bits(10, 4));
      break;
    case EncClass::R0: break;
    case EncClass::RD: in.rd = uint8_t(bits(6, 4)); break;
    case EncClass::MEM: in.funct1 = uint8_t(bits(22, 4)); [[fallthrough]];
    case EncClass::VM: in.rs3 = uint8_t(bits(18, 4)); [[fallthrough]];
    case EncClass::R3:
      in.rd = uint8_t(bits(6, 4));
      in.rs1 = uint8_t(bits(10, 4));
      in.rs2 = uint8_t(bits(14, 4));
      break;
  }
  return in;
}

Instr decode(uint32_t word) {
  if (auto in = try_decode(word)) return *in;
  throw InputError(fmt::format("invalid opcode 0x{:02X} in instruction word 0x{:08X}", word & 0x3Fu, word));
}

bool is_canonical(uint32_t word) {
  auto in = try_decode(word);
  if (!in || !validate(*in).empty()) return false;
  return encode(*in) == word;
}

std::string disassemble(const Instr& in) {
  if (!is_valid_opcode(static_cast<uint32_t>(in.op)))
    return fmt::format("<invalid opcode 0x{:02X}>", static_cast<uint32_t>(in.op));
  const OpInfo& inf = info(in.op);
  std::string s(inf.mnemonic);
  bool first = true;
  for (int k = 0; k < inf.form.count; ++k) {
    const Operand& o = inf.form.ops[k];
    s += first ? " " : ", ";
    first = false;
    s += operand_text(o, field_of(in, o.field));
  }
  return s;
}

std::string disassemble_word(uint32_t word) {
  if (!is_canonical(word)) return fmt::format(".word 0x{:08X}", word);
  return disassemble(*try_decode(word));
}

std::string disassemble_program(std::span<const uint32_t> words) {
  std::string out;
  for (uint32_t w : words) {
    out += disassemble_word(w);
    out += '\n';
  }
  return out;
}

}  // namespace plena::isa

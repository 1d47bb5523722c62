// Assembler for upstream PLENA assembly text, plus .mem / binary word I/O.
#include <fmt/format.h>

#include <map>
#include <string>

#include "isa/isa.hpp"
#include "support/support.hpp"

namespace plena::isa {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_word_char(char c) { return is_ident_start(c) || is_digit(c); }

// Printable form of one offending character for messages.
std::string show_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7F) return fmt::format("'{}'", c);
  return fmt::format("byte 0x{:02X}", u);
}

// A token as quoted in a message: long tokens are cut, so one bad operand cannot flood stderr.
std::string clip(std::string_view s) {
  constexpr size_t kMax = 40;
  return s.size() <= kMax ? std::string(s) : fmt::format("{}... ({} characters)", s.substr(0, kMax), s.size());
}

enum class RegClass { Gp, Fp, Hbm };

std::string_view reg_range(RegClass c) { return c == RegClass::Gp ? "gp0-gp15" : c == RegClass::Fp ? "f0-f7" : "a0-a7"; }

struct Token {
  std::string_view text;
  int col = 0;  // 1-based
};

// A parsed operand value: a register or a number.
struct Value {
  bool is_reg = false;
  RegClass reg{};
  uint64_t num = 0;  // register index or numeric value
};

class Assembler {
 public:
  Assembler(std::string_view file) : file_(file) {}

  Program run(std::string_view src) {
    Program prog;
    int line_no = 0;
    size_t pos = 0;
    while (pos <= src.size()) {
      size_t nl = src.find('\n', pos);
      std::string_view line = src.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      ++line_no;
      line_ = line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (auto w = assemble_line(line)) {
        prog.words.push_back(*w);
        prog.lines.push_back(line_no);
      }
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    return prog;
  }

 private:
  [[noreturn]] void fail(int col, std::string_view msg) const { throw_input(file_, line_, col, msg); }

  // Returns the word the line produces, if any.
  std::optional<uint32_t> assemble_line(std::string_view line) {
    // Comments: ';' or '//' to the end of the line.
    size_t cut = line.size();
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == ';' || (line[i] == '/' && i + 1 < line.size() && line[i + 1] == '/')) {
        cut = i;
        break;
      }
    }
    line = line.substr(0, cut);
    size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) return std::nullopt;

    // Mnemonic or directive.
    size_t start = i;
    if (line[i] == '.') ++i;
    while (i < line.size() && is_word_char(line[i])) ++i;
    Token head{line.substr(start, i - start), int(start) + 1};
    if (head.text.empty() || head.text == ".") fail(int(start) + 1, fmt::format("unexpected {}, expected an instruction mnemonic or a directive (.equ, .word)", show_char(line[start])));
    if (i < line.size() && !is_space(line[i]))
      fail(int(i) + 1, fmt::format("unexpected {} after '{}', expected a space before the operands", show_char(line[i]), clip(head.text)));

    std::vector<Token> ops = split_operands(line, i);
    if (head.text[0] == '.') return directive(head, ops, line);
    return instruction(head, ops, line);
  }

  // Comma-separated operands starting at `i`; each operand is one word ([A-Za-z0-9_]+).
  std::vector<Token> split_operands(std::string_view line, size_t i) {
    std::vector<Token> ops;
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size()) return ops;
    while (true) {
      while (i < line.size() && is_space(line[i])) ++i;
      size_t start = i;
      if (i < line.size() && line[i] == '-') {
        size_t j = i + 1;
        while (j < line.size() && is_word_char(line[j])) ++j;
        fail(int(i) + 1, fmt::format("negative value '{}' is not allowed: immediates are unsigned", clip(line.substr(i, j - i))));
      }
      while (i < line.size() && is_word_char(line[i])) ++i;
      if (i == start) {
        if (i == line.size() || line[i] == ',')
          fail(int(i) + 1, "missing operand, expected a register, number or .equ name");
        fail(int(i) + 1, fmt::format("unexpected {}, expected a register, number or .equ name", show_char(line[i])));
      }
      ops.push_back({line.substr(start, i - start), int(start) + 1});
      while (i < line.size() && is_space(line[i])) ++i;
      if (i == line.size()) break;
      if (line[i] != ',') {
        size_t j = i;
        while (j < line.size() && is_word_char(line[j])) ++j;
        std::string what = j > i ? fmt::format("'{}'", clip(line.substr(i, j - i))) : show_char(line[i]);
        fail(int(i) + 1, fmt::format("unexpected {}, expected ',' between operands", what));
      }
      ++i;
    }
    return ops;
  }

  // Registers: gpN (0-15), fN (0-7), aN (0-7), decimal N (leading zeros allowed).
  std::optional<Value> parse_register(const Token& t) const {
    std::string_view s = t.text;
    RegClass cls;
    size_t plen;
    if (s.starts_with("gp")) {
      cls = RegClass::Gp;
      plen = 2;
    } else if (s.starts_with("f")) {
      cls = RegClass::Fp;
      plen = 1;
    } else if (s.starts_with("a")) {
      cls = RegClass::Hbm;
      plen = 1;
    } else {
      return std::nullopt;
    }
    if (s.size() == plen) return std::nullopt;
    for (size_t k = plen; k < s.size(); ++k)
      if (!is_digit(s[k])) return std::nullopt;
    uint64_t n = 0;
    for (size_t k = plen; k < s.size(); ++k) {
      n = n * 10 + uint64_t(s[k] - '0');
      if (n > 1000) break;
    }
    uint64_t count = cls == RegClass::Gp ? 16 : 8;
    if (n >= count)
      fail(t.col, fmt::format("register '{}' does not exist, expected {}", clip(s), reg_range(cls)));
    return Value{true, cls, n};
  }

  Value parse_value(const Token& t) const {
    std::string_view s = t.text;
    if (is_digit(s[0])) {
      uint64_t n = 0;
      bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
      size_t k = hex ? 2 : 0;
      for (; k < s.size(); ++k) {
        char c = s[k];
        if (hex ? !is_hex(c) : !is_digit(c))
          fail(t.col, fmt::format("malformed number '{}', expected decimal digits or 0x followed by hex digits", clip(s)));
        uint64_t d = is_digit(c) ? uint64_t(c - '0') : uint64_t((c | 0x20) - 'a' + 10);
        n = n * (hex ? 16 : 10) + d;
        if (n > 0xFFFFFFFFull) fail(t.col, fmt::format("number '{}' is too large (more than 32 bits)", clip(s)));
      }
      return Value{false, {}, n};
    }
    if (auto r = parse_register(t)) return *r;
    if (auto it = equ_.find(std::string(s)); it != equ_.end()) return Value{false, {}, it->second};
    fail(t.col, fmt::format("unknown name '{}', expected a register (gpN, fN, aN), a number or a .equ name", clip(s)));
  }

  static std::string_view class_text(RegClass c) {
    return c == RegClass::Gp ? "a GP register (gp0-gp15)" : c == RegClass::Fp ? "an FP register (f0-f7)" : "an HBM address register (a0-a7)";
  }

  static RegClass reg_class_of(OperandKind k) {
    return k == OperandKind::Fp ? RegClass::Fp : k == OperandKind::Hbm ? RegClass::Hbm : RegClass::Gp;
  }

  // Checks one encoded operand against its table entry; returns the field value. Operand 1 may be
  // a plain number where a register is encoded: upstream reads it as the register number.
  uint32_t operand_value(const OpInfo& inf, const Operand& o, int index, const Token& t, const Value& v) const {
    auto where = [&] { return fmt::format("operand {} ({}) of {}", index + 1, o.role, inf.mnemonic); };
    auto want_reg = [&](RegClass c) -> uint32_t {
      if (!v.is_reg) {
        const uint64_t count = c == RegClass::Gp ? 16 : 8;
        if (index != 0) fail(t.col, fmt::format("expected {} for {}, got '{}'", class_text(c), where(), clip(t.text)));
        if (v.num >= count)
          fail(t.col, fmt::format("register number {} does not exist for {}, expected 0-{} ({})", v.num, where(),
                                  count - 1, reg_range(c)));
        return uint32_t(v.num);
      }
      if (v.reg != c) fail(t.col, fmt::format("register class mismatch: expected {} for {}, got '{}'", class_text(c), where(), clip(t.text)));
      return uint32_t(v.num);
    };
    auto want_num = [&](std::string_view what) {
      if (v.is_reg) fail(t.col, fmt::format("expected {} for {}, got register '{}'", what, where(), clip(t.text)));
    };
    switch (o.kind) {
      case OperandKind::Gp:
      case OperandKind::ZeroOrGp: return want_reg(RegClass::Gp);
      case OperandKind::Fp: return want_reg(RegClass::Fp);
      case OperandKind::Hbm: return want_reg(RegClass::Hbm);
      case OperandKind::Imm: {
        want_num("an immediate");
        uint64_t lim = uint64_t(1) << inf.imm_bits;
        if (v.num >= lim)
          fail(t.col, fmt::format("immediate {} does not fit the {}-bit field of {} (expected 0..{}){}", v.num,
                                  inf.imm_bits, inf.mnemonic, lim - 1,
                                  inf.imm_bits == 18 ? "; build large values with S_LUI_INT + S_ADDI_INT" : ""));
        return uint32_t(v.num);
      }
      case OperandKind::Flag:
        want_num(fmt::format("a 4-bit {} value", o.role));
        if (v.num >= 16) fail(t.col, fmt::format("{} value {} does not fit 4 bits (expected 0..15) for {}", o.role, v.num, where()));
        return uint32_t(v.num);
    }
    return 0;
  }

  static std::string form_text(const Form& f) {
    std::string s;
    for (int k = 0; k < f.count; ++k) {
      if (k) s += ", ";
      if (f.ops[k].optional) s += "[";
      s += f.ops[k].role;
      if (f.ops[k].optional) s += "]";
    }
    return s;
  }

  static std::string count_text(const Form& f) {
    if (f.min_count == f.count) return fmt::format("{} operand{}", f.count, f.count == 1 ? "" : "s");
    return fmt::format("{} to {} operands", f.min_count, f.count);
  }

  // Forms upstream's parser cannot encode, or encodes into a word other than the text says,
  // at operand position k (value v). Everything else at a dropped position is accepted.
  void check_position(const OpInfo& inf, int k, const Value& v, const Token& t, bool imm_given) const {
    const Field reg_field = upstream_slot(k, true);
    if ((k == 1 || k == 2) && !v.is_reg && form_operand(inf, reg_field)) {
      const Operand& o = *form_operand(inf, reg_field);
      fail(t.col, fmt::format("expected {} for operand {} ({}) of {}, got '{}' (a number here is read as an immediate)",
                              class_text(reg_class_of(o.kind)), k + 1, o.role, inf.mnemonic, clip(t.text)));
    }
    if (k == 2 && v.is_reg && !form_operand(inf, reg_field) && !imm_given) {
      if (const Operand* o = form_operand(inf, Field::Imm))
        fail(t.col, fmt::format("expected {} for operand 3 ({}) of {}, got register '{}'",
                                o->kind == OperandKind::Flag ? fmt::format("a 4-bit {} value", o->role) : std::string("an immediate"),
                                o->role, inf.mnemonic, clip(t.text)));
    }
    if (k >= 3 && v.is_reg) {
      const Operand* o = form_operand(inf, upstream_slot(k, false));
      fail(t.col, fmt::format("expected a number for operand {} ({}) of {}, got register '{}' (upstream reads operands 4-6 as numbers)",
                              k + 1, o ? o->role : "dropped", inf.mnemonic, clip(t.text)));
    }
  }

  const OpInfo& lookup(const Token& head) const {
    if (const OpInfo* inf = find_mnemonic(head.text)) return *inf;
    std::string upper(head.text);
    for (char& c : upper) c = (c >= 'a' && c <= 'z') ? char(c - 32) : c;
    if (find_mnemonic(upper)) fail(head.col, fmt::format("unknown mnemonic '{}', mnemonics are upper case: '{}'", clip(head.text), clip(upper)));
    fail(head.col, fmt::format("unknown mnemonic '{}', expected an instruction such as M_MM or S_ADDI_INT, or a directive (.equ, .word)", clip(head.text)));
  }

  // Upstream's rule (docs/isa.md, "Operand positions"): operand k fills upstream_slot(k); a slot the
  // class encodes is checked and encoded, any other is dropped as upstream drops it.
  uint32_t instruction(const Token& head, const std::vector<Token>& ops, std::string_view line) {
    const OpInfo& inf = lookup(head);
    if (ops.size() > size_t(kMaxOperands))
      fail(ops[kMaxOperands].col, fmt::format("{} has {} operands; upstream syntax allows at most {} "
                                              "(rd, rs1, rs2, rstride/rmask, funct1, funct2)",
                                              inf.mnemonic, ops.size(), kMaxOperands));
    Instr in;
    in.op = inf.op;
    bool given[7] = {};
    for (size_t k = 0; k < ops.size(); ++k) {
      const Value v = parse_value(ops[k]);
      const Field f = upstream_slot(int(k), v.is_reg);
      check_position(inf, int(k), v, ops[k], given[int(Field::Imm)]);
      const Operand* o = form_operand(inf, f);
      if (!o) continue;  // dropped by the class
      if (given[int(f)])
        fail(ops[k].col, fmt::format("{} takes one immediate, got a second one '{}' (upstream would keep only the last)",
                                     inf.mnemonic, clip(ops[k].text)));
      given[int(f)] = true;
      set_field(in, f, operand_value(inf, *o, int(k), ops[k], v));
    }
    for (int k = 0; k < inf.form.count; ++k) {
      const Operand& o = inf.form.ops[k];
      if (!given[int(o.field)] && !o.optional)
        fail(int(line.size()) + 1, fmt::format("{} expects {} ({}), got {}: missing {}", inf.mnemonic,
                                               count_text(inf.form), form_text(inf.form), ops.size(), o.role));
    }
    return encode(in);
  }

  std::optional<uint32_t> directive(const Token& head, const std::vector<Token>& ops, std::string_view line) {
    auto need = [&](size_t n, std::string_view usage) {
      if (ops.size() != n) {
        int col = ops.size() > n ? ops[n].col : int(line.size()) + 1;
        fail(col, fmt::format("{} expects {} operand{} ({}), got {}", clip(head.text), n, n == 1 ? "" : "s", usage, ops.size()));
      }
    };
    auto number = [&](const Token& t) {
      Value v = parse_value(t);
      if (v.is_reg) fail(t.col, fmt::format("expected a number or .equ name, got register '{}'", clip(t.text)));
      return v.num;
    };
    if (head.text == ".equ") {
      need(2, "NAME, VALUE");
      const Token& name = ops[0];
      if (!is_ident_start(name.text[0]))
        fail(name.col, fmt::format("invalid .equ name '{}', expected a name starting with a letter or '_'", clip(name.text)));
      if (parse_register_shape(name.text))
        fail(name.col, fmt::format(".equ name '{}' looks like a register", clip(name.text)));
      if (equ_.count(std::string(name.text))) fail(name.col, fmt::format(".equ name '{}' is already defined", clip(name.text)));
      equ_[std::string(name.text)] = number(ops[1]);
      return std::nullopt;
    }
    if (head.text == ".word") {
      need(1, "VALUE");
      return uint32_t(number(ops[0]));
    }
    fail(head.col, fmt::format("unknown directive '{}', expected .equ or .word", clip(head.text)));
  }

  static bool parse_register_shape(std::string_view s) {
    size_t plen = s.starts_with("gp") ? 2 : (s.starts_with("f") || s.starts_with("a")) ? 1 : 0;
    if (plen == 0 || s.size() == plen) return false;
    for (size_t k = plen; k < s.size(); ++k)
      if (!is_digit(s[k])) return false;
    return true;
  }

  std::string_view file_;
  int line_ = 0;
  std::map<std::string, uint64_t> equ_;
};

}  // namespace

Program assemble(std::string_view source, std::string_view filename) { return Assembler(filename).run(source); }

std::string listing(const Program& prog, std::string_view source) {
  std::string out;
  size_t w = 0;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= source.size()) {
    size_t nl = source.find('\n', pos);
    std::string_view line = source.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no;
    if (nl == std::string_view::npos && line.empty()) break;  // no phantom line after the final newline
    if (w < prog.words.size() && prog.lines[w] == line_no) {
      out += fmt::format("0x{:04X}  0x{:08X}  {}\n", w, prog.words[w], line);
      ++w;
    } else {
      out += fmt::format("{:20}{}\n", "", line);
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

std::string to_mem_text(std::span<const uint32_t> words) {
  std::string out;
  out.reserve(words.size() * 11);
  for (uint32_t w : words) out += fmt::format("0x{:08X}\n", w);
  return out;
}

std::vector<uint32_t> parse_mem_text(std::string_view text, std::string_view filename) {
  std::vector<uint32_t> words;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    ++line_no;
    if (size_t c = line.find("//"); c != std::string_view::npos) line = line.substr(0, c);
    size_t b = 0;
    while (b < line.size() && (is_space(line[b]) || line[b] == '\r')) ++b;
    size_t e = line.size();
    while (e > b && (is_space(line[e - 1]) || line[e - 1] == '\r')) --e;
    if (b < e) {
      std::string_view tok = line.substr(b, e - b);
      bool ok = tok.size() >= 3 && tok.size() <= 10 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
      uint32_t v = 0;
      for (size_t k = 2; ok && k < tok.size(); ++k) {
        char c = tok[k];
        if (!is_hex(c)) ok = false;
        else v = v * 16 + uint32_t(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
      }
      if (!ok) {
        std::string shown;  // control and non-ASCII bytes as \xNN, so the message stays readable
        for (char c : tok.substr(0, 40))
          shown += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", uint8_t(c));
        throw_input(filename, line_no, int(b) + 1,
                    fmt::format("malformed instruction word '{}'{}, expected 0x followed by 1 to 8 hex digits", shown,
                                tok.size() > 40 ? "..." : ""));
      }
      words.push_back(v);
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return words;
}

std::vector<uint8_t> to_binary(std::span<const uint32_t> words) {
  std::vector<uint8_t> out;
  out.reserve(words.size() * 4);
  for (uint32_t w : words)
    for (int b = 0; b < 4; ++b) out.push_back(uint8_t(w >> (8 * b)));
  return out;
}

std::vector<uint32_t> parse_binary(std::span<const uint8_t> bytes, std::string_view filename) {
  if (bytes.size() % 4 != 0)
    throw_input(filename, 0, 0,
                fmt::format("binary program of {} bytes ends with a partial word at byte offset {} ({} of 4 bytes); "
                            "expected little-endian 32-bit words",
                            bytes.size(), bytes.size() - bytes.size() % 4, bytes.size() % 4));
  std::vector<uint32_t> words(bytes.size() / 4);
  for (size_t i = 0; i < words.size(); ++i)
    words[i] = uint32_t(bytes[4 * i]) | uint32_t(bytes[4 * i + 1]) << 8 | uint32_t(bytes[4 * i + 2]) << 16 |
               uint32_t(bytes[4 * i + 3]) << 24;
  return words;
}

}  // namespace plena::isa

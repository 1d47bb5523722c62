// The PLENA ISA: opcode table, 32-bit encoding, assembler and disassembler.
// Everything here is driven by the one table in isa/opcodes.def.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plena::isa {

enum class Opcode : uint8_t {
#define PLENA_OPCODE(name, code, ...) name = code,
#include "isa/opcodes.def"
};

// Upstream encoding classes: which fields a word carries (bit layout in docs/isa.md).
//   I18  imm[31:14] rs1[13:10] rd[9:6]        I22  imm[31:10] rd[9:6]
//   R1   rs1[13:10] rd[9:6]                   R0   opcode only
//   RD   rd[9:6]                              MEM  funct1[25:22] rs3[21:18] rs2 rs1 rd
//   VM   rs3[21:18] rs2[17:14] rs1 rd         R3   rs2[17:14] rs1[13:10] rd[9:6]
enum class EncClass : uint8_t { I18, I22, R1, R0, RD, MEM, VM, R3 };

enum class Unit : uint8_t { Matrix, Vector, ScalarInt, ScalarFp, Control, Dma };

// Latency classes (isa/latency_classes.def); config::latency_cycles maps each to cycles.
enum class Latency : uint8_t {
#define PLENA_LATENCY(cls, ...) cls,
#define PLENA_LATENCY_DRAM(cls) cls,
#include "isa/latency_classes.def"
};
// How a class's cycles derive from its [latency] key (see latency_classes.def).
enum class LatencyRule : uint8_t { Key, SystolicPlusKey, KeyPerStage, Dram };
struct LatencyInfo {
  Latency cls{};
  std::string_view name;
  LatencyRule rule{};
  std::string_view key;   // [latency] key without the table, e.g. "vector_add"; empty for Dram
  std::string_view note;  // run-time multiplier for docs, or empty
};
inline constexpr LatencyInfo kLatencyClasses[] = {
#define PLENA_LATENCY(cls, rule, key, note) {Latency::cls, #cls, LatencyRule::rule, #key, note},
#define PLENA_LATENCY_DRAM(cls) {Latency::cls, #cls, LatencyRule::Dram, "", ""},
#include "isa/latency_classes.def"
};
inline constexpr int kNumLatencyClasses = static_cast<int>(std::size(kLatencyClasses));
constexpr const LatencyInfo& latency_info(Latency l) { return kLatencyClasses[static_cast<size_t>(l)]; }

// Counts, ranges and per-opcode unit/latency, derived at compile time from opcodes.def.
namespace detail {
struct OpcodeRow {
  uint8_t code;
  Unit unit;
  Latency latency;
};
inline constexpr OpcodeRow kOpcodeRows[] = {
#define PLENA_OPCODE(name, code, cls, unit, lat, ...) {code, Unit::unit, Latency::lat},
#include "isa/opcodes.def"
};
constexpr bool rows_are_dense() {
  for (size_t i = 1; i < std::size(kOpcodeRows); ++i)
    if (kOpcodeRows[i].code != kOpcodeRows[0].code + i) return false;
  return true;
}
static_assert(rows_are_dense(), "opcodes.def must list the opcodes in ascending order without gaps");
}  // namespace detail

inline constexpr int kNumOpcodes = static_cast<int>(std::size(detail::kOpcodeRows));
inline constexpr uint8_t kMinOpcode = detail::kOpcodeRows[0].code;
inline constexpr uint8_t kMaxOpcode = detail::kOpcodeRows[kNumOpcodes - 1].code;
inline constexpr int kNumUnits = static_cast<int>(Unit::Dma) + 1;

// Unit and latency class of a table opcode (op must be a valid opcode: see is_valid_opcode).
constexpr Unit unit_of(Opcode op) { return detail::kOpcodeRows[static_cast<uint8_t>(op) - kMinOpcode].unit; }
constexpr Latency latency_of(Opcode op) {
  return detail::kOpcodeRows[static_cast<uint8_t>(op) - kMinOpcode].latency;
}
constexpr bool is_unit(Opcode op, Unit u) {
  const auto code = static_cast<uint8_t>(op);
  return code >= kMinOpcode && code <= kMaxOpcode && unit_of(op) == u;
}

// First and last opcode of a unit (LLVM-style FIRST/LAST markers, computed from the table).
// Upstream numbering interleaves some units (the 0x31-0x37 additions), so `contiguous` says
// whether every opcode in [first, last] belongs to the unit; is_unit answers membership.
struct OpcodeRange {
  Opcode first{}, last{};
  bool contiguous = false;
  constexpr bool contains(Opcode op) const { return op >= first && op <= last; }
};
constexpr OpcodeRange unit_range(Unit u) {
  OpcodeRange r;
  int n = 0;
  for (const detail::OpcodeRow& row : detail::kOpcodeRows) {
    if (row.unit != u) continue;
    if (n++ == 0) r.first = Opcode{row.code};
    r.last = Opcode{row.code};
  }
  r.contiguous = n > 0 && n == static_cast<int>(r.last) - static_cast<int>(r.first) + 1;
  return r;
}

// Instruction word fields. rs3 holds rmask or rstride; funct1 holds precision or rorder.
enum class Field : uint8_t { None, Rd, Rs1, Rs2, Rs3, Funct1, Imm };

enum class OperandKind : uint8_t {
  Gp,        // gp0-gp15
  Fp,        // f0-f7
  Hbm,       // a0-a7
  Imm,       // unsigned immediate, width of the class (18 or 22 bits)
  Flag,      // 4-bit value 0-15 (rmask, rstride, precision, rorder, policy)
  ZeroOrGp,  // gpN, printed as 0 when N = 0 (rd of M_MM and friends, as upstream kernels write it)
};

struct Operand {
  OperandKind kind{};
  Field field = Field::None;
  bool optional = false;      // may be omitted (only trailing operands); encodes as 0
  std::string_view role;      // e.g. "dst", "mram", "rmask"
};

struct Form {
  std::array<Operand, 6> ops{};
  uint8_t count = 0;      // operands in the full form
  uint8_t min_count = 0;  // required operands
};

struct OpInfo {
  Opcode op{};
  std::string_view mnemonic;
  uint8_t code = 0;
  EncClass cls{};
  Unit unit{};
  Latency latency{};
  bool rtl_only = false;       // not implemented by the upstream emulator
  Form form;                   // encoded operands in upstream positions (printed by the disassembler)
  std::string_view semantics;  // one-line description
  std::string_view form_spec;  // FORM text from opcodes.def (for docs)
  // Where the flag operands live (Field::None if the instruction has no such operand or it is
  // not encoded, e.g. the rmask of V_RED_SUM).
  Field mask_field = Field::None;       // rmask (Rs3, or Imm for V_EXP_V/V_RECI_V/V_RED_MAX)
  Field rstride_field = Field::None;    // Rs3 for H_*
  Field precision_field = Field::None;  // Funct1 for H_*
  Field rorder_field = Field::None;     // Funct1 for V_SUB_VF
  uint8_t imm_bits = 0;                 // 18 (I18), 22 (I22), 0 otherwise
};

// A decoded instruction: raw field values (registers as indices; gp0 = 0, f3 = 3, a2 = 2).
struct Instr {
  Opcode op{};
  uint8_t rd = 0, rs1 = 0, rs2 = 0;
  uint8_t rs3 = 0;     // rmask or rstride
  uint8_t funct1 = 0;  // precision or rorder
  uint32_t imm = 0;    // I18: bits [31:14]; I22: bits [31:10]
  friend bool operator==(const Instr&, const Instr&) = default;
};

// ---- table ----
std::span<const OpInfo> all_opcodes();              // ascending opcode, kNumOpcodes entries
bool is_valid_opcode(uint32_t code);                // kMinOpcode..kMaxOpcode
const OpInfo& info(Opcode op);                      // std::out_of_range for a non-table value
const OpInfo* find_mnemonic(std::string_view name);  // exact (upper-case) match; nullptr if none
std::string_view mnemonic(Opcode op);
std::string_view to_string(EncClass c);
std::string_view to_string(Unit u);
std::string_view to_string(Latency l);
std::string_view to_string(Field f);
std::string_view to_string(OperandKind k);
const Operand* form_operand(const OpInfo& inf, Field f);  // the FORM operand encoding f, nullptr if none
bool class_has(EncClass c, Field f);                       // the class carries field f in the word
// Upstream's parser fills an instruction slot from each operand position (plena_compiler.md §2):
// 0 -> rd; 1 -> rs1 if the text is a register, else imm; 2 -> rs2 if a register, else imm;
// 3 -> rstride/rmask (rs3); 4 -> funct1; 5 -> funct2 (never encoded: Field::None).
inline constexpr int kMaxOperands = 6;
Field upstream_slot(int position, bool is_register);
uint8_t field_value(const Instr& in, Field f);  // Imm is truncated; use in.imm directly
void set_field(Instr& in, Field f, uint32_t value);  // Field::None is ignored; 4-bit fields take the low byte

// ---- encoding ----
// Empty string if `in` is encodable: every operand in range for its register class/width and
// every field the canonical form does not use equal to zero. Otherwise the reason.
std::string validate(const Instr& in);
uint32_t encode(const Instr& in);  // plena::InputError with validate()'s reason
// Fields of the word's class; bits the class does not carry are ignored (see is_canonical).
std::optional<Instr> try_decode(uint32_t word) noexcept;  // nullopt: invalid opcode
Instr decode(uint32_t word);                              // plena::InputError on invalid opcode
bool is_canonical(uint32_t word);  // decodes, validates and re-encodes to the same word

// ---- text ----
// Canonical assembly for one instruction, e.g. "M_MM 0, gp4, gp5". Out-of-range fields are printed
// as they are (e.g. "f9"), so this is safe for error messages about any decoded word.
std::string disassemble(const Instr& in);
// Canonical assembly for a word, or ".word 0x%08X" when it is not canonical (invalid opcode,
// non-zero unused bits, out-of-range register). Re-assembles to the same word.
std::string disassemble_word(uint32_t word);

// ---- assembler ----
struct Program {
  std::vector<uint32_t> words;
  std::vector<int> lines;  // 1-based source line of each word
};
// Assembles upstream PLENA assembly (plus the extensions .equ, .word, hex immediates). Operands go
// to fields by upstream_slot; those the class does not encode are dropped (docs/isa.md).
// Throws plena::InputError "file:line:col: error: ..." at the first bad input.
Program assemble(std::string_view source, std::string_view filename = "<input>");
// Listing: "ADDR  WORD  source" per source line (address = word index).
std::string listing(const Program& prog, std::string_view source);

// Upstream .mem text: one "0x%08X" line per word.
std::string to_mem_text(std::span<const uint32_t> words);
std::vector<uint32_t> parse_mem_text(std::string_view text, std::string_view filename = "<input>");
// Raw little-endian 32-bit words.
std::vector<uint8_t> to_binary(std::span<const uint32_t> words);
std::vector<uint32_t> parse_binary(std::span<const uint8_t> bytes, std::string_view filename = "<input>");
// One canonical line per word (disassemble_word), newline terminated.
std::string disassemble_program(std::span<const uint32_t> words);

// Markdown tables generated from the table (embedded in docs/isa.md).
std::string opcode_table_markdown();
// Per encoding class: which field each operand position fills and which positions are dropped.
std::string operand_positions_markdown();

}  // namespace plena::isa

// Encoding of every opcode in every operand form. Expected words come from the documented bit layout
// (plena_compiler.md §2: opcode[5:0] rd[9:6] rs1[13:10] rs2[17:14] rs3[21:18] funct1[25:22],
// I18 imm[31:14], I22 imm[31:10]) written out here, never from the code under test.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "isa/isa.hpp"
#include "support/support.hpp"

using namespace plena::isa;

namespace {

constexpr uint32_t R(uint32_t op, uint32_t rd = 0, uint32_t rs1 = 0, uint32_t rs2 = 0, uint32_t rs3 = 0,
                     uint32_t f1 = 0) {
  return op | rd << 6 | rs1 << 10 | rs2 << 14 | rs3 << 18 | f1 << 22;
}
constexpr uint32_t I18(uint32_t op, uint32_t rd, uint32_t rs1, uint32_t imm) { return op | rd << 6 | rs1 << 10 | imm << 14; }
constexpr uint32_t I22(uint32_t op, uint32_t rd, uint32_t imm) { return op | rd << 6 | imm << 10; }

struct Case {
  const char* line;
  uint32_t word;
};

const Case kCases[] = {
    // matrix
    {"M_MM 0, gp4, gp5", R(0x01, 0, 4, 5)},
    {"M_MM gp3, gp4, gp5", R(0x01, 3, 4, 5)},
    {"M_MM gp0, gp15, gp1", R(0x01, 0, 15, 1)},
    {"M_TMM 0, gp1, gp2", R(0x02, 0, 1, 2)},
    {"M_BMM 0, gp6, gp7", R(0x03, 0, 6, 7)},
    {"M_BTMM 0, gp8, gp9", R(0x04, 0, 8, 9)},
    {"M_BMM_WO gp5, 17", I22(0x05, 5, 17)},
    {"M_BMM_WO gp5, gp0, 17", I22(0x05, 5, 17)},
    {"M_MM_WO gp6, gp0, 0", I18(0x06, 6, 0, 0)},
    {"M_MM_WO gp6, gp2, 262143", I18(0x06, 6, 2, 262143)},
    {"M_MV 0, gp10, gp11", R(0x07, 0, 10, 11)},
    {"M_TMV 0, gp12, gp13", R(0x08, 0, 12, 13)},
    {"M_BMV gp1, gp2, gp3", R(0x09, 1, 2, 3)},
    {"M_BTMV gp4, gp5, gp6", R(0x0A, 4, 5, 6)},
    {"M_MV_WO gp3, 0", I22(0x0B, 3, 0)},
    {"M_MV_WO gp3, gp0, 4194303", I22(0x0B, 3, 4194303)},
    {"M_BMV_WO gp7, 64", I22(0x0C, 7, 64)},
    {"M_BMV_WO gp7, gp0, 64", I22(0x0C, 7, 64)},
    // vector
    {"V_ADD_VV gp1, gp2, gp3", R(0x0D, 1, 2, 3)},
    {"V_ADD_VV gp1, gp2, gp3, 15", R(0x0D, 1, 2, 3, 15)},
    {"V_ADD_VF gp1, gp2, f7, 1", R(0x0E, 1, 2, 7, 1)},
    {"V_ADD_VF gp1, gp2, f7", R(0x0E, 1, 2, 7)},
    {"V_SUB_VV gp4, gp5, gp6, 2", R(0x0F, 4, 5, 6, 2)},
    {"V_SUB_VF gp1, gp1, f0, 0, 1", R(0x10, 1, 1, 0, 0, 1)},
    {"V_SUB_VF gp1, gp2, f3, 4", R(0x10, 1, 2, 3, 4, 0)},
    {"V_SUB_VF gp1, gp2, f3", R(0x10, 1, 2, 3)},
    {"V_MUL_VV gp9, gp10, gp11, 3", R(0x11, 9, 10, 11, 3)},
    {"V_MUL_VF gp1, gp1, f2, 1", R(0x12, 1, 1, 2, 1)},
    {"V_EXP_V gp1, gp2, 1", I18(0x13, 1, 2, 1)},  // rmask lands in bit 14
    {"V_EXP_V gp1, gp2", I18(0x13, 1, 2, 0)},
    {"V_RECI_V gp3, gp4, 15", I18(0x14, 3, 4, 15)},
    {"V_RED_SUM f2, gp3", R(0x15, 2, 3)},
    {"V_RED_SUM f2, gp3, 1", R(0x15, 2, 3)},     // rmask dropped
    {"V_RED_SUM f2, gp3, 1, 0", R(0x15, 2, 3)},  // 4-operand upstream form
    {"V_RED_MAX f1, gp2, 1", I18(0x16, 1, 2, 1)},
    {"V_RED_MAX f7, gp15", I18(0x16, 7, 15, 0)},
    // scalar fp
    {"S_ADD_FP f1, f2, f3", R(0x17, 1, 2, 3)},
    {"S_SUB_FP f3, f1, f2", R(0x18, 3, 1, 2)},
    {"S_MAX_FP f4, f5, f6", R(0x19, 4, 5, 6)},
    {"S_MUL_FP f7, f6, f5", R(0x1A, 7, 6, 5)},
    {"S_EXP_FP f1, f2", R(0x1B, 1, 2)},
    {"S_EXP_FP f1, f2, 0", R(0x1B, 1, 2)},
    {"S_RECI_FP f2, f2", R(0x1C, 2, 2)},
    {"S_SQRT_FP f3, f4", R(0x1D, 3, 4)},
    {"S_LD_FP f1, gp0, 3", I18(0x1E, 1, 0, 3)},
    {"S_ST_FP f1, gp2, 5", I18(0x1F, 1, 2, 5)},
    {"S_MAP_V_FP gp1, gp2, 10", I18(0x20, 1, 2, 10)},
    // scalar int
    {"S_ADD_INT gp1, gp2, gp3", R(0x21, 1, 2, 3)},
    {"S_ADDI_INT gp0, gp0, 0", I18(0x22, 0, 0, 0)},
    {"S_ADDI_INT gp15, gp14, 4095", I18(0x22, 15, 14, 4095)},
    {"S_SUB_INT gp4, gp5, gp6", R(0x23, 4, 5, 6)},
    {"S_MUL_INT gp7, gp8, gp9", R(0x24, 7, 8, 9)},
    {"S_LUI_INT gp1, 4096", I22(0x25, 1, 4096)},
    {"S_LD_INT gp2, gp3, 1", I18(0x26, 2, 3, 1)},
    {"S_ST_INT gp4, gp5, 31", I18(0x27, 4, 5, 31)},
    // dma
    {"H_PREFETCH_M gp1, gp2, a1, 1, 0", R(0x28, 1, 2, 1, 1, 0)},
    {"H_PREFETCH_M gp1, gp2, a7, 1, 1", R(0x28, 1, 2, 7, 1, 1)},
    {"H_PREFETCH_M gp1, gp2, a7", R(0x28, 1, 2, 7)},
    {"H_PREFETCH_V gp3, gp2, a0, 1, 0", R(0x29, 3, 2, 0, 1, 0)},
    {"H_PREFETCH_V gp3, gp2, a0, 1, 0, 0", R(0x29, 3, 2, 0, 1, 0)},  // funct2 ignored
    {"H_PREFETCH_V gp3, gp2, a0, 1, 1, 5", R(0x29, 3, 2, 0, 1, 1)},
    {"H_STORE_V gp1, gp2, a3, 0, 1", R(0x2A, 1, 2, 3, 0, 1)},
    // control
    {"C_SET_ADDR_REG a2, gp0, gp3", R(0x2B, 2, 0, 3)},
    {"C_SET_SCALE_REG gp4", R(0x2C, 4)},
    {"C_SET_STRIDE_REG gp5", R(0x2D, 5)},
    {"C_SET_V_MASK_REG gp1", R(0x2E, 1)},
    {"C_LOOP_START gp7, 64", I22(0x2F, 7, 64)},
    {"C_LOOP_END gp7", R(0x30, 7)},
    {"C_LOOP_END gp7, 0", R(0x30, 7)},
    {"V_PS_V gp1, gp2", R(0x31, 1, 2)},
    {"V_PS_V gp1, gp2, gp3", R(0x31, 1, 2, 3)},  // R3 default class: upstream encodes rs2
    {"C_HADAMARD_TRANSFORM gp4, gp5, gp6", R(0x33, 4, 5, 6)},
    {"V_SHFT_V gp1, gp2, gp3", R(0x32, 1, 2, 3)},
    {"C_HADAMARD_TRANSFORM gp4, gp5", R(0x33, 4, 5)},
    {"C_BREAK", R(0x34)},
    {"C_BREAK 0, 0, 0", R(0x34)},
    {"V_MAX_VF gp1, gp2, f3, 4", R(0x35, 1, 2, 3, 4)},
    {"V_MIN_VF gp1, gp2, f3", R(0x36, 1, 2, 3)},
    {"V_TOPK gp1, gp2, gp3, 1", R(0x37, 1, 2, 3, 1)},
    // extensions: hex and leading zeros
    {"S_ADDI_INT gp1, gp0, 0x3FFFF", I18(0x22, 1, 0, 0x3FFFF)},
    {"S_ADDI_INT gp1, gp0, 012", I18(0x22, 1, 0, 12)},
    {"S_LUI_INT gp01, 0X10", I22(0x25, 1, 16)},
};

// Realistic upstream kernel lines with words computed by hand.
const Case kKernelLines[] = {
    {"H_PREFETCH_V gp3, gp2, a0, 1, 0", 0x000408E9}, {"M_MM 0, gp4, gp5", 0x00015001},
    {"M_MM_WO gp6, gp0, 0", 0x00000186},             {"V_EXP_V gp1, gp2, 1", 0x00004853},
    {"S_LUI_INT gp1, 4096", 0x00400065},             {"C_LOOP_START gp7, 64", 0x000101EF},
    {"V_SUB_VF gp1, gp1, f0, 0, 1", 0x00400450},     {"H_PREFETCH_M gp1, gp2, a1, 1, 0", 0x00044868},
    {"C_SET_ADDR_REG a2, gp0, gp3", 0x0000C0AB},     {"C_SET_SCALE_REG gp4", 0x0000012C},
    {"V_RED_MAX f1, gp2, 1", 0x00004856},            {"V_RED_SUM f2, gp3, 1, 0", 0x00000C95},
    {"S_ADDI_INT gp0, gp0, 0", 0x00000022},          {"S_ST_FP f1, gp0, 5", 0x0001405F},
    {"M_MV_WO gp3, gp0, 0", 0x000000CB},             {"M_BTMM 0, gp1, gp2", 0x00008404},
    {"M_BMM_WO gp5, 0", 0x00000145},                 {"V_MUL_VF gp1, gp1, f2, 1", 0x00048452},
    {"S_SUB_FP f3, f1, f2", 0x000084D8},             {"C_SET_V_MASK_REG gp1", 0x0000006E},
    {"H_STORE_V gp1, gp2, a3, 0, 1", 0x0040C86A},    {"S_LD_FP f1, gp0, 3", 0x0000C05E},
    {"S_RECI_FP f2, f2", 0x0000089C},                {"V_ADD_VV gp1, gp2, gp3", 0x0000C84D},
    {"C_LOOP_END gp7", 0x000001F0},                  {"S_MAP_V_FP gp1, gp2, 10", 0x00028860},
    {"C_BREAK 0, 0, 0", 0x00000034},                 {"S_EXP_FP f1, f2, 0", 0x0000085B},
};

uint32_t assemble_one(const std::string& line) {
  Program p = assemble(line, "t.asm");
  EXPECT_EQ(p.words.size(), 1u) << line;
  return p.words.empty() ? 0 : p.words[0];
}

}  // namespace

TEST(IsaEncoding, EveryOpcodeEveryForm) {
  std::set<unsigned> covered;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.line);
    uint32_t w = assemble_one(c.line);
    EXPECT_EQ(w, c.word) << std::hex << w << " vs " << c.word;
    covered.insert(c.word & 0x3F);
    // Decoder and encoder agree, and the canonical text re-assembles to the same word.
    EXPECT_TRUE(is_canonical(w));
    EXPECT_EQ(encode(decode(w)), w);
    std::string text = disassemble_word(w);
    EXPECT_NE(text.rfind(".word", 0), 0u) << text;
    EXPECT_EQ(assemble_one(text), w) << text;
  }
  EXPECT_EQ(covered.size(), 55u);
}

TEST(IsaEncoding, UpstreamKernelLinesBitExact) {
  std::string text;
  std::vector<uint32_t> want;
  for (const Case& c : kKernelLines) {
    EXPECT_EQ(assemble_one(c.line), c.word) << c.line;
    text += std::string("\t") + c.line + "   ; comment\n";
    want.push_back(c.word);
  }
  Program p = assemble(text, "k.asm");
  EXPECT_EQ(p.words, want);
  std::string mem = to_mem_text(p.words);
  EXPECT_EQ(mem.substr(0, 22), "0x000408E9\n0x00015001\n");
  EXPECT_EQ(parse_mem_text(mem), want);
}

// Lines the upstream generators emit (asm_templates/, aten/plena/, tilelang_tvm_compiler/), in
// their spacing, with the word upstream's assembler writes, computed from the class layout.
const Case kUpstreamGeneratorLines[] = {
    {"V_RED_SUM f2, gp5, 1 ", 0x00001495},            // online_softmax: rmask dropped (R1)
    {"V_RED_SUM f3, gp4, 1, 0", 0x000010D5},          // aten isa_attention: both dropped
    {"V_EXP_V gp4, gp4, 1, 0", 0x00005113},           // rmask at bit 14 (I18), 4th dropped
    {"V_EXP_V gp4, gp4, 0, 0", 0x00001113},
    {"V_RECI_V gp2, gp3, 0", 0x00000C94},
    {"S_RECI_FP f3, f3, 0", 0x00000CDC},              // R1: operand 3 dropped
    {"S_EXP_FP f1, f1, 0", 0x0000045B},
    {"M_BTMV 0, gp0, gp7 ", 0x0001C00A},              // flashattn/qkt: literal 0 as rd
    {"M_BTMV gp0, gp3, gp4", 0x00010C0A},             // tilelang isa_emitter
    {"M_BTMM 0, gp0, gp3 ", 0x0000C004},
    {"M_BTMM 2, gp0, gp9", 0x00024084},               // aten packed GQA: head offset literal in rd
    {"M_MV 0, gp2, gp3 ", 0x0000C807},                // gemv_asm
    {"M_MV gp0, gp5, gp6", 0x00019407},               // tilelang
    {"M_MV_WO gp4, gp0, 0 ", 0x0000010B},             // I22: register operand 2 dropped
    {"M_BMM_WO gp5, 0", 0x00000145},
    {"H_PREFETCH_V gp3, gp4, a1, 0, 0, 0 ", 0x000050E9},  // funct2 dropped
    {"H_PREFETCH_M gp0, gp2, a1, 0, 1 ", 0x00404828},
    {"V_SUB_VF gp2, gp2, f0, 0, 1", 0x00400890},
    {"V_MUL_VF gp1, gp2, f0, 0", 0x00000852},
    {"V_ADD_VV gp1, gp2, gp3", 0x0000C84D},           // 3-operand VM: rmask 0
    {"C_SET_ADDR_REG a3, gp0, gp5", 0x000140EB},
    {"S_LUI_INT gp3, 73", 0x000124E5},
    {"M_MM_WO gp6, gp2, 0", 0x00000986},
    {"V_RED_MAX f1, gp2, 0 ", 0x00000856},
    {"C_LOOP_START gp4, 16", 0x0000412F},
    {"C_LOOP_END gp4 ", 0x00000130},
    {"S_ST_FP f1, gp3, 0", 0x00000C5F},
    {"V_SHFT_V gp3, gp3, gp5", 0x00014CF2},
    {"S_ADDI_INT gp0, gp0, 0", 0x00000022},
    {"C_BREAK", 0x00000034},
};

// The per-class position rule on forms no generator emits: literal register numbers in operand 1,
// and operands the class drops (any register or number).
const Case kPositionRule[] = {
    {"S_ADDI_INT 5, gp0, 7", 0x0001C162},           // I18: rd from a number
    {"S_ADDI_INT gp1, gp2, 3, 0, 0, 0", 0x0000C862},  // I18: operands 4-6 dropped
    {"S_ADDI_INT gp1, gp2, 3, 9, 15, 4000000000", 0x0000C862},
    {"S_LUI_INT gp1, gp0, 4096", 0x00400065},       // I22: register operand 2 dropped
    {"S_LUI_INT gp1, f5, 4096", 0x00400065},        //   of any class
    {"S_LUI_INT gp1, 4096, gp7", 0x00400065},       // I22: immediate first, register 3 dropped
    {"C_LOOP_START 4, 16", 0x0000412F},
    {"S_SQRT_FP f1, f2, f3", 0x0000085D},           // R1: operand 3 dropped
    {"V_RED_SUM f1, gp2, 16, 1, 2, 3", 0x00000855},
    {"C_BREAK 0, 0, 0", 0x00000034},                // R0: everything dropped
    {"C_BREAK gp3, 7, 0, 1, 2, 3", 0x00000034},
    {"C_SET_SCALE_REG 4", 0x0000012C},              // RD: rd from a number
    {"C_SET_STRIDE_REG gp5, 0", 0x0000016D},        // RD: the rest dropped
    {"C_LOOP_END gp7, gp3, 2", 0x000001F0},
    {"H_STORE_V gp1, gp2, a3, 0, 1, 7", 0x0040C86A},  // MEM: funct2 dropped
    {"H_STORE_V 1, gp2, a3, 0, 1", 0x0040C86A},
    {"V_ADD_VV gp1, gp2, gp3, 0, 7, 9", 0x0000C84D},  // VM: funct1/funct2 dropped
    {"V_TOPK 1, gp2, gp3, 1", 0x0004C877},
    {"M_MM 0, gp4, gp5, 0", 0x00015001},            // R3: operands 4-6 dropped
    {"M_MM 3, gp4, gp5", 0x000150C1},               // R3: rd from a number
    {"S_ADD_FP 2, f1, f1", 0x00004497},
    {"C_SET_ADDR_REG 2, gp0, gp3", 0x0000C0AB},
    {"S_ADD_INT gp1, gp2, gp3, 1, 1, 1", 0x0000C861},
};

TEST(IsaEncoding, UpstreamGeneratorLinesBitExact) {
  for (const Case& c : kUpstreamGeneratorLines) EXPECT_EQ(assemble_one(c.line), c.word) << c.line;
}

TEST(IsaEncoding, PositionRulePerClass) {
  for (const Case& c : kPositionRule) EXPECT_EQ(assemble_one(c.line), c.word) << c.line;
}

TEST(IsaEncoding, DecodeFieldsPerClass) {
  Instr i = decode(0x0040C86A);  // H_STORE_V gp1, gp2, a3, 0, 1
  EXPECT_EQ(i, (Instr{Opcode::H_STORE_V, 1, 2, 3, 0, 1, 0}));
  i = decode(I22(0x0B, 3, 123456));  // M_MV_WO: our imm is bits [31:10]
  EXPECT_EQ(i.op, Opcode::M_MV_WO);
  EXPECT_EQ(i.rd, 3);
  EXPECT_EQ(i.imm, 123456u);
  i = decode(I18(0x13, 1, 2, 5));  // V_EXP_V: rmask operand is imm
  EXPECT_EQ(i.imm, 5u);
  EXPECT_EQ(i.rs3, 0);
  EXPECT_EQ(field_value(i, info(i.op).mask_field), 5);
  EXPECT_THROW(decode(0x00000000), plena::InputError);
  EXPECT_THROW(decode(0x00000038), plena::InputError);
  EXPECT_FALSE(try_decode(0xFFFFFFFF).has_value());
  EXPECT_TRUE(try_decode(0xFFFFFFC1).has_value());  // M_MM with junk: decodes, not canonical
  EXPECT_FALSE(is_canonical(0xFFFFFFC1));
}

TEST(IsaEncoding, ValidateRejectsBadFields) {
  EXPECT_EQ(validate(Instr{Opcode::S_ADD_INT, 1, 2, 3}), "");
  EXPECT_NE(validate(Instr{Opcode::S_ADD_FP, 8, 1, 2}), "");           // f8
  EXPECT_NE(validate(Instr{Opcode::S_ADD_INT, 16, 1, 2}), "");         // gp16
  EXPECT_NE(validate(Instr{Opcode::H_PREFETCH_V, 1, 2, 8, 0, 0}), "");  // a8
  EXPECT_NE(validate(Instr{Opcode::V_ADD_VV, 1, 2, 3, 16}), "");       // rmask 16
  EXPECT_NE(validate(Instr{Opcode::V_RED_SUM, 1, 2, 0, 1}), "");       // rmask not encodable
  EXPECT_NE(validate(Instr{Opcode::S_ADDI_INT, 1, 2, 0, 0, 0, 1u << 18}), "");
  EXPECT_EQ(validate(Instr{Opcode::S_LUI_INT, 1, 0, 0, 0, 0, (1u << 22) - 1}), "");
  EXPECT_NE(validate(Instr{Opcode::S_LUI_INT, 1, 0, 0, 0, 0, 1u << 22}), "");
  EXPECT_NE(validate(Instr{Opcode::V_EXP_V, 1, 2, 0, 0, 0, 16}), "");  // rmask in imm is still 4 bits
  EXPECT_EQ(validate(Instr{Opcode::V_PS_V, 1, 2, 3}), "");             // upstream encodes rs2 (R3)
  EXPECT_NE(validate(Instr{Opcode::V_PS_V, 1, 2, 3, 1}), "");          // but not rs3
  EXPECT_NE(validate(Instr{static_cast<Opcode>(0), 0, 0, 0}), "");
  EXPECT_THROW(encode(Instr{Opcode::S_ADD_FP, 8, 1, 2}), plena::InputError);
}

// Every opcode, random valid field values: encoding follows the class layout, decoding inverts it,
// and the canonical text re-assembles to the same word.
TEST(IsaEncoding, RandomInstrsAllOpcodesRoundTrip) {
  std::mt19937 rng(12345);
  for (const OpInfo& o : all_opcodes()) {
    for (int n = 0; n < 300; ++n) {
      Instr in;
      in.op = o.op;
      for (int k = 0; k < o.form.count; ++k) {
        const Operand& op = o.form.ops[k];
        uint32_t lim = op.kind == OperandKind::Imm ? (1u << o.imm_bits)
                       : (op.kind == OperandKind::Fp || op.kind == OperandKind::Hbm) ? 8u
                                                                                     : 16u;
        uint32_t v = rng() % lim;
        set_field(in, op.field, v);
      }
      uint32_t w = encode(in);
      uint32_t want = 0;
      std::string_view cls = to_string(o.cls);
      if (cls == "I18") want = I18(o.code, in.rd, in.rs1, in.imm);
      else if (cls == "I22") want = I22(o.code, in.rd, in.imm);
      else if (cls == "R0") want = o.code;
      else want = R(o.code, in.rd, in.rs1, in.rs2, in.rs3, in.funct1);
      ASSERT_EQ(w, want) << o.mnemonic;
      ASSERT_EQ(decode(w), in) << o.mnemonic;
      ASSERT_EQ(assemble_one(disassemble(in)), w) << disassemble(in);
    }
  }
}

// Any 32-bit word disassembles to text that re-assembles to the same word (.word for junk).
TEST(IsaEncoding, RandomWordsRoundTrip) {
  std::mt19937 rng(777);
  std::vector<uint32_t> words;
  for (int n = 0; n < 20000; ++n) {
    uint32_t w = rng();
    if (n % 2) w &= 0x03FFFFFF;  // make canonical words likely
    if (n % 4 == 1) w &= 0x0003FFFF;
    words.push_back(w);
  }
  for (uint32_t code = 0; code < 64; ++code) words.push_back(code);
  std::string text = disassemble_program(words);
  Program p = assemble(text, "rt.asm");
  ASSERT_EQ(p.words, words);
  size_t canonical = 0;
  for (uint32_t w : words) canonical += is_canonical(w);
  EXPECT_GT(canonical, 2000u);  // the test exercises real instructions, not only .word
}

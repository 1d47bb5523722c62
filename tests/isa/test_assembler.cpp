// Assembler syntax, extensions, error messages (file:line:col), .mem/.bin I/O and listings.
#include <gtest/gtest.h>

#include <filesystem>

#include "isa/isa.hpp"
#include "support/support.hpp"

using namespace plena::isa;

namespace {

std::string error_of(const std::string& src) {
  try {
    assemble(src, "bad.asm");
  } catch (const plena::InputError& e) {
    return e.what();
  }
  return "<no error>";
}

struct Bad {
  const char* src;
  const char* where;  // "line:col"
  const char* text;   // substring of the message
};

const Bad kBad[] = {
    {"S_ADD_INT gp1, f3, gp2", "1:16", "expected a GP register (gp0-gp15)"},
    {"H_PREFETCH_V gp1, gp2, gp3, 0, 0", "1:24", "expected an HBM address register (a0-a7)"},
    {"S_ADD_FP f1, gp2, f3", "1:14", "expected an FP register (f0-f7)"},
    {"V_ADD_VF gp1, gp2, gp3", "1:20", "expected an FP register"},
    {"S_ADDI_INT gp1, gp2, -5", "1:22", "negative value '-5'"},
    {"S_LUI_INT gp1, -0x1", "1:16", "negative"},
    {"FOO gp1", "1:1", "unknown mnemonic 'FOO'"},
    {"m_mm 0, gp1, gp2", "1:1", "mnemonics are upper case"},
    {"S_MV_FP f1, f2", "1:1", "unknown mnemonic 'S_MV_FP'"},
    {"S_ADD_INT gp1, gp2", "1:19", "S_ADD_INT expects 3 operands (dst, src1, src2), got 2"},
    {"S_ADD_INT gp1, gp2, gp3, gp4", "1:26", "expected a number for operand 4 (dropped) of S_ADD_INT, got register 'gp4'"},
    {"S_ADD_INT", "1:10", "got 0"},
    {"H_PREFETCH_M gp1, gp2, a0, 1, 0, 0, 0", "1:37", "upstream syntax allows at most 6"},
    {"C_BREAK 0, 0, 0, 0, 0, 0, 0", "1:27", "has 7 operands"},
    {"S_ADD_INT gp16, gp1, gp2", "1:11", "register 'gp16' does not exist"},
    {"S_ADD_FP f8, f1, f2", "1:10", "'f8' does not exist"},
    {"H_PREFETCH_V gp1, gp2, a8, 0, 0", "1:24", "'a8' does not exist"},
    {"S_ADDI_INT gp1, gp2, 262144", "1:22", "does not fit the 18-bit field"},
    {"S_LUI_INT gp1, 4194304", "1:16", "does not fit the 22-bit field"},
    {"C_LOOP_START gp1, 0x400000", "1:19", "22-bit"},
    {"M_MV_WO gp1, 4194304", "1:14", "22-bit"},
    {"V_ADD_VV gp1, gp2, gp3, 16", "1:25", "does not fit 4 bits"},
    {"H_PREFETCH_V gp1, gp2, a0, 16, 0", "1:28", "rstride value 16"},
    {"H_PREFETCH_V gp1, gp2, a0, 0, 16", "1:31", "prec value 16"},
    {"V_SUB_VF gp1, gp2, f0, 0, 99", "1:27", "rorder value 99"},
    {"V_EXP_V gp1, gp2, 16", "1:19", "rmask value 16"},
    // Upstream's position rule, where it would crash or write a word other than the text says.
    {"M_BTMM 16, gp0, gp1", "1:8", "register number 16 does not exist for operand 1 (rd) of M_BTMM, expected 0-15"},
    {"S_ADD_FP 8, f1, f2", "1:10", "register number 8 does not exist"},
    {"C_SET_ADDR_REG 9, gp0, gp2", "1:16", "expected 0-7 (a0-a7)"},
    {"S_ADD_INT gp1, 3, gp2", "1:16", "expected a GP register (gp0-gp15) for operand 2 (src1) of S_ADD_INT, got '3'"},
    {"M_MM 0, gp1, 0", "1:14", "got '0' (a number here is read as an immediate)"},
    {"S_RECI_FP f1, 0", "1:15", "expected an FP register"},
    {"S_ADDI_INT gp1, 5, 6", "1:17", "expected a GP register"},
    {"S_LUI_INT gp1, 5, 7", "1:19", "got a second one '7'"},
    {"M_BMM_WO gp1, 1, 2", "1:18", "second one"},
    {"V_EXP_V gp1, gp2, gp3", "1:19", "expected a 4-bit rmask value for operand 3 (rmask) of V_EXP_V, got register"},
    {"V_ADD_VV gp1, gp2, gp3, gp4", "1:25", "expected a number for operand 4 (rmask)"},
    {"H_PREFETCH_V gp1, gp2, a0, 0, 0, gp3", "1:34", "operand 6 (dropped)"},
    {"V_SUB_VF gp1, gp2, f0, 0, f1", "1:27", "operand 5 (rorder)"},
    {"S_LUI_INT gp1, gp2", "1:19", "S_LUI_INT expects 2 operands (dst, imm), got 2: missing imm"},
    {"M_MV_WO gp1, gp0", "1:17", "missing offset"},
    {"C_LOOP_END gp1, gp16", "1:17", "register 'gp16' does not exist"},
    {"S_RECI_FP f1, f2, 0x", "1:19", "malformed number"},
    {"S_EXP_FP f1, f2, -1", "1:18", "negative value '-1'"},
    {"V_RED_SUM f1, gp2, 1, 99999999999", "1:23", "too large"},
    {"M_MM f1, gp2, gp3", "1:6", "expected a GP register"},
    {"S_ADDI_INT gp1, gp2, gp3", "1:22", "expected an immediate"},
    {"S_ADDI_INT gp1, gp2, 12abc", "1:22", "malformed number"},
    {"S_ADDI_INT gp1, gp2, 0x", "1:22", "malformed number"},
    {"S_ADDI_INT gp1, gp2, 99999999999", "1:22", "too large"},
    {"S_ADDI_INT gp1, gp2, LIMIT", "1:22", "unknown name 'LIMIT'"},
    {"S_ADDI_INT gp1, gp2,", "1:21", "missing operand"},
    {"S_ADDI_INT gp1,, 3", "1:16", "missing operand"},
    {"M_MM 0 gp1, gp2", "1:8", "unexpected 'gp1', expected ','"},
    {"M_MM 0, gp1, gp2)", "1:17", "unexpected ')'"},
    {"@@@", "1:1", "unexpected '@'"},
    {"M_MM,0, gp1, gp2", "1:5", "expected a space"},
    {"\xC3\xA9", "1:1", "byte 0xC3"},
    {"S_ADDI_INT gp1, gp2, 1\n\nS_ADD_INT gp1, a1, gp2", "3:16", "register class mismatch"},
    {".equ X, 5\n.equ X, 6", "2:6", "already defined"},
    {".equ gp3, 5", "1:6", "looks like a register"},
    {".equ 5X, 5", "1:6", "invalid .equ name"},
    {".equ X", "1:7", ".equ expects 2 operands"},
    {".equ X, gp1", "1:9", "got register"},
    {".word 1, 2", "1:10", ".word expects 1 operand"},
    {".org 5", "1:1", "unknown directive '.org'"},
    {".", "1:1", "unexpected '.'"},
};

}  // namespace

TEST(IsaAssembler, MalformedInputsGiveLocatedErrors) {
  for (const Bad& b : kBad) {
    std::string msg = error_of(b.src);
    SCOPED_TRACE(b.src);
    EXPECT_EQ(msg.rfind(std::string("bad.asm:") + b.where + ": error: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(b.text), std::string::npos) << msg;
  }
}

TEST(IsaAssembler, UpstreamSyntaxForms) {
  const char* src =
      "; whole-line comment\n"
      "// another\n"
      "\n"
      "\tM_MM   0,\tgp4 ,  gp5   ; inline\n"
      "M_MM 0, gp4, gp5 // inline\n"
      "M_MM 0, gp4, gp5;\n"
      "M_MM 0,gp4,gp5\r\n"
      "S_ADDI_INT gp1, gp0, 0012\n"
      "   \t  \n";
  Program p = assemble(src, "ok.asm");
  ASSERT_EQ(p.words.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(p.words[i], 0x00015001u);
  EXPECT_EQ(p.words[4], 0x22u | 1u << 6 | 12u << 14);
  EXPECT_EQ(p.lines, (std::vector<int>{4, 5, 6, 7, 8}));
  EXPECT_TRUE(assemble("", "e.asm").words.empty());
  EXPECT_TRUE(assemble("; nothing\n", "e.asm").words.empty());
}

TEST(IsaAssembler, EquAndWordExtensions) {
  Program p = assemble(
      ".equ ROWS, 0x10\n"
      ".equ ALIAS, ROWS\n"
      ".equ MASK, 3\n"
      "S_ADDI_INT gp2, gp0, ROWS\n"
      "V_ADD_VV gp1, gp2, gp3, MASK\n"
      "C_LOOP_START gp7, ALIAS\n"
      ".word 0xDEADBEEF\n"
      ".word 7\n",
      "e.asm");
  ASSERT_EQ(p.words.size(), 5u);
  EXPECT_EQ(p.words[0], 0x22u | 2u << 6 | 16u << 14);
  EXPECT_EQ(p.words[1], 0x0Du | 1u << 6 | 2u << 10 | 3u << 14 | 3u << 18);
  EXPECT_EQ(p.words[2], 0x2Fu | 7u << 6 | 16u << 10);
  EXPECT_EQ(p.words[3], 0xDEADBEEFu);
  EXPECT_EQ(p.words[4], 7u);
  // Named constants are range checked like literals.
  EXPECT_NE(error_of(".equ BIG, 262144\nS_ADDI_INT gp1, gp0, BIG").find("bad.asm:2:22: error: immediate 262144"),
            std::string::npos);
}

TEST(IsaAssembler, Listing) {
  std::string src = "; head\nM_MM 0, gp4, gp5\n.equ A, 1\nC_BREAK\n";
  Program p = assemble(src, "l.asm");
  EXPECT_EQ(listing(p, src),
            "                    ; head\n"
            "0x0000  0x00015001  M_MM 0, gp4, gp5\n"
            "                    .equ A, 1\n"
            "0x0001  0x00000034  C_BREAK\n");
}

TEST(IsaAssembler, MemTextAndBinaryIo) {
  std::vector<uint32_t> words = {0x00015001, 0xFFFFFFFF, 0x00000000, 0x0040C86A};
  EXPECT_EQ(to_mem_text(words), "0x00015001\n0xFFFFFFFF\n0x00000000\n0x0040C86A\n");
  EXPECT_EQ(parse_mem_text(to_mem_text(words)), words);
  EXPECT_EQ(parse_mem_text("0x1\r\n\n  0xabcdef01 // c\n"), (std::vector<uint32_t>{1, 0xABCDEF01}));
  std::vector<uint8_t> bin = to_binary(words);
  ASSERT_EQ(bin.size(), 16u);
  EXPECT_EQ(bin[0], 0x01);
  EXPECT_EQ(bin[1], 0x50);
  EXPECT_EQ(bin[2], 0x01);
  EXPECT_EQ(bin[3], 0x00);
  EXPECT_EQ(parse_binary(bin), words);
  std::vector<uint8_t> odd(bin.begin(), bin.begin() + 5);
  EXPECT_THROW(parse_binary(odd, "x.bin"), plena::InputError);
  for (const char* bad : {"0x123456789", "12345678", "0xG", "0x", "0x1 0x2"}) {
    try {
      parse_mem_text(std::string("0x1\n") + bad, "p.mem");
      ADD_FAILURE() << bad;
    } catch (const plena::InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("p.mem:2:1: error: malformed instruction word", 0), 0u) << e.what();
    }
  }
}

TEST(IsaAssembler, DisassemblerCanonicalText) {
  EXPECT_EQ(disassemble_word(0x00015001), "M_MM 0, gp4, gp5");
  EXPECT_EQ(disassemble_word(0x00000855), "V_RED_SUM f1, gp2");
  EXPECT_EQ(disassemble_word(0x000408E9), "H_PREFETCH_V gp3, gp2, a0, 1, 0");
  EXPECT_EQ(disassemble_word(0x0000144B), "M_MV_WO gp1, 5");
  EXPECT_EQ(disassemble_word(0x00000034), "C_BREAK");
  EXPECT_EQ(disassemble_word(0x00000000), ".word 0x00000000");  // invalid opcode
  EXPECT_EQ(disassemble_word(0x04000001), ".word 0x04000001");  // bit 26 set
  EXPECT_EQ(disassemble_word(0x00020035), ".word 0x00020035");  // V_MAX_VF with f8
  EXPECT_EQ(disassemble_word(0x00004015), ".word 0x00004015");  // V_RED_SUM with rs2 bits set
  EXPECT_EQ(disassemble_word(0x00004835), "V_MAX_VF gp0, gp2, f1, 0");
}

TEST(IsaAssembler, ExamplesAssembleAndRoundTrip) {
  namespace fs = std::filesystem;
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(PLENA_SOURCE_DIR) / "examples" / "asm")) {
    if (e.path().extension() != ".asm") continue;
    SCOPED_TRACE(e.path().string());
    Program p = assemble(plena::read_text_file(e.path()), e.path().string());
    EXPECT_GT(p.words.size(), 5u);
    for (uint32_t w : p.words) EXPECT_TRUE(is_canonical(w)) << std::hex << w;
    EXPECT_EQ(assemble(disassemble_program(p.words)).words, p.words);
    ++n;
  }
  EXPECT_GE(n, 2);
}

// One oversized operand must not flood stderr: messages quote at most 40 characters of a token.
TEST(IsaAssembler, LongTokensAreClippedInMessages) {
  const std::string huge(5000, 'x');
  for (const std::string& src : {"M_MM " + huge, "S_ADD_INT gp1, gp2, " + std::string(3000, '9'), "S_ADD_INT gp1" + huge}) {
    const std::string msg = error_of(src);
    EXPECT_NE(msg, "<no error>");
    EXPECT_LT(msg.size(), 300u) << msg.substr(0, 300);
  }
  EXPECT_NE(error_of("M_MM " + huge).find("(5000 characters)"), std::string::npos);
}

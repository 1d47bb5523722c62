// The opcode table against the upstream opcode/class listing (plena_compiler.md §2), written out by hand.
#include <gtest/gtest.h>

#include <set>

#include "isa/isa.hpp"
#include "isa/static_form.hpp"

using namespace plena::isa;

namespace {

struct Expected {
  const char* mnemonic;
  unsigned code;
  const char* cls;
};

// Upstream CUSTOM_ISA_OPCODE values and assembler encoding classes.
const Expected kExpected[] = {
    {"M_MM", 0x01, "R3"}, {"M_TMM", 0x02, "R3"}, {"M_BMM", 0x03, "R3"}, {"M_BTMM", 0x04, "R3"},
    {"M_BMM_WO", 0x05, "I22"}, {"M_MM_WO", 0x06, "I18"}, {"M_MV", 0x07, "R3"}, {"M_TMV", 0x08, "R3"},
    {"M_BMV", 0x09, "R3"}, {"M_BTMV", 0x0A, "R3"}, {"M_MV_WO", 0x0B, "I22"}, {"M_BMV_WO", 0x0C, "I22"},
    {"V_ADD_VV", 0x0D, "VM"}, {"V_ADD_VF", 0x0E, "VM"}, {"V_SUB_VV", 0x0F, "VM"}, {"V_SUB_VF", 0x10, "MEM"},
    {"V_MUL_VV", 0x11, "VM"}, {"V_MUL_VF", 0x12, "VM"}, {"V_EXP_V", 0x13, "I18"}, {"V_RECI_V", 0x14, "I18"},
    {"V_RED_SUM", 0x15, "R1"}, {"V_RED_MAX", 0x16, "I18"}, {"S_ADD_FP", 0x17, "R3"}, {"S_SUB_FP", 0x18, "R3"},
    {"S_MAX_FP", 0x19, "R3"}, {"S_MUL_FP", 0x1A, "R3"}, {"S_EXP_FP", 0x1B, "R1"}, {"S_RECI_FP", 0x1C, "R1"},
    {"S_SQRT_FP", 0x1D, "R1"}, {"S_LD_FP", 0x1E, "I18"}, {"S_ST_FP", 0x1F, "I18"}, {"S_MAP_V_FP", 0x20, "I18"},
    {"S_ADD_INT", 0x21, "R3"}, {"S_ADDI_INT", 0x22, "I18"}, {"S_SUB_INT", 0x23, "R3"}, {"S_MUL_INT", 0x24, "R3"},
    {"S_LUI_INT", 0x25, "I22"}, {"S_LD_INT", 0x26, "I18"}, {"S_ST_INT", 0x27, "I18"},
    {"H_PREFETCH_M", 0x28, "MEM"}, {"H_PREFETCH_V", 0x29, "MEM"}, {"H_STORE_V", 0x2A, "MEM"},
    {"C_SET_ADDR_REG", 0x2B, "R3"}, {"C_SET_SCALE_REG", 0x2C, "RD"}, {"C_SET_STRIDE_REG", 0x2D, "RD"},
    {"C_SET_V_MASK_REG", 0x2E, "RD"}, {"C_LOOP_START", 0x2F, "I22"}, {"C_LOOP_END", 0x30, "RD"},
    {"V_PS_V", 0x31, "R3"}, {"V_SHFT_V", 0x32, "R3"}, {"C_HADAMARD_TRANSFORM", 0x33, "R3"},
    {"C_BREAK", 0x34, "R0"}, {"V_MAX_VF", 0x35, "VM"}, {"V_MIN_VF", 0x36, "VM"}, {"V_TOPK", 0x37, "VM"},
};

}  // namespace

TEST(IsaTable, MatchesUpstreamOpcodesAndClasses) {
  ASSERT_EQ(std::size(kExpected), 55u);
  ASSERT_EQ(all_opcodes().size(), 55u);
  for (const Expected& e : kExpected) {
    const OpInfo* o = find_mnemonic(e.mnemonic);
    ASSERT_NE(o, nullptr) << e.mnemonic;
    EXPECT_EQ(o->code, e.code) << e.mnemonic;
    EXPECT_EQ(static_cast<unsigned>(o->op), e.code) << e.mnemonic;
    EXPECT_EQ(to_string(o->cls), e.cls) << e.mnemonic;
    EXPECT_EQ(&info(o->op), o);
    EXPECT_EQ(mnemonic(o->op), e.mnemonic);
  }
}

TEST(IsaTable, DenseUniqueAndLookups) {
  std::set<std::string_view> names;
  unsigned expect = 0x01;
  for (const OpInfo& o : all_opcodes()) {
    EXPECT_EQ(o.code, expect++);
    EXPECT_TRUE(names.insert(o.mnemonic).second) << o.mnemonic;
    EXPECT_FALSE(o.semantics.empty()) << o.mnemonic;
    EXPECT_EQ(o.form.count == 0, o.op == Opcode::C_BREAK) << o.mnemonic;  // only C_BREAK has no operands
  }
  EXPECT_FALSE(is_valid_opcode(0x00));
  EXPECT_FALSE(is_valid_opcode(0x38));
  EXPECT_TRUE(is_valid_opcode(0x37));
  EXPECT_EQ(find_mnemonic("m_mm"), nullptr);
  EXPECT_EQ(find_mnemonic("S_MV_FP"), nullptr);  // upstream assembler knows it, the enum does not
  EXPECT_THROW(info(static_cast<Opcode>(0)), std::out_of_range);
  EXPECT_THROW(info(static_cast<Opcode>(0x38)), std::out_of_range);
}

TEST(IsaTable, RtlOnlyOpcodes) {
  for (const OpInfo& o : all_opcodes())
    EXPECT_EQ(o.rtl_only, o.op == Opcode::V_PS_V || o.op == Opcode::C_HADAMARD_TRANSFORM) << o.mnemonic;
  EXPECT_EQ(info(Opcode::V_PS_V).latency, Latency::VecPrefixScan);
  EXPECT_EQ(info(Opcode::C_HADAMARD_TRANSFORM).latency, Latency::Hadamard);
}

TEST(IsaTable, FlagFieldLocations) {
  // rmask of the I18 vector ops lives in imm (bit 14 up); V_RED_SUM drops it.
  for (Opcode op : {Opcode::V_EXP_V, Opcode::V_RECI_V, Opcode::V_RED_MAX}) EXPECT_EQ(info(op).mask_field, Field::Imm);
  EXPECT_EQ(info(Opcode::V_RED_SUM).mask_field, Field::None);
  for (Opcode op : {Opcode::V_ADD_VV, Opcode::V_ADD_VF, Opcode::V_SUB_VV, Opcode::V_SUB_VF, Opcode::V_MUL_VV,
                    Opcode::V_MUL_VF, Opcode::V_MAX_VF, Opcode::V_MIN_VF})
    EXPECT_EQ(info(op).mask_field, Field::Rs3) << mnemonic(op);
  for (Opcode op : {Opcode::H_PREFETCH_M, Opcode::H_PREFETCH_V, Opcode::H_STORE_V}) {
    EXPECT_EQ(info(op).precision_field, Field::Funct1);
    EXPECT_EQ(info(op).rstride_field, Field::Rs3);
    EXPECT_EQ(info(op).unit, Unit::Dma);
  }
  EXPECT_EQ(info(Opcode::V_SUB_VF).rorder_field, Field::Funct1);
  EXPECT_EQ(info(Opcode::V_ADD_VF).rorder_field, Field::None);
  EXPECT_EQ(info(Opcode::S_ADDI_INT).imm_bits, 18);
  EXPECT_EQ(info(Opcode::C_LOOP_START).imm_bits, 22);
  EXPECT_EQ(info(Opcode::M_MV_WO).imm_bits, 22);
  EXPECT_EQ(info(Opcode::S_ADD_INT).imm_bits, 0);
}

TEST(IsaTable, UnitsAndLatencyClasses) {
  EXPECT_EQ(info(Opcode::M_MM).unit, Unit::Matrix);
  EXPECT_EQ(info(Opcode::M_MM).latency, Latency::MatMul);
  EXPECT_EQ(info(Opcode::M_BTMM).latency, Latency::BatchMatMul);
  EXPECT_EQ(info(Opcode::M_BTMV).latency, Latency::BatchMatVec);
  EXPECT_EQ(info(Opcode::M_TMV).latency, Latency::MatVec);
  for (Opcode op : {Opcode::M_MM_WO, Opcode::M_MV_WO, Opcode::M_BMM_WO, Opcode::M_BMV_WO})
    EXPECT_EQ(info(op).latency, Latency::MatWriteOut);
  EXPECT_EQ(info(Opcode::V_RED_SUM).latency, Latency::VecSum);
  EXPECT_EQ(info(Opcode::V_RED_MAX).latency, Latency::VecMax);
  EXPECT_EQ(info(Opcode::S_SQRT_FP).latency, Latency::ScalarFpSqrt);
  EXPECT_EQ(info(Opcode::S_LD_INT).latency, Latency::ScalarIntMem);
  EXPECT_EQ(info(Opcode::S_ADDI_INT).unit, Unit::ScalarInt);
  EXPECT_EQ(info(Opcode::S_ADD_FP).unit, Unit::ScalarFp);
  EXPECT_EQ(info(Opcode::C_LOOP_END).unit, Unit::Control);
  EXPECT_EQ(info(Opcode::V_TOPK).latency, Latency::VecTopK);
  EXPECT_EQ(info(Opcode::H_STORE_V).latency, Latency::StoreV);
}

TEST(IsaTable, CountsAndBoundsComeFromTheTable) {
  ASSERT_EQ(static_cast<size_t>(kNumOpcodes), all_opcodes().size());
  EXPECT_EQ(kMinOpcode, all_opcodes().front().code);
  EXPECT_EQ(kMaxOpcode, all_opcodes().back().code);
  // Binary compatibility with upstream pins today's values (a new opcode changes them here only).
  EXPECT_EQ(kNumOpcodes, 55);
  EXPECT_EQ(kMaxOpcode, 0x37);
  for (const OpInfo& o : all_opcodes()) {
    EXPECT_EQ(unit_of(o.op), o.unit) << o.mnemonic;
    EXPECT_EQ(latency_of(o.op), o.latency) << o.mnemonic;
  }
}

// Every opcode inside a unit's [first, last] belongs to the unit exactly when the range is
// contiguous; first and last are the unit's smallest and largest opcodes.
TEST(IsaTable, UnitRangesMatchTheTable) {
  for (int k = 0; k < kNumUnits; ++k) {
    const Unit u = static_cast<Unit>(k);
    const OpcodeRange r = unit_range(u);
    int members = 0, inside = 0;
    for (const OpInfo& o : all_opcodes()) {
      EXPECT_EQ(is_unit(o.op, u), o.unit == u) << o.mnemonic;
      if (o.unit == u) {
        ++members;
        EXPECT_TRUE(r.contains(o.op)) << o.mnemonic;
      }
      if (r.contains(o.op)) {
        ++inside;
        if (r.contiguous) {
          EXPECT_EQ(o.unit, u) << to_string(u) << " range holds " << o.mnemonic;
        }
      }
    }
    ASSERT_GT(members, 0) << to_string(u);
    EXPECT_EQ(r.contiguous, members == inside) << to_string(u);
    EXPECT_EQ(info(r.first).unit, u);
    EXPECT_EQ(info(r.last).unit, u);
  }
  EXPECT_EQ(unit_range(Unit::Matrix).first, Opcode::M_MM);
  EXPECT_EQ(unit_range(Unit::Matrix).last, Opcode::M_BMV_WO);
  EXPECT_TRUE(unit_range(Unit::Matrix).contiguous);
  EXPECT_TRUE(unit_range(Unit::Dma).contiguous);
  EXPECT_FALSE(unit_range(Unit::Vector).contiguous);  // V_PS_V, V_SHFT_V, ... came later
  EXPECT_FALSE(unit_range(Unit::Control).contiguous);
  EXPECT_FALSE(is_unit(static_cast<Opcode>(0), Unit::Matrix));
  EXPECT_FALSE(is_unit(static_cast<Opcode>(0x38), Unit::Vector));
}

TEST(IsaTable, LatencyClassTable) {
  std::set<Latency> used;
  for (const OpInfo& o : all_opcodes()) used.insert(o.latency);
  for (int k = 0; k < kNumLatencyClasses; ++k) {
    const LatencyInfo& c = kLatencyClasses[k];
    EXPECT_EQ(static_cast<int>(c.cls), k) << c.name;  // table order is enumerator order
    EXPECT_EQ(&latency_info(c.cls), &c);
    EXPECT_EQ(to_string(c.cls), c.name);
    EXPECT_TRUE(used.count(c.cls)) << c.name << " has no opcode";
    EXPECT_EQ(c.key.empty(), c.rule == LatencyRule::Dram) << c.name;
  }
  // DMA opcodes, and only they, take their time from the DRAM model.
  for (const OpInfo& o : all_opcodes())
    EXPECT_EQ(latency_info(o.latency).rule == LatencyRule::Dram, o.unit == Unit::Dma) << o.mnemonic;
  // The reference charges VECTOR_MAX_CYCLES for V_MAX_VF and V_MIN_VF (plena_simulator.md).
  EXPECT_EQ(info(Opcode::V_MAX_VF).latency, Latency::VecMax);
  EXPECT_EQ(info(Opcode::V_MIN_VF).latency, Latency::VecMax);
  EXPECT_EQ(latency_info(Latency::VecMax).key, "vector_max");
  EXPECT_EQ(latency_info(Latency::MatMul).rule, LatencyRule::SystolicPlusKey);
  EXPECT_EQ(latency_info(Latency::MatVec).rule, LatencyRule::Key);
  EXPECT_EQ(latency_info(Latency::Hadamard).rule, LatencyRule::KeyPerStage);
}

// Upstream's parser: operand position -> slot (plena_compiler.md §2), and the fields each class
// encodes; every FORM operand sits where upstream reads its field.
TEST(IsaTable, UpstreamPositions) {
  EXPECT_EQ(upstream_slot(0, true), Field::Rd);
  EXPECT_EQ(upstream_slot(0, false), Field::Rd);
  EXPECT_EQ(upstream_slot(1, true), Field::Rs1);
  EXPECT_EQ(upstream_slot(1, false), Field::Imm);
  EXPECT_EQ(upstream_slot(2, true), Field::Rs2);
  EXPECT_EQ(upstream_slot(2, false), Field::Imm);
  EXPECT_EQ(upstream_slot(3, false), Field::Rs3);
  EXPECT_EQ(upstream_slot(4, false), Field::Funct1);
  EXPECT_EQ(upstream_slot(5, false), Field::None);
  EXPECT_TRUE(class_has(EncClass::I22, Field::Imm));
  EXPECT_FALSE(class_has(EncClass::I22, Field::Rs1));
  EXPECT_FALSE(class_has(EncClass::R1, Field::Rs2));
  EXPECT_FALSE(class_has(EncClass::VM, Field::Funct1));
  EXPECT_TRUE(class_has(EncClass::MEM, Field::Funct1));
  EXPECT_FALSE(class_has(EncClass::R0, Field::Rd));
  for (const OpInfo& o : all_opcodes())
    for (int k = 0; k < o.form.count; ++k) {
      const Operand& op = o.form.ops[k];
      EXPECT_TRUE(class_has(o.cls, op.field)) << o.mnemonic;
      EXPECT_TRUE(upstream_slot(k, true) == op.field || upstream_slot(k, false) == op.field) << o.mnemonic << " " << k;
      EXPECT_EQ(form_operand(o, op.field), &op);
    }
  EXPECT_EQ(form_operand(info(Opcode::V_RED_SUM), Field::Rs3), nullptr);  // R1 drops the rmask
  EXPECT_EQ(form_operand(info(Opcode::V_PS_V), Field::Rs2)->optional, true);
}

// The compile-time FORM parse (isa/static_form.hpp) reads the table as the run-time one does.
TEST(IsaTable, StaticFormMatchesTheRunTimeForm) {
  for (const OpInfo& inf : all_opcodes()) {
    const StaticForm s = static_form(inf.op);
    ASSERT_EQ(s.count, inf.form.count) << inf.mnemonic;
    EXPECT_EQ(s.min_count, inf.form.min_count) << inf.mnemonic;
    for (size_t k = 0; k < s.count; ++k) {
      EXPECT_EQ(s.ops[k].kind, inf.form.ops[k].kind) << inf.mnemonic << " operand " << k;
      EXPECT_EQ(s.ops[k].optional, inf.form.ops[k].optional) << inf.mnemonic << " operand " << k;
    }
  }
}

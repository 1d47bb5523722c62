// The typed builder methods (compiler/builder_ops.def): one per opcode, with the operand kinds
// of the opcode's FORM. Every method is called with sample registers at every allowed operand
// count; the word must validate, put each operand in the field FORM names, and assemble from
// the same text.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

#include "compiler/compiler.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;

namespace {

// A sample value for typed operand I: distinct per position, so swapped fields show.
constexpr uint32_t sample_value(isa::OperandKind k, size_t i) {
  switch (k) {
    case isa::OperandKind::Gp: return uint32_t(3 + i);
    case isa::OperandKind::Fp: return uint32_t(1 + i);
    case isa::OperandKind::Hbm: return uint32_t(1 + i);
    case isa::OperandKind::Imm: return uint32_t(100 + i);
    case isa::OperandKind::Flag: return uint32_t(1 + i);
    case isa::OperandKind::ZeroOrGp: return 0;
  }
  return 0;
}

template <isa::Opcode Op, size_t I>
auto sample_arg() {
  constexpr isa::OperandKind k = detail::typed_form(Op).ops[I].kind;
  constexpr uint32_t v = sample_value(k, I);
  if constexpr (k == isa::OperandKind::Gp) return GpReg{uint8_t(v)};
  else if constexpr (k == isa::OperandKind::Fp) return FpReg{uint8_t(v)};
  else if constexpr (k == isa::OperandKind::Hbm) return HbmReg{uint8_t(v)};
  else return v;
}

template <isa::Opcode Op, class F, size_t... I>
void call_with(F& f, std::index_sequence<I...>) {
  f(sample_arg<Op, I>()...);
}

// f(samples...) once for each operand count the method accepts, fewest first.
template <isa::Opcode Op, class F>
void call_every_arity(F&& f) {
  constexpr isa::StaticForm form = detail::typed_form(Op);
  [&]<size_t... N>(std::index_sequence<N...>) {
    (call_with<Op>(f, std::make_index_sequence<form.min_count + N>{}), ...);
  }(std::make_index_sequence<form.count - form.min_count + 1>{});
}

struct Method {
  isa::Opcode op;
  std::string name;
  void (*emit_all)(ProgramBuilder&);
};
const std::vector<Method>& methods() {
  static const std::vector<Method> m = {
#define PLENA_BUILDER_OP(method, OP)                                                            \
  {isa::Opcode::OP, #method, [](ProgramBuilder& b) {                                             \
     call_every_arity<isa::Opcode::OP>([&](const auto&... a) { b.method(a...); });               \
   }},
#include "compiler/builder_ops.def"
  };
  return m;
}

uint32_t field_of(const isa::Instr& in, isa::Field f) { return f == isa::Field::Imm ? in.imm : isa::field_value(in, f); }

// The operand text the assembler reads for FORM operand `o` with value v.
std::string operand_text(const isa::Operand& o, uint32_t v) {
  switch (o.kind) {
    case isa::OperandKind::Gp:
    case isa::OperandKind::ZeroOrGp: return fmt::format("gp{}", v);
    case isa::OperandKind::Fp: return fmt::format("f{}", v);
    case isa::OperandKind::Hbm: return fmt::format("a{}", v);
    default: return fmt::format("{}", v);
  }
}

}  // namespace

TEST(BuilderTyped, EveryOpcodeHasItsLowerCaseMethod) {
  std::set<isa::Opcode> seen;
  for (const Method& m : methods()) {
    EXPECT_TRUE(seen.insert(m.op).second) << m.name;
    std::string want(isa::mnemonic(m.op));
    for (char& c : want) c = char(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(m.name, want);
  }
  EXPECT_EQ(seen.size(), size_t(isa::kNumOpcodes));
}

TEST(BuilderTyped, OperandsLandInTheFieldsTheFormNames) {
  for (const Method& m : methods()) {
    SCOPED_TRACE(m.name);
    ProgramBuilder b(config::HardwareConfig{}, "default");
    m.emit_all(b);
    const isa::OpInfo& inf = isa::info(m.op);
    const isa::StaticForm typed = detail::typed_form(m.op);
    const size_t skip = detail::has_placeholder(m.op) ? 1 : 0;
    ASSERT_EQ(b.instrs().size(), size_t(typed.count - typed.min_count + 1));
    for (size_t j = 0; j < b.instrs().size(); ++j) {
      const isa::Instr& in = b.instrs()[j];
      const size_t given = typed.min_count + j;  // typed operands passed to this call
      EXPECT_EQ(in.op, m.op);
      EXPECT_EQ(isa::validate(in), "");
      std::string text(inf.mnemonic);
      for (size_t k = 0; k < inf.form.count; ++k) {
        const isa::Operand& o = inf.form.ops[k];
        const bool passed = k >= skip && k - skip < given;
        const uint32_t want = passed ? sample_value(o.kind, k - skip) : 0;
        EXPECT_EQ(field_of(in, o.field), want) << "operand " << k << " (" << o.role << ")";
        if (k < skip + given) text += (k == 0 ? " " : ", ") + operand_text(o, want);
      }
      // The assembler places the same operands from text: the same word.
      EXPECT_EQ(isa::assemble(text, "typed.asm").words, std::vector<uint32_t>{isa::encode(in)}) << text;
    }
  }
}

// Arguments of the wrong kind or count do not compile (the constraint rejects them).
template <class... A>
concept MmAccepts = requires(ProgramBuilder& b, A... a) { b.m_mm(a...); };
template <class... A>
concept AddVvAccepts = requires(ProgramBuilder& b, A... a) { b.v_add_vv(a...); };
template <class... A>
concept PrefetchAccepts = requires(ProgramBuilder& b, A... a) { b.h_prefetch_v(a...); };
static_assert(MmAccepts<GpReg, GpReg> && MmAccepts<ScopedGp, const GpReg>);
static_assert(!MmAccepts<GpReg, GpReg, GpReg>, "the zgp placeholder is not a parameter");
static_assert(!MmAccepts<FpReg, GpReg> && !MmAccepts<GpReg> && !MmAccepts<GpReg, uint32_t>);
static_assert(AddVvAccepts<GpReg, GpReg, GpReg> && AddVvAccepts<GpReg, GpReg, GpReg, int>);
static_assert(!AddVvAccepts<GpReg, GpReg, FpReg> && !AddVvAccepts<GpReg, GpReg, GpReg, GpReg>);
static_assert(!AddVvAccepts<GpReg, GpReg, GpReg, bool>, "a flag is a number, not a bool");
static_assert(PrefetchAccepts<GpReg, GpReg, HbmReg, uint32_t, uint32_t> && !PrefetchAccepts<GpReg, GpReg, GpReg>);

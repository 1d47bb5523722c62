// ProgramBuilder: exact words, listing round trip, register allocation, immediates and loops
// (checked by the independent interpreter in interp.hpp, never by the builder's own arithmetic).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "compiler/compiler.hpp"
#include "interp.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using isa::Instr;
using isa::Opcode;

namespace {

config::HardwareConfig cfg() { return config::HardwareConfig{}; }

std::vector<uint32_t> encode_all(const std::vector<Instr>& v) {
  std::vector<uint32_t> w;
  for (const auto& i : v) w.push_back(isa::encode(i));
  return w;
}

void expect_assembles_to_words(const ProgramBuilder& b) {
  isa::Program p = isa::assemble(b.assembly(), "builder.asm");
  EXPECT_EQ(p.words, b.words()) << b.assembly();
}

uint32_t run_load(uint64_t value, size_t* count = nullptr) {
  ProgramBuilder b(cfg(), "default");
  auto r = b.regs().gp("value");
  b.load_imm(r, value);
  if (count) *count = b.size();
  test::Interp in;
  in.gp[r.index] = 0xDEADBEEF;  // load_imm must not depend on the old value
  in.run(b.words());
  return in.gp[r.index];
}

}  // namespace

TEST(Builder, EmitsExactWords) {
  ProgramBuilder b(cfg(), "default");
  GpReg g1{1}, g2{2}, g3{3};
  FpReg f2{2};
  HbmReg a1{1};
  b.m_mm(g1, g2);
  b.m_mm_wo(g3, gp0, 4);
  b.v_add_vf(g1, g2, f2, 3);
  b.v_sub_vf(g1, g2, f2, 0, 1);
  b.v_exp_v(g1, g2, 5);
  b.v_red_sum(f2, g3);
  b.s_addi_int(g1, g2, 262143);
  b.s_lui_int(g2, 0x3FFFFF);
  b.h_prefetch_m(g1, g2, a1, 1, 0);
  b.h_store_v(g1, g2, a1, 0, 1);
  b.c_set_addr_reg(a1, gp0, g2);
  b.c_loop_start(g3, 17);
  b.c_loop_end(g3);
  b.c_break();
  b.s_exp_fp(f2, FpReg{1});

  std::vector<Instr> want = {
      {Opcode::M_MM, 0, 1, 2},
      {Opcode::M_MM_WO, 3, 0, 0, 0, 0, 4},
      {Opcode::V_ADD_VF, 1, 2, 2, 3},
      {Opcode::V_SUB_VF, 1, 2, 2, 0, 1},
      {Opcode::V_EXP_V, 1, 2, 0, 0, 0, 5},
      {Opcode::V_RED_SUM, 2, 3},
      {Opcode::S_ADDI_INT, 1, 2, 0, 0, 0, 262143},
      {Opcode::S_LUI_INT, 2, 0, 0, 0, 0, 0x3FFFFF},
      {Opcode::H_PREFETCH_M, 1, 2, 1, 1, 0},
      {Opcode::H_STORE_V, 1, 2, 1, 0, 1},
      {Opcode::C_SET_ADDR_REG, 1, 0, 2},
      {Opcode::C_LOOP_START, 3, 0, 0, 0, 0, 17},
      {Opcode::C_LOOP_END, 3},
      {Opcode::C_BREAK},
      {Opcode::S_EXP_FP, 2, 1},
  };
  EXPECT_EQ(b.instrs(), want);
  EXPECT_EQ(b.words(), encode_all(want));
  expect_assembles_to_words(b);
}

TEST(Builder, GenericEmitIsCheckedAgainstTheForm) {
  ProgramBuilder b(cfg(), "default");
  b.emit(Opcode::S_ADD_INT, {GpReg{1}, GpReg{2}, GpReg{3}});
  EXPECT_EQ(b.instrs().back(), (Instr{Opcode::S_ADD_INT, 1, 2, 3}));
  EXPECT_THROW(b.emit(Opcode::S_ADD_INT, {GpReg{1}, FpReg{2}, GpReg{3}}), std::logic_error);  // class
  EXPECT_THROW(b.emit(Opcode::S_ADD_INT, {GpReg{1}, GpReg{2}}), std::logic_error);            // count
  EXPECT_THROW(b.emit(Opcode::S_ADDI_INT, {GpReg{1}, GpReg{2}, imm(1u << 18)}), std::logic_error);
  EXPECT_THROW(b.emit(Opcode::C_LOOP_START, {GpReg{1}, imm(1u << 22)}), std::logic_error);
  EXPECT_THROW(b.v_add_vv(GpReg{1}, GpReg{2}, GpReg{3}, 16), std::logic_error);  // flag range
  EXPECT_THROW(b.emit(Opcode::M_MM, {GpReg{1}, GpReg{2}, GpReg{3}, GpReg{4}}), std::logic_error);
  EXPECT_THROW(b.emit(Opcode::H_PREFETCH_V, {GpReg{1}, GpReg{2}, GpReg{3}}), std::logic_error);  // hbm class
  EXPECT_THROW(b.emit(Opcode::V_RED_SUM, {FpReg{1}, GpReg{2}, imm(3)}), std::logic_error);  // dropped rmask
  EXPECT_THROW(b.h_prefetch_v(GpReg{1}, GpReg{2}, HbmReg{8}, 0, 0), std::logic_error);      // a8 does not exist
  EXPECT_EQ(b.size(), 1u);  // nothing half-emitted
}

TEST(Builder, ListingCarriesHeaderCommentsAndAssemblesToTheSameWords) {
  auto generate = [](ProgramBuilder& b) {
    b.stage("layer 0");
    b.comment("layer 0 / q_proj\nsecond line");
    b.label("start");
    auto r = b.regs().gp("x");
    b.load_imm(r, 0x12345678);
    b.loop(3, LoopPolicy::hardware(), [&] { b.add_imm(r, r, 5); });
    b.comment("end");
  };
  ProgramBuilder b(cfg(), "default");
  generate(b);
  std::string text = b.assembly();
  EXPECT_NE(text.find("; plena-config-hash: " + config::canonical_hash(cfg())), std::string::npos);
  EXPECT_NE(text.find("; plena-config: default"), std::string::npos);
  EXPECT_NE(text.find("; ==== stage: layer 0 ===="), std::string::npos);
  EXPECT_NE(text.find("; layer 0 / q_proj\n"), std::string::npos);
  EXPECT_NE(text.find("; second line\n"), std::string::npos);
  EXPECT_NE(text.find("; label: start"), std::string::npos);
  EXPECT_NE(text.find("\n  S_ADDI_INT"), std::string::npos);  // loop body indented
  EXPECT_EQ(b.label_index("start"), 0u);
  EXPECT_THROW(b.label("start"), std::logic_error);
  EXPECT_EQ(program_config_hash(text), config::canonical_hash(cfg()));
  EXPECT_EQ(program_config_hash("S_ADDI_INT gp1, gp0, 1\n; plena-config-hash: 0123456789abcdef\n"), "");
  expect_assembles_to_words(b);

  // Determinism: the same generator gives the same bytes.
  ProgramBuilder b2(cfg(), "default");
  generate(b2);
  EXPECT_EQ(b2.assembly(), text);
}

TEST(Builder, ConfigHashDiffersAcrossConfigs) {
  config::HardwareConfig other = cfg();
  other.geometry.blen = 8;
  ProgramBuilder a(cfg(), "a"), b(other, "b");
  EXPECT_NE(program_config_hash(a.assembly()), program_config_hash(b.assembly()));
  EXPECT_EQ(program_config_hash(b.assembly()), config::canonical_hash(other));
}

TEST(Registers, ExhaustionNamesKernelAndLiveRegisters) {
  RegisterAllocator ra(8);
  auto k = ra.kernel("linear");
  std::vector<ScopedGp> held;
  for (int i = 1; i <= 15; ++i) {
    held.push_back(ra.gp(fmt::format("r{}", i)));
    EXPECT_EQ(held.back().index, i);
  }
  EXPECT_EQ(ra.live_gp(), 15);
  try {
    auto extra = ra.gp("k_counter");
    FAIL() << "expected exhaustion";
  } catch (const InputError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("kernel 'linear'"), std::string::npos) << m;
    EXPECT_NE(m.find("k_counter"), std::string::npos) << m;
    EXPECT_NE(m.find("gp1=r1 (linear)"), std::string::npos) << m;
    EXPECT_NE(m.find("gp15=r15 (linear)"), std::string::npos) << m;
    EXPECT_NE(m.find("15 usable"), std::string::npos) << m;
  }
  held.erase(held.begin() + 4);  // frees gp5
  auto again = ra.gp("reuse");
  EXPECT_EQ(again.index, 5);
  EXPECT_EQ(ra.peak_gp(), 15);

  std::vector<ScopedFp> fps;
  for (int i = 1; i <= 7; ++i) fps.push_back(ra.fp("f"));
  EXPECT_THROW(ra.fp("one too many"), InputError);
}

TEST(Registers, ScopedReleaseAndMove) {
  RegisterAllocator ra(2);
  {
    auto a = ra.hbm("w");
    auto b = ra.hbm("x");
    EXPECT_EQ(a.index, 0);
    EXPECT_EQ(b.index, 1);
    EXPECT_THROW(ra.hbm("y"), InputError);  // config with two address registers
    ScopedHbm moved = std::move(a);
    EXPECT_EQ(ra.live_hbm(), 2);
  }
  EXPECT_EQ(ra.live_hbm(), 0);
  {
    auto outer = ra.kernel("attention");
    auto inner = ra.kernel("qkt");
    EXPECT_EQ(ra.current_kernel(), "attention/qkt");
  }
  EXPECT_EQ(ra.current_kernel(), "<top level>");
}

TEST(Immediates, LoadImmEdgeValuesInterpreted) {
  const uint64_t values[] = {0,           1,           4095,        4096,      (1u << 18) - 1, 1u << 18,
                             (1u << 18) + 1, 0x12345678, (1u << 30) + 5, 0xFFFFF000u, 0xFFFFFFFFu, 0x80000000u};
  for (uint64_t v : values) {
    size_t n = 0;
    EXPECT_EQ(run_load(v, &n), uint32_t(v)) << v;
    EXPECT_EQ(n, 2u) << v;  // fixed length: a kernel's count never depends on the values
  }
  ProgramBuilder b(cfg(), "default");
  EXPECT_THROW(b.load_imm(GpReg{1}, uint64_t(1) << 32), InputError);
  EXPECT_THROW(b.load_imm(gp0, 5), std::logic_error);
}

TEST(Immediates, AddAndSubImmInterpreted) {
  struct Case {
    uint32_t start;
    uint64_t add;
    bool same;  // dst == src
    bool sub;
  };
  const Case cases[] = {{7, 0, true, false},         {7, 5, true, false},          {7, 262143, false, false},
                        {7, 262144, true, false},    {7, 0x40000005, false, false}, {0xFFFFFFF0u, 0x20, true, false},
                        {100, 1, true, true},        {100, 300000, true, true},     {5, 10, false, true},
                        {0x12345678, 0x12345678, false, true}};
  for (const auto& c : cases) {
    ProgramBuilder b(cfg(), "default");
    auto src = b.regs().gp("src");
    auto dst = b.regs().gp("dst");
    GpReg d = c.same ? GpReg(src) : GpReg(dst);
    if (c.sub)
      b.sub_imm(d, src, c.add);
    else
      b.add_imm(d, src, c.add);
    EXPECT_EQ(b.regs().live_gp(), 2);  // scratch released
    test::Interp in;
    in.gp[src.index] = c.start;
    in.run(b.words());
    uint32_t want = c.sub ? uint32_t(c.start - uint32_t(c.add)) : uint32_t(c.start + uint32_t(c.add));
    EXPECT_EQ(in.gp[d.index], want) << c.start << (c.sub ? " - " : " + ") << c.add;
    if (!c.same) {
      EXPECT_EQ(in.gp[src.index], c.start);
    }
  }
}

TEST(Immediates, ControlRegistersAndAddresses) {
  ProgramBuilder b(cfg(), "default");
  auto a = b.regs().hbm("weights");
  b.set_addr_reg(a, 0x123456789ull);
  b.set_scale_reg(300000);
  b.set_stride_reg(64);
  b.set_v_mask(0);
  EXPECT_EQ(b.regs().live_gp(), 0);
  test::Interp in;
  in.vmask = 99;
  in.run(b.words());
  EXPECT_EQ(in.a[a.index], 0x123456789ull);
  EXPECT_EQ(in.scale, 300000u);
  EXPECT_EQ(in.stride, 64u);
  EXPECT_EQ(in.vmask, 0u);
  expect_assembles_to_words(b);
}

namespace {

// Three nested loops with induction registers that the body advances; the innermost body emits
// an M_MM whose operand values land in the trace.
struct Nest {
  std::vector<uint32_t> words;
  std::array<uint32_t, 3> finals{};
  std::vector<test::TraceEntry> trace;
  size_t static_size = 0;
};

Nest nested(LoopPolicy policy, uint64_t n0, uint64_t n1, uint64_t n2) {
  ProgramBuilder b(cfg(), "default");
  b.set_loop_policy(policy);
  auto k = b.kernel("nest");
  auto act = b.regs().gp("act");
  auto w = b.regs().gp("w");
  auto outer = b.regs().gp("outer");
  b.loop(n0, [&] {
    b.s_addi_int(w, gp0, 0);  // reset the inner induction variable each outer iteration
    b.loop(n1, [&] {
      b.loop(n2, [&] {
        b.m_mm(w, act);
        b.add_imm(w, w, 256);
        b.add_imm(act, act, 300000);  // large step: legalized inside the loop body
      });
      b.add_imm(outer, outer, 1);
    });
  });
  Nest r;
  r.words = b.words();
  r.static_size = b.size();
  test::Interp in;
  in.run(r.words);
  r.finals = {in.gp[act.index], in.gp[w.index], in.gp[outer.index]};
  r.trace = in.trace;
  return r;
}

}  // namespace

TEST(Loops, HardwareAndUnrollGiveTheSameDynamicBehaviour) {
  const uint64_t n0 = 3, n1 = 4, n2 = 5;
  Nest hw = nested(LoopPolicy::hardware(), n0, n1, n2);
  Nest un = nested(LoopPolicy::unroll(), n0, n1, n2);
  Nest au = nested(LoopPolicy::automatic(4), n0, n1, n2);  // inner 5 stays a loop, 3 and 4 unroll
  EXPECT_EQ(hw.trace.size(), n0 * n1 * n2);
  EXPECT_EQ(hw.trace, un.trace);
  EXPECT_EQ(hw.trace, au.trace);
  EXPECT_EQ(hw.finals, un.finals);
  EXPECT_EQ(hw.finals, au.finals);
  // Closed-form values the loop nest must reach.
  EXPECT_EQ(hw.finals[0], uint32_t(n0 * n1 * n2 * 300000));
  EXPECT_EQ(hw.finals[1], uint32_t(n1 * n2 * 256));
  EXPECT_EQ(hw.finals[2], uint32_t(n0 * n1));
  EXPECT_EQ(hw.trace[7].values, (std::vector<uint64_t>{0, 7 * 256, 7 * 300000}));  // M_MM 0, w, act
  // Hardware loops keep the static program small; unrolling multiplies it.
  EXPECT_LT(hw.static_size, 20u);
  EXPECT_GT(un.static_size, n0 * n1 * n2 * 3);
  EXPECT_LT(au.static_size, un.static_size);
}

TEST(Loops, TrivialCountsAndCounterRegisters) {
  ProgramBuilder b(cfg(), "default");
  b.loop(0, [&] { b.nop(); });
  EXPECT_EQ(b.size(), 0u);
  b.loop(1, [&] { b.nop(); });
  EXPECT_EQ(b.size(), 1u);
  int depth_seen = 0;
  b.loop(2, LoopPolicy::hardware(), [&] {
    depth_seen = b.loop_depth();
    EXPECT_EQ(b.regs().live_gp(), 1);  // the counter
  });
  EXPECT_EQ(depth_seen, 1);
  EXPECT_EQ(b.regs().live_gp(), 0);
  EXPECT_EQ(b.instrs()[1].op, Opcode::C_LOOP_START);
  EXPECT_EQ(b.instrs()[1].imm, 2u);
  EXPECT_EQ(b.instrs()[2].op, Opcode::C_LOOP_END);
  EXPECT_EQ(b.instrs()[1].rd, b.instrs()[2].rd);
}

TEST(Loops, NestingDeeperThanTheRegisterFileFailsWithContext) {
  ProgramBuilder b(cfg(), "default");
  auto k = b.kernel("deep");
  std::function<void(int)> nest = [&](int d) {
    if (d == 0) return b.nop();
    b.loop(2, LoopPolicy::hardware(), [&] { nest(d - 1); });
  };
  try {
    nest(16);
    FAIL() << "expected exhaustion";
  } catch (const InputError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("kernel 'deep'"), std::string::npos) << m;
    EXPECT_NE(m.find("loop counter (depth 16)"), std::string::npos) << m;
    EXPECT_NE(m.find("gp15=loop counter (depth 15)"), std::string::npos) << m;
  }
}

TEST(Loops, CountsAboveTheImmediateRangeAreSplit) {
  const uint64_t count = (uint64_t(1) << 22) + 3;  // 4194307 > 2^22 - 1
  ProgramBuilder b(cfg(), "default");
  auto acc = b.regs().gp("acc");
  int generated = 0;
  b.loop(count, LoopPolicy::hardware(), [&] {
    ++generated;
    b.add_imm(acc, acc, 1);
  });
  EXPECT_GE(generated, 2);  // the body is generated for the split and the remainder
  for (const auto& in : b.instrs())
    if (in.op == Opcode::C_LOOP_START) {
      EXPECT_LE(in.imm, kImm22Max);
    }
  test::Interp in;
  in.run(b.words(), 50000000);
  EXPECT_EQ(in.gp[acc.index], uint32_t(count));
  expect_assembles_to_words(b);
}

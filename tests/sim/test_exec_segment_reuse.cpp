// SegmentReuse: within one run, segments that repeat the one before (the layers of a model step,
// differing in HBM addresses only) take its timing when the proof holds. Every case runs the same
// program with segment reuse and with a plain simulator and requires identical results: executed
// count, every timing statistic and the registers the run leaves.
#include <fmt/format.h>

#include "sim/step_reuse.hpp"
#include "test_exec_util.hpp"

using namespace plena;
using namespace plena::sim;
using namespace plena::sim::test;

namespace {

SimOptions timing_only(DramFidelity f) {
  SimOptions o;
  o.mode = Mode::TimingOnly;
  o.timing.dram_fidelity = f;
  return o;
}

config::HardwareConfig decoupled_config() {
  config::HardwareConfig cfg = tiny_config();
  cfg.timing.mode = config::TimingMode::Decoupled;
  return cfg;
}

size_t count_instrs(const std::string& text) { return isa::assemble(text, "segment.asm").words.size(); }

struct Program {
  std::vector<isa::Instr> instrs;
  std::vector<uint64_t> bounds;
};

// A prologue, one segment per value (the segment text formatted with it) and an epilogue.
Program segmented(const std::string& segment, const std::vector<uint32_t>& values) {
  const std::string prologue = "S_ADDI_INT gp7, gp0, 5\nV_ADD_VV gp0, gp0, gp0, 0\n";
  std::string text = prologue;
  Program p;
  uint64_t pc = count_instrs(prologue);
  for (uint32_t v : values) {
    const std::string s = fmt::format(fmt::runtime(segment), v);
    p.bounds.push_back(pc);
    pc += count_instrs(s);
    text += s;
  }
  p.bounds.push_back(pc);
  text += "V_MUL_VV gp0, gp0, gp0, 0\nS_ADDI_INT gp7, gp7, 1\n";
  for (uint32_t w : isa::assemble(text, "segment.asm").words) p.instrs.push_back(isa::decode(w));
  return p;
}

// Runs the program both ways; returns the segments jumped over.
uint64_t skipped(const Program& p, config::HardwareConfig cfg = decoupled_config(),
                 DramFidelity f = DramFidelity::Calibrated) {
  Simulator with(cfg, timing_only(f)), plain(cfg, timing_only(f));
  SegmentReuse segments(cfg, timing_only(f));
  segments.prepare(p.instrs, p.bounds);
  const SimResult a = with.run(p.instrs, segments);
  const SimResult b = plain.run(std::span<const isa::Instr>(p.instrs));
  EXPECT_EQ(a.executed, b.executed);
  EXPECT_EQ(a.timing.to_json(), b.timing.to_json());
  EXPECT_EQ(with.machine().gp, plain.machine().gp);
  EXPECT_EQ(with.machine().hbm_addr, plain.machine().hbm_addr);
  EXPECT_EQ(with.machine().loop_back_edges, plain.machine().loop_back_edges);
  return segments.skipped();
}

// A layer-like segment: its own HBM base register, stores at a varying offset (the immediate),
// vector work in a loop that overlaps the transfers.
const char* kLayer = R"(
    S_ADDI_INT gp1, gp0, 256
    C_SET_ADDR_REG a1, gp0, gp1
    S_LUI_INT gp3, 0
    S_ADDI_INT gp3, gp3, {}
    H_STORE_V gp0, gp3, a1, 0, 0
    C_LOOP_START gp5, 3
      V_ADD_VV gp0, gp0, gp0, 0
    C_LOOP_END gp5
    S_ADDI_INT gp3, gp3, 64
    H_STORE_V gp0, gp3, a1, 0, 0
    V_MUL_VV gp0, gp0, gp0, 0
)";

std::vector<uint32_t> offsets(uint32_t first, uint32_t step, int n) {
  std::vector<uint32_t> v;
  for (int i = 0; i < n; ++i) v.push_back(first + step * uint32_t(i));
  return v;
}

}  // namespace

// The first segment calibrates the store shape and is recorded; once a segment starts and ends
// in the same relative state, the rest are jumped over.
TEST(SegmentReuse, RepeatedLayersAreJumpedOver) {
  const uint64_t n = skipped(segmented(kLayer, offsets(1024, 256, 12)));
  EXPECT_GE(n, 8u);
  EXPECT_LE(n, 10u);
}

TEST(SegmentReuse, BankLevelDramDependsOnAddresses) {
  EXPECT_EQ(skipped(segmented(kLayer, offsets(1024, 256, 8)), decoupled_config(), DramFidelity::Bank), 0u);
}

TEST(SegmentReuse, InOrderModeIsSimulated) {
  EXPECT_EQ(skipped(segmented(kLayer, offsets(1024, 256, 8)), tiny_config()), 0u);
}

// An offset whose stores split into a different number of requests breaks the run of repeats
// there; later segments repeat again.
TEST(SegmentReuse, RequestCountsMustMatch) {
  std::vector<uint32_t> v = offsets(1024, 256, 12);
  v[6] += 1;
  const uint64_t n = skipped(segmented(kLayer, v));
  EXPECT_GE(n, 2u);
  EXPECT_LE(n, 8u);
}

// A varying VRAM address changes the scoreboard's view: never jumped over.
TEST(SegmentReuse, VaryingComputeAddressesAreSimulated) {
  const char* seg = R"(
    S_LUI_INT gp2, 0
    S_ADDI_INT gp2, gp2, {}
    V_ADD_VV gp2, gp0, gp0, 0
    V_MUL_VV gp0, gp2, gp2, 0
  )";
  EXPECT_EQ(skipped(segmented(seg, offsets(16, 16, 8))), 0u);
}

// The immediate steers a loop's trip count: no proof.
TEST(SegmentReuse, VaryingLoopControlIsSimulated) {
  const char* seg = R"(
    S_LUI_INT gp6, 0
    S_ADDI_INT gp6, gp6, {}
    C_LOOP_START gp5, 3
      V_ADD_VV gp0, gp0, gp0, 0
      S_SUB_INT gp5, gp5, gp6
    C_LOOP_END gp5
  )";
  EXPECT_EQ(skipped(segmented(seg, {0, 1, 0, 1, 0, 1, 0, 1})), 0u);
}

// A segment reading a register it did not write depends on what came before: no proof.
TEST(SegmentReuse, RegistersFromEarlierSegmentsAreSimulated) {
  const char* seg = R"(
    S_LUI_INT gp3, 0
    S_ADDI_INT gp3, gp3, {}
    V_ADD_VV gp0, gp0, gp0, 0
    S_ADDI_INT gp7, gp7, 16
  )";
  EXPECT_EQ(skipped(segmented(seg, offsets(16, 16, 8))), 0u);
}

// Full simulation would exceed the instruction budget inside the segments: so does the reusing
// run, with the same fault.
TEST(SegmentReuse, BudgetsFaultAsInFullSimulation) {
  config::HardwareConfig cfg = decoupled_config();
  const Program p = segmented(kLayer, offsets(1024, 256, 12));
  Simulator plain(cfg, timing_only(DramFidelity::Calibrated));
  const uint64_t all = plain.run(std::span<const isa::Instr>(p.instrs)).executed;
  cfg.timing.instruction_budget = all - 20;
  std::string full, reusing;
  try {
    Simulator s(cfg, timing_only(DramFidelity::Calibrated));
    s.run(std::span<const isa::Instr>(p.instrs));
  } catch (const SimFault& e) {
    full = e.what();
  }
  try {
    Simulator s(cfg, timing_only(DramFidelity::Calibrated));
    SegmentReuse segments(cfg, timing_only(DramFidelity::Calibrated));
    segments.prepare(p.instrs, p.bounds);
    s.run(p.instrs, segments);
  } catch (const SimFault& e) {
    reusing = e.what();
  }
  EXPECT_FALSE(full.empty());
  EXPECT_EQ(full, reusing);
}

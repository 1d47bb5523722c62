// TimingReuse: a program that differs from the last simulated one only in load-immediate values
// takes its timing result exactly when the proof holds, and is simulated otherwise. Every case
// runs the same program sequence through TimingReuse and through a plain simulator and requires
// identical results (cycles, statistics, instruction counts) for every program.
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

std::vector<isa::Instr> program_of(const std::string& text, uint32_t v) {
  std::vector<isa::Instr> p;
  for (uint32_t w : isa::assemble(fmt::format(fmt::runtime(text), v), "reuse.asm").words) p.push_back(isa::decode(w));
  return p;
}

// Runs the program for each value with and without reuse; returns how many were reused.
int reused_runs(const std::string& text, std::vector<uint32_t> values, DramFidelity f = DramFidelity::Calibrated) {
  const config::HardwareConfig cfg = tiny_config();
  Simulator with(cfg, timing_only(f)), plain(cfg, timing_only(f));
  TimingReuse reuse(cfg, timing_only(f));
  int reused = 0;
  for (uint32_t v : values) {
    const auto prog = program_of(text, v);
    bool r = false;
    const SimResult a = reuse.run(with, prog, &r);
    const SimResult b = plain.run(std::span<const isa::Instr>(prog));
    EXPECT_EQ(a.executed, b.executed) << "value " << v;
    EXPECT_EQ(a.timing.to_json(), b.timing.to_json()) << "value " << v;
    EXPECT_EQ(with.machine().gp, plain.machine().gp) << "value " << v;
    reused += r;
  }
  return reused;
}

// A KV-store-like program: the HBM offset of two stores is the varying immediate.
const char* kStores = R"(
    S_ADDI_INT gp1, gp0, 256
    C_SET_ADDR_REG a1, gp0, gp1
    S_LUI_INT gp3, 0
    S_ADDI_INT gp3, gp3, {}
    H_STORE_V gp0, gp3, a1, 0, 0
    V_ADD_VV gp0, gp0, gp0, 0
    S_ADDI_INT gp3, gp3, 64
    H_STORE_V gp0, gp3, a1, 0, 0
    V_MUL_VV gp0, gp0, gp0, 0
)";

}  // namespace

TEST(StepReuse, VaryingImmediates) {
  const std::vector<isa::Instr> a = program_of(kStores, 16), b = program_of(kStores, 48);
  const auto pcs = TimingReuse::varying_pcs(a, b);
  ASSERT_TRUE(pcs.has_value());
  EXPECT_EQ(*pcs, (std::vector<uint32_t>{2, 3}));  // the ADDI and its LUI
  EXPECT_EQ(*TimingReuse::varying_pcs(a, a), std::vector<uint32_t>{});
  std::vector<isa::Instr> c = a;
  c[5].rd = 1;  // a register operand, not an immediate
  EXPECT_FALSE(TimingReuse::varying_pcs(a, c).has_value());
  c.pop_back();
  EXPECT_FALSE(TimingReuse::varying_pcs(a, c).has_value());
}

// The first run calibrates the store's shape, the second is recorded (it now knows what varies),
// the rest are proven: same request counts, no calibration at their own addresses.
TEST(StepReuse, HbmOffsetsAreReusedUnderCalibratedDram) {
  EXPECT_EQ(reused_runs(kStores, {16, 32, 48, 64, 80, 96}), 4);
}

TEST(StepReuse, BankLevelDramDependsOnAddresses) {
  EXPECT_EQ(reused_runs(kStores, {16, 32, 48, 64}, DramFidelity::Bank), 0);
}

// An offset that changes a transfer's request count (not 64-byte aligned) times differently.
TEST(StepReuse, RequestCountsMustMatch) {
  EXPECT_EQ(reused_runs(kStores, {16, 32, 33, 48}), 0);
}

// A varying VRAM address changes the scoreboard's view: never reused.
TEST(StepReuse, VaryingAddressesOfComputeAreSimulated) {
  const char* text = R"(
    S_LUI_INT gp2, 0
    S_ADDI_INT gp2, gp2, {}
    V_ADD_VV gp2, gp0, gp0, 0
    V_MUL_VV gp0, gp2, gp2, 0
  )";
  EXPECT_EQ(reused_runs(text, {16, 32, 48, 64}), 0);
}

// A value that is only data of a shift (the attention mask's) does not change any Effects.
TEST(StepReuse, ShiftAmountsAreData) {
  const char* text = R"(
    S_LUI_INT gp4, 0
    S_ADDI_INT gp4, gp4, {}
    V_SHFT_V gp0, gp0, gp4
    S_ADDI_INT gp4, gp4, 1
    V_SHFT_V gp0, gp0, gp4
  )";
  EXPECT_EQ(reused_runs(text, {1, 2, 3, 4, 5}), 3);
}

// The immediate steers a loop counter: the trip count follows it, so no proof exists.
TEST(StepReuse, VaryingLoopControlIsSimulated) {
  const char* text = R"(
    S_LUI_INT gp6, 0
    S_ADDI_INT gp6, gp6, {}
    C_LOOP_START gp5, 3
      V_ADD_VV gp0, gp0, gp0, 0
      S_SUB_INT gp5, gp5, gp6
    C_LOOP_END gp5
  )";
  EXPECT_EQ(reused_runs(text, {0, 1, 1, 0, 2}), 0);
}

// A register read before the run writes it carries state from earlier runs: no proof.
TEST(StepReuse, RegistersFromEarlierRunsAreSimulated) {
  const char* text = R"(
    S_LUI_INT gp3, 0
    S_ADDI_INT gp3, gp3, {}
    V_ADD_VV gp6, gp0, gp0, 0
    S_ADDI_INT gp6, gp3, 16
  )";
  EXPECT_EQ(reused_runs(text, {16, 32, 48, 64}), 0);
}

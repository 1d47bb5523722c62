// Simulator + timing model wiring: every executed instruction reaches the timing model, HBM
// streams are accounted, and timing results are deterministic.
#include "test_exec_util.hpp"

using namespace plena;
using namespace plena::sim;
using namespace plena::sim::test;

namespace {
const char* kProgram = R"(
    S_ADDI_INT gp1, gp0, 64
    C_LOOP_START gp2, 4
      H_PREFETCH_V gp3, gp4, a0, 0, 0
      H_PREFETCH_M gp5, gp4, a0, 0, 0
      M_MM 0, gp5, gp3
      M_MM_WO gp6, gp0, 0
      V_EXP_V gp6, gp6, 0
      V_RED_SUM f1, gp6
      H_STORE_V gp6, gp1, a0, 0, 0
      S_ADDI_INT gp4, gp4, 256
    C_LOOP_END gp2
)";
}

TEST(ExecSim, TimingModelSeesEveryInstructionAndHbmByte) {
  auto cfg = tiny_config("bf16");
  for (Mode mode : {Mode::Functional, Mode::TimingOnly}) {
    Rig r(cfg, mode, /*timing=*/true);
    SimResult res = r.run(kProgram);
    EXPECT_EQ(res.executed, 1u + 1 + 4 * 9);
    EXPECT_EQ(res.timing.instructions, res.executed);
    EXPECT_GT(res.timing.cycles, res.executed);
    uint64_t rd = 0, wr = 0;
    for (const auto& e : r.effects)
      for (int i = 0; i < e.n_hbm; ++i) (e.hbm[i].write ? wr : rd) += e.hbm[i].total_bytes();
    EXPECT_EQ(rd, 4u * (4 * 16 * 4 + 16 * 16 * 4));  // fp32 rows: 4 VLEN rows + one 16x16 tile per iteration
    EXPECT_EQ(wr, 4u * 4 * 16 * 4);
    EXPECT_EQ(res.timing.hbm_read_bytes, rd);
    EXPECT_EQ(res.timing.hbm_write_bytes, wr);
    EXPECT_EQ(res.timing.instr_count[uint8_t(isa::Opcode::M_MM)], 4u);
  }
}

TEST(ExecSim, TimingIsDeterministicAndModeIndependent) {
  auto cfg = tiny_config("bf16");
  std::string json[3];
  for (int i = 0; i < 3; ++i) {
    Rig r(cfg, i == 2 ? Mode::TimingOnly : Mode::Functional, true);
    json[i] = r.run(kProgram).timing.to_json();
  }
  EXPECT_EQ(json[0], json[1]);
  EXPECT_EQ(json[0], json[2]);  // timing never depends on data
}

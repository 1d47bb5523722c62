// The estimate against the simulator on LLaMA-3.1-8B's own kernel shapes on reference-analytic
// (decoupled): every layer call of the 2048-token prefill step and of a decode step at context
// 2048, emitted standalone and simulated (large: the attention call alone simulates ~10^7
// instructions).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fmt/format.h>

#include "analytic/validate/validate.hpp"
#include "compiler/layer_plan.hpp"
#include "config/config.hpp"
#include "model/model.hpp"

namespace plena::analytic {
namespace {

std::vector<ValidationPoint> step_points(uint64_t q_len, uint64_t past) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  const compiler::StepPlan plan =
      compiler::step_plan(compiler::model_dims(m, cfg), cfg, {1, q_len, past, 2048 + 128 + cfg.hbm.v_writeback_amount});
  std::vector<ValidationPoint> v;
  for (const auto& call : plan.layer) v.push_back(kernel_point("reference-analytic/" + call.name, cfg, call.kernel, call.shape));
  return v;
}

TEST(Agreement8b, PrefillAndDecodeKernels) {
  if (!std::getenv("PLENA_LARGE_TESTS")) GTEST_SKIP() << "large: PLENA_LARGE_TESTS=1";
  for (auto [q, past] : {std::pair<uint64_t, uint64_t>{2048, 0}, {1, 2048}}) {
    const auto rs = run_validation(step_points(q, past));
    fmt::print("{}", validation_report(rs));
  }
}

}  // namespace
}  // namespace plena::analytic
#include "compiler/compiler.hpp"
#include "analytic/analytic.hpp"
#include "sim/sim.hpp"
namespace plena::analytic {
TEST(Agreement8b, Debug) {
  if (!std::getenv("PLENA_DEBUG_POINT")) GTEST_SKIP();
  const bool dec = std::string(std::getenv("PLENA_DEBUG_POINT")) == "decode";
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  for (const auto& p : step_points(dec ? 1 : 2048, dec ? 2048 : 0)) {
    if (p.kernel != "attention") continue;
    const auto k = compiler::count_kernel(cfg, p.kernel, p.shape);
    for (const auto& ph : k.phases)
      fmt::print("phase {:<24} times {:>8} entries {:>6} instr {:>6} vec {:>6} mat {:>6} chain {:>6} dma {:>3} exp {:>5} serial {:>6}\n", ph.name, ph.times, ph.entries,
                 ph.instructions, ph.vector_cycles, ph.matrix_cycles, ph.chain_cycles, ph.dma, ph.exposed_cycles, ph.serial_cycles);
    for (const auto& d : k.dma) fmt::print("dma rows {} cols {} stride {} count {} write {}\n", d.rows, d.cols, d.stride, d.count, d.write);
    MemoryModel mem(cfg);
    const OpEstimate e = estimate_op(cfg, mem, p.kernel, p.shape);
    fmt::print("est cycles {} matrix {} vector {} dma {} issue {}\n", e.cycles, e.matrix_cycles, e.vector_cycles, e.dma_cycles, e.issue_cycles);
    compiler::MemoryPlan plan(cfg, "x");
    compiler::ProgramBuilder b(cfg, "x");
    compiler::find_kernel(p.kernel).emit_standalone(b, plan, p.shape);
    sim::SimOptions so;
    so.mode = sim::Mode::TimingOnly;
    sim::Simulator s(cfg, so);
    const auto r = s.run(b.words());
    fmt::print("{}\n", r.timing.to_json());
  }
}
}  // namespace plena::analytic

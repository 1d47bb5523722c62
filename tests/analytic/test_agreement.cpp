// The estimate against the simulator at full size on reference-analytic (decoupled), both `large`:
// every layer call of LLaMA-3.1-8B's 2048-token prefill step and of a decode step at context
// 2048, emitted standalone (the attention call alone simulates ~1.4 M instructions); and whole
// runs (full_size_validation_points), TTFT and TPOT within 5%.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "analytic/validate/validate.hpp"
#include "compiler/layer_plan.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "sim/sim.hpp"

namespace plena::analytic {
namespace {

bool large() { return std::getenv("PLENA_LARGE_TESTS") != nullptr; }

std::vector<ValidationPoint> step_points(uint64_t q_len, uint64_t past) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  const compiler::StepPlan plan =
      compiler::step_plan(compiler::model_dims(m, cfg), cfg, {1, q_len, past, 2048 + 128 + cfg.hbm.v_writeback_amount});
  std::vector<ValidationPoint> v;
  for (const auto& call : plan.layer)
    v.push_back(kernel_point("reference-analytic/" + call.name, cfg, call.kernel, call.shape));
  return v;
}

// Attention within 5% on its own; the layer's calls together within 5% (a chained linear alone is
// not a meaningful point: its first chunk comes with the previous one, its handoff goes to the next).
TEST(Agreement8b, LayerCallsOfPrefillAndDecode) {
  if (!large()) GTEST_SKIP() << "large: PLENA_LARGE_TESTS=1";
  for (auto [q, past] : {std::pair<uint64_t, uint64_t>{2048, 0}, {1, 2048}}) {
    const auto rs = run_validation(step_points(q, past));
    fmt::print("{}", validation_report(rs));
    double sim = 0, est = 0;
    for (const auto& r : rs) {
      sim += double(r.sim_cycles);
      est += r.analytic_cycles;
      if (r.point.kernel == "attention") {
        EXPECT_LT(std::fabs(r.error), 0.05) << r.shape;
      }
    }
    EXPECT_LT(std::fabs(est - sim) / sim, 0.05) << "q_len " << q << ": layer " << est << " vs " << sim << " cycles";
  }
}

TEST(Agreement8b, WholeRunsOnReferenceAnalytic) {
  if (!large()) GTEST_SKIP() << "large: PLENA_LARGE_TESTS=1";
  const auto rs = run_validation(full_size_validation_points());
  fmt::print("{}", validation_report(rs));
  for (const auto& r : rs) EXPECT_LT(std::fabs(r.error), 0.05) << r.shape;
}

TEST(Agreement8b, Debug) {
  const char* kn = std::getenv("PLENA_DEBUG_KERNEL");
  if (!kn) GTEST_SKIP();
  const bool dec = std::getenv("PLENA_DEBUG_DECODE") != nullptr;
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  for (const auto& p : step_points(dec ? 1 : 2048, dec ? 2048 : 0)) {
    if (p.config != std::string("reference-analytic/") + kn) continue;
    const auto k = compiler::count_kernel(cfg, p.kernel, p.shape);
    for (const auto& ph : k.phases)
      fmt::print("phase {:<24} times {:>8} entries {:>6} instr {:>6} vec {:>6} mat {:>6} chain {:>6} dma {:>3} exp {:>5} serial {:>6} stream {}\n", ph.name, ph.times, ph.entries,
                 ph.instructions, ph.vector_cycles, ph.matrix_cycles, ph.chain_cycles, ph.dma, ph.exposed_cycles, ph.serial_cycles, ph.stream_cycles);
    for (const auto& d : k.dma) fmt::print("dma rows {} cols {} stride {} count {} write {} wait_first {}\n", d.rows, d.cols, d.stride, d.count, d.write, d.wait_first);
    fmt::print("stream_stall {}\n", k.stream_stall_cycles);
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

}  // namespace
}  // namespace plena::analytic

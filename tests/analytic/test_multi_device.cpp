// Multi-device systems: the interconnect formula both `plena estimate` and `plena run --devices`
// charge, the run's system report (shard programs, collectives), and the agreement of the two
// within 5% on the multi-device validation points. The 70B point runs under the `large` label.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "analytic/analytic.hpp"
#include "analytic/interconnect.hpp"
#include "analytic/validate/validate.hpp"
#include "compiler/layer_plan.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

TEST(MultiDevice, InterconnectFormula) {
  const Link link{100, 1};
  EXPECT_EQ(all_reduce_seconds(1e6, 1, link), 0);
  // Ring: 2 (tp - 1) / tp of the bytes over the link, 2 (tp - 1) messages.
  EXPECT_DOUBLE_EQ(all_reduce_seconds(1e6, 4, link), 1.5e6 / 100e9 + 6e-6);
  EXPECT_DOUBLE_EQ(handoff_seconds(1e6, link), 1e6 / 100e9 + 1e-6);
  EXPECT_EQ(activation_bytes(256, 4096), 256u * 4096u * 2u);
}

TEST(MultiDevice, StepCollectivesCountTwoAllReducesPerLayerAndOneHandOffPerStageBoundary) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  const compiler::StepPlan plan = compiler::step_plan(compiler::model_dims(m, cfg, 2), cfg, {1, 256, 0, 300});
  const Link link{50, 2};
  const StepCollectives c = step_collectives(plan, 32, 1, 256, 4096, 2, 2, link);
  EXPECT_EQ(c.all_reduces, 64u);
  EXPECT_EQ(c.handoffs, 1u);
  const double bytes = 256.0 * 4096 * 2;
  EXPECT_DOUBLE_EQ(c.all_reduce_s, 64 * all_reduce_seconds(bytes, 2, link));
  EXPECT_DOUBLE_EQ(c.handoff_s, handoff_seconds(bytes, link));
  EXPECT_EQ(step_collectives(plan, 32, 1, 256, 4096, 1, 1, link).seconds(), 0);
}

runner::RunOptions multi(uint32_t devices, uint32_t tp, uint32_t pp, uint64_t prompt, uint64_t gen) {
  runner::RunOptions o;
  o.model = "llama-3.1-8b";
  o.hw = "reference-analytic";
  o.prompt_len = prompt;
  o.gen = gen;
  o.timing_only = true;
  o.dram_fidelity = sim::DramFidelity::Calibrated;
  o.devices = devices, o.tp = tp, o.pp = pp;
  return o;
}

// The estimate's tp_allreduce op and the run's per-step collectives are the same formula.
TEST(MultiDevice, RunChargesTheEstimatesCollectives) {
  const runner::RunReport r = runner::run_model(multi(4, 4, 0, 64, 3));
  ASSERT_EQ(r.shards.size(), 1u);
  EXPECT_EQ(r.devices, 4u);
  EXPECT_EQ(r.tp, 4u);
  EXPECT_EQ(r.pp, 1u);
  EXPECT_EQ(r.shards[0].heads, 8u);
  EXPECT_EQ(r.shards[0].kv_heads, 2u);
  EXPECT_EQ(r.shards[0].vocab, 32064u);
  Parallelism par;
  par.devices = 4, par.tp = 4;
  const Estimate e = estimate(model::model_preset("llama-3.1-8b"), config::preset("reference-analytic"), {64, 2, 1}, par);
  double est_collective_s = 0;
  for (const auto& op : e.prefill.ops)
    if (op.name == "tp_allreduce") est_collective_s += op.cycles * op.calls * 1e-9;  // 1 GHz
  EXPECT_NEAR(double(r.steps.at(0).collective_ps) * 1e-12, est_collective_s, 1e-9);
  // The system step is the shard's step plus the collectives.
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_NEAR(r.ttft_s, r.shards[0].prefill_s + double(r.steps[0].collective_ps) * 1e-12, 1e-9);
  const nlohmann::json j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j.at("devices"), 4);
  EXPECT_EQ(j.at("shards").size(), 1u);
  EXPECT_GT(j.at("steps").at(0).at("collective_ps").get<uint64_t>(), 0u);
  EXPECT_NE(r.to_text().find("devices      4 = tensor parallel 4 x pipeline parallel 1"), std::string::npos)
      << r.to_text();
}

// A pipeline of 4 stages has three distinct programs: first, middle (twice), last.
TEST(MultiDevice, PipelineSimulatesEachDistinctStageProgramOnce) {
  const runner::RunReport r = runner::run_model(multi(4, 1, 4, 32, 2));
  ASSERT_EQ(r.shards.size(), 3u);
  EXPECT_TRUE(r.shards[0].embedding && !r.shards[0].lm_head);
  EXPECT_EQ(r.shards[1].stages, 2u);
  EXPECT_TRUE(!r.shards[1].embedding && !r.shards[1].lm_head);
  EXPECT_TRUE(r.shards[2].lm_head);
  EXPECT_EQ(r.shards[0].layers + 2 * r.shards[1].layers + r.shards[2].layers, 32u);
  double stages_s = 0;
  for (const auto& s : r.shards) stages_s += double(s.stages) * s.prefill_s;
  EXPECT_NEAR(r.ttft_s, stages_s + double(r.steps[0].collective_ps) * 1e-12, 1e-9);
  EXPECT_GT(r.steps[0].collective_ps, 0u);  // three hand-offs
}

std::string run_error(const runner::RunOptions& o) {
  try {
    runner::run_model(o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(MultiDevice, RejectsWhatItCannotRun) {
  runner::RunOptions functional = multi(2, 0, 0, 8, 1);
  functional.timing_only = false;
  EXPECT_NE(run_error(functional).find("add --timing-only"), std::string::npos) << run_error(functional);
  EXPECT_NE(run_error(multi(4, 3, 0, 8, 1)).find("must equal --devices 4"), std::string::npos);
  EXPECT_NE(run_error(multi(1, 2, 0, 8, 1)).find("must equal --devices 1"), std::string::npos);
  runner::RunOptions slow_link = multi(2, 2, 0, 8, 1);
  slow_link.link_gbps = 0;
  EXPECT_NE(run_error(slow_link).find("--link-gbps"), std::string::npos);
}

// Points whose single-device shard is out of the per-kernel model's target, so the system is too
// (the composition adds collectives only). Empty since the double-buffered linears (tp 2 x pp 2
// prefill was -5.05%, now -3.1%); an entry that comes within target fails until it is removed.
const std::set<std::string> kKnownOutOfTarget = {};

void expect_agreement(const std::vector<ValidationPoint>& points) {
  for (const ValidationResult& r : run_validation(points)) {
    const std::string where = r.point.config + " " + r.shape;
    EXPECT_EQ(r.analytic_instructions, r.sim_instructions) << where;
    if (kKnownOutOfTarget.count(r.point.config + " " + r.point.metric)) {
      EXPECT_GT(std::fabs(r.error), 0.05) << where << " is within target now: drop it from kKnownOutOfTarget";
      EXPECT_LE(std::fabs(r.error), 0.06) << where;
      continue;
    }
    EXPECT_LE(std::fabs(r.error), 0.05) << where << ": sim " << r.sim_cycles << " analytic " << r.analytic_cycles;
  }
}

// LLaMA-3.1-8B prompt 256 + 8 on 4 devices (tp 4; tp 2 x pp 2): TTFT and TPOT within 5%.
TEST(MultiDevice, EstimateAgreesWithTheRunWithinFivePercent) { expect_agreement(multi_device_validation_points()); }

// LLaMA-3.3-70B on 16 devices (the split the estimate picks), prompt 1024 + 16: `ctest -L large`.
TEST(MultiDeviceLarge, Llama70bOn16DevicesAgreesWithinFivePercent) {
  if (!std::getenv("PLENA_LARGE_TESTS")) GTEST_SKIP() << "large: ctest -L large";
  std::vector<ValidationPoint> v;
  for (std::string metric : {"ttft", "tpot"}) {
    ValidationPoint p;
    p.config = "reference-analytic/16 devices";
    p.cfg = config::preset("reference-analytic");
    p.kernel = "model";
    p.model = "llama-3.3-70b";
    p.hw_spec = "reference-analytic";
    p.metric = metric;
    p.prompt = 1024;
    p.decode = 16;
    p.devices = 16;
    v.push_back(p);
  }
  expect_agreement(v);
}

}  // namespace
}  // namespace plena::analytic

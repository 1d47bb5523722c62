// The analytic model against the simulator (timing-only) on the validation set
// (src/analytic/validate): every registered kernel has a point; on every point the analytic
// instruction count equals the simulated one exactly; every point is within 5% in cycles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "analytic/validate/validate.hpp"
#include "compiler/kernel_registry.hpp"
#include "compiler/layer_plan.hpp"
#include "config/config.hpp"
#include "model/model.hpp"

using namespace plena;
using namespace plena::analytic;

namespace {

std::vector<ValidationPoint> points_of(std::string_view kind, std::string_view config_prefix = "") {
  std::vector<ValidationPoint> v;
  for (const auto& p : default_validation_points())
    if (p.kind() == kind && p.config.rfind(config_prefix, 0) == 0) v.push_back(p);
  return v;
}

// Kernels whose cycle model is known to miss the 5% target (the model lives in
// src/analytic/ops.cpp). The test expects them out of target, so fixing one fails here until its
// entry is removed. None today.
const std::set<std::string> kKnownOutOfTarget = {};

std::string where(const ValidationResult& r) { return r.point.config + " " + r.point.kernel + " " + r.shape; }

// Exact instruction counts and the 5% target everywhere.
void expect_exact_and_within_target(const std::vector<ValidationResult>& rs) {
  for (const auto& r : rs) {
    EXPECT_EQ(r.analytic_instructions, r.sim_instructions) << where(r);
    EXPECT_GE(r.analytic_cpu_seconds, 0) << where(r);
    EXPECT_GT(r.sim_seconds, 0) << where(r);
    if (kKnownOutOfTarget.count(r.point.kernel)) {
      EXPECT_GT(std::fabs(r.error), 0.05) << where(r) << " is within target now: drop it from kKnownOutOfTarget";
      continue;
    }
    EXPECT_LE(std::fabs(r.error), 0.05) << where(r) << ": sim " << r.sim_cycles << " analytic " << r.analytic_cycles;
  }
  // One energy model: the same tables on the simulator's and the estimate's counts.
  for (const auto& r : rs) {
    EXPECT_GT(r.sim_energy_j, 0) << where(r);
    EXPECT_LE(std::fabs(r.energy_error), 0.05)
        << where(r) << ": sim " << r.sim_energy_j << " J, analytic " << r.analytic_energy_j << " J";
  }
}

}  // namespace

TEST(AnalyticValidate, EveryRegisteredKernelHasAPoint) {
  std::set<std::string> covered;
  for (const auto& p : default_validation_points()) covered.insert(p.kernel);
  for (const auto& e : compiler::kernel_registry())
    EXPECT_TRUE(covered.count(std::string(e.name))) << "registered kernel '" << e.name << "' has no validation point";
  EXPECT_TRUE(covered.count("model"));
}

// Both timing modes cover the same kernels, and the set has partial last column blocks (the mask
// construction whose S_MAP_V_FP stream the first masked instruction waits for).
TEST(AnalyticValidate, BothModesAndPartialBlocks) {
  std::set<std::string> in_order, decoupled;
  int partial = 0;
  for (const auto& p : default_validation_points()) {
    (p.config.ends_with("/in-order") ? in_order : decoupled).insert(p.kernel);
    const auto& d = p.shape.dims;
    if (std::any_of(d.begin(), d.end(), [](const auto& x) { return x.first == "cols"; }))
      partial += p.shape.get("cols") % p.cfg.geometry.vlen != 0;
  }
  EXPECT_EQ(in_order, decoupled);
  EXPECT_GE(partial, 2 * 5);  // rmsnorm, layernorm, softmax, gated_gelu, bias_add
}

TEST(AnalyticValidate, KernelPointsTakeExactlyTheKernelsDims) {
  const auto cfg = validation_config("reference-small", config::TimingMode::InOrder);
  compiler::KernelShape s;
  s.set("rows", 16).set("rows_alloc", 16);
  EXPECT_THROW(kernel_point("x", cfg, "rmsnorm", s), std::logic_error);  // no cols
  s.set("cols", 64).set("head_dim", 32);
  EXPECT_THROW(kernel_point("x", cfg, "rmsnorm", s), std::logic_error);  // an extra dim
  s.set("cols", 100);
  EXPECT_NO_THROW(kernel_point("x", cfg, "head_rmsnorm", s));  // 100 columns: a partial last block of VLEN 64
}

TEST(AnalyticValidate, Linear) {
  const auto rs = run_validation(points_of("linear"));
  std::set<std::string> kernels;
  for (const auto& r : rs) {
    kernels.insert(r.point.kernel);
    EXPECT_GT(r.sim_cycles, 1000u) << where(r);  // non-trivial programs
  }
  EXPECT_EQ(kernels, (std::set<std::string>{"linear", "batched_matmul"}));
  EXPECT_EQ(rs.size(), 2u * (5 + 2 + 2));
  expect_exact_and_within_target(rs);
}

TEST(AnalyticValidate, Attention) {
  const auto rs = run_validation(points_of("attention"));
  ASSERT_EQ(rs.size(), 8u);
  int windowed = 0;
  for (const auto& r : rs) {
    EXPECT_GT(r.sim_cycles, 10000u);
    windowed += r.point.shape.get("window") > 0;
  }
  EXPECT_EQ(windowed, 4);
  expect_exact_and_within_target(rs);
}

// The one-tile prefill schedule (row sums on the matrix unit, next S under the softmax) at
// LLaMA-3.1-8B's sizes, 512 tokens (the step plan's call, ~0.15 M instructions): the phases overlap
// the units as the simulator does. A schedule that lets the in-order matrix queue stall the
// front end at each (head, group) item was estimated 16% under the simulation here.
TEST(AnalyticValidate, RowSumAttentionAtFullWidth) {
  const config::HardwareConfig cfg = config::preset("reference-analytic");
  const compiler::StepPlan plan =
      compiler::step_plan(compiler::model_dims(model::model_preset("llama-3.1-8b"), cfg), cfg, {1, 512, 0, 2048});
  std::vector<ValidationPoint> v;
  for (const auto& call : plan.layer)
    if (call.kernel == "attention") v.push_back(planned_point("reference-analytic/" + call.name, cfg, call));
  ASSERT_EQ(v.size(), 1u);
  expect_exact_and_within_target(run_validation(v));
}

TEST(AnalyticValidate, VectorKernels) {
  const auto rs = run_validation(points_of("vector op"));
  std::set<std::string> kernels;
  for (const auto& r : rs) {
    kernels.insert(r.point.kernel);
    EXPECT_GT(r.sim_instructions, 10u) << where(r);
  }
  EXPECT_EQ(kernels.size(), compiler::kernel_registry().size() - 3);  // all but linear, batched_matmul, attention
  expect_exact_and_within_target(rs);
}

// The per-head RMSNorm's less common shapes (not in the report): head_dim = VLEN (one block per
// head, no inner loops), 4 heads per block (the head loop in hardware), a partial last block of 1
// and of 3 heads.
TEST(AnalyticValidate, HeadRmsNormShapes) {
  for (auto mode : {config::TimingMode::InOrder, config::TimingMode::Decoupled}) {
    const auto cfg = validation_config("reference-small", mode);
    for (auto [rows, cols, hd] : std::vector<std::array<uint64_t, 3>>{
             {8, 256, 64}, {8, 256, 16}, {16, 96, 32}, {5, 112, 16}}) {
      const uint64_t blen = cfg.geometry.blen;
      compiler::KernelShape s;
      s.set("rows", rows).set("rows_alloc", (rows + blen - 1) / blen * blen).set("cols", cols).set("head_dim", hd);
      const ValidationResult r = run_validation_point(kernel_point("reference-small", cfg, "head_rmsnorm", s));
      EXPECT_GT(r.sim_instructions, 100u) << r.shape;
      EXPECT_EQ(r.analytic_instructions, r.sim_instructions) << r.shape;
      EXPECT_LE(std::fabs(r.error), 0.05) << r.shape << ": sim " << r.sim_cycles << " analytic " << r.analytic_cycles;
    }
  }
}

TEST(AnalyticValidate, WholeModels) {
  const auto rs = run_validation(points_of("model"));
  // tiny and tiny-qwen3 (per-head q/k norms, both kernel paths) on reference-small and tiny-fp32,
  // tiny-qwen2 on reference-small, the tiny model on two memory pools (split_pool_validation_points);
  // both modes, TTFT and TPOT
  ASSERT_EQ(rs.size(), 28u);
  std::set<std::string> qwen3_configs;
  for (const auto& r : rs)
    if (r.point.model == "tiny-qwen3") qwen3_configs.insert(r.point.config);
  EXPECT_EQ(qwen3_configs, (std::set<std::string>{"reference-small/in-order", "tiny-fp32/in-order",
                                                   "reference-small/decoupled", "tiny-fp32/decoupled"}));
  for (const auto& r : rs) EXPECT_GT(r.sim_cycles, 100000u) << r.shape;
  expect_exact_and_within_target(rs);
  // TTFT (8-token prefill) costs more than a decode step on the same machine.
  ASSERT_EQ(rs[0].point.metric, "ttft");
  ASSERT_EQ(rs[2].point.metric, "tpot");
  EXPECT_GT(rs[0].sim_cycles, rs[2].sim_cycles);
  EXPECT_GT(rs[0].analytic_cycles, rs[2].analytic_cycles);
}

TEST(AnalyticValidate, ReportAndJsonNameEveryPoint) {
  const auto rs = run_validation(points_of("vector op", "tiny-fp32"));
  const std::string text = validation_report(rs);
  EXPECT_NE(text.find("vector op"), std::string::npos);
  EXPECT_NE(text.find("worst |error|"), std::string::npos);
  const auto j = nlohmann::json::parse(validation_json(rs));
  ASSERT_EQ(j.at("points").size(), rs.size());
  for (const auto& pt : j.at("points"))
    for (const char* key : {"config", "kind", "kernel", "shape", "sim_cycles", "analytic_cycles", "error",
                            "sim_instructions", "analytic_instructions", "analytic_cpu_s", "sim_s", "sim_energy_j",
                            "analytic_energy_j", "energy_error"})
      EXPECT_TRUE(pt.contains(key)) << key;
  EXPECT_EQ(j.at("points")[0].at("kind"), "vector op");
  EXPECT_EQ(j.at("worst_abs_error").get<double>(), worst_error(rs));
  EXPECT_FALSE(j.at("points")[0].contains("gated"));
}

TEST(AnalyticValidate, LargeModelPoints) {
  if (!std::getenv("PLENA_LARGE_TESTS")) GTEST_SKIP() << "set PLENA_LARGE_TESTS=1 (smollm2-135m, ~10 s)";
  const auto rs = run_validation(large_validation_points());
  ASSERT_EQ(rs.size(), 2u);
  expect_exact_and_within_target(rs);
}

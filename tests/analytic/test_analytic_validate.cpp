// The analytic model against the simulator (timing-only) on the validation set: every gated point
// (linear, the exact kernel schedule) within 5%, its dynamic instruction count exact.
#include <gtest/gtest.h>

#include <cmath>

#include "analytic/validate_sim.hpp"

using namespace plena;
using namespace plena::analytic;

namespace {

void check_points(std::string_view config_prefix) {
  int n = 0;
  for (const auto& p : default_validation_points()) {
    if (p.config.rfind(config_prefix, 0) != 0 || !p.gated) continue;
    const ValidationResult r = run_validation_point(p);
    ++n;
    EXPECT_GT(r.sim_cycles, 1000u) << r.shape;  // non-trivial programs
    EXPECT_LE(std::fabs(r.error), 0.05) << p.config << " " << r.shape << ": sim " << r.sim_cycles << " analytic "
                                        << r.analytic_cycles;
    // Exact up to address immediates the model does not know (each may take 1-3 instructions).
    EXPECT_LE(std::llabs(int64_t(r.analytic_instructions) - int64_t(r.sim_instructions)), 4) << p.config << " " << r.shape;
  }
  EXPECT_GE(n, 5);
}

}  // namespace

TEST(AnalyticValidate, LinearReferenceSmallInOrder) { check_points("reference-small/in-order"); }
TEST(AnalyticValidate, LinearReferenceSmallDecoupled) { check_points("reference-small/decoupled"); }

TEST(AnalyticValidate, LinearReferenceAnalytic) {
  int n = 0;
  for (const auto& p : default_validation_points()) {
    if (p.config.rfind("reference-analytic", 0) != 0 || !p.gated) continue;
    const ValidationResult r = run_validation_point(p);
    ++n;
    EXPECT_LE(std::fabs(r.error), 0.05) << p.config << " " << r.shape << ": sim " << r.sim_cycles << " analytic "
                                        << r.analytic_cycles;
  }
  EXPECT_EQ(n, 4);
}

TEST(AnalyticValidate, AttentionIsReportedWithinAFactor) {
  // Approximate softmax cost: not gated at 5%, but it must stay the right order of magnitude.
  for (const auto& p : default_validation_points()) {
    if (p.kernel != "attention") continue;
    const ValidationResult r = run_validation_point(p);
    EXPECT_GT(r.sim_cycles, 100u);
    EXPECT_LT(std::fabs(r.error), 1.0) << p.config << " " << r.shape << ": sim " << r.sim_cycles << " analytic "
                                       << r.analytic_cycles;
  }
}

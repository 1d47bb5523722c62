// Every L1/L2 baseline passes its own check on a fresh seed (90 cells: the reference solutions
// replayed), and the L3 cells say their baseline is not yet available instead of failing oddly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "bench/bench.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::bench;

TEST(BenchBaselines, EveryBaselinePassesItsOwnCheck) {
  size_t passed = 0, cells = 0;
  const uint64_t seed = fresh_seed();
  for (const auto& t : tasks()) {
    if (t.level == Level::L3) continue;
    for (const auto& c : t.configs) {
      ++cells;
      const auto r = check(t, c, baseline(t, c), seed + cells);
      EXPECT_TRUE(r.passed()) << r.to_text(8);
      EXPECT_LE(r.dynamic_instructions * 2, c.instruction_budget) << t.id << " " << c.id << ": budget too tight";
      EXPECT_DOUBLE_EQ(r.speedup, 1.0) << t.id << " " << c.id;
      passed += r.passed();
    }
  }
  EXPECT_EQ(cells, 90u);
  EXPECT_EQ(passed, cells);
  RecordProperty("seed", fmt::format("{}", seed));
}

TEST(BenchBaselines, DecoderBlocksSayNotYetAvailable) {
  for (const char* id : {"decoder_llama", "decoder_t5"}) {
    const Task& t = find_task(id);
    try {
      baseline(t, t.config("C1"));
      ADD_FAILURE() << id;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("not yet available"), std::string::npos) << e.what();
    }
    EXPECT_THROW(check(t, t.config("C1"), "", 1), InputError);
  }
}

// Re-recording aid (like the pinned cycles): PLENA_BENCH_CALIBRATE=FILE writes, per L1/L2 cell,
// the baseline's worst max |got - want| over 5 seeds and its executed instructions, from which
// the task files' tolerances and budgets are set (docs/bench.md, "Adding a task").
TEST(BenchBaselines, CalibrationRecord) {
  const char* path = std::getenv("PLENA_BENCH_CALIBRATE");
  if (!path) GTEST_SKIP() << "set PLENA_BENCH_CALIBRATE=FILE to record";
  std::string out;
  for (const auto& t : tasks()) {
    if (t.level == Level::L3) continue;
    for (const auto& c : t.configs) {
      const std::string text = baseline(t, c);
      double worst = 0;
      uint64_t executed = 0;
      for (uint64_t seed = 1; seed <= 5; ++seed) {
        const auto r = check(t, c, text, seed * 7919, {.with_baseline = false});
        worst = std::max(worst, r.max_abs);
        executed = r.dynamic_instructions;
      }
      out += fmt::format("{}/{} {:.6g} {}\n", t.id, c.id, worst, executed);
    }
  }
  write_text_file(path, out);
}

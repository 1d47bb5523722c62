// plena bench as a user runs it: list, show, baseline, check (exit 0 pass, 1 bad input or
// syntax error, 3 failed kernel), score.
#include "cli_run.hpp"

#include <fstream>

using namespace plena_cli_test;

TEST(BenchCli, ListShowsTwentyTasksHundredConfigs) {
  test_dir();
  const auto r = run_plena("bench list");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "20 tasks, 100 configurations")) << r.out;
  EXPECT_TRUE(contains(r.out, "decoder_t5")) << r.out;
  const auto j = run_plena("bench list --json");
  EXPECT_EQ(j.code, 0) << j.err;
  EXPECT_TRUE(contains(j.out, "\"id\": \"flash_attention\"")) << j.out;
}

TEST(BenchCli, ShowAndUnknownNames) {
  test_dir();
  const auto r = run_plena("bench show gqa C2");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "k_cache")) << r.out;
  const auto u = run_plena("bench show gqq");
  EXPECT_EQ(u.code, 1);
  EXPECT_TRUE(contains(u.err, "unknown task 'gqq'")) << u.err;
  const auto c = run_plena("bench show gqa C9");
  EXPECT_EQ(c.code, 1);
  EXPECT_TRUE(contains(c.err, "has no configuration 'C9'")) << c.err;
}

TEST(BenchCli, BaselineChecksAndBrokenKernelsFail) {
  const fs::path d = test_dir();
  const auto b = run_plena(fmt::format("bench baseline rmsnorm C2 -o '{}'", (d / "k.asm").string()));
  ASSERT_EQ(b.code, 0) << b.err;
  const auto ok = run_plena(fmt::format("bench check rmsnorm C2 '{}'", (d / "k.asm").string()));
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_TRUE(contains(ok.out, "rmsnorm C2: pass")) << ok.out;
  EXPECT_TRUE(contains(ok.out, "speedup 1.000x")) << ok.out;
  std::ofstream(d / "bad.asm") << "S_ADDI_INT gp1, gp0, 1\nS_ADDI_INT gp1, gp0\n";
  const auto syn = run_plena(fmt::format("bench check rmsnorm C2 '{}' --json", (d / "bad.asm").string()));
  EXPECT_EQ(syn.code, 1);
  EXPECT_TRUE(contains(syn.out, "\"status\":\"syntax_error\"") && contains(syn.out, "bad.asm:2:")) << syn.out;
  std::ofstream(d / "empty.asm") << "; does nothing\n";
  const auto mis = run_plena(fmt::format("bench check rmsnorm C2 '{}' --seed 5", (d / "empty.asm").string()));
  EXPECT_EQ(mis.code, 3);
  EXPECT_TRUE(contains(mis.out, "mismatch") && contains(mis.out, "seed 5")) << mis.out;
  const auto missing = run_plena(fmt::format("bench check rmsnorm C2 '{}'", (d / "nope.asm").string()));
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "nope.asm")) << missing.err;
}

TEST(BenchCli, ScoreWritesThreeFormats) {
  const fs::path d = test_dir();
  fs::create_directories(d / "logs");
  std::ofstream(d / "logs" / "s.jsonl")
      << R"({"schema":"plena-bench-log/1","session":"s","agent":"m","seq":1,"tool":"run_evaluation","task":"gelu","config":"C3","iteration":1,"is_error":false,"result":{"passed":true,"speedup":1.5}})"
      << "\n";
  const auto r = run_plena(fmt::format("bench score '{}' -o '{}'", (d / "logs").string(), (d / "out").string()));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "| L1 | GELU | 1/5 |")) << r.out;
  EXPECT_TRUE(fs::exists(d / "out" / "score.csv") && fs::exists(d / "out" / "score.json") && fs::exists(d / "out" / "score.md"));
  const auto csv = run_plena(fmt::format("bench score '{}' --format csv", (d / "logs").string()));
  EXPECT_TRUE(contains(csv.out, "m,gelu,1,C3,1,1,1,1.5000")) << csv.out;
}

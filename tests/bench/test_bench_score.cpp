// Scoring session logs into KernelCraft's tables: success within the level's iteration budget,
// level subtotals and total over all 100 cells, best speedup; strict reading of the logs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench/bench.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::bench;
namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path d = fs::path(PLENA_BINARY_DIR) / "test_bench_tmp" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

LogRecord eval(const std::string& agent, const std::string& task, const std::string& cfg, uint64_t it, bool pass,
               double speedup) {
  LogRecord r;
  r.session = agent + "-" + task + "-" + cfg;
  r.agent = agent;
  r.seq = it * 2;
  r.time = "2026-12-08T00:00:00Z";
  r.tool = std::string(tool::kRunEvaluation);
  r.task = task;
  r.config = cfg;
  r.iteration = it;
  CheckResult c;
  c.task = task;
  c.config = cfg;
  c.status = pass ? Status::Pass : Status::Mismatch;
  c.speedup = speedup;
  r.result_json = c.to_json();
  return r;
}

void write(const fs::path& p, const std::vector<LogRecord>& rs) {
  std::ofstream f(p);
  for (const auto& r : rs) f << r.to_json_line() << "\n";
}

}  // namespace

TEST(BenchScore, KernelCraftTableLayout) {
  const fs::path d = fresh("score");
  LogRecord other;
  other.session = "a-list";
  other.agent = "agent-a";
  other.tool = std::string(tool::kListTasks);
  write(d / "a.jsonl", {other, eval("agent-a", "silu", "C1", 1, false, 0), eval("agent-a", "silu", "C1", 2, true, 1.1),
                        eval("agent-a", "silu", "C1", 3, true, 1.25),
                        // passes only after the L1 budget of 15 evaluations: not a success
                        eval("agent-a", "silu", "C2", 16, true, 2.0), eval("agent-a", "mha", "C4", 20, true, 0.9)});
  write(d / "b.jsonl", {eval("agent-b", "gemm", "C5", 1, false, 0)});
  const ScoreReport s = score(d);
  EXPECT_NE(s.markdown.find("| L1 | SiLU | 1/5 | 0 |"), std::string::npos) << s.markdown;
  EXPECT_NE(s.markdown.find("| L2 | MHA | 1/5 | 0 |"), std::string::npos) << s.markdown;
  EXPECT_NE(s.markdown.find("| **L1 subtotal** | | **1/50** | **0/50** |"), std::string::npos) << s.markdown;
  EXPECT_NE(s.markdown.find("| **L3 subtotal** | | **0/10** | **0/10** |"), std::string::npos) << s.markdown;
  EXPECT_NE(s.markdown.find("| **TOTAL** | | **2/100** | **0/100** |"), std::string::npos) << s.markdown;
  EXPECT_NE(s.markdown.find("| SiLU | 1.25/x/x/x/x | x/x/x/x/x |"), std::string::npos) << s.markdown;
  EXPECT_NE(s.csv.find("agent-a,silu,1,C1,1,3,2,1.2500"), std::string::npos) << s.csv;
  EXPECT_NE(s.csv.find("agent-a,silu,1,C2,0,16,0,0.0000"), std::string::npos) << s.csv;
  const auto j = nlohmann::json::parse(s.json);
  EXPECT_EQ(j["totals"]["agent-a"]["success"], 2);
  EXPECT_EQ(j["totals"]["agent-a"]["total"], 100);
  EXPECT_EQ(j["totals"]["agent-a"]["levels"]["L2"]["success"], 1);
  EXPECT_EQ(j["tasks"][0]["agents"]["agent-a"]["configs"]["C1"]["speedup"], 1.25);
}

TEST(BenchScore, BadLogsAreLocatedInputErrors) {
  struct Case {
    std::string line, want;
  };
  const std::vector<Case> cases{
      {"{not json", "a.jsonl:2: error: not JSON"},
      {"[1, 2]", "a.jsonl:2: error: expected a JSON object"},
      {R"({"schema":"other/1"})", "schema: expected \"plena-bench-log/1\""},
      {R"({"schema":"plena-bench-log/1","session":"s","seq":1,"tool":"x"})", "missing \"agent\""},
      {R"({"schema":"plena-bench-log/1","agent":"a","session":"s","seq":"one","tool":"x"})", "\"seq\" has the wrong type"},
      {R"({"schema":"plena-bench-log/1","agent":"a","session":"s","seq":1,"tool":"run_evaluation","task":"frob","config":"C1","iteration":1,"is_error":false})",
       "unknown task 'frob'"},
  };
  for (const auto& c : cases) {
    const fs::path d = fresh("score_bad");
    std::ofstream(d / "a.jsonl") << eval("x", "silu", "C1", 1, true, 1).to_json_line() << "\n" << c.line << "\n";
    try {
      score(d);
      ADD_FAILURE() << "no error for " << c.line;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.want), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(score(fresh("score_empty")), InputError);
  EXPECT_THROW(score(fresh("score_empty") / "missing"), InputError);
}

// plena dse: the space file reader, expressions, the front and hypervolume, and whole searches
// on the tiny model (determinism over threads, resume after a cut log, the files written).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "dse/dse.hpp"
#include "support/support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace plena;

fs::path tmp_dir(const std::string& name) {
  const fs::path d = fs::path(PLENA_BINARY_DIR) / "test_dse_tmp" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The error message of parsing `text` as space file "s.toml" (empty when it parses).
std::string error_of(const std::string& text) {
  try {
    dse::parse_space(text, "s.toml", ".");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const std::string kTail = R"(
[[workload]]
model = "tiny"
prefill = 16
decode = 4

[[objective]]
minimize = "ttft_s"
[[objective]]
minimize = "multipliers"
)";

// A small space on reference-small: array shape x weight format, 2 x 4 x 2 = 16 points.
std::string small_space(const std::string& algorithm, uint64_t budget) {
  return fmt::format(R"([search]
base = "reference-small"
algorithm = "{}"
budget = {}
population = 8

[[param]]
name = "mlen"
key = "geometry.mlen"
pow2 = [64, 128]

[[param]]
name = "blen"
key = "geometry.blen"
pow2 = [2, 16]

[[param]]
name = "w"
key = "formats.m_weight"
values = ["plena-hw-mxfp:fp8_e4m3:b8", "mase-bfp:int4:b8"]

[[derived]]
key = "geometry.vlen"
expr = "mlen"

[[derived]]
key = "geometry.broadcast_amount"
expr = "mlen / 16"

[[derived]]
key = "hbm.m_prefetch_amount"
expr = "mlen"

[[constraint]]
expr = "mlen >= 16 >= blen"
)",
                     algorithm, budget) +
         kTail;
}

TEST(DseExpr, ArithmeticComparisonsAndStrings) {
  std::map<std::string, dse::Value> v{{"mlen", {false, 2048, {}}}, {"blen", {false, 16, {}}}, {"hlen", {false, 128, {}}},
                                      {"w", {true, 0, "mxint4"}}};
  auto eval = [&](const std::string& e) { return dse::Expr::parse(e, "f.toml", 3).eval(v).num; };
  EXPECT_EQ(eval("mlen % blen == 0"), 1);
  EXPECT_EQ(eval("mlen >= hlen >= blen"), 1);
  EXPECT_EQ(eval("blen >= hlen >= 1"), 0);  // chained: both comparisons must hold
  EXPECT_EQ(eval("2 * mlen / blen - 1"), 255);
  EXPECT_EQ(eval("min(mlen, 512, hlen) + max(1, 2) + log2(mlen) + abs(-3)"), 128 + 2 + 11 + 3);
  EXPECT_EQ(eval("w == 'mxint4' and not (blen > 32) or 0"), 1);
  EXPECT_EQ(eval("w != \"mxint4\""), 0);
  EXPECT_EQ(eval("-blen + 17"), 1);
}

TEST(DseExpr, ErrorsNameFileLineAndWhat) {
  auto err = [](const std::string& e, const std::map<std::string, dse::Value>& vars = {}) -> std::string {
    try {
      dse::Expr::parse(e, "f.toml", 7).eval(vars);
    } catch (const InputError& x) {
      return x.what();
    }
    return "";
  };
  EXPECT_NE(err("mlen = 3").find("f.toml:7: error"), std::string::npos);
  EXPECT_NE(err("mlen = 3").find("write '=='"), std::string::npos);
  EXPECT_NE(err("(1 + 2").find("missing ')'"), std::string::npos);
  EXPECT_NE(err("foo(1)").find("unknown function 'foo'"), std::string::npos);
  EXPECT_NE(err("x + 1").find("unknown name 'x'"), std::string::npos);
  EXPECT_NE(err("1 / 0").find("division by zero"), std::string::npos);
  EXPECT_NE(err("'a' < 'b'").find("only == and !="), std::string::npos);
  EXPECT_NE(err("1 +").find("ends too early"), std::string::npos);
}

TEST(DseSpace, ReadsTheSmallSpace) {
  const dse::Space s = dse::parse_space(small_space("grid", 0), "s.toml", ".");
  ASSERT_EQ(s.params.size(), 3u);
  EXPECT_EQ(s.params[1].values.size(), 4u);  // 2, 4, 8, 16
  EXPECT_EQ(s.grid_size(), 16u);
  EXPECT_EQ(s.derived.size(), 3u);
  EXPECT_EQ(s.derived[0].name, "vlen");  // named after the key by default
  EXPECT_EQ(s.objectives.size(), 2u);
  EXPECT_FALSE(s.constraints[0].on_metrics);
}

TEST(DseSpace, EveryBadFileNamesFileLineAndExpectation) {
  const std::string good = small_space("random", 10);
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> cases = {
      {"[search]\nbudget = 3\nbogus = 1\n" + kTail, "s.toml:3"},
      {"[search]\nbudget = 3\nbogus = 1\n" + kTail, "unknown key 'bogus'"},
      {"[search]\nalgorithm = \"tpe\"\nbudget = 4\n", "s.toml:2"},
      {"[search]\nalgorithm = \"tpe\"\nbudget = 4\n", "expected grid, random or nsga2"},
      {"[search]\nbudget = 0\n", "'budget' (evaluations, an integer >= 1)"},
      {"[search]\nbudget = 5\npopulation = 10\nalgorithm = \"nsga2\"\n", "multiple of 4"},
      {"[search]\nbase = \"nope\"\nbudget = 5\n", "neither a config preset"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nkey = \"geometry.mlen\"\npow2 = [3, 64]\n" + kTail, "s.toml:6"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nkey = \"geometry.mlen\"\npow2 = [3, 64]\n" + kTail, "powers of two"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nkey = \"geometry.mlenn\"\npow2 = [4, 64]\n" + kTail,
       "not a hardware config key"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nkey = \"formats.m_weight\"\nvalues = [4]\n" + kTail, "takes a string"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nrange = [8, 4]\n" + kTail, "low exceeds high"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nrange = [1, 4]\nvalues = [1]\n" + kTail, "exactly one of"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1, 1]\n" + kTail, "listed twice"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[constraint]]\nexpr = \"q > 1\"\n" + kTail,
       "constraint reads 'q'"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[constraint]]\nexpr = \"m > \"\n" + kTail, "s.toml:6"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n", "no [[workload]]"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[workload]]\nmodel = \"tiny\"\nprefill = 4\n",
       "no [[objective]]"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[workload]]\nmodel = \"nosuch\"\nprefill = 4\n",
       "s.toml:6"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[workload]]\nmodel = \"tiny\"\n", "missing key 'prefill'"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[objective]]\nminimize = \"speed\"\n", "unknown metric 'speed'"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"ttft_s\"\nvalues = [1]\n" + kTail, "is a metric name"},
      {"[search]\nbudget = 5\n[param]\nname = \"m\"\n", "write [[param]]"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[param]]\nname = \"m\"\nvalues = [2]\n" + kTail,
       "declared twice"},
      {"[search]\nalgorithm = \"grid\"\nbudget = 3\n[[param]]\nname = \"m\"\nvalues = [1, 2, 3, 4]\n" + kTail, "grid has 4 points"},
      {"[search\nbudget = 5\n", "s.toml:1"},
      {"[search]\nbudget = 5\n[[param]]\nname = \"m\"\nvalues = [1]\n[[derived]]\nname = \"d\"\nexpr = \"zz\"\n" + kTail,
       "derived 'd' reads 'zz'"},
  };
  EXPECT_EQ(error_of(good), "");
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.want), std::string::npos) << "want '" << c.want << "' in: " << e << "\nfor:\n" << c.text;
    EXPECT_NE(e.find("s.toml:"), std::string::npos) << e;
  }
}

TEST(DseFront, ParetoAndHypervolume) {
  const std::vector<std::vector<double>> f = {{1, 5}, {2, 2}, {3, 3}, {5, 1}, {2, 2}, {4, 4}};
  EXPECT_EQ(dse::pareto_front(f), (std::vector<size_t>{0, 1, 3, 4}));  // (3,3), (4,4) dominated by (2,2)
  // Two points against (3, 3): 2 + 2 - 1 overlapping = 3.
  EXPECT_DOUBLE_EQ(dse::hypervolume({{1, 2}, {2, 1}}, {3, 3}), 3.0);
  EXPECT_DOUBLE_EQ(dse::hypervolume({{1, 2}, {2, 1}, {5, 0}}, {3, 3}), 3.0);  // outside the box: ignored
  EXPECT_DOUBLE_EQ(dse::hypervolume({}, {3, 3}), 0.0);
}

dse::Result run_in(const fs::path& dir, const std::string& text, unsigned jobs, uint64_t seed = 1, bool resume = false,
                   unsigned verify = 0) {
  const fs::path file = dir / "space.toml";
  if (!fs::exists(file)) std::ofstream(file) << text;
  dse::Options o;
  o.out = dir / "out";
  o.jobs = jobs;
  o.seed = seed;
  o.resume = resume;
  o.verify = verify;
  return dse::run(dse::load_space(file), o);
}

TEST(DseRun, GridEvaluatesEveryPointAndWritesTheFiles) {
  const fs::path d = tmp_dir("grid");
  const dse::Result r = run_in(d, small_space("grid", 0), 2);
  ASSERT_EQ(r.trials.size(), 16u);
  size_t pruned = 0, ok = 0;
  for (const auto& t : r.trials) {
    pruned += t.status == dse::Status::Pruned;
    ok += t.status == dse::Status::Ok;
  }
  EXPECT_EQ(pruned, 0u);  // blen <= 16 always
  EXPECT_GT(ok, 8u);
  ASSERT_FALSE(r.pareto.empty());
  for (const char* f : {"trials.csv", "pareto.csv", "pareto.json", "hypervolume.csv", "report.md", "log.jsonl",
                        "front_ttft_s_multipliers.svg", "best_ttft_s.toml", "best_multipliers.toml"})
    EXPECT_TRUE(fs::exists(d / "out" / f)) << f;
  // The best-point config is a config file ready to use.
  EXPECT_NO_THROW(config::load_config_file(d / "out" / "best_ttft_s.toml"));
  // Fewer multipliers never make the front slower on every objective: the front is non-dominated.
  const std::string csv = read(d / "out" / "trials.csv");
  EXPECT_NE(csv.find("trial,hash,mlen,blen,w,status,why,ttft_s"), std::string::npos) << csv.substr(0, 200);
  EXPECT_NE(read(d / "out" / "front_ttft_s_multipliers.svg").find("baseline"), std::string::npos);
}

TEST(DseRun, SameSeedSameFrontWhateverTheThreads) {
  for (const std::string alg : {"random", "nsga2"}) {
    const fs::path a = tmp_dir(alg + "_j1"), b = tmp_dir(alg + "_j3");
    run_in(a, small_space(alg, 12), 1, 7);
    run_in(b, small_space(alg, 12), 3, 7);
    for (const char* f : {"pareto.csv", "trials.csv", "hypervolume.csv", "pareto.json"})
      EXPECT_EQ(read(a / "out" / f), read(b / "out" / f)) << alg << " " << f;
  }
}

TEST(DseRun, ResumeAfterACutLogGivesTheSameFiles) {
  const fs::path a = tmp_dir("full"), b = tmp_dir("cut");
  run_in(a, small_space("nsga2", 14), 2, 3);
  run_in(b, small_space("nsga2", 14), 2, 3);
  // Cut the log in the middle of a record, as a kill would, then resume.
  const fs::path log = b / "out" / "log.jsonl";
  const std::string text = read(log);
  const size_t cut = text.find('\n', text.size() / 2) - 5;
  fs::resize_file(log, cut);
  fs::remove(b / "out" / "pareto.csv");
  EXPECT_THROW(run_in(b, "", 1, 3, false), InputError);  // an existing log needs --resume
  const dse::Result r = run_in(b, "", 1, 3, true);
  EXPECT_LT(r.evaluated, r.trials.size());  // the log answered the first part
  EXPECT_EQ(read(a / "out" / "pareto.csv"), read(b / "out" / "pareto.csv"));
  EXPECT_EQ(read(a / "out" / "trials.csv"), read(b / "out" / "trials.csv"));
  EXPECT_EQ(read(a / "out" / "log.jsonl"), read(log));
  // Another seed does not continue this log.
  try {
    run_in(b, "", 1, 4, true);
    FAIL() << "a log of seed 3 resumed with seed 4";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("log.jsonl:1: error"), std::string::npos) << e.what();
  }
}

// --verify: Pareto points through the simulator (timing-only) against the estimate.
TEST(DseRun, VerifyReportsTheEstimateErrorOnFrontPoints) {
  const fs::path d = tmp_dir("verify");
  run_in(d, small_space("grid", 0), 2, 1, false, 2);
  const std::string md = read(d / "out" / "report.md");
  const size_t at = md.find("## Simulator check (--verify)");
  ASSERT_NE(at, std::string::npos) << md;
  // Two rows (two front points x one workload), each error a signed percentage within 5%.
  size_t rows = 0;
  for (size_t p = md.find("| tiny 16+4", at); p != std::string::npos; p = md.find("| tiny 16+4", p + 1)) ++rows;
  EXPECT_EQ(rows, 2u) << md.substr(at);
  for (size_t p = md.find('%', at); p != std::string::npos; p = md.find('%', p + 1)) {
    const size_t start = md.rfind(' ', p) + 1;
    EXPECT_LE(std::fabs(std::stod(md.substr(start, p - start))), 5.0) << md.substr(at);
  }
}

TEST(DseRun, MetricConstraintsMakePointsInfeasible) {
  const fs::path d = tmp_dir("constrained");
  std::string text = small_space("grid", 0);
  text.replace(text.find("[[constraint]]"), 0, "[[constraint]]\nexpr = \"multipliers <= 256\"\n\n");
  const dse::Result r = run_in(d, text, 2);
  size_t infeasible = 0;
  for (const auto& t : r.trials) {
    if (t.status == dse::Status::Ok) {
      EXPECT_LE(t.metrics.at("multipliers"), 256);
    }
    infeasible += t.status == dse::Status::Infeasible;
  }
  EXPECT_GT(infeasible, 0u);
  EXPECT_NE(read(d / "out" / "trials.csv").find("infeasible,multipliers <= 256"), std::string::npos);
}

// Precision as a search dimension: weight x KV formats with plena eval's KL divergence (the seeded
// random-weight tiny preset) as an objective beside TPOT of a model whose decode streams its weights
// (examples/dse/llama1b_precision.toml at test size).
std::string precision_space() {
  return R"([search]
base = "reference-small"
algorithm = "grid"
population = 8

[[param]]
name = "mlen"
key = "geometry.mlen"
pow2 = [128, 256]

[[param]]
name = "weights"
key = "formats.m_weight"
values = ["mase-bfp:int8:b16", "plena-hw-mxfp:fp8_e4m3:b8", "mase-bfp:int4:b16", "ocp-mx:fp4_e2m1:b32"]

[[param]]
name = "kv"
key = "formats.m_kv"
values = ["mase-bfp:int8:b16", "mase-bfp:int4:b16"]

[[derived]]
key = "formats.v_kv"
expr = "kv"

[[derived]]
key = "geometry.vlen"
expr = "mlen"

[[derived]]
key = "geometry.broadcast_amount"
expr = "mlen / 16"

[[derived]]
key = "hbm.m_prefetch_amount"
expr = "mlen"

[accuracy]
model = "preset:tiny"
prompts = 2
prompt_len = 16

[[workload]]
model = "smollm2-135m"
prefill = 32
decode = 8

[[objective]]
minimize = "tpot_s"
[[objective]]
minimize = "accuracy_kl"
)";
}

bool four_bit(const std::string& format) { return format.find("int4") != std::string::npos || format.find("fp4") != std::string::npos; }

TEST(DseRun, AccuracyObjectiveTradesPrecisionAgainstSpeed) {
  const fs::path d = tmp_dir("accuracy");
  const dse::Result r = run_in(d, precision_space(), 2);
  ASSERT_EQ(r.trials.size(), 16u);
  // The KL of a set of formats does not depend on the array shape (one memoized evaluation), and
  // 4-bit weights lose more than 8-bit integer weights at the same KV format.
  std::map<std::string, double> kl_of;  // "weights|kv" -> KL
  for (const auto& t : r.trials) {
    ASSERT_EQ(t.status, dse::Status::Ok) << t.why;
    const std::string key = fmt::format("{}|{}", t.x[1], t.x[2]);
    const double kl = t.metrics.at("accuracy_kl");
    EXPECT_GT(kl, 0.0);
    const auto [it, first] = kl_of.emplace(key, kl);
    if (!first) {
      EXPECT_EQ(it->second, kl) << key;
    }
  }
  for (size_t kv : {0, 1})
    for (size_t w4 : {2, 3}) EXPECT_GT(kl_of.at(fmt::format("{}|{}", w4, kv)), kl_of.at(fmt::format("0|{}", kv)));
  // The front keeps both ends: its fastest point has 4-bit weights, its most accurate 8-bit ones.
  ASSERT_GE(r.pareto.size(), 2u);
  const dse::Space s = dse::parse_space(precision_space(), "precision.toml", ".");
  auto weights = [&](size_t i) { return s.params[1].values.at(r.trials[i].x[1]).str; };
  auto by = [&](const char* m) {
    return *std::min_element(r.pareto.begin(), r.pareto.end(), [&](size_t a, size_t b) {
      return r.trials[a].metrics.at(m) < r.trials[b].metrics.at(m);
    });
  };
  EXPECT_TRUE(four_bit(weights(by("tpot_s")))) << weights(by("tpot_s"));
  EXPECT_FALSE(four_bit(weights(by("accuracy_kl")))) << weights(by("accuracy_kl"));
  EXPECT_NE(read(d / "out" / "pareto.csv").find(",accuracy,accuracy_kl"), std::string::npos);
}

int run_cli(const std::string& args, std::string& err) {
  const fs::path e = fs::path(PLENA_BINARY_DIR) / "test_dse_tmp" / "cli.err";
  const std::string cmd = fmt::format("'{}/plena' {} >/dev/null 2>'{}' </dev/null", PLENA_BINARY_DIR, args, e.string());
  const int st = std::system(cmd.c_str());
  err = read(e);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(DseCli, BadSpaceFileExitsOneWithFileAndLine) {
  const fs::path d = tmp_dir("cli");
  std::ofstream(d / "bad.toml") << "[search]\nbudget = 5\n[[param]]\nname = \"m\"\npow2 = [3, 8]\n";
  std::string err;
  EXPECT_EQ(run_cli(fmt::format("dse '{}' --out '{}'", (d / "bad.toml").string(), (d / "o").string()), err), 1);
  EXPECT_NE(err.find("bad.toml:5"), std::string::npos) << err;
  EXPECT_EQ(run_cli(fmt::format("dse '{}' --out '{}'", (d / "none.toml").string(), (d / "o").string()), err), 1);
  EXPECT_NE(err.find("cannot read the space file"), std::string::npos) << err;
  std::ofstream(d / "good.toml") << small_space("random", 4);
  EXPECT_EQ(run_cli(fmt::format("dse '{}' --out '{}' --jobs 2", (d / "good.toml").string(), (d / "o").string()), err), 0) << err;
  EXPECT_EQ(run_cli(fmt::format("dse '{}' --out '{}'", (d / "good.toml").string(), (d / "o").string()), err), 1);
  EXPECT_NE(err.find("--resume"), std::string::npos) << err;
  std::ofstream(d / "file") << "x";
  EXPECT_EQ(run_cli(fmt::format("dse '{}' --out '{}'", (d / "good.toml").string(), (d / "file").string()), err), 1);
  EXPECT_NE(err.find("cannot create the output folder"), std::string::npos) << err;
}

}  // namespace

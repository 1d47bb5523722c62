// plena estimate --deployment: the deployment reader, the event simulation (one request against
// the analytic estimate, hand-off modes, queueing, saturation, determinism), the CLI.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "analytic/analytic.hpp"
#include "dse/dse.hpp"
#include "serve/serve.hpp"
#include "support/support.hpp"

namespace {

using namespace plena;

// A small deployment on the tiny model; `extra` is appended ([requests] is last, so plain keys
// added there land in it).
std::string deployment(const std::string& requests, const std::string& pools = "") {
  return fmt::format(R"(model = "tiny"
[prefill]
hw = "tiny-fp32"
{}
[decode]
hw = "tiny-fp32"
max_batch = 4
[handoff]
bandwidth_gbps = 1
latency_us = 5
[requests]
{}
)",
                     pools, requests);
}

serve::Deployment parse(const std::string& text) { return serve::parse_deployment(text, "d.toml", "."); }

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ServeFile, ErrorsNameFileLineAndExpectation) {
  const std::string ok = "prompt = 64\noutput = 8\narrival_rate = 1";
  EXPECT_EQ(error_of(deployment(ok)), "");
  EXPECT_EQ(error_of(deployment("prompt = 64\noutput = 8")), "d.toml:11: error: missing key 'arrival_rate' (requests per second, a number > 0)");
  EXPECT_EQ(error_of(deployment(ok + "\nbogus = 1")),
            "d.toml:15: error: unknown key 'bogus' in [requests] (expected one of: prompt, output, arrival_rate, "
            "arrivals, count, seed)");
  EXPECT_EQ(error_of(deployment("prompt = { uniform = [9, 3] }\noutput = 8\narrival_rate = 1")),
            "d.toml:12: error: 'prompt.uniform' = [9, 3]: low exceeds high");
  EXPECT_EQ(error_of(deployment("prompt = 0\noutput = 8\narrival_rate = 1")),
            "d.toml:12: error: 'prompt' = 0 is out of range: expected an integer in [1, 16777216]");
  EXPECT_EQ(error_of(deployment("prompt = { points = [[64, -1]] }\noutput = 8\narrival_rate = 1")),
            "d.toml:12: error: 'prompt.points' entries must be [tokens, weight] with an integer and a weight > 0");
  EXPECT_EQ(error_of(deployment(ok, "devices = 4\ntp = 3")),
            "d.toml:2: error: [prefill] tp 3 x pp 0 does not split devices = 4: expected tp x pp = devices (give one "
            "of them and the other follows)");
  EXPECT_EQ(error_of(deployment(ok, "max_batch = 2")),
            "d.toml:4: error: [prefill] max_batch must be 1 (prompts are served one at a time per instance)");
  EXPECT_NE(error_of(deployment(ok, "set = { \"hbm.dram\" = \"nope\" }")).find("d.toml:4: error: [prefill] hardware config is invalid: hbm.dram = \"nope\": unknown DRAM preset"), std::string::npos);
  EXPECT_EQ(error_of(deployment(ok, "set = { hbm = 1 }")),
            "d.toml:4: error: [prefill.set] 'hbm': expected a quoted \"table.key\" = value (e.g. \"hbm.dram\" = "
            "\"gddr7\")");
  EXPECT_NE(error_of(deployment(ok + "\narrivals = \"bursty\"")).find("d.toml:15: error: arrivals 'bursty': expected"),
            std::string::npos);
  EXPECT_EQ(error_of("model = \"tiny\"\n"), "d.toml:1: error: missing table [prefill]");
  EXPECT_NE(error_of("model = \"nope\"\n").find("d.toml:1: error: model 'nope': not a model preset"), std::string::npos);
}

TEST(ServeFile, Distributions) {
  const auto d = parse(deployment("prompt = { points = [[100, 3], [300, 1]] }\noutput = { uniform = [2, 10] }\n"
                                  "arrival_rate = 2"));
  EXPECT_DOUBLE_EQ(d.prompt.mean(), 150.0);
  EXPECT_EQ(d.prompt.max(), 300u);
  EXPECT_EQ(d.prompt.support(), (std::vector<uint64_t>{100, 300}));
  EXPECT_DOUBLE_EQ(d.output.mean(), 6.0);
  EXPECT_TRUE(d.output.support().empty());
}

// One request alone: TTFT = the analytic prefill + the bulk hand-off; TPOT between the one-sequence
// decode steps at the shortest and longest context.
TEST(ServeSim, OneRequestMatchesTheEstimate) {
  const auto d = parse(deployment("prompt = 64\noutput = 9\narrival_rate = 1\ncount = 1"));
  const serve::Report r = serve::simulate(d);
  analytic::Parallelism par;
  const analytic::Estimate e = analytic::estimate(d.model, d.prefill.cfg, {64, 1, 1, 0}, par);
  const double kv = double(d.model.kv_cache_bytes(64, 1, analytic::hbm_format_bits(d.prefill.cfg.formats.m_kv)));
  EXPECT_NEAR(r.ttft_s.mean, e.prefill.seconds + kv / 1e9 + 5e-6, 1e-12);
  EXPECT_NEAR(r.handoff_s.mean, kv / 1e9 + 5e-6, 1e-12);
  analytic::MemoryModel mem(d.decode.cfg);
  par.tp = 1;
  const double lo = analytic::decode_step(d.model, d.decode.cfg, par, mem, 1, 65, 73).seconds;
  const double hi = analytic::decode_step(d.model, d.decode.cfg, par, mem, 1, 73, 73).seconds;
  EXPECT_GE(r.tpot_s.mean, std::min(lo, hi) - 1e-15);
  EXPECT_LE(r.tpot_s.mean, std::max(lo, hi) + 1e-15);
  EXPECT_EQ(r.output_tokens, 9u);
  EXPECT_EQ(r.decode.tokens, 8u);
  EXPECT_NEAR(r.energy_j, r.prefill.energy_j + r.decode.energy_j + r.handoff_energy_j, 1e-12 * r.energy_j);
  EXPECT_GT(r.usd_per_token, 0);
  EXPECT_FALSE(r.saturated);
}

TEST(ServeSim, StreamedHandoffOverlapsThePrefill) {
  const std::string req = "prompt = 128\noutput = 4\narrival_rate = 1\ncount = 1";
  const serve::Report bulk = serve::simulate(parse(deployment(req)));
  std::string text = deployment(req);
  text.replace(text.find("latency_us = 5"), 14, "latency_us = 5\nmode = \"streamed\"");
  const serve::Report streamed = serve::simulate(parse(text));
  EXPECT_LT(streamed.handoff_s.mean, bulk.handoff_s.mean);
  EXPECT_LT(streamed.ttft_s.mean, bulk.ttft_s.mean);
}

// Offered load above 1 marks the pool saturated and its queue grows; more instances relieve it.
TEST(ServeSim, QueueingAndSaturation) {
  const std::string heavy = "prompt = 256\noutput = 64\narrival_rate = 100000\ncount = 60\narrivals = \"uniform\"";
  const serve::Report one = serve::simulate(parse(deployment(heavy)));
  EXPECT_TRUE(one.saturated);
  EXPECT_GT(one.prefill.queue_s.max, one.prefill.queue_s.p50);
  const serve::Report four = serve::simulate(parse(deployment(heavy, "instances = 4")));
  EXPECT_NEAR(four.prefill.offered_load * 4, one.prefill.offered_load, 1e-9 * one.prefill.offered_load);
  EXPECT_LT(four.prefill.queue_s.mean, one.prefill.queue_s.mean);
  const serve::Report light = serve::simulate(parse(deployment("prompt = 256\noutput = 64\narrival_rate = 0.5\ncount = 20")));
  EXPECT_FALSE(light.saturated);
  EXPECT_LT(light.prefill.utilisation, 0.1);
}

TEST(ServeSim, SeededAndDeterministic) {
  const std::string req = "prompt = { uniform = [16, 200] }\noutput = { points = [[2, 1], [20, 1]] }\narrival_rate = 50\ncount = 40";
  const std::string a = serve::to_json(serve::simulate(parse(deployment(req))));
  EXPECT_EQ(a, serve::to_json(serve::simulate(parse(deployment(req)))));
  EXPECT_NE(a, serve::to_json(serve::simulate(parse(deployment(req + "\nseed = 7")))));
}

int run_cli(const std::string& args, std::string& out) {
  const std::string cmd = std::string(PLENA_BINARY_DIR) + "/plena " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return WEXITSTATUS(pclose(p));
}

TEST(ServeCli, TextJsonAndRefusals) {
  const std::string path = std::string(PLENA_BINARY_DIR) + "/test_serve_d.toml";
  write_text_file(path, deployment("prompt = 64\noutput = 8\narrival_rate = 1\ncount = 10"));
  std::string out;
  ASSERT_EQ(run_cli("estimate --deployment " + path + " --json", out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["requests"], 10);
  EXPECT_TRUE(j["pools"].contains("decode"));
  out.clear();
  ASSERT_EQ(run_cli("estimate --deployment " + path, out), 0) << out;
  EXPECT_NE(out.find("prefill pool: 1 device(s)"), std::string::npos);
  out.clear();
  EXPECT_EQ(run_cli("estimate --deployment /nonexistent.toml", out), 1);
  out.clear();
  EXPECT_NE(run_cli("estimate --deployment " + path + " --hw tiny-fp32", out), 0);
}

// plena dse serving spaces: pool keys, memory keys and hw files as parameters; saturated points
// infeasible; the request mix comes from the deployment only.
TEST(ServeDse, ServingSpace) {
  const std::string dir = std::string(PLENA_BINARY_DIR) + "/test_serve_dse";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  write_text_file(dir + "/d.toml", deployment("prompt = 64\noutput = 8\narrival_rate = 2\ncount = 10"));
  const std::string head = "[search]\ndeployment = \"d.toml\"\nalgorithm = \"grid\"\n";
  const std::string params = R"([[param]]
name = "ddram"
key = "decode.hbm.dram"
values = ["hbm2", "lpddr5x"]
[[param]]
name = "pinst"
key = "prefill.instances"
values = [1, 2]
[[objective]]
minimize = "power_at_target_w"
[[objective]]
minimize = "usd_per_mtok"
)";
  auto space_error = [&](const std::string& text) {
    try {
      dse::parse_space(text, "s.toml", dir);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(space_error(head + params), "");
  EXPECT_NE(space_error(head + params + "[[workload]]\nmodel = \"tiny\"\nprefill = 4\n")
                .find("error: a serving space ([search] deployment) takes its request mix"),
            std::string::npos);
  EXPECT_NE(space_error(head + "[[param]]\nname = \"x\"\nkey = \"decode.memory.kv.bogus\"\nvalues = [1]\n" +
                        params.substr(params.find("[[objective]]")))
                .find("s.toml:4: error: 'decode.memory.kv.bogus': expected"),
            std::string::npos);
  EXPECT_NE(space_error(head + params + "[[objective]]\nminimize = \"hbm_gib\"\n").find("unknown metric 'hbm_gib'"),
            std::string::npos);
  write_text_file(dir + "/s.toml", head + params);
  dse::Options o;
  o.out = dir + "/out";
  o.quiet = true;
  const dse::Result r = dse::run(dse::load_space(dir + "/s.toml"), o);
  ASSERT_EQ(r.trials.size(), 4u);
  for (const auto& t : r.trials) {
    EXPECT_EQ(t.status, dse::Status::Ok) << t.why;
    EXPECT_GT(t.metrics.at("tokens_per_j"), 0);
  }
  // lpddr5x decode: a different step time than hbm2; two prefill instances halve its offered load.
  auto at = [&](uint32_t ddram, uint32_t pinst) -> const dse::Trial& {
    for (const auto& t : r.trials)
      if (t.x == dse::Point{ddram, pinst}) return t;
    throw std::runtime_error("point missing");
  };
  EXPECT_NE(at(0, 0).metrics.at("tpot_s"), at(1, 0).metrics.at("tpot_s"));
  EXPECT_LE(at(0, 1).metrics.at("offered_load"), at(0, 0).metrics.at("offered_load") + 1e-12);
  EXPECT_LT(at(0, 1).metrics.at("prefill_utilisation"), at(0, 0).metrics.at("prefill_utilisation"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/pareto.csv"));
  EXPECT_NE(read_text_file(dir + "/out/best_usd_per_mtok.toml").find("[prefill]"), std::string::npos);
}

}  // namespace

// plena eval as a user runs it: byte-identical reruns, the ordering in the JSON, every bad input
// a clear message and exit 1.
#include <nlohmann/json.hpp>

#include "cli_run.hpp"

using namespace plena_cli_test;

TEST(EvalCli, TwoRunsAreByteIdenticalAndOrdered) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "tokens.txt", "5 9 200 31 7 7 300 12 44 1 0 511 64 3 3 100 250\n");
  const std::string args = "eval --model tiny --precision fp32,bf16 --precision mxfp8,mxint4 --num-prompts 2 "
                           "--prompt-len 8 --tokens '" + (d / "tokens.txt").string() + "' --window 6 --json";
  const CliResult a = run_plena(args), b = run_plena(args);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  const auto j = nlohmann::json::parse(a.out);
  EXPECT_EQ(j["text_windows"], 3);  // 17 ids: 6 + 6 + 5
  EXPECT_EQ(j["ppl_tokens"], 14);
  ASSERT_EQ(j["results"].size(), 4u);
  const auto& r = j["results"];
  EXPECT_EQ(r[0]["name"], "fp32");
  EXPECT_EQ(r[0]["kl_mean"], 0.0);
  EXPECT_EQ(r[0]["ppl"], j["ppl_ref"]);
  EXPECT_LT(0.0, r[1]["kl_mean"].get<double>());
  EXPECT_LT(r[1]["kl_mean"].get<double>(), r[2]["kl_mean"].get<double>());
  EXPECT_LT(r[2]["kl_mean"].get<double>(), r[3]["kl_mean"].get<double>());
  EXPECT_FALSE(r[0].contains("cpu_s"));

  const CliResult t = run_plena("eval --model tiny --hw reference-small --hw tiny-fp32 --prompt-len 4 --timings");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(contains(t.out, "CPU-s")) << t.out;
  EXPECT_TRUE(contains(t.out, "reference-small")) << t.out;
  EXPECT_TRUE(contains(t.out, "MXFP8 weights, MXFP8 KV, bf16 activations")) << t.out;
  EXPECT_FALSE(contains(t.out, "mxint4")) << t.out;  // --hw given: no default precisions
  const CliResult o = run_plena("eval --prompt-len 4 --precision bf16 -o '" + (d / "out.txt").string() + "'");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "");
  EXPECT_TRUE(contains(plena::read_text_file(d / "out.txt"), "bf16 weights, bf16 KV, bf16 activations"));
}

TEST(EvalCli, EveryBadInputIsAClearErrorWithExit1) {
  const fs::path d = test_dir();
  const std::string D = d.string();
  plena::write_text_file(d / "bad.toml", "base = \"tiny-fp32\"\n[formats]\nm_weight = \"mxint3\"\n");
  plena::write_text_file(d / "p.txt", "1 2 zz\n");
  fs::create_directories(d / "ckpt");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--model no-such-model", "no-such-model"},
      {"--model '" + D + "/ckpt'", "config.json"},
      {"--hw no-such-hw", "no-such-hw"},
      {"--hw '" + D + "/bad.toml'", "bad.toml:3:12: error: formats.m_weight"},
      {"--precision int3", "unknown precision 'int3'"},
      {"--prompts '" + D + "/p.txt'", "p.txt:1:5: error: 'zz' is not a token id"},
      {"--prompts '" + D + "/none.txt'", "none.txt: error: --prompts: no such file"},
      {"--tokens '" + D + "/none.npy'", "none.npy: error: --tokens: no such file"},
      {"--prompts '" + D + "/p.txt' --prompt-ids 1,2", "--prompts excludes --prompt-ids"},
      {"--prompt-ids 1,x", "--prompt-ids"},
      {"--prompt-len 3000", "prompt 0 has 3000 tokens; the model takes at most 2048 positions"},
      {"--prompt-len -1", "--prompt-len"},
      {"--prompt-len 0", "--prompt-len"},
      {"--num-prompts 1e9", "--num-prompts"},
      {"--window 1", "--window"},
      {"--max-tokens x", "--max-tokens"},
      {"--seed -4", "--seed"},
      {"--bogus", "--bogus"},
  };
  for (const auto& [args, expect] : cases) {
    const CliResult r = run_plena("eval " + args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, expect)) << args << "\n" << r.err;
    EXPECT_FALSE(contains(r.err, "internal error")) << args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
}

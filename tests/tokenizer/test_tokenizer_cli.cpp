// plena tokenize / detokenize / run --prompt as a user runs them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../cli/cli_run.hpp"

namespace {

using plena_cli_test::contains;
using plena_cli_test::run_plena;

std::string data(const std::string& name) { return "'" + std::string(PLENA_TOKENIZER_DATA) + "/" + name + "'"; }

TEST(TokenizerCli, TokenizeAndDetokenize) {
  auto r = run_plena("tokenize " + data("bytelevel") + " 'hello the'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "269,259,262\n");
  r = run_plena("tokenize " + data("bytelevel/tokenizer.json") + " --no-special 'hello the'");
  EXPECT_EQ(r.out, "259,262\n");
  r = run_plena("tokenize " + data("bytelevel") + " --json 'hello the'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"({"ids":[269,259,262],"tokens":["<|bos|>","hello","Ġthe"]})"));
  r = run_plena("detokenize " + data("bytelevel") + " 269,259,262");
  EXPECT_EQ(r.out, "<|bos|>hello the\n");
  r = run_plena("detokenize " + data("bytelevel") + " --skip-special '269 259 262'");
  EXPECT_EQ(r.out, "hello the\n");
  r = run_plena("tokenize " + data("metaspace") + " --chat hello");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.rfind("1,", 0) == 0) << r.out;  // <s>[INST] hello [/INST]
}

TEST(TokenizerCli, BadInputsExitOne) {
  auto r = run_plena("detokenize " + data("bytelevel") + " 1,x");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "'x'")) << r.err;
  r = run_plena("detokenize " + data("bytelevel") + " 99999");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "token id 99999")) << r.err;
  r = run_plena("tokenize /nonexistent/dir hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "/nonexistent/dir")) << r.err;
  r = run_plena("tokenize " + data("sp") + " --chat hi");  // a ChatML template on a SentencePiece model: fine
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_plena("run --prompt hi");  // the tiny preset has no tokenizer
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "has no tokenizer")) << r.err;
  r = run_plena("run --chat");
  EXPECT_EQ(r.code, 1);
}

TEST(TokenizerCli, RunWithTextPromptPrintsText) {
  const auto dir = plena_cli_test::test_dir();
  const std::string json = (dir / "r.json").string();
  auto r = run_plena("run --tokenizer " + data("bytelevel") + " --prompt 'hello the' --gen 2 --json '" + json + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "prompt       [269,259,262]\n  text       \"<|bos|>hello the\"\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "generated    [")) << r.out;
  const auto j = nlohmann::json::parse(plena::read_text_file(json));
  EXPECT_EQ(j["prompt_text"][0], "<|bos|>hello the");
  EXPECT_EQ(j["generated_text"].size(), 1u);
  EXPECT_EQ(j["tokenizer"], "tokenizer.json (BPE, byte-level), 274 tokens");
  r = run_plena("run --tokenizer " + data("bytelevel") + " --prompt hi --chat --system 'Be brief.' --gen 1 -q");
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace

// plena tokenize / detokenize / run --prompt as a user runs them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../cli/cli_run.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using plena_cli_test::contains;
using plena_cli_test::run_plena;

std::string data(const std::string& name) { return fmt::format("'{}/{}'", PLENA_TOKENIZER_DATA, name); }

TEST(TokenizerCli, TokenizeAndDetokenize) {
  plena_cli_test::test_dir();
  auto r = run_plena(fmt::format("tokenize {} 'hello the'", data("bytelevel")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "269,259,262\n");
  r = run_plena(fmt::format("tokenize {} --no-special 'hello the'", data("bytelevel/tokenizer.json")));
  EXPECT_EQ(r.out, "259,262\n");
  r = run_plena(fmt::format("tokenize {} --json 'hello the'", data("bytelevel")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"({"ids":[269,259,262],"tokens":["<|bos|>","hello","Ġthe"]})"));
  r = run_plena(fmt::format("detokenize {} 269,259,262", data("bytelevel")));
  EXPECT_EQ(r.out, "<|bos|>hello the\n");
  r = run_plena(fmt::format("detokenize {} --skip-special '269 259 262'", data("bytelevel")));
  EXPECT_EQ(r.out, "hello the\n");
  r = run_plena(fmt::format("tokenize {} --chat hello", data("metaspace")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.rfind("1,", 0) == 0) << r.out;  // <s>[INST] hello [/INST]
}

TEST(TokenizerCli, BadInputsExitOne) {
  plena_cli_test::test_dir();
  auto r = run_plena(fmt::format("detokenize {} 1,x", data("bytelevel")));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "'x'")) << r.err;
  r = run_plena(fmt::format("detokenize {} 99999", data("bytelevel")));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "token id 99999")) << r.err;
  r = run_plena("tokenize /nonexistent/dir hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "/nonexistent/dir")) << r.err;
  r = run_plena(fmt::format("tokenize {} --chat hi", data("sp")));  // a ChatML template on a SentencePiece model
  if (plena::tokenizer::sentencepiece_available()) {
    EXPECT_EQ(r.code, 0) << r.err;
  } else {
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.err, "libsentencepiece")) << r.err;
  }
  r = run_plena("run --prompt hi");  // the tiny preset has no tokenizer
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "has no tokenizer")) << r.err;
  r = run_plena("run --chat");
  EXPECT_EQ(r.code, 1);
}

TEST(TokenizerCli, RunWithTextPromptPrintsText) {
  const auto dir = plena_cli_test::test_dir();
  const std::string json = (dir / "r.json").string();
  auto r = run_plena(fmt::format("run --tokenizer {} --prompt 'hello the' --gen 2 --json '{}'", data("bytelevel"), json));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "prompt       [269,259,262]\n  text       \"<|bos|>hello the\"\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "generated    [")) << r.out;
  const auto j = nlohmann::json::parse(plena::read_text_file(json));
  EXPECT_EQ(j["prompt_text"][0], "<|bos|>hello the");
  EXPECT_EQ(j["generated_text"].size(), 1u);
  EXPECT_EQ(j["tokenizer"], "tokenizer.json (BPE, byte-level), 274 tokens");
  r = run_plena(fmt::format("run --tokenizer {} --prompt hi --chat --system 'Be brief.' --gen 1 -q", data("bytelevel")));
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace

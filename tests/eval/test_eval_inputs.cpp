// The evaluation set from files and flags: prompt files, token files, windows, located errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "eval/eval.hpp"
#include "support/support.hpp"

using namespace plena;
namespace fs = std::filesystem;

namespace {

fs::path tmp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_eval_tmp" / info->name();
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string error_of(const model::ModelConfig& cfg, const eval::EvalOptions& o) {
  try {
    eval::load_set(cfg, o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(EvalInputs, PromptFileLinesCommentsAndSeparators) {
  const fs::path d = tmp_dir();
  const model::ModelConfig cfg = model::model_preset("tiny");
  write_text_file(d / "p.txt", "# prompts\n1,2,3\n\n4 5\t6  # trailing comment\r\n 7,, 8\n");
  eval::EvalOptions o;
  o.prompts_file = d / "p.txt";
  const eval::EvalSet s = eval::load_set(cfg, o);
  ASSERT_EQ(s.prompts.size(), 3u);
  EXPECT_EQ(s.prompts[0], (std::vector<model::TokenId>{1, 2, 3}));
  EXPECT_EQ(s.prompts[1], (std::vector<model::TokenId>{4, 5, 6}));
  EXPECT_EQ(s.prompts[2], (std::vector<model::TokenId>{7, 8}));
  EXPECT_TRUE(s.texts.empty());

  npy_save(d / "p.npy", npy_from_i64(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3}));
  o.prompts_file = d / "p.npy";
  EXPECT_EQ(eval::load_set(cfg, o).prompts, (std::vector<std::vector<model::TokenId>>{{1, 2, 3}, {4, 5, 6}}));
}

TEST(EvalInputs, TokenFileWindows) {
  const fs::path d = tmp_dir();
  const model::ModelConfig cfg = model::model_preset("tiny");
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 12; ++i) ids.push_back(i * 3);
  npy_save(d / "t.npy", npy_from_i64(ids, {12}));
  eval::EvalOptions o;
  o.tokens_file = d / "t.npy";
  o.window = 5;
  eval::EvalSet s = eval::load_set(cfg, o);
  EXPECT_TRUE(s.prompts.empty());  // random prompts only when no prompt or token source is given
  ASSERT_EQ(s.texts.size(), 3u);
  EXPECT_EQ(s.texts[2], (std::vector<model::TokenId>{30, 33}));
  o.max_tokens = 11;  // the last window would hold one token: it predicts nothing and is dropped
  s = eval::load_set(cfg, o);
  ASSERT_EQ(s.texts.size(), 2u);
  EXPECT_EQ(s.texts[1].back(), 27);
  write_text_file(d / "t.txt", "1 2 3\n4 5\n6\n");
  o.tokens_file = d / "t.txt";
  o.max_tokens = 0;
  o.prompt_ids = "9,9";
  s = eval::load_set(cfg, o);
  EXPECT_EQ(s.prompts.size(), 1u);
  ASSERT_EQ(s.texts.size(), 1u);  // 6 ids: a window of 5, then one id (dropped)
  EXPECT_EQ(s.texts[0], (std::vector<model::TokenId>{1, 2, 3, 4, 5}));
}

TEST(EvalInputs, BadFilesAndFlagsNameWhatIsWrong) {
  const fs::path d = tmp_dir();
  const model::ModelConfig cfg = model::model_preset("tiny");
  write_text_file(d / "bad.txt", "1,2\n3, x7\n");
  write_text_file(d / "big.txt", "1 2 600\n");
  write_text_file(d / "empty.txt", "# nothing\n\n");
  write_text_file(d / "one.txt", "5\n");
  write_text_file(d / "bin.txt", std::string("1 2\0\0", 5));
  npy_save(d / "f.npy", npy_from_f32(std::vector<float>{1.5f, 2}, {2}));
  npy_save(d / "r3.npy", npy_from_i64(std::vector<int64_t>{1, 2}, {1, 1, 2}));
  npy_save(d / "neg.npy", npy_from_i64(std::vector<int64_t>{1, -2}, {2}));
  npy_save(d / "2d.npy", npy_from_i64(std::vector<int64_t>{1, 2, 3, 4}, {2, 2}));
  const std::string D = d.string();
  struct Case {
    std::string prompts, tokens, ids;
    uint64_t window;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {D + "/bad.txt", "", "", 128, D + "/bad.txt:2:4: error: 'x7' is not a token id"},
      {D + "/big.txt", "", "", 128, D + "/big.txt:1:5: error: token id 600 is outside the vocabulary [0, 512)"},
      {D + "/empty.txt", "", "", 128, "--prompts: no prompts"},
      {D + "/missing.txt", "", "", 128, "missing.txt: error: --prompts: no such file"},
      {D, "", "", 128, "--prompts: not a regular file"},
      {D + "/bin.txt", "", "", 128, "binary data in a text file"},
      {D + "/f.npy", "", "", 128, "f.npy: error: .npy dtype 'f4' is not an integer type; expected token ids"},
      {D + "/r3.npy", "", "", 128, "array of rank 3; expected token ids of shape [T] (one prompt) or [B, T]"},
      {D + "/neg.npy", "", "", 128, "element [1] is -2"},
      {"", D + "/2d.npy", "", 128, "array of rank 2; expected token ids of shape [N]"},
      {"", D + "/one.txt", "", 128, "--tokens: 1 token id(s); perplexity needs at least 2"},
      {"", D + "/nope.npy", "", 128, "--tokens: no such file"},
      {"", D + "/one.txt", "", 1, "--window: error: 1 is too small"},
      {"", D + "/one.txt", "", 4096, "--window: error: 4096 tokens; the model takes at most 2048 positions"},
      {D + "/one.txt", "", "1,2", 128, "--prompts and --prompt-ids: error: both given"},
      {"", "", "1,700", 128, "--prompt-ids: error: prompt 0 id 700 (index 1) is outside the vocabulary"},
      {"", "", "1,,2", 128, "--prompt-ids"},
  };
  for (const auto& c : cases) {
    eval::EvalOptions o;
    o.prompts_file = c.prompts;
    o.tokens_file = c.tokens;
    o.prompt_ids = c.ids;
    o.window = c.window;
    const std::string err = error_of(cfg, o);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.prompts << c.tokens << c.ids << ": " << err;
  }
}

TEST(EvalInputs, PrecisionNamesAndModels) {
  EXPECT_EQ(eval::precision_names(), (std::vector<std::string>{"fp32", "bf16", "mxfp8", "mxint8", "mxint4", "mxfp4"}));
  try {
    eval::precision("int3");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown precision 'int3'; expected one of fp32, bf16"), std::string::npos);
  }
  EXPECT_THROW(eval::load_model("no-such-model", 1), InputError);
  const eval::LoadedModel m = eval::load_model("preset:tiny", 2);
  EXPECT_EQ(m.config.name, "tiny");
  EXPECT_NE(m.source.find("seed 2"), std::string::npos);
}

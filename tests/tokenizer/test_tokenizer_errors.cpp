// Malformed tokenizer files and bad inputs: InputErrors naming the file, the place and what was expected.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tok_test.hpp"

namespace plena::tokenizer {
namespace {

using nlohmann::json;

// The load error of data/bytelevel's tokenizer.json after `edit`.
template <class F>
std::string load_error_after(F&& edit) {
  const auto dir = tok_test::scratch("bytelevel");
  json j = json::parse(read_text_file(dir / "tokenizer.json"));
  edit(j);
  write_text_file(dir / "tokenizer.json", j.dump());
  return tok_test::input_error([&] { Tokenizer::load(dir / "tokenizer.json"); });
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

TEST(TokenizerErrors, MalformedJsonIsLocated) {
  const auto dir = tok_test::scratch();
  write_text_file(dir / "tokenizer.json", "{\n  \"model\": {\"vocab\": {\"a\": 0,}}\n}\n");
  const std::string e = tok_test::input_error([&] { Tokenizer::load(dir); });
  EXPECT_HAS(e, "tokenizer.json:2:");
  EXPECT_HAS(e, "malformed JSON");
}

TEST(TokenizerErrors, StructuralMistakesNameTheJsonPath) {
  EXPECT_HAS(load_error_after([](json& j) { j.erase("model"); }), "$: missing key 'model'");
  EXPECT_HAS(load_error_after([](json& j) { j["model"]["merges"][0] = {"l", "zz"}; }), "$.model.merges[0]: token");
  EXPECT_HAS(load_error_after([](json& j) { j["model"]["merges"][1] = "e  ll"; }), "$.model.merges[1]: expected a merge");
  EXPECT_HAS(load_error_after([](json& j) { j["model"]["vocab"]["x"] = -4; }), "$.model.vocab.x: expected a token id");
  EXPECT_HAS(load_error_after([](json& j) { j["model"]["type"] = "WordPiece"; }), "unsupported model 'WordPiece'");
  EXPECT_HAS(load_error_after([](json& j) { j["model"]["dropout"] = 0.1; }), "dropout");
  EXPECT_HAS(load_error_after([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}"; }),
             "$.pre_tokenizer.pretokenizers[0].pattern: regex");
  EXPECT_HAS(load_error_after([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways"; }),
             "unknown split behavior 'Sideways'");
  EXPECT_HAS(load_error_after([](json& j) { j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}}; }),
             "$.pre_tokenizer.type: unsupported pre-tokenizer 'BertPreTokenizer'");
  EXPECT_HAS(load_error_after([](json& j) { j["decoder"] = {{"type", "WordPiece"}}; }), "unsupported decoder");
  EXPECT_HAS(load_error_after([](json& j) { j["normalizer"] = {{"type", "Precompiled"}}; }), "unsupported normalizer");
  EXPECT_HAS(load_error_after([](json& j) { j["post_processor"]["processors"][1]["single"][0]["SpecialToken"]["id"] = "<x>"; }),
             "special token '<x>' is not in $.post_processor.special_tokens");
  EXPECT_HAS(load_error_after([](json& j) { j["added_tokens"][0]["content"] = ""; }), "$.added_tokens[0].content");
  const std::string e = load_error_after([](json& j) { j["added_tokens"][0].erase("id"); });
  EXPECT_HAS(e, "tokenizer.json: error: $.added_tokens[0]: missing key 'id'");
}

TEST(TokenizerErrors, BadConfigAndFiles) {
  const auto dir = tok_test::scratch("bytelevel");
  write_text_file(dir / "tokenizer_config.json", R"({"bos_token": "<|nope|>"})");
  EXPECT_HAS(tok_test::input_error([&] { Tokenizer::load(dir); }), "tokenizer_config.json: error: $.bos_token: '<|nope|>'");
  write_text_file(dir / "tokenizer_config.json", R"({"chat_template": 7})");
  EXPECT_HAS(tok_test::input_error([&] { Tokenizer::load(dir); }), "$.chat_template: expected a string");
  const auto empty = tok_test::scratch();
  EXPECT_HAS(tok_test::input_error([&] { Tokenizer::load(empty); }), "no tokenizer.json or tokenizer.model");
  EXPECT_HAS(tok_test::input_error([&] { Tokenizer::load(empty / "missing.json"); }), "no such file");
  write_text_file(empty / "vocab.txt", "a\n");
  EXPECT_HAS(tok_test::input_error([&] { Tokenizer::load(empty / "vocab.txt"); }), "unknown tokenizer file");
  write_text_file(empty / "tokenizer.model", "not a protobuf");
  const std::string sp = tok_test::input_error([&] { Tokenizer::load(empty / "tokenizer.model"); });
  EXPECT_HAS(sp, "tokenizer.model");
  EXPECT_HAS(sp, sentencepiece_available() ? "not a SentencePiece model" : "without it");
}

TEST(TokenizerErrors, BadTextAndIds) {
  const auto tok = Tokenizer::load(tok_test::data("bytelevel"));
  EXPECT_HAS(tok_test::input_error([&] { tok.encode("ok\xC3(", false); }), "byte 2 is not valid UTF-8");
  EXPECT_HAS(tok_test::input_error([&] { tok.decode(std::vector<int64_t>{5, 274}); }), "token id 274 is not in");
  EXPECT_HAS(tok_test::input_error([&] { tok.decode(std::vector<int64_t>{-1}); }), "token id -1 is not in");
  // No unk token, no byte fallback, a character outside the vocabulary.
  const auto dir = tok_test::scratch("metaspace");
  json j = json::parse(read_text_file(dir / "tokenizer.json"));
  j["model"]["byte_fallback"] = false;
  j["model"]["unk_token"] = nullptr;
  write_text_file(dir / "tokenizer.json", j.dump());
  EXPECT_HAS(tok_test::input_error([&] { Tokenizer::load(dir).encode("hex"); }), "\"x\" which no vocabulary token");
}

TEST(TokenizerErrors, UnknownCharactersFuseIntoOneUnk) {
  const auto dir = tok_test::scratch("metaspace");
  json j = json::parse(read_text_file(dir / "tokenizer.json"));
  j["model"]["byte_fallback"] = false;  // unk_token <unk> (0), fuse_unk
  write_text_file(dir / "tokenizer.json", j.dump());
  EXPECT_EQ(Tokenizer::load(dir).encode("hxyz", false), (std::vector<int64_t>{268, 0}));
}

}  // namespace
}  // namespace plena::tokenizer

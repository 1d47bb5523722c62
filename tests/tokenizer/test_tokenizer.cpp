// Encoding/decoding against ids derived by hand (tokenizer.json files of data/, see make_data.py) and
// against the SentencePiece reference implementation's ids (data/sp/expected.json).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tok_test.hpp"

namespace plena::tokenizer {
namespace {

using tok_test::data;
using Ids = std::vector<int64_t>;

// data/bytelevel: ids 0-255 are the bytes; merges give 256 ll, 257 ell, 258 hell, 259 hello, 260 Ġt, 261 he,
// 262 Ġthe, 263 Ġhello, 264 12, 265 ĠĠ, 266 ä¸, 267 中, 268 ðŁ; added 269 <|bos|>, 270 <|eos|>, 271 <|user|>,
// 272 plena (not special), 273 <|mask|> (lstrip).
struct Case {
  const char* text;
  Ids ids;
};
const Case kByteLevel[] = {
    {"hello the", {259, 262}},                 // merges by rank: "l l" before "h e" gives hello, not he+ll+o
    {"he", {261}},
    {"hell", {258}},
    {" hello", {263}},
    {" world", {32, 119, 111, 114, 108, 100}},  // no merges apply
    {"12345", {264, 51, 52, 53}},               // \p{N}{1,3}: "123" "45"
    {"abc123def", {97, 98, 99, 264, 51, 100, 101, 102}},
    {"a   b", {97, 265, 32, 98}},               // \s+(?!\S) leaves the last space to " b"
    {"  x  ", {32, 32, 120, 265}},
    {"\t\tx", {9, 9, 120}},
    {"a\n\nb", {97, 10, 10, 98}},
    {"中文", {267, 230, 150, 135}},              // 中 = E4 B8 AD merged; 文 = E6 96 87 bytes
    {"😀", {268, 152, 128}},                     // F0 9F 98 80
    {"café", {99, 97, 102, 195, 169}},
    {"it's", {105, 116, 39, 115}},
    {"IT'S", {73, 84, 39, 83}},                 // (?i:'s)
    {"<|bos|>hi<|eos|>", {269, 104, 105, 270}},
    {"a <|mask|>", {97, 273}},                   // lstrip takes the space
    {"plenary", {272, 114, 121}},               // added tokens match inside words
    {"", {}},
};

TEST(TokenizerByteLevel, EncodesHandDerivedIds) {
  const auto tok = Tokenizer::load(data("bytelevel"));
  for (const Case& c : kByteLevel) {
    EXPECT_EQ(tok.encode(c.text, false), c.ids) << c.text;
    if (std::string(c.text).find("<|mask|>") == std::string::npos) {  // lstrip drops the space: no round trip
      EXPECT_EQ(tok.decode(c.ids), c.text) << c.text;
    }
  }
}

TEST(TokenizerByteLevel, SpecialTokensAndPostProcessor) {
  const auto tok = Tokenizer::load(data("bytelevel") / "tokenizer.json");
  EXPECT_EQ(tok.encode("hello the"), (Ids{269, 259, 262}));
  EXPECT_EQ(tok.decode(Ids{269, 259, 262, 270}), "<|bos|>hello the<|eos|>");
  EXPECT_EQ(tok.decode(Ids{269, 259, 262, 270}, true), "hello the");
  EXPECT_EQ(tok.decode(Ids{272}, true), "plena");  // not special: kept
  EXPECT_EQ(tok.bos_id(), 269);
  EXPECT_EQ(tok.eos_id(), 270);
  EXPECT_EQ(tok.token_id("<|user|>"), 271);
  EXPECT_EQ(tok.token_id("Ġthe"), 262);
  EXPECT_EQ(tok.token(263), "Ġhello");
  EXPECT_EQ(tok.token(9999), std::nullopt);
  EXPECT_EQ(tok.vocab_size(), 274);
  EXPECT_EQ(tok.describe(), "tokenizer.json (BPE, byte-level), 274 tokens");
}

TEST(TokenizerByteLevel, PartialUtf8DecodesToReplacementCharacter) {
  const auto tok = Tokenizer::load(data("bytelevel"));
  EXPECT_EQ(tok.decode(Ids{266}), "\xEF\xBF\xBD");       // E4 B8: one maximal ill-formed subpart
  EXPECT_EQ(tok.decode(Ids{267, 150}), "中\xEF\xBF\xBD");  // a stray continuation byte
}

TEST(TokenizerByteLevel, LongWhitespaceRunIsFast) {
  const auto tok = Tokenizer::load(data("bytelevel"));
  const std::string spaces(20000, ' ');
  const Ids ids = tok.encode(spaces + "x", false);
  ASSERT_EQ(ids.size(), 10002u);  // 19999 spaces: 9999 ĠĠ pairs + one Ġ; then " x": Ġ x
  EXPECT_EQ(ids.front(), 265);
  EXPECT_EQ(tok.decode(ids), spaces + "x");
  // Long runs through the regex (no JIT stack limit) and BPE: 256 KiB of letters, 40 k CJK characters.
  const std::string letters(1 << 18, 'l');
  EXPECT_EQ(tok.encode(letters, false).size(), size_t(1) << 17);  // all "ll"
  std::string cjk;
  for (int i = 0; i < 20000; ++i) cjk += "中文 ";
  EXPECT_EQ(tok.decode(tok.encode(cjk, false)), cjk);
}

#ifdef PLENA_HAVE_ICU
TEST(TokenizerByteLevel, NfcNormalizerComposesAccents) {
  const auto dir = tok_test::scratch("bytelevel");
  auto j = nlohmann::json::parse(read_text_file(dir / "tokenizer.json"));
  j["normalizer"] = {{"type", "NFC"}};  // as Qwen2's tokenizer.json
  write_text_file(dir / "tokenizer.json", j.dump());
  const auto tok = Tokenizer::load(dir);
  EXPECT_EQ(tok.encode("cafe\u0301", false), (Ids{99, 97, 102, 195, 169}));  // e + combining acute -> é
}
#endif

// data/metaspace: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, ▁ 259, h e l o w r d 260..266; merges give
// 267 ll, 268 ▁h, 269 ▁he, 270 ▁hell, 271 ▁hello, 272 ▁w, 273 or, 274 ▁wor, 275 ld, 276 ▁world.
TEST(TokenizerMetaspace, PrependReplaceAndByteFallback) {
  const auto tok = Tokenizer::load(data("metaspace"));
  EXPECT_EQ(tok.encode("hello world"), (Ids{1, 271, 276}));
  // i and 中 are not in the vocabulary: their bytes' <0xHH> tokens.
  EXPECT_EQ(tok.encode("hi 中", false), (Ids{268, 108, 259, 231, 187, 176}));
  EXPECT_EQ(tok.encode("a  b", false), (Ids{259, 100, 259, 259, 101}));
  EXPECT_EQ(tok.encode("<s>hello", false), (Ids{1, 271}));
  EXPECT_EQ(tok.decode(Ids{268, 108, 259, 231, 187, 176}), "hi 中");
  EXPECT_EQ(tok.decode(Ids{259, 100, 259, 259, 101}), "a  b");
  EXPECT_EQ(tok.decode(Ids{1, 271, 276}), "<s> hello world");
  EXPECT_EQ(tok.decode(Ids{1, 271, 276}, true), "hello world");
  EXPECT_EQ(tok.decode(Ids{231}), "\xEF\xBF\xBD");  // a lone lead byte
  EXPECT_EQ(tok.describe(), "tokenizer.json (BPE, byte fallback), 277 tokens");
}

// Published GPT-2 encodings (data/gpt2/published.json names the sources) with GPT-2's own vocabulary and
// merges, cut to the tokens they need (data/trim_bpe.py keeps every merge that can fire on them).
TEST(TokenizerGpt2, PublishedEncodings) {
  const auto tok = Tokenizer::load(data("gpt2"));
  const auto published = nlohmann::json::parse(read_text_file(data("gpt2") / "published.json"));
  ASSERT_GE(published["cases"].size(), 8u);
  for (const auto& c : published["cases"]) {
    const std::string text = c["text"];
    const Ids ids = c["ids"].get<Ids>();
    EXPECT_EQ(tok.encode(text), ids) << text;  // GPT-2 adds no BOS: its post-processor is ByteLevel only
    EXPECT_EQ(tok.decode(ids), text) << text;
  }
  EXPECT_EQ(tok.bos_id(), 50256);
  EXPECT_EQ(tok.decode(Ids{15496, 50256, 995}, true), "Hello world");
}

// The older layout of the same tokenizer: a Metaspace pre-tokenizer and decoder instead of the normalizer.
TEST(TokenizerMetaspace, PreTokenizerPrependsOnlyAtTheStartWithSchemeFirst) {
  const auto dir = tok_test::scratch("metaspace");
  auto j = nlohmann::json::parse(read_text_file(dir / "tokenizer.json"));
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", true}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", true}};
  write_text_file(dir / "tokenizer.json", j.dump());
  const auto tok = Tokenizer::load(dir);
  EXPECT_EQ(tok.encode("hello world"), (Ids{1, 271, 276}));
  EXPECT_EQ(tok.encode("<s>hello", false), (Ids{1, 260, 261, 267, 263}));  // after <s>: no ▁ (h e ll o)
  EXPECT_EQ(tok.decode(Ids{271, 276}), "hello world");
}

TEST(TokenizerBpe, ContinuingSubwordPrefix) {
  const auto dir = tok_test::scratch();
  const nlohmann::json j = {
      {"model",
       {{"type", "BPE"},
        {"continuing_subword_prefix", "##"},
        {"vocab", {{"a", 0}, {"b", 1}, {"##a", 2}, {"##b", 3}, {"ab", 4}, {"##ab", 5}}},
        {"merges", nlohmann::json::array({nlohmann::json::array({"a", "##b"}), nlohmann::json::array({"##a", "##b"})})}}}};
  write_text_file(dir / "tokenizer.json", j.dump());
  const auto tok = Tokenizer::load(dir);
  EXPECT_EQ(tok.encode("ab"), (Ids{4}));
  EXPECT_EQ(tok.encode("aab"), (Ids{0, 5}));
  EXPECT_EQ(tok.encode("abab"), (Ids{4, 5}));
  EXPECT_EQ(tok.decode(Ids{4, 5}), "ab ##ab");  // no decoder: tokens joined by spaces, as HF
}

TEST(TokenizerSentencePiece, MatchesReferenceIds) {
  if (!sentencepiece_available()) GTEST_SKIP() << "built without libsentencepiece";
  const auto tok = Tokenizer::load(data("sp"));
  const auto expected = nlohmann::json::parse(read_text_file(data("sp") / "expected.json"));
  ASSERT_GE(expected["cases"].size(), 8u);
  for (const auto& c : expected["cases"]) {
    const std::string text = c["text"];
    const Ids ids = c["ids"].get<Ids>();
    EXPECT_EQ(tok.encode(text, false), ids) << text;
    EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>()) << text;
    Ids with_bos{expected["bos"].get<int64_t>()};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    EXPECT_EQ(tok.encode(text), with_bos) << text;
  }
  EXPECT_EQ(tok.vocab_size(), expected["vocab_size"].get<int64_t>());
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  // Control pieces written in the text are their ids, as Hugging Face's tokenizer treats special tokens.
  const Ids hello = expected["cases"][0]["ids"].get<Ids>();
  Ids want{1};
  want.insert(want.end(), hello.begin(), hello.end());
  want.push_back(2);
  EXPECT_EQ(tok.encode("<s>Hello world</s>", false), want);
  EXPECT_EQ(tok.decode(want, true), "Hello world");
}

// The same SentencePiece model as a LLaMA-2-layout tokenizer.json (Prepend/Replace normalizer, BPE with byte
// fallback, merges as Hugging Face's converter derives them): the reference implementation's ids and text.
TEST(TokenizerSentencePiece, ConvertedTokenizerJsonMatchesReference) {
  const auto tok = Tokenizer::load(data("sp-json"));
  const auto expected = nlohmann::json::parse(read_text_file(data("sp") / "expected.json"));
  for (const auto& c : expected["cases"]) {
    const std::string text = c["text"];
    const Ids ids = c["ids"].get<Ids>();
    EXPECT_EQ(tok.encode(text, false), ids) << text;
    EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>()) << text;
  }
}

}  // namespace
}  // namespace plena::tokenizer

// Internal: the parts of a Hugging Face tokenizer.json pipeline (normalizer, pre-tokenizer, BPE model,
// post-processor, decoder), each parsed from its JSON object with located errors.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace plena::tokenizer::hf {

using json = nlohmann::json;

// Where in which file a JSON value is, for error messages: "FILE: error: $.model.merges[3]: ...".
struct Where {
  std::string file;
  std::string path;
  Where at(std::string_view key) const { return {file, path + "." + std::string(key)}; }
  Where at(size_t index) const { return {file, path + "[" + std::to_string(index) + "]"}; }
  [[noreturn]] void fail(std::string_view what) const;
  const json& member(const json& obj, std::string_view key) const;  // required key
  std::string string(const json& v) const;
  bool boolean_or(const json& obj, std::string_view key, bool dflt) const;
  int64_t id(const json& v) const;  // a non-negative token id
};

// PCRE2 (UTF + Unicode properties) pattern; HF's Oniguruma patterns use the same syntax.
class Regex {
 public:
  Regex(const std::string& pattern, const Where& where);
  static std::string escape(std::string_view literal);
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;  // non-overlapping [begin, end)
  std::string replace_all(std::string_view text, std::string_view with) const;

 private:
  std::shared_ptr<void> code_;  // pcre2_code_8
};

// A pattern given as {"String": s} or {"Regex": r}.
Regex pattern_of(const json& v, const Where& where);

// A piece of text on its way through the pipeline; at_start: it begins at offset 0 of the input.
struct Piece {
  std::string text;
  bool at_start = false;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string apply(std::string text) const = 0;
};
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual std::vector<Piece> split(std::vector<Piece> pieces) const = 0;
  virtual bool byte_level() const { return false; }
};
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int64_t> apply(std::vector<int64_t> ids) const = 0;
};
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
  virtual bool byte_level() const { return false; }
};

// null JSON -> nullptr (the step is skipped).
std::unique_ptr<Normalizer> parse_normalizer(const json& v, const Where& where);
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& v, const Where& where);
std::unique_ptr<PostProcessor> parse_post_processor(const json& v, const Where& where);
std::unique_ptr<Decoder> parse_decoder(const json& v, const Where& where);

// GPT-2's byte <-> printable character map used by the ByteLevel pre-tokenizer and decoder.
const std::vector<std::string>& byte_to_char();   // 256 UTF-8 strings
int byte_of_char(uint32_t code_point);            // -1 if not a mapped character

class Bpe {
 public:
  Bpe(const json& model, const Where& where);
  // Appends the ids of one pre-tokenized word; InputError if a character has no token and there is no unk_token.
  void encode_word(std::string_view word, std::vector<int64_t>& out) const;
  const std::unordered_map<std::string, int64_t>& vocab() const { return vocab_; }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  struct Merge {
    uint32_t rank;
    int64_t result;
  };
  static uint64_t pair_key(int64_t a, int64_t b) { return (uint64_t(a) << 32) | uint64_t(b); }
  void initial_symbols(std::string_view word, std::vector<int64_t>& syms) const;
  void apply_merges(std::vector<int64_t>& syms) const;
  // Ids of the <0xHH> tokens of the bytes; empty without byte fallback or when one is missing.
  std::vector<int64_t> byte_tokens(std::string_view bytes) const;

  std::string file_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<int64_t> unk_;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
};

}  // namespace plena::tokenizer::hf

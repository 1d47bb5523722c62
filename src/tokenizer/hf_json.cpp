// tokenizer.json: added tokens split out first, then normalizer -> pre-tokenizer -> BPE -> post-processor;
// decoding through the decoder chain. Follows the Hugging Face tokenizers library's rules.
#include <fmt/format.h>

#include <algorithm>

#include <array>
#include <unordered_set>

#include "support/json_strict.hpp"
#include "support/support.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/hf_parts.hpp"

namespace plena::tokenizer {

namespace {

using hf::json;
using hf::Where;

struct AddedToken {
  int64_t id = 0;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_word_byte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c & 0x80);
}

// Splits text at occurrences of added tokens: leftmost match first, the longest token there, as HF.
class AddedMatcher {
 public:
  struct Segment {
    std::string text;               // for plain text
    const AddedToken* token;        // or the token matched
    size_t offset;                  // in the input
  };
  void add(const AddedToken* t) {
    auto& bucket = by_first_[static_cast<unsigned char>(t->content[0])];
    bucket.push_back(t);
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const AddedToken* a, const AddedToken* b) { return a->content.size() > b->content.size(); });
  }
  std::vector<Segment> split(std::string_view text) const {
    std::vector<Segment> out;
    size_t plain_from = 0;
    for (size_t i = 0; i < text.size();) {
      const AddedToken* t = match_at(text, i);
      if (!t) {
        ++i;
        continue;
      }
      size_t begin = i, end = i + t->content.size();
      if (t->lstrip)
        while (begin > plain_from && is_space(text[begin - 1])) --begin;
      if (t->rstrip)
        while (end < text.size() && is_space(text[end])) ++end;
      if (begin > plain_from) out.push_back({std::string(text.substr(plain_from, begin - plain_from)), nullptr, plain_from});
      out.push_back({{}, t, begin});
      plain_from = i = end;
    }
    if (plain_from < text.size()) out.push_back({std::string(text.substr(plain_from)), nullptr, plain_from});
    return out;
  }

 private:
  const AddedToken* match_at(std::string_view text, size_t i) const {
    for (const AddedToken* t : by_first_[static_cast<unsigned char>(text[i])]) {
      if (text.compare(i, t->content.size(), t->content) != 0) continue;
      const size_t end = i + t->content.size();
      if (t->single_word && ((i > 0 && is_word_byte(text[i - 1])) || (end < text.size() && is_word_byte(text[end]))))
        continue;
      return t;
    }
    return nullptr;
  }
  std::array<std::vector<const AddedToken*>, 256> by_first_;
};

class HfBackend : public Backend {
 public:
  HfBackend(const json& root, const std::string& file);
  std::vector<int64_t> encode(std::string_view text, bool add_special) const override;
  std::string decode(std::span<const int64_t> ids, bool skip_special) const override;
  std::optional<int64_t> token_id(std::string_view token) const override;
  std::optional<std::string> token(int64_t id) const override;
  int64_t vocab_size() const override { return int64_t(id_to_token_.size()); }
  std::string describe() const override;

 private:
  void parse_added(const json& list, const Where& where);
  void encode_plain(const std::string& text, bool at_start, std::vector<int64_t>& ids) const;

  std::string file_;
  std::unique_ptr<hf::Normalizer> normalizer_;
  std::unique_ptr<hf::PreTokenizer> pre_;
  std::unique_ptr<hf::Bpe> bpe_;
  std::unique_ptr<hf::PostProcessor> post_;
  std::unique_ptr<hf::Decoder> decoder_;
  std::vector<std::unique_ptr<AddedToken>> added_;
  AddedMatcher raw_matcher_, normalized_matcher_;  // tokens matched before / after normalization
  std::vector<std::optional<std::string>> id_to_token_;
  std::unordered_set<int64_t> special_ids_;
};

HfBackend::HfBackend(const json& root, const std::string& file) : file_(file) {
  const Where top{file, "$"};
  if (!root.is_object()) top.fail("expected a tokenizer.json object");
  const json& model = top.member(root, "model");
  const std::string type = model.contains("type") ? top.at("model").at("type").string(model["type"]) : "BPE";
  if (type != "BPE")
    top.at("model").at("type").fail(fmt::format("unsupported model '{}'; expected BPE (for SentencePiece Unigram "
                                                "models use the checkpoint's tokenizer.model)",
                                                type));
  bpe_ = std::make_unique<hf::Bpe>(model, top.at("model"));
  normalizer_ = hf::parse_normalizer(root.value("normalizer", json()), top.at("normalizer"));
  pre_ = hf::parse_pre_tokenizer(root.value("pre_tokenizer", json()), top.at("pre_tokenizer"));
  post_ = hf::parse_post_processor(root.value("post_processor", json()), top.at("post_processor"));
  decoder_ = hf::parse_decoder(root.value("decoder", json()), top.at("decoder"));
  for (const auto& [tok, id] : bpe_->vocab()) {
    if (size_t(id) >= id_to_token_.size()) id_to_token_.resize(size_t(id) + 1);
    id_to_token_[size_t(id)] = tok;
  }
  parse_added(root.value("added_tokens", json::array()), top.at("added_tokens"));
}

void HfBackend::parse_added(const json& list, const Where& where) {
  if (!list.is_array()) where.fail("expected an array of added tokens");
  for (size_t i = 0; i < list.size(); ++i) {
    const Where w = where.at(i);
    auto t = std::make_unique<AddedToken>();
    t->id = w.at("id").id(w.member(list[i], "id"));
    t->content = w.at("content").string(w.member(list[i], "content"));
    if (t->content.empty()) w.at("content").fail("empty token; expected its text");
    t->single_word = w.boolean_or(list[i], "single_word", false);
    t->lstrip = w.boolean_or(list[i], "lstrip", false);
    t->rstrip = w.boolean_or(list[i], "rstrip", false);
    t->special = w.boolean_or(list[i], "special", false);
    t->normalized = w.boolean_or(list[i], "normalized", !t->special);
    if (size_t(t->id) >= id_to_token_.size()) id_to_token_.resize(size_t(t->id) + 1);
    id_to_token_[size_t(t->id)] = t->content;
    if (t->special) special_ids_.insert(t->id);
    (t->normalized && normalizer_ ? normalized_matcher_ : raw_matcher_).add(t.get());
    added_.push_back(std::move(t));
  }
}

void HfBackend::encode_plain(const std::string& text, bool at_start, std::vector<int64_t>& ids) const {
  std::vector<hf::Piece> pieces{{text, at_start}};
  if (pre_) pieces = pre_->split(std::move(pieces));
  for (const hf::Piece& p : pieces) bpe_->encode_word(p.text, ids);
}

std::vector<int64_t> HfBackend::encode(std::string_view text, bool add_special) const {
  if (size_t bad = first_invalid_utf8(text); bad != std::string_view::npos)
    throw InputError(fmt::format("text: error: byte {} is not valid UTF-8; expected UTF-8 text", bad));
  std::vector<int64_t> ids;
  for (const auto& seg : raw_matcher_.split(text)) {
    if (seg.token) {
      ids.push_back(seg.token->id);
      continue;
    }
    const std::string norm = normalizer_ ? normalizer_->apply(seg.text) : seg.text;
    for (const auto& sub : normalized_matcher_.split(norm)) {
      if (sub.token) ids.push_back(sub.token->id);
      else encode_plain(sub.text, seg.offset == 0 && sub.offset == 0, ids);
    }
  }
  return add_special && post_ ? post_->apply(std::move(ids)) : ids;
}

std::string HfBackend::decode(std::span<const int64_t> ids, bool skip_special) const {
  std::vector<std::string> tokens;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size() || !id_to_token_[size_t(id)])
      throw InputError(fmt::format("token id {} is not in the vocabulary of {}", id, file_));
    if (!(skip_special && special_ids_.count(id))) tokens.push_back(*id_to_token_[size_t(id)]);
  }
  if (!decoder_) {  // HF joins the tokens with spaces when there is no decoder
    std::string s;
    for (size_t i = 0; i < tokens.size(); ++i) s += (i ? " " : "") + tokens[i];
    return s;
  }
  std::string out;
  for (const std::string& t : decoder_->decode_chain(std::move(tokens))) out += t;
  return out;
}

std::optional<int64_t> HfBackend::token_id(std::string_view token) const {
  for (const auto& t : added_)
    if (t->content == token) return t->id;
  auto it = bpe_->vocab().find(std::string(token));
  return it == bpe_->vocab().end() ? std::nullopt : std::optional<int64_t>(it->second);
}

std::optional<std::string> HfBackend::token(int64_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  return id_to_token_[size_t(id)];
}

std::string HfBackend::describe() const {
  const bool byte_level = (pre_ && pre_->byte_level()) || (decoder_ && decoder_->byte_level());
  return fmt::format("tokenizer.json (BPE{}{}), {} tokens", byte_level ? ", byte-level" : "",
                     bpe_->byte_fallback() ? ", byte fallback" : "", vocab_size());
}

}  // namespace

std::unique_ptr<Backend> load_hf_json(const std::filesystem::path& file) {
  const std::string text = read_text_file(file);
  const json root = parse_json_strict(text, file.string(), "a Hugging Face tokenizer.json object");
  return std::make_unique<HfBackend>(root, file.string());
}

}  // namespace plena::tokenizer

// The BPE model of tokenizer.json: vocabulary, merges by rank, byte fallback, unk.
#include <fmt/format.h>

#include <queue>

#include "support/json_strict.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/hf_parts.hpp"

namespace plena::tokenizer::hf {

namespace {
// A merge is "A B" (older files) or ["A", "B"].
std::pair<std::string, std::string> merge_pair(const json& m, const Where& w) {
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    if (sp != std::string::npos && sp > 0 && sp + 1 < s.size() && s.find(' ', sp + 1) == std::string::npos)
      return {s.substr(0, sp), s.substr(sp + 1)};
  }
  w.fail(fmt::format("expected a merge \"A B\" (two tokens, one space) or [\"A\", \"B\"], got {}", json_text(m)));
}

std::optional<std::string> optional_string(const json& obj, std::string_view key, const Where& where) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return std::nullopt;
  return where.at(key).string(*it);
}
}  // namespace

Bpe::Bpe(const json& model, const Where& where) : file_(where.file) {
  const json& vocab = where.member(model, "vocab");
  if (!vocab.is_object()) where.at("vocab").fail("expected an object {\"token\": id, ...}");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) vocab_[it.key()] = where.at("vocab").at(it.key()).id(it.value());
  prefix_ = optional_string(model, "continuing_subword_prefix", where).value_or("");
  suffix_ = optional_string(model, "end_of_word_suffix", where).value_or("");
  const json& merges = where.member(model, "merges");
  if (!merges.is_array()) where.at("merges").fail("expected an array of merges");
  const auto id_of = [&](const std::string& t, const Where& w) {
    auto it = vocab_.find(t);
    if (it == vocab_.end()) w.fail(fmt::format("token {} is not in $.model.vocab", json_text(json(t))));
    return it->second;
  };
  for (size_t i = 0; i < merges.size(); ++i) {
    const Where w = where.at("merges").at(i);
    const auto [a, b] = merge_pair(merges[i], w);
    const uint64_t key = pair_key(id_of(a, w), id_of(b, w));
    // With a continuing-subword prefix the right part carries it and the merged token does not (HF's rule).
    const bool prefixed = !prefix_.empty() && b.compare(0, prefix_.size(), prefix_) == 0;
    const std::string merged = a + (prefixed ? b.substr(prefix_.size()) : b);
    merges_.try_emplace(key, Merge{uint32_t(i), id_of(merged, w)});  // a repeated pair keeps its first rank
  }
  if (auto unk = optional_string(model, "unk_token", where)) {
    auto it = vocab_.find(*unk);
    if (it == vocab_.end()) where.at("unk_token").fail(fmt::format("'{}' is not in $.model.vocab", *unk));
    unk_ = it->second;
  }
  byte_fallback_ = where.boolean_or(model, "byte_fallback", false);
  fuse_unk_ = where.boolean_or(model, "fuse_unk", false);
  ignore_merges_ = where.boolean_or(model, "ignore_merges", false);
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0)
    where.at("dropout").fail("BPE dropout makes encoding random; expected null or 0");
}

void Bpe::initial_symbols(std::string_view word, std::vector<int64_t>& syms) const {
  bool last_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8_len(static_cast<unsigned char>(word[i]));
    std::string s = (i > 0 ? prefix_ : std::string()) + std::string(word.substr(i, n));
    if (i + n >= word.size()) s += suffix_;
    if (auto it = vocab_.find(s); it != vocab_.end()) {
      syms.push_back(it->second), last_unk = false;
    } else if (std::vector<int64_t> bytes = byte_tokens(word.substr(i, n)); !bytes.empty()) {
      syms.insert(syms.end(), bytes.begin(), bytes.end()), last_unk = false;
    } else if (unk_) {
      if (!(fuse_unk_ && last_unk)) syms.push_back(*unk_);
      last_unk = true;
    } else {
      throw_input(file_, 0, 0,
                  fmt::format("the text has {} which no vocabulary token covers, and the model has no unk_token "
                              "(nor byte fallback tokens); expected a vocabulary covering the text",
                              json_text(json(std::string(word.substr(i, n))))));
    }
    i += n;
  }
}

std::vector<int64_t> Bpe::byte_tokens(std::string_view bytes) const {
  std::vector<int64_t> ids;
  if (!byte_fallback_) return ids;
  for (unsigned char b : bytes) {
    auto it = vocab_.find(fmt::format("<0x{:02X}>", b));
    if (it == vocab_.end()) return {};
    ids.push_back(it->second);
  }
  return ids;
}

// Repeatedly merges the adjacent pair of lowest rank (leftmost first among equals), as HF's BPE.
void Bpe::apply_merges(std::vector<int64_t>& syms) const {
  struct Cand {
    uint32_t rank;
    size_t pos;
    int64_t left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const size_t n = syms.size();
  std::vector<size_t> next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;  // prev[0] wraps: never read
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto offer = [&](size_t l) {
    if (l >= n || next[l] >= n) return;
    if (auto it = merges_.find(pair_key(syms[l], syms[next[l]])); it != merges_.end())
      heap.push({it->second.rank, l, syms[l], syms[next[l]]});
  };
  for (size_t i = 0; i + 1 < n; ++i) offer(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const size_t r = next[c.pos];
    if (!alive[c.pos] || syms[c.pos] != c.left || r >= n || syms[r] != c.right) continue;  // stale
    syms[c.pos] = merges_.at(pair_key(c.left, c.right)).result;
    alive[r] = false;
    next[c.pos] = next[r];
    if (next[r] < n) prev[next[r]] = c.pos;
    if (c.pos > 0) offer(prev[c.pos]);
    offer(c.pos);
  }
  size_t w = 0;
  for (size_t i = 0; i < n; ++i)
    if (alive[i]) syms[w++] = syms[i];
  syms.resize(w);
}

void Bpe::encode_word(std::string_view word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_)
    if (auto it = vocab_.find(std::string(word)); it != vocab_.end()) return out.push_back(it->second);
  std::vector<int64_t> syms;
  initial_symbols(word, syms);
  apply_merges(syms);
  out.insert(out.end(), syms.begin(), syms.end());
}

}  // namespace plena::tokenizer::hf

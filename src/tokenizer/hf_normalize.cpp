// Normalizers and pre-tokenizers of tokenizer.json.
#include <fmt/format.h>

#include <algorithm>

#include "support/json_strict.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/hf_parts.hpp"

#ifdef PLENA_HAVE_ICU
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#endif

namespace plena::tokenizer::hf {

namespace {

std::string type_of(const json& v, const Where& where) { return where.at("type").string(where.member(v, "type")); }

// ---- normalizers ----
struct NormSequence : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> steps;
  std::string apply(std::string t) const override {
    for (const auto& s : steps) t = s->apply(std::move(t));
    return t;
  }
};
struct Prepend : Normalizer {
  std::string prefix;
  std::string apply(std::string t) const override { return t.empty() ? t : prefix + t; }
};
struct Replace : Normalizer {
  Regex pattern;
  std::string content;
  Replace(Regex p, std::string c) : pattern(std::move(p)), content(std::move(c)) {}
  std::string apply(std::string t) const override { return pattern.replace_all(t, content); }
};
struct Strip : Normalizer {
  bool left, right;
  Strip(bool l, bool r) : left(l), right(r) {}
  std::string apply(std::string t) const override {
    static const Regex lead("^\\s+", Where{}), trail("\\s+$", Where{});
    if (left) t = lead.replace_all(t, "");
    if (right) t = trail.replace_all(t, "");
    return t;
  }
};

#ifdef PLENA_HAVE_ICU
struct IcuNormal : Normalizer {
  const icu::Normalizer2* norm = nullptr;
  bool lowercase = false;
  std::string apply(std::string t) const override {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(t);
    if (lowercase) {
      u.toLower(icu::Locale::getRoot());
    } else {
      UErrorCode ec = U_ZERO_ERROR;
      u = norm->normalize(u, ec);
      if (U_FAILURE(ec)) throw InputError(fmt::format("Unicode normalization failed: {}", u_errorName(ec)));
    }
    std::string out;
    u.toUTF8String(out);
    return out;
  }
};
#endif

std::unique_ptr<Normalizer> unicode_normalizer(const std::string& type, const Where& where) {
#ifdef PLENA_HAVE_ICU
  auto n = std::make_unique<IcuNormal>();
  UErrorCode ec = U_ZERO_ERROR;
  if (type == "NFC") n->norm = icu::Normalizer2::getNFCInstance(ec);
  else if (type == "NFD") n->norm = icu::Normalizer2::getNFDInstance(ec);
  else if (type == "NFKC") n->norm = icu::Normalizer2::getNFKCInstance(ec);
  else if (type == "NFKD") n->norm = icu::Normalizer2::getNFKDInstance(ec);
  else n->lowercase = true;
  if (U_FAILURE(ec)) where.fail(fmt::format("ICU has no {} data: {}", type, u_errorName(ec)));
  return n;
#else
  where.fail(fmt::format("normalizer {} needs Unicode data: this plena was built without ICU (libicu-dev)", type));
#endif
}

// ---- pre-tokenizers ----
enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

Behavior behavior_of(const json& v, const Where& where) {
  const std::string b = where.string(v);
  if (b == "Removed") return Behavior::removed;
  if (b == "Isolated") return Behavior::isolated;
  if (b == "MergedWithPrevious") return Behavior::merged_with_previous;
  if (b == "MergedWithNext") return Behavior::merged_with_next;
  if (b == "Contiguous") return Behavior::contiguous;
  where.fail(fmt::format("unknown split behavior '{}'; expected Removed, Isolated, MergedWithPrevious, "
                         "MergedWithNext or Contiguous", b));
}

struct Span {
  size_t begin, end;
  bool match;
};

// HF's rule for turning matches and the gaps between them into pieces.
std::vector<Span> arrange(std::vector<Span> spans, Behavior b) {
  std::vector<Span> out;
  if (b == Behavior::merged_with_next) std::reverse(spans.begin(), spans.end());
  bool previous_match = false;
  for (const Span& s : spans) {
    const bool merge = b == Behavior::contiguous ? s.match && previous_match : s.match && !previous_match;
    if (b == Behavior::removed) {
      if (!s.match) out.push_back(s);
    } else if (b != Behavior::isolated && merge && !out.empty()) {
      if (b == Behavior::merged_with_next) out.back().begin = s.begin;
      else out.back().end = s.end;
    } else {
      out.push_back(s);
    }
    previous_match = s.match;
  }
  if (b == Behavior::merged_with_next) std::reverse(out.begin(), out.end());
  return out;
}

struct Split : PreTokenizer {
  Regex pattern;
  Behavior behavior;
  bool invert;
  Split(Regex p, Behavior b, bool inv) : pattern(std::move(p)), behavior(b), invert(inv) {}
  std::vector<Piece> split(std::vector<Piece> pieces) const override {
    std::vector<Piece> out;
    for (const Piece& p : pieces) {
      std::vector<Span> spans;
      size_t last = 0;
      for (auto [b, e] : pattern.find_all(p.text)) {
        if (b > last) spans.push_back({last, b, invert});
        spans.push_back({b, e, !invert});
        last = e;
      }
      if (last < p.text.size()) spans.push_back({last, p.text.size(), invert});
      for (const Span& s : arrange(std::move(spans), behavior))
        out.push_back({p.text.substr(s.begin, s.end - s.begin), p.at_start && s.begin == 0});
    }
    return out;
  }
};

struct PreSequence : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  std::vector<Piece> split(std::vector<Piece> pieces) const override {
    for (const auto& s : steps) pieces = s->split(std::move(pieces));
    return pieces;
  }
  bool byte_level() const override {
    for (const auto& s : steps)
      if (s->byte_level()) return true;
    return false;
  }
};

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct ByteLevel : PreTokenizer {
  bool add_prefix_space;
  std::optional<Split> regex;
  std::vector<Piece> split(std::vector<Piece> pieces) const override {
    if (add_prefix_space)
      for (Piece& p : pieces)
        if (!p.text.empty() && p.text[0] != ' ') p.text = " " + p.text;
    if (regex) pieces = regex->split(std::move(pieces));
    const auto& map = byte_to_char();
    for (Piece& p : pieces) {
      std::string mapped;
      for (unsigned char c : p.text) mapped += map[c];
      p.text = std::move(mapped);
    }
    return pieces;
  }
  bool byte_level() const override { return true; }
};

struct Metaspace : PreTokenizer {
  std::string replacement;
  std::string prepend;  // always, first, never
  std::optional<Split> splitter;
  std::vector<Piece> split(std::vector<Piece> pieces) const override {
    for (Piece& p : pieces) {
      std::string t;
      for (char c : p.text) t += c == ' ' ? replacement : std::string(1, c);
      const bool add = prepend == "always" || (prepend == "first" && p.at_start);
      if (add && t.compare(0, replacement.size(), replacement) != 0) t = replacement + t;
      p.text = std::move(t);
    }
    return splitter ? splitter->split(std::move(pieces)) : pieces;
  }
};

std::unique_ptr<PreTokenizer> metaspace(const json& v, const Where& where) {
  auto m = std::make_unique<Metaspace>();
  m->replacement = where.at("replacement").string(where.member(v, "replacement"));
  if (v.contains("prepend_scheme")) {
    m->prepend = where.at("prepend_scheme").string(v["prepend_scheme"]);
    if (m->prepend != "always" && m->prepend != "first" && m->prepend != "never")
      where.at("prepend_scheme").fail(fmt::format("'{}'; expected always, first or never", m->prepend));
  } else {  // older files: add_prefix_space
    m->prepend = where.boolean_or(v, "add_prefix_space", true) ? "always" : "never";
  }
  if (where.boolean_or(v, "split", true))
    m->splitter.emplace(Regex(Regex::escape(m->replacement), where), Behavior::merged_with_next, false);
  return m;
}

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const json& v, const Where& where) {
  if (v.is_null()) return nullptr;
  const std::string type = type_of(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<NormSequence>();
    const json& list = where.member(v, "normalizers");
    if (!list.is_array()) where.at("normalizers").fail("expected an array of normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto n = parse_normalizer(list[i], where.at("normalizers").at(i))) seq->steps.push_back(std::move(n));
    return seq;
  }
  if (type == "Prepend") {
    auto p = std::make_unique<Prepend>();
    p->prefix = where.at("prepend").string(where.member(v, "prepend"));
    return p;
  }
  if (type == "Replace")
    return std::make_unique<Replace>(pattern_of(where.member(v, "pattern"), where.at("pattern")),
                                     where.at("content").string(where.member(v, "content")));
  if (type == "Strip")
    return std::make_unique<Strip>(where.boolean_or(v, "strip_left", true), where.boolean_or(v, "strip_right", true));
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD" || type == "Lowercase")
    return unicode_normalizer(type, where);
  where.at("type").fail(fmt::format("unsupported normalizer '{}'; expected Sequence, NFC, NFD, NFKC, NFKD, "
                                    "Lowercase, Prepend, Replace or Strip",
                                    type));
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& v, const Where& where) {
  if (v.is_null()) return nullptr;
  const std::string type = type_of(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<PreSequence>();
    const json& list = where.member(v, "pretokenizers");
    if (!list.is_array()) where.at("pretokenizers").fail("expected an array of pre-tokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto p = parse_pre_tokenizer(list[i], where.at("pretokenizers").at(i))) seq->steps.push_back(std::move(p));
    return seq;
  }
  if (type == "Split")
    return std::make_unique<Split>(pattern_of(where.member(v, "pattern"), where.at("pattern")),
                                   behavior_of(where.member(v, "behavior"), where.at("behavior")),
                                   where.boolean_or(v, "invert", false));
  if (type == "ByteLevel") {
    auto b = std::make_unique<ByteLevel>();
    b->add_prefix_space = where.boolean_or(v, "add_prefix_space", true);
    if (where.boolean_or(v, "use_regex", true)) b->regex.emplace(Regex(kGpt2Pattern, where), Behavior::isolated, false);
    return b;
  }
  if (type == "Metaspace") return metaspace(v, where);
  if (type == "Digits")
    return std::make_unique<Split>(Regex(where.boolean_or(v, "individual_digits", false) ? "\\p{N}" : "\\p{N}+", where),
                                   Behavior::isolated, false);
  if (type == "Whitespace") return std::make_unique<Split>(Regex("\\w+|[^\\w\\s]+", where), Behavior::removed, true);
  if (type == "WhitespaceSplit") return std::make_unique<Split>(Regex("\\s+", where), Behavior::removed, false);
  where.at("type").fail(fmt::format("unsupported pre-tokenizer '{}'; expected Sequence, Split, ByteLevel, Metaspace, "
                                    "Digits, Whitespace or WhitespaceSplit",
                                    type));
}

const std::vector<std::string>& byte_to_char() {
  static const std::vector<std::string> table = [] {
    // Printable Latin-1 bytes stand for themselves; the others get code points from 256 up, in byte order.
    std::vector<std::string> t(256);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      append_utf8(t[b], printable ? b : next++);
    }
    return t;
  }();
  return table;
}

int byte_of_char(uint32_t cp) {
  static const std::unordered_map<uint32_t, int> inverse = [] {
    std::unordered_map<uint32_t, int> m;
    for (int b = 0; b < 256; ++b) m[decode_utf8_at(byte_to_char()[size_t(b)], 0)] = b;
    return m;
  }();
  auto it = inverse.find(cp);
  return it == inverse.end() ? -1 : it->second;
}

}  // namespace plena::tokenizer::hf

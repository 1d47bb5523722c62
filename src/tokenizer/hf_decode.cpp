// Decoders and post-processors of tokenizer.json.
#include <fmt/format.h>

#include "support/json_strict.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/hf_parts.hpp"

namespace plena::tokenizer::hf {

namespace {

std::string type_of(const json& v, const Where& where) { return where.at("type").string(where.member(v, "type")); }

struct DecSequence : Decoder {
  std::vector<std::unique_ptr<Decoder>> steps;
  std::vector<std::string> decode_chain(std::vector<std::string> t) const override {
    for (const auto& s : steps) t = s->decode_chain(std::move(t));
    return t;
  }
  bool byte_level() const override {
    for (const auto& s : steps)
      if (s->byte_level()) return true;
    return false;
  }
};

struct ByteLevelDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens)
      for (size_t i = 0; i < t.size(); i += utf8_len(static_cast<unsigned char>(t[i]))) {
        const int b = byte_of_char(decode_utf8_at(t, i));
        if (b >= 0) bytes += char(b);
        else bytes.append(t, i, utf8_len(static_cast<unsigned char>(t[i])));  // not a byte character: kept
      }
    return {utf8_lossy(bytes)};
  }
  bool byte_level() const override { return true; }
};

struct ReplaceDec : Decoder {
  Regex pattern;
  std::string content;
  ReplaceDec(Regex p, std::string c) : pattern(std::move(p)), content(std::move(c)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::string& t : tokens) t = pattern.replace_all(t, content);
    return tokens;
  }
};

// "<0xHH>" -> the byte, else -1.
int fallback_byte(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  const auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

struct ByteFallbackDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    size_t pending = 0;
    auto flush = [&] {
      if (pending == 0) return;
      if (first_invalid_utf8(bytes) == std::string::npos) out.push_back(bytes);
      else out.insert(out.end(), pending, "\xEF\xBF\xBD");  // one U+FFFD per byte token, as HF
      bytes.clear(), pending = 0;
    };
    for (std::string& t : tokens) {
      const int b = fallback_byte(t);
      if (b >= 0) {
        bytes += char(b), ++pending;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }
};

struct FuseDec : Decoder {
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    return {all};
  }
};

struct StripDec : Decoder {
  std::string content;
  size_t start, stop;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::string& t : tokens) {
      for (size_t i = 0; i < start && t.compare(0, content.size(), content) == 0; ++i) t.erase(0, content.size());
      for (size_t i = 0; i < stop && t.size() >= content.size() &&
                         t.compare(t.size() - content.size(), content.size(), content) == 0;
           ++i)
        t.erase(t.size() - content.size());
    }
    return tokens;
  }
};

struct MetaspaceDec : Decoder {
  std::string replacement;
  bool strip_first = true;
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string t;
      const std::string& in = tokens[i];
      for (size_t k = 0; k < in.size();) {
        if (in.compare(k, replacement.size(), replacement) == 0) t += ' ', k += replacement.size();
        else t += in[k++];
      }
      if (i == 0 && strip_first && !t.empty() && t[0] == ' ') t.erase(0, 1);
      tokens[i] = std::move(t);
    }
    return tokens;
  }
};

std::unique_ptr<Decoder> strip_decoder(const json& v, const Where& where) {
  auto s = std::make_unique<StripDec>();
  s->content = where.at("content").string(where.member(v, "content"));
  const auto count = [&](const char* key) {
    const json& n = where.member(v, key);
    if (!n.is_number_unsigned()) where.at(key).fail(fmt::format("expected a count, got {}", json_text(n)));
    return n.get<size_t>();
  };
  s->start = count("start"), s->stop = count("stop");
  return s;
}

std::unique_ptr<Decoder> metaspace_decoder(const json& v, const Where& where) {
  auto m = std::make_unique<MetaspaceDec>();
  m->replacement = where.at("replacement").string(where.member(v, "replacement"));
  if (v.contains("prepend_scheme")) m->strip_first = where.at("prepend_scheme").string(v["prepend_scheme"]) != "never";
  else m->strip_first = where.boolean_or(v, "add_prefix_space", true);
  return m;
}

// ---- post-processors ----
struct Template : PostProcessor {
  std::vector<std::vector<int64_t>> before, after;  // ids around the sequence ($A)
  std::vector<int64_t> apply(std::vector<int64_t> ids) const override {
    std::vector<int64_t> out;
    for (const auto& s : before) out.insert(out.end(), s.begin(), s.end());
    out.insert(out.end(), ids.begin(), ids.end());
    for (const auto& s : after) out.insert(out.end(), s.begin(), s.end());
    return out;
  }
};

struct PostSequence : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> steps;
  std::vector<int64_t> apply(std::vector<int64_t> ids) const override {
    for (const auto& s : steps) ids = s->apply(std::move(ids));
    return ids;
  }
};

struct Identity : PostProcessor {
  std::vector<int64_t> apply(std::vector<int64_t> ids) const override { return ids; }
};

// TemplateProcessing's "single": [{"SpecialToken": {"id": NAME}}, {"Sequence": {"id": "A"}}, ...].
std::unique_ptr<PostProcessor> template_processing(const json& v, const Where& where) {
  auto t = std::make_unique<Template>();
  const json& specials = where.member(v, "special_tokens");
  const json& single = where.member(v, "single");
  if (!single.is_array()) where.at("single").fail("expected an array of template pieces");
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const Where w = where.at("single").at(i);
    if (single[i].is_object() && single[i].contains("Sequence")) {
      if (seen_sequence) w.fail("a second sequence in a single-sequence template; expected one $A");
      seen_sequence = true;
      continue;
    }
    if (!single[i].is_object() || !single[i].contains("SpecialToken"))
      w.fail(fmt::format("expected {{\"SpecialToken\": ...}} or {{\"Sequence\": ...}}, got {}", json_text(single[i])));
    const std::string name = w.at("SpecialToken").at("id").string(w.at("SpecialToken").member(single[i]["SpecialToken"], "id"));
    if (!specials.is_object() || !specials.contains(name))
      w.fail(fmt::format("special token '{}' is not in $.post_processor.special_tokens", name));
    const Where sw = where.at("special_tokens").at(name);
    const json& ids = sw.member(specials[name], "ids");
    if (!ids.is_array()) sw.at("ids").fail("expected an array of token ids");
    std::vector<int64_t> list;
    for (size_t k = 0; k < ids.size(); ++k) list.push_back(sw.at("ids").at(k).id(ids[k]));
    (seen_sequence ? t->after : t->before).push_back(std::move(list));
  }
  if (!seen_sequence) where.at("single").fail("no {\"Sequence\": {\"id\": \"A\"}} piece; expected the text's place");
  return t;
}

// RobertaProcessing / BertProcessing: cls $A sep, each given as [token, id].
std::unique_ptr<PostProcessor> cls_sep(const json& v, const Where& where) {
  auto t = std::make_unique<Template>();
  for (const char* key : {"cls", "sep"}) {
    const json& p = where.member(v, key);
    if (!p.is_array() || p.size() != 2) where.at(key).fail(fmt::format("expected [token, id], got {}", json_text(p)));
    (std::string(key) == "cls" ? t->before : t->after).push_back({where.at(key).at(1).id(p[1])});
  }
  return t;
}

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const json& v, const Where& where) {
  if (v.is_null()) return nullptr;
  const std::string type = type_of(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<DecSequence>();
    const json& list = where.member(v, "decoders");
    if (!list.is_array()) where.at("decoders").fail("expected an array of decoders");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto d = parse_decoder(list[i], where.at("decoders").at(i))) seq->steps.push_back(std::move(d));
    return seq;
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "Replace")
    return std::make_unique<ReplaceDec>(pattern_of(where.member(v, "pattern"), where.at("pattern")),
                                        where.at("content").string(where.member(v, "content")));
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip") return strip_decoder(v, where);
  if (type == "Metaspace") return metaspace_decoder(v, where);
  where.at("type").fail(fmt::format("unsupported decoder '{}'; expected Sequence, ByteLevel, Replace, ByteFallback, "
                                    "Fuse, Strip or Metaspace",
                                    type));
}

std::unique_ptr<PostProcessor> parse_post_processor(const json& v, const Where& where) {
  if (v.is_null()) return nullptr;
  const std::string type = type_of(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<PostSequence>();
    const json& list = where.member(v, "processors");
    if (!list.is_array()) where.at("processors").fail("expected an array of post-processors");
    for (size_t i = 0; i < list.size(); ++i)
      if (auto p = parse_post_processor(list[i], where.at("processors").at(i))) seq->steps.push_back(std::move(p));
    return seq;
  }
  if (type == "TemplateProcessing") return template_processing(v, where);
  if (type == "ByteLevel") return std::make_unique<Identity>();  // only adjusts offsets
  if (type == "RobertaProcessing" || type == "BertProcessing") return cls_sep(v, where);
  where.at("type").fail(fmt::format("unsupported post-processor '{}'; expected Sequence, TemplateProcessing, "
                                    "ByteLevel, RobertaProcessing or BertProcessing",
                                    type));
}

}  // namespace plena::tokenizer::hf

// Where (located JSON errors) and Regex (PCRE2 in UTF mode with Unicode properties).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

#include "support/json_strict.hpp"
#include "support/support.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/hf_parts.hpp"

namespace plena::tokenizer::hf {

void Where::fail(std::string_view what) const { throw_input(file, 0, 0, fmt::format("{}: {}", path, what)); }

const json& Where::member(const json& obj, std::string_view key) const {
  if (!obj.is_object()) fail(fmt::format("expected a JSON object, got {}", json_text(obj)));
  auto it = obj.find(std::string(key));
  if (it == obj.end()) fail(fmt::format("missing key '{}'", key));
  return *it;
}

std::string Where::string(const json& v) const {
  if (!v.is_string()) fail(fmt::format("expected a string, got {}", json_text(v)));
  return v.get<std::string>();
}

bool Where::boolean_or(const json& obj, std::string_view key, bool dflt) const {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) at(key).fail(fmt::format("expected true or false, got {}", json_text(*it)));
  return it->get<bool>();
}

int64_t Where::id(const json& v) const {
  // 2^24 ids is far beyond any vocabulary and keeps the id -> token table of a malformed file small.
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= (int64_t(1) << 24))
    fail(fmt::format("expected a token id (integer 0 to 2^24-1), got {}", json_text(v)));
  return v.get<int64_t>();
}

Regex::Regex(const std::string& pattern, const Where& where) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    where.fail(fmt::format("regex {} does not compile at offset {}: {}; expected a PCRE/Oniguruma pattern",
                           json_text(json(pattern)), off, reinterpret_cast<const char*>(msg)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // a speed-up only: matching falls back to the interpreter
  code_ = std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
}

std::string Regex::escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    const bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c & 0x80);
    if (!plain) out += '\\';
    out += c;
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(pcre2_match_data_create_from_pattern(code, nullptr),
                                                                    pcre2_match_data_free);
  std::vector<std::pair<size_t, size_t>> out;
  size_t at = 0;
  while (at <= text.size()) {
    // Text was checked as UTF-8 on entry to encode.
    const auto match = [&](uint32_t options) {
      return pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), at,
                         PCRE2_NO_UTF_CHECK | options, md.get(), nullptr);
    };
    int rc = match(0);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) rc = match(PCRE2_NO_JIT);  // the interpreter's heap goes further
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw InputError(fmt::format("text: error: the tokenizer's pre-tokenizer regex failed at byte {}: {}", at,
                                   reinterpret_cast<const char*>(msg)));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    if (ov[1] > ov[0]) {
      out.emplace_back(ov[0], ov[1]);
      at = ov[1];
    } else {  // empty match: step over one character
      at = ov[0] + (ov[0] < text.size() ? utf8_len(static_cast<unsigned char>(text[ov[0]])) : 1);
    }
  }
  return out;
}

std::string Regex::replace_all(std::string_view text, std::string_view with) const {
  std::string out;
  size_t last = 0;
  for (auto [b, e] : find_all(text)) {
    out.append(text.substr(last, b - last));
    out.append(with);
    last = e;
  }
  out.append(text.substr(last));
  return out;
}

Regex pattern_of(const json& v, const Where& where) {
  if (v.is_object() && v.contains("String")) return Regex(Regex::escape(where.at("String").string(v["String"])), where);
  if (v.is_object() && v.contains("Regex")) return Regex(where.at("Regex").string(v["Regex"]), where);
  where.fail(fmt::format("expected {{\"String\": ...}} or {{\"Regex\": ...}}, got {}", json_text(v)));
}

}  // namespace plena::tokenizer::hf

#include "tokenizer/backend.hpp"

namespace plena::tokenizer {

namespace {
// Bytes of the UTF-8 sequence at s[i] that are well formed: all of it (complete = true), or its maximal
// well-formed prefix (at least 1 byte), as Unicode's "maximal subpart" rule for U+FFFD substitution.
struct Scan {
  size_t len;
  bool complete;
};
Scan scan_at(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return {1, true};
  const size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0) return {1, false};
  // The second byte's range excludes overlongs, surrogates and code points beyond U+10FFFF.
  const unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
  const unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  size_t k = 1;
  for (; k < n && i + k < s.size(); ++k) {
    const unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
    if (b(k) < lo_k || b(k) > hi_k) break;
  }
  return {k, k == n};
}
size_t valid_len_at(std::string_view s, size_t i) {
  const Scan sc = scan_at(s, i);
  return sc.complete ? sc.len : 0;
}
}  // namespace

size_t first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = valid_len_at(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

uint32_t decode_utf8_at(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return uint32_t(static_cast<unsigned char>(s[i + k])); };
  switch (utf8_len(static_cast<unsigned char>(s[i]))) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const Scan sc = scan_at(bytes, i);
    if (sc.complete) out.append(bytes.substr(i, sc.len));
    else out += "\xEF\xBF\xBD";
    i += sc.len;
  }
  return out;
}

}  // namespace plena::tokenizer

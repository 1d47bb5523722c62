// Strict JSON reading for input files: syntax errors located at line:col, and duplicate object keys
// rejected (nlohmann::json keeps the last one silently, which would hide a conflicting entry).
// Header-only: include it only from modules that link nlohmann_json.
#pragma once
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/support.hpp"

namespace plena {

// 1-based line and column of a byte offset in text.
inline std::pair<int, int> json_line_col(std::string_view text, size_t offset) {
  int line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') ++line, col = 1;
    else ++col;
  }
  return {line, col};
}

// Parses text as JSON; InputError "source:line:col: error: ..." naming `expected` on a syntax error
// (or "source: error: byte N: ..." when the text starts at byte `byte_base` of a binary file),
// "source: error: duplicate key 'k' in $.path" for a repeated key.
inline nlohmann::json parse_json_strict(std::string_view text, std::string_view source, std::string_view expected,
                                        std::optional<size_t> byte_base = std::nullopt) {
  using json = nlohmann::json;
  struct Frame {
    std::string path;
    bool object;
    std::set<std::string> keys;
    std::string last_key;
  };
  std::vector<Frame> stack;
  auto child_path = [&] {
    if (stack.empty()) return std::string("$");
    const Frame& f = stack.back();
    return f.object ? f.path + "." + f.last_key : f.path + "[]";
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start: stack.push_back({child_path(), true, {}, {}}); break;
      case json::parse_event_t::array_start: stack.push_back({child_path(), false, {}, {}}); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: stack.pop_back(); break;
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.last_key = parsed.get<std::string>();
        if (!f.keys.insert(f.last_key).second)
          throw_input(source, 0, 0, fmt::format("duplicate key '{}' in {}; expected each key once", f.last_key, f.path));
        break;
      }
      case json::parse_event_t::value: break;
    }
    return true;
  };
  try {
    return json::parse(text, cb);
  } catch (const json::parse_error& e) {
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    if (byte_base)
      throw_input(source, 0, 0, fmt::format("byte {}: malformed JSON: {}; expected {}", *byte_base + at, e.what(), expected));
    auto [l, c] = json_line_col(text, at);
    throw_input(source, l, c, fmt::format("malformed JSON: {}; expected {}", e.what(), expected));
  } catch (const json::exception& e) {  // number out of range (out_of_range 406)
    throw_input(source, 0, 0, fmt::format("malformed JSON: {}; expected {}", e.what(), expected));
  }
}

// Compact text of a JSON value for messages (invalid UTF-8 replaced, never throws).
inline std::string json_text(const nlohmann::json& v) { return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace plena

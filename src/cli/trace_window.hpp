// --trace-window START:END, shared by `plena sim` and `plena run`.
#pragma once
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "support/support.hpp"

namespace plena::cli {

// --trace-window START:END (executed-instruction indices, END exclusive; either may be empty).
inline std::pair<uint64_t, uint64_t> parse_trace_window(const std::string& w) {
  if (w.empty()) return {0, UINT64_MAX};
  const auto colon = w.find(':');
  auto number = [&](std::string_view part, uint64_t fallback) {
    if (part.empty()) return fallback;
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || end != part.data() + part.size())
      throw InputError(fmt::format("--trace-window {}: error: \"{}\" is not a non-negative integer; expected "
                                   "START:END (executed-instruction indices, END exclusive, either may be empty)",
                                   w, part));
    return v;
  };
  if (colon == std::string::npos)
    throw InputError(fmt::format("--trace-window {}: error: expected START:END (executed-instruction indices, END "
                                 "exclusive, either may be empty), e.g. 1000000:1100000",
                                 w));
  const std::string_view sv(w);
  const uint64_t first = number(sv.substr(0, colon), 0), last = number(sv.substr(colon + 1), UINT64_MAX);
  if (last <= first)
    throw InputError(fmt::format("--trace-window {}: error: END must be greater than START", w));
  return {first, last};
}

}  // namespace plena::cli

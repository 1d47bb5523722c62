// Range checks for numeric CLI options, applied to the text before CLI11 converts it, so that
// "1e13", "nan", "inf", "-1" or "0" never reach the libraries: the message names the flag and
// the accepted range ("--batch: 1e13 is not an integer from 1 to 1048576"), exit 1.
#pragma once
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace plena::cli {

// The whole text as a finite number; false on trailing text, nan, inf or overflow.
inline bool parse_finite(const std::string& s, long double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtold(s.c_str(), &end);
  return *end == '\0' && errno != ERANGE && std::isfinite(v);
}

// An integer count in [lo, hi] ("1e3" is accepted as 1000 and rewritten for CLI11: apply it
// with ->transform(), which hands CLI11 the rewritten text).
inline CLI::Validator integer_in(uint64_t lo, uint64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        long double v = 0;
        if (!parse_finite(s, v) || v != std::floor(v) || v < (long double)lo || v > (long double)hi)
          return fmt::format("{} is not an integer from {} to {}", s, lo, hi);
        s = std::to_string(uint64_t(v));
        return "";
      },
      fmt::format("INT in [{}, {}]", lo, hi));
}

// A finite real number above `lo` (or from `lo` on when inclusive) and at most `hi`.
inline CLI::Validator real_in(double lo, bool lo_inclusive, double hi) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        long double v = 0;
        if (!parse_finite(s, v) || (lo_inclusive ? v < lo : v <= lo) || v > hi)
          return fmt::format("{} is not a finite number {} {} and at most {}", s, lo_inclusive ? ">=" : ">", lo, hi);
        return "";
      },
      fmt::format("FLOAT in {}{}, {}]", lo_inclusive ? "[" : "(", lo, hi));
}

// A count option (--gen, --batch, ...): digits only, so "-1" is refused instead of wrapping
// around in an unsigned variable, and "1e3" or "4x" instead of being cut short.
inline const CLI::Validator kCount(
    [](std::string& s) -> std::string {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
        return "'" + s + "' is not a count; expected a non-negative integer";
      return {};
    },
    "COUNT");

}  // namespace plena::cli

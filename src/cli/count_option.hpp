// Validator for count options (--gen, --batch, ...): digits only, so "-1" is refused instead of
// wrapping around in an unsigned variable, and "1e3" or "4x" instead of being cut short.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace plena::cli {

inline const CLI::Validator kCount(
    [](std::string& s) -> std::string {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
        return "'" + s + "' is not a count; expected a non-negative integer";
      return {};
    },
    "COUNT");

}  // namespace plena::cli

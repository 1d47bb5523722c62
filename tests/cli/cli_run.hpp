// Runs the plena binary as a user does: arguments through the shell, stdout/stderr captured.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace plena_cli_test {

namespace fs = std::filesystem;

struct CliResult {
  int code;
  std::string out, err;
};

// A fresh folder per test (ctest runs tests as parallel processes).
inline fs::path test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_cli_tmp" / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// `redirect` replaces the stdout capture (e.g. ">/dev/full").
inline CliResult run_plena(const std::string& args, const std::string& redirect = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path base = fs::path(PLENA_BINARY_DIR) / "test_cli_tmp" /
                        (std::string(info->test_suite_name()) + "." + info->name() + ".capture");
  const fs::path exe = fs::path(PLENA_BINARY_DIR) / "plena";
  const std::string out = redirect.empty() ? fmt::format(">'{}.out'", base.string()) : redirect;
  const std::string cmd = fmt::format("'{}' {} {} 2>'{}.err' </dev/null", exe.string(), args, out, base.string());
  const int st = std::system(cmd.c_str());
  CliResult r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, "", ""};
  if (redirect.empty()) r.out = plena::read_text_file(base.string() + ".out");
  r.err = plena::read_text_file(base.string() + ".err");
  return r;
}

inline bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// Names in `dir` other than `keep`: leftovers of a failed command (temporaries included).
inline std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace plena_cli_test

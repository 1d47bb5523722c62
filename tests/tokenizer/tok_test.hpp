// Shared helpers of the tokenizer tests: the data folder and scratch folders.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/support.hpp"
#include "tokenizer/tokenizer.hpp"

namespace tok_test {

namespace fs = std::filesystem;
inline fs::path data(const std::string& name) { return fs::path(PLENA_TOKENIZER_DATA) / name; }

// A fresh folder per test holding a copy of data/<from> (if given).
inline fs::path scratch(const std::string& from = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_tokenizer_tmp" / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(d);
  fs::create_directories(d);
  if (!from.empty()) fs::copy(data(from), d, fs::copy_options::recursive);
  return d;
}

// The message of the InputError `f` throws ("" if none).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const plena::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace tok_test

// Helpers shared by the model tests.
#pragma once
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::model::testing {

// A fresh, empty folder under the build tree for one test.
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(PLENA_BINARY_DIR) / "test_tmp" / "model" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Runs f, expects InputError whose message contains every needle.
template <typename F>
void expect_input_error(F&& f, std::initializer_list<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
  }
}

}  // namespace plena::model::testing

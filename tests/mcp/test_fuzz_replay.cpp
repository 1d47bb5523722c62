// The MCP fuzz target (fuzz/fuzz_mcp_jsonrpc.cpp) run standalone in the default suite: its seeds
// and a fixed set of mutations of them (byte flips, cuts, JSON tokens spliced in). A crash, an
// exception or a malformed reply aborts the test binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

int run(const std::string& s) { return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

std::string mutate(std::string s, std::mt19937& rng) {
  static const std::vector<std::string> tokens = {
      "{", "}", "[", "]", "\"", ":", ",", "\n", "null", "true", "-1", "1e999", "18446744073709551616", "\\u0000",
      "\\ud800", "\xff", "\"id\":", "\"method\":", "\"params\":", "\"arguments\":", "\"tools/call\"", "\"initialize\"",
      "\"../\"", "\"/etc/passwd\"", "\"run_evaluation\"", "\"view_output\"", "\"write_code\"", "{\"a\":[[[[[[[["};
  const int ops = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < ops && !s.empty(); ++i) {
    const size_t at = rng() % (s.size() + 1);
    switch (rng() % 4) {
      case 0: s[std::min(at, s.size() - 1)] ^= static_cast<char>(1u << (rng() % 8)); break;
      case 1: s.erase(at, rng() % 16); break;
      case 2: s.insert(at, tokens[rng() % tokens.size()]); break;
      default: s.insert(at, s.substr(rng() % s.size(), rng() % 64)); break;
    }
  }
  return s;
}

TEST(McpFuzzReplay, SeedsAndMutationsNeverBreakTheProtocol) {
  std::vector<std::string> seeds;
  for (const auto& e : fs::directory_iterator(fs::path(PLENA_SOURCE_DIR) / "fuzz/seeds/fuzz_mcp_jsonrpc"))
    seeds.push_back(plena::read_text_file(e.path()));
  ASSERT_GE(seeds.size(), 3u);
  std::mt19937 rng(20251125);
  int inputs = 0;
  for (const std::string& s : seeds) {
    EXPECT_EQ(run(s), 0);
    for (int i = 0; i < 250; ++i, ++inputs) EXPECT_EQ(run(mutate(s, rng)), 0);
  }
  EXPECT_EQ(run(std::string(200000, '{')), 0);
  EXPECT_EQ(run(""), 0);
  EXPECT_GE(inputs, 750);
}

}  // namespace

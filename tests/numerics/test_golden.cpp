// Every golden file in ../shared/golden/quant goes through the checker the CLI uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;
using namespace plena::numerics;

TEST(Golden, AllFilesPassBitExactly) {
  fs::path dir = fs::path(PLENA_SHARED_DIR) / "golden" / "quant";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 27u);
  size_t total = 0, passthrough = 0;
  for (const auto& f : files) {
    GoldenReport rep = check_golden_file(f);
    EXPECT_EQ(rep.cases, 300u) << f;
    EXPECT_EQ(rep.failed, 0u) << f;
    EXPECT_EQ(rep.passed, 300u) << f;
    for (size_t i = 0; i < std::min<size_t>(rep.mismatches.size(), 5); ++i) ADD_FAILURE() << rep.mismatches[i];
    // The file name encodes the format: <codec>__<element>__b<block>__<rounding>.json.
    std::string stem = f.stem().string();
    EXPECT_NE(stem.find(rep.format.substr(0, rep.format.find(':'))), std::string::npos) << stem;
    total += rep.cases;
    passthrough += rep.passthrough;
  }
  EXPECT_EQ(total, 8100u);
  EXPECT_GT(passthrough, 0u);  // mase-bfp and plena-hw-mxfp files hold pass-through artifact cases
  EXPECT_LT(passthrough, 300u);
}

TEST(Golden, CheckerDetectsMismatches) {
  // A corrupted copy of a golden file must fail: the checker can fail.
  fs::path src = fs::path(PLENA_SHARED_DIR) / "golden" / "quant" / "ocp-mx__fp8_e4m3__b8__rne.json";
  std::string text = plena::read_text_file(src);
  auto pos = text.find("\"scale_byte\":");
  ASSERT_NE(pos, std::string::npos);
  size_t digit = text.find_first_of("0123456789", pos);
  text[digit] = text[digit] == '1' ? '2' : '1';
  fs::path tmp = fs::path(PLENA_BINARY_DIR) / "corrupt_golden_numerics.json";
  plena::write_text_file(tmp, text);
  GoldenReport rep = check_golden_file(tmp);
  EXPECT_EQ(rep.cases, 300u);
  EXPECT_GE(rep.failed, 1u);
  EXPECT_FALSE(rep.mismatches.empty());
  plena::write_text_file(tmp, "{\"schema\": \"nope\"}");
  EXPECT_THROW(check_golden_file(tmp), plena::InputError);
  plena::write_text_file(tmp, "{not json");
  EXPECT_THROW(check_golden_file(tmp), plena::InputError);
  fs::remove(tmp);
}

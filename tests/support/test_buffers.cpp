// Mapped files and large zeroed buffers (support/mapped_file.hpp, support/big_buffer.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "support/big_buffer.hpp"
#include "support/mapped_file.hpp"
#include "support/support.hpp"

namespace plena {
namespace {

TEST(BigBuffer, ZeroedOfEverySize) {
  for (size_t n : {size_t(0), size_t(1), size_t(1000), size_t(3) << 20}) {
    const std::vector<float> v = zeroed_floats(n);
    ASSERT_EQ(v.size(), n);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; })) << n;
  }
}

TEST(MappedFile, BytesOfFilesAndErrorsNameTheFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("plena_mapped_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<uint8_t> bytes = {1, 2, 3, 250};
  write_binary_file(dir / "f.bin", bytes);
  write_binary_file(dir / "empty.bin", std::vector<uint8_t>{});
  const MappedFile f(dir / "f.bin");
  EXPECT_EQ(std::vector<uint8_t>(f.bytes().begin(), f.bytes().end()), bytes);
  EXPECT_TRUE(MappedFile(dir / "empty.bin").bytes().empty());
  for (const auto& bad : {dir / "missing.bin", dir}) {
    try {
      MappedFile m(bad);
      ADD_FAILURE() << "expected InputError for " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace plena

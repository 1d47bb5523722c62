// A whole file as read-only bytes: memory-mapped when it is a regular file, read otherwise (a pipe
// or device cannot be mapped). Errors are InputError naming the file and the OS reason.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace plena {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& p);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;        // the mapping, null when the bytes were read
  std::vector<uint8_t> read_;  // the bytes of a file that was not mapped
};

}  // namespace plena

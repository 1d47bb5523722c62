#include "support/mapped_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/support.hpp"

namespace plena {

MappedFile::MappedFile(const std::filesystem::path& p) {
  const std::string name = p.string();
  auto os_fail = [&](std::string_view what, int err) {
    throw InputError(fmt::format("{}: error: cannot {}: {}", name, what, std::strerror(err)));
  };
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) os_fail("open file for reading", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) os_fail("stat file", errno);
  if (S_ISDIR(st.st_mode)) os_fail("read file", EISDIR);
  if (!S_ISREG(st.st_mode) || st.st_size == 0) {  // nothing to map: read it (one implementation)
    read_ = read_binary_file(p);
    data_ = read_.data();
    size_ = read_.size();
    return;
  }
  size_ = static_cast<size_t>(st.st_size);
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) os_fail("map file", errno);
  map_ = m;
  data_ = static_cast<const uint8_t*>(m);
}

MappedFile::~MappedFile() {
  if (map_) ::munmap(map_, size_);
}

}  // namespace plena

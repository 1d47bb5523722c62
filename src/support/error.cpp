#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "support/output.hpp"
#include "support/support.hpp"

namespace plena {

std::string located(std::string_view file, int line, int col, std::string_view msg) {
  std::string loc(file);
  if (line > 0) loc += fmt::format(":{}", line);
  if (line > 0 && col > 0) loc += fmt::format(":{}", col);
  return fmt::format("{}: error: {}", loc, msg);
}

void throw_input(std::string_view file, int line, int col, std::string_view msg) {
  throw InputError(located(file, line, col, msg));
}

namespace {

constexpr size_t kMaxStreamBytes = size_t(1) << 30;

// Reads a whole regular file (or a pipe/device) with POSIX calls so every failure carries the OS
// reason; a directory is an error, not an empty file.
template <class Buffer>
Buffer read_whole_file(const std::filesystem::path& p) {
  const std::string name = p.string();
  auto os_fail = [&](std::string_view what, int err) -> Buffer {
    throw InputError(fmt::format("{}: error: cannot {}: {}", name, what, std::strerror(err)));
  };
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_fail("open file for reading", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return os_fail("stat file", errno);
  if (S_ISDIR(st.st_mode)) return os_fail("read file", EISDIR);
  Buffer out;
  try {
    if (S_ISREG(st.st_mode)) out.reserve(static_cast<size_t>(st.st_size));
    char chunk[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return os_fail("read file", errno);
      if (n == 0) break;
      // A stream (pipe, /dev/zero) has no size to check up front: stop at a bound instead of
      // reading until memory runs out.
      if (!S_ISREG(st.st_mode) && out.size() + size_t(n) > kMaxStreamBytes)
        throw InputError(fmt::format("{}: error: more than {} bytes read from a stream that is not a regular file; "
                                     "expected a file (or a stream shorter than that)",
                                     name, kMaxStreamBytes));
      out.insert(out.end(), chunk, chunk + n);
    }
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: error: file of {} bytes does not fit in memory", name, st.st_size));
  } catch (const std::length_error&) {
    throw InputError(fmt::format("{}: error: file of {} bytes does not fit in memory", name, st.st_size));
  }
  return out;
}

}  // namespace

std::string read_text_file(const std::filesystem::path& p) { return read_whole_file<std::string>(p); }

std::vector<uint8_t> read_binary_file(const std::filesystem::path& p) {
  return read_whole_file<std::vector<uint8_t>>(p);
}

// Both through the atomic, checked output path (support/output.hpp).
void write_text_file(const std::filesystem::path& p, std::string_view text) { write_output_file(p, text); }

void write_binary_file(const std::filesystem::path& p, std::span<const uint8_t> bytes) {
  write_output_file(p, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace plena

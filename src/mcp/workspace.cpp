#include "mcp/workspace.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/confine.hpp"
#include "support/support.hpp"

namespace plena::mcp {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void refuse(std::string_view rel, std::string_view why) {
  throw InputError(fmt::format("path '{}' refused: {}", rel, why));
}

bool allowed_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == '/';
}

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Workspace::Workspace(const fs::path& root, WorkspaceLimits limits) : limits_(limits) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (!fs::is_directory(root, ec))
    throw InputError(fmt::format("--workspace {}: not a folder that can be created or used", root.string()));
  root_ = fs::canonical(root, ec);
  if (ec) throw InputError(fmt::format("--workspace {}: cannot resolve: {}", root.string(), ec.message()));
}

std::string Workspace::normalize(std::string_view rel) const {
  if (rel.empty()) refuse(rel, "empty; expected a relative file name such as 'kernel.asm'");
  if (rel.size() > 200) refuse(rel.substr(0, 40), "longer than 200 characters");
  for (char c : rel)
    if (!allowed_char(c)) refuse(rel, "only letters, digits, '_', '-', '.' and '/' are allowed in workspace paths");
  if (rel.front() == '/') refuse(rel, "absolute; paths are relative to the workspace folder");
  std::string out;
  size_t depth = 0;
  for (size_t start = 0; start <= rel.size();) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    const std::string_view part = rel.substr(start, end - start);
    if (part == "..") refuse(rel, "'..' would leave the workspace folder");
    if (!part.empty() && part != ".") {
      if (part.front() == '.') refuse(rel, "names starting with '.' are reserved");
      if (!out.empty()) out += '/';
      out += part;
      ++depth;
    }
    start = end + 1;
  }
  if (out.empty()) refuse(rel, "names no file");
  if (depth > limits_.max_depth + 1) refuse(rel, fmt::format("more than {} folders deep", limits_.max_depth));
  if (out.size() < 5 || out.substr(out.size() - 4) != ".asm") refuse(rel, "kernel files must end in '.asm'");
  return out;
}

// Every existing component below the root must be a real folder (or, last, a regular file):
// a symlink planted in the workspace could otherwise lead a read or write outside it.
fs::path Workspace::checked_on_disk(const std::string& rel, bool for_write) const {
  fs::path cur = root_;
  const fs::path relp(rel);
  for (auto it = relp.begin(); it != relp.end(); ++it) {
    cur /= *it;
    const bool last = std::next(it) == relp.end();
    struct stat st{};
    if (::lstat(cur.c_str(), &st) != 0) {
      if (errno != ENOENT) refuse(rel, std::strerror(errno));
      if (!for_write) refuse(rel, "no such file in the workspace (write it with write_code first)");
      return root_ / relp;  // the rest is created below the checked prefix
    }
    if (S_ISLNK(st.st_mode)) refuse(rel, "it goes through a symbolic link; links are not followed in the workspace");
    if (!last && !S_ISDIR(st.st_mode)) refuse(rel, fmt::format("'{}' is not a folder", cur.filename().string()));
    if (last && !S_ISREG(st.st_mode)) refuse(rel, "not a regular file");
  }
  // Belt and braces: the resolved path must still lie inside the root.
  if (auto c = confine_path(root_, rel); !c.error.empty()) refuse(rel, c.error);
  return root_ / relp;
}

std::string Workspace::write(std::string_view rel_in, std::string_view content) {
  const std::string rel = normalize(rel_in);
  if (content.size() > limits_.max_file_bytes)
    refuse(rel, fmt::format("content is {} bytes, over the limit of {} bytes per file", content.size(),
                            limits_.max_file_bytes));
  const fs::path full = checked_on_disk(rel, true);
  std::error_code ec;
  const bool exists = fs::exists(full, ec);
  if (!exists && created_ >= limits_.max_files)
    refuse(rel, fmt::format("this session already created {} files (the limit); overwrite one instead", created_));
  fs::create_directories(full.parent_path(), ec);
  if (ec) refuse(rel, ec.message());
  checked_on_disk(rel, true);  // the folders just made are real folders
  Fd f{::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)};
  if (f.fd < 0) refuse(rel, std::strerror(errno));
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(f.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) refuse(rel, fmt::format("write failed: {}", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  if (!exists) ++created_;
  return rel;
}

std::string Workspace::read(std::string_view rel_in) const {
  const std::string rel = normalize(rel_in);
  const fs::path full = checked_on_disk(rel, false);
  Fd f{::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
  if (f.fd < 0) refuse(rel, std::strerror(errno));
  struct stat st{};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) refuse(rel, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > limits_.max_file_bytes)
    refuse(rel, fmt::format("{} bytes, over the limit of {} bytes per file", st.st_size, limits_.max_file_bytes));
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(f.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return text;
}

}  // namespace plena::mcp

// Checked, atomic output files: temporary in the target folder + rename (see output.hpp).
#include "support/output.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <streambuf>
#include <utility>
#include <vector>

#include "support/support.hpp"

namespace plena {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& target, std::string_view what, int err) {
  throw InputError(fmt::format("{}: error: {}: {}", target.string(), what, std::strerror(err)));
}

// Buffered sink over a file descriptor (or stdout's FILE*, so its bytes stay in order with the
// rest of the command's standard output). Remembers the first errno so the message can say why.
class CheckedBuf : public std::streambuf {
 public:
  // fd < 0: standard output.
  explicit CheckedBuf(int fd) : fd_(fd), buf_(1 << 16) { setp(buf_.data(), buf_.data() + buf_.size()); }
  int error() const { return err_; }
  bool flush_all() { return sync() == 0; }

 protected:
  int_type overflow(int_type c) override {
    if (sync() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    const bool ok = put(pbase(), size_t(pptr() - pbase()));
    setp(buf_.data(), buf_.data() + buf_.size());
    return ok ? 0 : -1;
  }

 private:
  bool put(const char* p, size_t n) {
    if (err_) return false;
    if (fd_ < 0) {
      if (n && std::fwrite(p, 1, n, stdout) != n) return record(errno ? errno : EIO);
      return true;
    }
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return record(w < 0 ? errno : ENOSPC);
      p += w;
      n -= size_t(w);
    }
    return true;
  }
  bool record(int e) {
    err_ = e;
    return false;
  }
  int fd_;
  int err_ = 0;
  std::vector<char> buf_;
};

// Staged (temporary, target) pairs of the open transaction.
struct Staging {
  std::mutex mu;
  bool open = false;
  std::vector<std::pair<fs::path, fs::path>> files;
};
Staging& staging() {
  static Staging s;
  return s;
}

mode_t new_file_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

void rename_over(const fs::path& tmp, const fs::path& target) {
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(target, "cannot replace file", e);
  }
}

// A symlinked target is replaced where it points, so the link itself survives.
fs::path resolve_link(const fs::path& target) {
  std::error_code ec;
  if (!fs::is_symlink(target, ec)) return target;
  fs::path real = fs::weakly_canonical(target, ec);
  return ec ? target : real;
}

}  // namespace

struct OutputFile::Impl {
  fs::path target;  // as named by the user (messages)
  fs::path final;   // where the rename goes (symlinks resolved)
  fs::path tmp;     // empty: written directly (stdout or a non-regular target)
  bool to_stdout = false;
  int fd = -1;
  bool closed = false;
  std::unique_ptr<CheckedBuf> buf;
  std::unique_ptr<std::ostream> os;

  void open_direct(int flags) {
    fd = ::open(final.c_str(), flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) fail(target, "cannot open file for writing", errno);
  }
  void open_temp() {
    struct stat st{};
    const bool exists = ::stat(final.c_str(), &st) == 0;
    const fs::path dir = final.has_parent_path() ? final.parent_path() : fs::path(".");
    std::string leaf = final.filename().string();
    leaf.insert(leaf.begin(), '.');
    leaf.append(".plena-tmp-XXXXXX");
    std::string name = (dir / leaf).string();
    fd = ::mkstemp(name.data());
    if (fd < 0) fail(target, "cannot create file", errno);
    tmp = name;
    ::fchmod(fd, exists ? (st.st_mode & 07777) : new_file_mode());
  }
};

OutputFile::OutputFile(const fs::path& target) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.target = target;
  m.final = resolve_link(target);
  struct stat st{};
  if (target == "-") {
    m.to_stdout = true;
  } else if (::stat(m.final.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    fail(target, "cannot write file", EISDIR);
  } else if (::stat(m.final.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    m.open_direct(O_WRONLY | O_TRUNC);
  } else {
    m.open_temp();
  }
  m.buf = std::make_unique<CheckedBuf>(m.to_stdout ? -1 : m.fd);
  m.os = std::make_unique<std::ostream>(m.buf.get());
}

OutputFile::~OutputFile() {
  if (impl_->closed) return;
  if (impl_->fd >= 0) ::close(impl_->fd);
  if (!impl_->tmp.empty()) ::unlink(impl_->tmp.c_str());
}

std::ostream& OutputFile::stream() { return *impl_->os; }

void OutputFile::write(std::string_view bytes) { impl_->os->write(bytes.data(), std::streamsize(bytes.size())); }

void OutputFile::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  const bool flushed = m.buf->flush_all();
  const int write_err = m.buf->error() ? m.buf->error() : (flushed && *m.os ? 0 : EIO);
  int close_err = 0;
  if (m.to_stdout) {
    if (std::fflush(stdout) != 0) close_err = errno;
  } else if (::close(m.fd) != 0) {
    close_err = errno;
  }
  m.fd = -1;
  if (write_err || close_err) {
    const int e = write_err ? write_err : close_err;
    if (m.to_stdout) throw InputError(fmt::format("plena: error: cannot write to standard output: {}", std::strerror(e)));
    fail(m.target, "cannot write file", e);
  }
  m.closed = true;
  if (m.tmp.empty()) return;
  Staging& s = staging();
  {
    std::lock_guard lock(s.mu);
    if (s.open) {
      s.files.emplace_back(m.tmp, m.final);
      return;
    }
  }
  rename_over(m.tmp, m.final);
}

void write_output_file(const fs::path& target, std::string_view bytes) {
  OutputFile f(target);
  f.write(bytes);
  f.close();
}

OutputTransaction::OutputTransaction() {
  Staging& s = staging();
  std::lock_guard lock(s.mu);
  if (s.open) throw std::logic_error("OutputTransaction: one at a time");
  s.open = true;
}

OutputTransaction::~OutputTransaction() {
  Staging& s = staging();
  std::lock_guard lock(s.mu);
  for (const auto& f : s.files) ::unlink(f.first.c_str());
  s.files.clear();
  s.open = false;
}

void OutputTransaction::commit() { commit_staged_outputs(); }

void commit_staged_outputs() {
  Staging& s = staging();
  std::lock_guard lock(s.mu);
  while (!s.files.empty()) {
    auto f = s.files.front();
    s.files.erase(s.files.begin());
    rename_over(f.first, f.second);
  }
}

void check_stdout() {
  const int earlier = errno;  // a failed write inside a library call (CLI11's help) leaves its reason here
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int e = flushed ? earlier : errno;
  if (flushed && !std::ferror(stdout)) return;
  std::clearerr(stdout);
  throw InputError(fmt::format("plena: error: cannot write to standard output: {}", std::strerror(e ? e : EIO)));
}

}  // namespace plena

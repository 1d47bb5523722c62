#include "mcp/stdio.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace plena::mcp {
namespace {

bool write_all(int fd, std::string s) {
  s += '\n';
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int serve_stdio(Server& server, int in_fd, int out_fd, size_t max_line) {
  std::string line;
  bool skipping = false;  // inside a line that grew past max_line
  char buf[65536];
  auto finish_line = [&]() -> bool {
    std::optional<std::string> reply = skipping ? server.oversized_line(max_line) : server.handle_line(line);
    line.clear();
    skipping = false;
    return !reply || write_all(out_fd, *reply);
  };
  for (;;) {
    const ssize_t n = ::read(in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        if (!finish_line()) return 1;
      } else if (!skipping) {
        line.push_back(buf[i]);
        if (line.size() > max_line) skipping = true, line.clear();
      }
    }
  }
  if ((skipping || !line.empty()) && !finish_line()) return 1;  // a last message without its newline
  return 0;
}

}  // namespace plena::mcp

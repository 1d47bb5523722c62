#include "mcp/isolate.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace plena::mcp {
namespace {

void child_main(int fd, const std::function<nlohmann::json()>& work) {
  std::string out;
  try {
    out = work().dump();
  } catch (const std::exception& e) {
    out = nlohmann::json{{"exception", e.what()}}.dump();
  } catch (...) {
    out = R"({"exception":"unknown exception"})";
  }
  for (size_t done = 0; done < out.size();) {
    const ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::_exit(0);  // no atexit handlers or stdio flushes of the parent's buffers
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return fmt::format("the evaluation crashed (signal {})", WTERMSIG(status));
  return fmt::format("the evaluation ended without a result (exit status {})", WEXITSTATUS(status));
}

}  // namespace

Isolated run_isolated(const std::function<nlohmann::json()>& work, double max_seconds) {
  int fds[2];
  if (::pipe(fds) != 0) return {false, false, fmt::format("cannot create a pipe: {}", std::strerror(errno)), {}};
  std::fflush(nullptr);  // nothing buffered is written twice by the child
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {false, false, fmt::format("cannot start the evaluation: {}", std::strerror(errno)), {}};
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], work);
  }
  ::close(fds[1]);
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration<double>(max_seconds);
  std::string data;
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return {false, true, fmt::format("wall-time budget of {} s exceeded; the evaluation was stopped", max_seconds), {}};
  auto value = nlohmann::json::parse(data, nullptr, false);
  if (value.is_discarded() || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return {false, false, describe_status(status), {}};
  return {true, false, {}, std::move(value)};
}

}  // namespace plena::mcp

#include "mcp/session_log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "support/support.hpp"

namespace plena::mcp {

std::string utc_now_iso() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(system_clock::to_time_t(now)), ms);
}

SessionLog SessionLog::in_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw InputError(fmt::format("--log-dir {}: cannot create the folder: {}", dir.string(), ec.message()));
  std::string stamp = utc_now_iso();
  std::erase(stamp, ':');
  SessionLog log;
  log.path_ = dir / fmt::format("session-{}-{}.jsonl", stamp, ::getpid());
  log.file_ = std::fopen(log.path_.c_str(), "wx");  // never append to another session's log
  if (!log.file_)
    throw InputError(fmt::format("--log-dir {}: cannot create {}: {}", dir.string(), log.path_.filename().string(),
                                 std::strerror(errno)));
  return log;
}

SessionLog::~SessionLog() {
  if (file_) std::fclose(file_);
}

void SessionLog::write(const nlohmann::json& record) {
  if (!file_) return;
  const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace plena::mcp

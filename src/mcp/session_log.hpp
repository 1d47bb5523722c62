// JSONL log of an MCP session: one JSON object per line, flushed after each, so a session that is
// killed still leaves every completed call on disk for `plena bench score`.
#pragma once
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace plena::mcp {

// Every line is a record of this schema (bench::kLogSchema; `plena bench score` reads them):
// schema, session, agent, seq, time, tool, is_error, iteration, and for run_evaluation task,
// task_version, config and result (the check result); plus arguments, text and elapsed_ms.
inline constexpr const char* kLogSchema = "plena-bench-log/1";

class SessionLog {
 public:
  SessionLog() = default;  // logs nothing
  // Creates `dir` and a new file "session-<UTC time>-<pid>.jsonl" in it; InputError if it cannot.
  static SessionLog in_folder(const std::filesystem::path& dir);
  SessionLog(SessionLog&& o) noexcept : file_(o.file_), path_(std::move(o.path_)) { o.file_ = nullptr; }
  SessionLog& operator=(SessionLog&&) = delete;
  ~SessionLog();

  void write(const nlohmann::json& record);
  const std::filesystem::path& path() const { return path_; }
  std::string session() const { return path_.stem().string(); }

 private:
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
};

// "2026-12-08T01:02:03.456Z"
std::string utc_now_iso();

}  // namespace plena::mcp

// MCP (revision 2025-11-25) JSON-RPC layer as a plain object: one incoming line in, at most one
// outgoing line back. The stdio loop (serve_stdio) only moves lines; everything the protocol
// decides lives here so tests and the fuzzer drive it without processes or pipes.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mcp/session_log.hpp"
#include "mcp/tools.hpp"

namespace plena::mcp {

inline constexpr const char* kProtocolVersion = "2025-11-25";
inline constexpr size_t kMaxJsonDepth = 64;

class Server {
 public:
  // `agent` names the agent in the log; empty: the client's clientInfo name.
  Server(Tools& tools, SessionLog& log, std::string version, std::string agent = {})
      : tools_(tools), log_(log), version_(std::move(version)), agent_(std::move(agent)) {}
  // A response line (no trailing newline), or nothing for notifications, client responses and
  // blank lines. Never throws.
  std::optional<std::string> handle_line(std::string_view line);
  // The answer to a line longer than the transport accepts (its id is unknown).
  std::string oversized_line(size_t limit) const;
  bool initialized() const { return initialized_; }

 private:
  nlohmann::json dispatch(const std::string& method, const nlohmann::json& params, const nlohmann::json& id);
  nlohmann::json initialize(const nlohmann::json& params);
  nlohmann::json tools_call(const nlohmann::json& params, const nlohmann::json& id);
  void log_record(const std::string& tool, bool is_error, const std::string& text, nlohmann::json extra);

  Tools& tools_;
  SessionLog& log_;
  std::string version_, agent_;
  bool initialized_ = false;
  uint64_t seq_ = 0;
};

// JSON-RPC error carried out of a handler.
struct RpcError {
  int code;
  std::string message;
  nlohmann::json data;
};

}  // namespace plena::mcp

#include "mcp/server.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>

namespace plena::mcp {
using json = nlohmann::json;

namespace {

constexpr int kParseError = -32700, kInvalidRequest = -32600, kMethodNotFound = -32601, kInvalidParams = -32602,
              kInternalError = -32603;
// Revisions whose tools/call shapes this server's answers satisfy (newest first).
constexpr std::array<const char*, 3> kSupported = {"2025-11-25", "2025-06-18", "2025-03-26"};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string error_line(const json& id, int code, std::string_view message, const json& data = nullptr) {
  json err = {{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  return dump({{"jsonrpc", "2.0"}, {"id", id}, {"error", err}});
}

// Parses one message; a nesting depth over kMaxJsonDepth is refused before anything recurses on it.
std::optional<json> parse_limited(std::string_view line, std::string& why) {
  bool too_deep = false;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t, json&) {
    if (static_cast<size_t>(depth) > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  try {
    json j = json::parse(line, cb);
    if (too_deep) {
      why = fmt::format("nesting deeper than {} levels", kMaxJsonDepth);
      return std::nullopt;
    }
    return j;
  } catch (const json::exception& e) {
    why = too_deep ? fmt::format("nesting deeper than {} levels", kMaxJsonDepth) : e.what();
    return std::nullopt;
  }
}

bool valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

// The client's clientInfo (an object when it sent a usable one) and its name.
json client_info(const json& params) {
  auto c = params.find("clientInfo");
  return c != params.end() && c->is_object() ? *c : json::object();
}
std::string client_name(const json& params) {
  const json info = client_info(params);
  auto n = info.find("name");
  return n != info.end() && n->is_string() && !n->get_ref<const std::string&>().empty() ? n->get<std::string>() : "unknown";
}

}  // namespace

std::string Server::oversized_line(size_t limit) const {
  return error_line(nullptr, kInvalidRequest, fmt::format("message longer than {} bytes; refused", limit));
}

std::optional<std::string> Server::handle_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return std::nullopt;
  std::string why;
  const auto msg = parse_limited(line, why);
  if (!msg) return error_line(nullptr, why.starts_with("nesting") ? kInvalidRequest : kParseError, "Parse error: " + why);
  if (msg->is_array()) return error_line(nullptr, kInvalidRequest, "JSON-RPC batches are not part of MCP 2025-11-25; send one message per line");
  if (!msg->is_object()) return error_line(nullptr, kInvalidRequest, "expected a JSON-RPC message object");
  const bool has_id = msg->contains("id");
  const json id = has_id ? (*msg)["id"] : json();
  if (has_id && !valid_id(id)) return error_line(nullptr, kInvalidRequest, "'id' must be a string or an integer");
  auto m = msg->find("method");
  if (m == msg->end()) {
    if (has_id && (msg->contains("result") || msg->contains("error"))) return std::nullopt;  // a reply to nobody
    return error_line(has_id ? id : json(), kInvalidRequest, "missing 'method'");
  }
  auto reject = [&](std::string_view what) -> std::optional<std::string> {
    if (!has_id) return std::nullopt;  // notifications never get an answer
    return error_line(id, kInvalidRequest, what);
  };
  if (msg->value("jsonrpc", json()) != "2.0") return reject("'jsonrpc' must be \"2.0\"");
  if (!m->is_string()) return reject("'method' must be a string");
  const json params = msg->value("params", json::object());
  if (!params.is_object()) {
    if (!has_id) return std::nullopt;
    return error_line(id, kInvalidParams, "'params' must be an object");
  }
  const std::string method = *m;
  // notifications/initialized, cancelled, progress: nothing to do for a one-thread server.
  if (!has_id) return std::nullopt;
  try {
    return dump({{"jsonrpc", "2.0"}, {"id", id}, {"result", dispatch(method, params, id)}});
  } catch (const RpcError& e) {
    return error_line(id, e.code, e.message, e.data);
  } catch (const std::exception& e) {
    return error_line(id, kInternalError, fmt::format("internal error: {}", e.what()));
  }
}

json Server::dispatch(const std::string& method, const json& params, const json& id) {
  if (method == "initialize") return initialize(params);
  if (method == "ping") return json::object();
  if (!initialized_) throw RpcError{kInvalidRequest, "the session is not initialized; send 'initialize' first", nullptr};
  if (method == "tools/list") {
    if (params.contains("cursor")) throw RpcError{kInvalidParams, "unknown cursor: this server lists all tools in one page", nullptr};
    return {{"tools", Tools::definitions()}};
  }
  if (method == "tools/call") return tools_call(params, id);
  throw RpcError{kMethodNotFound, fmt::format("method '{}' not found", method), nullptr};
}

json Server::initialize(const json& params) {
  if (initialized_) throw RpcError{kInvalidRequest, "already initialized", nullptr};
  auto v = params.find("protocolVersion");
  if (v == params.end() || !v->is_string())
    throw RpcError{kInvalidParams, "initialize needs 'protocolVersion' (a string such as \"2025-11-25\")", nullptr};
  std::string version = kProtocolVersion;  // otherwise our latest; the client decides whether to go on
  for (const char* s : kSupported)
    if (*v == s) version = s;
  initialized_ = true;
  if (agent_.empty()) agent_ = client_name(params);
  const SessionOptions& o = tools_.options();
  log_record("initialize", false, "",
             {{"protocolVersion", version},
              {"client", client_info(params)},
              {"server_version", version_},
              {"limits", {{"max_instructions", o.limits.max_instructions},
                          {"max_seconds", o.limits.max_seconds},
                          {"iterations_by_level", o.iterations}}}});
  return {{"protocolVersion", version},
          {"capabilities", {{"tools", {{"listChanged", false}}}}},
          {"serverInfo", {{"name", "plena"}, {"title", "PLENA kernel benchmark"}, {"version", version_}}},
          {"instructions",
           "Write PLENA assembly kernels for benchmark tasks. list_tasks, then describe_task TASK CONFIG; write_code "
           "saves a kernel in the workspace, check_syntax assembles it, run_evaluation checks it on fresh inputs (one "
           "iteration of the task's budget), view_output shows the per-row error table, grep_docs searches the ISA "
           "reference, get_instruction_size gives the static size."}};
}

json Server::tools_call(const json& params, const json& id) {
  auto n = params.find("name");
  if (n == params.end() || !n->is_string()) throw RpcError{kInvalidParams, "tools/call needs 'name' (a string)", nullptr};
  const std::string name = *n;
  if (!Tools::exists(name)) throw RpcError{kInvalidParams, fmt::format("unknown tool '{}'", name), nullptr};
  const json args = params.value("arguments", json::object());
  const auto t0 = std::chrono::steady_clock::now();
  ToolResult r = tools_.call(name, args);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  json extra = {{"id", id}, {"arguments", args}, {"elapsed_ms", ms}};
  if (r.log_extra.is_object()) extra.update(r.log_extra);
  log_record(name, r.is_error, r.text, std::move(extra));
  json result = {{"content", json::array({{{"type", "text"}, {"text", r.text}}})}, {"isError", r.is_error}};
  if (r.structured.is_object() && !r.structured.empty()) result["structuredContent"] = r.structured;
  return result;
}

void Server::log_record(const std::string& tool, bool is_error, const std::string& text, json extra) {
  json rec = {{"schema", kLogSchema}, {"session", log_.session()}, {"agent", agent_}, {"seq", ++seq_},
              {"time", utc_now_iso()}, {"tool", tool}, {"is_error", is_error}, {"iteration", 0}};
  if (!text.empty()) rec["text"] = text;
  rec.update(extra);
  log_.write(rec);
}

}  // namespace plena::mcp

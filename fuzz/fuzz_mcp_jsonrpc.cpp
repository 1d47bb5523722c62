// The MCP JSON-RPC layer on fuzzed input: the input is a session, one message per line (an odd
// first byte starts it with a valid initialize so the tools are reached). Every line must get
// either no answer or exactly one line of valid JSON-RPC 2.0 (a result or an error), and nothing
// may throw. Built with libFuzzer (fuzz/run-fuzzers.sh) and replayed by tests/mcp (standalone).
#include <fmt/format.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "isa/isa.hpp"
#include "mcp/server.hpp"
#include "support/support.hpp"

namespace {

// One level-1 task "t" (C1, C2) whose evaluation passes when the kernel assembles to 2 words.
class StubBench final : public plena::mcp::BenchPort {
 public:
  nlohmann::json tasks() const override {
    return nlohmann::json::array({{{"task", "t"}, {"title", "T"}, {"level", 1}, {"configs", {"C1", "C2"}}}});
  }
  int level(const std::string& task) const override {
    if (task != "t") throw plena::InputError(fmt::format("unknown task '{}' (known: t)", task));
    return 1;
  }
  std::string describe(const std::string& task, const std::string& config) const override {
    level(task);
    if (config != "C1" && config != "C2") throw plena::InputError("unknown configuration");
    return "task t";
  }
  plena::mcp::EvalReport evaluate(const std::string&, const std::string&, const std::string& kernel,
                                  const std::string& name, uint64_t, const plena::mcp::EvalLimits&) const override {
    try {
      const bool pass = plena::isa::assemble(kernel, name).words.size() == 2;
      return {true, pass, pass ? "PASS" : "FAIL", "row 0\n", {{"passed", pass}}};
    } catch (const plena::InputError& e) {
      return {false, false, e.what(), "", {}};
    }
  }
};

void check_reply(const std::string& reply) {
  if (reply.find('\n') != std::string::npos) __builtin_trap();
  const auto j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("jsonrpc", "") != "2.0" || !j.contains("id")) __builtin_trap();
  if (j.contains("result") == j.contains("error")) __builtin_trap();
  if (j.contains("error") && !j["error"]["code"].is_number_integer()) __builtin_trap();
  if (j.contains("error") && j["error"]["code"] == -32603) __builtin_trap();  // nothing sent is an internal error
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path root = fs::temp_directory_path() / fmt::format("plena-fuzz-mcp-{}", ::getpid());
  std::error_code ec;
  fs::remove_all(root, ec);  // each input is a fresh session
  static const StubBench bench;
  plena::mcp::WorkspaceLimits lim;
  lim.max_file_bytes = 4096;
  lim.max_files = 8;
  plena::mcp::Workspace ws(root, lim);
  plena::mcp::SessionLog log;
  plena::mcp::SessionOptions opt;
  opt.isolate = false;
  plena::mcp::Tools tools(bench, ws, opt);
  plena::mcp::Server server(tools, log, "fuzz");
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1)) {
    auto r = server.handle_line(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})");
    if (!r) __builtin_trap();
    in.remove_prefix(1);
  }
  while (!in.empty()) {
    const size_t nl = in.find('\n');
    const std::string_view line = in.substr(0, nl);
    if (auto r = server.handle_line(line)) check_reply(*r);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  }
  return 0;
}

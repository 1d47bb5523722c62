// A scripted MCP client: starts `plena mcp --workspace DIR` with pipes and drives one whole task
// session over stdio as an agent would (initialize, tools/list, list, describe, a wrong kernel,
// its evaluation and per-row diff, the fix, a pass), then scores the session log it left.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/bench.hpp"
#include "support/support.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class McpProcess {
 public:
  explicit McpProcess(const fs::path& workspace, const fs::path& err_file) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      ::close(in[1]);
      ::close(out[0]);
      const std::string exe = (fs::path(PLENA_BINARY_DIR) / "plena").string(), ws = workspace.string();
      ::execl(exe.c_str(), exe.c_str(), "mcp", "--workspace", ws.c_str(), "--max-seconds", "120", nullptr);
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~McpProcess() {
    if (to_ >= 0) ::close(to_);
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL), ::waitpid(pid_, nullptr, 0);
    ::close(from_);
  }
  void send(const json& msg) {
    const std::string line = msg.dump() + "\n";
    ASSERT_EQ(::write(to_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  // The next stdout line, parsed; every stdout line must be a JSON-RPC message.
  json receive() {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        const std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        auto j = json::parse(line, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << "not JSON on stdout: " << line;
        EXPECT_EQ(j.value("jsonrpc", ""), "2.0") << line;
        return j;
      }
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, 300000) <= 0) throw std::runtime_error("no answer from plena mcp within 300 s");
      char chunk[65536];
      const ssize_t n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("plena mcp closed its output");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  json request(const std::string& method, const json& params) {
    send({{"jsonrpc", "2.0"}, {"id", ++id_}, {"method", method}, {"params", params}});
    json r = receive();
    EXPECT_EQ(r["id"], id_) << r.dump();
    return r;
  }
  json call(const std::string& tool, const json& args) {
    json r = request("tools/call", {{"name", tool}, {"arguments", args}});
    EXPECT_TRUE(r.contains("result")) << r.dump();
    return r.value("result", json::object());
  }
  // Closes stdin (how a client ends the session) and returns the exit status.
  int finish() {
    ::close(to_);
    to_ = -1;
    char rest[4096];
    while (::read(from_, rest, sizeof rest) > 0) ADD_FAILURE() << "output after the last request";
    int st = 0;
    ::waitpid(pid_, &st, 0);
    reaped_ = true;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1, id_ = 0;
  bool reaped_ = false;
  std::string buf_;
};

std::string text(const json& result) { return result["content"][0]["text"].get<std::string>(); }

// The compiler's ReLU with its first max against 0 turned into an add of 0: a plausible agent bug
// that runs fine and is wrong on the negative inputs of the first row only.
std::string wrong_relu(std::string kernel) {
  const size_t at = kernel.find("V_MAX_VF");
  if (at == std::string::npos) throw std::runtime_error("the ReLU baseline has no V_MAX_VF:\n" + kernel);
  return kernel.replace(at, 8, "V_ADD_VF");
}

TEST(McpStdioSession, ScriptedClientCompletesATask) {
  const fs::path dir = fs::path(PLENA_BINARY_DIR) / "test_mcp_tmp" / "stdio_session";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto& task = plena::bench::find_task("relu");
  const std::string good = plena::bench::baseline(task, task.config("C1"));
  const std::string bad = wrong_relu(good);
  ::signal(SIGPIPE, SIG_IGN);
  McpProcess mcp(dir / "ws", dir / "stderr.txt");

  json r = mcp.request("initialize", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()},
                                      {"clientInfo", {{"name", "scripted-client"}, {"version", "1.0"}}}});
  ASSERT_EQ(r["result"]["protocolVersion"], "2025-11-25") << r.dump();
  mcp.send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  EXPECT_EQ(mcp.request("tools/list", json::object())["result"]["tools"].size(), 8u);

  r = mcp.call("list_tasks", json::object());
  EXPECT_NE(text(r).find("relu | L1 | 15 | C1 C2 C3 C4 C5 | ReLU"), std::string::npos) << text(r);
  EXPECT_EQ(r["structuredContent"]["tasks"].size(), 20u);
  r = mcp.call("describe_task", {{"task", "relu"}, {"config", "C1"}});
  EXPECT_NE(text(r).find("max(x, 0)"), std::string::npos) << text(r);
  EXPECT_NE(mcp.call("grep_docs", {{"query", "V_MAX_VF"}})["content"][0]["text"].get<std::string>().find("Format: V_MAX_VF"),
            std::string::npos);

  EXPECT_FALSE(mcp.call("write_code", {{"path", "relu.asm"}, {"code", bad}})["isError"].get<bool>());
  EXPECT_EQ(text(mcp.call("check_syntax", {{"path", "relu.asm"}})).rfind("All checks passed", 0), 0u);
  r = mcp.call("run_evaluation", {{"task", "relu"}, {"config", "C1"}, {"path", "relu.asm"}});
  EXPECT_FALSE(r["isError"].get<bool>()) << text(r);
  EXPECT_FALSE(r["structuredContent"]["passed"].get<bool>()) << text(r);
  EXPECT_EQ(r["structuredContent"]["status"], "mismatch") << text(r);
  const double share = r["structuredContent"]["mismatch_share"].get<double>();
  EXPECT_GT(share, 0.0);
  EXPECT_LT(share, 0.25) << "about half of one row of four";
  EXPECT_NE(text(r).find("% of elements do not match"), std::string::npos) << text(r);
  const json rows = r["structuredContent"]["rows"];
  ASSERT_EQ(rows.size(), 4u) << r.dump();
  EXPECT_GT(rows[0]["mismatches"].get<int>(), 0) << "row 0 is wrong";
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i]["mismatches"], 0) << "row " << i << " is right";
  r = mcp.call("view_output", {{"task", "relu"}, {"config", "C1"}});
  EXPECT_NE(text(r).find("mean_diff"), std::string::npos) << text(r);
  EXPECT_NE(text(r).find("failed"), std::string::npos) << text(r);

  EXPECT_TRUE(mcp.call("write_code", {{"path", "../escape.asm"}, {"code", good}})["isError"].get<bool>());
  EXPECT_FALSE(mcp.call("write_code", {{"path", "relu.asm"}, {"code", good}})["isError"].get<bool>());
  r = mcp.call("run_evaluation", {{"task", "relu"}, {"config", "C1"}, {"path", "relu.asm"}});
  EXPECT_TRUE(r["structuredContent"]["passed"].get<bool>()) << text(r);
  EXPECT_EQ(r["structuredContent"]["iteration"], 2);
  EXPECT_NE(text(r).find("PASS"), std::string::npos) << text(r);
  EXPECT_GT(mcp.call("get_instruction_size", {{"path", "relu.asm"}})["structuredContent"]["instructions"].get<int>(), 0);
  EXPECT_EQ(mcp.finish(), 0) << plena::read_text_file(dir / "stderr.txt");
  EXPECT_FALSE(fs::exists(dir / "escape.asm"));

  // The log the session left is what `plena bench score` reads: relu C1 solved in 2 iterations.
  const auto report = plena::bench::score(dir / "ws" / "logs");
  const json scored = json::parse(report.json);
  EXPECT_NE(report.csv.find("scripted-client"), std::string::npos) << report.csv;
  EXPECT_NE(report.markdown.find("ReLU"), std::string::npos) << report.markdown;
  EXPECT_NE(scored.dump().find("relu"), std::string::npos) << scored.dump();
}

}  // namespace

namespace {

TEST(McpStdioSession, BadFlagsAreNamedWithExitOne) {
  const fs::path dir = fs::path(PLENA_BINARY_DIR) / "test_mcp_tmp" / "bad_flags";
  fs::remove_all(dir);
  fs::create_directories(dir);
  plena::write_text_file(dir / "file", "x");
  const std::string exe = (fs::path(PLENA_BINARY_DIR) / "plena").string();
  auto run = [&](const std::string& args) {
    const std::string cmd = fmt::format("'{}' mcp {} </dev/null >'{}' 2>'{}'", exe, args, (dir / "out").string(),
                                        (dir / "err").string());
    const int st = std::system(cmd.c_str());
    EXPECT_EQ(plena::read_text_file(dir / "out"), "") << "stdout is for protocol messages only";
    return std::make_pair(WIFEXITED(st) ? WEXITSTATUS(st) : -1, plena::read_text_file(dir / "err"));
  };
  auto [rc, err] = run(fmt::format("--workspace '{}'", (dir / "file").string()));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("not a folder"), std::string::npos) << err;
  std::tie(rc, err) = run(fmt::format("--workspace '{}' --max-seconds nan", (dir / "ws").string()));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("--max-seconds"), std::string::npos) << err;
  std::tie(rc, err) = run(fmt::format("--workspace '{}'", (dir / "ws").string()));
  EXPECT_EQ(rc, 0) << "end of input ends the server: " << err;
}

}  // namespace

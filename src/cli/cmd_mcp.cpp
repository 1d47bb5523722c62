// plena mcp --workspace DIR: the kernel benchmark as an MCP server on stdio (docs/mcp.md).
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/numeric_options.hpp"
#include "plena/version.hpp"
#include "mcp/bench_port.hpp"
#include "mcp/stdio.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

struct McpArgs {
  std::string workspace, log_dir;
  mcp::SessionOptions session;
  mcp::WorkspaceLimits limits;
};

// Protocol messages go to a private copy of standard output; file descriptor 1 then points at
// stderr, so nothing printed by any library can corrupt the JSON-RPC stream.
int protocol_fd() {
  std::fflush(stdout);
  const int fd = ::dup(STDOUT_FILENO);
  if (fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) throw InputError("plena mcp: cannot set up standard output");
  return fd;
}

void run_mcp(const McpArgs& a) {
  auto port = mcp::make_bench_port();
  if (!port) throw InputError("plena mcp: this plena was built without the kernel benchmark (src/bench)");
  mcp::Workspace ws(a.workspace, a.limits);
  mcp::SessionLog log = mcp::SessionLog::in_folder(a.log_dir.empty() ? ws.root() / "logs" : std::filesystem::path(a.log_dir));
  mcp::Tools tools(*port, ws, a.session);
  mcp::Server server(tools, log, PLENA_VERSION);
  ::signal(SIGPIPE, SIG_IGN);  // a client that went away is a failed write, not a signal
  const int out = protocol_fd();
  fmt::print(stderr, "plena mcp: serving MCP {} on stdio; workspace {}; log {}\n", mcp::kProtocolVersion,
             ws.root().string(), log.path().string());
  set_exit_code(mcp::serve_stdio(server, STDIN_FILENO, out));
  ::close(out);
}

}  // namespace

void add_mcp_command(CLI::App& app) {
  auto a = std::make_shared<McpArgs>();
  auto* sub = app.add_subcommand("mcp", "Serve the kernel benchmark to an agent over MCP (2025-11-25, stdio JSON-RPC)");
  sub->add_option("--workspace", a->workspace, "Folder the agent's kernel files live in (created if missing)")->required();
  sub->add_option("--log-dir", a->log_dir, "Folder for the session's JSONL log (default: WORKSPACE/logs)");
  sub->add_option("--max-instructions", a->session.limits.max_instructions,
                  "Dynamic instructions one evaluation may execute (0: the task's own budget; else at most the task's)")
      ->transform(integer_in(0, uint64_t{1} << 40))
      ->capture_default_str();
  sub->add_option("--max-seconds", a->session.limits.max_seconds, "Wall-time seconds one evaluation may take")
      ->transform(real_in(0, false, 3600))
      ->capture_default_str();
  sub->add_option("--max-file-bytes", a->limits.max_file_bytes, "Largest kernel file the agent may write or read")
      ->transform(integer_in(1, 16u << 20))
      ->capture_default_str();
  sub->callback([a] { run_mcp(*a); });
}

}  // namespace plena::cli

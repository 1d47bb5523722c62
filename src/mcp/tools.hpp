// The tools an agent calls (KernelCraft's six plus task listing and description): argument
// checking, iteration budgets per task cell, and the text each answer gives the model.
#pragma once
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mcp/bench_port.hpp"
#include "mcp/workspace.hpp"

namespace plena::mcp {

struct ToolResult {
  std::string text;             // what the model reads
  nlohmann::json structured;    // structuredContent (an object)
  bool is_error = false;        // MCP isError: the call did not do what was asked
  nlohmann::json log_extra;     // added to the session log record only (e.g. the kernel text)
};

struct SessionOptions {
  EvalLimits limits{0, 60.0};
  std::array<int, 3> iterations{15, 20, 25};  // run_evaluation calls per task cell, by level (KernelCraft)
  bool isolate = true;                         // evaluate in a child process under the wall-time limit
};

struct ToolDef;

class Tools {
 public:
  Tools(const BenchPort& port, Workspace& ws, SessionOptions opt) : port_(port), ws_(ws), opt_(opt) {}
  // The tools/list "tools" array.
  static const nlohmann::json& definitions();
  static bool exists(const std::string& name);
  // Never throws for anything the client sends: bad arguments are isError results.
  ToolResult call(const std::string& name, const nlohmann::json& arguments);
  const SessionOptions& options() const { return opt_; }

 private:
  static const std::vector<ToolDef>& table();
  ToolResult list_tasks(const nlohmann::json& a);
  ToolResult describe_task(const nlohmann::json& a);
  ToolResult write_code(const nlohmann::json& a);
  ToolResult check_syntax(const nlohmann::json& a);
  ToolResult run_evaluation(const nlohmann::json& a);
  ToolResult view_output(const nlohmann::json& a);
  ToolResult grep_docs(const nlohmann::json& a);
  ToolResult get_instruction_size(const nlohmann::json& a);
  EvalReport evaluate(const std::string& task, const std::string& config, const std::string& path, const std::string& kernel,
                      uint64_t seed);
  int budget_of(const std::string& task) const;

  const BenchPort& port_;
  Workspace& ws_;
  SessionOptions opt_;
  std::map<std::string, int> used_;            // "task/config" -> run_evaluation calls
  std::map<std::string, EvalReport> last_;     // "task/config" -> latest evaluation
};

}  // namespace plena::mcp

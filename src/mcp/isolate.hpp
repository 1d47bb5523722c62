// Runs one evaluation in a child process with a hard wall-time limit: a kernel that loops forever,
// or a simulator bug, ends that child and never the server.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace plena::mcp {

struct Isolated {
  bool ok = false;         // the child finished and sent a result
  bool timed_out = false;  // killed at the deadline
  std::string error;       // why there is no result (when !ok)
  nlohmann::json value;
};

// `work` runs in a forked child; its JSON result comes back through a pipe. An exception in the
// child becomes {"exception": what}. Call only while the process is single-threaded.
Isolated run_isolated(const std::function<nlohmann::json()>& work, double max_seconds);

}  // namespace plena::mcp

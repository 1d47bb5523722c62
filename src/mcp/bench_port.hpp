// What the MCP server needs from the kernel benchmark (src/bench): the task catalogue, the task
// text an agent reads, and one evaluation of a kernel. Kept as an interface so the protocol layer
// is tested (and fuzzed) without running the simulator.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace plena::mcp {

// Per-call limits of one evaluation (the server adds a hard wall-time limit around it).
struct EvalLimits {
  uint64_t max_instructions = 0;  // dynamic instructions (0: the task's own budget)
  double max_seconds = 0;         // wall time (0: none)
};

// Outcome of one evaluation. `completed` is false when no comparison could be made (the kernel
// does not assemble, faults, or runs past a budget); `summary` then says why.
struct EvalReport {
  bool completed = false;
  bool passed = false;
  std::string summary;     // one paragraph for the model
  std::string row_table;   // per-row error table (text), empty when not completed
  nlohmann::json details;  // machine-readable result (counts, cycles, speedup, ...)
};

class BenchPort {
 public:
  virtual ~BenchPort() = default;
  // [{"task": id, "title": ..., "level": 1..3, "configs": ["C1", ...]}, ...]
  virtual nlohmann::json tasks() const = 0;
  // Level 1..3 of a task; InputError naming the known tasks when unknown.
  virtual int level(const std::string& task) const = 0;
  // The task statement for one configuration; InputError when the task or config is unknown.
  virtual std::string describe(const std::string& task, const std::string& config) const = 0;
  // Assembles and checks `kernel` on inputs drawn from `seed`. InputError only for an unknown
  // task/config; a bad kernel is a report with completed = false.
  virtual EvalReport evaluate(const std::string& task, const std::string& config, const std::string& kernel,
                              const std::string& kernel_name, uint64_t seed, const EvalLimits& limits) const = 0;
  // Work worth keeping across evaluations (a baseline's cycles), done in the server process
  // before an evaluation runs in its own child process.
  virtual void prepare(const std::string& task, const std::string& config) const {
    (void)task;
    (void)config;
  }
};

// The benchmark of src/bench (nullptr when plena was built without it).
std::unique_ptr<BenchPort> make_bench_port();

}  // namespace plena::mcp

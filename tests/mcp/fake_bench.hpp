// A stand-in benchmark for protocol tests: task "copy" (level 1) passes when the kernel has
// exactly two instructions; "; LOOP" in a kernel sleeps past any budget, "; CRASH" aborts.
#pragma once
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "isa/isa.hpp"
#include "mcp/bench_port.hpp"
#include "support/support.hpp"

namespace plena_mcp_test {

class FakeBench final : public plena::mcp::BenchPort {
 public:
  nlohmann::json tasks() const override {
    return nlohmann::json::array({{{"task", "copy"}, {"title", "Copy"}, {"level", 1}, {"configs", {"C1", "C2"}}},
                                  {{"task", "block"}, {"title", "Block"}, {"level", 3}, {"configs", {"C1"}}}});
  }
  int level(const std::string& task) const override {
    if (task == "copy") return 1;
    if (task == "block") return 3;
    throw plena::InputError(fmt::format("unknown task '{}' (known: copy, block)", task));
  }
  std::string describe(const std::string& task, const std::string& config) const override {
    level(task);
    if (config != "C1" && config != "C2") throw plena::InputError(fmt::format("unknown configuration '{}'", config));
    return fmt::format("# {} {}\nWrite two instructions.", task, config);
  }
  plena::mcp::EvalReport evaluate(const std::string&, const std::string&, const std::string& kernel,
                                  const std::string& name, uint64_t seed, const plena::mcp::EvalLimits&) const override {
    if (kernel.find("; LOOP") != std::string::npos) ::sleep(100);
    if (kernel.find("; CRASH") != std::string::npos) std::abort();
    size_t n = 0;
    try {
      n = plena::isa::assemble(kernel, name).words.size();
    } catch (const plena::InputError& e) {
      return {false, false, fmt::format("syntax_error: {}", e.what()), "", {{"status", "syntax_error"}}};
    }
    const bool pass = n == 2;
    nlohmann::json d = {{"status", pass ? "pass" : "mismatch"}, {"passed", pass}, {"task_version", 3},
                        {"seed_seen", seed}, {"speedup", pass ? 1.25 : 0.0}};
    return {true, pass, pass ? "PASS: all 4 elements match." : "FAIL: 50.0% of elements do not match (2 of 4).",
            fmt::format("row 0: {} mismatches\nrow 1: 0 mismatches\n", pass ? 0 : 2), d};
  }
};

}  // namespace plena_mcp_test

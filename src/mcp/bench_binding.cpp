// Binds the MCP tools to the kernel benchmark of src/bench.
#include "mcp/bench_port.hpp"

#ifdef PLENA_HAVE_BENCH
#include <fmt/format.h>

#include <algorithm>

#include "bench/bench.hpp"
#include "mcp/session_log.hpp"
#include "support/support.hpp"
#endif

namespace plena::mcp {

#ifndef PLENA_HAVE_BENCH
std::unique_ptr<BenchPort> make_bench_port() { return nullptr; }
#else
namespace {
using json = nlohmann::json;

static_assert(bench::kLogSchema == std::string_view(kLogSchema), "the MCP log must be what bench score reads");

// The few lines the model reads after run_evaluation (the per-row table is view_output's).
std::string summary_text(const bench::CheckResult& r) {
  std::string head;
  switch (r.status) {
    case bench::Status::Pass:
      head = fmt::format("PASS: {}", r.message);
      break;
    case bench::Status::Mismatch:
      head = fmt::format("FAIL: {}; largest |error| {:.4g}", r.message, r.max_abs);
      break;
    default:
      return fmt::format("{}: {}", bench::status_name(r.status), r.message);
  }
  head += fmt::format("\nStatic size {} instructions; executed {}; {} cycles", r.static_instructions,
                      r.dynamic_instructions, r.cycles);
  if (r.baseline_cycles) head += fmt::format("; compiler baseline {} cycles", r.baseline_cycles);
  if (r.speedup > 0) head += fmt::format("; speedup {:.3f}x", r.speedup);
  return head + ".";
}

class Bench final : public BenchPort {
 public:
  json tasks() const override {
    json out = json::array();
    for (const bench::Task& t : bench::tasks()) {
      json configs = json::array();
      for (const auto& c : t.configs) configs.push_back(c.id);
      out.push_back({{"task", t.id}, {"title", t.name}, {"level", static_cast<int>(t.level)}, {"number", t.number},
                     {"version", t.version}, {"configs", configs}});
    }
    return out;
  }
  int level(const std::string& task) const override { return static_cast<int>(bench::find_task(task).level); }
  std::string describe(const std::string& task, const std::string& config) const override {
    const bench::Task& t = bench::find_task(task);
    return bench::describe(t, t.config(config));
  }
  void prepare(const std::string& task, const std::string& config) const override {
    const bench::Task& t = bench::find_task(task);
    try {
      bench::baseline_cycles(t, t.config(config));  // memoized here, inherited by each evaluation's child
    } catch (const InputError&) {
      // no baseline for this cell yet: the check reports no speedup
    }
  }
  EvalReport evaluate(const std::string& task, const std::string& config, const std::string& kernel,
                      const std::string& kernel_name, uint64_t seed, const EvalLimits& limits) const override {
    const bench::Task& t = bench::find_task(task);
    const bench::TaskConfig& c = t.config(config);
    bench::CheckOptions o;
    o.instruction_budget = limits.max_instructions == 0 ? c.instruction_budget
                           : c.instruction_budget == 0  ? limits.max_instructions
                                                        : std::min(c.instruction_budget, limits.max_instructions);
    o.wall_seconds = limits.max_seconds;
    const bench::CheckResult r = bench::check(t, c, kernel, seed, o, kernel_name);
    const bool completed = r.status == bench::Status::Pass || r.status == bench::Status::Mismatch;
    return {completed, r.passed(), summary_text(r), completed ? r.to_text(64) : std::string(), json::parse(r.to_json())};
  }
};

}  // namespace

std::unique_ptr<BenchPort> make_bench_port() { return std::make_unique<Bench>(); }
#endif

}  // namespace plena::mcp

// plena bench list|show|check|baseline|score — thin wrapper over src/bench (docs/bench.md).
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench.hpp"
#include "cli/commands.hpp"
#include "support/output.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

struct BenchOptions {
  std::string tasks_dir;  // empty: the embedded task set
  std::string task, config, kernel, out, logdir, format = "md";
  std::optional<uint64_t> seed;
  uint64_t budget = 0;
  size_t rows = 16;
  bool json = false, no_baseline = false;
  std::vector<bench::Task> loaded;

  std::span<const bench::Task> set() {
    if (tasks_dir.empty()) return bench::tasks();
    if (loaded.empty()) loaded = bench::load_tasks(tasks_dir);
    return loaded;
  }
  const bench::Task& the_task() { return bench::find_task(set(), task); }
};

std::string list_json(std::span<const bench::Task> set) {
  std::string out = "[";
  for (size_t i = 0; i < set.size(); ++i) {
    const auto& t = set[i];
    std::vector<std::string> ids;
    for (const auto& c : t.configs) ids.push_back(fmt::format("\"{}\"", c.id));
    out += fmt::format("{}\n  {{\"id\": \"{}\", \"name\": \"{}\", \"number\": {}, \"level\": {}, \"version\": {}, "
                       "\"iteration_budget\": {}, \"configs\": [{}]}}",
                       i ? "," : "", t.id, t.name, t.number, int(t.level), t.version, bench::iteration_budget(t.level),
                       fmt::join(ids, ", "));
  }
  return out + "\n]\n";
}

void add_tasks_option(CLI::App* cmd, const std::shared_ptr<BenchOptions>& o) {
  cmd->add_option("--tasks", o->tasks_dir, "directory with tasks/*.toml and hardware/*.toml (default: the built-in set)");
}

void add_check(CLI::App* sub, const std::shared_ptr<BenchOptions>& o) {
  auto* check = sub->add_subcommand("check", "Run a kernel on fresh-seed inputs against the host golden; exit 3 if it fails");
  check->add_option("task", o->task, "task id (plena bench list)")->required();
  check->add_option("config", o->config, "configuration C1..C5")->required();
  check->add_option("kernel", o->kernel, "kernel assembly file")->required();
  check->add_option("--seed", o->seed, "input seed (default: a fresh one per evaluation)");
  check->add_option("--budget", o->budget, "instruction budget (default: the task's)");
  check->add_option("--rows", o->rows, "rows of the per-row error table to print (default 16; worst first)");
  check->add_flag("--json", o->json, "print the result as JSON (schema plena-bench-result/1)");
  check->add_flag("--no-baseline", o->no_baseline, "skip the baseline run (no speedup)");
  add_tasks_option(check, o);
  check->callback([o] {
    const auto& task = o->the_task();
    const auto& cfg = task.config(o->config);
    const std::string text = read_text_file(o->kernel);
    bench::CheckOptions opts;
    opts.instruction_budget = o->budget;
    opts.with_baseline = !o->no_baseline;
    const auto r = bench::check(task, cfg, text, o->seed ? *o->seed : bench::fresh_seed(), opts, o->kernel);
    fmt::print("{}", o->json ? r.to_json() + "\n" : r.to_text(o->rows));
    if (r.status == bench::Status::SyntaxError) set_exit_code(1);
    else if (!r.passed()) set_exit_code(3);
  });
}

void add_score(CLI::App* sub, const std::shared_ptr<BenchOptions>& o) {
  auto* score = sub->add_subcommand("score", "KernelCraft's tables from MCP session logs (LOGDIR/*.jsonl)");
  score->add_option("logdir", o->logdir, "directory of JSONL session logs")->required();
  score->add_option("--format", o->format, "what to print: md, csv or json (default md)")
      ->check(CLI::IsMember({"md", "csv", "json"}));
  score->add_option("-o,--out", o->out, "also write score.md, score.csv and score.json into this directory");
  score->callback([o] {
    const auto rep = bench::score(o->logdir);
    if (!o->out.empty()) {
      const std::filesystem::path d = o->out;
      std::error_code ec;
      std::filesystem::create_directories(d, ec);
      if (ec) throw InputError(fmt::format("{}: error: cannot create the output directory: {}", d.string(), ec.message()));
      write_output_file(d / "score.md", rep.markdown);
      write_output_file(d / "score.csv", rep.csv);
      write_output_file(d / "score.json", rep.json);
    }
    fmt::print("{}", o->format == "md" ? rep.markdown : o->format == "csv" ? rep.csv : rep.json);
  });
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* sub = app.add_subcommand("bench", "Kernel benchmark (KernelCraft-style): tasks, checking, baselines, scoring");
  sub->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();

  auto* list = sub->add_subcommand("list", "List the tasks and their configurations");
  list->add_flag("--json", o->json, "print JSON");
  add_tasks_option(list, o);
  list->callback([o] { fmt::print("{}", o->json ? list_json(o->set()) : bench::list_text(o->set())); });

  auto* show = sub->add_subcommand("show", "Print a task's description (one configuration, or all five)");
  show->add_option("task", o->task, "task id")->required();
  show->add_option("config", o->config, "configuration C1..C5 (default: all)");
  add_tasks_option(show, o);
  show->callback([o] {
    const auto& task = o->the_task();
    if (!o->config.empty()) return fmt::print("{}", bench::describe(task, task.config(o->config)));
    for (const auto& c : task.configs) fmt::print("{}\n", bench::describe(task, c));
  });

  add_check(sub, o);

  auto* base = sub->add_subcommand("baseline", "Emit the compiler's kernel for a task configuration (assembly)");
  base->add_option("task", o->task, "task id")->required();
  base->add_option("config", o->config, "configuration C1..C5")->required();
  base->add_option("-o,--out", o->out, "write the assembly to this file instead of stdout");
  add_tasks_option(base, o);
  base->callback([o] {
    const auto& task = o->the_task();
    const std::string text = bench::baseline(task, task.config(o->config));
    if (o->out.empty()) return fmt::print("{}", text);
    write_output_file(o->out, text);
  });

  add_score(sub, o);
}

}  // namespace plena::cli

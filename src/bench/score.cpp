// Check results as JSON / text, the session log record, and scoring of session logs into
// KernelCraft's tables (success per task and configuration within the level's iteration budget;
// best speedup over the baseline).
#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/bench.hpp"
#include "support/support.hpp"

namespace plena::bench {

using nlohmann::json;

std::string CheckResult::to_json() const {
  json rows_j = json::array();
  for (const auto& e : rows)
    rows_j.push_back({{"tensor", e.tensor}, {"row", e.row}, {"elements", e.elements}, {"mismatches", e.mismatches},
                      {"mse", e.mse}, {"max_abs", e.max_abs}, {"mean_diff", e.mean_diff}});
  json j{{"schema", kResultSchema},
         {"task", task},
         {"task_version", task_version},
         {"config", config},
         {"status", status_name(status)},
         {"passed", passed()},
         {"message", message},
         {"seed", seed},
         {"elements", elements},
         {"mismatches", mismatches},
         {"mismatch_share", mismatch_share},
         {"max_abs", max_abs},
         {"dynamic_instructions", dynamic_instructions},
         {"static_instructions", static_instructions},
         {"cycles", cycles},
         {"baseline_cycles", baseline_cycles},
         {"speedup", speedup},
         {"rows", rows_j}};
  return j.dump();
}

std::string CheckResult::to_text(size_t max_rows) const {
  std::string out = fmt::format("{} {}: {} — {}\n", task, config, status_name(status), message);
  out += fmt::format("seed {}; static size {} instructions; executed {}; cycles {}", seed, static_instructions,
                     dynamic_instructions, cycles);
  if (baseline_cycles) out += fmt::format("; baseline {} cycles", baseline_cycles);
  if (speedup > 0) out += fmt::format("; speedup {:.3f}x", speedup);
  out += "\n";
  if (rows.empty()) return out;
  // The worst rows first when the table must be cut.
  std::vector<const RowError*> shown;
  for (const auto& e : rows) shown.push_back(&e);
  if (shown.size() > max_rows) {
    std::stable_sort(shown.begin(), shown.end(), [](auto* a, auto* b) { return a->mse > b->mse; });
    shown.resize(max_rows);
    std::stable_sort(shown.begin(), shown.end(), [](auto* a, auto* b) { return a->row < b->row; });
  }
  out += fmt::format("{:<10} {:>5} {:>10} {:>12} {:>12} {:>12}\n", "tensor", "row", "mismatch", "mse", "max_abs", "mean_diff");
  for (const auto* e : shown)
    out += fmt::format("{:<10} {:>5} {:>4}/{:<5} {:>12.4g} {:>12.4g} {:>12.4g}\n", e->tensor, e->row, e->mismatches,
                       e->elements, e->mse, e->max_abs, e->mean_diff);
  if (shown.size() < rows.size()) out += fmt::format("({} of {} rows shown, worst first by mse)\n", shown.size(), rows.size());
  return out;
}

std::string LogRecord::to_json_line() const {
  json j{{"schema", kLogSchema}, {"session", session}, {"agent", agent}, {"seq", seq},
         {"time", time},         {"tool", tool},       {"is_error", is_error}, {"iteration", iteration}};
  if (!task.empty()) {
    j["task"] = task;
    j["task_version"] = task_version;
  }
  if (!config.empty()) j["config"] = config;
  if (!result_json.empty()) j["result"] = json::parse(result_json);
  if (!text.empty()) j["text"] = text;
  return j.dump();
}

namespace {

struct Cell {
  bool success = false;
  uint64_t iterations = 0;     // evaluations used (all of them when never passed)
  uint64_t pass_iteration = 0; // the first passing evaluation within the budget
  double speedup = 0;          // best passing kernel's, within the budget
};
// agent -> task id -> config id -> cell
using Cells = std::map<std::string, std::map<std::string, std::map<std::string, Cell>>>;

template <class T>
T field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw InputError(fmt::format("{}: error: missing \"{}\"", where, key));
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(fmt::format("{}: error: \"{}\" has the wrong type", where, key));
  }
}

// One log line into the cells (evaluations only; others need no more than to be well formed).
void add_record(Cells& cells, const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where + ": error: expected a JSON object per line");
  if (field<std::string>(j, "schema", where) != kLogSchema)
    throw InputError(fmt::format("{}: error: schema: expected \"{}\"", where, kLogSchema));
  const auto agent = field<std::string>(j, "agent", where);
  field<std::string>(j, "session", where);
  field<uint64_t>(j, "seq", where);
  const auto tool_name = field<std::string>(j, "tool", where);
  if (tool_name != tool::kRunEvaluation || !j.contains("task") || !j.contains("config")) return;
  const auto task_id = field<std::string>(j, "task", where);
  const auto cfg_id = field<std::string>(j, "config", where);
  const Task* task = nullptr;
  try {
    task = &find_task(task_id);
    task->config(cfg_id);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: error: {}", where, e.what()));
  }
  Cell& c = cells[agent][task_id][cfg_id];
  const uint64_t it = field<uint64_t>(j, "iteration", where);
  c.iterations = std::max(c.iterations, it);
  if (field<bool>(j, "is_error", where) || !j.contains("result")) return;
  const json& r = j.at("result");
  if (!r.is_object() || !r.value("passed", false) || it == 0 || it > iteration_budget(task->level)) return;
  if (!c.success || it < c.pass_iteration) c.pass_iteration = it;
  c.success = true;
  c.speedup = std::max(c.speedup, r.value("speedup", 0.0));
}

Cells read_logs(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw InputError(fmt::format("{}: error: not a directory (expected LOGDIR with *.jsonl)", dir.string()));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw InputError(fmt::format("{}: error: no *.jsonl session logs", dir.string()));
  Cells cells;
  for (const auto& p : files) {
    const std::string text = read_text_file(p);
    size_t line = 0, pos = 0;
    while (pos < text.size()) {
      const size_t end = std::min(text.find('\n', pos), text.size());
      const std::string_view l(text.data() + pos, end - pos);
      ++line;
      pos = end + 1;
      if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const std::string where = fmt::format("{}:{}", p.string(), line);
      json j;
      try {
        j = json::parse(l);
      } catch (const json::parse_error& e) {
        throw InputError(fmt::format("{}: error: not JSON: {}", where, e.what()));
      }
      add_record(cells, j, where);
    }
  }
  return cells;
}

std::string fraction(uint64_t ok, uint64_t total) { return ok ? fmt::format("{}/{}", ok, total) : "0"; }

}  // namespace

ScoreReport score(const std::filesystem::path& logdir) {
  const Cells cells = read_logs(logdir);
  std::vector<std::string> agents;
  for (const auto& [a, _] : cells) agents.push_back(a);
  auto cell_of = [&](const std::string& a, const Task& t, const TaskConfig& c) -> Cell {
    const auto& byt = cells.at(a);
    auto it = byt.find(t.id);
    if (it == byt.end()) return {};
    auto jt = it->second.find(c.id);
    return jt == it->second.end() ? Cell{} : jt->second;
  };
  ScoreReport rep;
  json jtasks = json::array();
  rep.csv = "agent,task,level,config,success,iterations,pass_iteration,speedup\n";
  rep.markdown = "## Success (functionally correct kernel within the level's iteration budget)\n\n| Level | Task |";
  for (const auto& a : agents) rep.markdown += fmt::format(" {} |", a);
  rep.markdown += "\n|---|---|" + std::string(agents.size() * 4, '-') + "\n";
  std::string speed_md = "## Best kernel speedup over the baseline, C1..C5 (x: no passing kernel)\n\n| Task |";
  for (const auto& a : agents) speed_md += fmt::format(" {} |", a);
  speed_md += "\n|---|" + std::string(agents.size() * 4, '-') + "\n";
  std::map<std::string, std::map<int, std::pair<uint64_t, uint64_t>>> level_sum;  // agent -> level -> ok,total
  int cur_level = 0;
  auto subtotal = [&](int level) {
    rep.markdown += fmt::format("| **L{} subtotal** | |", level);
    for (const auto& a : agents) rep.markdown += fmt::format(" **{}/{}** |", level_sum[a][level].first, level_sum[a][level].second);
    rep.markdown += "\n";
  };
  for (const auto& t : tasks()) {
    if (cur_level && int(t.level) != cur_level) subtotal(cur_level);
    cur_level = int(t.level);
    rep.markdown += fmt::format("| L{} | {} |", cur_level, t.name);
    speed_md += fmt::format("| {} |", t.name);
    json jt{{"id", t.id}, {"name", t.name}, {"level", cur_level}, {"agents", json::object()}};
    for (const auto& a : agents) {
      uint64_t ok = 0;
      std::vector<std::string> sp;
      json jc = json::object();
      for (const auto& c : t.configs) {
        const Cell cell = cell_of(a, t, c);
        ok += cell.success;
        sp.push_back(cell.success ? (cell.speedup > 0 ? fmt::format("{:.2f}", cell.speedup) : "ok") : "x");
        jc[c.id] = {{"success", cell.success}, {"iterations", cell.iterations}, {"pass_iteration", cell.pass_iteration},
                    {"speedup", cell.speedup}};
        rep.csv += fmt::format("{},{},{},{},{},{},{},{:.4f}\n", a, t.id, cur_level, c.id, cell.success ? 1 : 0, cell.iterations,
                               cell.pass_iteration, cell.speedup);
      }
      level_sum[a][cur_level].first += ok;
      level_sum[a][cur_level].second += t.configs.size();
      rep.markdown += fmt::format(" {} |", fraction(ok, t.configs.size()));
      speed_md += fmt::format(" {} |", fmt::join(sp, "/"));
      jt["agents"][a] = {{"success", ok}, {"total", t.configs.size()}, {"configs", jc}};
    }
    rep.markdown += "\n";
    speed_md += "\n";
    jtasks.push_back(jt);
  }
  if (cur_level) subtotal(cur_level);
  rep.markdown += "| **TOTAL** | |";
  json jtotal = json::object();
  for (const auto& a : agents) {
    uint64_t ok = 0, total = 0;
    for (const auto& [lvl, s] : level_sum[a]) ok += s.first, total += s.second;
    rep.markdown += fmt::format(" **{}/{}** |", ok, total);
    json jl = json::object();
    for (const auto& [lvl, s] : level_sum[a]) jl[fmt::format("L{}", lvl)] = {{"success", s.first}, {"total", s.second}};
    jtotal[a] = {{"success", ok}, {"total", total}, {"rate", total ? double(ok) / double(total) : 0.0}, {"levels", jl}};
  }
  rep.markdown += "\n\n" + speed_md;
  rep.json = json{{"schema", "plena-bench-score/1"}, {"agents", agents}, {"tasks", jtasks}, {"totals", jtotal}}.dump(2) + "\n";
  return rep;
}

}  // namespace plena::bench

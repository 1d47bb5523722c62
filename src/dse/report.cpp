// The files of a search: trials.csv, pareto.csv, pareto.json, hypervolume.csv, front_*.svg,
// best_<metric>.toml and report.md (docs/dse.md "Outputs"). Numbers are printed with a fixed
// format so that equal results give byte-identical files.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dse/report.hpp"
#include "support/output.hpp"
#include "support/support.hpp"

namespace plena::dse {
namespace {

std::string num(double v) { return fmt::format("{:.9g}", v); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  q += '"';
  return q;
}

// Checked and atomic (docs/cli.md "Output files"); only log.jsonl is written as the search goes.
void write_file(const std::filesystem::path& p, const std::string& text) { write_output_file(p, text); }

std::vector<std::string> metric_columns(const Space& s) {
  std::vector<std::string> cols;
  for (const auto& [name, what] : metrics_of(s)) cols.push_back(name);
  return cols;
}

std::string metric_cell(const Trial& t, const std::string& m) {
  auto it = t.metrics.find(m);
  return it == t.metrics.end() ? "" : num(it->second);
}

std::string objective_label(const Objective& o) { return fmt::format("{} {}", o.maximize ? "max" : "min", o.metric); }

std::string trials_csv(const Space& s, const std::vector<Trial>& trials) {
  std::string out = "trial,hash";
  for (const auto& p : s.params) out += fmt::format(",{}", csv_field(p.name));
  out += ",status,why";
  for (const auto& m : metric_columns(s)) out += fmt::format(",{}", m);
  out += "\n";
  for (const auto& t : trials) {
    out += fmt::format("{},{}", t.id, t.hash);
    for (size_t i = 0; i < s.params.size(); ++i) out += fmt::format(",{}", csv_field(s.params[i].values[t.x[i]].text()));
    out += fmt::format(",{},{}", status_name(t.status), csv_field(t.why));
    for (const auto& m : metric_columns(s)) out += fmt::format(",{}", metric_cell(t, m));
    out += "\n";
  }
  return out;
}

std::string pareto_csv(const Space& s, const Result& r) {
  std::string out = "rank,trial,hash";
  for (const auto& p : s.params) out += fmt::format(",{}", csv_field(p.name));
  for (const auto& m : metric_columns(s)) out += fmt::format(",{}", m);
  out += "\n";
  for (size_t k = 0; k < r.pareto.size(); ++k) {
    const Trial& t = r.trials[r.pareto[k]];
    out += fmt::format("{},{},{}", k + 1, t.id, t.hash);
    for (size_t i = 0; i < s.params.size(); ++i) out += fmt::format(",{}", csv_field(s.params[i].values[t.x[i]].text()));
    for (const auto& m : metric_columns(s)) out += fmt::format(",{}", metric_cell(t, m));
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json trial_json(const Space& s, const Trial& t) {
  nlohmann::ordered_json j;
  j["trial"] = t.id;
  j["hash"] = t.hash;
  auto& params = j["params"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < s.params.size() && i < t.x.size(); ++i) {
    const Value& v = s.params[i].values[t.x[i]];
    if (v.is_string) params[s.params[i].name] = v.str;
    else if (std::floor(v.num) == v.num && std::fabs(v.num) < 9.0e15) params[s.params[i].name] = int64_t(v.num);
    else params[s.params[i].name] = v.num;
  }
  j["metrics"] = t.metrics;
  return j;
}

std::string pareto_json(const Space& s, const Result& r) {
  nlohmann::ordered_json j;
  j["space"] = s.file.filename().string();
  auto& objs = j["objectives"] = nlohmann::ordered_json::array();
  for (const auto& o : s.objectives) objs.push_back({{"metric", o.metric}, {"goal", o.maximize ? "max" : "min"}});
  auto& pts = j["front"] = nlohmann::ordered_json::array();
  for (size_t i : r.pareto) pts.push_back(trial_json(s, r.trials[i]));
  if (r.baseline) {
    nlohmann::ordered_json b;
    b["config"] = s.base;
    b["hash"] = r.baseline->hash;
    b["status"] = status_name(r.baseline->status);
    b["metrics"] = r.baseline->metrics;
    j["baseline"] = b;
  }
  return j.dump(2) + "\n";
}

std::string hypervolume_csv(const Result& r, const std::vector<size_t>& generations) {
  std::string out = "generation,trials,hypervolume\n";
  for (size_t g = 0; g < generations.size(); ++g) out += fmt::format("{},{},{}\n", g, generations[g], num(r.hypervolume[g]));
  return out;
}

// Index into r.trials of the best feasible trial of each objective (first on ties).
std::vector<size_t> best_per_objective(const Space& s, const Result& r) {
  std::vector<size_t> best;
  for (size_t k = 0; k < s.objectives.size(); ++k) {
    size_t b = SIZE_MAX;
    for (size_t i : r.pareto) {
      const double v = r.trials[i].objectives[k], cur = b == SIZE_MAX ? 0 : r.trials[b].objectives[k];
      if (b == SIZE_MAX || (s.objectives[k].maximize ? v > cur : v < cur)) b = i;
    }
    best.push_back(b);
  }
  return best;
}

std::string params_text(const Space& s, const Trial& t) {
  std::string out;
  for (size_t i = 0; i < s.params.size(); ++i)
    out += fmt::format("{}{}={}", i ? " " : "", s.params[i].name, s.params[i].values[t.x[i]].text());
  return out;
}

void write_plots(const Space& s, const Options& o, const Result& r, std::vector<std::string>& files) {
  for (size_t a = 0; a < s.objectives.size(); ++a)
    for (size_t b = a + 1; b < s.objectives.size(); ++b) {
      std::vector<std::pair<double, double>> all, front;
      for (const auto& t : r.trials)
        if (t.status == Status::Ok) all.emplace_back(t.objectives[a], t.objectives[b]);
      for (size_t i : r.pareto) front.emplace_back(r.trials[i].objectives[a], r.trials[i].objectives[b]);
      std::pair<double, double> base;
      const bool has_base = r.baseline && r.baseline->status == Status::Ok;
      if (has_base) base = {r.baseline->objectives[a], r.baseline->objectives[b]};
      const std::string name = fmt::format("front_{}_{}.svg", s.objectives[a].metric, s.objectives[b].metric);
      write_file(o.out / name, scatter_svg(objective_label(s.objectives[a]), objective_label(s.objectives[b]), all, front,
                                           has_base ? &base : nullptr));
      files.push_back(name);
    }
}

std::string report_md(const Space& s, const Options& o, const Result& r, const std::vector<size_t>& best,
                      const std::vector<std::string>& plots, const std::vector<VerifyRow>& checks) {
  size_t counts[4] = {0, 0, 0, 0};
  for (const auto& t : r.trials) ++counts[size_t(t.status)];
  std::string md = fmt::format("# Design-space exploration: {}\n\n", s.file.filename().string());
  md += fmt::format("Base config `{}`; algorithm {}; seed {}; {} parameters ({} points in the grid); {} workload(s).\n\n",
                    s.base, s.algorithm == Algorithm::Grid ? "grid" : s.algorithm == Algorithm::Random ? "random" : "NSGA-II",
                    o.seed, s.params.size(), s.grid_size(), s.workloads.size());
  md += fmt::format("Trials: {} distinct points: {} feasible, {} infeasible (a metric constraint or capacity), {} invalid "
                    "configs, {} pruned by parameter constraints. Pareto front: {} points. Final hypervolume {} "
                    "(normalised objectives, reference 1.1).\n\n",
                    r.trials.size(), counts[0], counts[2], counts[3], counts[1], r.pareto.size(),
                    r.hypervolume.empty() ? "0" : num(r.hypervolume.back()));
  md += "## Workloads\n\n| model | prefill | decode | batch | devices | weight |\n|---|---|---|---|---|---|\n";
  for (const auto& w : s.workloads)
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", w.model, w.prefill, w.decode, w.batch, w.devices, num(w.weight));
  md += "\n## Best point per objective\n\n| objective | value | baseline | trial | parameters | config |\n|---|---|---|---|---|---|\n";
  for (size_t k = 0; k < s.objectives.size(); ++k) {
    if (best[k] == SIZE_MAX) continue;
    const Trial& t = r.trials[best[k]];
    const bool b = r.baseline && r.baseline->status == Status::Ok;
    md += fmt::format("| {} | {} | {} | {} | {} | best_{}.toml |\n", objective_label(s.objectives[k]), num(t.objectives[k]),
                      b ? num(r.baseline->objectives[k]) : "-", t.id, params_text(s, t), s.objectives[k].metric);
  }
  md += "\n## Pareto front\n\n| # | trial |";
  for (const auto& p : s.params) md += fmt::format(" {} |", p.name);
  for (const auto& ob : s.objectives) md += fmt::format(" {} |", objective_label(ob));
  md += "\n|---|---|";
  for (size_t i = 0; i < s.params.size() + s.objectives.size(); ++i) md += "---|";
  md += "\n";
  for (size_t k = 0; k < r.pareto.size(); ++k) {
    const Trial& t = r.trials[r.pareto[k]];
    md += fmt::format("| {} | {} |", k + 1, t.id);
    for (size_t i = 0; i < s.params.size(); ++i) md += fmt::format(" {} |", s.params[i].values[t.x[i]].text());
    for (double v : t.objectives) md += fmt::format(" {} |", num(v));
    md += "\n";
  }
  if (r.baseline)
    md += fmt::format("\nBaseline (`{}` itself): {}{}\n", s.base, status_name(r.baseline->status),
                      r.baseline->status == Status::Ok ? std::string() : fmt::format(" — {}", r.baseline->why));
  if (!plots.empty()) {
    md += "\n## Plots\n\n";
    for (const auto& f : plots) md += fmt::format("![{}]({})\n", f, f);
  }
  if (!checks.empty()) {
    md += "\n## Simulator check (--verify)\n\n| trial | workload | TTFT est (s) | TTFT sim (s) | error | TPOT est (s) | TPOT sim "
          "(s) | error |\n|---|---|---|---|---|---|---|---|\n";
    for (const auto& c : checks)
      md += !c.error.empty() ? fmt::format("| {} | {} | simulator could not run it: {} | | | | | |\n", c.trial, c.workload, c.error) :
      fmt::format("| {} | {} | {} | {} | {:+.2f}% | {} | {} | {:+.2f}% |\n", c.trial, c.workload, num(c.est_ttft_s),
                        num(c.sim_ttft_s), 100 * c.ttft_error(), num(c.est_tpot_s), num(c.sim_tpot_s), 100 * c.tpot_error());
  }
  return md;
}

}  // namespace

void write_outputs(const Space& s, const Options& o, const Prepared& p, const Result& r,
                   const std::vector<size_t>& generations, const std::vector<VerifyRow>& checks) {
  write_file(o.out / "trials.csv", trials_csv(s, r.trials));
  write_file(o.out / "pareto.csv", pareto_csv(s, r));
  write_file(o.out / "pareto.json", pareto_json(s, r));
  write_file(o.out / "hypervolume.csv", hypervolume_csv(r, generations));
  std::vector<std::string> plots;
  write_plots(s, o, r, plots);
  const std::vector<size_t> best = best_per_objective(s, r);
  for (size_t k = 0; k < best.size(); ++k) {
    if (best[k] == SIZE_MAX) continue;
    std::map<std::string, Value> vars;
    const Trial& t = r.trials[best[k]];
    write_file(o.out / fmt::format("best_{}.toml", s.objectives[k].metric),
               fmt::format("# plena dse: best {} of {} (trial {}, {})\n{}", objective_label(s.objectives[k]),
                           s.file.filename().string(), t.id, params_text(s, t), p.toml_of(t.x, vars)));
  }
  write_file(o.out / "report.md", report_md(s, o, r, best, plots, checks));
}

}  // namespace plena::dse

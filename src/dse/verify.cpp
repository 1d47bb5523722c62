// --verify K: Pareto points re-run on the simulator (timing-only, calibrated DRAM) against the
// analytic estimate of the same workload. docs/dse.md "Verification".
#include <fmt/format.h>

#include "analytic/analytic.hpp"
#include "dse/report.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::dse {

std::vector<VerifyRow> verify(const Prepared& p, const Result& r, unsigned k) {
  std::vector<VerifyRow> rows;
  if (k == 0 || r.pareto.empty()) return rows;
  if (p.space.serving())
    throw InputError("error: --verify re-runs [[workload]] points on the simulator; a serving space has none (check a "
                     "deployment with plena run --deployment)");
  // K points spread evenly along the front (its order: the first objective).
  std::vector<size_t> pick;
  const size_t n = r.pareto.size();
  for (unsigned i = 0; i < k && i < n; ++i) {
    const size_t at = k == 1 ? 0 : size_t(double(i) * double(n - 1) / double(std::min<size_t>(k, n) - 1) + 0.5);
    if (pick.empty() || pick.back() != r.pareto[at]) pick.push_back(r.pareto[at]);
  }
  for (size_t idx : pick) {
    const Trial& t = r.trials[idx];
    std::map<std::string, Value> vars;
    const std::string toml = p.toml_of(t.x, vars);
    const config::HardwareConfig cfg = config::parse_config_toml(toml, "point");
    for (size_t w = 0; w < p.space.workloads.size(); ++w) {
      const WorkloadSpec& ws = p.space.workloads[w];
      runner::RunOptions o;
      o.model = ws.model;
      o.hw = toml;
      o.prompt_len = ws.prefill;
      o.gen = ws.decode;
      o.batch = ws.batch;
      o.devices = ws.devices;
      o.timing_only = true;
      o.dram_fidelity = sim::DramFidelity::Calibrated;
      VerifyRow row;
      row.trial = t.id;
      row.workload = fmt::format("{} {}+{} b{} x{}", ws.model, ws.prefill, ws.decode, ws.batch, ws.devices);
      runner::RunReport rep;
      try {
        rep = runner::run_model(o);
      } catch (const InputError& e) {  // the estimate costs configs the compiler cannot place yet
        row.error = first_line(e.what());
        rows.push_back(row);
        continue;
      }
      analytic::Parallelism par;
      par.devices = ws.devices;
      if (ws.devices > 1) par.tp = rep.tp, par.pp = rep.pp;
      const analytic::Estimate e = analytic::estimate(p.models[w], cfg, {ws.prefill, ws.decode, ws.batch, 0}, par);
      row.est_ttft_s = e.ttft_s;
      row.sim_ttft_s = rep.ttft_s;
      row.est_tpot_s = e.tpot_s;
      row.sim_tpot_s = rep.tpot_s;
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace plena::dse

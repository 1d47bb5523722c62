// Internal to src/dse: the files a search writes (docs/dse.md "Outputs") and the simulator check
// of Pareto points (--verify).
#pragma once
#include <string>
#include <vector>

#include "dse/dse.hpp"
#include "dse/evaluate.hpp"

namespace plena::dse {

struct VerifyRow {
  uint64_t trial = 0;
  std::string workload;
  double est_ttft_s = 0, sim_ttft_s = 0, est_tpot_s = 0, sim_tpot_s = 0;
  std::string error;  // the runner could not run this config (its message): no comparison
  double ttft_error() const { return (est_ttft_s - sim_ttft_s) / sim_ttft_s; }
  double tpot_error() const { return sim_tpot_s > 0 ? (est_tpot_s - sim_tpot_s) / sim_tpot_s : 0; }
};

// K Pareto points spread along the front (every workload), simulated timing-only
// (runner::run_model, calibrated DRAM), against the analytic estimate of the same workload.
std::vector<VerifyRow> verify(const Prepared& p, const Result& r, unsigned k);

void write_outputs(const Space& s, const Options& o, const Prepared& p, const Result& r,
                   const std::vector<size_t>& generations, const std::vector<VerifyRow>& checks);

// One SVG scatter: every feasible trial, the front highlighted, the baseline marked.
std::string scatter_svg(const std::string& xlabel, const std::string& ylabel,
                        const std::vector<std::pair<double, double>>& all,
                        const std::vector<std::pair<double, double>>& front, const std::pair<double, double>* baseline);

}  // namespace plena::dse

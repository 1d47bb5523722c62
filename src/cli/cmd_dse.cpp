// plena dse: design-space exploration over a space file (library: src/dse, docs/dse.md).
#include <fmt/core.h>

#include <filesystem>
#include <thread>

#include "cli/commands.hpp"
#include "cli/numeric_options.hpp"
#include "dse/dse.hpp"
#include "dse/mpi.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

struct DseFlags {
  std::string space;
  std::string out;
  unsigned jobs = 1;
  uint64_t seed = 1;
  bool resume = false, quiet = false;
  unsigned verify = 0;
};

void run_dse(const DseFlags& f) {
  const dse::Space space = dse::load_space(f.space);
  dse::Options o;
  o.out = f.out;
  o.jobs = f.jobs;
  o.seed = f.seed;
  o.resume = f.resume;
  o.verify = f.verify;
  o.quiet = f.quiet;
  dse::Ranks mpi;  // one process unless started under mpirun with the MPI build
  o.rank = mpi.rank();
  o.ranks = mpi.size();
  o.exchange = [&mpi](const std::vector<std::string>& mine) { return mpi.all_gather(mine); };
  const dse::Result r = dse::run(space, o);
  if (o.rank != 0 || f.quiet) return;
  size_t ok = 0;
  for (const auto& t : r.trials) ok += t.status == dse::Status::Ok;
  fmt::print("{}: {} distinct points ({} feasible), {} evaluated here, Pareto front {} points, hypervolume {:.6g}, "
             "{:.2f} s on {} thread(s){}\n",
             f.space, r.trials.size(), ok, r.evaluated, r.pareto.size(), r.hypervolume.empty() ? 0.0 : r.hypervolume.back(),
             r.seconds, f.jobs, o.ranks > 1 ? fmt::format(" x {} ranks", o.ranks) : "");
  fmt::print("outputs in {}: trials.csv pareto.csv pareto.json hypervolume.csv report.md best_*.toml front_*.svg log.jsonl\n",
             f.out);
}

}  // namespace

void add_dse_command(CLI::App& app) {
  auto flags = std::make_shared<DseFlags>();
  auto* sub = app.add_subcommand("dse", "design-space exploration: multi-objective search over a space file (analytic model)");
  sub->add_option("space", flags->space, "space file (TOML: [search], [[param]], [[derived]], [[constraint]], "
                                         "[[workload]], [[objective]]; docs/dse.md)")
      ->required();
  sub->add_option("--out", flags->out, "output folder (created; holds the log that --resume continues)")->required();
  sub->add_option("--jobs", flags->jobs, "evaluation threads (results do not depend on it)")
      ->transform(integer_in(1, 256))
      ->capture_default_str();
  sub->add_option("--seed", flags->seed, "seed of the random and NSGA-II searches")
      ->transform(integer_in(0, 4294967295ull))
      ->capture_default_str();
  sub->add_flag("--resume", flags->resume, "continue the run whose log.jsonl is in --out (same space file and seed)");
  sub->add_option("--verify", flags->verify,
                  "re-run this many Pareto points on the simulator (timing-only, calibrated DRAM) and report the "
                  "estimate's error")
      ->transform(integer_in(0, 1000))
      ->capture_default_str();
  sub->add_flag("--quiet", flags->quiet, "no summary line");
  sub->callback([flags] { run_dse(*flags); });
}

}  // namespace plena::cli

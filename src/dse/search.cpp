// The search loop: grid, random or NSGA-II (pagmo's nsga2, its batch evaluator routed through the
// engine) in generations; the Pareto front and the hypervolume per generation (pagmo's
// hypervolume). docs/dse.md "Algorithms".
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/bfe.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <pagmo/utils/hypervolume.hpp>
#include <random>

#include "dse/engine.hpp"
#include "dse/report.hpp"
#include "support/support.hpp"

namespace plena::dse {
namespace {

// pagmo user problem: integer genes (an index into each parameter's values), one fitness per
// objective. Fitness normally comes in batches through EngineBfe; the single call is the same.
struct DseProblem {
  Engine* engine = nullptr;
  pagmo::vector_double lb, ub;
  pagmo::vector_double::size_type nobj = 1;

  pagmo::vector_double fitness(const pagmo::vector_double& x) const {
    return engine->fitness(engine->trials[engine->evaluate({to_point(x)}).at(0)]);
  }
  std::pair<pagmo::vector_double, pagmo::vector_double> get_bounds() const { return {lb, ub}; }
  pagmo::vector_double::size_type get_nobj() const { return nobj; }
  pagmo::vector_double::size_type get_nix() const { return lb.size(); }
  static Point to_point(const pagmo::vector_double& x) {
    Point p;
    for (double v : x) p.push_back(uint32_t(std::llround(v)));
    return p;
  }
};

// pagmo batch fitness evaluator: the whole offspring in one engine batch (threads, MPI ranks).
struct EngineBfe {
  Engine* engine = nullptr;
  pagmo::vector_double operator()(const pagmo::problem& prob, const pagmo::vector_double& dvs) const {
    const size_t dim = prob.get_nx();
    std::vector<Point> batch;
    for (size_t i = 0; i < dvs.size(); i += dim)
      batch.push_back(DseProblem::to_point(pagmo::vector_double(dvs.begin() + long(i), dvs.begin() + long(i + dim))));
    pagmo::vector_double out;
    for (size_t idx : engine->evaluate(batch)) {
      const auto f = engine->fitness(engine->trials[idx]);
      out.insert(out.end(), f.begin(), f.end());
    }
    return out;
  }
};

Point random_point(const Space& s, std::mt19937_64& rng) {
  Point p;
  for (const auto& par : s.params) p.push_back(uint32_t(rng() % par.values.size()));  // fixed rule: portable
  return p;
}

Point grid_point(const Space& s, uint64_t i) {
  Point p(s.params.size());
  for (size_t k = s.params.size(); k-- > 0;) {
    p[k] = uint32_t(i % s.params[k].values.size());
    i /= s.params[k].values.size();
  }
  return p;
}

// Runs the algorithm; `generations` gets the trial count at the end of each generation.
void search(const Space& s, const Options& o, Engine& eng, std::vector<size_t>& generations) {
  const uint64_t pop = s.population;
  const uint64_t budget = s.budget ? s.budget : s.grid_size();
  auto done = [&] { return eng.evaluated >= budget; };
  if (s.algorithm == Algorithm::Grid || (s.algorithm == Algorithm::Random && s.grid_size() <= budget)) {
    for (uint64_t i = 0; i < s.grid_size(); i += pop) {
      std::vector<Point> batch;
      for (uint64_t k = i; k < std::min(s.grid_size(), i + pop); ++k) batch.push_back(grid_point(s, k));
      eng.evaluate(batch);
      generations.push_back(eng.trials.size());
    }
    return;
  }
  std::mt19937_64 rng(o.seed);
  if (s.algorithm == Algorithm::Random) {
    for (uint64_t draws = 0; !done() && draws < 50 * budget; draws += pop) {
      std::vector<Point> batch;
      for (uint64_t k = 0; k < std::min(pop, budget - eng.evaluated); ++k) batch.push_back(random_point(s, rng));
      eng.evaluate(batch);
      generations.push_back(eng.trials.size());
    }
    return;
  }
  DseProblem udp;
  udp.engine = &eng;
  udp.nobj = s.objectives.size();
  for (const auto& p : s.params) {
    udp.lb.push_back(0);
    udp.ub.push_back(double(p.values.size() - 1));
  }
  pagmo::problem prob(udp);
  pagmo::population population(prob, 0u, unsigned(o.seed));
  std::vector<Point> first;
  for (uint64_t k = 0; k < pop; ++k) first.push_back(random_point(s, rng));
  const auto idx = eng.evaluate(first);
  for (size_t k = 0; k < first.size(); ++k) {
    pagmo::vector_double x(first[k].begin(), first[k].end());
    population.push_back(x, eng.fitness(eng.trials[idx[k]]));
  }
  generations.push_back(eng.trials.size());
  const double mutation = s.mutation > 0 ? s.mutation : 1.0 / double(s.params.size());
  pagmo::nsga2 algo(1u, s.crossover, s.eta_c, mutation, s.eta_m, unsigned(o.seed));
  algo.set_bfe(pagmo::bfe(EngineBfe{&eng}));
  // NSGA-II proposes points it has seen; stop at the budget or when generations add nothing new.
  for (uint64_t g = 0, stale = 0; !done() && stale < 20; ++g) {
    const size_t before = eng.trials.size();
    population = algo.evolve(population);
    generations.push_back(eng.trials.size());
    stale = eng.trials.size() == before ? stale + 1 : 0;
  }
}

}  // namespace

std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& f) {
  std::vector<size_t> front;
  for (size_t i = 0; i < f.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < f.size() && !dominated; ++j) {
      if (i == j) continue;
      bool all_le = true, one_lt = false;
      for (size_t k = 0; k < f[i].size(); ++k) {
        all_le &= f[j][k] <= f[i][k];
        one_lt |= f[j][k] < f[i][k];
      }
      dominated = all_le && one_lt;
    }
    if (!dominated) front.push_back(i);
  }
  return front;
}

double hypervolume(const std::vector<std::vector<double>>& pts, const std::vector<double>& ref) {
  std::vector<pagmo::vector_double> in;
  for (const auto& p : pts) {
    bool inside = true;
    for (size_t k = 0; k < p.size(); ++k) inside &= p[k] < ref[k];
    if (inside) in.push_back(p);
  }
  if (in.empty()) return 0;
  return pagmo::hypervolume(in, true).compute(ref);
}

namespace {

// The front among ok trials, distinct configurations only (the first trial of each hash), in
// order of the first objective, then the others, then the trial id.
std::vector<size_t> front_of(const Engine& eng, size_t upto) {
  std::vector<size_t> ok;
  std::set<std::string> seen;
  for (size_t i = 0; i < upto; ++i)
    if (eng.trials[i].status == Status::Ok && seen.insert(eng.trials[i].hash).second) ok.push_back(i);
  std::vector<std::vector<double>> f;
  for (size_t i : ok) f.push_back(eng.fitness(eng.trials[i]));
  std::vector<size_t> front;
  for (size_t k : pareto_front(f)) front.push_back(ok[k]);
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    const auto fa = eng.fitness(eng.trials[a]), fb = eng.fitness(eng.trials[b]);
    return fa != fb ? fa < fb : a < b;
  });
  return front;
}

// Hypervolume of each generation's front in objectives normalised to [0, 1] over every feasible
// trial of the run (reference point 1.1 in each), so the numbers of one run compare.
std::vector<double> hypervolumes(const Engine& eng, const std::vector<size_t>& generations) {
  const size_t nobj = eng.space.objectives.size();
  std::vector<double> lo(nobj, std::numeric_limits<double>::infinity()), hi(nobj, -lo[0]);
  for (const auto& t : eng.trials)
    if (t.status == Status::Ok) {
      const auto f = eng.fitness(t);
      for (size_t k = 0; k < nobj; ++k) lo[k] = std::min(lo[k], f[k]), hi[k] = std::max(hi[k], f[k]);
    }
  std::vector<double> out;
  for (size_t g : generations) {
    std::vector<std::vector<double>> pts;
    for (size_t i : front_of(eng, g)) {
      auto f = eng.fitness(eng.trials[i]);
      for (size_t k = 0; k < nobj; ++k) f[k] = hi[k] > lo[k] ? (f[k] - lo[k]) / (hi[k] - lo[k]) : 0;
      pts.push_back(f);
    }
    out.push_back(hypervolume(pts, std::vector<double>(nobj, 1.1)));
  }
  return out;
}

}  // namespace

Result run(const Space& s, const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec || !std::filesystem::is_directory(o.out))
    throw InputError(fmt::format("{}: error: cannot create the output folder{}", o.out.string(),
                                 ec ? ": " + ec.message() : std::string(": a file of that name exists")));
  Engine eng(s, o);
  std::vector<size_t> generations;
  search(s, o, eng, generations);
  Result r;
  r.evaluated = eng.computed;
  r.pareto = front_of(eng, eng.trials.size());
  r.hypervolume = hypervolumes(eng, generations);
  const Outcome base = eng.evaluate_base();
  Trial b;
  b.hash = base.hash;
  b.status = base.status;
  b.why = base.why;
  b.metrics = base.metrics;
  if (b.status == Status::Ok)
    for (const auto& obj : s.objectives) b.objectives.push_back(b.metrics.at(obj.metric));
  r.baseline = b;
  r.trials = std::move(eng.trials);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.rank != 0) return r;
  const std::vector<VerifyRow> checks = verify(eng.prepared, r, o.verify);
  write_outputs(s, o, eng.prepared, r, generations, checks);
  return r;
}

}  // namespace plena::dse

// Internal to src/dse: the evaluation engine. Batches of points are evaluated in parallel threads
// (and over MPI ranks), answered first from the run's own trials, then from the resumed log,
// then from the config-hash memo; new trials are appended to the log in batch order, so the
// trial sequence depends only on the sequence of batches (the seed), never on --jobs.
#pragma once
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dse/dse.hpp"
#include "dse/evaluate.hpp"

namespace plena::dse {

class Engine {
 public:
  Engine(const Space& s, const Options& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The trials of the points, in batch order (a point seen before returns its first trial).
  std::vector<size_t> evaluate(const std::vector<Point>& batch);  // indices into trials
  // Minimised objective vector of a trial; a huge penalty when it is not feasible.
  std::vector<double> fitness(const Trial& t) const;
  Outcome evaluate_base() const;  // the base config itself (the baseline)

  const Space& space;
  const Options& opts;
  Prepared prepared;
  std::vector<Trial> trials;
  uint64_t evaluated = 0;  // non-pruned trials (configurations built and estimated or rejected)
  uint64_t computed = 0;   // analytic evaluations this process ran

 private:
  std::map<Point, size_t> by_point_;
  std::map<Point, Outcome> logged_;        // --resume: outcomes of the previous runs, by point
  std::map<std::string, Outcome> by_hash_;  // config hash -> outcome (before metric constraints)
  std::FILE* log_ = nullptr;

  void open_log();
  void append_log(const Point& x, const Outcome& o);
  std::vector<Outcome> compute(const std::vector<Point>& todo);
};

std::string outcome_json(const Point& x, const Outcome& o);
Outcome outcome_from_json(const std::string& line, Point& x);

}  // namespace plena::dse

// Public header of the design-space exploration module (`plena dse SPACE.toml --out DIR`): a space
// file declares parameters over the hardware config, derived keys, constraints, weighted workloads,
// objectives and a search algorithm; every point is evaluated through the analytic model
// (src/analytic), memoized by the config's canonical hash, and the search writes an append-only log
// it can resume from, the trials, the Pareto front, hypervolume per generation, SVG plots and a
// report. Deterministic for a seed whatever the number of threads. docs/dse.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace plena::dse {

// A parameter value: a number (integers are exact below 2^53) or a string (categorical choices).
struct Value {
  bool is_string = false;
  double num = 0;
  std::string str;
  std::string text() const;  // "2048", "mxint4"
  bool operator==(const Value&) const = default;
};

// An expression over parameter, derived and metric names (docs/dse.md "Expressions"): numbers,
// 'strings', + - * / %, comparisons (chained: a >= b >= c), and/or/not, min/max/log2/abs.
class Expr {
 public:
  Expr();
  ~Expr();
  Expr(const Expr&);
  Expr& operator=(const Expr&);
  // InputError "<file>:<line>: error: ..." on a syntax error.
  static Expr parse(const std::string& text, const std::string& file, int line);
  // Looks names up in `vars`; InputError naming the expression when one is missing.
  Value eval(const std::map<std::string, Value>& vars) const;
  std::vector<std::string> names() const;  // identifiers it reads
  const std::string& text() const;
  struct Node;  // the parsed tree (expr.cpp)

 private:
  std::shared_ptr<const Node> root_;
  std::string text_, file_;
  int line_ = 0;
};

struct Param {
  std::string name;             // used in expressions and as the CSV column
  std::string key;              // config key it sets ("geometry.mlen"); empty: expression-only
  std::vector<Value> values;    // the domain, in declared order (the integer index is the gene)
  int line = 0;
};

struct Derived {
  std::string name, key;  // key: config key set from the expression (optional); name: for expressions
  Expr expr;
  int line = 0;
};

struct Constraint {
  Expr expr;
  bool on_metrics = false;  // reads a metric: checked after the evaluation
  int line = 0;
};

struct WorkloadSpec {
  std::string model;  // preset name or HF directory (as plena estimate --model)
  uint64_t prefill = 0, decode = 0, batch = 1;
  uint32_t devices = 1;
  double weight = 1;
  int line = 0;
};

struct Objective {
  std::string metric;
  bool maximize = false;
  int line = 0;
};

enum class Algorithm { Grid, Random, Nsga2 };

// [accuracy]: the model plena eval runs for the accuracy metrics (random weights for a preset).
struct AccuracySpec {
  std::string model = "preset:tiny";
  uint64_t seed = 1, prompts = 4, prompt_len = 32;
};

struct Space {
  std::filesystem::path file;
  std::string base;           // config preset name or file it starts from
  std::string base_text;      // that config's TOML
  std::vector<Param> params;
  std::vector<Derived> derived;
  std::vector<Constraint> constraints;
  std::vector<WorkloadSpec> workloads;
  std::vector<Objective> objectives;
  Algorithm algorithm = Algorithm::Random;
  uint64_t budget = 0;        // evaluations of distinct configurations at most
  uint64_t population = 32;   // NSGA-II population; random/grid: points per generation
  double crossover = 0.95, eta_c = 10, mutation = 0, eta_m = 50;  // NSGA-II (mutation 0: 1/params)
  AccuracySpec accuracy;
  std::string text_hash;      // fnv1a of the space file's bytes (the log checks it on resume)
  // A serving space ([search] deployment = FILE): each point is that deployment (src/serve) with
  // "prefill.<key>" / "decode.<key>" / "<key>" (both pools) set; docs/dse.md "Serving spaces".
  std::filesystem::path deployment;
  std::string deployment_text;
  bool serving() const { return !deployment.empty(); }
  uint64_t grid_size() const;
  bool uses_accuracy() const;  // an objective or constraint reads accuracy / accuracy_kl
};

// Reads and checks a space file; every problem is an InputError naming the file, line and what was expected.
Space load_space(const std::filesystem::path& file);
Space parse_space(const std::string& text, const std::string& file_name, const std::filesystem::path& dir);

// Metric names an objective or constraint may use (with a one-line meaning each).
std::vector<std::pair<std::string, std::string>> metric_names();
// The same for serving spaces (the deployment's event simulation, src/serve).
std::vector<std::pair<std::string, std::string>> serving_metric_names();
const std::vector<std::pair<std::string, std::string>>& metrics_of(const Space& s);

// One point: an index into each parameter's values.
using Point = std::vector<uint32_t>;

enum class Status { Ok, Pruned, Infeasible, Invalid };
std::string_view status_name(Status s);  // "ok" | "pruned" | "infeasible" | "invalid"

struct Trial {
  uint64_t id = 0;            // order of first evaluation
  Point x;
  std::string hash;           // config::canonical_hash of the built config (empty when pruned)
  Status status = Status::Ok;
  std::string why;            // the violated constraint or the error
  std::map<std::string, double> metrics;
  std::vector<double> objectives;  // as declared (maximized ones not negated); empty unless ok
};

// The config of a point: the base config with the parameters' and derived keys set. `vars` gets
// every parameter and derived name. InputError when a key is not a config key or the result is invalid.
std::string point_toml(const Space& s, const Point& x, std::map<std::string, Value>* vars = nullptr);

struct Options {
  std::filesystem::path out;
  unsigned jobs = 1;
  uint64_t seed = 1;
  bool resume = false;
  unsigned verify = 0;   // Pareto points re-run on the simulator
  bool quiet = false;
  // Multi-process split (MPI ranks): this process evaluates the uncached points i with i % ranks == rank
  // and `exchange` gathers every rank's results (identity for one process).
  int rank = 0, ranks = 1;
  std::function<std::vector<std::string>(const std::vector<std::string>&)> exchange;
};

struct Result {
  std::vector<Trial> trials;   // every distinct point evaluated or pruned, in order
  std::vector<size_t> pareto;  // indices into trials, in pareto.csv order
  std::vector<double> hypervolume;  // per generation
  std::optional<Trial> baseline;    // the base config itself
  uint64_t evaluated = 0;      // analytic evaluations this run (not answered by the log or memo)
  double seconds = 0;
};

// Runs the search and writes trials.csv, pareto.csv, pareto.json, hypervolume.csv, front_*.svg,
// report.md, best_<metric>.toml and log.jsonl under opts.out (rank 0 only writes).
Result run(const Space& s, const Options& opts);

// Pareto indices (non-dominated among trials with Status::Ok) of minimised objective vectors.
std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& minimized);

// Hypervolume of the points (minimised) against a reference point (pagmo's implementation).
double hypervolume(const std::vector<std::vector<double>>& minimized, const std::vector<double>& ref);

}  // namespace plena::dse

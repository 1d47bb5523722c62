// Internal to src/dse: a space prepared for evaluation (the base config parsed once, the models
// loaded once) and the outcome of one point.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <toml++/toml.h>

#include "dse/dse.hpp"
#include "model/model.hpp"

namespace plena::eval {
class Evaluator;
struct LoadedModel;
}  // namespace plena::eval


namespace plena::dse {

struct Outcome {
  std::string hash;
  Status status = Status::Ok;
  std::string why;
  std::map<std::string, double> metrics;
  bool by_constraint = false;  // infeasible by a metric constraint (the metrics are the config's)
};

class Prepared {
 public:
  explicit Prepared(const Space& s);
  // The point's config TOML; fills vars with the parameters and derived names.
  std::string toml_of(const Point& x, std::map<std::string, Value>& vars) const;
  // Every step of one point; `memo` answers a config hash already evaluated (nullptr: not yet).
  Outcome evaluate(const Point& x, const std::function<const Outcome*(const std::string&)>& memo) const;
  Outcome evaluate_config(const config::HardwareConfig& cfg) const;
  // Serving spaces: one deployment document (src/serve); a saturated pool makes it infeasible.
  Outcome evaluate_deployment(const std::string& text) const;
  void apply_metric_constraints(Outcome& o, std::map<std::string, Value> vars) const;

  const Space& space;
  std::shared_ptr<const toml::table> base;
  std::shared_ptr<const toml::table> deployment;  // serving spaces: the base deployment document
  std::vector<model::ModelConfig> models;
  std::shared_ptr<eval::LoadedModel> accuracy_model;  // only when a metric reads accuracy
  std::shared_ptr<eval::Evaluator> accuracy;
};

bool truth(const Value& v);
std::string text_hash(const std::string& text);  // fnv1a64, 16 hex digits (serving points' identity)
std::string first_line(const std::string& s);  // the message's first line without "error: "

}  // namespace plena::dse

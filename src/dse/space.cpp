// Space file reader: [search], [[param]], [[derived]], [[constraint]], [[workload]], [[objective]]
// (docs/dse.md "Space file"). Every problem names the file, the line and what was expected.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <cmath>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "config/schema.hpp"
#include "dse/dse.hpp"
#include "model/model.hpp"
#include "model/source.hpp"
#include "serve/serve.hpp"
#include "support/support.hpp"

namespace plena::dse {
namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

class Reader {
 public:
  Reader(std::string file, std::filesystem::path dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  Space read(const std::string& text) {
    Space s;
    s.file = file_;
    s.text_hash = fmt::format("{:016x}", fnv1a(text));
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      throw_input(file_, int(e.source().begin.line), int(e.source().begin.column), std::string(e.description()));
    }
    allowed(root, "the space file", {"search", "param", "derived", "constraint", "workload", "objective", "accuracy"});
    read_search(root, s);
    serving_ = s.serving();
    read_accuracy(root, s);
    for_each_table(root, "param", [&](const toml::table& t) { s.params.push_back(read_param(t)); });
    for_each_table(root, "derived", [&](const toml::table& t) { s.derived.push_back(read_derived(t)); });
    for_each_table(root, "constraint", [&](const toml::table& t) {
      s.constraints.push_back({Expr::parse(str(t, "expr", true), file_, line(t)), false, line(t)});
      allowed(t, "a [[constraint]]", {"expr"});
    });
    for_each_table(root, "workload", [&](const toml::table& t) { s.workloads.push_back(read_workload(t)); });
    for_each_table(root, "objective", [&](const toml::table& t) { s.objectives.push_back(read_objective(t)); });
    check(root, s);
    return s;
  }

 private:
  std::string file_;
  std::filesystem::path dir_;
  bool serving_ = false;

  static int line(const toml::node& n) { return int(n.source().begin.line); }
  [[noreturn]] void fail(int ln, const std::string& msg) const { throw_input(file_, ln, 0, msg); }

  void allowed(const toml::table& t, std::string_view what, std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : t)
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end())
        fail(int(k.source().begin.line),
             fmt::format("unknown key '{}' in {} (expected one of: {})", k.str(), what, fmt::join(keys, ", ")));
  }
  template <class F>
  void for_each_table(const toml::table& root, std::string_view key, F&& f) const {
    const toml::node* n = root.get(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) fail(line(*n), fmt::format("'{}' must be an array of tables: write [[{}]]", key, key));
    for (const auto& e : *a) {
      if (!e.is_table()) fail(line(e), fmt::format("'{}' entries must be tables: write [[{}]]", key, key));
      f(*e.as_table());
    }
  }
  std::string str(const toml::table& t, std::string_view key, bool required, std::string fallback = {}) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(line(t), fmt::format("missing key '{}' (a string)", key));
      return fallback;
    }
    if (!n->is_string()) fail(line(*n), fmt::format("'{}' must be a string", key));
    return n->as_string()->get();
  }
  int64_t integer(const toml::table& t, std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_integer()) fail(line(*n), fmt::format("'{}' must be an integer in [{}, {}]", key, lo, hi));
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) fail(line(*n), fmt::format("'{}' = {} is out of range: expected an integer in [{}, {}]", key, v, lo, hi));
    return v;
  }
  double number(const toml::table& t, std::string_view key, double fallback, double lo, double hi) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    const auto v = n->value<double>();
    if (!v || !(*v >= lo && *v <= hi)) fail(line(*n), fmt::format("'{}' must be a number in [{}, {}]", key, lo, hi));
    return *v;
  }

  void read_search(const toml::table& root, Space& s) const {
    const toml::node* n = root.get("search");
    if (!n || !n->is_table()) fail(n ? line(*n) : 1, "missing [search] table (base, algorithm, budget)");
    const toml::table& t = *n->as_table();
    allowed(t, "[search]", {"base", "deployment", "algorithm", "budget", "population", "crossover", "eta_c", "mutation",
                            "eta_m"});
    s.base = str(t, "base", false, "reference-analytic");
    read_base(t, s);
    read_deployment(t, s);
    const std::string alg = str(t, "algorithm", false, "random");
    if (alg == "grid") s.algorithm = Algorithm::Grid;
    else if (alg == "random") s.algorithm = Algorithm::Random;
    else if (alg == "nsga2") s.algorithm = Algorithm::Nsga2;
    else fail(line(*t.get("algorithm")), fmt::format("algorithm '{}': expected grid, random or nsga2", alg));
    s.budget = uint64_t(integer(t, "budget", 0, 0, int64_t(1) << 24));  // 0: a grid's every point
    if (s.budget == 0 && s.algorithm != Algorithm::Grid) fail(t.get("budget") ? line(*t.get("budget")) : line(t), "random and nsga2 need 'budget' (evaluations, an integer >= 1)");
    s.population = uint64_t(integer(t, "population", 32, 8, 100000));
    if (s.algorithm == Algorithm::Nsga2 && s.population % 4)
      fail(line(*t.get("population")), fmt::format("population {} must be a multiple of 4 for nsga2", s.population));
    s.crossover = number(t, "crossover", 0.95, 0, 1);
    s.eta_c = number(t, "eta_c", 10, 1, 100);
    s.mutation = number(t, "mutation", 0, 0, 1);
    s.eta_m = number(t, "eta_m", 50, 1, 100);
  }
  void read_accuracy(const toml::table& root, Space& s) const {
    const toml::node* n = root.get("accuracy");
    if (!n) return;
    if (!n->is_table()) fail(line(*n), "'accuracy' must be a table: write [accuracy]");
    const toml::table& t = *n->as_table();
    allowed(t, "[accuracy]", {"model", "seed", "prompts", "prompt_len"});
    s.accuracy.model = str(t, "model", false, s.accuracy.model);
    s.accuracy.seed = uint64_t(integer(t, "seed", 1, 0, int64_t(1) << 32));
    s.accuracy.prompts = uint64_t(integer(t, "prompts", 4, 1, 4096));
    s.accuracy.prompt_len = uint64_t(integer(t, "prompt_len", 32, 2, 65536));
  }
  void read_base(const toml::table& t, Space& s) const {
    const auto names = config::preset_names();
    if (std::find(names.begin(), names.end(), s.base) != names.end()) {
      s.base_text = std::string(config::preset_source(s.base));
      return;
    }
    const std::filesystem::path p = dir_ / s.base;
    std::ifstream in(p);
    if (!in)
      fail(t.get("base") ? line(*t.get("base")) : line(t),
           fmt::format("base '{}' is neither a config preset ({}) nor a readable file", s.base, fmt::join(names, ", ")));
    std::stringstream ss;
    ss << in.rdbuf();
    s.base_text = ss.str();
    config::parse_config_toml(s.base_text, p.string());  // its own errors name its own lines
  }

  // [search] deployment: the base deployment of a serving space (its own errors name its own lines).
  void read_deployment(const toml::table& t, Space& s) const {
    const std::string file = str(t, "deployment", false);
    if (file.empty()) return;
    s.deployment = dir_ / file;
    if (!std::filesystem::is_regular_file(s.deployment))
      fail(line(*t.get("deployment")), fmt::format("deployment '{}' is not a readable file", file));
    s.deployment_text = read_text_file(s.deployment);
    serve::parse_deployment(s.deployment_text, s.deployment.string(), s.deployment.parent_path());
  }

  Value value_of(const toml::node& n, const std::string& key) const {
    Value v;
    if (auto x = n.as_string()) {
      v.is_string = true;
      v.str = x->get();
    } else if (auto i = n.as_integer()) {
      v.num = double(i->get());
    } else if (auto f = n.as_floating_point()) {
      v.num = f->get();
    } else {
      fail(line(n), fmt::format("'{}' values must be integers, floats or strings", key));
    }
    return v;
  }
  std::vector<Value> domain(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    const toml::array* a = n->as_array();
    if (!a || a->empty()) fail(line(*n), fmt::format("'{}' must be a non-empty array", key));
    if (key == "values") {
      std::vector<Value> out;
      for (const auto& e : *a) {
        Value v = value_of(e, std::string(key));
        if (std::find(out.begin(), out.end(), v) != out.end()) fail(line(e), fmt::format("value {} listed twice", v.text()));
        out.push_back(v);
      }
      return out;
    }
    if (a->size() != 2 || !(*a)[0].is_integer() || !(*a)[1].is_integer())
      fail(line(*n), fmt::format("'{}' must be [low, high] with two integers", key));
    const int64_t lo = (*a)[0].as_integer()->get(), hi = (*a)[1].as_integer()->get();
    if (lo > hi) fail(line(*n), fmt::format("'{}' = [{}, {}]: low exceeds high", key, lo, hi));
    if (key == "pow2") return pow2_domain(*n, lo, hi);
    const int64_t step = integer(t, "step", 1, 1, int64_t(1) << 40);
    if ((hi - lo) / step >= 4096) fail(line(*n), "range has more than 4096 values: use a larger 'step' or pow2");
    std::vector<Value> out;
    for (int64_t v = lo; v <= hi; v += step) out.push_back(Value{false, double(v), {}});
    return out;
  }
  std::vector<Value> pow2_domain(const toml::node& n, int64_t lo, int64_t hi) const {
    auto is_pow2 = [](int64_t v) { return v > 0 && (v & (v - 1)) == 0; };
    if (!is_pow2(lo) || !is_pow2(hi) || hi > (int64_t(1) << 52))
      fail(line(n), fmt::format("pow2 = [{}, {}]: both ends must be powers of two (1 .. 2^52)", lo, hi));
    std::vector<Value> out;
    for (int64_t v = lo; v <= hi; v *= 2) out.push_back(Value{false, double(v), {}});
    return out;
  }

  // "table.key" of the hardware config; the value type is checked against the schema.
  void check_key(const std::string& key, const std::vector<Value>& values, int ln) const {
    if (serving_) {
      if (key.rfind("memory.", 0) == 0) return check_memory_key(key, key, values, ln);
      const std::string pool = key.substr(0, key.find('.'));
      if (pool == "prefill" || pool == "decode") {
        const std::string rest = key.substr(pool.size() + 1);
        static const std::set<std::string> pool_keys = {"devices", "instances", "max_batch", "tp", "pp"};
        if (rest == "hw") return check_strings(key, values, ln);
        if (rest.rfind("memory.", 0) == 0) return check_memory_key(key, rest, values, ln);
        if (!pool_keys.count(rest)) return check_key_in_config(rest, values, ln);
        for (const auto& v : values)
          if (v.is_string || v.num < 0 || v.num != std::floor(v.num))
            fail(ln, fmt::format("'{}' takes non-negative integers, but value {} is not one", key, v.text()));
        return;
      }
    }
    check_key_in_config(key, values, ln);
  }
  void check_strings(const std::string& key, const std::vector<Value>& values, int ln) const {
    for (const auto& v : values)
      if (!v.is_string) fail(ln, fmt::format("'{}' takes strings, but value {} is a number", key, v.text()));
  }
  // prefill.memory.<pool>.<field>: standard / speed (strings), channels / capacity (bytes, or a
  // "<n> GiB" string for capacity); the config parser checks the values.
  void check_memory_key(const std::string& key, const std::string& rest, const std::vector<Value>& values, int ln) const {
    const size_t dot = rest.find('.', 7);
    const std::string f = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (dot == 7 || (f != "standard" && f != "speed" && f != "channels" && f != "capacity"))
      fail(ln, fmt::format("'{}': expected <pool>.memory.<name>.standard | speed | channels | capacity", key));
    if (f == "standard" || f == "speed") return check_strings(key, values, ln);
    for (const auto& v : values)
      if (f == "channels" && (v.is_string || v.num < 1 || v.num != std::floor(v.num)))
        fail(ln, fmt::format("'{}' takes positive integers, but value {} is not one", key, v.text()));
  }
  void check_key_in_config(const std::string& key, const std::vector<Value>& values, int ln) const {
    std::vector<std::string> known;
    for (const auto& f : config::detail::schema()) {
      known.push_back(f.path());
      if (f.path() != key) continue;
      const bool wants_string = f.kind != config::detail::Kind::UInt && f.kind != config::detail::Kind::Float;
      for (const auto& v : values)
        if (v.is_string != wants_string)
          fail(ln, fmt::format("config key '{}' takes {}, but value {} is {}", key, wants_string ? "a string" : "a number",
                               v.text(), v.is_string ? "a string" : "a number"));
      return;
    }
    fail(ln, fmt::format("'{}' is not a hardware config key (expected {}table.key, e.g. geometry.mlen; keys: {})", key,
                         serving_ ? "[prefill. | decode.]" : "", fmt::join(known, ", ")));
  }

  Param read_param(const toml::table& t) const {
    allowed(t, "a [[param]]", {"name", "key", "pow2", "range", "step", "values"});
    Param p;
    p.line = line(t);
    p.key = str(t, "key", false);
    p.name = str(t, "name", p.key.empty(), p.key.substr(p.key.find('.') + 1));
    const int kinds = int(t.contains("pow2")) + int(t.contains("range")) + int(t.contains("values"));
    if (kinds != 1) fail(p.line, fmt::format("parameter '{}' needs exactly one of pow2 = [lo, hi], range = [lo, hi] or values = [...]", p.name));
    if (t.contains("step") && !t.contains("range")) fail(line(*t.get("step")), "'step' goes with 'range' only");
    p.values = domain(t, t.contains("pow2") ? "pow2" : t.contains("range") ? "range" : "values");
    if (!p.key.empty()) check_key(p.key, p.values, p.line);
    return p;
  }
  Derived read_derived(const toml::table& t) const {
    allowed(t, "a [[derived]]", {"name", "key", "expr"});
    Derived d;
    d.line = line(t);
    d.key = str(t, "key", false);
    d.name = str(t, "name", d.key.empty(), d.key.substr(d.key.find('.') + 1));
    d.expr = Expr::parse(str(t, "expr", true), file_, d.line);
    if (!d.key.empty()) {
      check_key(d.key, {}, d.line);
    }
    return d;
  }
  WorkloadSpec read_workload(const toml::table& t) const {
    allowed(t, "a [[workload]]", {"model", "prefill", "decode", "batch", "devices", "weight"});
    WorkloadSpec w;
    w.line = line(t);
    w.model = str(t, "model", true);
    try {
      const model::ModelSource src = model::resolve_model_source(w.model, false);
      if (!src.is_preset) model::parse_hf_config(src.config);
    } catch (const InputError& e) {
      fail(w.line, fmt::format("workload model '{}': {}", w.model, e.what()));
    }
    w.prefill = uint64_t(integer(t, "prefill", -1, 1, int64_t(1) << 24));
    if (!t.contains("prefill")) fail(w.line, "missing key 'prefill' (prompt tokens, an integer >= 1)");
    w.decode = uint64_t(integer(t, "decode", 128, 0, int64_t(1) << 24));
    w.batch = uint64_t(integer(t, "batch", 1, 1, int64_t(1) << 16));
    w.devices = uint32_t(integer(t, "devices", 1, 1, 4096));
    w.weight = number(t, "weight", 1, 1e-9, 1e9);
    return w;
  }
  Objective read_objective(const toml::table& t) const {
    allowed(t, "an [[objective]]", {"minimize", "maximize"});
    Objective o;
    o.line = line(t);
    if (t.contains("minimize") == t.contains("maximize"))
      fail(o.line, "an objective needs exactly one of minimize = \"metric\" or maximize = \"metric\"");
    o.maximize = t.contains("maximize");
    o.metric = str(t, o.maximize ? "maximize" : "minimize", true);
    if (!is_metric(o.metric)) fail(o.line, fmt::format("unknown metric '{}' (expected one of: {})", o.metric, metric_list()));
    return o;
  }

  bool is_metric(const std::string& m) const {
    for (const auto& [name, what] : serving_ ? serving_metric_names() : metric_names())
      if (name == m) return true;
    return false;
  }
  std::string metric_list() const {
    std::vector<std::string> names;
    for (const auto& [name, what] : serving_ ? serving_metric_names() : metric_names()) names.push_back(name);
    return fmt::format("{}", fmt::join(names, ", "));
  }

  // Cross-checks: names unique, expressions read known names, at least one workload and objective.
  void check(const toml::table& root, Space& s) const {
    std::set<std::string> names;
    auto declare = [&](const std::string& n, int ln) {
      if (is_metric(n)) fail(ln, fmt::format("name '{}' is a metric name; choose another", n));
      if (!names.insert(n).second) fail(ln, fmt::format("name '{}' declared twice", n));
    };
    for (const auto& p : s.params) declare(p.name, p.line);
    if (s.params.empty()) fail(1, "no [[param]]: a space needs at least one parameter");
    for (const auto& d : s.derived) {
      for (const auto& n : d.expr.names())
        if (!names.count(n)) fail(d.line, fmt::format("derived '{}' reads '{}', not a parameter or earlier derived name", d.name, n));
      declare(d.name, d.line);
    }
    for (auto& c : s.constraints)
      for (const auto& n : c.expr.names()) {
        if (is_metric(n)) c.on_metrics = true;
        else if (!names.count(n))
          fail(c.line, fmt::format("constraint reads '{}': not a parameter, derived name or metric ({})", n, metric_list()));
      }
    if (s.serving() && !s.workloads.empty())
      fail(s.workloads[0].line, "a serving space ([search] deployment) takes its request mix from the deployment file: "
                                "remove the [[workload]] tables");
    if (!s.serving() && s.workloads.empty())
      fail(1, "no [[workload]]: give at least one (model, prefill, decode, batch, devices, weight)");
    if (s.objectives.empty()) fail(1, "no [[objective]]: give at least one (minimize = \"ttft_s\", ...)");
    if (s.algorithm == Algorithm::Grid && s.budget && s.grid_size() > s.budget)
      fail(line(*root.get("search")), fmt::format("grid has {} points but budget is {}: raise the budget, drop it, or use "
                                                  "random / nsga2", s.grid_size(), s.budget));
  }
};

}  // namespace

bool Space::uses_accuracy() const {
  auto reads = [](const std::string& m) { return m == "accuracy" || m == "accuracy_kl"; };
  for (const auto& o : objectives)
    if (reads(o.metric)) return true;
  for (const auto& c : constraints)
    for (const auto& n : c.expr.names())
      if (reads(n)) return true;
  return false;
}

uint64_t Space::grid_size() const {
  uint64_t n = 1;
  for (const auto& p : params) n = n > (uint64_t(1) << 40) / p.values.size() ? (uint64_t(1) << 40) : n * p.values.size();
  return n;
}

Space parse_space(const std::string& text, const std::string& file_name, const std::filesystem::path& dir) {
  return Reader(file_name, dir).read(text);
}

Space load_space(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file))
    throw InputError(fmt::format("{}: error: cannot read the space file", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_space(ss.str(), file.string(), file.parent_path());
}

}  // namespace plena::dse

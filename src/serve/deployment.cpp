// Deployment file reader (docs/serving.md "Deployment file"): model, [prefill], [decode],
// [handoff], [requests], [cost]. Every problem names the file, the line and what was expected.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>
#include <toml++/toml.h>

#include "model/source.hpp"
#include "serve/serve.hpp"
#include "support/support.hpp"

namespace plena::serve {
namespace {

constexpr int64_t kMaxTokens = int64_t(1) << 24;

// An inner error's message without its own location prefix (the deployment file's line replaces it).
std::string after_error(const std::string& msg) {
  const size_t at = msg.find("error: ");
  return at == std::string::npos ? msg : msg.substr(at + 7);
}

class Reader {
 public:
  Reader(std::string file, std::filesystem::path dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  Deployment read(const std::string& text) {
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      throw_input(file_, int(e.source().begin.line), int(e.source().begin.column), std::string(e.description()));
    }
    allowed(root, "the deployment file", {"model", "prefill", "decode", "handoff", "requests", "cost"});
    Deployment d;
    d.file = file_;
    d.model_spec = str(root, "model", true);
    d.model = load_model(d.model_spec, line_of(root, "model"));
    d.prefill = read_pool(table(root, "prefill", true), "prefill");
    d.decode = read_pool(table(root, "decode", true), "decode");
    read_handoff(table(root, "handoff", false), d);
    read_requests(table(root, "requests", true), d);
    read_cost(table(root, "cost", false), d.cost);
    return d;
  }

 private:
  std::string file_;
  std::filesystem::path dir_;
  toml::table empty_;

  static int line(const toml::node& n) { return int(n.source().begin.line); }
  int line_of(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    return n ? line(*n) : line(t);
  }
  [[noreturn]] void fail(int ln, const std::string& msg) const { throw_input(file_, ln, 0, msg); }

  void allowed(const toml::table& t, std::string_view what, std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : t)
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end())
        fail(int(k.source().begin.line),
             fmt::format("unknown key '{}' in {} (expected one of: {})", k.str(), what, fmt::join(keys, ", ")));
  }
  const toml::table& table(const toml::table& root, std::string_view key, bool required) const {
    const toml::node* n = root.get(key);
    if (!n) {
      if (required) fail(line(root), fmt::format("missing table [{}]", key));
      return empty_;
    }
    if (!n->is_table()) fail(line(*n), fmt::format("'{}' must be a table: write [{}]", key, key));
    return *n->as_table();
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
    if (v < lo || v > hi)
      fail(line(*n), fmt::format("'{}' = {} is out of range: expected an integer in [{}, {}]", key, v, lo, hi));
    return v;
  }
  double number(const toml::table& t, std::string_view key, double fallback, double lo, double hi) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    const auto v = n->value<double>();
    if (!v || !(*v >= lo && *v <= hi)) fail(line(*n), fmt::format("'{}' must be a number in [{}, {}]", key, lo, hi));
    return *v;
  }

  model::ModelConfig load_model(const std::string& spec, int ln) const {
    try {
      const model::ModelSource src = model::resolve_model_source(spec, false);
      return src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
    } catch (const InputError& e) {
      fail(ln, fmt::format("model '{}': {}", spec, after_error(e.what())));
    }
  }

  Pool read_pool(const toml::table& t, const std::string& name) const {
    allowed(t, "[" + name + "]", {"hw", "set", "devices", "tp", "pp", "instances", "max_batch", "link_gbps",
                                  "link_latency_us", "memory_usd_per_gb"});
    Pool p;
    p.name = name;
    p.hw = str(t, "hw", true);
    p.cfg = hardware(t, p.hw, name);
    p.devices = uint32_t(integer(t, "devices", 1, 1, 4096));
    p.tp = uint32_t(integer(t, "tp", 0, 0, 4096));
    p.pp = uint32_t(integer(t, "pp", 0, 0, 4096));
    if (p.tp == 0 && p.pp == 0) p.tp = p.devices;
    const uint32_t tp = p.tp ? p.tp : p.devices / p.pp, pp = p.pp ? p.pp : p.devices / p.tp;
    if (tp == 0 || pp == 0 || uint64_t(tp) * pp != p.devices)
      fail(line(t), fmt::format("[{}] tp {} x pp {} does not split devices = {}: expected tp x pp = devices (give one "
                                "of them and the other follows)", name, p.tp, p.pp, p.devices));
    p.instances = uint32_t(integer(t, "instances", 1, 1, 1 << 20));
    p.max_batch = uint64_t(integer(t, "max_batch", name == "decode" ? 64 : 1, 1, 1 << 16));
    if (name == "prefill" && p.max_batch != 1)
      fail(line_of(t, "max_batch"), "[prefill] max_batch must be 1 (prompts are served one at a time per instance)");
    p.link_GBps = number(t, "link_gbps", 100, 1e-3, 1e6);
    p.link_latency_us = number(t, "link_latency_us", 1, 0, 1e6);
    p.memory_usd_per_gb = number(t, "memory_usd_per_gb", -1, 0, 1e6);
    return p;
  }

  // The pool's config: `hw` (a preset or a file relative to the deployment) with the [<pool>.set]
  // keys ("table.key" = value, as plena dse sets them) replaced.
  config::HardwareConfig hardware(const toml::table& t, const std::string& hw, const std::string& pool) const {
    std::string text;
    const auto names = config::preset_names();
    if (std::find(names.begin(), names.end(), hw) != names.end()) {
      text = std::string(config::preset_source(hw));
    } else {
      const std::filesystem::path p = dir_ / hw;  // an absolute hw replaces dir_
      if (!std::filesystem::is_regular_file(p))
        fail(line_of(t, "hw"), fmt::format("[{}] hw '{}' is neither a config preset ({}) nor a readable file", pool,
                                           hw, fmt::join(names, ", ")));
      text = read_text_file(p);
    }
    toml::table cfg;
    try {
      cfg = toml::parse(text, hw);
    } catch (const toml::parse_error& e) {
      fail(line_of(t, "hw"), fmt::format("[{}] hw '{}': {}", pool, hw, e.description()));
    }
    if (const toml::node* s = t.get("set")) apply_set(cfg, s, pool);
    std::ostringstream os;
    os << cfg << "\n";
    try {
      return config::parse_config_toml(os.str(), fmt::format("{} [{}] hardware", file_, pool));
    } catch (const InputError& e) {
      fail(t.get("set") ? line(*t.get("set")) : line_of(t, "hw"),
           fmt::format("[{}] hardware config is invalid: {}", pool, after_error(e.what())));
    }
  }
  // "table.key" = value, or deeper ("memory.kv.standard" = "hbm3e"): every part before the last
  // names a (created) table.
  void apply_set(toml::table& cfg, const toml::node* s, const std::string& pool) const {
    if (!s->is_table()) fail(line(*s), fmt::format("'{}.set' must be a table of \"table.key\" = value", pool));
    for (const auto& [k, v] : *s->as_table()) {
      const std::string key(k.str());
      if (v.is_table() || key.find('.') == std::string::npos)
        fail(int(k.source().begin.line),
             fmt::format("[{}.set] '{}': expected a quoted \"table.key\" = value (e.g. \"hbm.dram\" = \"gddr7\")", pool,
                         key));
      toml::table* target = &cfg;
      size_t from = 0;
      for (size_t dot = key.find('.'); dot != std::string::npos; from = dot + 1, dot = key.find('.', from)) {
        const std::string tab = key.substr(from, dot - from);
        if (!target->contains(tab)) target->insert(tab, toml::table{});
        target = target->get(tab)->as_table();
        if (!target) fail(int(k.source().begin.line), fmt::format("[{}.set] '{}': '{}' is not a table", pool, key, tab));
      }
      target->insert_or_assign(key.substr(from), v);
    }
  }

  void read_handoff(const toml::table& t, Deployment& d) const {
    allowed(t, "[handoff]", {"bandwidth_gbps", "latency_us", "mode"});
    d.handoff_GBps = number(t, "bandwidth_gbps", 64, 1e-3, 1e6);
    d.handoff_latency_us = number(t, "latency_us", 10, 0, 1e9);
    const std::string mode = str(t, "mode", false, "bulk");
    if (mode == "bulk") d.handoff = HandoffMode::Bulk;
    else if (mode == "streamed") d.handoff = HandoffMode::Streamed;
    else fail(line_of(t, "mode"), fmt::format("[handoff] mode '{}': expected \"bulk\" or \"streamed\"", mode));
  }

  void read_requests(const toml::table& t, Deployment& d) const {
    allowed(t, "[requests]", {"prompt", "output", "arrival_rate", "arrivals", "count", "seed"});
    d.prompt = dist(t, "prompt", 1);
    d.output = dist(t, "output", 1);
    if (!t.get("arrival_rate")) fail(line(t), "missing key 'arrival_rate' (requests per second, a number > 0)");
    d.arrival_rate = number(t, "arrival_rate", 1, 1e-9, 1e9);
    if (d.arrival_rate <= 0) fail(line_of(t, "arrival_rate"), "'arrival_rate' must be > 0 (requests per second)");
    const std::string arrivals = str(t, "arrivals", false, "poisson");
    if (arrivals != "poisson" && arrivals != "uniform")
      fail(line_of(t, "arrivals"), fmt::format("arrivals '{}': expected \"poisson\" or \"uniform\"", arrivals));
    d.poisson = arrivals == "poisson";
    d.requests = uint64_t(integer(t, "count", 200, 1, 1 << 20));
    d.seed = uint64_t(integer(t, "seed", 1, 0, int64_t(1) << 62));
  }

  // fixed: 1024 | { uniform = [lo, hi] } | { points = [[tokens, weight], ...] }
  LengthDist dist(const toml::table& t, std::string_view key, int64_t min_tokens) const {
    const toml::node* n = t.get(key);
    if (!n) fail(line(t), fmt::format("missing key '{}' (tokens: an integer, {{ uniform = [lo, hi] }} or {{ points = "
                                      "[[tokens, weight], ...] }})", key));
    LengthDist d;
    if (n->is_integer()) {
      d.lo = d.hi = uint64_t(integer(t, key, 1, min_tokens, kMaxTokens));
      return d;
    }
    const toml::table* s = n->as_table();
    if (!s || s->size() != 1 || !(s->contains("uniform") || s->contains("points")))
      fail(line(*n), fmt::format("'{}' must be an integer, {{ uniform = [lo, hi] }} or {{ points = [[tokens, weight], "
                                 "...] }}", key));
    if (const toml::node* u = s->get("uniform")) {
      const toml::array* a = u->as_array();
      if (!a || a->size() != 2 || !(*a)[0].is_integer() || !(*a)[1].is_integer())
        fail(line(*u), fmt::format("'{}.uniform' must be [lo, hi] with two integers", key));
      d.kind = LengthDist::Kind::Uniform;
      d.lo = uint64_t(tokens((*a)[0], key, min_tokens));
      d.hi = uint64_t(tokens((*a)[1], key, min_tokens));
      if (d.lo > d.hi) fail(line(*u), fmt::format("'{}.uniform' = [{}, {}]: low exceeds high", key, d.lo, d.hi));
      return d;
    }
    const toml::node* p = s->get("points");
    const toml::array* a = p->as_array();
    if (!a || a->empty()) fail(line(*p), fmt::format("'{}.points' must be a non-empty array of [tokens, weight]", key));
    d.kind = LengthDist::Kind::Points;
    for (const auto& e : *a) {
      const toml::array* pt = e.as_array();
      const auto w = pt && pt->size() == 2 ? (*pt)[1].value<double>() : std::nullopt;
      if (!pt || pt->size() != 2 || !(*pt)[0].is_integer() || !w || !(*w > 0) || *w > 1e12)
        fail(line(e), fmt::format("'{}.points' entries must be [tokens, weight] with an integer and a weight > 0", key));
      d.points.emplace_back(uint64_t(tokens((*pt)[0], key, min_tokens)), *w);
    }
    d.lo = d.min();
    d.hi = d.max();
    return d;
  }
  int64_t tokens(const toml::node& n, std::string_view key, int64_t lo) const {
    const int64_t v = n.as_integer()->get();
    if (v < lo || v > kMaxTokens)
      fail(line(n), fmt::format("'{}': {} tokens is out of range: expected [{}, {}]", key, v, lo, kMaxTokens));
    return v;
  }

  void read_cost(const toml::table& t, Cost& c) const {
    allowed(t, "[cost]", {"usd_per_kwh", "amortization_years", "pue"});
    c.usd_per_kwh = number(t, "usd_per_kwh", c.usd_per_kwh, 0, 1e3);
    c.amortization_years = number(t, "amortization_years", c.amortization_years, 0.01, 100);
    c.pue = number(t, "pue", c.pue, 1, 10);
  }
};

}  // namespace

uint64_t LengthDist::min() const {
  if (kind != Kind::Points) return lo;
  uint64_t m = points.front().first;
  for (const auto& p : points) m = std::min(m, p.first);
  return m;
}

uint64_t LengthDist::max() const {
  if (kind != Kind::Points) return hi;
  uint64_t m = 0;
  for (const auto& p : points) m = std::max(m, p.first);
  return m;
}

double LengthDist::mean() const {
  if (kind != Kind::Points) return (double(lo) + double(hi)) / 2;
  double s = 0, w = 0;
  for (const auto& p : points) s += double(p.first) * p.second, w += p.second;
  return s / w;
}

std::vector<uint64_t> LengthDist::support() const {
  if (kind == Kind::Uniform) return {};
  if (kind == Kind::Fixed) return {lo};
  std::vector<uint64_t> v;
  for (const auto& p : points) v.push_back(p.first);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::string LengthDist::text() const {
  if (kind == Kind::Fixed) return fmt::format("fixed {}", lo);
  if (kind == Kind::Uniform) return fmt::format("uniform [{}, {}]", lo, hi);
  std::vector<std::string> parts;
  for (const auto& p : points) parts.push_back(fmt::format("{} (w {:g})", p.first, p.second));
  return fmt::format("points {}", fmt::join(parts, ", "));
}

Deployment parse_deployment(const std::string& text, const std::string& file_name, const std::filesystem::path& dir) {
  return Reader(file_name, dir).read(text);
}

Deployment load_deployment(const std::filesystem::path& file) {
  return parse_deployment(read_text_file(file), file.string(), file.parent_path());
}

}  // namespace plena::serve

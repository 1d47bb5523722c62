// One point of a space: its config (the base config with the parameters and derived keys set),
// the constraints on parameters, the analytic estimate of every workload and the metrics.
// docs/dse.md "Evaluation".
#include "dse/evaluate.hpp"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <sstream>
#include <toml++/toml.h>

#include "analytic/analytic.hpp"
#include "config/schema.hpp"
#include "eval/eval.hpp"
#include "ppa/ppa.hpp"
#include "model/source.hpp"
#include "serve/serve.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::dse {
namespace {

const config::detail::Field* field(const std::string& key) {
  for (const auto& f : config::detail::schema())
    if (f.path() == key) return &f;
  return nullptr;
}

// Sets `name` in table t to v with the schema's value type of config key `key`.
void assign_typed(toml::table& t, const std::string& name, const std::string& key, const config::detail::Field& f,
                  const Value& v) {
  switch (f.kind) {
    case config::detail::Kind::UInt:
      if (v.is_string || v.num < 0 || std::floor(v.num) != v.num || v.num > 9.0e18)
        throw InputError(fmt::format("error: {} = {}: expected a non-negative integer", key, v.text()));
      t.insert_or_assign(name, int64_t(v.num));
      break;
    case config::detail::Kind::Float:
      if (v.is_string) throw InputError(fmt::format("error: {} = '{}': expected a number", key, v.str));
      t.insert_or_assign(name, v.num);
      break;
    default:
      if (!v.is_string) throw InputError(fmt::format("error: {} = {}: expected a string", key, v.text()));
      t.insert_or_assign(name, v.str);
  }
}

const config::detail::Field& config_field(const std::string& key) {
  const config::detail::Field* f = field(key);
  if (!f) throw InputError(fmt::format("error: '{}' is not a hardware config key", key));
  return *f;
}

toml::table& subtable(toml::table& root, const std::string& name) {
  if (!root.contains(name)) root.insert(name, toml::table{});
  toml::table* t = root.get(name)->as_table();
  if (!t) throw InputError(fmt::format("error: '{}' in the base document is not a table", name));
  return *t;
}

// Sets "table.key" in the TOML document with the schema's value type.
void set_key(toml::table& root, const std::string& key, const Value& v) {
  const config::detail::Field& f = config_field(key);
  assign_typed(subtable(root, std::string(f.table)), std::string(f.key), key, f, v);
}

// Serving spaces: "prefill.<k>" / "decode.<k>" sets one pool, a bare hardware key both; <k> is a
// pool key (hw, devices, instances, max_batch, tp, pp), a memory pool field (memory.<pool>.<field>)
// or a hardware key (both into [<pool>.set]).
void set_deployment_key(toml::table& doc, const std::string& key, const Value& v) {
  const std::string head = key.substr(0, key.find('.'));
  const bool one = head == "prefill" || head == "decode";
  const std::string rest = one ? key.substr(head.size() + 1) : key;
  for (const char* pool : {"prefill", "decode"}) {
    if (one && head != pool) continue;
    toml::table& p = subtable(doc, pool);
    if (rest == "hw") {  // a preset or a hardware file (relative to the deployment): placement choices
      if (!v.is_string) throw InputError(fmt::format("error: {} = {}: expected a string", key, v.text()));
      p.insert_or_assign("hw", v.str);
      continue;
    }
    if (rest.rfind("memory.", 0) == 0) {  // [memory.<pool>] fields: standard, speed (strings), channels, capacity
      toml::table& set = subtable(p, "set");
      if (v.is_string) set.insert_or_assign(rest, v.str);
      else set.insert_or_assign(rest, int64_t(v.num));
      continue;
    }
    if (rest == "devices" || rest == "instances" || rest == "max_batch" || rest == "tp" || rest == "pp") {
      if (v.is_string || v.num < 0 || std::floor(v.num) != v.num)
        throw InputError(fmt::format("error: {} = {}: expected a non-negative integer", key, v.text()));
      p.insert_or_assign(rest, int64_t(v.num));
      continue;
    }
    assign_typed(subtable(p, "set"), rest, key, config_field(rest), v);
  }
}

double weighted(const std::vector<WorkloadSpec>& ws, const std::vector<double>& v) {
  double sum = 0, w = 0;
  for (size_t i = 0; i < ws.size(); ++i) sum += ws[i].weight * v[i], w += ws[i].weight;
  return sum / w;
}

double element_bytes(const numerics::Format& f) { return double(f.width) / 8.0; }

void add_ppa_metrics(const config::HardwareConfig& cfg, double devices, std::map<std::string, double>& m) {
  const ppa::AreaSummary a = ppa::area(cfg);
  m["area_mm2"] = a.total_mm2();
  m["logic_mm2"] = a.logic_mm2();
  m["leakage_w"] = a.leakage_w;
  // HBM at $7/GB whatever the preset: the metric predates per-technology prices (serving spaces use them).
  m["cost_usd"] = devices * serve::device_cost_usd(a.total_mm2(), double(cfg.hbm.size_bytes), 7.0);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> metric_names() {
  return {
      {"ttft_s", "time to first token (the prefill), s; weighted mean over the workloads"},
      {"tpot_s", "time per output token (mean decode step), s"},
      {"tokens_per_s", "batch x decode / (prefill + decode time), generated tokens per second"},
      {"energy_j", "energy of one request (all devices), J"},
      {"energy_per_token_j", "energy per generated token (per prompt token when decode = 0), J"},
      {"power_w", "average power over the request (energy / time), W"},
      {"hbm_gib", "weights + KV cache per device, GiB"},
      {"multipliers", "MLEN x BLEN multipliers of one device's array"},
      {"sram_mib", "VRAM + MRAM capacity of one device, MiB"},
      {"area_mm2", "die area of one device at 7 nm (plena ppa: logic + SRAM + DRAM and link I/O), mm2"},
      {"logic_mm2", "logic area of one device at 7 nm (matrix, vector, scalar, DMA, glue), mm2"},
      {"leakage_w", "leakage power of one device at 7 nm, W"},
      {"cost_usd", "die (7 nm wafer, yield) + HBM capacity cost of the devices, USD; weighted over the workloads"},
      {"accuracy", "teacher-forced top-1 agreement with fp32 of the [accuracy] model under the config's formats"},
      {"accuracy_kl", "mean KL divergence (nats) from fp32 of the [accuracy] model under the config's formats"},
  };
}

std::vector<std::pair<std::string, std::string>> serving_metric_names() {
  return {
      {"ttft_s", "time to first token (queueing + prefill + KV hand-off), mean over the requests, s"},
      {"ttft_p99_s", "99th percentile TTFT, s"},
      {"tpot_s", "time per output token after the first, mean over the requests, s"},
      {"tpot_p99_s", "99th percentile TPOT, s"},
      {"tokens_per_s", "output tokens / simulated span, tokens/s"},
      {"tokens_per_j", "output tokens per joule of the whole system (both pools, idle leakage, hand-off)"},
      {"energy_per_token_j", "system energy per output token, J"},
      {"power_w", "system average power over the span, W"},
      {"power_at_target_w", "system average power serving the deployment's arrival rate (the throughput target; "
                            "saturated points are infeasible), W"},
      {"usd_per_mtok", "amortised capex + electricity per million output tokens, USD"},
      {"capex_usd", "die + DRAM capacity cost of every device of both pools, USD"},
      {"devices", "devices of both pools"},
      {"area_mm2", "silicon of every device of both pools at 7 nm, mm2"},
      {"offered_load", "the larger pool offered load (>= 1: saturated)"},
      {"prefill_tokens_per_j", "prompt tokens per joule of prefill work (the prefill pool's busy energy)"},
      {"prefill_power_w", "prefill pool power while serving a prompt (all its devices), W"},
      {"prefill_utilisation", "prefill pool busy fraction"},
      {"prefill_devices", "devices of the prefill pool"},
      {"decode_tokens_per_j", "generated tokens per joule of the decode pool over the span (idle leakage included)"},
      {"decode_power_w", "decode pool average power over the span at the arrival rate, W"},
      {"decode_utilisation", "decode pool busy fraction"},
      {"decode_devices", "devices of the decode pool"},
  };
}

const std::vector<std::pair<std::string, std::string>>& metrics_of(const Space& s) {
  static const auto plain = metric_names(), serving = serving_metric_names();
  return s.serving() ? serving : plain;
}

std::string text_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

Outcome Prepared::evaluate_deployment(const std::string& text) const {
  Outcome o;
  o.hash = text_hash(text);
  serve::Report r;
  try {
    const serve::Deployment d =
        serve::parse_deployment(text, space.deployment.string() + " (point)", space.deployment.parent_path());
    r = serve::simulate(d);
    auto& m = o.metrics;
    m["prefill_devices"] = d.prefill.total_devices();
    m["decode_devices"] = d.decode.total_devices();
    m["devices"] = d.prefill.total_devices() + d.decode.total_devices();
    m["area_mm2"] = ppa::area(d.prefill.cfg).total_mm2() * d.prefill.total_devices() +
                    ppa::area(d.decode.cfg).total_mm2() * d.decode.total_devices();
  } catch (const InputError& err) {
    o.status = Status::Infeasible;
    o.why = first_line(err.what());
    return o;
  }
  auto& m = o.metrics;
  m["ttft_s"] = r.ttft_s.mean;
  m["ttft_p99_s"] = r.ttft_s.p99;
  m["tpot_s"] = r.tpot_s.mean;
  m["tpot_p99_s"] = r.tpot_s.p99;
  m["tokens_per_s"] = r.tokens_per_s;
  m["tokens_per_j"] = r.tokens_per_j;
  m["energy_per_token_j"] = r.energy_per_token_j;
  m["power_w"] = m["power_at_target_w"] = r.average_power_w;
  m["usd_per_mtok"] = r.usd_per_million_tokens;
  m["capex_usd"] = r.capex_usd;
  m["offered_load"] = std::max(r.prefill.offered_load, r.decode.offered_load);
  m["prefill_tokens_per_j"] = r.prefill.busy_energy_j > 0 ? double(r.prefill.tokens) / r.prefill.busy_energy_j : 0;
  m["prefill_power_w"] = r.prefill.busy_power_w;
  m["prefill_utilisation"] = r.prefill.utilisation;
  m["decode_tokens_per_j"] = r.decode.energy_j > 0 ? double(r.decode.tokens) / r.decode.energy_j : 0;
  m["decode_power_w"] = r.decode.average_power_w;
  m["decode_utilisation"] = r.decode.utilisation;
  if (r.saturated) {
    o.status = Status::Infeasible;
    o.why = fmt::format("saturated: {} pool offered load {:.3g} >= 1 at the target arrival rate", r.bottleneck,
                        m["offered_load"]);
  }
  return o;
}

Prepared::Prepared(const Space& s) : space(s) {
  base = std::make_shared<toml::table>(toml::parse(s.base_text, s.file.string() + " (base config)"));
  if (s.serving()) {
    deployment = std::make_shared<toml::table>(toml::parse(s.deployment_text, s.deployment.string()));
    return;  // the request mix is the deployment's; no [[workload]] models
  }
  for (const auto& w : s.workloads) {
    const model::ModelSource src = model::resolve_model_source(w.model, false);
    models.push_back(src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config));
  }
  if (!s.uses_accuracy()) return;
  // The fp32 reference runs once here; each config's formats are one memoized evaluation.
  eval::EvalOptions eo;
  eo.model = s.accuracy.model;
  eo.seed = s.accuracy.seed;
  eo.num_prompts = s.accuracy.prompts;
  eo.prompt_len = s.accuracy.prompt_len;
  accuracy_model = std::make_shared<eval::LoadedModel>(eval::load_model(eo.model, eo.seed));
  accuracy = std::make_shared<eval::Evaluator>(accuracy_model->config, accuracy_model->weights,
                                               eval::load_set(accuracy_model->config, eo));
}

std::string Prepared::toml_of(const Point& x, std::map<std::string, Value>& vars) const {
  toml::table root = space.serving() ? *deployment : *base;
  const auto set = space.serving() ? set_deployment_key : set_key;
  for (size_t i = 0; i < space.params.size(); ++i) {
    const Param& p = space.params[i];
    vars[p.name] = p.values.at(x.at(i));
    if (!p.key.empty()) set(root, p.key, vars[p.name]);
  }
  for (const auto& d : space.derived) {
    vars[d.name] = d.expr.eval(vars);
    if (!d.key.empty()) set(root, d.key, vars[d.name]);
  }
  std::ostringstream os;
  os << root << "\n";
  return os.str();
}

// The metrics of a built config over the workloads; InputError (capacity) leaves `why` set.
Outcome Prepared::evaluate_config(const config::HardwareConfig& cfg) const {
  Outcome o;
  const size_t n = space.workloads.size();
  std::vector<double> ttft(n), tpot(n), tps(n), energy(n), per_token(n), power(n), hbm(n);
  for (size_t i = 0; i < n; ++i) {
    const WorkloadSpec& w = space.workloads[i];
    analytic::Parallelism par;
    par.devices = w.devices;
    analytic::Estimate e;
    try {
      e = analytic::estimate(models[i], cfg, {w.prefill, w.decode, w.batch, 0}, par);
    } catch (const InputError& err) {
      o.status = Status::Infeasible;
      o.why = fmt::format("workload {} ({}): {}", i + 1, w.model, first_line(err.what()));
      return o;
    }
    ttft[i] = e.ttft_s;
    tpot[i] = e.tpot_s;
    tps[i] = e.tokens_per_s;
    energy[i] = e.energy_j;
    const double tokens = double(w.batch) * double(w.decode ? w.decode : w.prefill);
    per_token[i] = e.energy_j / tokens;
    power[i] = e.energy_j / (e.prefill.seconds + e.decode_s);
    hbm[i] = double(e.weight_bytes_per_device + e.kv_bytes_per_device) / 1073741824.0;
  }
  auto& m = o.metrics;
  std::vector<double> devices(n);
  for (size_t i = 0; i < n; ++i) devices[i] = space.workloads[i].devices;
  add_ppa_metrics(cfg, weighted(space.workloads, devices), m);
  if (accuracy) {
    const eval::Metrics a = accuracy->evaluate(cfg);
    m["accuracy"] = a.top1;
    m["accuracy_kl"] = a.kl_mean;
  }
  m["ttft_s"] = weighted(space.workloads, ttft);
  m["tpot_s"] = weighted(space.workloads, tpot);
  m["tokens_per_s"] = weighted(space.workloads, tps);
  m["energy_j"] = weighted(space.workloads, energy);
  m["energy_per_token_j"] = weighted(space.workloads, per_token);
  m["power_w"] = weighted(space.workloads, power);
  m["hbm_gib"] = weighted(space.workloads, hbm);
  m["multipliers"] = double(cfg.geometry.mlen) * double(cfg.geometry.blen);
  m["sram_mib"] = (double(cfg.sram.vector_depth) * cfg.geometry.vlen * element_bytes(cfg.sram.vector_type) +
                   double(cfg.sram.matrix_depth) * cfg.geometry.mlen * element_bytes(cfg.sram.matrix_type)) /
                  1048576.0;
  return o;
}

Outcome Prepared::evaluate(const Point& x, const std::function<const Outcome*(const std::string&)>& memo) const {
  Outcome o;
  std::map<std::string, Value> vars;
  std::string text;
  try {
    text = toml_of(x, vars);
    for (const auto& c : space.constraints)
      if (!c.on_metrics && !truth(c.expr.eval(vars))) {
        o.status = Status::Pruned;
        o.why = c.expr.text();
        return o;
      }
    std::optional<config::HardwareConfig> cfg;
    if (!space.serving()) cfg = config::parse_config_toml(text, "point");
    o.hash = cfg ? config::canonical_hash(*cfg) : text_hash(text);
    const Outcome* m = memo ? memo(o.hash) : nullptr;
    Outcome r = m ? *m : cfg ? evaluate_config(*cfg) : evaluate_deployment(text);
    if (r.by_constraint) r.status = Status::Ok, r.why.clear(), r.by_constraint = false;  // this point's own check below
    r.hash = o.hash;
    o = std::move(r);
  } catch (const InputError& err) {
    o.status = Status::Invalid;
    o.why = first_line(err.what());
    return o;
  }
  if (o.status == Status::Ok) apply_metric_constraints(o, vars);
  return o;
}

void Prepared::apply_metric_constraints(Outcome& o, std::map<std::string, Value> vars) const {
  for (const auto& [k, v] : o.metrics) vars[k] = Value{false, v, {}};
  for (const auto& c : space.constraints)
    if (c.on_metrics && !truth(c.expr.eval(vars))) {
      o.status = Status::Infeasible;
      o.why = c.expr.text();
      o.by_constraint = true;
      return;
    }
}

bool truth(const Value& v) { return v.is_string ? !v.str.empty() : v.num != 0; }

std::string first_line(const std::string& s) {
  std::string out = s.substr(0, s.find('\n'));
  if (out.rfind("error: ", 0) == 0) out = out.substr(7);
  return out;
}

std::string point_toml(const Space& s, const Point& x, std::map<std::string, Value>* vars) {
  std::map<std::string, Value> local;
  return Prepared(s).toml_of(x, vars ? *vars : local);
}

}  // namespace plena::dse

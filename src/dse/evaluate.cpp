// One point of a space: its config (the base config with the parameters and derived keys set),
// the constraints on parameters, the analytic estimate of every workload and the metrics.
// docs/dse.md "Evaluation".
#include "dse/evaluate.hpp"

#include <fmt/format.h>

#include <cmath>
#include <sstream>
#include <toml++/toml.h>

#include "analytic/analytic.hpp"
#include "config/schema.hpp"
#include "eval/eval.hpp"
#include "ppa/ppa.hpp"
#include "model/source.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::dse {
namespace {

const config::detail::Field* field(const std::string& key) {
  for (const auto& f : config::detail::schema())
    if (f.path() == key) return &f;
  return nullptr;
}

// Sets "table.key" in the TOML document with the schema's value type.
void set_key(toml::table& root, const std::string& key, const Value& v) {
  const config::detail::Field* f = field(key);
  if (!f) throw InputError(fmt::format("error: '{}' is not a hardware config key", key));
  const std::string table(f->table), name(f->key);
  if (!root.contains(table)) root.insert(table, toml::table{});
  toml::table* t = root.get(table)->as_table();
  if (!t) throw InputError(fmt::format("error: '{}' in the base config is not a table", table));
  switch (f->kind) {
    case config::detail::Kind::UInt:
      if (v.is_string || v.num < 0 || std::floor(v.num) != v.num || v.num > 9.0e18)
        throw InputError(fmt::format("error: {} = {}: expected a non-negative integer", key, v.text()));
      t->insert_or_assign(name, int64_t(v.num));
      break;
    case config::detail::Kind::Float:
      if (v.is_string) throw InputError(fmt::format("error: {} = '{}': expected a number", key, v.str));
      t->insert_or_assign(name, v.num);
      break;
    default:
      if (!v.is_string) throw InputError(fmt::format("error: {} = {}: expected a string", key, v.text()));
      t->insert_or_assign(name, v.str);
  }
}

double weighted(const std::vector<WorkloadSpec>& ws, const std::vector<double>& v) {
  double sum = 0, w = 0;
  for (size_t i = 0; i < ws.size(); ++i) sum += ws[i].weight * v[i], w += ws[i].weight;
  return sum / w;
}

double element_bytes(const numerics::Format& f) { return double(f.width) / 8.0; }

// Cost of one device: a 7 nm die (wafer price over good dies) plus its HBM capacity.
// LLMCompass cost model constants (ppa_dse_memory_mcp.md §1.2): 300 mm wafer $9,346 at 7 nm,
// defect density 0.0015 /mm2, yield (1 + A·D/3)^-3, dies per wafer pi·r²/A − pi·d/sqrt(2A);
// HBM $7/GB (dramexchange spot price, Oct 2023).
double device_cost_usd(double area_mm2, uint64_t hbm_bytes) {
  constexpr double kWafer = 9346, kDefects = 0.0015, kRadius = 150, kHbmPerGB = 7;
  const double pi = 3.14159265358979323846;
  const double dies = pi * kRadius * kRadius / area_mm2 - pi * 2 * kRadius / std::sqrt(2 * area_mm2);
  const double yield = std::pow(1 + area_mm2 * kDefects / 3, -3);
  return kWafer / (std::max(dies, 1.0) * yield) + kHbmPerGB * double(hbm_bytes) / 1e9;
}

void add_ppa_metrics(const config::HardwareConfig& cfg, double devices, std::map<std::string, double>& m) {
  const ppa::AreaSummary a = ppa::area(cfg);
  m["area_mm2"] = a.total_mm2();
  m["logic_mm2"] = a.logic_mm2();
  m["leakage_w"] = a.leakage_w;
  m["cost_usd"] = devices * device_cost_usd(a.total_mm2(), cfg.hbm.size_bytes);
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

Prepared::Prepared(const Space& s) : space(s) {
  base = std::make_shared<toml::table>(toml::parse(s.base_text, s.file.string() + " (base config)"));
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
  toml::table root = *base;
  for (size_t i = 0; i < space.params.size(); ++i) {
    const Param& p = space.params[i];
    vars[p.name] = p.values.at(x.at(i));
    if (!p.key.empty()) set_key(root, p.key, vars[p.name]);
  }
  for (const auto& d : space.derived) {
    vars[d.name] = d.expr.eval(vars);
    if (!d.key.empty()) set_key(root, d.key, vars[d.name]);
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
    const config::HardwareConfig cfg = config::parse_config_toml(text, "point");
    o.hash = config::canonical_hash(cfg);
    const Outcome* m = memo ? memo(o.hash) : nullptr;
    Outcome r = m ? *m : evaluate_config(cfg);
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

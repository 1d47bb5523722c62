// Cross-validation (validate.hpp): kernels emitted standalone through the registry and whole
// models through runner::run_model, each simulated timing-only and compared with the estimate.
#include "analytic/validate/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "sim/sim.hpp"

namespace plena::analytic {
namespace {

using config::TimingMode;
using compiler::KernelShape;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool has_dim(const KernelShape& s, std::string_view name) {
  return std::any_of(s.dims.begin(), s.dims.end(), [&](const auto& d) { return d.first == name; });
}

// The point's shape as the report prints it.
std::string shape_label(const ValidationPoint& p) {
  const KernelShape& s = p.shape;
  if (p.kernel == "linear" || p.kernel == "batched_matmul") {
    const uint64_t k = s.get("k"), kt = s.get("max_k_tiles");
    const std::string batch = p.kernel == "linear" ? "" : fmt::format("{} x ", s.get("batch"));
    return fmt::format("{}[{}x{}]@[{}x{}]{}", batch, s.get("rows"), k, k, s.get("n"),
                       kt ? fmt::format(" k-chunk {}", kt) : "");
  }
  if (p.kernel == "attention") {
    const uint64_t w = s.get("window");
    return fmt::format("b{} q{} kv{} h{}/{} d{}{}", s.get("batch"), s.get("q_len"), s.get("kv_len"), s.get("heads"),
                       s.get("kv_heads"), s.get("head_dim"), w ? fmt::format(" window {}", w) : "");
  }
  if (!has_dim(s, "rows") || !has_dim(s, "cols")) return s.text();
  std::string label = fmt::format("[{}x{}]", s.get("rows"), s.get("cols"));
  for (const auto& [name, v] : s.dims)
    if (name != "rows" && name != "cols" && name != "rows_alloc") label += fmt::format(" {} {}", name, v);
  return label;
}

// Every kernel point of one config (preset + mode): (kernel, dims in the entry's order, rows_alloc
// filled in as a model step rounds it).
using KernelDims = std::pair<std::string_view, std::vector<uint64_t>>;

KernelShape named_shape(const config::HardwareConfig& cfg, std::string_view kernel, const std::vector<uint64_t>& x) {
  const compiler::KernelEntry& e = compiler::find_kernel(kernel);
  KernelShape s;
  size_t i = 0;
  for (std::string_view d : e.dims) {
    if (d == "rows_alloc") continue;  // derived from rows below
    if (i >= x.size()) throw std::logic_error(fmt::format("validation point '{}': too few dims", kernel));
    s.set(std::string(d), x[i++]);
  }
  if (i != x.size()) throw std::logic_error(fmt::format("validation point '{}': too many dims", kernel));
  if (has_dim(s, "rows") && std::find(e.dims.begin(), e.dims.end(), "rows_alloc") != e.dims.end()) {
    const uint64_t blen = cfg.geometry.blen;
    s.set("rows_alloc", (s.get("rows") + blen - 1) / blen * blen);
  }
  return s;
}

void add_kernels(std::vector<ValidationPoint>& v, const std::string& name, const config::HardwareConfig& cfg,
                 const std::vector<KernelDims>& kernels) {
  for (const auto& [kernel, dims] : kernels) v.push_back(kernel_point(name, cfg, kernel, named_shape(cfg, kernel, dims)));
}

// reference-small (VLEN = MLEN = 64): every registered kernel's own validation shapes.
std::vector<KernelDims> reference_small_kernels() {
  std::vector<KernelDims> k;
  for (const compiler::KernelEntry& e : compiler::kernel_registry())
    for (const auto& dims : e.validation_shapes) k.emplace_back(e.name, dims);
  return k;
}

// tiny-fp32 (VLEN 16, fp32 formats): geometries the reference config does not reach.
const std::vector<KernelDims>& tiny_fp32_kernels() {
  static const std::vector<KernelDims> k = {
      {"rope", {8, 256, 32}},  // head_dim > VLEN: block swap
      {"rmsnorm", {8, 256}},
      {"head_rmsnorm", {8, 128, 32}},  // 2 blocks per head
      {"layernorm", {8, 256}},
      {"softmax", {8, 64}},
      {"gated_gelu", {8, 256}},
  };
  return k;
}

ValidationPoint model_point(std::string config, const config::HardwareConfig& cfg, std::string model,
                            std::string hw_spec, std::string metric, uint64_t prompt, uint64_t decode) {
  ValidationPoint m;
  m.config = std::move(config);
  m.cfg = cfg;
  m.kernel = "model";
  m.model = std::move(model);
  m.hw_spec = std::move(hw_spec);
  m.metric = std::move(metric);
  m.prompt = prompt;
  m.decode = decode;
  return m;
}

// A config preset with the timing mode replaced, as inline TOML (what runner::RunOptions::hw takes).
std::string mode_spec(std::string_view preset, TimingMode mode) {
  return fmt::format("base = \"{}\"\n[timing]\nmode = \"{}\"\n", preset, config::timing_mode_name(mode));
}

// Whole tiny models (prompt 8, 4 decode steps): tiny and tiny-qwen3 (per-head q/k norms, heads
// packed in a block on reference-small, two blocks per head on tiny-fp32) on both configs,
// tiny-qwen2 (q/k/v biases) on reference-small.
void add_models(std::vector<ValidationPoint>& v, TimingMode mode, const std::string& suffix) {
  const auto small = validation_config("reference-small", mode), fp32 = validation_config("tiny-fp32", mode);
  for (std::string model : {"tiny", "tiny-qwen2", "tiny-qwen3"})
    for (std::string metric : {"ttft", "tpot"}) {
      v.push_back(model_point("reference-small" + suffix, small, model, mode_spec("reference-small", mode), metric, 8, 4));
      if (model != "tiny-qwen2")
        v.push_back(model_point("tiny-fp32" + suffix, fp32, model, mode_spec("tiny-fp32", mode), metric, 8, 4));
    }
}

// tiny-fp32 with two memory pools: `slow` (standard `slow`) holds one class, HBM3 the others.
std::string split_pools_spec(TimingMode mode, const std::string& slow, const std::string& slow_class) {
  std::string fast;
  for (const char* c : {"weights", "kv", "activations"})
    if (c != slow_class) fast += fmt::format("{}\"{}\"", fast.empty() ? "" : ", ", c);
  return fmt::format(
      "base = \"tiny-fp32\"\n[timing]\nmode = \"{}\"\n"
      "[memory.slow]\nstandard = \"{}\"\ncapacity = \"512 MiB\"\nholds = [\"{}\"]\n"
      "[memory.fast]\nstandard = \"hbm3\"\ncapacity = \"512 MiB\"\nholds = [{}]\n",
      config::timing_mode_name(mode), slow, slow_class, fast);
}

// The tiny model with its weights alone in HBM2, then its KV cache alone in LPDDR5X, the rest
// in HBM3 (docs/memory.md): each transfer is timed by the pool its tensor was placed in (norm
// weights, read by vector prefetches, in the weights pool).
void add_split_pools(std::vector<ValidationPoint>& v, TimingMode mode, const std::string& suffix) {
  const std::pair<std::string, std::string> splits[] = {{"hbm2", "weights"}, {"lpddr5x", "kv"}};
  for (const auto& [slow, cls] : splits) {
    const std::string spec = split_pools_spec(mode, slow, cls);
    for (std::string metric : {"ttft", "tpot"})
      v.push_back(model_point("tiny-fp32 " + cls + " in " + slow + suffix, config::resolve_config(spec), "tiny", spec,
                              metric, 8, 4));
  }
}

}  // namespace

std::vector<ValidationPoint> split_pool_validation_points() {
  std::vector<ValidationPoint> v;
  add_split_pools(v, TimingMode::InOrder, "/in-order");
  add_split_pools(v, TimingMode::Decoupled, "/decoupled");
  return v;
}

std::string ValidationPoint::kind() const {
  if (kernel == "model") return "model";
  switch (compiler::find_kernel(kernel).schedule) {
    case compiler::KernelSchedule::StreamedWeights: return "linear";
    case compiler::KernelSchedule::Attention: return "attention";
    case compiler::KernelSchedule::Phased: return "vector op";
  }
  return "vector op";
}

config::HardwareConfig validation_config(std::string_view preset, TimingMode mode) {
  config::HardwareConfig c = config::preset(preset);
  c.timing.mode = mode;
  return c;
}

ValidationPoint kernel_point(std::string config, const config::HardwareConfig& cfg, std::string_view kernel,
                             KernelShape shape) {
  const compiler::KernelEntry& e = compiler::find_kernel(kernel);
  if (shape.dims.size() != e.dims.size())
    throw std::logic_error(fmt::format("validation point '{}' {}: expected exactly the kernel's dims", kernel, shape.text()));
  // The count matches; planned_point checks that every one of the kernel's dims is there.
  compiler::PlannedCall call;
  call.kernel = std::string(kernel);
  call.shape = std::move(shape);
  return planned_point(std::move(config), cfg, call);
}

ValidationPoint planned_point(std::string config, const config::HardwareConfig& cfg, const compiler::PlannedCall& call) {
  const compiler::KernelEntry& e = compiler::find_kernel(call.kernel);
  for (std::string_view d : e.dims)
    if (!has_dim(call.shape, d))
      throw std::logic_error(fmt::format("validation point '{}' {}: no dimension '{}'", call.kernel, call.shape.text(), d));
  ValidationPoint p;
  p.config = std::move(config);
  p.cfg = cfg;
  p.kernel = std::string(e.name);
  p.shape = call.shape;
  return p;
}

std::vector<ValidationPoint> default_validation_points() {
  std::vector<ValidationPoint> v;
  for (TimingMode mode : {TimingMode::InOrder, TimingMode::Decoupled}) {
    const std::string suffix = mode == TimingMode::InOrder ? "/in-order" : "/decoupled";
    add_kernels(v, "reference-small" + suffix, validation_config("reference-small", mode), reference_small_kernels());
    add_kernels(v, "reference-analytic" + suffix, validation_config("reference-analytic", mode),
                {{"linear", {128, 4096, 4096, 0}}, {"linear", {256, 8192, 2048, 0}}});
    add_kernels(v, "tiny-fp32" + suffix, validation_config("tiny-fp32", mode), tiny_fp32_kernels());
    add_models(v, mode, suffix);
    add_split_pools(v, mode, suffix);
  }
  return v;
}

std::vector<ValidationPoint> large_validation_points() {
  std::vector<ValidationPoint> v;
  const auto cfg = validation_config("reference-small", TimingMode::InOrder);
  for (std::string metric : {"ttft", "tpot"})
    v.push_back(model_point("reference-small/in-order", cfg, "smollm2-135m", "reference-small", metric, 16, 3));
  return v;
}

std::vector<ValidationPoint> multi_device_validation_points() {
  std::vector<ValidationPoint> v;
  const auto cfg = config::preset("reference-analytic");
  const std::pair<uint32_t, uint32_t> splits[] = {{4, 1}, {2, 2}};
  for (const auto& [tp, pp] : splits)
    for (std::string metric : {"ttft", "tpot"}) {
      ValidationPoint p = model_point(fmt::format("reference-analytic/{} devices tp {} pp {}", tp * pp, tp, pp), cfg,
                                      "llama-3.1-8b", "reference-analytic", metric, 256, 8);
      p.devices = tp * pp, p.tp = tp, p.pp = pp;
      v.push_back(std::move(p));
    }
  return v;
}

std::vector<ValidationPoint> full_size_validation_points() {
  struct Run {
    std::string model;
    uint64_t prompt, decode;
    uint32_t devices;
  };
  const Run runs[] = {{"llama-3.1-8b", 2048, 128, 1}, {"llama-3.1-8b", 4096, 128, 1}, {"llama-3.3-70b", 1024, 16, 16}};
  std::vector<ValidationPoint> v;
  const auto cfg = config::preset("reference-analytic");
  for (const Run& r : runs)
    for (std::string metric : {"ttft", "tpot"}) {
      ValidationPoint p = model_point("reference-analytic", cfg, r.model, "reference-analytic", metric, r.prompt, r.decode);
      p.devices = r.devices, p.tp = r.devices, p.pp = 1;
      p.calibrated_dram = true;
      v.push_back(std::move(p));
    }
  return v;
}

namespace {

double relative_error(double analytic, double sim) { return sim > 0 ? (analytic - sim) / sim : 0; }

// A whole model through runner::run_model (timing-only) against analytic::estimate of the same
// workload: the prefill steps (TTFT; several when chunked) and the mean decode step (TPOT), in cycles.
ValidationResult run_model_point(const ValidationPoint& p, const runner::RunReport& rep, double sim_seconds) {
  ValidationResult r;
  r.point = p;
  const model::ModelConfig m = model::model_preset(p.model);
  const auto t0 = Clock::now();
  Parallelism par;
  par.devices = p.devices, par.tp = p.tp, par.pp = p.pp;
  const Estimate e = estimate(m, p.cfg, {p.prompt, p.decode, 1}, par);
  r.analytic_cpu_seconds = seconds_since(t0);
  const double ps = MemoryModel(p.cfg).ps_per_cycle();
  const auto instructions = [](const auto& ops) {
    uint64_t n = 0;
    for (const auto& o : ops) n += uint64_t(double(o.instructions) * o.calls);
    return n;
  };
  const bool ttft = p.metric == "ttft";
  uint64_t cycles = 0, executed = 0, n = 0;
  double joules = 0;
  for (const runner::StepReport& st : rep.steps)
    if ((st.kind == "prefill") == ttft) {
      cycles += st.cycles;
      executed += st.executed;
      joules += st.energy.total_j;
      ++n;
    }
  if (ttft) {
    r.sim_cycles = cycles;
    r.sim_instructions = executed;
    r.analytic_cycles = e.prefill.seconds * 1e12 / ps;
    r.analytic_instructions = instructions(e.prefill.ops);
    r.sim_energy_j = joules;
    r.analytic_energy_j = e.prefill.energy_j;
  } else {
    r.sim_cycles = uint64_t(std::llround(double(cycles) / double(n)));
    r.sim_instructions = uint64_t(std::llround(double(executed) / double(n)));
    r.analytic_cycles = e.decode_s / double(p.decode) * 1e12 / ps;
    r.analytic_instructions = instructions(e.decode_first.ops);
    r.sim_energy_j = joules / double(n);
    r.analytic_energy_j = (e.energy_j - e.prefill.energy_j) / double(p.decode);
  }
  r.energy_error = relative_error(r.analytic_energy_j, r.sim_energy_j);
  r.shape = fmt::format("{}{} prompt {} {}", p.model, p.devices > 1 ? fmt::format(" x{}", p.devices) : "", p.prompt,
                        p.metric == "ttft" ? "TTFT (prefill)" : fmt::format("TPOT ({} decode)", p.decode));
  r.sim_seconds = sim_seconds;
  r.error = (r.analytic_cycles - double(r.sim_cycles)) / double(std::max<uint64_t>(1, r.sim_cycles));
  return r;
}

std::pair<runner::RunReport, double> simulate_model(const ValidationPoint& p) {
  runner::RunOptions o;
  o.model = p.model;
  o.hw = p.hw_spec;
  o.prompt_len = p.prompt;
  o.gen = p.decode;
  o.timing_only = true;
  o.devices = p.devices, o.tp = p.tp, o.pp = p.pp;
  if (p.devices > 1 || p.calibrated_dram) o.dram_fidelity = sim::DramFidelity::Calibrated;
  const auto t0 = Clock::now();
  runner::RunReport rep = runner::run_model(o);
  return {std::move(rep), seconds_since(t0)};
}

// A kernel emitted standalone through its registry entry and simulated, against estimate_op of
// the same shape (which counts the same standalone emission, compiler::count_kernel).
ValidationResult run_kernel_point(const ValidationPoint& p) {
  ValidationResult r;
  r.point = p;
  r.shape = shape_label(p);
  compiler::MemoryPlan plan(p.cfg, p.config);
  compiler::ProgramBuilder b(p.cfg, p.config);
  compiler::find_kernel(p.kernel).emit_standalone(b, plan, p.shape);
  MemoryModel mem(p.cfg);
  auto t0 = Clock::now();
  const OpEstimate est = estimate_op(p.cfg, mem, p.kernel, p.shape);
  r.analytic_cpu_seconds = seconds_since(t0);
  sim::SimOptions so;
  so.mode = sim::Mode::TimingOnly;
  sim::Simulator s(p.cfg, so);
  const auto words = b.words();
  t0 = Clock::now();
  const sim::SimResult res = s.run(words);
  r.sim_seconds = seconds_since(t0);
  r.sim_cycles = res.timing.cycles;
  r.sim_instructions = res.executed;
  r.analytic_cycles = est.cycles;
  r.analytic_instructions = est.instructions;
  r.error = (est.cycles - double(r.sim_cycles)) / double(std::max<uint64_t>(1, r.sim_cycles));
  r.sim_energy_j = res.timing.energy.total_j();
  r.analytic_energy_j = ppa::EnergyModel(p.cfg)(op_activity(est, est.cycles * mem.ps_per_cycle() * 1e-12)).total_j();
  r.energy_error = relative_error(r.analytic_energy_j, r.sim_energy_j);
  return r;
}

}  // namespace

std::vector<ValidationResult> run_validation(const std::vector<ValidationPoint>& points) {
  std::map<std::string, std::pair<runner::RunReport, double>> runs;
  std::vector<ValidationResult> out;
  for (const auto& p : points) {
    if (p.kernel != "model") {
      out.push_back(run_kernel_point(p));
      continue;
    }
    const std::string key = fmt::format("{}|{}|{}|{}|{}x{}x{}", p.model, p.hw_spec, p.prompt, p.decode, p.devices, p.tp, p.pp);
    auto it = runs.find(key);
    if (it == runs.end()) it = runs.emplace(key, simulate_model(p)).first;
    out.push_back(run_model_point(p, it->second.first, it->second.second));
  }
  return out;
}

ValidationResult run_validation_point(const ValidationPoint& p) { return run_validation({p}).at(0); }

double worst_error(const std::vector<ValidationResult>& rs) {
  double worst = 0;
  for (const auto& r : rs) worst = std::max(worst, std::fabs(r.error));
  return worst;
}

double worst_energy_error(const std::vector<ValidationResult>& rs) {
  double worst = 0;
  for (const auto& r : rs) worst = std::max(worst, std::fabs(r.energy_error));
  return worst;
}

std::string validation_report(const std::vector<ValidationResult>& rs) {
  std::string s = fmt::format("{:<28} {:<10} {:<14} {:<46} {:>12} {:>14} {:>8}\n", "config", "kind", "kernel",
                              "shape", "sim cycles", "analytic", "error");
  for (const auto& r : rs)
    s += fmt::format("{:<28} {:<10} {:<14} {:<46} {:>12} {:>14.0f} {:>+7.2f}%\n", r.point.config, r.point.kind(),
                     r.point.kernel, r.shape, r.sim_cycles, r.analytic_cycles, 100 * r.error);
  s += fmt::format("worst |error| {:.2f}% over {} points (target <= 5% on every point)\n", 100 * worst_error(rs), rs.size());
  s += fmt::format("energy (docs/ppa.md, same tables): worst |error| {:.2f}% over {} points (target <= 5%)\n",
                   100 * worst_energy_error(rs), rs.size());
  return s;
}

std::string validation_json(const std::vector<ValidationResult>& rs) {
  nlohmann::ordered_json j;
  auto& pts = j["points"] = nlohmann::ordered_json::array();
  for (const auto& r : rs)
    pts.push_back({{"config", r.point.config},
                   {"kind", r.point.kind()},
                   {"kernel", r.point.kernel},
                   {"shape", r.shape},
                   {"sim_cycles", r.sim_cycles},
                   {"analytic_cycles", r.analytic_cycles},
                   {"error", r.error},
                   {"sim_instructions", r.sim_instructions},
                   {"analytic_instructions", r.analytic_instructions},
                   {"analytic_cpu_s", r.analytic_cpu_seconds},
                   {"sim_s", r.sim_seconds},
                   {"sim_energy_j", r.sim_energy_j},
                   {"analytic_energy_j", r.analytic_energy_j},
                   {"energy_error", r.energy_error}});
  j["worst_abs_error"] = worst_error(rs);
  j["worst_abs_energy_error"] = worst_energy_error(rs);
  j["target"] = 0.05;
  return j.dump(2) + "\n";
}

}  // namespace plena::analytic

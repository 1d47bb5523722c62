// Cross-validation glue (header-only on purpose): builds kernel programs with the compiler, runs
// them timing-only through the simulator and compares with the analytic estimate. plena_analytic
// itself never depends on the simulator; only consumers that link plena_sim (the CLI's
// `plena estimate --validate` and tests/analytic) include this header.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernel_registry.hpp"
#include "compiler/kernels_attention.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::analytic {

struct ValidationPoint {
  std::string config;  // config preset name (plus a mode suffix)
  config::HardwareConfig cfg;
  // "linear" | "attention" | a vector kernel ("rmsnorm", "head_rmsnorm", "swiglu", "bias_add", "residual", "rope",
  // "embedding")
  // | "model" (a whole model step sequence through runner::run_model, timing-only)
  std::string kernel = "linear";
  // linear: rows, k, n, max_k_tiles; attention: batch, q_len, kv_len, heads, kv_heads, head_dim;
  // vector kernels: rows, cols, head_dim (rope, head_rmsnorm); model: prompt tokens, decode steps
  uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
  bool gated = true;  // counts toward the <= 5% target
  std::string model;    // model points: preset name
  std::string hw_spec;  // model points: runner --hw (preset or inline TOML)
  std::string metric;   // model points: "ttft" (the prefill step) or "tpot" (mean decode step)
  std::string kind() const {
    if (kernel == "linear" || kernel == "attention" || kernel == "model") return kernel;
    return "vector op";
  }
};

struct ValidationResult {
  ValidationPoint point;
  std::string shape;
  uint64_t sim_cycles = 0;
  double analytic_cycles = 0;
  double error = 0;  // (analytic - sim) / sim
  uint64_t sim_instructions = 0, analytic_instructions = 0;
  double sim_seconds = 0;
};

// A config preset with the timing mode replaced, as inline TOML (what runner::RunOptions::hw takes).
inline std::string mode_spec(std::string_view preset, config::TimingMode mode) {
  return fmt::format("base = \"{}\"\n[timing]\nmode = \"{}\"\n", preset, config::timing_mode_name(mode));
}

inline config::HardwareConfig validation_config(std::string_view preset, config::TimingMode mode) {
  config::HardwareConfig c = config::preset(preset);
  c.timing.mode = mode;
  return c;
}

inline ValidationPoint make_point(std::string config, const config::HardwareConfig& cfg, std::string kernel,
                                  std::array<uint64_t, 6> x) {
  ValidationPoint p;
  p.config = std::move(config);
  p.cfg = cfg;
  p.kernel = std::move(kernel);
  p.a = x[0], p.b = x[1], p.c = x[2], p.d = x[3], p.e = x[4], p.f = x[5];
  return p;
}

// The test set: linear (the exact schedule) over two geometries, both timing modes, K-split and
// multi-block shapes; attention points are reported but not gated (approximate softmax cost).
inline std::vector<ValidationPoint> default_validation_points() {
  using config::TimingMode;
  std::vector<ValidationPoint> v;
  for (TimingMode mode : {TimingMode::InOrder, TimingMode::Decoupled}) {
    const std::string suffix = mode == TimingMode::InOrder ? "/in-order" : "/decoupled";
    const auto small = validation_config("reference-small", mode);
    for (auto [r, k, n, kt] : std::vector<std::array<uint64_t, 4>>{
             {4, 256, 256, 0}, {16, 1024, 512, 0}, {64, 512, 1024, 0}, {8, 2048, 256, 8}, {32, 4096, 128, 0}})
      v.push_back(make_point("reference-small" + suffix, small, "linear", {r, k, n, kt}));
    const auto big = validation_config("reference-analytic", mode);
    for (auto [r, k, n, kt] : std::vector<std::array<uint64_t, 4>>{{128, 4096, 4096, 0}, {256, 8192, 2048, 0}})
      v.push_back(make_point("reference-analytic" + suffix, big, "linear", {r, k, n, kt}));
    v.push_back(make_point("reference-small" + suffix, small, "attention", {1, 64, 256, 4, 2, 64}));
    v.push_back(make_point("reference-small" + suffix, small, "attention", {2, 1, 512, 8, 2, 64}));
    // The vector kernels of a model step (rows, cols[, head_dim]).
    v.push_back(make_point("reference-small" + suffix, small, "rmsnorm", {32, 576}));
    // Partial last column blocks never occur in a model step (hidden, q/kv and FFN widths are
    // MLEN multiples and VLEN = MLEN); their mask construction (S_MAP_V_FP) overlaps the
    // parameter load in ways the phase model does not follow: reported, not gated.
    for (auto [kernel, rows, cols] : std::vector<std::tuple<const char*, uint64_t, uint64_t>>{{"rmsnorm", 5, 520},
                                                                                               {"bias_add", 5, 200}}) {
      auto p = make_point("reference-small" + suffix, small, kernel, {rows, cols});
      p.gated = false;
      v.push_back(p);
    }
    v.push_back(make_point("reference-small" + suffix, small, "swiglu", {16, 1536}));
    v.push_back(make_point("reference-small" + suffix, small, "bias_add", {16, 576}));
    // Qwen3's q/k norms: head_dim dividing VLEN (heads packed under masks) and a multiple of it.
    v.push_back(make_point("reference-small" + suffix, small, "head_rmsnorm", {16, 512, 32}));
    v.push_back(make_point("reference-small" + suffix, small, "head_rmsnorm", {16, 512, 128}));
    v.push_back(make_point("reference-small" + suffix, small, "residual", {16, 576}));
    v.push_back(make_point("reference-small" + suffix, small, "rope", {16, 576, 64}));
    v.push_back(make_point("reference-small" + suffix, small, "rope", {8, 256, 32}));
    {  // DMA time of the lookups depends on the token ids' DRAM rows (each costed as a cold
       // transfer; decoupled overlap of the serial lookups not modelled): reported only.
      auto p = make_point("reference-small" + suffix, small, "embedding", {16, 576});
      p.gated = false;
      v.push_back(p);
    }
    const auto fp32 = validation_config("tiny-fp32", mode);
    v.push_back(make_point("tiny-fp32" + suffix, fp32, "rope", {8, 256, 32}));  // head_dim > VLEN: block swap
    v.push_back(make_point("tiny-fp32" + suffix, fp32, "rmsnorm", {8, 256}));
    v.push_back(make_point("tiny-fp32" + suffix, fp32, "head_rmsnorm", {8, 128, 32}));  // 2 blocks per head
    // Whole models: tiny (prompt 8, 4 decode steps), TTFT = the prefill step, TPOT = mean decode step.
    for (std::string metric : {"ttft", "tpot"}) {
      ValidationPoint m = make_point("reference-small" + suffix, small, "model", {8, 4});
      m.model = "tiny";
      m.hw_spec = mode_spec("reference-small", mode);
      m.metric = metric;
      v.push_back(m);
      m.config = "tiny-fp32" + suffix;
      m.cfg = fp32;
      m.hw_spec = mode_spec("tiny-fp32", mode);
      v.push_back(m);
    }
    for (std::string metric : {"ttft", "tpot"}) {  // Qwen2 layout: q/k/v biases
      ValidationPoint m = make_point("reference-small" + suffix, small, "model", {8, 4});
      m.model = "tiny-qwen2";
      m.hw_spec = mode_spec("reference-small", mode);
      m.metric = metric;
      v.push_back(m);
    }
    // Qwen3 layout: per-head q/k RMSNorm, heads packed in a block (head_dim 32 < VLEN 64) on
    // reference-small, two blocks per head (VLEN 16) on tiny-fp32.
    for (std::string metric : {"ttft", "tpot"}) {
      ValidationPoint m = make_point("reference-small" + suffix, small, "model", {8, 4});
      m.model = "tiny-qwen3";
      m.hw_spec = mode_spec("reference-small", mode);
      m.metric = metric;
      v.push_back(m);
      m.config = "tiny-fp32" + suffix;
      m.cfg = fp32;
      m.hw_spec = mode_spec("tiny-fp32", mode);
      v.push_back(m);
    }
  }
  return v;
}

// Heavier points for the CLI report (not in the unit test): a mid-size model on reference-small.
inline std::vector<ValidationPoint> large_validation_points() {
  std::vector<ValidationPoint> v;
  for (std::string metric : {"ttft", "tpot"}) {
    ValidationPoint m = make_point("reference-small/in-order",
                                   validation_config("reference-small", config::TimingMode::InOrder), "model", {16, 3});
    m.model = "smollm2-135m";
    m.hw_spec = "reference-small";
    m.metric = metric;
    v.push_back(m);
  }
  return v;
}

// A whole model through runner::run_model (timing-only) against analytic::estimate of the same
// workload: the prefill step (TTFT) and the mean decode step (TPOT), in cycles.
inline ValidationResult run_model_point(const ValidationPoint& p, const runner::RunReport& rep, double sim_seconds) {
  ValidationResult r;
  r.point = p;
  const model::ModelConfig m = model::model_preset(p.model);
  Parallelism par;
  const Estimate e = estimate(m, p.cfg, {p.a, p.b, 1}, par);
  MemoryModel mem(p.cfg);
  const double ps = mem.ps_per_cycle();
  uint64_t sim = 0, executed = 0;
  double analytic = 0;
  if (p.metric == "ttft") {
    sim = rep.steps.at(0).cycles;
    executed = rep.steps.at(0).executed;
    analytic = e.prefill.seconds * 1e12 / ps;
    for (const auto& o : e.prefill.ops) r.analytic_instructions += uint64_t(double(o.instructions) * o.calls);
  } else {
    for (size_t i = 1; i < rep.steps.size(); ++i) {
      sim += rep.steps[i].cycles;
      executed += rep.steps[i].executed;
    }
    const double n = double(rep.steps.size() - 1);
    sim = uint64_t(std::llround(double(sim) / n));
    executed = uint64_t(std::llround(double(executed) / n));
    analytic = e.decode_s / double(p.b) * 1e12 / ps;
    for (const auto& o : e.decode_first.ops) r.analytic_instructions += uint64_t(double(o.instructions) * o.calls);
  }
  r.shape = fmt::format("{} prompt {} {}", p.model, p.a, p.metric == "ttft" ? "TTFT (prefill)" : fmt::format("TPOT ({} decode)", p.b));
  r.sim_cycles = sim;
  r.sim_instructions = executed;
  r.analytic_cycles = analytic;
  r.sim_seconds = sim_seconds;
  r.error = (analytic - double(sim)) / double(std::max<uint64_t>(1, sim));
  return r;
}

inline ValidationResult run_validation_point(const ValidationPoint& p);

// Runs every point; model points sharing (model, hw, prompt, decode) share one simulated run.
inline std::vector<ValidationResult> run_validation(const std::vector<ValidationPoint>& points) {
  std::map<std::string, std::pair<runner::RunReport, double>> runs;
  std::vector<ValidationResult> out;
  for (const auto& p : points) {
    if (p.kernel != "model") {
      out.push_back(run_validation_point(p));
      continue;
    }
    const std::string key = fmt::format("{}|{}|{}|{}", p.model, p.hw_spec, p.a, p.b);
    auto it = runs.find(key);
    if (it == runs.end()) {
      runner::RunOptions o;
      o.model = p.model;
      o.hw = p.hw_spec;
      o.prompt_len = p.a;
      o.gen = p.b;
      o.timing_only = true;
      const auto t0 = std::chrono::steady_clock::now();
      runner::RunReport rep = runner::run_model(o);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      it = runs.emplace(key, std::make_pair(std::move(rep), secs)).first;
    }
    out.push_back(run_model_point(p, it->second.first, it->second.second));
  }
  return out;
}

// The registry's name of a point's kernel (the analytic model calls the residual add "residual").
inline std::string_view registry_kernel_name(std::string_view kernel) {
  return kernel == "residual" ? "residual_add" : kernel;
}

// A kernel point's named shape: linear rows, k, n, max_k_tiles; attention batch, q_len, kv_len,
// heads, kv_heads, head_dim (no window); vector kernels rows, rows_alloc (BLEN-rounded rows, as a
// model step), cols and head_dim where the kernel takes one.
inline compiler::KernelShape validation_shape(const ValidationPoint& p) {
  compiler::KernelShape s;
  if (p.kernel == "linear") return s.set("rows", p.a).set("k", p.b).set("n", p.c).set("max_k_tiles", p.d);
  if (p.kernel == "attention")
    return s.set("batch", p.a).set("q_len", p.b).set("kv_len", p.c).set("heads", p.d).set("kv_heads", p.e)
        .set("head_dim", p.f).set("window", 0);
  const uint64_t blen = p.cfg.geometry.blen;
  s.set("rows", p.a).set("rows_alloc", (p.a + blen - 1) / blen * blen).set("cols", p.b);
  if (p.kernel == "rope" || p.kernel == "head_rmsnorm") s.set("head_dim", p.c);
  return s;
}

inline ValidationResult run_validation_point(const ValidationPoint& p) {
  using namespace plena::compiler;
  if (p.kernel == "model") return run_validation({p}).at(0);
  ValidationResult r;
  r.point = p;
  const auto& cfg = p.cfg;
  MemoryPlan plan(cfg, p.config);
  ProgramBuilder b(cfg, p.config);
  MemoryModel mem(cfg);
  OpEstimate est;
  // The kernel's standalone setup (kernel_registry.hpp) lays the inputs out as a model step does.
  const KernelShape shape = validation_shape(p);
  find_kernel(registry_kernel_name(p.kernel)).emit_standalone(b, plan, shape);
  // The estimate counts the same standalone emission (compiler::count_kernel).
  est = estimate_op(cfg, mem, registry_kernel_name(p.kernel), shape);
  if (p.kernel == "linear") {
    r.shape = fmt::format("[{}x{}]@[{}x{}]{}", p.a, p.b, p.b, p.c, p.d ? fmt::format(" k-chunk {}", p.d) : "");
  } else if (p.kernel != "attention") {
    const uint64_t rows = p.a, cols = p.b;
    r.shape = p.kernel == "rope" || p.kernel == "head_rmsnorm" ? fmt::format("[{}x{}] head_dim {}", rows, cols, p.c) : fmt::format("[{}x{}]", rows, cols);
  } else {
    r.shape = fmt::format("b{} q{} kv{} h{}/{} d{}", p.a, p.b, p.c, p.d, p.e, p.f);
  }
  sim::SimOptions so;
  so.mode = sim::Mode::TimingOnly;
  sim::Simulator s(cfg, so);
  const auto words = b.words();
  const auto t0 = std::chrono::steady_clock::now();
  const sim::SimResult res = s.run(words);
  r.sim_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.sim_cycles = res.timing.cycles;
  r.sim_instructions = res.executed;
  r.analytic_cycles = est.cycles;
  r.analytic_instructions = est.instructions;
  r.error = (est.cycles - double(res.timing.cycles)) / double(std::max<uint64_t>(1, res.timing.cycles));
  return r;
}

inline double worst_gated_error(const std::vector<ValidationResult>& rs) {
  double worst = 0;
  for (const auto& r : rs)
    if (r.point.gated) worst = std::max(worst, std::fabs(r.error));
  return worst;
}

inline std::string validation_report(const std::vector<ValidationResult>& rs) {
  std::string s = fmt::format("{:<28} {:<10} {:<10} {:<34} {:>12} {:>14} {:>8} {:>6}\n", "config", "kind", "kernel",
                              "shape", "sim cycles", "analytic", "error", "gated");
  for (const auto& r : rs)
    s += fmt::format("{:<28} {:<10} {:<10} {:<34} {:>12} {:>14.0f} {:>+7.2f}% {:>6}\n", r.point.config, r.point.kind(),
                     r.point.kernel, r.shape, r.sim_cycles, r.analytic_cycles, 100 * r.error,
                     r.point.gated ? "yes" : "no");
  s += fmt::format("worst gated |error| {:.2f}% over {} points (target <= 5%)\n", 100 * worst_gated_error(rs), rs.size());
  return s;
}

inline std::string validation_json(const std::vector<ValidationResult>& rs) {
  nlohmann::ordered_json j;
  auto& pts = j["points"] = nlohmann::ordered_json::array();
  for (const auto& r : rs) {
    nlohmann::ordered_json x;
    x["config"] = r.point.config;
    x["kind"] = r.point.kind();
    x["kernel"] = r.point.kernel;
    x["shape"] = r.shape;
    x["sim_cycles"] = r.sim_cycles;
    x["analytic_cycles"] = r.analytic_cycles;
    x["error"] = r.error;
    x["sim_instructions"] = r.sim_instructions;
    x["analytic_instructions"] = r.analytic_instructions;
    x["gated"] = r.point.gated;
    pts.push_back(x);
  }
  j["worst_gated_abs_error"] = worst_gated_error(rs);
  j["target"] = 0.05;
  return j.dump(2) + "\n";
}

}  // namespace plena::analytic

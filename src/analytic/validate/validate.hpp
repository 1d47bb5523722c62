// Cross-validation of the analytic model against the timing-only simulator (`plena estimate
// --validate`, tests/analytic). Its own library, plena_validate: it links the compiler, runner and
// simulator, which plena_analytic itself never depends on. docs/analytic.md §7.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/layer_plan.hpp"
#include "config/config.hpp"

namespace plena::analytic {

struct ValidationPoint {
  std::string config;  // config preset name plus a timing-mode suffix
  config::HardwareConfig cfg;
  // A registered kernel's name (compiler::kernel_registry()), emitted standalone for `shape`;
  // or "model": a whole model step sequence through runner::run_model, timing-only.
  std::string kernel;
  compiler::KernelShape shape;  // kernel points
  // Model points: preset name, runner --hw (preset or inline TOML), "ttft" (the prefill step) or
  // "tpot" (the mean decode step), and the workload.
  std::string model, hw_spec, metric;
  uint64_t prompt = 0, decode = 0;
  // Model points on several devices (`plena run --devices`, the estimate with the same split),
  // simulated with the calibrated DRAM fidelity (full-size models).
  uint32_t devices = 1, tp = 0, pp = 0;
  bool calibrated_dram = false;  // single-device model points simulated with the calibrated fidelity too
  // "model", or by the kernel's schedule: "linear" (weights streamed under the matrix unit),
  // "attention", "vector op" (phased).
  std::string kind() const;
};

struct ValidationResult {
  ValidationPoint point;
  std::string shape;  // human-readable, e.g. "[16x576]" or "b1 q64 kv256 h4/2 d64"
  uint64_t sim_cycles = 0;
  double analytic_cycles = 0;
  double error = 0;  // (analytic - sim) / sim
  uint64_t sim_instructions = 0, analytic_instructions = 0;
  double sim_seconds = 0;           // the simulated run (model points: the run the point shares)
  double analytic_cpu_seconds = 0;  // the estimate (kernel: estimate_op; model: analytic::estimate)
  // Energy (J, docs/ppa.md) of the same span: the simulator's counts and the estimate's, each x
  // the PPA tables (plena run / plena estimate); target within 5%.
  double sim_energy_j = 0, analytic_energy_j = 0, energy_error = 0;
};

config::HardwareConfig validation_config(std::string_view preset, config::TimingMode mode);
// A kernel point on `cfg`; the shape must name exactly the kernel's dims (std::logic_error otherwise).
ValidationPoint kernel_point(std::string config, const config::HardwareConfig& cfg, std::string_view kernel,
                             compiler::KernelShape shape);
// A step plan's call (compiler::step_plan) as a kernel point: every one of the kernel's dims plus
// the optional ones the plan adds for its emitter (chained linears: chained, next_k, next_n).
ValidationPoint planned_point(std::string config, const config::HardwareConfig& cfg, const compiler::PlannedCall& call);

// The default set: every registered kernel on reference-small (plus tiny-fp32 and
// reference-analytic geometries where they add a code path), both timing modes, and whole tiny
// models (TTFT and TPOT).
std::vector<ValidationPoint> default_validation_points();
// The tiny model on tiny-fp32 with two memory pools: weights alone in HBM2, then the KV cache
// alone in LPDDR5X, the rest in HBM3; both timing modes (also in the default set).
std::vector<ValidationPoint> split_pool_validation_points();
// Heavier points for the CLI report (not in the unit test): smollm2-135m on reference-small.
std::vector<ValidationPoint> large_validation_points();
// Multi-device points: LLaMA-3.1-8B on reference-analytic, prompt 256 + 8, on 4 devices as
// tp 4 and as tp 2 x pp 2 (tests/analytic/test_multi_device.cpp; both within 5% since the
// double-buffered linears, tp 2 x pp 2 prefill -3.1%; not yet in the CLI report).
std::vector<ValidationPoint> multi_device_validation_points();

// Whole-run agreement of full-size models on reference-analytic (calibrated DRAM fidelity, TTFT
// and TPOT): LLaMA-3.1-8B 2048 + 128 and 4096 + 128 (two prefill chunks), LLaMA-3.3-70B on 16
// devices 1024 + 16 (tests/analytic/test_agreement.cpp, `large`).
std::vector<ValidationPoint> full_size_validation_points();

// Runs every point; model points sharing (model, hw, prompt, decode) share one simulated run.
std::vector<ValidationResult> run_validation(const std::vector<ValidationPoint>& points);
ValidationResult run_validation_point(const ValidationPoint& p);

double worst_error(const std::vector<ValidationResult>& rs);
double worst_energy_error(const std::vector<ValidationResult>& rs);
std::string validation_report(const std::vector<ValidationResult>& rs);
std::string validation_json(const std::vector<ValidationResult>& rs);

}  // namespace plena::analytic

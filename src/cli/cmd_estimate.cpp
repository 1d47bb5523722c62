// plena estimate: analytic TTFT / TPOT / tokens/s / energy (library: src/analytic), roofline,
// GPU/TPU comparison table, and --validate (analytic vs timing-only simulation).
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "analytic/analytic.hpp"
#include "analytic/validate/validate.hpp"
#include "cli/commands.hpp"
#include "cli/numeric_options.hpp"
#include "cli/parallel_options.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "model/source.hpp"
#include "cli/run_deployment.hpp"
#include "serve/serve.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

// Upper bounds of the count options: far beyond any model's context or any deployment, small
// enough that every product the analytic model forms (tokens x batch x hidden x bytes) fits in 64
// bits and the estimate stays a fraction of a second.
constexpr uint64_t kMaxTokens = uint64_t(1) << 24, kMaxBatch = uint64_t(1) << 16;

struct EstimateFlags {
  std::string model = "preset:llama-3.1-8b";
  std::string hw = "reference-analytic";
  uint64_t prefill = 2048, decode = 128, batch = 1, prefill_chunk = 0;
  ParallelFlags par;
  bool json = false, roofline = false, validate = false, quick = false;
  bool hw_given = false;  // --compare defaults to the paper-equivalent preset
  std::string compare;
  std::string deployment;  // a deployment file: disaggregated serving (src/serve)
};

model::ModelConfig load_model(const std::string& spec) {
  const model::ModelSource src = model::resolve_model_source(spec, false);
  return src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void run_estimate(const EstimateFlags& f) {
  if (!f.deployment.empty()) {
    const serve::Report r = serve::simulate(serve::load_deployment(f.deployment));
    fmt::print("{}", f.json ? serve::to_json(r) : serve::to_text(r));
    return;
  }
  if (f.validate) {
    auto points = analytic::default_validation_points();
    if (!f.quick)
      for (auto& p : analytic::large_validation_points()) points.push_back(std::move(p));
    const auto rs = analytic::run_validation(points);
    fmt::print("{}", f.json ? analytic::validation_json(rs) : analytic::validation_report(rs));
    for (const auto& r : rs)
      if (std::fabs(r.error) > 0.05) set_exit_code(1);  // the target is part of the contract
    return;
  }
  if (!f.compare.empty()) {
    const config::HardwareConfig cfg = config::resolve_config(f.hw_given ? f.hw : "paper-equivalent");
    auto names = split_list(f.compare);
    fmt::print("{}", analytic::compare_table(names, cfg, f.par.devices == 1 ? 16 : f.par.devices, f.batch, f.json));
    return;
  }
  const config::HardwareConfig cfg = config::resolve_config(f.hw);
  const auto t0 = std::chrono::steady_clock::now();
  const model::ModelConfig m = load_model(f.model);
  analytic::Parallelism par;
  par.devices = f.par.devices;
  par.tp = f.par.tp;
  par.pp = f.par.pp;
  par.link_GBps = f.par.link_gbps;
  par.link_latency_us = f.par.link_latency_us;
  const analytic::Estimate e = analytic::estimate(m, cfg, {f.prefill, f.decode, f.batch, f.prefill_chunk}, par);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (f.json) {
    fmt::print("{}", analytic::to_json(e));
    return;
  }
  fmt::print("hardware {} (MLEN {}, BLEN {}, {} GHz, {} mode, DRAM {})\n", f.hw, cfg.geometry.mlen, cfg.geometry.blen,
             cfg.compute.clock_ghz, config::timing_mode_name(cfg.timing.mode), cfg.hbm.dram);
  fmt::print("{}", analytic::to_text(e));
  if (f.roofline) fmt::print("\n{}", analytic::roofline_text(e, cfg));
  fmt::print("\nestimate wall time {:.1f} ms\n", wall * 1e3);
}

}  // namespace

void add_estimate_command(CLI::App& app) {
  auto flags = std::make_shared<EstimateFlags>();
  auto* sub = app.add_subcommand("estimate", "analytic performance model: TTFT, TPOT, tokens/s, energy, baselines");
  sub->add_option("--model", flags->model, "model preset or HF config.json / directory")->capture_default_str();
  sub->add_option("--hw", flags->hw, "hardware config: preset name, TOML file or inline TOML")->capture_default_str();
  sub->add_option("--prefill", flags->prefill, "prompt tokens per sequence")
      ->transform(integer_in(1, kMaxTokens))
      ->capture_default_str();
  sub->add_option("--prefill-chunk", flags->prefill_chunk,
                  "prompt tokens per prefill step at most, as plena run --prefill-chunk (default: the largest chunk "
                  "that fits the on-chip memories)")
      ->transform(integer_in(1, kMaxTokens));
  sub->add_option("--decode", flags->decode, "generated tokens per sequence")
      ->transform(integer_in(0, kMaxTokens))
      ->capture_default_str();
  sub->add_option("--batch", flags->batch, "sequences in the batch")->transform(integer_in(1, kMaxBatch))->capture_default_str();
  add_parallel_options(sub, flags->par);
  sub->add_flag("--json", flags->json, "JSON output");
  sub->add_flag("--roofline", flags->roofline,
                "print each step's compute and memory roof (achieved time as a multiple of each) and the per-op "
                "roofline view");
  sub->add_option("--compare", flags->compare,
                  "the paper's table beside ours, e.g. a100,h100,tpu-v6e (PLENA on --devices, default 16, of --hw, "
                  "default paper-equivalent)");
  sub->add_flag("--validate", flags->validate,
                "cross-validate against the simulator (timing-only): per-point table (linear, attention, vector op, "
                "whole model), worst error; --json for JSON");
  sub->add_option("--deployment", flags->deployment,
                  "disaggregated serving: a deployment TOML (prefill and decode pools, KV hand-off, request mix; "
                  "docs/serving.md): TTFT, TPOT, tokens/s, energy, power, cost per pool and system");
  sub->add_flag("--quick", flags->quick, "with --validate: skip the mid-size model points (smollm2-135m)");
  sub->callback([flags, sub] {
    flags->hw_given = sub->count("--hw") > 0;
    if (!flags->deployment.empty())
      reject_with_deployment(*sub, {"--model", "--hw", "--prefill", "--prefill-chunk", "--decode", "--batch", "--devices",
                                    "--tp", "--pp", "--roofline", "--compare", "--validate", "--quick"});
    run_estimate(*flags);
  });
}

}  // namespace plena::cli

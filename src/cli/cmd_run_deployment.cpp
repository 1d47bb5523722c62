// plena run --deployment FILE: one representative request (the mean prompt and output lengths, or
// --prompt-len / --gen) simulated timing-only: its prefill on the prefill pool's config and devices,
// its decode steps on the decode pool's, the hand-off by the serving model's formula. One request
// alone: batching and queueing of the request stream are plena estimate --deployment's.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/run_deployment.hpp"
#include "config/config.hpp"
#include "serve/serve.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

struct PoolRun {
  double seconds = 0, joules = 0;
  uint64_t steps = 0;
};

// The simulated steps of one kind ("prefill" | "decode") of a timing-only run on a pool.
PoolRun simulate_pool(const serve::Deployment& d, const serve::Pool& p, runner::RunOptions o, uint64_t prompt,
                      uint64_t gen, const char* kind) {
  o.model = d.model_spec;
  o.hw = config::to_toml(p.cfg);
  o.timing_only = true;
  o.prompt_len = prompt;
  o.gen = gen;
  o.batch = 1;
  o.devices = p.devices, o.tp = p.tp, o.pp = p.pp;
  o.link_gbps = p.link_GBps, o.link_latency_us = p.link_latency_us;
  const runner::RunReport rep = runner::run_model(o);
  PoolRun r;
  for (const auto& s : rep.steps)
    if (s.kind == kind) r.seconds += double(s.time_ps) * 1e-12, r.joules += s.energy.total_j, ++r.steps;
  return r;
}

double error(double sim, double est) { return sim > 0 ? (est - sim) / sim : 0; }

}  // namespace

void reject_with_deployment(const CLI::App& sub, std::initializer_list<const char*> flags) {
  for (const char* f : flags)
    if (sub.count(f) > 0)
      throw InputError(fmt::format("error: {} cannot be combined with --deployment (the deployment file gives the "
                                   "model, the pools' hardware and devices, and the request mix)", f));
}

void run_deployment(const std::string& file, runner::RunOptions base, bool prompt_given, bool gen_given,
                    const std::string& json_path, bool quiet) {
  serve::Deployment d = serve::load_deployment(file);
  const uint64_t prompt = prompt_given ? base.prompt_len : uint64_t(std::llround(d.prompt.mean()));
  const uint64_t output = gen_given ? base.gen : uint64_t(std::llround(d.output.mean()));
  if (output < 1) throw InputError("error: --gen must be at least 1 with --deployment (the prefill yields the first token)");
  // The analytic side: the serving model on this one request alone.
  d.prompt = {serve::LengthDist::Kind::Fixed, prompt, prompt, {}};
  d.output = {serve::LengthDist::Kind::Fixed, output, output, {}};
  d.requests = 1;
  const serve::Report est = serve::simulate(d);
  const PoolRun pre = simulate_pool(d, d.prefill, base, prompt, 0, "prefill");
  const PoolRun dec = output > 1 ? simulate_pool(d, d.decode, base, prompt, output, "decode") : PoolRun{};
  const double handoff = est.handoff_s.mean;
  const double tpot_sim = dec.steps ? dec.seconds / double(dec.steps) : 0;
  const double e2e_sim = pre.seconds + handoff + dec.seconds;
  const double prefill_est = est.ttft_s.mean - handoff;
  nlohmann::ordered_json j;
  j["deployment"] = file;
  j["model"] = d.model.name;
  j["prompt"] = prompt;
  j["output"] = output;
  j["prefill"] = {{"simulated_s", pre.seconds}, {"estimate_s", prefill_est}, {"error", error(pre.seconds, prefill_est)},
                  {"simulated_j", pre.joules}};
  j["handoff_s"] = handoff;
  j["decode"] = {{"steps", dec.steps}, {"simulated_tpot_s", tpot_sim}, {"estimate_tpot_s", est.tpot_s.mean},
                 {"error", error(tpot_sim, est.tpot_s.mean)}, {"simulated_j", dec.joules}};
  j["ttft_s"] = {{"simulated", pre.seconds + handoff}, {"estimate", est.ttft_s.mean}};
  j["e2e_s"] = {{"simulated", e2e_sim}, {"estimate", est.e2e_s.mean}};
  if (!json_path.empty()) write_text_file(json_path, j.dump(2) + "\n");
  if (quiet) return;
  fmt::print("deployment {}  model {}: one request, {} prompt + {} output tokens, simulated timing-only\n", file,
             d.model.name, prompt, output);
  fmt::print("  {:<22} {:>14} {:>14} {:>8}\n", "", "simulated", "estimate", "error");
  fmt::print("  {:<22} {:>11.3f} ms {:>11.3f} ms {:>+7.1f}%\n", "prefill (prefill pool)", pre.seconds * 1e3,
             prefill_est * 1e3, error(pre.seconds, prefill_est) * 100);
  fmt::print("  {:<22} {:>11.3f} ms {:>11.3f} ms {:>8}\n", "KV hand-off (formula)", handoff * 1e3, handoff * 1e3, "");
  fmt::print("  {:<22} {:>11.3f} ms {:>11.3f} ms {:>+7.1f}%\n", "TPOT (decode pool)", tpot_sim * 1e3,
             est.tpot_s.mean * 1e3, error(tpot_sim, est.tpot_s.mean) * 100);
  fmt::print("  {:<22} {:>11.3f} ms {:>11.3f} ms {:>+7.1f}%\n", "request end to end", e2e_sim * 1e3,
             est.e2e_s.mean * 1e3, error(e2e_sim, est.e2e_s.mean) * 100);
  fmt::print("one request alone: no batching or queueing (the request stream: plena estimate --deployment)\n");
}

}  // namespace plena::cli

// Text and JSON of a serving report (docs/serving.md "Report").
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "serve/serve.hpp"

namespace plena::serve {
namespace {

std::string ms(const Stats& s) {
  return fmt::format("mean {:.3f}  p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  max {:.3f} ms", s.mean * 1e3, s.p50 * 1e3,
                     s.p90 * 1e3, s.p99 * 1e3, s.max * 1e3);
}

std::string pool_text(const PoolReport& p, const char* token_kind) {
  std::string out = fmt::format("{} pool: {} device(s)", p.name, p.devices);
  if (p.name == "decode") out += fmt::format(", batch <= {} (mean {:.1f})", p.max_batch, p.mean_batch);
  out += fmt::format("\n  offered load  {:.3f}{}   utilisation {:.1f}%\n", p.offered_load,
                     p.saturated ? "  SATURATED (>= 1: the queue grows without bound)" : "", p.utilisation * 100);
  out += fmt::format("  queue wait    {}\n", ms(p.queue_s));
  out += fmt::format("  throughput    {:.2f} {} tokens/s ({} tokens)\n", p.tokens_per_s, token_kind, p.tokens);
  out += fmt::format("  energy        {:.4g} J ({:.4g} J busy, {:.4g} J DRAM background), {:.4g} J per {} token\n",
                     p.energy_j, p.busy_energy_j, p.background_j, p.energy_per_token_j, token_kind);
  out += fmt::format("  power         {:.1f} W average, {:.1f} W while busy\n", p.average_power_w, p.busy_power_w);
  out += fmt::format("  cost          capex ${:.0f}; ${:.4g} over the span, ${:.4g} per million {} tokens\n",
                     p.capex_usd, p.usd, p.usd_per_token * 1e6, token_kind);
  return out;
}

nlohmann::ordered_json stats_json(const Stats& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}};
}

nlohmann::ordered_json pool_json(const PoolReport& p) {
  nlohmann::ordered_json j;
  j["devices"] = p.devices;
  j["max_batch"] = p.max_batch;
  j["mean_batch"] = p.mean_batch;
  j["offered_load"] = p.offered_load;
  j["utilisation"] = p.utilisation;
  j["saturated"] = p.saturated;
  j["queue_s"] = stats_json(p.queue_s);
  j["tokens"] = p.tokens;
  j["tokens_per_s"] = p.tokens_per_s;
  j["energy_j"] = p.energy_j;
  j["busy_energy_j"] = p.busy_energy_j;
  j["background_j"] = p.background_j;
  j["energy_per_token_j"] = p.energy_per_token_j;
  j["average_power_w"] = p.average_power_w;
  j["busy_power_w"] = p.busy_power_w;
  j["capex_usd"] = p.capex_usd;
  j["usd"] = p.usd;
  j["usd_per_token"] = p.usd_per_token;
  return j;
}

}  // namespace

std::string to_text(const Report& r) {
  std::string out = fmt::format("deployment {}  model {}\n", r.file, r.model);
  out += fmt::format("requests {} ({} prompt + {} output tokens) over {:.3f} s\n\n", r.requests, r.prompt_tokens,
                     r.output_tokens, r.span_s);
  out += "system\n";
  out += fmt::format("  TTFT          {}\n", ms(r.ttft_s));
  out += fmt::format("  TPOT          {}\n", ms(r.tpot_s));
  out += fmt::format("  end to end    {}\n", ms(r.e2e_s));
  out += fmt::format("  KV hand-off   {}\n", ms(r.handoff_s));
  out += fmt::format("  throughput    {:.2f} output tokens/s\n", r.tokens_per_s);
  out += fmt::format("  energy        {:.4g} J ({:.4g} J hand-off), {:.4g} J per output token, {:.4g} tokens/J\n",
                     r.energy_j, r.handoff_energy_j, r.energy_per_token_j, r.tokens_per_j);
  out += fmt::format("  power         {:.1f} W average\n", r.average_power_w);
  out += fmt::format("  cost          capex ${:.0f}; ${:.4g} per million output tokens\n", r.capex_usd,
                     r.usd_per_million_tokens);
  out += fmt::format("  bottleneck    {} pool{}\n\n", r.bottleneck, r.saturated ? " (SATURATED)" : "");
  out += pool_text(r.prefill, "prompt") + "\n" + pool_text(r.decode, "generated") + "\nassumptions:\n";
  for (const auto& a : r.assumptions) out += "  - " + a + "\n";
  return out;
}

std::string to_json(const Report& r) {
  nlohmann::ordered_json j;
  j["deployment"] = r.file;
  j["model"] = r.model;
  j["requests"] = r.requests;
  j["prompt_tokens"] = r.prompt_tokens;
  j["output_tokens"] = r.output_tokens;
  j["span_s"] = r.span_s;
  j["ttft_s"] = stats_json(r.ttft_s);
  j["tpot_s"] = stats_json(r.tpot_s);
  j["e2e_s"] = stats_json(r.e2e_s);
  j["handoff_s"] = stats_json(r.handoff_s);
  j["tokens_per_s"] = r.tokens_per_s;
  j["energy_j"] = r.energy_j;
  j["handoff_energy_j"] = r.handoff_energy_j;
  j["energy_per_token_j"] = r.energy_per_token_j;
  j["tokens_per_j"] = r.tokens_per_j;
  j["average_power_w"] = r.average_power_w;
  j["capex_usd"] = r.capex_usd;
  j["usd_per_token"] = r.usd_per_token;
  j["usd_per_million_tokens"] = r.usd_per_million_tokens;
  j["saturated"] = r.saturated;
  j["bottleneck"] = r.bottleneck;
  j["pools"] = {{"prefill", pool_json(r.prefill)}, {"decode", pool_json(r.decode)}};
  j["assumptions"] = r.assumptions;
  return j.dump(2) + "\n";
}

}  // namespace plena::serve

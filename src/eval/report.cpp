// plena eval's run and report: every choice against one fp32 reference pass (docs/eval.md).
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "eval/eval.hpp"
#include "runner/runner_detail.hpp"
#include "support/support.hpp"

namespace plena::eval {

EvalReport run_eval(const EvalOptions& opt) {
  // Configs and precision names first: a typo fails before the model is loaded or run.
  struct Named {
    std::string name;
    NumericsChoice choice;
  };
  std::vector<Named> choices;
  for (const auto& spec : opt.hw)
    choices.push_back({runner::detail::hw_display_name(spec), NumericsChoice::of(config::resolve_config(spec))});
  for (const auto& p : opt.precisions) choices.push_back({p, precision(p)});
  if (choices.empty())
    for (const auto& p : precision_names()) choices.push_back({p, precision(p)});

  const LoadedModel m = load_model(opt.model, opt.seed);
  const Evaluator ev(m.config, m.weights, load_set(m.config, opt));
  EvalReport rep;
  rep.model = m.source;
  rep.prompts = ev.set().prompts.size();
  rep.texts = ev.set().texts.size();
  rep.positions = ev.positions();
  rep.ppl_ref = ev.reference_ppl();
  rep.reference_cpu_s = ev.reference_cpu_s();
  for (const auto& [name, choice] : choices) {
    ChoiceResult r{name, choice.label(), choice.key(), ev.evaluate(choice)};
    rep.ppl_tokens = r.metrics.ppl_tokens;
    rep.results.push_back(std::move(r));
  }
  return rep;
}

namespace {

// Fixed significant digits, "inf" for a non-finite value: the same bits always print the same.
std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : std::string("inf"); }

nlohmann::ordered_json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nullptr; }

}  // namespace

std::string format_text(const EvalReport& rep, bool timings) {
  std::string out = fmt::format("model        {}\n", rep.model);
  out += fmt::format("set          {} prompt(s), {} text window(s): {} logit rows compared per choice\n", rep.prompts,
                     rep.texts, rep.positions);
  out += "reference    fp32 host reference";
  if (rep.ppl_tokens) out += fmt::format(", perplexity {} on {} predicted tokens", num(rep.ppl_ref), rep.ppl_tokens);
  if (timings) out += fmt::format(" ({:.3f} CPU-s)", rep.reference_cpu_s);
  out += "\n\n";
  size_t w = 6;
  for (const auto& r : rep.results) w = std::max(w, r.name.size());
  out += fmt::format("{:<{}}  {:>8}  {:>10}  {:>10}  {:>10}  {:>10}", "choice", w, "top-1", "KL mean", "KL max",
                     "logit RMS", "logit max");
  if (rep.ppl_tokens) out += fmt::format("  {:>10}", "perplexity");
  if (timings) out += fmt::format("  {:>8}", "CPU-s");
  out += "  formats\n";
  for (const auto& r : rep.results) {
    const Metrics& m = r.metrics;
    out += fmt::format("{:<{}}  {:>7.2f}%  {:>10}  {:>10}  {:>10}  {:>10}", r.name, w, 100.0 * m.top1, num(m.kl_mean),
                       num(m.kl_max), num(m.logit_rms), num(m.logit_max_abs));
    if (rep.ppl_tokens) out += fmt::format("  {:>10}", num(m.ppl));
    if (timings) out += fmt::format("  {:>8.3f}", m.cpu_s);
    out += fmt::format("  {}", r.label);
    if (m.nonfinite_rows) out += fmt::format(" ({} rows with NaN/Inf logits)", m.nonfinite_rows);
    out += "\n";
  }
  return out;
}

std::string to_json(const EvalReport& rep, bool timings) {
  nlohmann::ordered_json j;
  j["model"] = rep.model;
  j["prompts"] = rep.prompts;
  j["text_windows"] = rep.texts;
  j["positions"] = rep.positions;
  j["ppl_tokens"] = rep.ppl_tokens;
  j["ppl_ref"] = rep.ppl_tokens ? finite_or_null(rep.ppl_ref) : nullptr;
  if (timings) j["reference_cpu_s"] = rep.reference_cpu_s;
  j["results"] = nlohmann::ordered_json::array();
  for (const auto& r : rep.results) {
    const Metrics& m = r.metrics;
    nlohmann::ordered_json c;
    c["name"] = r.name;
    c["label"] = r.label;
    c["numerics"] = r.key;
    c["top1"] = m.top1;
    c["top1_agree"] = m.top1_agree;
    c["kl_mean"] = finite_or_null(m.kl_mean);
    c["kl_max"] = finite_or_null(m.kl_max);
    c["logit_rms"] = finite_or_null(m.logit_rms);
    c["logit_max_abs"] = finite_or_null(m.logit_max_abs);
    c["nonfinite_rows"] = m.nonfinite_rows;
    c["ppl"] = m.ppl_tokens ? finite_or_null(m.ppl) : nullptr;
    if (timings) c["cpu_s"] = m.cpu_s;
    j["results"].push_back(std::move(c));
  }
  return j.dump(2) + "\n";
}

}  // namespace plena::eval

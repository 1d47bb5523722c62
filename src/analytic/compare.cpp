// The paper's throughput table side by side with ours (plena estimate --compare), and per row the
// ops behind PLENA's number. Rows, sources and assumptions: docs/analytic.md §6.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "analytic/analytic.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

struct PaperRow {
  const char* model;
  const char* workload;
  uint64_t prefill, decode;
  double paper[4];  // A100, H100, TPU v6e, PLENA (paper v3 / project page, relative to A100)
  bool lengths_assumed;
};

// The project page's table (anchors §3.2). The 8B long-context row has no published lengths.
constexpr PaperRow kRows[] = {
    {"llama-3.1-8b", "GSM8K", 1400, 200, {1.00, 2.48, 0.88, 1.91}, false},
    {"llama-3.1-8b", "Long-context", 114000, 5000, {1.00, 2.34, 0.46, 1.45}, true},
    {"llama-3.3-70b", "BFCL", 114000, 5000, {1.00, 2.04, 0.46, 2.23}, false},
    {"llama-3.3-70b", "OSWorld", 90000, 8000, {1.00, 2.34, 0.85, 2.21}, false},
};

int paper_column(const std::string& name) { return name == "a100" ? 0 : name == "h100" ? 1 : 2; }

// The three ops (calls of one name summed: the all-reduces appear twice per layer) that take most
// of a phase's time, with the bound of the longest call of each: "attention 67% memory".
std::vector<std::pair<std::string, double>> top_ops(const PhaseEstimate& ph, std::vector<std::string>* bounds) {
  struct Agg {
    std::string name;
    double cycles = 0, longest = 0;
    Bound bound = Bound::Compute;
  };
  std::vector<Agg> v;
  double tot = 0;
  for (const auto& o : ph.ops) {
    auto it = std::find_if(v.begin(), v.end(), [&](const Agg& a) { return a.name == o.name; });
    if (it == v.end()) it = v.insert(v.end(), Agg{o.name});
    it->cycles += o.cycles * o.calls;
    if (o.cycles * o.calls > it->longest) it->longest = o.cycles * o.calls, it->bound = o.bound;
    tot += o.cycles * o.calls;
  }
  std::sort(v.begin(), v.end(), [](const Agg& a, const Agg& b) { return a.cycles > b.cycles; });
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < std::min<size_t>(3, v.size()); ++i) {
    out.emplace_back(v[i].name, tot > 0 ? v[i].cycles / tot : 0);
    bounds->emplace_back(bound_name(v[i].bound));
  }
  return out;
}

std::string ops_text(const PhaseEstimate& ph) {
  std::vector<std::string> bounds;
  const auto ops = top_ops(ph, &bounds);
  std::string s;
  for (size_t i = 0; i < ops.size(); ++i)
    s += fmt::format("{}{} {:.0f}% {}", i ? ", " : "", ops[i].first, 100 * ops[i].second, bounds[i]);
  return s;
}

nlohmann::ordered_json ops_json(const PhaseEstimate& ph) {
  std::vector<std::string> bounds;
  const auto ops = top_ops(ph, &bounds);
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (size_t i = 0; i < ops.size(); ++i) a.push_back({{"name", ops[i].first}, {"share", ops[i].second}, {"bound", bounds[i]}});
  return a;
}

// Why PLENA's column is what it is: each step against its roof, and the ops that fill it.
std::string reason_text(const Estimate& e, const BaselineEstimate& ref) {
  return fmt::format(
      "tp {} x pp {}: prefill {:.1f} ms = {:.2f}x its roof ({}); decode {:.2f} ms/token = {:.2f}x its roof ({}); "
      "4x a100: prefill {:.1f} ms, decode {:.2f} ms/token",
      e.tp, e.pp, e.prefill.seconds * 1e3, e.prefill_roof.achieved_s / e.prefill_roof.roof_s(), ops_text(e.prefill),
      e.decode_first.seconds * 1e3, e.decode_roof.achieved_s / e.decode_roof.roof_s(), ops_text(e.decode_first),
      ref.prefill_s * 1e3, ref.tpot_s * 1e3);
}

nlohmann::ordered_json reason_json(const Estimate& e) {
  return {{"prefill_s", e.prefill.seconds},          {"prefill_roof_s", e.prefill_roof.roof_s()},
          {"prefill_ops", ops_json(e.prefill)},      {"decode_step_s", e.decode_first.seconds},
          {"decode_roof_s", e.decode_roof.roof_s()}, {"decode_ops", ops_json(e.decode_first)},
          {"tp", e.tp},                              {"pp", e.pp}};
}

std::string assumptions_text(const config::HardwareConfig& cfg, uint32_t plena_devices, uint64_t batch) {
  return fmt::format(
      "baselines: roofline per op, max of FLOPs / (calibrated fraction of peak BF16) and bytes / (calibrated fraction "
      "of peak HBM) (sources below), bf16 weights and KV, tensor parallel over all devices (KV heads replicated beyond "
      "their count), ring all-reduce twice per layer over the device link (+{} us per hop); a system fits when weights "
      "+ KV cache <= {:.0f}% of its HBM (vLLM's default gpu_memory_utilization). PLENA: this analytic model on the given "
      "config ({} GHz, MLEN {} x BLEN {}, DRAM '{}', {:.1f} GiB per device), {} devices (tp x pp: the fastest split that "
      "fits), its HBM formats, interconnect {} GB/s and {} us per message (assumed; the paper states none); batch {}. Paper numbers: project page table (arXiv 2509.09505 v3); its batch size and "
      "the 8B long-context row's lengths are not published (assumed: the BFCL lengths, 114000/5000).",
      2.0, kBaselineUsableHbm * 100, cfg.compute.clock_ghz, cfg.geometry.mlen, cfg.geometry.blen, cfg.hbm.dram,
      double(cfg.hbm.size_bytes) / 1073741824.0, plena_devices, Parallelism{}.link_GBps, Parallelism{}.link_latency_us,
      batch);
}

std::vector<std::string> sources() {
  std::vector<std::string> src;
  for (const auto& d : baseline_devices()) {
    src.push_back(d.source);
    src.push_back(d.compute.source);
    src.push_back(d.memory.source);
  }
  return src;
}

}  // namespace

std::string compare_table(const std::vector<std::string>& baselines, const config::HardwareConfig& cfg,
                          uint32_t plena_devices, uint64_t batch, bool json) {
  std::vector<DeviceSpec> devs;
  for (const auto& n : baselines) devs.push_back(baseline_device(n));
  const DeviceSpec a100 = baseline_device("a100");
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  std::string s = fmt::format("throughput relative to 4x A100-80GB (output tokens/s, batch {}; ours | paper v3)\n", batch);
  s += fmt::format("{:<15} {:<24}", "model", "workload");
  for (const auto& d : devs) s += fmt::format(" {:>14}", fmt::format("{}x {}", d.default_count, d.name));
  s += fmt::format(" {:>14}\n", fmt::format("{}x PLENA", plena_devices));
  std::string why;
  for (const auto& r : kRows) {
    const model::ModelConfig m = model::model_preset(r.model);
    const Workload w{r.prefill, r.decode, batch};
    const BaselineEstimate ref = baseline_estimate(m, a100, a100.default_count, w);
    const std::string workload = fmt::format("{} {}/{}{}", r.workload, r.prefill, r.decode, r.lengths_assumed ? "*" : "");
    nlohmann::ordered_json jr;
    jr["model"] = r.model;
    jr["workload"] = workload;
    s += fmt::format("{:<15} {:<24}", r.model, workload);
    auto cell = [&](const std::string& key, double ours, bool ok, double paper) {
      jr[key] = {{"ours", ok ? nlohmann::ordered_json(ours) : nlohmann::ordered_json("OOM")}, {"paper", paper}};
      s += fmt::format(" {:>14}", ok ? fmt::format("{:.2f} | {:.2f}", ours, paper) : fmt::format("OOM | {:.2f}", paper));
    };
    for (const auto& d : devs) {
      const BaselineEstimate b = baseline_estimate(m, d, d.default_count, w);
      cell(d.name, ref.fits ? b.tokens_per_s / ref.tokens_per_s : 0, b.fits && ref.fits, r.paper[paper_column(d.name)]);
    }
    Parallelism par;
    par.devices = plena_devices;
    try {
      const Estimate e = estimate(m, cfg, w, par);
      cell("plena", ref.fits ? e.tokens_per_s / ref.tokens_per_s : 0, ref.fits, r.paper[3]);
      jr["plena_why"] = reason_json(e);
      why += fmt::format("  {} {}: {}\n", r.model, r.workload, reason_text(e, ref));
    } catch (const InputError& err) {
      cell("plena", 0, false, r.paper[3]);
      why += fmt::format("  {} {}: does not fit: {}\n", r.model, r.workload, err.what());
    }
    s += "\n";
    j.push_back(jr);
  }
  const std::string assumptions = assumptions_text(cfg, plena_devices, batch);
  if (json) {
    nlohmann::ordered_json out;
    out["rows"] = j;
    out["assumptions"] = assumptions;
    out["sources"] = sources();
    return out.dump(2) + "\n";
  }
  s += "(* lengths not published; assumed)\n\nwhy PLENA's column is what it is (each step against its roof, the ops "
       "that take its time):\n" + why;
  s += "\nassumptions: " + assumptions + "\nsources:\n";
  for (const auto& x : sources()) s += "  - " + x + "\n";
  return s;
}

}  // namespace plena::analytic

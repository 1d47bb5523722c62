// GPU/TPU baselines: a roofline over the same LLaMA op list (bf16 weights and KV, tensor parallel
// over the system's devices), and the paper's comparison table. Sources and efficiencies:
// docs/analytic.md §6.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analytic/analytic.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

// Achievable fractions of peak assumed for every baseline alike (documented assumptions).
constexpr double kComputeEfficiency = 0.7;
constexpr double kMemoryEfficiency = 0.8;
constexpr double kLinkLatencyUs = 2.0;

// One forward pass: the sum over ops of max(FLOP time, byte time) (each op its own roofline:
// no overlap across kernel boundaries), plus two ring all-reduces per layer over the link.
// Linears read their weights once per pass; attention reads the KV cache once, causal FLOPs.
double pass_seconds(const model::ModelConfig& m, uint64_t batch, uint64_t q_len, uint64_t kv_len, const DeviceSpec& d,
                    uint32_t n) {
  const double h = double(m.hidden_size), q = double(m.q_dim()), kv = double(m.kv_dim()),
               in = double(m.intermediate_size), L = double(m.num_hidden_layers);
  const double rows = double(batch * q_len);
  double t = 0;
  auto op = [&](double flops, double bytes) {
    t += std::max(flops / (d.peak_tflops * 1e12 * kComputeEfficiency * n),
                  bytes / (d.hbm_GBps * 1e9 * kMemoryEfficiency * n));
  };
  op(L * 2 * rows * h * (q + 2 * kv), L * 2 * h * (q + 2 * kv));
  // Causal attention: each query sees on average (kv_len - q_len) + (q_len + 1) / 2 keys.
  const double keys = double(kv_len - q_len) + (double(q_len) + 1) / 2;
  op(L * 4 * double(batch) * double(q_len) * keys * q, L * double(batch) * double(kv_len) * 2 * kv * 2);
  op(L * 2 * rows * q * h, L * 2 * q * h);
  op(L * 2 * rows * 3 * h * in, L * 2 * 3 * h * in);
  op(2 * double(batch) * h * double(m.vocab_size), 2 * h * double(m.vocab_size));
  if (n > 1) {
    const double ar_bytes = rows * h * 2;  // bf16 activations
    t += L * 2 * (2.0 * (n - 1) / n * ar_bytes / (d.link_GBps * 1e9) + 2.0 * (n - 1) * kLinkLatencyUs * 1e-6);
  }
  return t;
}

}  // namespace

std::vector<DeviceSpec> baseline_devices() {
  return {
      {"a100", 312, 2039, 80, 600, 4,
       "NVIDIA A100 80GB SXM datasheet: 312 TFLOPS dense BF16, 2,039 GB/s HBM2e, NVLink 600 GB/s"},
      {"h100", 989, 3350, 80, 900, 4,
       "NVIDIA H100 SXM5 80GB datasheet: 989 TFLOPS dense BF16 (1,979 with sparsity), 3.35 TB/s HBM3, NVLink 900 GB/s"},
      {"tpu-v6e", 918, 1640, 32, 448, 16,
       "Google Cloud TPU v6e (Trillium) docs: 918 TFLOPS BF16, 1,640 GB/s HBM, 32 GB, ICI 3,584 Gbps (448 GB/s)"},
  };
}

DeviceSpec baseline_device(std::string_view name) {
  for (auto& d : baseline_devices())
    if (d.name == name) return d;
  throw InputError(fmt::format("error: unknown baseline '{}', expected one of a100, h100, tpu-v6e", name));
}

BaselineEstimate baseline_estimate(const model::ModelConfig& m, const DeviceSpec& d, uint32_t count,
                                   const Workload& w) {
  BaselineEstimate b;
  b.name = d.name;
  b.count = count;
  const double need = double(m.weight_bytes(16)) + double(m.kv_cache_bytes(w.prefill + w.decode, w.batch, 16));
  b.fits = need <= d.hbm_GB * 1e9 * count;
  if (!b.fits) return b;
  const double prefill = pass_seconds(m, w.batch, w.prefill, w.prefill, d, count);
  double decode = 0;
  const uint64_t step = std::max<uint64_t>(1, w.decode / 64);
  for (uint64_t t = 0; t < w.decode; t += step) {
    const uint64_t span = std::min(step, w.decode - t);
    decode += pass_seconds(m, w.batch, 1, w.prefill + t + span / 2 + 1, d, count) * double(span);
  }
  b.ttft_s = prefill + pass_seconds(m, w.batch, 1, w.prefill + 1, d, count);
  b.tpot_s = w.decode ? decode / double(w.decode) : 0;
  b.tokens_per_s = w.decode ? double(w.batch * w.decode) / (prefill + decode) : 0;
  return b;
}

std::string compare_table(const std::vector<std::string>& baselines, const config::HardwareConfig& cfg,
                          uint32_t plena_devices, uint64_t batch, bool json) {
  struct Row {
    const char* model;
    const char* workload;
    uint64_t prefill, decode;
    double paper[4];  // A100, H100, TPU v6e, PLENA (paper v3 / project page, relative to A100)
  };
  const Row rows[] = {
      {"llama-3.1-8b", "GSM8K", 1400, 200, {1.00, 2.48, 0.88, 1.91}},
      {"llama-3.3-70b", "BFCL", 114000, 5000, {1.00, 2.04, 0.46, 2.23}},
      {"llama-3.3-70b", "OSWorld", 90000, 8000, {1.00, 2.34, 0.85, 2.21}},
  };
  std::vector<DeviceSpec> devs;
  for (const auto& n : baselines) devs.push_back(baseline_device(n));
  const DeviceSpec a100 = baseline_device("a100");
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  std::string s = fmt::format("throughput relative to 4x A100-80GB (output tokens/s, batch {}; ours | paper v3)\n", batch);
  s += fmt::format("{:<15} {:<18}", "model", "workload");
  for (const auto& d : devs) s += fmt::format(" {:>18}", fmt::format("{}x {}", d.default_count, d.name));
  s += fmt::format(" {:>18}\n", fmt::format("{}x PLENA", plena_devices));
  for (const auto& r : rows) {
    model::ModelConfig m = model::model_preset(r.model);
    const Workload w{r.prefill, r.decode, batch};
    const BaselineEstimate ref = baseline_estimate(m, a100, a100.default_count, w);
    nlohmann::ordered_json jr;
    jr["model"] = r.model;
    jr["workload"] = fmt::format("{} ({}/{})", r.workload, r.prefill, r.decode);
    s += fmt::format("{:<15} {:<18}", r.model, fmt::format("{} {}/{}", r.workload, r.prefill, r.decode));
    auto cell = [&](const std::string& key, double ours, bool ok, double paper) {
      jr[key] = {{"ours", ok ? nlohmann::ordered_json(ours) : nlohmann::ordered_json("OOM")}, {"paper", paper}};
      s += fmt::format(" {:>18}", ok ? fmt::format("{:.2f} | {:.2f}", ours, paper) : fmt::format("OOM | {:.2f}", paper));
    };
    for (const auto& d : devs) {
      const BaselineEstimate b = baseline_estimate(m, d, d.default_count, w);
      const int idx = d.name == "a100" ? 0 : d.name == "h100" ? 1 : 2;
      cell(d.name, ref.fits ? b.tokens_per_s / ref.tokens_per_s : 0, b.fits && ref.fits, r.paper[idx]);
    }
    Parallelism par;
    par.devices = plena_devices;
    bool ok = true;
    double rel = 0;
    try {
      Estimate e = estimate(m, cfg, w, par);
      rel = ref.fits ? e.tokens_per_s / ref.tokens_per_s : 0;
    } catch (const InputError&) {
      ok = false;
    }
    cell("plena", rel, ok, r.paper[3]);
    s += "\n";
    j.push_back(jr);
  }
  const std::string assumptions =
      fmt::format("baselines: roofline per op (max of FLOPs / ({:.0f}% of peak BF16) and bytes / ({:.0f}% of peak HBM)), "
                  "bf16 weights and KV, tensor parallel over all devices, ring all-reduce twice per layer over the "
                  "device link (+{} us per hop); PLENA: this analytic model on the given config, {} devices (tp x pp "
                  "as printed by plena estimate), its HBM formats and DRAM preset '{}'; batch {}. Paper numbers: "
                  "project page table (arXiv 2509.09505 v3); its batch size is not published. PLENA's long-context "
                  "rows are dominated by the current attention kernel's KV traffic (MLEN-wide KV rows, re-read per "
                  "query head and per FP-SRAM-sized query chunk; docs/analytic.md section 8).",
                  kComputeEfficiency * 100, kMemoryEfficiency * 100, kLinkLatencyUs, plena_devices, cfg.hbm.dram, batch);
  if (json) {
    nlohmann::ordered_json out;
    out["rows"] = j;
    out["assumptions"] = assumptions;
    std::vector<std::string> src;
    for (const auto& d : baseline_devices()) src.push_back(d.source);
    out["sources"] = src;
    return out.dump(2) + "\n";
  }
  s += "\nassumptions: " + assumptions + "\nsources:\n";
  for (const auto& d : baseline_devices()) s += "  - " + d.source + "\n";
  return s;
}

}  // namespace plena::analytic

// GPU/TPU baselines: a roofline over the same LLaMA op list (bf16 weights and KV, tensor parallel
// over the system's devices) at efficiencies solved from published measurements, and the paper's
// comparison table. Sources, calibrations and assumptions: docs/analytic.md §6.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analytic/analytic.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

constexpr double kLinkLatencyUs = 2.0;

// What one pass runs on: per-device rates after efficiency, and the storage widths.
struct PassHw {
  double flops = 0, bytes_per_s = 0, link_GBps = 0;
  uint32_t n = 1;
  double w_bytes = 2, kv_bytes = 2;  // per element
};

// One forward pass: the sum over ops of max(FLOP time, byte time) (each op its own roofline:
// no overlap across kernel boundaries) and, when `comm`, two ring all-reduces per layer.
// Linears read their weights once per pass; attention reads the KV cache once, causal FLOPs.
double pass_seconds(const model::ModelConfig& m, uint64_t batch, uint64_t q_len, uint64_t kv_len, const PassHw& hw,
                    bool ops, bool comm) {
  const double h = double(m.hidden_size), q = double(m.q_dim()), kv = double(m.kv_dim()),
               in = double(m.intermediate_size), L = double(m.num_hidden_layers), n = hw.n;
  const double rows = double(batch * q_len);
  double t = 0;
  auto op = [&](double flops, double bytes) { t += std::max(flops / (hw.flops * n), bytes / (hw.bytes_per_s * n)); };
  if (ops) {
    op(L * 2 * rows * h * (q + 2 * kv), L * hw.w_bytes * h * (q + 2 * kv));
    // Causal attention: each query sees on average (kv_len - q_len) + (q_len + 1) / 2 keys.
    const double keys = double(kv_len - q_len) + (double(q_len) + 1) / 2;
    op(L * 4 * double(batch) * double(q_len) * keys * q, L * double(batch) * double(kv_len) * 2 * kv * hw.kv_bytes);
    op(L * 2 * rows * q * h, L * hw.w_bytes * q * h);
    op(L * 2 * rows * 3 * h * in, L * hw.w_bytes * 3 * h * in);
    op(2 * double(batch) * h * double(m.vocab_size), hw.w_bytes * h * double(m.vocab_size));
  }
  if (comm && n > 1) {
    const double ar_bytes = rows * h * 2;  // bf16 activations
    t += L * 2 * (2.0 * (n - 1) / n * ar_bytes / (hw.link_GBps * 1e9) + 2.0 * (n - 1) * kLinkLatencyUs * 1e-6);
  }
  return t;
}

// The efficiency at which the pass reproduces a measured time: ideal op time / (measured - links).
double solve_efficiency(const model::ModelConfig& m, uint64_t q_len, uint64_t kv_len, const PassHw& peak,
                        double measured_s) {
  const double ideal = pass_seconds(m, 1, q_len, kv_len, peak, true, false);
  return ideal / (measured_s - pass_seconds(m, 1, q_len, kv_len, peak, false, true));
}

model::ModelConfig llama(const char* name, int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads,
                         int64_t kv_heads) {
  model::ModelConfig c;
  c.name = name;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  return c;
}

// Prefill: TensorRT-LLM's published batch-1 first-token latency of LLaMA-2-70B, 2048 tokens, FP16, TP4.
Calibration a100_compute() {
  const auto m = llama("llama-2-70b", 32000, 8192, 28672, 80, 64, 8);
  const double eff = solve_efficiency(m, 2048, 2048, {312e12, 2039e9, 600, 4}, 0.377);
  return {eff, fmt::format("A100 prefill {:.3f} of peak: TensorRT-LLM performance.md (v0.5 low-latency table), LLaMA 70B "
                           "FP16, batch 1, TP 4, 2048 input tokens: first-token latency 377 ms", eff)};
}

// Decode: one request of Llama-3.1-8B BF16 on vLLM at ~75 tokens/s on an A100-40GB (1,555 GB/s).
Calibration a100_memory() {
  const auto m = model::model_preset("llama-3.1-8b");
  const double eff = solve_efficiency(m, 1, 1024 + 64, {312e12, 1555e9, 600, 1}, 1.0 / 75.0);
  return {eff, fmt::format("A100 decode {:.3f} of peak HBM: vLLM 0.23 Llama-3.1-8B-Instruct BF16 on one A100-40GB, 1 "
                           "concurrent request, 1024 in / 128 out: ~75 tokens/s (johnmusgrave.com, 'vLLM "
                           "throughput-latency sweep on NVIDIA A100')", eff)};
}

// NVIDIA NIM 1.8.0 Llama-3.3-70B-Instruct, 2 x H100-80GB, FP8 TP2, 5000 in / 500 out, concurrency 1.
constexpr const char* kNim = "NVIDIA NIM LLM benchmarking performance page (v1.0.0): Llama-3.3-70B-Instruct NIM 1.8.0, 2 x "
                             "H100 80GB, FP8, TP 2, 5000 in / 500 out, concurrency 1";
Calibration h100_compute() {
  const auto m = model::model_preset("llama-3.3-70b");
  const double eff = solve_efficiency(m, 5000, 5000, {1979e12, 3350e9, 900, 2, 1, 1}, 0.40677);
  return {eff, fmt::format("H100 prefill {:.3f} of peak: {}: TTFT 406.77 ms against the 1,979 TFLOPS FP8 peak (assumption: "
                           "the same fraction of the BF16 peak)", eff, kNim)};
}
Calibration h100_memory() {
  const auto m = model::model_preset("llama-3.3-70b");
  const double eff = solve_efficiency(m, 1, 5000 + 250, {1979e12, 3350e9, 900, 2, 1, 2}, 0.01858);
  return {eff, fmt::format("H100 decode {:.3f} of peak HBM: {}: ITL 18.58 ms (FP8 weights; KV assumed BF16)", eff, kNim)};
}

}  // namespace

std::vector<DeviceSpec> baseline_devices() {
  const Calibration ac = a100_compute(), am = a100_memory();
  auto tpu = [](const Calibration& c, const char* what) {
    return Calibration{c.efficiency, fmt::format("TPU v6e {} {:.3f}: assumption (no published batch-1 measurement of "
                                                 "these models on v6e found): the A100 value", what, c.efficiency)};
  };
  return {
      {"a100", 312, 2039, 80, 600, 4,
       "NVIDIA A100 80GB SXM datasheet: 312 TFLOPS dense BF16, 2,039 GB/s HBM2e, NVLink 600 GB/s", ac, am},
      {"h100", 989, 3350, 80, 900, 4,
       "NVIDIA H100 SXM5 80GB datasheet: 989 TFLOPS dense BF16 (1,979 FP8), 3.35 TB/s HBM3, NVLink 900 GB/s",
       h100_compute(), h100_memory()},
      {"tpu-v6e", 918, 1640, 32, 448, 16,
       "Google Cloud TPU v6e (Trillium) docs: 918 TFLOPS BF16, 1,640 GB/s HBM, 32 GB, ICI 3,584 Gbps (448 GB/s)",
       tpu(ac, "prefill"), tpu(am, "decode")},
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
  // Tensor parallel beyond the KV heads replicates them.
  const double kv_copies = std::max(1.0, double(count) / double(m.num_key_value_heads));
  b.need_GB = (double(m.weight_bytes(16)) + double(m.kv_cache_bytes(w.prefill + w.decode, w.batch, 16)) * kv_copies) / 1e9;
  b.usable_GB = d.hbm_GB * kBaselineUsableHbm * count;
  b.fits = b.need_GB <= b.usable_GB;
  if (!b.fits) return b;
  const PassHw hw{d.peak_tflops * 1e12 * d.compute.efficiency, d.hbm_GBps * 1e9 * d.memory.efficiency, d.link_GBps,
                  count};
  b.prefill_s = pass_seconds(m, w.batch, w.prefill, w.prefill, hw, true, true);
  const uint64_t step = std::max<uint64_t>(1, w.decode / 64);
  for (uint64_t t = 0; t < w.decode; t += step) {
    const uint64_t span = std::min(step, w.decode - t);
    b.decode_s += pass_seconds(m, w.batch, 1, w.prefill + t + span / 2 + 1, hw, true, true) * double(span);
  }
  b.ttft_s = b.prefill_s;
  b.tpot_s = w.decode ? b.decode_s / double(w.decode) : 0;
  b.tokens_per_s = w.decode ? double(w.batch * w.decode) / (b.prefill_s + b.decode_s) : 0;
  return b;
}

}  // namespace plena::analytic

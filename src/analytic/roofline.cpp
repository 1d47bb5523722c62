// Roofs of a whole step (what the model must compute and move, at the hardware's peaks) and the
// per-op roofline view of an estimate. Definitions: docs/analytic.md §Roofline.
#include <fmt/format.h>

#include <algorithm>

#include "analytic/analytic.hpp"
#include "dram/dram.hpp"
#include "numerics/numerics.hpp"

namespace plena::analytic {

double hbm_format_bits(const numerics::Format& f) {
  const size_t n = 1 << 16;
  return 8.0 * double(numerics::packed_element_bytes(f, n) + numerics::scale_bytes(f, n)) / double(n);
}

namespace {

// Keys the queries of one sequence attend to in total: query i (0-based) of q_len sits at
// position past + i and sees past + i + 1 keys, at most `window` of them when a window is set.
uint64_t causal_key_sum(uint64_t q_len, uint64_t past, uint64_t window) {
  const auto tri = [](uint64_t a, uint64_t b) { return (a + b) * (b - a + 1) / 2; };  // a + ... + b
  const uint64_t first = past + 1, last = past + q_len;
  if (window == 0 || last <= window) return tri(first, last);
  if (first >= window) return q_len * window;
  return tri(first, window) + (last - window) * window;
}

}  // namespace

StepRoof step_roof(const model::ModelConfig& m, const config::HardwareConfig& cfg, uint32_t devices, uint64_t batch,
                   uint64_t q_len, uint64_t kv_len) {
  const uint64_t h = uint64_t(m.hidden_size), vocab_table = uint64_t(m.vocab_size) * h;
  // linear_param_count includes an untied lm_head; a tied one is a quantized copy of the table.
  const uint64_t lin = m.linear_param_count(), head = vocab_table;
  const uint64_t body = m.tie_word_embeddings ? lin : lin - head;
  const uint64_t small = m.param_count() - lin - vocab_table;  // norms and biases (bf16)
  StepRoof r;
  // Every row passes the layers; the lm_head sees one row per sequence (the compiler gathers it).
  r.linear_macs = batch * q_len * body + batch * head;
  const uint64_t keys = causal_key_sum(q_len, kv_len - q_len, uint64_t(m.sliding_window));
  r.attention_macs = batch * uint64_t(m.num_hidden_layers) * uint64_t(m.q_dim()) * 2 * keys;  // QK^T and PV
  r.weight_bytes = uint64_t(double(body + head) * hbm_format_bits(cfg.formats.m_weight) / 8.0) + small * 2;
  r.embedding_bytes = batch * q_len * h * 2;  // gathered bf16 rows, not the table
  r.kv_bytes = m.kv_cache_bytes(kv_len, batch, hbm_format_bits(cfg.formats.m_kv));
  const double macs_per_s = double(cfg.geometry.mlen) * double(cfg.geometry.blen) * cfg.compute.clock_ghz * 1e9;
  r.compute_roof_s = double(r.macs()) / (macs_per_s * devices);
  r.memory_roof_s = double(r.bytes()) / (dram::preset(cfg.hbm.dram).peak_bandwidth_GBps() * 1e9 * devices);
  if (!cfg.memory.empty()) {
    // Pools stream in parallel: the slowest pool's share bounds the step.
    std::vector<double> bytes(cfg.memory.size(), 0.0);
    bytes[config::pool_index(cfg, config::MemoryClass::Weights)] += double(r.weight_bytes + r.embedding_bytes);
    bytes[config::pool_index(cfg, config::MemoryClass::Kv)] += double(r.kv_bytes);
    r.memory_roof_s = 0;
    for (size_t i = 0; i < bytes.size(); ++i)
      r.memory_roof_s = std::max(r.memory_roof_s, bytes[i] / (config::pool_params(cfg, i).peak_bandwidth_GBps() * 1e9 * devices));
  }
  return r;
}

namespace {

std::string step_roofs_text(const Estimate& e) {
  std::string s = fmt::format(
      "step roofs ({} device(s), ideal split): compute = model MACs / (devices x MLEN x BLEN x clock), memory = bytes "
      "moved once / (devices x peak HBM bandwidth)\n",
      e.devices);
  s += fmt::format("  {:<18} {:>9} {:>9} {:>10} {:>10} {:>9} {:>12} {:>11} {:>11} {:>9} {:>9}\n", "step", "linear T",
                   "attn T", "weights GB", "KV GB", "embed MB", "compute ms", "memory ms", "achieved ms", "x comp",
                   "x mem");
  auto row = [&](const char* name, const StepRoof& r) {
    s += fmt::format("  {:<18} {:>9.3f} {:>9.3f} {:>10.3f} {:>10.4f} {:>9.3f} {:>12.3f} {:>11.3f} {:>11.3f} {:>9.2f} {:>9.2f}\n",
                     name, double(r.linear_macs) / 1e12, double(r.attention_macs) / 1e12, double(r.weight_bytes) / 1e9,
                     double(r.kv_bytes) / 1e9, double(r.embedding_bytes) / 1e6, r.compute_roof_s * 1e3,
                     r.memory_roof_s * 1e3, r.achieved_s * 1e3, r.achieved_s / r.compute_roof_s,
                     r.achieved_s / r.memory_roof_s);
  };
  row("prefill", e.prefill_roof);
  row("decode (first)", e.decode_roof);
  s += "  (prefill moves the weights once, writes the prompt's K/V; decode reads the weights without the embedding\n"
       "   table and the context's K/V; x comp / x mem: achieved step time over each roof)\n\n";
  return s;
}

}  // namespace

std::string roofline_text(const Estimate& e, const config::HardwareConfig& cfg) {
  const double clock = cfg.compute.clock_ghz * 1e9;
  const double peak_macs = double(cfg.geometry.mlen) * cfg.geometry.blen * clock;  // MAC/s, one device
  const double bw = e.peak_GBps * 1e9;
  const double ridge = peak_macs / bw;
  std::string s = step_roofs_text(e);
  s += fmt::format(
      "roofline per op (one device): peak {:.2f} TMAC/s (MLEN x BLEN x clock), HBM peak {:.1f} GB/s, ridge {:.1f} MAC/B\n",
      peak_macs / 1e12, e.peak_GBps, ridge);
  auto phase = [&](const char* title, const PhaseEstimate& ph) {
    s += fmt::format("{}:\n  {:<14} {:>12} {:>14} {:>14} {:>10}\n", title, "op", "MAC/B", "attained TMAC/s",
                     "roof TMAC/s", "of roof");
    for (const auto& o : ph.ops) {
      const double bytes = double(o.hbm_read_bytes + o.hbm_write_bytes);
      if (o.macs == 0) continue;
      const double ai = bytes > 0 ? double(o.macs) / bytes : 1e30;
      const double secs = o.cycles / clock;
      const double attained = double(o.macs) / secs;
      const double roof = std::min(peak_macs, ai * bw);
      const std::string ai_text = bytes > 0 ? fmt::format("{:.2f}", ai) : "no HBM";
      s += fmt::format("  {:<14} {:>12} {:>14.4f} {:>14.4f} {:>9.1f}%\n", o.name, ai_text, attained / 1e12, roof / 1e12,
                       100.0 * attained / roof);
    }
  };
  phase("prefill", e.prefill);
  phase("decode (first step)", e.decode_first);
  return s;
}

}  // namespace plena::analytic

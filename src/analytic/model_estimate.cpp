// Whole-model composition: per-layer op list (LLaMA block), prefill and decode phases, tensor and
// pipeline parallel splits, capacity check, energy. Formulas: docs/analytic.md §3-§5.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analytic/analytic.hpp"
#include "support/math.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernel_registry.hpp"
#include "compiler/layer_plan.hpp"
#include "compiler/kernels_attention.hpp"
#include "dram/dram.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {


// Bits per element of a format in HBM, scales included.
double format_bits(const numerics::Format& f) {
  const size_t n = 1 << 16;
  return 8.0 * double(numerics::packed_element_bytes(f, n) + numerics::scale_bytes(f, n)) / double(n);
}

// Rows of activations a VRAM holds at once for this layer (prefill is processed in row chunks
// of this size; weights are re-streamed per chunk).
uint64_t vram_row_chunk(const config::HardwareConfig& cfg, const compiler::ModelDims& s) {
  const uint64_t vlen = cfg.geometry.vlen, blen = cfg.geometry.blen;
  const uint64_t blocks = (2 * s.hidden + s.q_cols + 2 * s.kv_cols + 2 * s.inter) / vlen + 2;
  uint64_t r = cfg.sram.vector_depth / blocks / blen * blen;
  return std::max<uint64_t>(blen, r);
}

struct Ctx {
  const model::ModelConfig& m;
  const config::HardwareConfig& cfg;
  MemoryModel& mem;
  compiler::ModelDims s;  // one device's share
  uint32_t tp, pp;
  double link_GBps, link_lat_us;
  double period_s;
  uint64_t capacity;  // KV cache rows per sequence (prompt + generated, as the runner sizes it)
};

// Totals of repeated calls (a linear over several VRAM row chunks).
void scale(OpEstimate& e, double f) {
  e.cycles *= f;
  e.matrix_cycles *= f;
  e.vector_cycles *= f;
  e.dma_cycles *= f;
  e.issue_cycles *= f;
  e.instructions = uint64_t(double(e.instructions) * f);
  e.hbm_read_bytes = uint64_t(double(e.hbm_read_bytes) * f);
  e.hbm_write_bytes = uint64_t(double(e.hbm_write_bytes) * f);
  e.macs = uint64_t(double(e.macs) * f);
}
void accumulate(OpEstimate& e, const OpEstimate& o) {
  e.cycles += o.cycles;
  e.matrix_cycles += o.matrix_cycles;
  e.vector_cycles += o.vector_cycles;
  e.dma_cycles += o.dma_cycles;
  e.issue_cycles += o.issue_cycles;
  e.instructions += o.instructions;
  e.hbm_read_bytes += o.hbm_read_bytes;
  e.hbm_write_bytes += o.hbm_write_bytes;
  e.macs += o.macs;
}

void add(PhaseEstimate& ph, OpEstimate e, std::string name, double calls) {
  e.name = std::move(name);
  e.calls = calls;
  ph.ops.push_back(std::move(e));
}

// The head width the attention kernel is costed at: its KV layout takes whole HLEN and BLEN
// multiples, so a narrower head (64 on an HLEN-128 config) is costed zero-padded to the next one —
// what the compiler will emit once it pads heads (documented in the assumptions).
uint64_t attention_head_dim(const config::HardwareConfig& cfg, uint64_t head_dim) {
  const uint64_t g = std::lcm<uint64_t>(cfg.geometry.hlen, cfg.geometry.blen);
  return round_up(head_dim, g);
}

// One planned call on one device: the kernel's counted cost composed into time. A linear whose
// rows exceed what the VRAM holds is costed in VRAM-sized row chunks (weights re-streamed per
// chunk); a KV-layout call (attention, KV store) takes the head width the layout allows.
OpEstimate estimate_call(const Ctx& c, const compiler::PlannedCall& call) {
  const auto& cfg = c.cfg;
  compiler::KernelShape shape = call.shape;
  if (shape.get_or("kv_heads", 0)) shape.set("head_dim", attention_head_dim(cfg, shape.get("head_dim")));
  if (compiler::find_kernel(call.kernel).schedule != compiler::KernelSchedule::StreamedWeights)
    return estimate_op(cfg, c.mem, call.kernel, shape);
  const uint64_t blen = cfg.geometry.blen, rows = shape.get("rows"), vram_chunk = vram_row_chunk(cfg, c.s);
  if (rows <= vram_chunk) return estimate_op(cfg, c.mem, call.kernel, shape);
  const uint64_t full = rows / vram_chunk, rem = rows % vram_chunk;
  OpEstimate tot = estimate_op(cfg, c.mem, call.kernel, compiler::KernelShape(shape).set("rows", vram_chunk));
  scale(tot, double(full));
  if (rem) accumulate(tot, estimate_op(cfg, c.mem, call.kernel, compiler::KernelShape(shape).set("rows", round_up(rem, blen))));
  return tot;
}

// Two all-reduces per layer under tensor parallelism (after the attention and MLP blocks).
OpEstimate all_reduce(const Ctx& c, uint64_t rows) {
  OpEstimate e;
  e.exact_schedule = false;
  const double bytes = double(rows * uint64_t(c.m.hidden_size) * 2);  // bf16 activations
  const double t = 2.0 * double(c.tp - 1) / double(c.tp) * bytes / (c.link_GBps * 1e9) +
                   2.0 * double(c.tp - 1) * c.link_lat_us * 1e-6;
  e.cycles = t / c.period_s;
  e.bound = Bound::Memory;
  return e;
}

// The step plan's calls (compiler::step_plan: the model compiler emits the same list) on one device.
void plan_ops(const Ctx& c, PhaseEstimate& ph, const std::vector<compiler::PlannedCall>& calls, uint64_t rows, double mult) {
  for (const auto& call : calls) {
    add(ph, estimate_call(c, call), call.name, mult);
    if (call.all_reduce_after && c.tp > 1) add(ph, all_reduce(c, rows), "tp_allreduce", mult);
  }
}

void finish_phase(PhaseEstimate& ph, const Ctx& c, const EnergyModel& en) {
  double cycles = 0, macs = 0, bytes = 0, vec = 0;
  for (const auto& o : ph.ops) {
    cycles += o.cycles * o.calls;
    macs += double(o.macs) * o.calls;
    bytes += double(o.hbm_read_bytes + o.hbm_write_bytes) * o.calls;
    vec += o.vector_cycles * o.calls * double(c.cfg.geometry.vlen);
  }
  ph.seconds = cycles * c.period_s;
  ph.hbm_bytes = uint64_t(bytes / double(c.pp));
  // Op calls already count every stage's layers (stages run one after another), so the device
  // total only multiplies by the tp shards.
  const double devices = double(c.tp);
  ph.macs = uint64_t(macs * devices);
  ph.energy_j = devices * (macs * en.pj_per_mac + vec * en.pj_per_vector_elem + bytes * 8.0 * en.pj_per_hbm_bit) * 1e-12;
}

// One forward pass (all layers, all stages) for batch sequences of q_len tokens at context kv_len.
PhaseEstimate pass(const Ctx& c, const EnergyModel& en, uint64_t batch, uint64_t q_len, uint64_t kv_len, bool with_ops) {
  PhaseEstimate ph;
  const double layers_per_stage = double(ceil_div(uint64_t(c.m.num_hidden_layers), c.pp));
  const compiler::StepPlan plan = compiler::step_plan(c.s, c.cfg, {batch, q_len, kv_len - q_len, c.capacity});
  plan_ops(c, ph, plan.head, batch * q_len, 1);
  plan_ops(c, ph, plan.layer, batch * q_len, layers_per_stage * double(c.pp));  // stages run one after another
  plan_ops(c, ph, plan.tail, batch, 1);
  if (c.pp > 1) {
    OpEstimate e;
    e.exact_schedule = false;
    const double bytes = double(batch * q_len * uint64_t(c.m.hidden_size) * 2);
    e.cycles = (bytes / (c.link_GBps * 1e9) + c.link_lat_us * 1e-6) / c.period_s;
    e.bound = Bound::Memory;
    add(ph, e, "pp_transfer", double(c.pp - 1));
  }
  finish_phase(ph, c, en);
  if (!with_ops) ph.ops.clear();
  return ph;
}

}  // namespace

EnergyModel default_energy(const config::HardwareConfig& cfg) {
  EnergyModel e;
  const std::string& d = cfg.hbm.dram;
  if (d == "hbm2" || d == "hbm2e") {
    e.pj_per_hbm_bit = 6.0;
    e.hbm_source = "HBM2E 6.0 pJ/bit (Micron ultra-bandwidth page; anchors 2.2)";
  } else if (d == "hbm3" || d == "hbm3e") {
    e.pj_per_hbm_bit = 8.0;
    e.hbm_source = "HBM3E ~7-9 pJ/bit, midpoint (patsnap; anchors 2.2)";
  } else if (d == "gddr6" || d == "gddr7") {
    e.pj_per_hbm_bit = 7.5;
    e.hbm_source = "GDDR6 7.5 pJ/bit (Micron; anchors 2.2; GDDR7 not published, same value assumed)";
  } else {
    e.pj_per_hbm_bit = 6.0;
    e.hbm_source = "no published value for '" + d + "' in the anchors: HBM2E 6.0 pJ/bit assumed";
  }
  return e;
}

namespace {

Estimate estimate_split(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Workload& w,
                        const Parallelism& par, MemoryModel& mem) {
  uint32_t tp = par.tp, pp = par.pp;
  if (tp == 0) {
    tp = par.devices / pp;
  } else if (pp == 0) {
    pp = par.devices / tp;
  }
  if (tp == 0 || pp == 0 || uint64_t(tp) * pp != par.devices)
    throw InputError(fmt::format("error: --tp {} x --pp {} must equal --devices {}", tp, pp, par.devices));
  if (pp > uint64_t(m.num_hidden_layers))
    throw InputError(fmt::format("error: --pp {} exceeds the model's {} layers", pp, m.num_hidden_layers));

  // KV rows per sequence as the runner sizes the cache (ModelCompileOptions::max_positions + a writeback group).
  const uint64_t capacity = w.prefill + (w.decode ? w.decode - 1 : 0) + cfg.hbm.v_writeback_amount;
  Ctx c{m,  cfg, mem, compiler::model_dims(m, cfg, tp), tp, pp, par.link_GBps, par.link_latency_us,
        mem.ps_per_cycle() * 1e-12, capacity};
  const EnergyModel en = default_energy(cfg);

  Estimate e;
  e.model = m.name;
  e.work = w;
  e.devices = par.devices;
  e.tp = tp;
  e.pp = pp;
  e.link_GBps = par.link_GBps;
  e.link_latency_us = par.link_latency_us;
  e.hbm_capacity = cfg.hbm.size_bytes;
  e.peak_GBps = mem.peak_GBps();
  e.dram_efficiency = mem.sequential_efficiency();

  // Capacity: the quantized linears per device (embeddings in bf16 on the first stage), KV cache.
  const double wbits = format_bits(cfg.formats.m_weight), kvbits = format_bits(cfg.formats.m_kv);
  const uint64_t lin = m.linear_param_count(), all = m.param_count();
  e.weight_bytes_per_device = uint64_t(double(lin) * wbits / 8.0 / double(tp * pp) + double(all - lin) * 2.0 / tp);
  const uint64_t ctx = w.prefill + w.decode;
  const double kv_per_dev = double(m.kv_cache_bytes(ctx, w.batch, kvbits)) * double(c.s.kv_heads) /
                            double(m.num_key_value_heads) / double(pp);
  e.kv_bytes_per_device = uint64_t(kv_per_dev);
  const uint64_t need = e.weight_bytes_per_device + e.kv_bytes_per_device;
  if (need > cfg.hbm.size_bytes) {
    const double per_dev_total = double(m.weight_bytes(wbits)) + double(m.kv_cache_bytes(ctx, w.batch, kvbits));
    const uint64_t min_dev = uint64_t(std::ceil(per_dev_total / double(cfg.hbm.size_bytes)));
    throw InputError(fmt::format(
        "error: {} needs {:.1f} GiB per device ({:.1f} GiB weights + {:.1f} GiB KV cache for {} x {} tokens) on {} "
        "device(s) (tp {} x pp {}), but hbm.size_bytes is {:.1f} GiB: use --devices >= {} (tensor/pipeline parallel) "
        "or a larger HBM",
        m.name, double(need) / 1073741824.0, double(e.weight_bytes_per_device) / 1073741824.0,
        double(e.kv_bytes_per_device) / 1073741824.0, w.batch, ctx, par.devices, tp, pp,
        double(cfg.hbm.size_bytes) / 1073741824.0, std::max<uint64_t>(min_dev, par.devices + 1)));
  }

  e.prefill = pass(c, en, w.batch, w.prefill, w.prefill, true);
  e.decode_first = pass(c, en, w.batch, 1, w.prefill + 1, true);
  // Decode: the layer work is affine in the context within one KV tile; evaluate each step's
  // attention exactly for short runs and at tile boundaries (piecewise linear) for long ones.
  double decode_s = 0, decode_j = 0, decode_bytes = 0;
  if (w.decode > 0) {
    const uint64_t step = w.decode <= 64 ? 1 : std::max<uint64_t>(1, w.decode / 64);
    uint64_t t = 0;
    while (t < w.decode) {
      const uint64_t span = std::min(step, w.decode - t);
      const uint64_t mid = t + span / 2;
      PhaseEstimate p = pass(c, en, w.batch, 1, w.prefill + mid + 1, false);
      decode_s += p.seconds * double(span);
      decode_j += p.energy_j * double(span);
      decode_bytes += double(p.hbm_bytes) * double(span);
      t += span;
    }
  }
  e.decode_s = decode_s;
  e.tpot_s = w.decode ? decode_s / double(w.decode) : 0;
  e.ttft_s = e.prefill.seconds + e.decode_first.seconds;
  const double total_s = e.prefill.seconds + decode_s;
  e.tokens_per_s = w.decode ? double(w.batch * w.decode) / total_s : 0;
  e.energy_j = e.prefill.energy_j + decode_j;
  e.hbm_bytes = e.prefill.hbm_bytes + uint64_t(decode_bytes);

  e.assumptions = {
      fmt::format("batch {} sequences, {} prompt + {} generated tokens each", w.batch, w.prefill, w.decode),
      fmt::format("{} device(s): tensor parallel {} (heads, FFN columns and vocab split; kv heads replicated when tp > "
                  "{}), pipeline parallel {} (layers split; one microbatch, stages run one after another)",
                  par.devices, tp, m.num_key_value_heads, pp),
      fmt::format("interconnect {} GB/s, {} us per message; ring all-reduce of bf16 activations twice per layer",
                  par.link_GBps, par.link_latency_us),
      "every kernel: counts from its own emitter on the compiler's counting back-end (compiler::count_kernel): "
      "instructions, unit cycles and transfers exactly as executed; DMA per transfer from a DRAM micro-calibration",
      attention_head_dim(cfg, c.s.head_dim) == c.s.head_dim
          ? fmt::format("attention: head_dim {}", c.s.head_dim)
          : fmt::format("attention: head_dim {} costed zero-padded to {} (the KV layout takes HLEN {} and BLEN {} "
                        "multiples; the compiler does not place this head width yet)",
                        c.s.head_dim, attention_head_dim(cfg, c.s.head_dim), cfg.geometry.hlen, cfg.geometry.blen),
      "decoupled mode: op time = overlap of matrix, vector, DMA and issue (one instruction/cycle); ops run back to back",
      fmt::format("prefill rows processed in VRAM-sized chunks of {} rows (weights re-streamed per chunk)",
                  std::min(round_up(w.batch * w.prefill, cfg.geometry.blen), vram_row_chunk(cfg, c.s))),
      fmt::format("energy: {} pJ/MAC (bf16, assumed), {} pJ per vector element op (assumed), {} pJ/bit HBM: {}; SRAM "
                  "and static power not modelled",
                  en.pj_per_mac, en.pj_per_vector_elem, en.pj_per_hbm_bit, en.hbm_source),
  };
  return e;
}

}  // namespace

Estimate estimate(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Workload& w,
                  const Parallelism& par) {
  if (w.batch == 0 || w.prefill == 0) throw InputError("error: --prefill and --batch must be at least 1");
  if (par.devices == 0) throw InputError("error: --devices must be at least 1");
  MemoryModel mem(cfg);  // shared: each DMA pattern is calibrated once for all candidates
  if (par.tp != 0 || par.pp != 0) return estimate_split(m, cfg, w, par, mem);
  // Automatic split: every tp x pp = devices factorization (tp up to the attention heads, pp up to
  // the layers) whose weights and KV fit; the one with the shortest request (prefill + all decode
  // steps) wins, the smaller tp on ties. Shard padding to MLEN makes the best split config-dependent.
  std::optional<Estimate> best;
  std::optional<InputError> first_error;
  std::vector<std::string> tried;
  for (uint32_t tp = 1; tp <= par.devices; ++tp) {
    if (par.devices % tp || tp > uint64_t(m.num_attention_heads) || par.devices / tp > uint64_t(m.num_hidden_layers))
      continue;
    Parallelism p = par;
    p.tp = tp;
    p.pp = par.devices / tp;
    try {
      Estimate e = estimate_split(m, cfg, w, p, mem);
      const double total = e.prefill.seconds + e.decode_s;
      tried.push_back(fmt::format("tp {} x pp {}: {:.3f} s", p.tp, p.pp, total));
      if (!best || total < best->prefill.seconds + best->decode_s) best = std::move(e);
    } catch (const InputError& err) {
      tried.push_back(fmt::format("tp {} x pp {}: does not fit", p.tp, p.pp));
      if (!first_error) first_error = err;
    }
  }
  if (!best) {
    if (first_error) throw *first_error;
    throw InputError(fmt::format("error: no tensor x pipeline split of {} devices fits {}", par.devices, m.name));
  }
  if (tried.size() > 1)
    best->assumptions.insert(best->assumptions.begin() + 2,
                             fmt::format("split chosen automatically (shortest prefill + decode): {}", fmt::join(tried, "; ")));
  return *best;
}

std::string to_text(const Estimate& e) {
  std::string s;
  s += fmt::format("model {}  devices {} (tp {} x pp {})  batch {}  prefill {}  decode {}\n", e.model, e.devices, e.tp,
                   e.pp, e.work.batch, e.work.prefill, e.work.decode);
  s += fmt::format("TTFT            {:.3f} ms\n", e.ttft_s * 1e3);
  s += fmt::format("time per token  {:.3f} ms\n", e.tpot_s * 1e3);
  s += fmt::format("tokens/s        {:.1f}  (batch x decode / (prefill + decode time))\n", e.tokens_per_s);
  s += fmt::format("HBM traffic     {:.3f} GB per device  (peak {:.1f} GB/s, sequential efficiency {:.3f})\n",
                   double(e.hbm_bytes) / 1e9, e.peak_GBps, e.dram_efficiency);
  s += fmt::format("energy          {:.3f} J (all devices)\n", e.energy_j);
  s += fmt::format("memory/device   {:.2f} GiB weights + {:.2f} GiB KV of {:.2f} GiB\n",
                   double(e.weight_bytes_per_device) / 1073741824.0, double(e.kv_bytes_per_device) / 1073741824.0,
                   double(e.hbm_capacity) / 1073741824.0);
  auto table = [&](const char* title, const PhaseEstimate& ph) {
    s += fmt::format("\n{} ({:.3f} ms): per-op breakdown, one device\n", title, ph.seconds * 1e3);
    s += fmt::format("  {:<14} {:>7} {:>12} {:>8} {:>12} {:>12} {:>12} {:>12} {:>8}\n", "op", "calls", "ms", "share",
                     "matrix cyc", "vector cyc", "dma cyc", "HBM MB", "bound");
    double tot = 0;
    for (const auto& o : ph.ops) tot += o.cycles * o.calls;
    for (const auto& o : ph.ops)
      s += fmt::format("  {:<14} {:>7.0f} {:>12.4f} {:>7.1f}% {:>12.3g} {:>12.3g} {:>12.3g} {:>12.3f} {:>8}{}\n", o.name,
                       o.calls, o.cycles * o.calls / tot * ph.seconds * 1e3, 100.0 * o.cycles * o.calls / tot,
                       o.matrix_cycles, o.vector_cycles, o.dma_cycles,
                       double(o.hbm_read_bytes + o.hbm_write_bytes) * o.calls / 1e6, bound_name(o.bound),
                       o.exact_schedule ? "" : " ~");
  };
  table("prefill", e.prefill);
  table("first decode step", e.decode_first);
  s += "  (~: approximate counts, see docs/analytic.md)\n\nassumptions:\n";
  for (const auto& a : e.assumptions) s += "  - " + a + "\n";
  return s;
}

std::string to_json(const Estimate& e) {
  nlohmann::ordered_json j;
  j["model"] = e.model;
  j["devices"] = e.devices;
  j["tp"] = e.tp;
  j["pp"] = e.pp;
  j["batch"] = e.work.batch;
  j["prefill_tokens"] = e.work.prefill;
  j["decode_tokens"] = e.work.decode;
  j["ttft_s"] = e.ttft_s;
  j["tpot_s"] = e.tpot_s;
  j["tokens_per_s"] = e.tokens_per_s;
  j["decode_s"] = e.decode_s;
  j["hbm_bytes_per_device"] = e.hbm_bytes;
  j["energy_j"] = e.energy_j;
  j["weight_bytes_per_device"] = e.weight_bytes_per_device;
  j["kv_bytes_per_device"] = e.kv_bytes_per_device;
  j["hbm_capacity_bytes"] = e.hbm_capacity;
  j["dram_peak_gbps"] = e.peak_GBps;
  j["dram_sequential_efficiency"] = e.dram_efficiency;
  auto phase = [](const PhaseEstimate& ph) {
    nlohmann::ordered_json p;
    p["time_s"] = ph.seconds;
    p["hbm_bytes"] = ph.hbm_bytes;
    p["macs"] = ph.macs;
    p["energy_j"] = ph.energy_j;
    auto& ops = p["ops"] = nlohmann::ordered_json::array();
    for (const auto& o : ph.ops) {
      nlohmann::ordered_json x;
      x["name"] = o.name;
      x["calls"] = o.calls;
      x["cycles"] = o.cycles;
      x["matrix_cycles"] = o.matrix_cycles;
      x["vector_cycles"] = o.vector_cycles;
      x["dma_cycles"] = o.dma_cycles;
      x["issue_cycles"] = o.issue_cycles;
      x["hbm_read_bytes"] = o.hbm_read_bytes;
      x["hbm_write_bytes"] = o.hbm_write_bytes;
      x["macs"] = o.macs;
      x["bound"] = bound_name(o.bound);
      x["exact_schedule"] = o.exact_schedule;
      ops.push_back(x);
    }
    return p;
  };
  j["prefill"] = phase(e.prefill);
  j["decode_first_step"] = phase(e.decode_first);
  j["assumptions"] = e.assumptions;
  return j.dump(2) + "\n";
}

std::string roofline_text(const Estimate& e, const config::HardwareConfig& cfg) {
  const double clock = cfg.compute.clock_ghz * 1e9;
  const double peak_macs = double(cfg.geometry.mlen) * cfg.geometry.blen * clock;  // MAC/s, one device
  const double bw = e.peak_GBps * 1e9;
  const double ridge = peak_macs / bw;
  std::string s = fmt::format(
      "roofline (one device): peak {:.2f} TMAC/s (MLEN x BLEN x clock), HBM peak {:.1f} GB/s, ridge {:.1f} MAC/B\n",
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

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
#include "dram/dram.hpp"
#include "analytic/interconnect.hpp"
#include "support/math.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernel_registry.hpp"
#include "compiler/layer_plan.hpp"
#include "compiler/shard.hpp"
#include "compiler/model_compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "dram/dram.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {


struct Ctx {
  const model::ModelConfig& m;
  const config::HardwareConfig& cfg;
  MemoryModel& mem;
  compiler::ModelDims s;  // one device's share
  uint32_t tp, pp;
  Link link;
  double period_s;
  uint64_t capacity;  // KV cache rows per sequence (prompt + generated, as the runner sizes it)
  const ppa::EnergyModel& energy;
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
  for (double& b : e.pool_bytes) b *= f;
  e.macs = uint64_t(double(e.macs) * f);
  for (double& n : e.per_opcode) n *= f;
  e.link_bytes *= f;
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
  for (size_t i = 0; i < e.pool_bytes.size(); ++i) e.pool_bytes[i] += o.pool_bytes[i];
  e.macs += o.macs;
  for (size_t i = 0; i < e.per_opcode.size(); ++i) e.per_opcode[i] += o.per_opcode[i];
  e.link_bytes += o.link_bytes;
}

void add(PhaseEstimate& ph, OpEstimate e, std::string name, double calls) {
  e.name = std::move(name);
  e.calls = calls;
  ph.ops.push_back(std::move(e));
}

// One planned call on one device: the kernel's counted cost composed into time (a step's rows
// fit the VRAM: the prefill is chunked as the compiler chunks it). Heads come placed at the
// compiler's width (model_dims: placed_head_dim).
OpEstimate estimate_call(const Ctx& c, const compiler::PlannedCall& call) {
  compiler::KernelShape shape = call.shape;
  return estimate_op(c.cfg, c.mem, call.kernel, shape);
}

// Two all-reduces per layer under tensor parallelism (after the attention and MLP blocks), on the
// interconnect model `plena run --devices` charges too (interconnect.hpp).
OpEstimate all_reduce(const Ctx& c, uint64_t rows) {
  OpEstimate e;
  e.exact_schedule = false;
  const double bytes = double(activation_bytes(rows, uint64_t(c.m.hidden_size)));
  const double t = all_reduce_seconds(bytes, c.tp, c.link);
  e.link_bytes = all_reduce_link_bytes(bytes, c.tp) / double(c.tp);  // one device's share
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

// Energy: the counted events x the PPA tables (ppa::EnergyModel), the model `plena run` applies
// to the simulator's counts; every device leaks for the whole phase.
void finish_phase(PhaseEstimate& ph, const Ctx& c) {
  double cycles = 0, macs = 0, bytes = 0;
  std::array<double, config::kMaxPools> pools{};
  ppa::Activity act;
  for (const auto& o : ph.ops) {
    cycles += o.cycles * o.calls;
    macs += double(o.macs) * o.calls;
    bytes += double(o.hbm_read_bytes + o.hbm_write_bytes) * o.calls;
    for (size_t i = 0; i < pools.size(); ++i) pools[i] += o.pool_bytes[i] * o.calls;
    act.add(op_activity(o, 0), o.calls);
  }
  ph.seconds = cycles * c.period_s;
  ph.hbm_bytes = uint64_t(bytes / double(c.pp));
  ph.pool_bytes.clear();
  for (size_t i = 0; i < std::max<size_t>(1, c.cfg.memory.size()); ++i)
    ph.pool_bytes.push_back(c.cfg.memory.empty() ? ph.hbm_bytes : uint64_t(pools[i] / double(c.pp)));
  // Op calls already count every stage's layers (stages run one after another), so the device
  // total only multiplies by the tp shards.
  const double devices = double(c.tp);
  ph.macs = uint64_t(macs * devices);
  ppa::Activity idle;
  idle.seconds = ph.seconds * double(c.tp * c.pp);
  ph.energy = ppa::Energy{}.add(c.energy(act), devices);
  ph.energy.leakage_j = 0;
  ph.energy.add(c.energy(idle));
  ph.energy_j = ph.energy.total_j();
}

// One forward pass (all layers, all stages) for batch sequences of q_len tokens at context kv_len;
// without logits (a prefill chunk before the last) no final norm and LM head.
PhaseEstimate pass(const Ctx& c, uint64_t batch, uint64_t q_len, uint64_t kv_len, bool with_ops,
                   bool logits = true) {
  PhaseEstimate ph;
  const compiler::StepPlan plan = compiler::step_plan(c.s, c.cfg, {batch, q_len, kv_len - q_len, c.capacity, logits});
  plan_ops(c, ph, plan.head, batch * q_len, 1);
  // Stages run one after another (one microbatch): every layer of every stage, in turn.
  plan_ops(c, ph, plan.layer, batch * q_len, double(c.m.num_hidden_layers));
  plan_ops(c, ph, plan.tail, batch, 1);
  if (c.pp > 1) {
    OpEstimate e;
    e.exact_schedule = false;
    const double bytes = double(activation_bytes(batch * q_len, uint64_t(c.m.hidden_size)));
    e.cycles = handoff_seconds(bytes, c.link) / c.period_s;
    e.bound = Bound::Memory;
    e.link_bytes = bytes;
    add(ph, e, "pp_transfer", double(c.pp - 1));
  }
  finish_phase(ph, c);
  if (!with_ops) ph.ops.clear();
  return ph;
}

// Adds one prefill step's ops to `total`: an op of the same name accumulates (calls add up, the
// per-call figures become the mean over the steps).
void merge_step(PhaseEstimate& total, const PhaseEstimate& step) {
  total.seconds += step.seconds;
  total.hbm_bytes += step.hbm_bytes;
  total.pool_bytes.resize(std::max(total.pool_bytes.size(), step.pool_bytes.size()));
  for (size_t i = 0; i < step.pool_bytes.size(); ++i) total.pool_bytes[i] += step.pool_bytes[i];
  total.macs += step.macs;
  total.energy.add(step.energy);
  total.energy_j = total.energy.total_j();
  for (const OpEstimate& o : step.ops) {
    auto it = std::find_if(total.ops.begin(), total.ops.end(), [&](const OpEstimate& t) { return t.name == o.name; });
    if (it == total.ops.end()) {
      total.ops.push_back(o);
      continue;
    }
    OpEstimate sum = *it, add_o = o;
    scale(sum, sum.calls);
    scale(add_o, o.calls);
    accumulate(sum, add_o);
    sum.calls = it->calls + o.calls;
    scale(sum, 1.0 / sum.calls);
    sum.bound = it->bound;
    sum.exact_schedule = it->exact_schedule && o.exact_schedule;
    *it = sum;
  }
}

// The prefill steps the model compiler runs for one device's share (the largest stage; widths
// zero-padded as model_dims places them):
// ModelCompiler::prefill_schedule, the one chunking rule. A model the compiler cannot place yet is
// costed as one step (`note` says so); a --prefill-chunk the compiler rejects is an error here too.
std::vector<compiler::PrefillChunk> prefill_schedule(const Ctx& c, const Workload& w, std::string& note) {
  // The tensor shard (compiler::tensor_shard) with the largest pipeline stage's layers.
  model::ModelConfig shard = compiler::tensor_shard(c.m, c.tp);
  shard.num_hidden_layers = int64_t(compiler::pipeline_stages(uint64_t(c.m.num_hidden_layers), c.pp).at(0).layers);
  compiler::ModelCompileOptions mo;
  mo.batch = w.batch;
  mo.max_positions = c.capacity - c.cfg.hbm.v_writeback_amount;
  mo.assembly = mo.words = mo.host_data = mo.reuse_programs = false;
  mo.max_prefill_chunk = w.prefill_chunk;
  mo.tensor_shard = c.tp > 1;
  try {
    const compiler::ModelCompiler mc(c.cfg, "estimate", shard, mo);
    return mc.prefill_schedule(w.prefill);
  } catch (const InputError& err) {
    if (w.prefill_chunk) throw;
    note = fmt::format("prefill costed as one step of {} tokens: the model compiler cannot place this model on this "
                       "config yet, so it has no chunk schedule ({})", w.prefill, err.what());
    return {{0, w.prefill}};
  }
}

// The whole prompt: one pass per prefill step, the last one with the logits.
PhaseEstimate prefill_phase(const Ctx& c, uint64_t batch,
                            const std::vector<compiler::PrefillChunk>& chunks) {
  PhaseEstimate ph;
  for (size_t i = 0; i < chunks.size(); ++i)
    merge_step(ph, pass(c, batch, chunks[i].q_len, chunks[i].past + chunks[i].q_len, true, i + 1 == chunks.size()));
  return ph;
}

// Capacity, placement and peak of each pool; traffic is filled after the phases.
void init_pools(Estimate& e, const config::HardwareConfig& cfg) {
  const auto pools = config::memory_pools(cfg);
  for (size_t i = 0; i < pools.size(); ++i) {
    const dram::Params p = config::pool_params(cfg, i);
    Estimate::Pool x{pools[i].name, p.name, pools[i].capacity_bytes, 0, 0, p.peak_bandwidth_GBps()};
    for (config::MemoryClass c : pools[i].holds) {
      if (c == config::MemoryClass::Weights) x.resident_bytes += e.weight_bytes_per_device;
      if (c == config::MemoryClass::Kv) x.resident_bytes += e.kv_bytes_per_device;
    }
    e.pools.push_back(std::move(x));
  }
}

// Capacity per pool: the weights and the KV cache each must fit the pool that holds them.
void check_pools(const Estimate& e, const model::ModelConfig& m, const Workload& w, const Parallelism& par) {
  for (size_t i = 0; i < e.pools.size(); ++i) {
    const Estimate::Pool& p = e.pools[i];
    if (p.resident_bytes <= p.capacity) continue;
    const uint64_t min_dev = par.devices * uint64_t(std::ceil(double(p.resident_bytes) / double(p.capacity)));
    throw InputError(fmt::format(
        "error: memory pool '{}' ({}) holds {} bytes per device ({} weights {} bytes + KV {} bytes for {} x {} "
        "tokens, as placed by its holds) but its capacity is {} bytes: raise [memory.{}] capacity, move a class to "
        "another pool, or use --devices >= {}",
        p.name, p.dram, p.resident_bytes, m.name, e.weight_bytes_per_device, e.kv_bytes_per_device, w.batch,
        w.prefill + w.decode, p.capacity, p.name, std::max<uint64_t>(min_dev, par.devices + 1)));
  }
}

}  // namespace

ppa::Activity op_activity(const OpEstimate& e, double seconds) {
  ppa::Activity a;
  a.per_opcode = e.per_opcode;
  a.hbm_read_bytes = double(e.hbm_read_bytes);
  a.hbm_write_bytes = double(e.hbm_write_bytes);
  a.link_bytes = e.link_bytes;
  a.seconds = seconds;
  return a;
}

namespace {

// Capacity: the quantized linears per device (embeddings in bf16 on the first stage), KV cache of
// the first pipeline stage (it holds the most layers: compiler::pipeline_stages).
Footprint footprint_of(const model::ModelConfig& m, const config::HardwareConfig& cfg, const compiler::ModelDims& s,
                       uint32_t tp, uint32_t pp, uint64_t ctx, uint64_t batch) {
  const double wbits = hbm_format_bits(cfg.formats.m_weight), kvbits = hbm_format_bits(cfg.formats.m_kv);
  const uint64_t lin = m.linear_param_count(), all = m.param_count();
  Footprint fp;
  fp.weight_bytes = uint64_t(double(lin) * wbits / 8.0 / double(tp * pp) + double(all - lin) * 2.0 / tp);
  const double stage_share = double(compiler::pipeline_stages(uint64_t(m.num_hidden_layers), pp)[0].layers) /
                             double(m.num_hidden_layers);
  fp.kv_bytes = uint64_t(double(m.kv_cache_bytes(ctx, batch, kvbits)) * double(s.kv_heads) /
                         double(m.num_key_value_heads) * stage_share);
  return fp;
}

Estimate estimate_split(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Workload& w,
                        const Parallelism& par, MemoryModel& mem) {
  const compiler::Split split = compiler::explicit_split(m, par.devices, par.tp, par.pp);
  const uint32_t tp = split.tp, pp = split.pp;

  // KV rows per sequence as the runner sizes the cache (ModelCompileOptions::max_positions + a writeback group).
  const uint64_t capacity = w.prefill + (w.decode ? w.decode - 1 : 0) + cfg.hbm.v_writeback_amount;
  const ppa::EnergyModel energy(cfg);
  Ctx c{m,  cfg, mem, compiler::model_dims(m, cfg, tp), tp, pp, Link{par.link_GBps, par.link_latency_us},
        mem.ps_per_cycle() * 1e-12, capacity, energy};

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

  const double wbits = hbm_format_bits(cfg.formats.m_weight), kvbits = hbm_format_bits(cfg.formats.m_kv);
  const uint64_t ctx = w.prefill + w.decode;
  const Footprint fp = footprint_of(m, cfg, c.s, tp, pp, ctx, w.batch);
  e.weight_bytes_per_device = fp.weight_bytes;
  e.kv_bytes_per_device = fp.kv_bytes;
  const uint64_t need = e.weight_bytes_per_device + e.kv_bytes_per_device;
  init_pools(e, cfg);
  if (!cfg.memory.empty()) check_pools(e, m, w, par);
  else if (need > cfg.hbm.size_bytes) {
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

  std::string chunk_note;
  const std::vector<compiler::PrefillChunk> chunks = prefill_schedule(c, w, chunk_note);
  for (const auto& ch : chunks) e.prefill_steps.push_back(ch.q_len);
  e.prefill = prefill_phase(c, w.batch, chunks);
  e.decode_first = pass(c, w.batch, 1, w.prefill + 1, true);
  // Decode: the layer work is affine in the context within one KV tile; evaluate each step's
  // attention exactly for short runs and at tile boundaries (piecewise linear) for long ones.
  double decode_s = 0, decode_bytes = 0;
  std::vector<double> decode_pool(e.pools.size(), 0.0);
  ppa::Energy decode_energy;
  if (w.decode > 0) {
    const uint64_t step = w.decode <= 64 ? 1 : std::max<uint64_t>(1, w.decode / 64);
    uint64_t t = 0;
    while (t < w.decode) {
      const uint64_t span = std::min(step, w.decode - t);
      const uint64_t mid = t + span / 2;
      PhaseEstimate p = pass(c, w.batch, 1, w.prefill + mid + 1, false);
      decode_s += p.seconds * double(span);
      decode_energy.add(p.energy, double(span));
      decode_bytes += double(p.hbm_bytes) * double(span);
      for (size_t i = 0; i < decode_pool.size(); ++i) decode_pool[i] += double(p.pool_bytes[i]) * double(span);
      t += span;
    }
  }
  e.decode_s = decode_s;
  e.tpot_s = w.decode ? decode_s / double(w.decode) : 0;
  // Serving systems report TTFT as the prefill that yields the first token; the former sum stays
  // available under its own name.
  e.ttft_s = e.prefill.seconds;
  e.prefill_plus_first_decode_s = e.prefill.seconds + e.decode_first.seconds;
  e.prefill_roof = step_roof(m, cfg, par.devices, w.batch, w.prefill, w.prefill);
  e.prefill_roof.achieved_s = e.prefill.seconds;
  e.decode_roof = step_roof(m, cfg, par.devices, w.batch, 1, w.prefill + 1);
  e.decode_roof.achieved_s = e.decode_first.seconds;
  const double total_s = e.prefill.seconds + decode_s;
  e.tokens_per_s = w.decode ? double(w.batch * w.decode) / total_s : 0;
  e.energy = ppa::Energy{}.add(e.prefill.energy).add(decode_energy);
  e.energy_j = e.energy.total_j();
  e.tokens_per_j = e.energy_j > 0 ? double(w.batch * w.decode) / e.energy_j : 0;
  e.average_power_w = total_s > 0 ? e.energy_j / total_s : 0;
  e.hbm_bytes = e.prefill.hbm_bytes + uint64_t(decode_bytes);
  for (size_t i = 0; i < e.pools.size(); ++i) e.pools[i].traffic_bytes = e.prefill.pool_bytes[i] + uint64_t(decode_pool[i]);

  e.assumptions = {
      fmt::format("batch {} sequences, {} prompt + {} generated tokens each", w.batch, w.prefill, w.decode),
      fmt::format("{} device(s): tensor parallel {} (heads, FFN columns and vocab split; kv heads replicated when tp > "
                  "{}), pipeline parallel {} (layers split, the first layers % pp stages one more; one microbatch, stages run one after another)",
                  par.devices, tp, m.num_key_value_heads, pp),
      fmt::format("interconnect {} GB/s, {} us per message; ring all-reduce of bf16 activations twice per layer",
                  par.link_GBps, par.link_latency_us),
      "every kernel: counts from its own emitter on the compiler's counting back-end (compiler::count_kernel): "
      "instructions, unit cycles and transfers exactly as executed; DMA per transfer from a DRAM micro-calibration",
      uint64_t(m.head_dim) == c.s.head_dim
          ? fmt::format("attention: head_dim {}", c.s.head_dim)
          : fmt::format("attention: head_dim {} zero-padded to {} as the compiler places it (the KV layout takes HLEN "
                        "{} and BLEN {} multiples dividing MLEN {})",
                        m.head_dim, c.s.head_dim, cfg.geometry.hlen, cfg.geometry.blen, cfg.geometry.mlen),
      "decoupled mode: op time = overlap of matrix, vector, DMA and issue (one instruction/cycle); ops run back to back",
      !chunk_note.empty() ? chunk_note
      : chunks.size() == 1
          ? fmt::format("prefill in one step of {} tokens (it fits the on-chip memories)", w.prefill)
          : fmt::format("chunked prefill as the compiler runs it: {} steps of <= {} tokens, each appending its K/V to the "
                        "cache and attending over every position so far; weights streamed once per step, logits only "
                        "in the last",
                        chunks.size(), chunks[0].q_len),
      fmt::format("energy: counted instructions and HBM/link bytes x the PPA tables at 7 nm (docs/ppa.md: {:.4f} pJ/MAC, "
                  "{} pJ/bit DRAM, {:.3f} W leakage per device), the model plena run applies to the simulator's counts",
                  energy.events().mac_pj, energy.events().dram_bit_pj, energy.leakage_w()),
  };
  return e;
}

}  // namespace

Footprint footprint(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Parallelism& par,
                    uint64_t ctx, uint64_t batch) {
  const compiler::Split split = compiler::explicit_split(m, par.devices, par.tp, par.pp);
  return footprint_of(m, cfg, compiler::model_dims(m, cfg, split.tp), split.tp, split.pp, ctx, batch);
}

Estimate estimate(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Workload& w,
                  const Parallelism& par, MemoryModel& mem) {
  if (w.batch == 0 || w.prefill == 0) throw InputError("error: --prefill and --batch must be at least 1");
  if (par.devices == 0 || (par.tp == 0 && par.pp == 0))
    throw InputError("error: an estimate on a shared memory model needs the devices and a tp or pp split");
  return estimate_split(m, cfg, w, par, mem);
}

PhaseEstimate decode_step(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Parallelism& par,
                          MemoryModel& mem, uint64_t batch, uint64_t kv_len, uint64_t max_context) {
  if (batch == 0 || kv_len == 0 || kv_len > max_context)
    throw InputError("error: a decode step needs batch >= 1 and 1 <= context <= the cache's context");
  const compiler::Split split = compiler::explicit_split(m, par.devices, par.tp, par.pp);
  const ppa::EnergyModel energy(cfg);
  const Ctx c{m, cfg, mem, compiler::model_dims(m, cfg, split.tp), split.tp, split.pp,
              Link{par.link_GBps, par.link_latency_us}, mem.ps_per_cycle() * 1e-12,
              max_context + cfg.hbm.v_writeback_amount, energy};
  return pass(c, batch, 1, kv_len, false);
}

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
  s += fmt::format("TTFT            {:.3f} ms  (prefill; + first decode step: {:.3f} ms)\n", e.ttft_s * 1e3,
                   e.prefill_plus_first_decode_s * 1e3);
  if (e.prefill_steps.size() > 1)
    s += fmt::format("prefill steps   {} (chunked: {} tokens each)\n", e.prefill_steps.size(), fmt::join(e.prefill_steps, ", "));
  s += fmt::format("time per token  {:.3f} ms\n", e.tpot_s * 1e3);
  s += fmt::format("tokens/s        {:.1f}  (batch x decode / (prefill + decode time))\n", e.tokens_per_s);
  s += fmt::format("HBM traffic     {:.3f} GB per device  (peak {:.1f} GB/s, sequential efficiency {:.3f})\n",
                   double(e.hbm_bytes) / 1e9, e.peak_GBps, e.dram_efficiency);
  s += fmt::format("energy          {:.4g} J (all devices), {:.4g} tokens/J, {:.3g} W average: {}\n", e.energy_j,
                   e.tokens_per_j, e.average_power_w, ppa::shares_text(e.energy));
  s += fmt::format("memory/device   {:.2f} GiB weights + {:.2f} GiB KV of {:.2f} GiB\n",
                   double(e.weight_bytes_per_device) / 1073741824.0, double(e.kv_bytes_per_device) / 1073741824.0,
                   double(e.hbm_capacity) / 1073741824.0);
  if (e.pools.size() > 1)
    for (const auto& p : e.pools)
      s += fmt::format("pool {:<10} {:<14} {:>8.2f} GiB resident of {:.2f} GiB, {:.3f} GB traffic per device (peak {:.1f} GB/s)\n",
                       p.name, p.dram, double(p.resident_bytes) / 1073741824.0, double(p.capacity) / 1073741824.0,
                       double(p.traffic_bytes) / 1e9, p.peak_GBps);
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
  j["prefill_steps"] = e.prefill_steps;
  j["ttft_s"] = e.ttft_s;
  j["prefill_plus_first_decode_s"] = e.prefill_plus_first_decode_s;
  j["tpot_s"] = e.tpot_s;
  j["tokens_per_s"] = e.tokens_per_s;
  j["decode_s"] = e.decode_s;
  j["hbm_bytes_per_device"] = e.hbm_bytes;
  j["energy_j"] = e.energy_j;
  j["tokens_per_j"] = e.tokens_per_j;
  j["average_power_w"] = e.average_power_w;
  for (const auto& [part, joules] : ppa::breakdown(e.energy)) j["energy"][std::string(part) + "_j"] = joules;
  j["weight_bytes_per_device"] = e.weight_bytes_per_device;
  j["kv_bytes_per_device"] = e.kv_bytes_per_device;
  j["hbm_capacity_bytes"] = e.hbm_capacity;
  j["dram_peak_gbps"] = e.peak_GBps;
  j["dram_sequential_efficiency"] = e.dram_efficiency;
  auto& pools = j["pools"] = nlohmann::ordered_json::array();
  for (const auto& p : e.pools)
    pools.push_back({{"name", p.name}, {"dram", p.dram}, {"capacity_bytes", p.capacity},
                     {"resident_bytes", p.resident_bytes}, {"traffic_bytes", p.traffic_bytes}, {"peak_gbps", p.peak_GBps}});
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
  auto roof = [](const StepRoof& r) {
    nlohmann::ordered_json x;
    x["linear_macs"] = r.linear_macs;
    x["attention_macs"] = r.attention_macs;
    x["weight_bytes"] = r.weight_bytes;
    x["kv_bytes"] = r.kv_bytes;
    x["embedding_bytes"] = r.embedding_bytes;
    x["compute_roof_s"] = r.compute_roof_s;
    x["memory_roof_s"] = r.memory_roof_s;
    x["achieved_s"] = r.achieved_s;
    x["achieved_over_compute_roof"] = r.achieved_s / r.compute_roof_s;
    x["achieved_over_memory_roof"] = r.achieved_s / r.memory_roof_s;
    return x;
  };
  j["roofline"] = {{"prefill", roof(e.prefill_roof)}, {"decode_first_step", roof(e.decode_roof)}};
  j["assumptions"] = e.assumptions;
  return j.dump(2) + "\n";
}

}  // namespace plena::analytic

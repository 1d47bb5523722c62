// Per-kernel estimates. Counts come from running the kernel's own emitter against the compiler's
// counting back-end (compiler::count_kernel): instructions, unit busy cycles and transfers are
// exactly what the simulator executes. Time composes those counts by the kernel's schedule class
// (compiler::KernelSchedule) with the config's latencies and the calibrated DMA timing. docs/analytic.md §2.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernel_registry.hpp"
#include "dram/dram.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

using compiler::KernelCost;
using isa::Opcode;

void classify(OpEstimate& e) {
  const double compute = std::max(e.matrix_cycles, e.vector_cycles);
  if (e.dma_cycles >= compute && e.dma_cycles >= e.issue_cycles)
    e.bound = Bound::Memory;
  else if (e.issue_cycles > compute)
    e.bound = Bound::Issue;
  else
    e.bound = Bound::Compute;
}

// The totals every schedule class shares: counts, bytes, busy cycles.
OpEstimate totals(const config::HardwareConfig& cfg, const KernelCost& k) {
  const auto& g = cfg.geometry;
  OpEstimate e;
  e.name = k.kernel;
  e.instructions = k.instructions();
  e.issue_cycles = double(e.instructions);
  for (const auto& p : k.phases) {
    e.matrix_cycles += double(p.times) * double(p.matrix_cycles);
    e.vector_cycles += double(p.times) * double(p.vector_cycles);
  }
  for (size_t i = 0; i < e.per_opcode.size(); ++i) e.per_opcode[i] = double(k.per_opcode[i]);
  e.macs = (k.count(Opcode::M_MM) + k.count(Opcode::M_TMM)) * uint64_t(g.blen) * g.mlen * g.blen +
           (k.count(Opcode::M_MV) + k.count(Opcode::M_TMV)) * uint64_t(g.mlen) * g.blen;
  for (const auto& d : k.dma) {
    const DmaPattern p = cost_dma_pattern(cfg, d);
    (d.write ? e.hbm_write_bytes : e.hbm_read_bytes) += d.count * p.bytes();
    e.pool_bytes[p.pool] += double(d.count * p.bytes());
  }
  return e;
}

// The pattern most of a kernel's transfers use (the phase model times every transfer with it).
const compiler::CostDma* main_dma(const KernelCost& k) {
  const compiler::CostDma* best = nullptr;
  for (const auto& d : k.dma)
    if (!best || d.count > best->count) best = &d;
  return best;
}

double dma_cycles_of(MemoryModel& mem, const config::HardwareConfig& cfg, const KernelCost& k) {
  double t = 0;
  for (const auto& d : k.dma) t += double(d.count) * mem.timing(cost_dma_pattern(cfg, d)).per_transfer_cycles;
  return t;
}

double dma_alone_of(MemoryModel& mem, const config::HardwareConfig& cfg, const KernelCost& k) {
  double t = 0;
  for (const auto& d : k.dma) t += double(d.count) * mem.timing(cost_dma_pattern(cfg, d)).alone_cycles;
  return t;
}

double serial_cycles_of(const KernelCost& k) {
  double t = 0;
  for (const auto& p : k.phases) t += double(p.times) * double(p.serial_cycles);
  return t;
}

// A column-sliced walk: transfers whose rows are narrower than their stride are one column slice
// of a wider tensor (the KV cache's heads). Each entry of the phase moves `per_entry` tiles down
// one slice; successive entries take the next slices of the same rows, then the next rows. The
// later slices find the DRAM rows the first one opened and all slices queue on the same banks,
// which no tile-after-tile calibration sees: the walk is replayed through the DRAM model with the
// engine's discipline (decoupled: 8 in flight, one issue per `gap` cycles; in order: each transfer
// issued `gap` cycles after the previous one completed).
struct WalkTiming {
  double span = 0;    // first issue to last completion (decoupled)
  double serial = 0;  // sum of the transfers' own times (in order)
};

class WalkReplay {
 public:
  // spread != 0: a gather instead; entry e (a token) starts `spread` entries' worth of tiles past
  // entry e - 1, wrapping in a region of kGatherEntries entries (unrelated rows of one table).
  WalkReplay(const config::HardwareConfig& cfg, const DmaPattern& p, uint64_t per_entry, bool in_order, uint64_t gap,
             uint64_t spread = 0)
      : dram_(config::pool_params(cfg, p.pool)), p_(p), per_entry_(per_entry), in_order_(in_order),
        period_(uint64_t(std::llround(1000.0 / cfg.compute.clock_ghz))), gap_(gap * period_), spread_(spread) {}
  static constexpr uint64_t kGatherEntries = 1024;

  WalkTiming run(uint64_t entries) {
    const uint64_t n = entries * per_entry_;
    done_.assign(n, 0);
    arrival_.assign(n, 0);
    remaining_.assign(n, 0);
    for (uint64_t j = 0; j < n; ++j) submit(j);
    for (uint64_t j = 0; j < n; ++j) wait_for(j);
    WalkTiming t;
    for (uint64_t j = 0; j < n; ++j) {
      t.span = std::max(t.span, double(done_[j]) / double(period_));
      t.serial += double(done_[j] - arrival_[j]) / double(period_);
    }
    return t;
  }

 private:
  static constexpr uint64_t kQueueDepth = 8;  // TimingOptions::dma_queue_depth default
  void submit(uint64_t j) {
    uint64_t arrival = j * gap_;
    if (in_order_ && j > 0) arrival = round_up_ps(wait_for(j - 1)) + gap_;
    if (!in_order_ && j >= kQueueDepth) arrival = std::max(arrival, round_up_ps(wait_for(j - kQueueDepth)));
    arrival = std::max(arrival, dram_.now_ps());
    arrival_[j] = arrival;
    const uint64_t slices = p_.elem_stride / p_.elem_row_bytes, e = j / per_entry_;
    const uint64_t place = spread_ ? (e * spread_) % kGatherEntries : e / slices;
    const uint64_t slice = spread_ ? 0 : e % slices, tile = place * per_entry_ + j % per_entry_;
    uint64_t first = dram::kNever, count = 0;
    auto request = [&](uint64_t a, uint64_t bytes) {
      const uint64_t id = dram_.submit(dram::Request{a, bytes, p_.write, arrival});
      if (first == dram::kNever) first = id;
      ++count;
    };
    dram::for_each_request(slice * p_.elem_row_bytes + tile * p_.rows * p_.elem_stride, p_.elem_row_bytes, p_.rows,
                           p_.elem_stride, 64, request);
    dram::for_each_request(p_.scale_offset + slice * p_.scale_row_bytes + tile * p_.rows * p_.scale_stride,
                           p_.scale_row_bytes, p_.rows, p_.scale_stride, 64, request);
    owner_[first] = j;
    remaining_[j] = count;
  }
  uint64_t wait_for(uint64_t j) {
    while (remaining_[j] != 0)
      for (const dram::Completion& c : dram_.advance_to_next_completion()) {
        const uint64_t t = std::prev(owner_.upper_bound(c.id))->second;
        if (--remaining_[t] == 0) done_[t] = c.time_ps;
      }
    return done_[j];
  }
  uint64_t round_up_ps(uint64_t t) const { return (t + period_ - 1) / period_ * period_; }

  dram::DramModel dram_;
  DmaPattern p_;
  uint64_t per_entry_;
  bool in_order_;
  uint64_t period_, gap_, spread_;
  std::vector<uint64_t> done_, arrival_, remaining_;
  std::map<uint64_t, uint64_t> owner_;  // first request id -> transfer
};

bool column_slice(const DmaPattern& p) {
  return p.elem_row_bytes > 0 && p.elem_stride >= 2 * p.elem_row_bytes && p.elem_stride % p.elem_row_bytes == 0;
}

// A phase's column-sliced walk, replayed on at most two sweeps of its slices and 128 tiles per
// entry (a long walk repeats that pattern) and scaled to all of its transfers.
WalkTiming walk_timing(const config::HardwareConfig& cfg, const DmaPattern& p, const compiler::CostPhase& ph,
                       bool in_order) {
  const uint64_t per_entry = std::max<uint64_t>(1, ph.times / std::max<uint64_t>(1, ph.entries));
  const uint64_t all_entries = ph.entries * ph.dma;  // a repetition's transfers: distinct slices (unrolled)
  const uint64_t slices = p.elem_stride / p.elem_row_bytes;
  const uint64_t gap = std::max<uint64_t>(1, (in_order ? ph.serial_cycles : ph.instructions) / ph.dma);
  const uint64_t tiles = std::min<uint64_t>(per_entry, 128), entries = std::min(all_entries, 2 * slices);
  // The replay depends only on the DRAM preset, the clock and these few numbers: shared by every
  // estimate of the process (a sweep's points, a run's decode steps), thread-safe.
  using Key = std::tuple<std::string, double, DmaPattern, uint64_t, uint64_t, bool, uint64_t>;
  static std::mutex mutex;
  static std::map<Key, WalkTiming> cache;
  const Key key{pool_key(cfg, p.pool), cfg.compute.clock_ghz, p, tiles, entries, in_order, gap};
  WalkTiming t;
  bool found = false;
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) t = it->second, found = true;
  }
  if (!found) {
    t = WalkReplay(cfg, p, tiles, in_order, gap).run(entries);
    std::lock_guard lock(mutex);
    cache.emplace(key, t);
  }
  const double scale = double(all_entries * per_entry) / double(entries * tiles);
  t.span *= scale;
  t.serial *= scale;
  return t;
}

// A gather's transfers (embedding lookups: each token's first transfer, then the ones that go on
// along its row), replayed at unrelated rows of a table-sized region (the first 64 tokens, scaled
// to all): a stream's calibration would find the rows it opened. Span (decoupled) and serial sum
// (in order), as a walk's.
WalkTiming gather_timing(const config::HardwareConfig& cfg, const DmaPattern& p, const compiler::KernelCost& k,
                         const compiler::CostPhase& ph, bool in_order) {
  uint64_t tokens = 0;
  for (const auto& d : k.dma)
    if (d.gather) tokens += d.count;
  const uint64_t per_token = std::max<uint64_t>(1, k.transfers() / std::max<uint64_t>(1, tokens));
  const uint64_t gap = std::max<uint64_t>(1, (in_order ? ph.serial_cycles : ph.instructions) / ph.dma);
  const uint64_t replayed = std::min<uint64_t>(tokens, 64);
  constexpr uint64_t kSpread = 389;  // odd: consecutive tokens land far apart, every place once
  DmaPattern q = p;  // the scales behind the region's elements
  q.scale_offset = std::max(q.scale_offset, WalkReplay::kGatherEntries * per_token * q.rows * q.elem_stride);
  // A prefill chunk schedule estimates the lookup once per candidate chunk: the replay is cached.
  using Key = std::tuple<std::string, double, DmaPattern, uint64_t, bool, uint64_t, uint64_t>;
  static std::mutex mu;
  static std::map<Key, WalkTiming> cache;
  const Key key{pool_key(cfg, q.pool), cfg.compute.clock_ghz, q, per_token, in_order, gap, replayed};
  WalkTiming t;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) t = it->second;
  }
  if (t.span == 0 && t.serial == 0) {
    t = WalkReplay(cfg, q, per_token, in_order, gap, kSpread).run(replayed);
    std::lock_guard<std::mutex> lock(mu);
    cache.emplace(key, t);
  }
  const double scale = double(ph.times * ph.dma) / double(replayed * per_token);
  t.span *= scale;
  t.serial *= scale;
  return t;
}

// Phases: in-order = every latency plus blocking transfers; decoupled = per phase
// max(issue, vector, matrix, scalar chain, DMA) plus the exposed reduction waits.
OpEstimate estimate_phased(const config::HardwareConfig& cfg, MemoryModel& mem, const KernelCost& k) {
  OpEstimate e = totals(cfg, k);
  const compiler::CostDma* dm = main_dma(k);
  DmaTiming dma;
  if (dm) dma = mem.timing(cost_dma_pattern(cfg, *dm));
  const bool in_order = cfg.timing.mode == config::TimingMode::InOrder;
  const bool wait_first = dm && dm->wait_first;
  // A gather (embedding rows of arbitrary token ids) opens a new DRAM row per transfer: in order
  // each costs a cold first transfer; decoupled, the next lookup's setup overlaps the activation.
  const double one = dm && dm->gather && in_order ? std::max(dma.alone_cycles, dma.first_cycles) : dma.alone_cycles;
  // A transfer awaited by its first use: the instructions of the phases around it issue meanwhile
  // (the enclosing setup, the first iterations that do not touch the row yet).
  double hidden_issue = 0;
  for (const auto& p : k.phases)
    if (!p.dma) hidden_issue += double(p.entries) * double(p.instructions);
  const bool gathered = std::any_of(k.dma.begin(), k.dma.end(), [](const compiler::CostDma& d) { return d.gather; });
  const bool sliced = dm && !gathered && column_slice(cost_dma_pattern(cfg, *dm));
  double total = 0, stream = 0, first_awaited = -1;
  for (const auto& p : k.phases) {
    const double times = double(p.times);
    if ((sliced || gathered) && p.dma && !p.dma_serial) {
      const WalkTiming w = gathered ? gather_timing(cfg, cost_dma_pattern(cfg, *dm), k, p, in_order)
                                    : walk_timing(cfg, cost_dma_pattern(cfg, *dm), p, in_order);
      e.dma_cycles += in_order ? w.serial : w.span;
      total += in_order ? times * double(p.serial_cycles) + w.serial
                        : std::max(times * double(std::max({p.instructions, p.vector_cycles, p.matrix_cycles,
                                                            p.chain_cycles})),
                                   w.span) + times * double(p.exposed_cycles);
      continue;
    }
    const double dma_rep = double(p.dma) * (p.dma_serial ? one : dma.per_transfer_cycles);
    e.dma_cycles += times * dma_rep;
    if (in_order) {
      total += times * (double(p.serial_cycles) + double(p.dma) * one);
      continue;
    }
    total += times * (std::max({double(p.instructions), double(p.vector_cycles), double(p.matrix_cycles),
                                double(p.chain_cycles), dma_rep}) +
                      double(p.exposed_cycles));
    stream += times * double(p.stream_cycles);
    // Awaited transfers (a parameter row, the RoPE swap tile): each entry of the phase ends when
    // its burst has landed, a first transfer's latency beyond the streaming rate.
    if (wait_first && p.dma && !p.dma_serial) {
      const double awaited = std::max(0.0, dma.first_cycles - dma.per_transfer_cycles - hidden_issue);
      if (first_awaited < 0) first_awaited = awaited;
      total += double(p.entries) * awaited;
    }
  }
  // Row streams (mask construction) run on the scalar unit beside what issues after them, until
  // an instruction needs the unit or the streamed row (KernelCost::stream_stall_cycles). The first
  // awaited transfer (the parameter row masked by that row) lands during the same wait.
  const double stall = double(k.stream_stall_cycles);
  e.cycles = in_order ? total : std::max(total + stall - std::min(stall, std::max(0.0, first_awaited)), stream);
  classify(e);
  return e;
}

// Double-buffered weights (KernelCost::bursts_ahead): step s+1's chunk streams into the other MRAM
// buffer while step s multiplies, and a prefetch waits only for the step two back. Steady state is
// one step per max(compute, stream); the first chunk's arrival and the last step's multiplies are
// exposed. Chained linears: the next kernel's first chunk (handoff) streams under this kernel's
// last step and is charged to the next kernel, which has no fill; it runs S steps of max(compute,
// stream) (memory bound: its first chunk lands one stream time after the previous chunk, which the
// previous kernel's last multiplies partly cover).
OpEstimate estimate_double_buffered(const config::HardwareConfig& cfg, MemoryModel& mem, const KernelCost& k) {
  OpEstimate e = totals(cfg, k);
  e.dma_cycles = dma_cycles_of(mem, cfg, k);
  const compiler::CostDma* dm = main_dma(k);
  const DmaTiming dma = dm ? mem.timing(cost_dma_pattern(cfg, *dm)) : DmaTiming{};
  const double steps = double(k.bursts + (k.chained_in ? 1 : 0));  // a chained kernel has no prologue burst
  // Per step: the kernel's own prefetches (a chained kernel's first chunk came with the previous
  // kernel, the handoff goes with the next one).
  const double own = double(k.count(Opcode::H_PREFETCH_M)) - double(k.handoff_transfers);
  const double prefetches = k.bursts ? own / double(k.bursts) : 1.0;
  const double stream = prefetches * dma.per_transfer_cycles;
  // Bytes and DMA time go to the kernel that multiplies them (every tile moves the same bytes).
  const double moved_in = (k.chained_in ? prefetches : 0.0) - double(k.handoff_transfers);
  if (dm) {
    e.hbm_read_bytes = uint64_t(std::llround(double(e.hbm_read_bytes) + moved_in * double(cost_dma_pattern(cfg, *dm).bytes())));
    e.pool_bytes[cost_dma_pattern(cfg, *dm).pool] += moved_in * double(cost_dma_pattern(cfg, *dm).bytes());
    e.dma_cycles += moved_in * dma.per_transfer_cycles;
  }
  const double compute = std::max({e.matrix_cycles, e.vector_cycles, e.issue_cycles}) / steps;
  const double fill = dma.first_cycles + std::max(0.0, prefetches - 1) * dma.per_transfer_cycles;
  e.cycles = k.chained_in ? steps * std::max(compute, stream) : fill + (steps - 1) * std::max(compute, stream) + compute;
  classify(e);
  return e;
}

// Weights streamed through MRAM under the matrix unit (emit_linear, emit_batched_matmul). Per burst
// (KernelCost::bursts: one column block's K chunk) the prefetches land while the first row group
// consumes the tiles in order; the burst's other row groups then run at max(matrix, issue) rate.
// A burst waits for the previous one's products (it reuses their MRAM tiles).
OpEstimate estimate_streamed(const config::HardwareConfig& cfg, MemoryModel& mem, const KernelCost& k) {
  OpEstimate e = totals(cfg, k);
  const auto& lat = cfg.latency;
  e.dma_cycles = dma_cycles_of(mem, cfg, k);
  const uint64_t wo = k.count(Opcode::M_MM_WO), m_mm = k.count(Opcode::M_MM);
  if (cfg.timing.mode != config::TimingMode::InOrder && wo > 0 && (k.bursts_ahead > 0 || k.chained_in))
    return estimate_double_buffered(cfg, mem, k);
  if (cfg.timing.mode == config::TimingMode::InOrder || k.bursts == 0 || wo == 0) {
    e.cycles = serial_cycles_of(k) + dma_alone_of(mem, cfg, k);
    classify(e);
    return e;
  }
  const compiler::CostDma* dm = main_dma(k);
  const DmaTiming dma = dm ? mem.timing(cost_dma_pattern(cfg, *dm)) : DmaTiming{};
  const double bursts = double(k.bursts);
  const double mm = double(lat.systolic_overhead + lat.matrix_mm), wo_lat = double(lat.matrix_writeout);
  const uint64_t groups = std::max<uint64_t>(1, wo / k.bursts);  // output row groups x sub-columns per burst
  const uint64_t tiles = std::max<uint64_t>(1, m_mm / wo);       // K tiles each group multiplies
  const double prefetches = double(dm ? dm->count : 0) / bursts;
  const double per_prefetch = std::max(1.0, double(tiles) / std::max(1.0, prefetches));
  double fill = 0;
  for (uint64_t t = 0; t < tiles; ++t)
    fill = std::max(fill, dma.first_cycles + std::floor(double(t) / per_prefetch) * dma.per_transfer_cycles) + mm;
  fill += wo_lat;
  const double rest_matrix = double(groups * tiles - tiles) * mm + double(groups - 1) * wo_lat;
  const double rest_issue = double(e.instructions) / bursts - 3.0 * double(tiles) - 3.0 * prefetches;
  e.cycles = bursts * (fill + std::max(rest_matrix, rest_issue));
  classify(e);
  return e;
}

// FlashAttention, decoupled: each phase (a tile's S blocks, a row's statistics update, a head's
// rescale) runs at its own bottleneck, max(issue, vector, matrix, scalar chain) plus the exposed
// reduction waits; phases run one after another (each consumes the previous one's results). The KV
// tiles sit in one MRAM buffer per block (AttentionSetup::allocate): the next tile's prefetch
// overwrites what this tile's multiplies read, and those multiplies wait for it, so the KV stream
// adds to the compute instead of hiding under it. With tiles prefetched one ahead into a second
// buffer (KernelCost::bursts_ahead, decode) the stream overlaps the compute: fill + the slower of
// the rest + the last burst's products, as the double-buffered linears.
OpEstimate estimate_attention_counted(const config::HardwareConfig& cfg, MemoryModel& mem, const KernelCost& k) {
  OpEstimate e = totals(cfg, k);
  e.dma_cycles = dma_cycles_of(mem, cfg, k);
  const compiler::CostDma* dm = main_dma(k);
  const double first = dm ? mem.timing(cost_dma_pattern(cfg, *dm)).first_cycles : 0;
  if (cfg.timing.mode == config::TimingMode::InOrder) {
    e.cycles = serial_cycles_of(k) + dma_alone_of(mem, cfg, k);
  } else {
    double phases = 0, setup = 0;
    uint64_t setup_transfers = 0;
    bool matrix_seen = false;
    for (const auto& p : k.phases) {
      const double c = double(p.times) * (double(std::max({p.instructions, p.vector_cycles, p.matrix_cycles,
                                                           p.chain_cycles})) + double(p.exposed_cycles));
      phases += c;
      matrix_seen = matrix_seen || p.matrix_cycles > 0;
      if (!matrix_seen) setup += c, setup_transfers += p.times * p.dma;
    }
    // Broadcast scores (docs/kernels-attention.md §3b): a call's first M_BTMM has no softmax rows
    // to run under (the rows need its scores; the later ones run under the previous batch's rows).
    const double bmm = double(cfg.latency.systolic_overhead + cfg.latency.matrix_bmm);
    if (k.count(Opcode::M_BTMM) > 0) phases += bmm;
    // When every transfer is issued before the first matrix work (one sequence's broadcast scores:
    // the K|V tile, then the ones tile), the setup before that work (the mask table) builds while
    // the K|V tile lands, the first M_BTMM waits for it, and the other transfers land under it.
    if (k.count(Opcode::M_BTMM) > 0 && k.bursts_ahead == 0 && setup_transfers == k.transfers()) {
      double kv = 0;
      for (const auto& d : k.dma)
        if (d.precision == 1) kv += double(d.count) * mem.timing(cost_dma_pattern(cfg, d)).per_transfer_cycles;
      const double other = e.dma_cycles - kv;
      e.cycles = std::max(kv, setup) + bmm + std::max(0.0, other - bmm) + (phases - bmm - setup);
      classify(e);
      return e;
    }
    // Prefetched one ahead (decode): the phases split evenly over the setup (Q copy, init) and the
    // bursts. The setup runs under the first transfer, each burst's products under the next
    // transfer, and the last burst's products after it.
    const double share = phases / double(k.bursts + 1);
    e.cycles = k.bursts_ahead > 0 ? std::max(first, share) + std::max(phases - 2 * share, e.dma_cycles - first) + share
                                  : phases + e.dma_cycles;
  }
  classify(e);
  return e;
}

}  // namespace

std::string_view bound_name(Bound b) {
  switch (b) {
    case Bound::Compute: return "compute";
    case Bound::Memory: return "memory";
    case Bound::Issue: return "issue";
  }
  return "?";
}

// The class of the tensor a transfer moves: where the memory plan placed the tensor its address
// falls in (what routes it in the simulator). Without a known address, from the instruction
// (formats [formats]: precision 1 moves the KV cache; other M transfers and gathers (embedding
// lookups) read weights; V transfers with precision 0 move activations).
config::MemoryClass dma_class(const compiler::CostDma& d) {
  if (d.placed) return config::memory_class_of(*d.placed);
  if (d.precision == 1) return config::MemoryClass::Kv;
  if (d.matrix || d.gather) return config::MemoryClass::Weights;
  return config::MemoryClass::Activations;
}

DmaPattern cost_dma_pattern(const config::HardwareConfig& cfg, const compiler::CostDma& d) {
  DmaPattern p;
  if (!cfg.memory.empty()) p.pool = uint8_t(config::pool_index(cfg, dma_class(d)));
  p.rows = d.rows;
  p.elem_row_bytes = numerics::packed_element_bytes(d.format, d.cols);
  p.elem_stride = numerics::packed_element_bytes(d.format, d.stride);
  p.scale_row_bytes = numerics::scale_bytes(d.format, d.cols);
  p.scale_stride = numerics::scale_bytes(d.format, d.stride);
  // Scales follow the tensor's elements (SCALE_REG counts them). A column-sliced walk (the KV
  // store) revisits the DRAM rows it opened, so where its scales really sit decides row hits: the
  // exact offset. A stream never comes back; its calibration (replayed from address 0, not the
  // tensor's base) places the scales as behind a tensor of a few thousand rows, so one calibration
  // serves every tensor and step of that row geometry.
  if (column_slice(p))
    p.scale_offset = (numerics::packed_element_bytes(d.format, std::max(d.scale_reg, d.stride)) + 63) / 64 * 64;
  else
    p.scale_offset = (std::max(p.elem_stride, p.elem_row_bytes) * 4096 + 63) / 64 * 64;
  p.write = d.write;
  return p;
}

OpEstimate estimate_counted(const config::HardwareConfig& cfg, MemoryModel& mem, const compiler::KernelEntry& kernel,
                            const KernelCost& k) {
  switch (kernel.schedule) {
    case compiler::KernelSchedule::Phased: return estimate_phased(cfg, mem, k);
    case compiler::KernelSchedule::StreamedWeights: return estimate_streamed(cfg, mem, k);
    case compiler::KernelSchedule::Attention: return estimate_attention_counted(cfg, mem, k);
  }
  return estimate_phased(cfg, mem, k);
}

OpEstimate estimate_op(const config::HardwareConfig& cfg, MemoryModel& mem, std::string_view kernel,
                       const compiler::KernelShape& shape) {
  const compiler::KernelEntry& entry = compiler::find_kernel(kernel);
  OpEstimate e = estimate_counted(cfg, mem, entry, compiler::count_kernel(cfg, kernel, shape));
  e.name = std::string(kernel);
  return e;
}

OpEstimate estimate_linear(const config::HardwareConfig& cfg, MemoryModel& mem, uint64_t rows_alloc, uint64_t k,
                           uint64_t n, uint64_t chunk_tiles) {
  compiler::KernelShape s;
  s.set("rows", rows_alloc).set("k", k).set("n", n).set("max_k_tiles", chunk_tiles);
  return estimate_op(cfg, mem, "linear", s);
}

OpEstimate estimate_attention(const config::HardwareConfig& cfg, MemoryModel& mem, uint64_t batch, uint64_t q_len,
                              uint64_t kv_len, uint64_t heads, uint64_t kv_heads, uint64_t head_dim,
                              uint64_t sliding_window) {
  compiler::KernelShape s;
  s.set("batch", batch).set("q_len", q_len).set("kv_len", kv_len).set("heads", heads).set("kv_heads", kv_heads);
  s.set("head_dim", head_dim).set("window", sliding_window);
  return estimate_op(cfg, mem, "attention", s);
}

}  // namespace plena::analytic

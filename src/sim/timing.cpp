// The timing model's discrete-event core. See docs/timing.md for the model and its rules.
//
// Time is in core cycles; the DRAM model runs in picoseconds (cycle * ps_per_cycle). The only
// events whose time is not known when an instruction is issued are DRAM completions, so the
// core computes every start/finish it can at issue time and keeps the rest (instructions that
// wait, directly or through a chain, on a DMA transfer) in per-unit in-order queues. When the
// front end needs a time that is not known yet (a register interlock, a full queue, the end of
// the run) it steps the DRAM model one event at a time, in (time, request id) order, and starts
// whatever became ready. Since every DRAM step happens at or before the time the front end ends
// up issuing at, no later DMA can arrive before the DRAM model's horizon.
#include "sim/timing.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <ostream>
#include <string>
#include <vector>

#include "dram/dram.hpp"
#include "sim/timing_internal.hpp"
#include "support/support.hpp"

namespace plena::sim {
using namespace timing_detail;

namespace {

constexpr int kSpaces = static_cast<int>(Space::Count);
constexpr uint64_t kRegsPerSpace = 64;

// Register-like spaces are read when an instruction issues (operands are captured into the unit
// queue), so they interlock the front end; all other spaces are tracked by the scoreboard and
// delay the instruction's start instead.
constexpr int register_slot(Space s) {
  switch (s) {
    case Space::GpReg: return 0;
    case Space::FpReg: return 1;
    case Space::HbmReg: return 2;
    case Space::Ctrl: return 3;
    default: return -1;
  }
}

struct RegState {
  uint64_t ready = 0;  // finish cycle of the last writer; kUnknown while that writer is unresolved
  uint64_t seq = 0;    // the unresolved writer
};

// One in-flight access: instructions that conflict with it start after `finish`.
struct SbEntry {
  uint64_t lo, hi;
  uint64_t finish;  // kUnknown while the instruction is unresolved
  uint64_t seq;
  bool write;
};

// A compute instruction issued to its unit queue but not started (it waits on an unresolved one).
struct Pending {
  uint64_t seq, issue, ready;  // ready: latest finish of its resolved dependencies
  uint64_t latency, occupancy;
  std::vector<uint64_t> deps;  // unresolved producers
};

struct DmaXfer {
  uint64_t seq = 0, issue = 0, ready = 0;
  uint64_t start = kUnknown, finish = kUnknown;
  uint64_t first_req = kUnknown, n_req = 0, remaining = 0, last_done_ps = 0;
  std::vector<uint64_t> deps;
  std::array<HbmStream, 2> hbm{};
  uint8_t n_hbm = 0;
};

struct UnitState {
  uint64_t free = 0;              // earliest start of the next instruction (in-order unit)
  uint64_t issued = 0, started = 0;
  std::vector<uint64_t> start_ring;  // start cycle of unit-instruction k at k % depth
  std::deque<Pending> queue;
  uint64_t busy_end = 0;          // end of the union of [start, finish) so far
  UnitStats st;
};

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace

struct TimingModel::Impl {
  config::HardwareConfig cfg;
  TimingOptions opts;
  dram::DramModel dram;
  uint64_t period;  // ps per cycle
  bool decoupled;
  TimingStats st;

  uint64_t next_seq = 0;
  uint64_t now = 0;      // in-order: finish of the previous instruction
  uint64_t fe_next = 0;  // decoupled: earliest cycle the next instruction may issue
  uint64_t max_finish = 0;

  std::array<UnitState, kUnits> units;
  std::array<std::array<RegState, kRegsPerSpace>, 4> regs{};
  uint64_t unknown_regs = 0;
  std::array<std::vector<SbEntry>, kSpaces> sb;
  std::vector<uint64_t> scratch_deps;

  std::deque<DmaXfer> dma;  // started-or-queued transfers not yet retired, in start order
  size_t dma_unstarted = 0; // the last dma_unstarted entries of `dma` have not started
  uint64_t dma_last_start = 0;
  std::vector<std::pair<uint64_t, uint64_t>> dma_slots;  // (seq, finish) of transfers holding a queue slot
  uint64_t dma_busy_end = 0;
  uint64_t pending_compute = 0;

  std::vector<TraceEvent> events;

  Impl(const config::HardwareConfig& c, const TimingOptions& o)
      : cfg(c), opts(o), dram(make_dram(c)), period(cycle_period_ps(c.compute.clock_ghz)),
        decoupled(c.timing.mode == config::TimingMode::Decoupled) {
    if (opts.dma_queue_depth == 0 || opts.unit_queue_depth == 0)
      throw InputError(located("<timing options>", 0, 0, "dma_queue_depth and unit_queue_depth must be >= 1"));
    if (opts.dma_request_bytes == 0 || (opts.dma_request_bytes & (opts.dma_request_bytes - 1)) != 0)
      throw InputError(located("<timing options>", 0, 0,
                               "dma_request_bytes = " + std::to_string(opts.dma_request_bytes) +
                                   ": expected a power of two"));
    for (UnitState& u : units) u.start_ring.assign(opts.unit_queue_depth, 0);
    if (opts.dram_trace) dram.set_trace_sink(dram::ramulator_trace_writer(*opts.dram_trace));
    st.dram_preset = c.hbm.dram;
    st.config_hash = config::canonical_hash(c);
    st.timing_mode = std::string(config::timing_mode_name(c.timing.mode));
    st.latency_profile = std::string(config::latency_profile_name(c.timing.latency_profile));
    st.ps_per_cycle = period;
  }

  static dram::DramModel make_dram(const config::HardwareConfig& c) {
    const auto names = dram::preset_names();
    if (std::find(names.begin(), names.end(), c.hbm.dram) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw InputError(located("<config>", 0, 0,
                               "hbm.dram = \"" + c.hbm.dram + "\": unknown DRAM preset, expected one of: " + known));
    }
    return dram::DramModel(dram::preset(c.hbm.dram));
  }

  // ---- costs ----
  struct Cost {
    uint64_t latency, occupancy;
  };
  Cost cost(const Effects& e) const {
    const uint64_t lat = class_cycles(cfg, e.op, e.latency) * e.repeat;
    switch (e.unit) {
      case isa::Unit::Matrix: return {lat, lat};  // not pipelined: the systolic array is busy throughout
      case isa::Unit::Vector: return {lat, opts.vector_pipelined ? std::min<uint64_t>(lat, e.repeat) : lat};
      case isa::Unit::ScalarFp:
        if (e.latency == isa::Latency::MapVFp) return {lat, lat};  // streams a VRAM row element by element
        return {lat, std::min<uint64_t>(lat, 1)};
      default: return {lat, std::min<uint64_t>(lat, 1)};
    }
  }

  // ---- bookkeeping shared by both modes ----
  void record_start(int u, uint64_t seq, uint64_t issue, uint64_t start) {
    UnitState& us = units[u];
    us.st.instructions++;
    us.st.stall_cycles += start - issue;
    if (opts.record_trace) {
      TraceEvent& ev = events[seq];
      ev.issue = issue;
      ev.start = start;
    }
  }
  void record_finish(int u, uint64_t seq, uint64_t start, uint64_t finish) {
    max_finish = std::max(max_finish, finish);
    if (u != kDmaUnit) {
      UnitState& us = units[u];
      const uint64_t from = std::max(start, us.busy_end);
      if (finish > from) us.st.busy_cycles += finish - from;
      us.busy_end = std::max(us.busy_end, finish);
    }
    if (opts.record_trace) events[seq].finish = finish;
  }

  // ---- DMA engine ----
  void start_dma(DmaXfer& x) {
    const uint64_t start = std::max({x.issue, x.ready, dma_last_start});
    dma_last_start = start;
    x.start = start;
    record_start(kDmaUnit, x.seq, x.issue, start);
    const uint64_t arrival = start * period;
    if (arrival < dram.now_ps())
      throw SimFault("timing: internal error: DMA at cycle " + std::to_string(start) +
                     " arrives before the DRAM horizon " + std::to_string(dram.now_ps()) + " ps");
    const uint64_t chunk = opts.dma_request_bytes;
    for (uint8_t i = 0; i < x.n_hbm; ++i) {
      const HbmStream& s = x.hbm[i];
      if (s.bytes == 0 || s.rows == 0) continue;
      // Back-to-back rows form one contiguous range (e.g. a tensor's scale rows).
      const bool contiguous = s.stride == s.bytes;
      const uint64_t rows = contiguous ? 1 : s.rows;
      const uint64_t row_bytes = contiguous ? s.bytes * s.rows : s.bytes;
      for (uint64_t r = 0; r < rows; ++r) {
        uint64_t a = s.base + r * s.stride;
        const uint64_t end = a + row_bytes;
        while (a < end) {
          const uint64_t next = std::min(end, (a & ~(chunk - 1)) + chunk);
          const uint64_t id = dram.submit(dram::Request{a, next - a, s.write, arrival});
          if (x.n_req == 0) x.first_req = id;
          x.n_req++;
          a = next;
        }
      }
    }
    x.remaining = x.n_req;
    st.dram_requests += x.n_req;
    if (x.n_req == 0) complete_dma(x, start + opts.dma_setup_cycles);
  }

  void complete_dma(DmaXfer& x, uint64_t finish) {
    x.finish = finish;
    record_finish(kDmaUnit, x.seq, x.start, finish);
    for (auto& s : dma_slots)
      if (s.first == x.seq) s.second = finish;
    resolve(x.seq, finish);
    // Retire finished transfers from the front, merging their busy intervals in start order.
    while (!dma.empty() && dma.front().finish != kUnknown) {
      const DmaXfer& f = dma.front();
      const uint64_t from = std::max(f.start, dma_busy_end);
      if (f.finish > from) units[kDmaUnit].st.busy_cycles += f.finish - from;
      dma_busy_end = std::max(dma_busy_end, f.finish);
      dma.pop_front();
    }
  }

  void on_completion(const dram::Completion& c) {
    // The started transfers own consecutive id ranges in start order; queued ones have kUnknown.
    auto it = std::upper_bound(dma.begin(), dma.end(), c.id,
                               [](uint64_t id, const DmaXfer& x) { return id < x.first_req; });
    if (it == dma.begin()) throw SimFault("timing: internal error: DRAM completion for unknown request");
    DmaXfer& x = *(it - 1);
    if (c.id >= x.first_req + x.n_req || x.remaining == 0)
      throw SimFault("timing: internal error: DRAM completion outside its transfer");
    x.last_done_ps = std::max(x.last_done_ps, c.time_ps);
    if (--x.remaining == 0) complete_dma(x, ceil_div(x.last_done_ps, period) + opts.dma_setup_cycles);
  }

  // Processes the DRAM model's next event (if it completes anything, dependants are started).
  void step() {
    const uint64_t t = dram.next_event_time();
    if (t == dram::kNever) throw SimFault("timing: internal error: waiting on DRAM with nothing outstanding");
    for (const dram::Completion& c : dram.advance_to(t)) on_completion(c);
    pump();
  }

  // ---- dependency resolution ----
  static void drop_dep(std::vector<uint64_t>& deps, uint64_t& ready, uint64_t seq, uint64_t finish) {
    auto it = std::find(deps.begin(), deps.end(), seq);
    if (it == deps.end()) return;
    deps.erase(it);
    ready = std::max(ready, finish);
  }

  // Instruction `seq`, issued earlier with an unknown finish, now finishes at `finish`.
  void resolve(uint64_t seq, uint64_t finish) {
    for (auto& v : sb)
      for (SbEntry& x : v)
        if (x.finish == kUnknown && x.seq == seq) x.finish = finish;
    if (unknown_regs)
      for (auto& space : regs)
        for (RegState& r : space)
          if (r.ready == kUnknown && r.seq == seq) {
            r.ready = finish;
            unknown_regs--;
          }
    for (UnitState& u : units)
      for (Pending& p : u.queue) drop_dep(p.deps, p.ready, seq, finish);
    for (size_t i = dma.size() - dma_unstarted; i < dma.size(); ++i) drop_dep(dma[i].deps, dma[i].ready, seq, finish);
  }

  // Starts every queued instruction whose dependencies are all resolved, unit by unit in order.
  void pump() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (int u = 0; u < kUnits; ++u) {
        if (u == kDmaUnit) continue;
        UnitState& us = units[u];
        while (!us.queue.empty() && us.queue.front().deps.empty()) {
          const Pending p = std::move(us.queue.front());
          us.queue.pop_front();
          pending_compute--;
          const uint64_t start = std::max({p.issue, us.free, p.ready});
          start_compute(u, p.seq, p.issue, start, p.occupancy);
          const uint64_t finish = start + p.latency;
          record_finish(u, p.seq, start, finish);
          resolve(p.seq, finish);
          progress = true;
        }
      }
      while (dma_unstarted > 0) {
        DmaXfer& x = dma[dma.size() - dma_unstarted];
        if (!x.deps.empty()) break;
        dma_unstarted--;
        start_dma(x);  // may retire entries from the front; the index above is recomputed each time
        progress = true;
      }
    }
  }

  void start_compute(int u, uint64_t seq, uint64_t issue, uint64_t start, uint64_t occupancy) {
    UnitState& us = units[u];
    us.start_ring[us.started % opts.unit_queue_depth] = start;
    us.started++;
    us.free = start + occupancy;
    record_start(u, seq, issue, start);
  }

  // ---- front end (decoupled) ----
  uint64_t reg_ready(int slot, uint64_t idx) {
    if (idx >= kRegsPerSpace) throw SimFault("timing: register index " + std::to_string(idx) + " out of range");
    RegState& r = regs[slot][idx];
    while (r.ready == kUnknown) step();
    return r.ready;
  }

  uint64_t compute_slot(int u, uint64_t t) {
    UnitState& us = units[u];
    const uint64_t d = opts.unit_queue_depth;
    if (us.issued < d) return t;
    while (us.started + d <= us.issued) step();
    return std::max(t, us.start_ring[(us.issued - d) % d]);
  }

  uint64_t dma_slot(uint64_t t) {
    const size_t d = opts.dma_queue_depth;
    for (;;) {
      std::erase_if(dma_slots, [t](const auto& s) { return s.second <= t; });
      if (dma_slots.size() < d) return t;
      std::vector<uint64_t> f;
      for (const auto& s : dma_slots) f.push_back(s.second);
      std::sort(f.begin(), f.end());
      const uint64_t need = f[dma_slots.size() - d];  // once this one finishes, a slot is free
      if (need == kUnknown)
        step();
      else
        t = need;
    }
  }

  void scan(std::vector<SbEntry>& v, const Range& r, bool writes_only, uint64_t t, uint64_t& ready) {
    for (size_t i = 0; i < v.size();) {
      SbEntry& x = v[i];
      if (x.finish <= t) {  // can no longer delay anything issued from t on
        x = v.back();
        v.pop_back();
        continue;
      }
      if (x.lo < r.hi && r.lo < x.hi && (!writes_only || x.write)) {
        if (x.finish == kUnknown) {
          if (std::find(scratch_deps.begin(), scratch_deps.end(), x.seq) == scratch_deps.end())
            scratch_deps.push_back(x.seq);
        } else {
          ready = std::max(ready, x.finish);
        }
      }
      ++i;
    }
  }

  void insert(const Range& r, bool write, uint64_t finish, uint64_t seq) {
    std::vector<SbEntry>& v = sb[static_cast<int>(r.space)];
    if (write) {
      // Entries inside a new write range are dominated: whoever conflicts with them conflicts
      // with this write, which finishes no earlier.
      std::erase_if(v, [&](const SbEntry& x) { return x.lo >= r.lo && x.hi <= r.hi; });
    }
    v.push_back(SbEntry{r.lo, r.hi, finish, seq, write});
  }

  void issue_decoupled(const Effects& e, uint64_t seq, int u, Cost c) {
    uint64_t t = fe_next;
    for (uint8_t i = 0; i < e.n_reads; ++i) {
      const int slot = register_slot(e.reads[i].space);
      if (slot >= 0)
        for (uint64_t k = e.reads[i].lo; k < e.reads[i].hi; ++k) t = std::max(t, reg_ready(slot, k));
    }
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const int slot = register_slot(e.writes[i].space);
      if (slot >= 0)
        for (uint64_t k = e.writes[i].lo; k < e.writes[i].hi; ++k) t = std::max(t, reg_ready(slot, k));
    }
    t = u == kDmaUnit ? dma_slot(t) : compute_slot(u, t);
    st.issue_stall_cycles += t - fe_next;
    fe_next = t + 1;
    units[u].issued++;

    uint64_t ready = t;
    scratch_deps.clear();
    for (uint8_t i = 0; i < e.n_reads; ++i) {
      const Range& r = e.reads[i];
      if (register_slot(r.space) < 0 && r.lo < r.hi) scan(sb[static_cast<int>(r.space)], r, true, t, ready);
    }
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const Range& r = e.writes[i];
      if (register_slot(r.space) < 0 && r.lo < r.hi) scan(sb[static_cast<int>(r.space)], r, false, t, ready);
    }

    uint64_t finish = kUnknown;
    if (u != kDmaUnit && scratch_deps.empty() && units[u].queue.empty()) {
      UnitState& us = units[u];
      const uint64_t start = std::max({t, us.free, ready});
      start_compute(u, seq, t, start, c.occupancy);
      finish = start + c.latency;
      record_finish(u, seq, start, finish);
    }
    for (uint8_t i = 0; i < e.n_reads; ++i) {
      const Range& r = e.reads[i];
      if (register_slot(r.space) < 0 && r.lo < r.hi) insert(r, false, finish, seq);
    }
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const Range& r = e.writes[i];
      const int slot = register_slot(r.space);
      if (slot >= 0) {
        for (uint64_t k = r.lo; k < r.hi; ++k) {
          RegState& rs = regs[slot][k];
          if (rs.ready == kUnknown) unknown_regs--;  // cannot happen (interlocked above); keeps the count exact
          rs.ready = finish;
          rs.seq = seq;
          if (finish == kUnknown) unknown_regs++;
        }
      } else if (r.lo < r.hi) {
        insert(r, true, finish, seq);
      }
    }
    if (finish != kUnknown) return;

    if (u == kDmaUnit) {
      DmaXfer x;
      x.seq = seq;
      x.issue = t;
      x.ready = ready;
      x.deps = scratch_deps;
      x.hbm = e.hbm;
      x.n_hbm = e.n_hbm;
      dma.push_back(std::move(x));
      dma_unstarted++;
      dma_slots.emplace_back(seq, kUnknown);
      st.dma_transfers++;
    } else {
      units[u].queue.push_back(Pending{seq, t, ready, c.latency, c.occupancy, scratch_deps});
      pending_compute++;
    }
    pump();
  }

  // ---- in-order: each instruction starts when the previous one finished ----
  void issue_in_order(const Effects& e, uint64_t seq, int u, Cost c) {
    const uint64_t start = now;
    units[u].issued++;
    if (u == kDmaUnit) {
      DmaXfer x;
      x.seq = seq;
      x.issue = start;
      x.ready = start;
      x.hbm = e.hbm;
      x.n_hbm = e.n_hbm;
      dma.push_back(std::move(x));
      st.dma_transfers++;
      start_dma(dma.back());
      while (!dma.empty()) step();  // the transfer blocks; it is the only one in flight
      now = std::max(now, max_finish);
      return;
    }
    start_compute(u, seq, start, start, c.occupancy);
    const uint64_t finish = start + c.latency;
    record_finish(u, seq, start, finish);
    now = finish;
  }

  void issue(const Effects& e, uint32_t pc) {
    const uint8_t op = static_cast<uint8_t>(e.op);
    const int u = static_cast<int>(e.unit);
    if (op >= 64 || u >= kUnits) throw SimFault("timing: Effects with opcode " + std::to_string(op) + " / unit " +
                                                 std::to_string(u) + " outside the ISA table");
    if (e.n_reads > e.reads.size() || e.n_writes > e.writes.size() || e.n_hbm > e.hbm.size())
      throw SimFault("timing: Effects range counts exceed their arrays");
    if ((u == kDmaUnit) != (e.n_hbm > 0 || e.latency == isa::Latency::PrefetchM ||
                            e.latency == isa::Latency::PrefetchV || e.latency == isa::Latency::StoreV))
      throw SimFault("timing: Effects of " + std::string(isa::mnemonic(e.op)) +
                     ": HBM streams and DMA latency classes belong to the DMA unit only");
    const uint64_t seq = next_seq++;
    st.instructions++;
    st.instr_count[op]++;
    for (uint8_t i = 0; i < e.n_hbm; ++i) (e.hbm[i].write ? st.hbm_write_bytes : st.hbm_read_bytes) += e.hbm[i].total_bytes();
    if (opts.record_trace) {
      TraceEvent ev;
      ev.pc = pc;
      ev.op = e.op;
      ev.unit = static_cast<uint8_t>(u);
      for (uint8_t i = 0; i < e.n_hbm; ++i) ev.bytes += e.hbm[i].total_bytes();
      events.push_back(ev);
    }
    if (e.zero_latency) {
      // Skipped by the machine (the reference ignores FP results written to f0): no time, no slot.
      const uint64_t t = decoupled ? fe_next : now;
      units[u].st.instructions++;
      if (opts.record_trace) events[seq].issue = events[seq].start = events[seq].finish = t;
      return;
    }
    const Cost c = cost(e);
    if (decoupled)
      issue_decoupled(e, seq, u, c);
    else
      issue_in_order(e, seq, u, c);
  }

  void finish() {
    pump();
    while (pending_compute > 0 || !dma.empty()) step();
    // A barrier: later issue() calls start after everything so far.
    now = std::max(now, max_finish);
    fe_next = std::max(fe_next, max_finish);
    st.cycles = max_finish;
    st.time_ps = max_finish * period;
    UnitStats* out[kUnits] = {&st.matrix, &st.vector, &st.scalar_int, &st.scalar_fp, &st.control, &st.dma};
    for (int u = 0; u < kUnits; ++u) *out[u] = units[u].st;
    const dram::Stats ds = dram.stats();
    st.dram_row_hit_rate = ds.row_hit_rate;
    st.dram_row_hits = ds.row_hits;
    st.dram_row_misses = ds.row_misses;
    st.dram_row_conflicts = ds.row_conflicts;
    st.dram_avg_latency_ns = ds.avg_latency_ps / 1000.0;
    st.dram_peak_gbps = ds.peak_bandwidth_GBps;
    // bytes per ps * 1000 = GB/s, over the whole simulated run.
    st.achieved_read_gbps = st.time_ps ? double(st.hbm_read_bytes) * 1000.0 / double(st.time_ps) : 0.0;
    st.achieved_write_gbps = st.time_ps ? double(st.hbm_write_bytes) * 1000.0 / double(st.time_ps) : 0.0;
  }
};

TimingModel::TimingModel(const config::HardwareConfig& cfg, const TimingOptions& opts)
    : impl_(std::make_unique<Impl>(cfg, opts)) {}
TimingModel::~TimingModel() = default;

void TimingModel::issue(const Effects& e, uint32_t pc) { impl_->issue(e, pc); }
void TimingModel::finish() { impl_->finish(); }
const TimingStats& TimingModel::stats() const { return impl_->st; }

void TimingModel::write_perfetto(std::ostream& out) const {
  const std::string title = "plena " + impl_->st.timing_mode + " " + impl_->st.latency_profile;
  write_trace_events(out, impl_->events, impl_->period, title);
}

}  // namespace plena::sim

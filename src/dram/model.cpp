// The scheduling engine. Each pseudo-channel ("unit") is independent: its own banks, read and
// write queues, command timing and data bus. A unit makes one decision at a time: at decision
// time d it looks at the queued atoms that have arrived by d and picks, FR-FCFS style, the one
// whose column command can issue first (ties: row hit, then oldest). Row commands (PRE/ACT)
// for that atom are placed as early as the bank, tRRD/tFAW and the atom's own queue-entry time
// allow, which models a controller preparing rows while other columns stream. Decisions are
// only made for d <= the time the caller has advanced to, so later submissions (which must
// arrive at or after that time) can never change a decision already taken.
#include <algorithm>
#include <cassert>
#include <deque>
#include <queue>
#include <string>

#include "dram/dram.hpp"
#include "dram/mapping.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::dram {
namespace {

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

[[noreturn]] void bad_param(const Params& p, const std::string& what) {
  throw InputError(located("dram params '" + p.name + "'", 0, 0, what));
}

struct Atom {
  uint64_t arrival;  // request arrival
  uint64_t enter;    // max(arrival, time a queue slot freed)
  uint64_t seq;      // global age
  uint64_t row;
  uint64_t req;
  uint32_t bank;  // flat: bank_group * banks_per_group + bank
  uint32_t bg;
};

bool older(const Atom& a, const Atom& b) {
  return a.arrival != b.arrival ? a.arrival < b.arrival : a.seq < b.seq;
}

// The first `depth` unserved atoms in age order form the visible queue; the rest wait (backpressure).
struct Queue {
  std::vector<Atom> window;
  std::deque<Atom> pending;
  uint32_t depth = 1;

  bool empty() const { return window.empty(); }
  void insert(Atom a) {
    // Common case: submissions come in time order.
    if (pending.empty() && window.size() < depth && (window.empty() || !older(a, window.back()))) {
      window.push_back(a);
      return;
    }
    if (!pending.empty() && !older(a, pending.back())) {
      pending.push_back(a);
      return;
    }
    if (window.size() < depth) {
      auto it = window.end();
      while (it != window.begin() && older(a, *(it - 1))) --it;
      window.insert(it, a);
      return;
    }
    if (older(a, window.back())) {
      Atom evicted = window.back();
      window.pop_back();
      auto it = window.end();
      while (it != window.begin() && older(a, *(it - 1))) --it;
      window.insert(it, a);
      pending.push_front(evicted);
      return;
    }
    auto it = pending.end();
    while (it != pending.begin() && older(a, *(it - 1))) --it;
    pending.insert(it, a);
  }
  void take(size_t i, uint64_t d) {
    window.erase(window.begin() + static_cast<std::ptrdiff_t>(i));
    if (!pending.empty()) {
      Atom a = pending.front();
      pending.pop_front();
      a.enter = std::max(a.arrival, d);
      window.push_back(a);
    }
  }
};

struct Bank {
  bool open = false;
  uint64_t row = 0;
  uint64_t cas_ready = 0;  // ACT + tRCD
  uint64_t pre_ready = 0;  // tRAS after ACT, tRTP after RD, tWR after write data
  uint64_t act_ready = 0;  // tRC after ACT, tRP after PRE, tRFC after REF
};

enum RowOutcome { kHit = 0, kMiss = 1, kConflict = 2 };

struct Plan {
  uint64_t act = 0, cas = 0;
  RowOutcome outcome = kHit;
};

struct Unit {
  std::vector<Bank> banks;
  std::vector<uint64_t> bg_cas_ready;  // tCCD_L
  std::vector<uint64_t> bg_act_ready;  // tRRD_L
  uint64_t cas_ready = 0;              // tCCD_S
  uint64_t act_ready = 0;              // tRRD_S and ACT ordering
  uint64_t faw[4] = {0, 0, 0, 0};      // last four ACTs (ring)
  uint32_t faw_pos = 0;
  uint64_t acts = 0;
  uint64_t bus_free = 0;
  uint64_t read_cas_ready = 0;         // tWTR after write data
  uint64_t write_data_ready = 0;       // tRTW after read data
  uint64_t next_refresh = 0;
  bool write_mode = false;
  Queue rq, wq;
  uint64_t busy_ps = 0;
  uint64_t atoms = 0;
  uint64_t last_decision = 0;
};

struct ReqState {
  uint64_t arrival = 0;
  uint64_t size = 0;
  uint64_t remaining = 0;
  uint64_t done = 0;
  bool is_write = false;
  bool complete = false;
};

struct IdleEntry {
  uint64_t arrival, seq, req;
};

}  // namespace

struct DramModel::Impl {
  Params p;
  Mapping map;
  std::vector<Unit> units;
  std::vector<ReqState> reqs;
  // (time, id) min-heap of requests whose completion time is known but not yet reported.
  std::priority_queue<std::pair<uint64_t, uint64_t>, std::vector<std::pair<uint64_t, uint64_t>>,
                      std::greater<>>
      done_heap;
  uint64_t horizon = 0;
  uint64_t seq = 0;
  TraceSink sink;
  Stats st;
  bool any_done = false, any_read_done = false, any_write_done = false;
  uint64_t latency_sum = 0;
  uint64_t done_read_bytes = 0, done_write_bytes = 0;  // completed requests only
  // Ideal model: one FIFO server.
  std::deque<IdleEntry> ideal_q;
  uint64_t ideal_bus_free = 0;

  explicit Impl(Params params) : p(std::move(params)), map(p) {
    if (p.kind == Kind::Dram) {
      units.resize(p.units());
      for (Unit& u : units) {
        u.banks.resize(p.banks());
        u.bg_cas_ready.assign(p.bank_groups, 0);
        u.bg_act_ready.assign(p.bank_groups, 0);
        u.rq.depth = p.read_queue_depth;
        u.wq.depth = p.write_queue_depth;
        u.next_refresh = p.tREFI;
      }
    }
    st.preset = p.name;
    st.peak_bandwidth_GBps = p.peak_bandwidth_GBps();
    st.channels.resize(p.channels);
  }

  // ---- completion bookkeeping ----
  void atom_done(uint64_t req, uint64_t t) {
    ReqState& r = reqs[req];
    r.done = std::max(r.done, t);
    if (--r.remaining == 0) finish(req);
  }
  void finish(uint64_t id) {
    ReqState& r = reqs[id];
    r.complete = true;
    done_heap.emplace(r.done, id);
    const uint64_t lat = r.done - r.arrival;
    latency_sum += lat;
    st.max_latency_ps = std::max(st.max_latency_ps, lat);
    st.completed_requests++;
    if (!any_done || r.arrival < st.first_arrival_ps) st.first_arrival_ps = r.arrival;
    st.last_completion_ps = std::max(st.last_completion_ps, r.done);
    any_done = true;
    (r.is_write ? done_write_bytes : done_read_bytes) += r.size;
    if (r.is_write) {
      if (!any_write_done || r.arrival < st.first_write_arrival_ps) st.first_write_arrival_ps = r.arrival;
      st.last_write_completion_ps = std::max(st.last_write_completion_ps, r.done);
      any_write_done = true;
    } else {
      if (!any_read_done || r.arrival < st.first_read_arrival_ps) st.first_read_arrival_ps = r.arrival;
      st.last_read_completion_ps = std::max(st.last_read_completion_ps, r.done);
      any_read_done = true;
    }
  }

  // ---- DRAM units ----
  static uint64_t unit_decision_time(const Unit& u) {
    uint64_t first = kNever;
    if (!u.rq.empty()) first = u.rq.window.front().enter;
    if (!u.wq.empty()) first = std::min(first, u.wq.window.front().enter);
    if (first == kNever) return kNever;
    return std::max(first, u.cas_ready);
  }

  void refresh(Unit& u, uint64_t d) {
    if (p.tREFI == 0) return;
    while (d >= u.next_refresh) {
      uint64_t pre_all = u.next_refresh;
      bool any_open = false;
      for (const Bank& b : u.banks)
        if (b.open) {
          pre_all = std::max(pre_all, b.pre_ready);
          any_open = true;
        }
      uint64_t ref = any_open ? pre_all + p.tRP : pre_all;
      for (const Bank& b : u.banks) ref = std::max(ref, b.act_ready);
      const uint64_t end = ref + p.tRFC;
      for (Bank& b : u.banks) {
        b.open = false;
        b.act_ready = std::max(b.act_ready, end);
      }
      st.refreshes++;
      u.next_refresh += p.tREFI;
      // Idle gap spanning many intervals: the banks are closed, so the rest are closed form.
      if (d >= u.next_refresh + p.tREFI) {
        const uint64_t k = (d - u.next_refresh) / p.tREFI;  // refreshes strictly before the last one due
        const uint64_t last = u.next_refresh + (k - 1) * p.tREFI;
        for (Bank& b : u.banks) b.act_ready = std::max(b.act_ready, last + p.tRFC);
        st.refreshes += k;
        u.next_refresh += k * p.tREFI;
      }
    }
  }

  Plan plan(const Unit& u, const Atom& a, bool write, uint64_t d) const {
    const Bank& b = u.banks[a.bank];
    Plan pl;
    uint64_t cas = d;
    if (b.open && b.row == a.row) {
      pl.outcome = kHit;
      cas = std::max(cas, b.cas_ready);
    } else {
      uint64_t act = std::max(a.enter, b.act_ready);
      if (b.open) {
        pl.outcome = kConflict;
        act = std::max(act, std::max(a.enter, b.pre_ready) + p.tRP);
      } else {
        pl.outcome = kMiss;
      }
      act = std::max({act, u.act_ready, u.bg_act_ready[a.bg]});
      if (u.acts >= 4) act = std::max(act, u.faw[u.faw_pos] + p.tFAW);
      pl.act = act;
      cas = std::max(cas, act + p.tRCD);
    }
    cas = std::max({cas, u.cas_ready, u.bg_cas_ready[a.bg]});
    if (!write) {
      cas = std::max(cas, u.read_cas_ready);
      if (cas + p.tCL < u.bus_free) cas = u.bus_free - p.tCL;
    } else {
      const uint64_t data_ready = std::max(u.bus_free, u.write_data_ready);
      if (cas + p.tCWL < data_ready) cas = data_ready - p.tCWL;
    }
    pl.cas = cas;
    return pl;
  }

  void commit(Unit& u, const Atom& a, bool write, const Plan& pl) {
    Bank& b = u.banks[a.bank];
    if (pl.outcome != kHit) {
      b.open = true;
      b.row = a.row;
      b.cas_ready = pl.act + p.tRCD;
      b.pre_ready = pl.act + p.tRAS;
      b.act_ready = pl.act + p.tRC;
      u.act_ready = pl.act + p.tRRD_S;
      u.bg_act_ready[a.bg] = pl.act + p.tRRD_L;
      u.faw[u.faw_pos] = pl.act;
      u.faw_pos = (u.faw_pos + 1) & 3;
      u.acts++;
      (pl.outcome == kMiss ? st.row_misses : st.row_conflicts)++;
    } else {
      st.row_hits++;
    }
    u.cas_ready = pl.cas + p.tCCD_S;
    u.bg_cas_ready[a.bg] = pl.cas + p.tCCD_L;
    uint64_t data_end;
    if (!write) {
      data_end = pl.cas + p.tCL + p.tBL;
      b.pre_ready = std::max(b.pre_ready, pl.cas + p.tRTP);
      u.write_data_ready = std::max(u.write_data_ready, data_end + p.tRTW);
      st.read_atoms++;
    } else {
      data_end = pl.cas + p.tCWL + p.tBL;
      b.pre_ready = std::max(b.pre_ready, data_end + p.tWR);
      u.read_cas_ready = std::max(u.read_cas_ready, data_end + p.tWTR);
      st.write_atoms++;
    }
    u.bus_free = data_end;
    u.busy_ps += p.tBL;
    u.atoms++;
    atom_done(a.req, data_end + p.controller_latency_ps);
  }

  // Arrived writes at d, counted up to `cap`.
  static uint32_t arrived(const Queue& q, uint64_t d, uint32_t cap) {
    uint32_t n = 0;
    for (const Atom& a : q.window) {
      if (a.enter > d || n >= cap) break;
      ++n;
    }
    return n;
  }

  void decide(Unit& u, uint64_t d) {
    refresh(u, d);
    const bool reads = !u.rq.empty() && u.rq.window.front().enter <= d;
    const bool writes = !u.wq.empty() && u.wq.window.front().enter <= d;
    if (u.write_mode) {
      if (!writes || (reads && arrived(u.wq, d, p.write_low_watermark + 1) <= p.write_low_watermark))
        u.write_mode = false;
    } else if (writes && (!reads || arrived(u.wq, d, p.write_high_watermark) >= p.write_high_watermark)) {
      u.write_mode = true;
    }
    const bool write = u.write_mode;
    Queue& q = write ? u.wq : u.rq;
    // Lower bound on any column command: a hit reaching it cannot be beaten by a younger atom.
    uint64_t bound = std::max(d, u.cas_ready);
    if (!write) {
      bound = std::max(bound, u.read_cas_ready);
      if (bound + p.tCL < u.bus_free) bound = u.bus_free - p.tCL;
    }
    // Lower bound for any atom that needs an ACT.
    uint64_t act_floor = u.act_ready;
    if (u.acts >= 4) act_floor = std::max(act_floor, u.faw[u.faw_pos] + p.tFAW);
    const uint64_t miss_bound = std::max(bound, act_floor + p.tRCD);
    size_t best = 0;
    Plan best_plan;
    bool have = false;
    for (size_t i = 0; i < q.window.size(); ++i) {
      const Atom& a = q.window[i];
      if (a.enter > d) break;
      const Bank& b = u.banks[a.bank];
      // A younger atom needing an ACT cannot beat the best once that reaches the miss bound.
      if (have && best_plan.cas <= miss_bound && !(b.open && b.row == a.row)) continue;
      const Plan pl = plan(u, a, write, d);
      const bool better = !have || pl.cas < best_plan.cas ||
                          (pl.cas == best_plan.cas && pl.outcome == kHit && best_plan.outcome != kHit);
      if (better) {
        best = i;
        best_plan = pl;
        have = true;
        if (pl.outcome == kHit && pl.cas <= bound) break;
      }
    }
    assert(have);
    const Atom a = q.window[best];
    q.take(best, d);
    commit(u, a, write, best_plan);
    u.last_decision = d;
  }

  void run_units(uint64_t t) {
    for (Unit& u : units) {
      for (;;) {
        const uint64_t d = unit_decision_time(u);
        if (d == kNever || d > t) break;
        decide(u, d);
        if (t == kNever) horizon = std::max(horizon, d);
      }
    }
  }

  // ---- ideal ----
  uint64_t ideal_transfer_ps(uint64_t bytes) const {
    const unsigned __int128 num = static_cast<unsigned __int128>(bytes) * 8u * 1000000u;
    const unsigned __int128 den = static_cast<unsigned __int128>(p.bus_width_bits) * p.data_rate_mbps;
    return static_cast<uint64_t>(ceil_div(num, den));
  }
  void run_ideal(uint64_t t) {
    while (!ideal_q.empty() && ideal_q.front().arrival <= t) {
      const IdleEntry e = ideal_q.front();
      ideal_q.pop_front();
      ReqState& r = reqs[e.req];
      const uint64_t start = std::max(e.arrival, ideal_bus_free);
      const uint64_t xfer = ideal_transfer_ps(r.size);
      ideal_bus_free = start + xfer;
      st.channels[0].busy_ps += xfer;
      r.done = start + xfer + p.ideal_latency_ps + p.controller_latency_ps;
      if (t == kNever) horizon = std::max(horizon, e.arrival);
      finish(e.req);
    }
  }

  void run(uint64_t t) {
    if (p.kind == Kind::Ideal)
      run_ideal(t);
    else
      run_units(t);
  }
};

void Params::validate() const {
  if (name.empty()) bad_param(*this, "name must not be empty");
  auto pow2 = [&](uint64_t v, const char* field) {
    if (!is_pow2(v)) bad_param(*this, std::string(field) + " = " + std::to_string(v) + ", expected a power of two");
  };
  pow2(channels, "channels");
  pow2(pseudo_channels, "pseudo_channels");
  pow2(bank_groups, "bank_groups");
  pow2(banks_per_group, "banks_per_group");
  pow2(row_bytes, "row_bytes");
  pow2(atom_bytes, "atom_bytes");
  if (atom_bytes > row_bytes) bad_param(*this, "atom_bytes must not exceed row_bytes");
  if (data_rate_mbps == 0) bad_param(*this, "data_rate_mbps must be > 0");
  if (bus_width_bits == 0) bad_param(*this, "bus_width_bits must be > 0");
  if (tCK == 0) bad_param(*this, "tCK must be > 0");
  if (kind == Kind::Ideal) return;
  if (tBL == 0) bad_param(*this, "tBL must be > 0 (burst_time_from_rate_ps() gives the pin-rate value)");
  if (tRCD == 0 || tCL == 0) bad_param(*this, "tRCD and tCL must be > 0");
  if (tCCD_S == 0) bad_param(*this, "tCCD_S must be > 0");
  if (tCCD_L < tCCD_S) bad_param(*this, "tCCD_L must be >= tCCD_S");
  if (tRRD_L < tRRD_S) bad_param(*this, "tRRD_L must be >= tRRD_S");
  if (tRAS < tRCD) bad_param(*this, "tRAS must be >= tRCD");
  if (tRC < tRAS) bad_param(*this, "tRC must be >= tRAS");
  if (tREFI != 0 && tRFC >= tREFI) bad_param(*this, "tRFC must be < tREFI (or tREFI = 0 for no refresh)");
  if (read_queue_depth == 0 || write_queue_depth == 0) bad_param(*this, "queue depths must be > 0");
  if (write_high_watermark == 0 || write_high_watermark > write_queue_depth)
    bad_param(*this, "write_high_watermark must be in [1, write_queue_depth]");
  if (write_low_watermark >= write_high_watermark)
    bad_param(*this, "write_low_watermark must be < write_high_watermark");
  Mapping check(*this);  // throws on a bad mapping string
}

DramModel::DramModel(Params p) {
  p.validate();
  impl_ = std::make_unique<Impl>(std::move(p));
}
DramModel::~DramModel() = default;
DramModel::DramModel(DramModel&&) noexcept = default;
DramModel& DramModel::operator=(DramModel&&) noexcept = default;

const Params& DramModel::params() const { return impl_->p; }
Location DramModel::locate(uint64_t addr) const { return impl_->map.locate(addr); }
uint64_t DramModel::now_ps() const { return impl_->horizon; }

uint64_t DramModel::submit(const Request& r) {
  Impl& m = *impl_;
  if (r.size == 0) throw SimFault("dram: request of 0 bytes at address " + std::to_string(r.addr));
  if (r.arrival_ps < m.horizon)
    throw SimFault("dram: request arrives at " + std::to_string(r.arrival_ps) +
                   " ps, before the scheduled horizon " + std::to_string(m.horizon) +
                   " ps (submit in time order; after drain() only later arrivals)");
  if (r.addr + r.size < r.addr) throw SimFault("dram: request address range overflows 64 bits");
  const uint64_t id = m.reqs.size();
  const uint64_t shift = m.map.atom_shift();
  const uint64_t first = r.addr >> shift, last = (r.addr + r.size - 1) >> shift;
  ReqState rs;
  rs.arrival = r.arrival_ps;
  rs.size = r.size;
  rs.remaining = last - first + 1;
  rs.is_write = r.is_write;
  m.reqs.push_back(rs);
  if (r.is_write) {
    m.st.write_requests++;
    m.st.bytes_written += r.size;
  } else {
    m.st.read_requests++;
    m.st.bytes_read += r.size;
  }
  for (uint64_t ai = first; ai <= last; ++ai) {
    if (m.sink) m.sink(TraceEntry{r.is_write, ai << shift});
    if (m.p.kind == Kind::Ideal) continue;
    const Mapping::Decoded loc = m.map.decode_atom(ai);
    Atom a{r.arrival_ps, r.arrival_ps, m.seq++, loc.row, id, loc.bank, loc.bg};
    Unit& u = m.units[loc.unit];
    (r.is_write ? u.wq : u.rq).insert(a);
  }
  if (m.p.kind == Kind::Ideal) {
    if (r.is_write)
      m.st.write_atoms += rs.remaining;
    else
      m.st.read_atoms += rs.remaining;
    IdleEntry e{r.arrival_ps, m.seq++, id};
    auto it = m.ideal_q.end();
    while (it != m.ideal_q.begin() && (it - 1)->arrival > e.arrival) --it;
    m.ideal_q.insert(it, e);
  }
  return id;
}

std::vector<Completion> DramModel::advance_to(uint64_t t) {
  Impl& m = *impl_;
  if (t < m.horizon)
    throw SimFault("dram: advance_to(" + std::to_string(t) + ") goes back before " + std::to_string(m.horizon));
  m.run(t);
  if (t != kNever) m.horizon = t;
  std::vector<Completion> out;
  while (!m.done_heap.empty() && m.done_heap.top().first <= t) {
    out.push_back({m.done_heap.top().second, m.done_heap.top().first});
    m.done_heap.pop();
  }
  return out;
}

uint64_t DramModel::next_event_time() const {
  const Impl& m = *impl_;
  uint64_t t = m.done_heap.empty() ? kNever : m.done_heap.top().first;
  if (m.p.kind == Kind::Ideal) {
    if (!m.ideal_q.empty()) t = std::min(t, std::max(m.ideal_q.front().arrival, m.horizon));
  } else {
    for (const Unit& u : m.units) t = std::min(t, std::max(Impl::unit_decision_time(u), m.horizon));
  }
  return t;
}

std::vector<Completion> DramModel::advance_to_next_completion(uint64_t limit) {
  for (;;) {
    const uint64_t t = next_event_time();
    if (t == kNever || t > limit) {
      if (limit != kNever) advance_to(std::max(limit, impl_->horizon));
      return {};
    }
    std::vector<Completion> out = advance_to(t);
    if (!out.empty()) return out;
  }
}

void DramModel::drain() { impl_->run(kNever); }

bool DramModel::is_scheduled(uint64_t id) const {
  return id < impl_->reqs.size() && impl_->reqs[id].complete;
}

uint64_t DramModel::complete_time_ps(uint64_t id) const {
  if (!is_scheduled(id))
    throw SimFault("dram: completion of request " + std::to_string(id) +
                   " is not known yet (unknown id, or call drain()/advance_to first)");
  return impl_->reqs[id].done;
}

void DramModel::set_trace_sink(TraceSink sink) { impl_->sink = std::move(sink); }

Stats DramModel::stats() const {
  const Impl& m = *impl_;
  Stats s = m.st;
  const uint64_t row_total = s.row_hits + s.row_misses + s.row_conflicts;
  s.row_hit_rate = row_total ? double(s.row_hits) / double(row_total) : 0.0;
  s.avg_latency_ps = s.completed_requests ? double(m.latency_sum) / double(s.completed_requests) : 0.0;
  auto gbps = [](uint64_t bytes, uint64_t from, uint64_t to) {
    return to > from ? double(bytes) / double(to - from) * 1000.0 : 0.0;  // bytes/ps -> GB/s
  };
  // Bandwidth counts completed requests only, so it is exact after drain().
  const uint64_t rb = m.done_read_bytes, wb = m.done_write_bytes;
  s.read_bandwidth_GBps = gbps(rb, s.first_read_arrival_ps, s.last_read_completion_ps);
  s.write_bandwidth_GBps = gbps(wb, s.first_write_arrival_ps, s.last_write_completion_ps);
  s.bandwidth_GBps = gbps(rb + wb, s.first_arrival_ps, s.last_completion_ps);
  const uint64_t window = s.last_completion_ps > s.first_arrival_ps ? s.last_completion_ps - s.first_arrival_ps : 0;
  if (m.p.kind == Kind::Dram) {
    for (size_t i = 0; i < m.units.size(); ++i) {
      ChannelStats& c = s.channels[i / m.p.pseudo_channels];
      c.busy_ps += m.units[i].busy_ps;
      c.atoms += m.units[i].atoms;
    }
  } else {
    s.channels[0].atoms = s.read_atoms + s.write_atoms;
  }
  const uint32_t per_channel = m.p.kind == Kind::Dram ? m.p.pseudo_channels : 1;
  for (ChannelStats& c : s.channels)
    c.utilization = window ? double(c.busy_ps) / (double(window) * per_channel) : 0.0;
  return s;
}

}  // namespace plena::dram

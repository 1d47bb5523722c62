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
#include <bit>
#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <ostream>
#include <string>
#include <vector>

#include "dram/dram.hpp"
#include "sim/timing_internal.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::sim {
using namespace timing_detail;

namespace {

constexpr int kSpaces = static_cast<int>(Space::Count);
constexpr uint64_t kRegsPerSpace = 64;

// Register-like spaces are read when an instruction issues (operands are captured into the unit
// queue), so they interlock the front end; all other spaces are tracked by the scoreboard and
// delay the instruction's start instead (kBoardSpace). kBadSpace: a value outside the enum.
constexpr int8_t kBoardSpace = -1, kBadSpace = -2;
constexpr int8_t register_slot(Space s) {
  switch (s) {
    case Space::GpReg: return 0;
    case Space::FpReg: return 1;
    case Space::HbmReg: return 2;
    case Space::Ctrl: return 3;
    default: return kBoardSpace;
  }
}
// Indexed by any byte value of Space, so the lookup needs no bounds check.
constexpr std::array<int8_t, 256> kRegisterSlot = [] {
  std::array<int8_t, 256> a{};
  a.fill(kBadSpace);
  for (int i = 0; i < kSpaces; ++i) a[i] = register_slot(static_cast<Space>(i));
  return a;
}();
[[noreturn, gnu::noinline, gnu::cold]] void bad_space(size_t i) {
  throw SimFault("timing: Effects range with an invalid space " + std::to_string(i));
}

// sum_{i < n} floor((a * i + b) / m), m > 0, in O(log m) steps: whole multiples of m in a and b
// are summed directly; the rest is the same sum with the roles of a and m exchanged (counting the
// lattice points under the line the other way round).
uint128_t floor_sum(uint128_t n, uint128_t m, uint128_t a, uint128_t b) {
  uint128_t sum = 0;
  while (n > 0) {
    if (a >= m) {
      sum += (a / m) * (n * (n - 1) / 2);
      a %= m;
    }
    if (b >= m) {
      sum += (b / m) * n;
      b %= m;
    }
    const uint128_t top = a * n + b;  // a, b < m: no overflow for 64-bit inputs
    if (top < m) break;
    n = top / m;
    b = top % m;
    std::swap(m, a);
  }
  return sum;
}

// Register-like spaces: per register, the finish cycle of its last writer (kUnknown while that
// writer is unresolved) and, separately (the interlock reads only the ready times), that writer.
struct RegFile {
  std::array<uint64_t, kRegsPerSpace> ready{};
  std::array<uint64_t, kRegsPerSpace> seq{};
};

// One in-flight access: instructions that conflict with it start after `finish`.
struct SbEntry {
  uint64_t lo, hi;
  uint64_t finish;  // kUnknown while the instruction is unresolved
  uint64_t seq;
  bool write;
};

// One access of the instruction being issued to a scoreboard space.
struct Access {
  uint64_t lo, hi;
  uint8_t space;
  bool write;
};

// The in-flight accesses to one scoreboard space. Boards are short (a handful of entries in real
// programs): entries finished by the front end's clock are retired whenever the space is
// accessed, so one tight pass per accessed space both retires and finds the conflicts.
struct SpaceBoard {
  std::vector<SbEntry> entries;
  uint32_t unknown = 0;  // entries whose finish is kUnknown (resolve() skips boards without)

  void add(const Access& a, uint64_t finish, uint64_t seq) {
    entries.push_back(SbEntry{a.lo, a.hi, finish, seq, a.write});
    if (finish == kUnknown) [[unlikely]]
      unknown++;
  }
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
  uint8_t pool = 0;  // the memory pool whose DRAM model times it (by the first stream's address)
};

struct UnitState {
  uint64_t free = 0;              // earliest start of the next instruction (in-order unit)
  uint64_t issued = 0, started = 0;
  std::vector<uint64_t> start_ring;  // start cycle of unit-instruction k at k & ring_mask
  std::deque<Pending> queue;
  uint64_t busy_end = 0;          // end of the union of [start, finish) so far
  UnitStats st;
};

}  // namespace

namespace {
struct CalibKey {
  uint8_t pool = 0;
  dram::TransferShape shape;
  auto operator<=>(const CalibKey&) const = default;
};
}  // namespace

struct CalibratedShapes {
  dram::BurstOptions options;  // they were calibrated with
  std::map<CalibKey, dram::TransferTiming> map;
};

struct TimingModel::Impl {
  config::HardwareConfig cfg;
  TimingOptions opts;
  std::vector<dram::DramModel> drams;  // one per memory pool (config::memory_pools order)
  std::vector<uint64_t> pool_end;      // end address of each pool's range (routing)
  // Multi-pool only: per pool, first request id -> its transfer (ids are per DRAM model).
  std::vector<std::map<uint64_t, DmaXfer*>> pool_reqs;
  uint64_t period;  // ps per cycle
  bool decoupled;
  TimingStats st;

  uint64_t next_seq = 0;
  uint64_t now = 0;      // in-order: finish of the previous instruction
  uint64_t fe_next = 0;  // decoupled: earliest cycle the next instruction may issue
  uint64_t max_finish = 0;

  std::array<UnitState, kUnits> units;
  std::array<RegFile, 4> regs{};
  uint64_t unknown_regs = 0;
  std::array<SpaceBoard, kSpaces> sb;
  uint32_t occupied = 0;  // bit set of the boards with entries
  std::vector<uint64_t> scratch_deps;
  std::vector<uint64_t> scratch_finish;  // dma_slot's finish times (kept to reuse its storage)

  std::deque<DmaXfer> dma;  // started-or-queued transfers not yet retired, in start order
  size_t dma_unstarted = 0; // the last dma_unstarted entries of `dma` have not started
  uint64_t dma_last_start = 0;
  std::vector<std::pair<uint64_t, uint64_t>> dma_slots;  // (seq, finish) of transfers holding a queue slot
  uint64_t dma_busy_end = 0;
  uint64_t pending_compute = 0;
  uint64_t ring_mask = 0;
  // config::latency_cycles, tabulated per latency class (it depends on the class only).
  std::array<uint64_t, isa::kNumLatencyClasses> class_lat{};
  // Valid (unit, latency class) pairs, indexed unit * 32 + class (0 for values outside the ISA
  // tables): bit 0 valid without HBM streams, bit 1 with them (DMA latency classes and HBM streams
  // belong to the DMA unit only).
  static_assert(kUnits <= 8 && isa::kNumLatencyClasses <= 32);
  std::array<uint8_t, 8 * 32> unit_class_ok{};
  std::array<std::array<uint64_t, isa::kNumLatencyClasses>, kUnits> occupancy_cap{};  // per unit and class

  // Trace: events held per unit in program order until their finish is known (and every earlier
  // event of the unit is written), then written by `tracer` (docs/timing.md "Trace").
  std::ostringstream trace_mem;  // record_trace without a trace stream
  std::optional<TraceWriter> tracer;
  std::array<std::deque<TraceEvent>, kUnits> trace_hold;
  static constexpr size_t kTraceHold = 4096;  // per unit; beyond it, finished events go to the overflow lane

  // Calibrated DRAM fidelity: timing per transfer shape (shared with the simulator's other runs),
  // one shared pipe.
  std::shared_ptr<CalibratedShapes> shapes;
  // Direct-mapped cache in front of `calib` (programs cycle through a few shapes; a map lookup
  // compares whole shapes at every level). Map nodes are stable, so the pointers stay valid.
  static constexpr size_t kCalibCacheSize = 64;
  std::array<const std::pair<const CalibKey, dram::TransferTiming>*, kCalibCacheSize> calib_cache{};
  std::vector<uint64_t> pipe_free_ps;  // calibrated fidelity: one pipe per pool

  Impl(const config::HardwareConfig& c, const TimingOptions& o, std::shared_ptr<CalibratedShapes> shared)
      : cfg(c), opts(o), drams(make_drams(c)), period(cycle_period_ps(c.compute.clock_ghz)),
        decoupled(c.timing.mode == config::TimingMode::Decoupled), shapes(std::move(shared)) {
    if (!shapes) shapes = std::make_shared<CalibratedShapes>();
    if (shapes->options != burst_options()) {  // calibrated for other options: start over
      shapes->map.clear();
      shapes->options = burst_options();
    }
    if (opts.dma_queue_depth == 0 || opts.unit_queue_depth == 0)
      throw InputError(located("<timing options>", 0, 0, "dma_queue_depth and unit_queue_depth must be >= 1"));
    if (opts.dma_request_bytes == 0 || (opts.dma_request_bytes & (opts.dma_request_bytes - 1)) != 0)
      throw InputError(located("<timing options>", 0, 0,
                               "dma_request_bytes = " + std::to_string(opts.dma_request_bytes) +
                                   ": expected a power of two"));
    ring_mask = std::bit_ceil(uint64_t{opts.unit_queue_depth}) - 1;
    for (const isa::LatencyInfo& k : isa::kLatencyClasses) {
      class_lat[static_cast<size_t>(k.cls)] = config::latency_cycles(c, k.cls);
      const bool dram_class = k.rule == isa::LatencyRule::Dram;
      for (int u = 0; u < kUnits; ++u) {
        occupancy_cap[u][static_cast<size_t>(k.cls)] = occupancy_cap_of(static_cast<isa::Unit>(u), k.cls);
        const bool dma = u == kDmaUnit;
        unit_class_ok[u * 32 + static_cast<size_t>(k.cls)] = uint8_t((dma == dram_class) | (dma << 1));
      }
    }
    for (UnitState& u : units) u.start_ring.assign(ring_mask + 1, 0);
    if (opts.dram_trace && opts.dram_fidelity == DramFidelity::Calibrated)
      throw InputError(located("<timing options>", 0, 0,
                               "a DRAM trace needs the bank-level DRAM model (dram fidelity \"bank\"), not \"calibrated\""));
    if (opts.dram_trace)
      for (auto& d : drams) d.set_trace_sink(dram::ramulator_trace_writer(*opts.dram_trace));
    st.dram_preset = c.memory.empty() ? c.hbm.dram : drams.front().params().name;
    const auto pools = config::memory_pools(c);
    for (size_t i = 0; i < pools.size(); ++i) {
      pool_end.push_back(i + 1 == pools.size() ? UINT64_MAX : config::pool_base(c, i + 1));
      st.pools.push_back({pools[i].name, drams[i].params().name, 0, 0, 0});
    }
    pool_reqs.resize(drams.size());
    pipe_free_ps.assign(drams.size(), 0);
    st.dram_fidelity = std::string(dram_fidelity_name(opts.dram_fidelity));
    st.config_hash = config::canonical_hash(c);
    st.timing_mode = std::string(config::timing_mode_name(c.timing.mode));
    st.latency_profile = std::string(config::latency_profile_name(c.timing.latency_profile));
    st.ps_per_cycle = period;
    const std::string title = "plena " + st.timing_mode + " " + st.latency_profile;
    if (opts.trace)
      tracer.emplace(*opts.trace, period, title);
    else if (opts.record_trace)
      tracer.emplace(trace_mem, period, title);
  }

  static std::vector<dram::DramModel> make_drams(const config::HardwareConfig& c) {
    const auto names = dram::preset_names();
    if (c.memory.empty() && std::find(names.begin(), names.end(), c.hbm.dram) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw InputError(located("<config>", 0, 0,
                               "hbm.dram = \"" + c.hbm.dram + "\": unknown DRAM preset, expected one of: " + known));
    }
    std::vector<dram::DramModel> out;
    for (size_t i = 0; i < std::max<size_t>(1, c.memory.size()); ++i) out.emplace_back(config::pool_params(c, i));
    return out;
  }

  uint8_t pool_of(uint64_t addr) const {
    uint8_t i = 0;
    while (addr >= pool_end[i]) ++i;
    return i;
  }

  // ---- costs ----
  struct Cost {
    uint64_t latency, occupancy;
  };
  Cost cost(const Effects& e) const {
    const auto cls = static_cast<size_t>(e.latency);  // unit and class checked by issue()
    const uint64_t lat = class_lat[cls] * e.repeat;
    const uint64_t cap = occupancy_cap[static_cast<size_t>(e.unit)][cls];
    return {lat, std::min(lat, cap == kCapRepeat ? uint64_t{e.repeat} : cap)};
  }

  // Cycles an instruction occupies its unit, at most (of its latency): kCapRepeat is one per repeat.
  static constexpr uint64_t kCapRepeat = 0;
  uint64_t occupancy_cap_of(isa::Unit unit, isa::Latency cls) const {
    switch (unit) {
      case isa::Unit::Matrix: return kUnknown;  // not pipelined: the systolic array is busy throughout
      case isa::Unit::Vector: return opts.vector_pipelined ? kCapRepeat : kUnknown;
      case isa::Unit::ScalarFp:
        if (cls == isa::Latency::MapVFp) return kUnknown;  // streams a VRAM row element by element
        return 1;
      case isa::Unit::ScalarInt:
      case isa::Unit::Control:
      case isa::Unit::Dma: return 1;
    }
    return kUnknown;  // not reached: the switch covers every unit
  }

  // ---- bookkeeping shared by both modes ----
  void record_start(int u, uint64_t seq, uint64_t issue, uint64_t start) {
    UnitState& us = units[u];
    us.st.instructions++;
    us.st.stall_cycles += start - issue;
    if (tracer) [[unlikely]]
      trace_start(u, seq, issue, start);
  }
  void record_finish(int u, uint64_t seq, uint64_t start, uint64_t finish) {
    max_finish = std::max(max_finish, finish);
    if (u != kDmaUnit) {
      UnitState& us = units[u];
      const uint64_t from = std::max(start, us.busy_end);
      if (finish > from) us.st.busy_cycles += finish - from;
      us.busy_end = std::max(us.busy_end, finish);
    }
    if (tracer) [[unlikely]]
      trace_finish(u, seq, finish);
  }

  // ---- trace (out of line: the untraced dispatch path stays small) ----
  [[gnu::noinline]] void trace_start(int u, uint64_t seq, uint64_t issue, uint64_t start) {
    if (TraceEvent* ev = held(u, seq)) {
      ev->issue = issue;
      ev->start = start;
    }
  }
  [[gnu::noinline]] void trace_finish(int u, uint64_t seq, uint64_t finish) {
    if (TraceEvent* ev = held(u, seq)) {
      ev->finish = finish;
      ev->done = true;
      flush_trace(u);
    }
  }
  [[gnu::noinline]] void trace_issue(const Effects& e, uint64_t seq, int u, uint32_t pc) {
    TraceEvent& ev = trace_hold[u].emplace_back();
    ev.seq = seq;
    ev.pc = pc;
    ev.op = e.op;
    ev.unit = static_cast<uint8_t>(u);
    for (uint8_t i = 0; i < e.n_hbm; ++i) ev.bytes += e.hbm[i].total_bytes();
  }
  TraceEvent* held(int u, uint64_t seq) {
    auto& q = trace_hold[u];
    auto it = std::lower_bound(q.begin(), q.end(), seq, [](const TraceEvent& e, uint64_t s) { return e.seq < s; });
    return it != q.end() && it->seq == seq ? &*it : nullptr;
  }
  // Writes the unit's finished events in program order; past kTraceHold held events (a long run
  // of finished ones behind one still in flight) the finished ones go out at once, on the
  // unit's overflow lane.
  void flush_trace(int u) {
    auto& q = trace_hold[u];
    while (!q.empty() && q.front().done) {
      tracer->add(q.front());
      q.pop_front();
    }
    if (q.size() <= kTraceHold) return;
    for (const TraceEvent& e : q)
      if (e.done) tracer->add_overflow(e);
    std::erase_if(q, [](const TraceEvent& e) { return e.done; });
  }

  // ---- DMA engine ----
  void start_dma(DmaXfer& x) {
    const uint64_t start = std::max({x.issue, x.ready, dma_last_start});
    dma_last_start = start;
    x.start = start;
    record_start(kDmaUnit, x.seq, x.issue, start);
    const uint64_t arrival = start * period;
    x.pool = x.n_hbm && drams.size() > 1 ? pool_of(x.hbm[0].base) : 0;
    dram::DramModel& dram = drams[x.pool];
    if (arrival < dram.now_ps())
      throw SimFault("timing: internal error: DMA at cycle " + std::to_string(start) +
                     " arrives before the DRAM horizon " + std::to_string(dram.now_ps()) + " ps");
    if (opts.dram_fidelity == DramFidelity::Calibrated) return start_dma_calibrated(x, start, arrival);
    for (uint8_t i = 0; i < x.n_hbm; ++i) {
      const HbmStream& s = x.hbm[i];
      dram::for_each_request(s.base, s.bytes, s.rows, s.stride, opts.dma_request_bytes, [&](uint64_t a, uint64_t bytes) {
        const uint64_t id = dram.submit(dram::Request{a, bytes, s.write, arrival});
        if (x.n_req == 0) x.first_req = id;
        x.n_req++;
      });
    }
    if (drams.size() > 1 && x.n_req) pool_reqs[x.pool][x.first_req] = &x;
    x.remaining = x.n_req;
    st.dram_requests += x.n_req;
    if (x.n_req == 0) complete_dma(x, start + opts.dma_setup_cycles);
  }

  // Requests the engine would cut the streams into (counted, not submitted): row r covers the
  // request blocks floor(a_r / rb) .. floor((a_r + bytes - 1) / rb) with a_r = base + r * stride,
  // so the count is rows plus the difference of two floor sums (closed form, no row loop).
  // Contiguous rows are one span, as dram::for_each_request cuts them.
  uint64_t count_requests(const HbmStream& s) const {
    if (s.bytes == 0 || s.rows == 0) return 0;
    const uint64_t rb = opts.dma_request_bytes;
    if (s.stride == s.bytes)
      return (s.base + s.bytes * s.rows - 1) / rb - s.base / rb + 1;
    const uint128_t last = floor_sum(s.rows, rb, s.stride, uint128_t(s.base) + s.bytes - 1);
    return uint64_t(last - floor_sum(s.rows, rb, s.stride, s.base) + s.rows);
  }

  // Key: the streams' row geometry. The first transfer of a geometry is replayed at its own
  // addresses (so the relative placement of e.g. element and scale rows, which decides bank
  // conflicts, is the program's), tile after tile; later transfers of that geometry reuse it.
  // Transfers of more than kScaleRows rows share the calibration at kScaleRows rows, scaled
  // linearly in rows (the steady state of a long stream). Returns the most rows of a stream.
  static constexpr uint64_t kScaleRows = 128;
  static uint64_t calibrated_shape(const std::array<HbmStream, 2>& hbm, uint8_t n, CalibKey& key,
                                   dram::TransferShape& at) {
    uint64_t rows = 0;
    for (uint8_t i = 0; i < n; ++i) {
      const HbmStream& s = hbm[i];
      if (!s.bytes || !s.rows) continue;
      rows = std::max(rows, s.rows);
      const dram::TransferStream ts{0, s.bytes, std::min(s.rows, kScaleRows), s.stride};
      key.shape.streams[key.shape.n++] = ts;
      at.streams[at.n] = ts;
      at.streams[at.n++].offset = s.base;
      key.shape.write = at.write = s.write;
    }
    return rows;
  }

  void start_dma_calibrated(DmaXfer& x, uint64_t start, uint64_t arrival) {
    CalibKey key;
    key.pool = x.pool;
    dram::TransferShape at;  // the same geometry at this transfer's addresses
    const uint64_t rows = calibrated_shape(x.hbm, x.n_hbm, key, at);
    for (uint8_t i = 0; i < x.n_hbm; ++i) st.dram_requests += count_requests(x.hbm[i]);
    if (key.shape.n == 0) return complete_dma(x, start + opts.dma_setup_cycles);
    const double scale = rows <= kScaleRows ? 1.0 : double(rows) / double(kScaleRows);
    const dram::TransferTiming& t = calibration(key, at);
    const double extra = (scale - 1.0) * t.per_transfer_ps;  // the rows beyond the calibrated ones
    uint64_t done = 0;
    // One pipe: a transfer occupies it for its steady-state share and completes one warm
    // (rows open, as in a stream) transfer time after it entered. In order, only one is in flight.
    uint64_t& pipe = pipe_free_ps[x.pool];
    const uint64_t enter = decoupled ? std::max(arrival, pipe) : arrival;
    pipe = enter + uint64_t(std::llround(t.per_transfer_ps * scale));
    done = enter + uint64_t(std::llround(t.warm_ps + extra));
    complete_dma(x, ceil_div(done, period) + opts.dma_setup_cycles);
  }

  static size_t calib_slot(const CalibKey& k) {
    uint64_t h = k.shape.n * 2 + k.shape.write + k.pool * 0x100000001B3ull;
    for (uint8_t i = 0; i < k.shape.n; ++i) {
      const dram::TransferStream& s = k.shape.streams[i];
      h = (h ^ s.row_bytes) * 0x9E3779B97F4A7C15ull;
      h = (h ^ s.rows) * 0x9E3779B97F4A7C15ull;
      h = (h ^ s.stride) * 0x9E3779B97F4A7C15ull;
    }
    return size_t(h >> 58) % kCalibCacheSize;
  }

  dram::BurstOptions burst_options() const {
    dram::BurstOptions o;
    o.base = 0;
    o.request_bytes = opts.dma_request_bytes;
    o.queue_depth = decoupled ? opts.dma_queue_depth : 1;
    o.period_ps = period;
    o.issue_gap_ps = 3 * period;  // a prefetch loop's body: one transfer every few cycles
    return o;
  }

  // The timing of `key`'s geometry, calibrated at `at` (this transfer's addresses) the first time.
  const dram::TransferTiming& calibration(const CalibKey& key, const dram::TransferShape& at) {
    auto& slot = calib_cache[calib_slot(key)];
    if (slot && slot->first == key) return slot->second;
    auto it = shapes->map.find(key);
    if (it == shapes->map.end()) {
      it = shapes->map.emplace(key, dram::calibrate_transfer(drams[key.pool].params(), at, burst_options())).first;
      st.dram_calibrations++;
    }
    slot = &*it;
    return it->second;
  }

  // Calibrated fidelity reads a transfer's HBM addresses only to count its requests and, when it
  // is the first of its shape, to calibrate the shape at them (start_dma_calibrated).
  bool transfers_time_alike(const Effects& a, const Effects& b) const {
    if (opts.dram_fidelity != DramFidelity::Calibrated || a.n_hbm != b.n_hbm) return false;
    for (uint8_t i = 0; i < a.n_hbm; ++i) {
      const HbmStream &x = a.hbm[i], &y = b.hbm[i];
      if (x.bytes != y.bytes || x.rows != y.rows || x.stride != y.stride || x.write != y.write ||
          count_requests(x) != count_requests(y))
        return false;
    }
    return true;
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

  DmaXfer& owner(size_t pool, uint64_t id) {
    if (drams.size() > 1) {
      auto& m = pool_reqs[pool];
      auto it = m.upper_bound(id);
      if (it == m.begin()) throw SimFault("timing: internal error: DRAM completion for unknown request");
      return *std::prev(it)->second;
    }
    // The started transfers own consecutive id ranges in start order; queued ones have kUnknown.
    auto it = std::upper_bound(dma.begin(), dma.end(), id,
                               [](uint64_t v, const DmaXfer& x) { return v < x.first_req; });
    if (it == dma.begin()) throw SimFault("timing: internal error: DRAM completion for unknown request");
    return *(it - 1);
  }

  void on_completion(size_t pool, const dram::Completion& c) {
    DmaXfer& x = owner(pool, c.id);
    if (c.id >= x.first_req + x.n_req || x.remaining == 0)
      throw SimFault("timing: internal error: DRAM completion outside its transfer");
    x.last_done_ps = std::max(x.last_done_ps, c.time_ps);
    if (--x.remaining == 0) {
      if (drams.size() > 1) pool_reqs[pool].erase(x.first_req);
      complete_dma(x, ceil_div(x.last_done_ps, period) + opts.dma_setup_cycles);
    }
  }

  // Processes the DRAM model's next event (if it completes anything, dependants are started).
  void step() {
    size_t pool = 0;  // the pool with the earliest event (the lowest index on ties)
    for (size_t i = 1; i < drams.size(); ++i)
      if (drams[i].next_event_time() < drams[pool].next_event_time()) pool = i;
    const uint64_t t = drams[pool].next_event_time();
    if (t == dram::kNever) throw SimFault("timing: internal error: waiting on DRAM with nothing outstanding");
    for (const dram::Completion& c : drams[pool].advance_to(t)) on_completion(pool, c);
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
    for (SpaceBoard& b : sb) {
      if (!b.unknown) continue;
      for (SbEntry& x : b.entries)
        if (x.finish == kUnknown && x.seq == seq) {
          x.finish = finish;
          b.unknown--;
        }
    }
    if (unknown_regs)
      for (RegFile& f : regs)
        for (size_t k = 0; k < kRegsPerSpace; ++k)
          if (f.ready[k] == kUnknown && f.seq[k] == seq) {
            f.ready[k] = finish;
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
    us.start_ring[us.started & ring_mask] = start;
    us.started++;
    us.free = start + occupancy;
    record_start(u, seq, issue, start);
  }

  // ---- front end (decoupled) ----
  uint64_t compute_slot(int u, uint64_t t) {
    UnitState& us = units[u];
    const uint64_t d = opts.unit_queue_depth;
    while (us.started + d <= us.issued) [[unlikely]]
      step();
    // Before d issues the slot read was never written (ring size >= d): 0, no delay.
    return std::max(t, us.start_ring[(us.issued - d) & ring_mask]);
  }

  uint64_t dma_slot(uint64_t t) {
    const size_t d = opts.dma_queue_depth;
    for (;;) {
      std::erase_if(dma_slots, [t](const auto& s) { return s.second <= t; });
      if (dma_slots.size() < d) return t;
      std::vector<uint64_t>& f = scratch_finish;
      f.clear();
      for (const auto& s : dma_slots) f.push_back(s.second);
      const auto nth = f.begin() + ptrdiff_t(dma_slots.size() - d);
      std::nth_element(f.begin(), nth, f.end());
      const uint64_t need = *nth;  // once this one finishes, a slot is free
      if (need == kUnknown)
        step();
      else
        t = need;
    }
  }

  // One pass over a space's in-flight entries (acc: the new accesses to that space): drops
  // entries that can no longer delay anything (finished by t), folds conflicting ones into ready /
  // scratch_deps, and drops entries inside one of the new write ranges (whoever conflicts with
  // them will conflict with that write, which finishes no earlier; the caller inserts it).
  // acc holds its reads first: a read entry is compared with the writes only.
  uint64_t scan_space(SpaceBoard& b, const Access* acc, int n, uint64_t t, uint64_t ready) {
    int first_write = 0;
    while (first_write < n && !acc[first_write].write) ++first_write;
    std::vector<SbEntry>& v = b.entries;
    for (size_t i = 0; i < v.size();) {
      SbEntry& x = v[i];
      if (x.finish > t) {
        bool conflict = false, covered = false;
        for (int k = x.write ? 0 : first_write; k < n; ++k) {
          const Access& a = acc[k];
          const bool hit = (x.lo < a.hi) & (a.lo < x.hi) & (a.write | x.write);
          conflict |= hit;
          covered |= hit & a.write & (x.lo >= a.lo) & (x.hi <= a.hi);
        }
        if (!conflict) [[likely]] {
          ++i;
          continue;
        }
        if (x.finish == kUnknown) {
          if (std::find(scratch_deps.begin(), scratch_deps.end(), x.seq) == scratch_deps.end())
            scratch_deps.push_back(x.seq);
        } else {
          ready = std::max(ready, x.finish);
        }
        if (!covered) {
          ++i;
          continue;
        }
        b.unknown -= x.finish == kUnknown;
      }
      x = v.back();  // retired: entry order carries no meaning
      v.pop_back();
    }
    return ready;
  }

  // scan_space for each space in `live` (the accessed spaces with entries), with that space's
  // accesses (all of acc when the instruction accesses one space only).
  [[gnu::noinline]] uint64_t scan_spaces(uint32_t spaces, uint32_t live, const Access* acc, int n, uint64_t t,
                                         uint64_t ready) {
    scratch_deps.clear();
    for (uint32_t m = live; m; m &= m - 1) {
      const int space = std::countr_zero(m);
      if (spaces == (1u << space)) {
        ready = scan_space(sb[space], acc, n, t, ready);
      } else {
        std::array<Access, 10> group;
        int g = 0;
        for (int k = 0; k < n; ++k)
          if (acc[k].space == space) group[g++] = acc[k];
        ready = scan_space(sb[space], group.data(), g, t, ready);
      }
      if (sb[space].entries.empty()) occupied &= ~(1u << space);
    }
    return ready;
  }

  // Register ready time with the DRAM model stepped while its writer is unresolved.
  uint64_t reg_ready(int slot, uint64_t k) {
    const uint64_t& ready = regs[slot].ready[k];
    while (ready == kUnknown) [[unlikely]]
      step();
    return ready;
  }

  // The latest ready time of registers [lo, hi) of `slot` and t, stepping the DRAM model where a
  // writer is unresolved (kUnknown is the largest value, so one max tells whether any is).
  uint64_t regs_ready(int slot, uint64_t lo, uint64_t hi, uint64_t t) {
    const uint64_t* ready = regs[slot].ready.data();
    uint64_t m = t;
    if (hi - lo == 1) [[likely]]  // one register: no loop
      m = std::max(m, ready[lo]);
    else
      for (uint64_t k = lo; k < hi; ++k) m = std::max(m, ready[k]);
    if (m != kUnknown) [[likely]]
      return m;
    return regs_ready_stepping(slot, lo, hi, t);
  }
  [[gnu::noinline]] uint64_t regs_ready_stepping(int slot, uint64_t lo, uint64_t hi, uint64_t t) {
    for (uint64_t k = lo; k < hi; ++k) t = std::max(t, reg_ready(slot, k));
    return t;
  }

  [[noreturn, gnu::noinline, gnu::cold]] static void bad_register_range(const Range& r) {
    throw SimFault("timing: register range [" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + ") out of range");
  }

  // A register range the instruction being issued writes (its ready time is set after issue).
  struct RegWrite {
    int slot;
    uint32_t lo, hi;
  };

  // Register operands interlock the front end: returns the cycle (t at the earliest) at which the
  // registers of rs are ready; the spaces of non-empty scoreboard ranges go to the `spaces` bit
  // set, written register ranges to rw.
  template <bool kWrite, size_t N>
  uint64_t interlock(const std::array<Range, N>& rs, uint8_t n, uint64_t t, uint32_t& spaces, RegWrite* rw, int& n_rw) {
    for (uint8_t i = 0; i < n; ++i) {
      const Range& r = rs[i];
      const int slot = kRegisterSlot[static_cast<uint8_t>(r.space)];
      if (slot >= 0) {
        if ((r.hi > kRegsPerSpace) | (r.lo > r.hi)) [[unlikely]]
          bad_register_range(r);
        t = regs_ready(slot, r.lo, r.hi, t);
        if constexpr (kWrite) rw[n_rw++] = RegWrite{slot, uint32_t(r.lo), uint32_t(r.hi)};
      } else {
        if (slot == kBadSpace) [[unlikely]]
          bad_space(static_cast<uint8_t>(r.space));
        spaces |= uint32_t(r.lo < r.hi) << static_cast<int>(r.space);
      }
    }
    return t;
  }

  // The instruction's non-empty scoreboard ranges (reads first), gathered only when a board is
  // scanned or written: with short latencies most instructions need neither.
  static int gather(const Effects& e, Access* acc) {
    int n = 0;
    for (uint8_t i = 0; i < e.n_reads; ++i) {
      const Range& r = e.reads[i];
      if (kRegisterSlot[static_cast<uint8_t>(r.space)] < 0 && r.lo < r.hi)
        acc[n++] = Access{r.lo, r.hi, static_cast<uint8_t>(r.space), false};
    }
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const Range& r = e.writes[i];
      if (kRegisterSlot[static_cast<uint8_t>(r.space)] < 0 && r.lo < r.hi)
        acc[n++] = Access{r.lo, r.hi, static_cast<uint8_t>(r.space), true};
    }
    return n;
  }

  [[gnu::always_inline]] void issue_decoupled(const Effects& e, uint64_t seq, int u) {
    std::array<RegWrite, 4> rw;
    int n_rw = 0;
    uint32_t spaces = 0;
    uint64_t t = interlock<false>(e.reads, e.n_reads, fe_next, spaces, rw.data(), n_rw);
    t = interlock<true>(e.writes, e.n_writes, t, spaces, rw.data(), n_rw);
    t = u == kDmaUnit ? dma_slot(t) : compute_slot(u, t);
    st.issue_stall_cycles += t - fe_next;
    fe_next = t + 1;
    units[u].issued++;

    std::array<Access, 10> acc;
    int n_acc = -1;  // not gathered yet
    uint64_t ready = t;
    bool waits = false;  // on an unresolved instruction (the ones in scratch_deps)
    if (const uint32_t live = spaces & occupied) {
      n_acc = gather(e, acc.data());
      ready = scan_spaces(spaces, live, acc.data(), n_acc, t, ready);
      waits = !scratch_deps.empty();
    }

    if (u != kDmaUnit && !waits && units[u].queue.empty()) [[likely]] {
      UnitState& us = units[u];
      const uint64_t start = std::max({t, us.free, ready});
      const Cost c = cost(e);  // computed where needed: fewer values live across the scan
      start_compute(u, seq, t, start, c.occupancy);
      const uint64_t finish = start + c.latency;
      record_finish(u, seq, start, finish);
      // Later scans run at fe_next or later, so an access finished by then can delay nothing.
      if (finish > fe_next && spaces) {
        if (n_acc < 0) n_acc = gather(e, acc.data());
        record_accesses(acc.data(), n_acc, spaces, finish, seq);
      }
      for (int i = 0; i < n_rw; ++i) set_ready(rw[i], finish);
      return;
    }
    if (!waits) scratch_deps.clear();
    if (n_acc < 0) n_acc = gather(e, acc.data());
    issue_unresolved(e, seq, u, t, ready, acc.data(), n_acc, spaces, rw.data(), n_rw);
  }

  void record_accesses(const Access* acc, int n_acc, uint32_t spaces, uint64_t finish, uint64_t seq) {
    for (int k = 0; k < n_acc; ++k) sb[acc[k].space].add(acc[k], finish, seq);
    occupied |= spaces;
  }

  // Its previous writer is resolved (interlocked at issue).
  void set_ready(const RegWrite& w, uint64_t finish) {
    RegFile& f = regs[w.slot];
    if (w.hi - w.lo == 1) [[likely]]  // one register: no fill setup
      f.ready[w.lo] = finish;
    else
      std::fill(f.ready.begin() + w.lo, f.ready.begin() + w.hi, finish);
  }

  // The instruction's finish is unknown: it waits on an unresolved one, queued behind one on its
  // unit, or is a DMA transfer. Its accesses and registers are marked unknown (with their writer)
  // and it goes to its queue.
  [[gnu::noinline]] void issue_unresolved(const Effects& e, uint64_t seq, int u, uint64_t t, uint64_t ready,
                                          const Access* acc, int n_acc, uint32_t spaces, const RegWrite* rw, int n_rw) {
    if (spaces) record_accesses(acc, n_acc, spaces, kUnknown, seq);
    for (int i = 0; i < n_rw; ++i) {
      set_ready(rw[i], kUnknown);
      RegFile& f = regs[rw[i].slot];
      std::fill(f.seq.begin() + rw[i].lo, f.seq.begin() + rw[i].hi, seq);
      unknown_regs += rw[i].hi - rw[i].lo;
    }
    if (u == kDmaUnit) {
      enqueue_dma(e, seq, t, ready).deps = scratch_deps;
      dma_unstarted++;
      dma_slots.emplace_back(seq, kUnknown);
    } else {
      const Cost c = cost(e);
      units[u].queue.push_back(Pending{seq, t, ready, c.latency, c.occupancy, scratch_deps});
      pending_compute++;
    }
    pump();
  }

  DmaXfer& enqueue_dma(const Effects& e, uint64_t seq, uint64_t issue, uint64_t ready) {
    DmaXfer& x = dma.emplace_back();
    x.seq = seq;
    x.issue = issue;
    x.ready = ready;
    x.hbm = e.hbm;
    x.n_hbm = e.n_hbm;
    st.dma_transfers++;
    return x;
  }

  // ---- in-order: each instruction starts when the previous one finished ----
  void issue_in_order(const Effects& e, uint64_t seq, int u) {
    const uint64_t start = now;
    units[u].issued++;
    if (u == kDmaUnit) {
      start_dma(enqueue_dma(e, seq, start, start));
      while (!dma.empty()) step();  // the transfer blocks; it is the only one in flight
      now = std::max(now, max_finish);
      return;
    }
    const Cost c = cost(e);
    start_compute(u, seq, start, start, c.occupancy);
    const uint64_t finish = start + c.latency;
    record_finish(u, seq, start, finish);
    now = finish;
  }

  // Why an Effects record is malformed (out of line: the dispatch path only tests a predicate).
  [[noreturn, gnu::noinline, gnu::cold]] void bad_effects(const Effects& e) const {
    const uint8_t op = static_cast<uint8_t>(e.op);
    const int u = static_cast<int>(e.unit);
    const int cls = static_cast<int>(e.latency);
    if (op >= 64 || u >= kUnits || cls >= isa::kNumLatencyClasses)
      throw SimFault("timing: Effects with opcode " + std::to_string(op) + " / unit " + std::to_string(u) +
                     " / latency class " + std::to_string(cls) + " outside the ISA table");
    if (e.n_reads > e.reads.size() || e.n_writes > e.writes.size() || e.n_hbm > e.hbm.size())
      throw SimFault("timing: Effects range counts exceed their arrays");
    throw SimFault("timing: Effects of " + std::string(isa::mnemonic(e.op)) +
                   ": HBM streams and DMA latency classes belong to the DMA unit only");
  }

  // One function per timing mode, so each dispatch path has its own (small) frame.
  // Not inlined into TimingModel::issue: one mode's frame would be set up for the other's call.
  template <bool kDecoupled>
  [[gnu::noinline]] void issue(const Effects& e, uint32_t pc) {
    const uint8_t op = static_cast<uint8_t>(e.op);
    const unsigned u = static_cast<uint8_t>(e.unit), cls = static_cast<uint8_t>(e.latency);
    const unsigned uc = ((u >> 3) | (cls >> 5)) ? 0 : unit_class_ok[u * 32 + cls];
    if (op >= 64 || e.n_reads > e.reads.size() || e.n_writes > e.writes.size() || e.n_hbm > e.hbm.size() ||
        !((uc >> (e.n_hbm > 0)) & 1)) [[unlikely]]
      bad_effects(e);
    const uint64_t seq = next_seq++;
    st.instructions++;
    st.instr_count[op]++;
    for (uint8_t i = 0; i < e.n_hbm; ++i) (e.hbm[i].write ? st.hbm_write_bytes : st.hbm_read_bytes) += e.hbm[i].total_bytes();
    if (e.n_hbm && drams.size() > 1) [[unlikely]]
      count_pool_traffic(e);
    if (tracer && seq >= opts.trace_first && seq < opts.trace_last) [[unlikely]]
      trace_issue(e, seq, u, pc);
    if (e.zero_latency) [[unlikely]]
      return skip(u, seq, kDecoupled ? fe_next : now);
    if constexpr (kDecoupled)
      issue_decoupled(e, seq, u);
    else
      issue_in_order(e, seq, u);
  }

  // Skipped by the machine (the reference ignores FP results written to f0): no time, no slot.
  [[gnu::noinline]] void skip(int u, uint64_t seq, uint64_t t) {
    units[u].st.instructions++;
    if (tracer) [[unlikely]] {
      trace_start(u, seq, t, t);
      trace_finish(u, seq, t);
    }
  }

  // Per-pool traffic of a multi-pool run, by each stream's address (a single pool's is the total).
  void count_pool_traffic(const Effects& e) {
    PoolTraffic& first = st.pools[pool_of(e.hbm[0].base)];
    first.transfers++;
    for (uint8_t i = 0; i < e.n_hbm; ++i) {
      PoolTraffic& p = st.pools[pool_of(e.hbm[i].base)];
      (e.hbm[i].write ? p.write_bytes : p.read_bytes) += e.hbm[i].total_bytes();
    }
  }

  // DRAM statistics over every pool; one pool reports its model's figures unchanged.
  void dram_stats() {
    uint64_t requests = 0;
    double latency_ps = 0;
    st.dram_row_hits = st.dram_row_misses = st.dram_row_conflicts = 0;
    st.dram_peak_gbps = 0;
    for (const dram::DramModel& d : drams) {
      const dram::Stats ds = d.stats();
      st.dram_row_hits += ds.row_hits;
      st.dram_row_misses += ds.row_misses;
      st.dram_row_conflicts += ds.row_conflicts;
      st.dram_peak_gbps += ds.peak_bandwidth_GBps;
      requests += ds.completed_requests;
      latency_ps += ds.avg_latency_ps * double(ds.completed_requests);
      if (drams.size() == 1) {
        st.dram_row_hit_rate = ds.row_hit_rate;
        st.dram_avg_latency_ns = ds.avg_latency_ps / 1000.0;
      }
    }
    if (drams.size() > 1) {
      const uint64_t atoms = st.dram_row_hits + st.dram_row_misses + st.dram_row_conflicts;
      st.dram_row_hit_rate = atoms ? double(st.dram_row_hits) / double(atoms) : 0.0;
      st.dram_avg_latency_ns = requests ? latency_ps / double(requests) / 1000.0 : 0.0;
    } else {
      st.pools[0].read_bytes = st.hbm_read_bytes;
      st.pools[0].write_bytes = st.hbm_write_bytes;
      st.pools[0].transfers = st.dma_transfers;
    }
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
    dram_stats();
    // bytes per ps * 1000 = GB/s, over the whole simulated run.
    st.achieved_read_gbps = st.time_ps ? double(st.hbm_read_bytes) * 1000.0 / double(st.time_ps) : 0.0;
    st.achieved_write_gbps = st.time_ps ? double(st.hbm_write_bytes) * 1000.0 / double(st.time_ps) : 0.0;
  }

  // ---- exact repetition (TimingModel::relative_state / repeat) ----
  // Every issued instruction has a known finish and none waits: every later start is at or after
  // its own issue, so at or after fe_next, and a time at or before fe_next can delay nothing.
  bool settled() const {
    if (!decoupled || tracer || opts.dram_fidelity != DramFidelity::Calibrated) return false;
    if (pending_compute || dma_unstarted || !dma.empty() || unknown_regs) return false;
    return std::all_of(sb.begin(), sb.end(), [](const SpaceBoard& b) { return b.unknown == 0; });
  }

  std::vector<uint64_t> relative_state() const {
    std::vector<uint64_t> s;
    if (!settled()) return s;
    const uint64_t f = fe_next;
    auto rel = [f](uint64_t t) { return t > f ? t - f : 0; };
    s.push_back(max_finish - f);  // exact (modulo 2^64): it becomes the run's cycle count
    for (int u = 0; u < kUnits; ++u) {
      if (u == kDmaUnit) continue;
      const UnitState& us = units[u];
      s.insert(s.end(), {rel(us.free), rel(us.busy_end)});
      for (uint64_t j = 1; j <= opts.unit_queue_depth; ++j)  // the starts compute_slot will read
        s.push_back(us.issued >= j ? rel(us.start_ring[(us.issued - j) & ring_mask]) : 0);
    }
    for (const RegFile& r : regs)
      for (uint64_t t : r.ready) s.push_back(rel(t));
    for (const SpaceBoard& b : sb) {
      std::vector<std::array<uint64_t, 4>> live;
      for (const SbEntry& x : b.entries)
        if (x.finish > f) live.push_back({x.lo, x.hi, x.finish - f, x.write});
      std::sort(live.begin(), live.end());  // entry order carries no meaning
      s.push_back(live.size());
      for (const auto& x : live) s.insert(s.end(), x.begin(), x.end());
    }
    std::vector<uint64_t> slots;
    for (const auto& x : dma_slots)
      if (x.second > f) slots.push_back(x.second - f);
    std::sort(slots.begin(), slots.end());
    s.push_back(slots.size());
    s.insert(s.end(), slots.begin(), slots.end());
    s.insert(s.end(), {rel(dma_last_start), rel(dma_busy_end)});
    for (uint64_t p : pipe_free_ps) s.push_back(p > f * period ? p - f * period : 0);
    return s;
  }

  TimingModel::Mark mark() const {
    TimingModel::Mark m{fe_next, next_seq, {}, {}, st};
    for (int u = 0; u < kUnits; ++u) {
      m.issued[u] = units[u].issued;
      m.units[u] = units[u].st;
    }
    return m;
  }

  static void add_times(UnitStats& to, const UnitStats& a, const UnitStats& b, uint64_t k) {
    to.busy_cycles += k * (b.busy_cycles - a.busy_cycles);
    to.stall_cycles += k * (b.stall_cycles - a.stall_cycles);
    to.instructions += k * (b.instructions - a.instructions);
  }
  void add_stats(const TimingStats& a, const TimingStats& b, uint64_t k) {
    st.instructions += k * (b.instructions - a.instructions);
    for (size_t i = 0; i < std::size(st.instr_count); ++i) st.instr_count[i] += k * (b.instr_count[i] - a.instr_count[i]);
    st.hbm_read_bytes += k * (b.hbm_read_bytes - a.hbm_read_bytes);
    st.hbm_write_bytes += k * (b.hbm_write_bytes - a.hbm_write_bytes);
    for (size_t i = 0; i < st.pools.size() && drams.size() > 1; ++i) {
      st.pools[i].read_bytes += k * (b.pools[i].read_bytes - a.pools[i].read_bytes);
      st.pools[i].write_bytes += k * (b.pools[i].write_bytes - a.pools[i].write_bytes);
      st.pools[i].transfers += k * (b.pools[i].transfers - a.pools[i].transfers);
    }
    st.issue_stall_cycles += k * (b.issue_stall_cycles - a.issue_stall_cycles);
    st.dma_transfers += k * (b.dma_transfers - a.dma_transfers);
    st.dram_requests += k * (b.dram_requests - a.dram_requests);
    st.dram_calibrations += k * (b.dram_calibrations - a.dram_calibrations);
  }

  // Every time moves by d cycles, every sequence number by q; each unit's ring is re-indexed.
  void repeat(const TimingModel::Mark& a, const TimingModel::Mark& b, uint64_t k) {
    if (!settled() || b.fe_next != fe_next || b.next_seq != next_seq)
      throw std::logic_error("timing: repeat from a point that is not the current settled one");
    const uint64_t d = k * (b.fe_next - a.fe_next), q = k * (b.next_seq - a.next_seq);
    fe_next += d;
    now += d;
    max_finish += d;
    next_seq += q;
    for (int u = 0; u < kUnits; ++u) {
      UnitState& us = units[u];
      const uint64_t n = k * (b.issued[u] - a.issued[u]);
      std::vector<uint64_t> ring(us.start_ring.size());
      for (uint64_t j = 1; j <= ring.size(); ++j)
        ring[(us.started + n - j) & ring_mask] = us.start_ring[(us.started - j) & ring_mask] + d;
      us.start_ring = std::move(ring);
      us.issued += n;
      us.started += n;
      us.free += d;
      us.busy_end += d;
      add_times(us.st, a.units[u], b.units[u], k);
    }
    for (RegFile& r : regs) {
      for (uint64_t& t : r.ready) t += d;
      for (uint64_t& x : r.seq) x += q;
    }
    for (SpaceBoard& bd : sb)
      for (SbEntry& x : bd.entries) x.finish += d, x.seq += q;
    for (auto& x : dma_slots) x.first += q, x.second += d;
    dma_last_start += d;
    dma_busy_end += d;
    for (uint64_t& p : pipe_free_ps) p += d * period;
    add_stats(a.stats, b.stats, k);
  }
};

DramFidelity parse_dram_fidelity(std::string_view name, std::string_view what) {
  if (name == "bank") return DramFidelity::Bank;
  if (name == "calibrated") return DramFidelity::Calibrated;
  throw InputError(std::string(what) + ": error: DRAM fidelity \"" + std::string(name) +
                   "\" is unknown, expected \"bank\" or \"calibrated\"");
}
std::string_view dram_fidelity_name(DramFidelity f) { return f == DramFidelity::Bank ? "bank" : "calibrated"; }

TimingModel::TimingModel(const config::HardwareConfig& cfg, const TimingOptions& opts,
                         std::shared_ptr<CalibratedShapes> shapes)
    : impl_(std::make_unique<Impl>(cfg, opts, std::move(shapes))) {}
std::shared_ptr<CalibratedShapes> make_calibrated_shapes() { return std::make_shared<CalibratedShapes>(); }
TimingModel::~TimingModel() = default;

void TimingModel::issue(const Effects& e, uint32_t pc) {
  if (impl_->decoupled)
    impl_->issue<true>(e, pc);
  else
    impl_->issue<false>(e, pc);
}
void TimingModel::finish() { impl_->finish(); }
const TimingStats& TimingModel::stats() const { return impl_->st; }
bool TimingModel::transfers_time_alike(const Effects& a, const Effects& b) const {
  return impl_->transfers_time_alike(a, b);
}

TimingModel::Mark TimingModel::mark() const { return impl_->mark(); }
std::vector<uint64_t> TimingModel::relative_state() const { return impl_->relative_state(); }
void TimingModel::repeat(const Mark& a, const Mark& b, uint64_t k) { impl_->repeat(a, b, k); }

void TimingModel::write_perfetto(std::ostream& out) const {
  if (!impl_->tracer || impl_->opts.trace)
    throw std::logic_error("TimingModel::write_perfetto needs record_trace without a trace stream");
  out << impl_->trace_mem.view();
  impl_->tracer->close(out, {});
}

void TimingModel::close_trace(std::string_view fault_message) {
  if (!impl_->opts.trace) throw std::logic_error("TimingModel::close_trace needs a trace stream");
  const std::string extra = fault_message.empty() ? std::string() : fault_event(impl_->st.time_ps, fault_message);
  impl_->tracer->close(*impl_->opts.trace, extra);
}

}  // namespace plena::sim

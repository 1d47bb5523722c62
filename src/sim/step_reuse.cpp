// Exact timing reuse across programs that differ only in load-immediate values (step_reuse.hpp).
#include "sim/step_reuse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "sim/timing.hpp"
#include "support/support.hpp"

namespace plena::sim {
namespace {

constexpr size_t kMaxHbmRegs = 16;

bool is_register(Space s) { return s == Space::GpReg || s == Space::HbmReg || s == Space::Ctrl; }

bool steers_control(isa::Opcode op) {
  return op == isa::Opcode::C_LOOP_START || op == isa::Opcode::C_LOOP_END || op == isa::Opcode::C_BREAK;
}

// The registers an address can come from: GP, HBM address and the control registers
// (Space::Ctrl: 0 = SCALE_REG, 1 = STRIDE_REG, 2 = V_MASK).
struct Regs {
  std::array<uint32_t, 16> gp{};
  std::array<uint64_t, kMaxHbmRegs> hbm{};
  std::array<uint32_t, 3> ctrl{};

  uint64_t get(Space s, uint64_t r) const {
    return s == Space::GpReg ? gp[r] : s == Space::HbmReg ? hbm[r] : ctrl[r];
  }
  void set(Space s, uint64_t r, uint64_t v) {
    if (s == Space::GpReg) gp[r] = uint32_t(v);
    else if (s == Space::HbmReg) hbm[r] = v;
    else ctrl[r] = uint32_t(v);
  }
  static uint64_t value(const Machine& m, Space s, uint64_t r) {
    return s == Space::GpReg ? m.gp[r] : s == Space::HbmReg ? m.hbm_addr[r] : r == 0 ? m.scale_reg : r == 1 ? m.stride_reg : m.v_mask;
  }
  static Regs of(const Machine& m) {
    Regs r;
    r.gp = m.gp;
    std::copy(m.hbm_addr.begin(), m.hbm_addr.end(), r.hbm.begin());
    r.ctrl = {m.scale_reg, m.stride_reg, m.v_mask};
    return r;
  }
  void store(Machine& m) const {
    m.gp = gp;
    std::copy_n(hbm.begin(), m.hbm_addr.size(), m.hbm_addr.begin());
    m.scale_reg = ctrl[0], m.stride_reg = ctrl[1], m.v_mask = ctrl[2];
  }
};

// One bit per register of each space.
struct RegMask {
  uint32_t bits[3] = {0, 0, 0};
  static int slot(Space s) { return s == Space::GpReg ? 0 : s == Space::HbmReg ? 1 : 2; }
  bool has(Space s, uint64_t r) const { return (bits[slot(s)] >> r) & 1u; }
  void set(Space s, uint64_t r, bool on) {
    const uint32_t b = 1u << r;
    bits[slot(s)] = on ? bits[slot(s)] | b : bits[slot(s)] & ~b;
  }
  // `to` takes the registers of this mask from `from`.
  void overlay(Regs& to, const Regs& from) const {
    for (Space s : {Space::GpReg, Space::HbmReg, Space::Ctrl})
      for (uint32_t b = bits[slot(s)], r = 0; b; b >>= 1, ++r)
        if (b & 1u) to.set(s, r, from.get(s, r));
  }
};

uint64_t register_count(Space s) { return s == Space::GpReg ? 16 : s == Space::HbmReg ? kMaxHbmRegs : 3; }

bool same_ranges(const std::array<Range, 6>& a, const std::array<Range, 6>& b, uint8_t n) {
  for (uint8_t i = 0; i < n; ++i)
    if (a[i].space != b[i].space || a[i].lo != b[i].lo || a[i].hi != b[i].hi) return false;
  return true;
}

}  // namespace

struct TimingReuse::Certificate {
  struct Entry {
    uint64_t seq = 0;  // issue index in the run
    uint32_t pc = 0;
    Regs before;       // the template's registers before it
    RegMask tainted;   // the registers that hold varying values then
    Effects effects;   // the template's
  };
  std::vector<uint32_t> sources;  // sorted pcs whose immediates may vary
  std::vector<Entry> slice;
  RegMask tainted_at_end;
  std::string refused;        // why there is no proof ("" = there is)
  bool refused_always = false;  // for every set of sources, not just this one
};

namespace {

using Certificate = TimingReuse::Certificate;

// The observer of the template's re-run: follows every register written from a varying immediate
// and records the instructions that read one (the slice), with their registers and Effects.
class SliceRecorder {
 public:
  SliceRecorder(Certificate& c, const Machine& m, size_t program_size) : c_(c), m_(m), source_(program_size, 0) {
    for (uint32_t pc : c.sources) source_[pc] = 1;
    mirror_ = Regs::of(m);
    if (m.hbm_addr.size() > kMaxHbmRegs) refuse_always(fmt::format("{} HBM address registers", m.hbm_addr.size()));
  }

  void operator()(const Effects& e, uint32_t pc) {
    const uint64_t seq = seq_++;
    if (!c_.refused.empty()) return;
    const bool source = source_[pc] != 0;
    bool tainted_in = false;
    for (uint8_t i = 0; i < e.n_reads; ++i) {
      const Range& r = e.reads[i];
      if (r.space == Space::IntSram) return refuse_always("it reads INT SRAM (data the run did not compute)");
      if (!is_register(r.space)) continue;
      for (uint64_t x = r.lo; x < r.hi; ++x) {
        if (!written_.has(r.space, x))
          return refuse_always(fmt::format("pc {} reads a register the run has not written", pc));
        tainted_in |= taint_.has(r.space, x);
      }
    }
    for (uint8_t i = 0; i < e.n_writes; ++i)
      if (e.writes[i].space == Space::IntSram) return refuse_always("it writes INT SRAM");
    if (tainted_in || source) {
      if (steers_control(e.op)) return refuse(fmt::format("a varying immediate reaches loop control at pc {}", pc));
      c_.slice.push_back({seq, pc, mirror_, taint_, e});
    }
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const Range& w = e.writes[i];
      if (!is_register(w.space)) continue;
      for (uint64_t x = w.lo; x < w.hi && x < register_count(w.space); ++x) {
        written_.set(w.space, x, true);
        taint_.set(w.space, x, tainted_in || source);
        mirror_.set(w.space, x, Regs::value(m_, w.space, x));
      }
    }
  }

  const RegMask& taint() const { return taint_; }

 private:
  void refuse(std::string why) {
    if (c_.refused.empty()) c_.refused = std::move(why);
  }
  void refuse_always(std::string why) {
    refuse(std::move(why));
    c_.refused_always = true;
  }
  Certificate& c_;
  const Machine& m_;
  std::vector<uint8_t> source_;
  Regs mirror_;  // the registers before the current instruction
  RegMask written_, taint_;
  uint64_t seq_ = 0;
};

// Whether `b` (the other program's Effects of a slice instruction) times like the template's.
bool times_alike(const TimingModel& timing, const Certificate::Entry& x, const Effects& b) {
  const Effects& a = x.effects;
  if (a.op != b.op || a.unit != b.unit || a.latency != b.latency || a.repeat != b.repeat ||
      a.zero_latency != b.zero_latency || a.n_reads != b.n_reads || a.n_writes != b.n_writes || a.n_hbm != b.n_hbm)
    return false;
  if (!same_ranges(a.reads, b.reads, a.n_reads)) return false;
  for (uint8_t i = 0; i < a.n_writes; ++i)
    if (a.writes[i].space != b.writes[i].space || a.writes[i].lo != b.writes[i].lo || a.writes[i].hi != b.writes[i].hi)
      return false;
  bool same_streams = true;
  for (uint8_t i = 0; i < a.n_hbm; ++i) {
    const HbmStream &p = a.hbm[i], &q = b.hbm[i];
    same_streams &= p.base == q.base && p.bytes == q.bytes && p.rows == q.rows && p.stride == q.stride && p.write == q.write;
  }
  return same_streams || timing.transfers_time_alike(a, b);
}

// Re-executes the slice with `program`'s immediates; on success `end` (the template's final
// registers) becomes `program`'s.
bool replay(const Certificate& c, Machine& m, const TimingModel& timing, std::span<const isa::Instr> program, Regs& end) {
  Regs varying;  // the varying registers' values under `program`
  for (const Certificate::Entry& x : c.slice) {
    Regs r = x.before;
    x.tainted.overlay(r, varying);
    r.store(m);
    Effects e;
    try {
      e = execute(m, program[x.pc], x.pc);
    } catch (const SimFault&) {
      return false;  // simulated in full, where the fault is reported
    }
    if (!times_alike(timing, x, e)) return false;
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const Range& w = e.writes[i];
      if (!is_register(w.space)) continue;
      for (uint64_t k = w.lo; k < w.hi && k < register_count(w.space); ++k) varying.set(w.space, k, Regs::value(m, w.space, k));
    }
  }
  c.tainted_at_end.overlay(end, varying);
  return true;
}

}  // namespace

// ---- segments of one run ----

struct SegmentReuse::State {
  // The timing model and machine at a segment boundary.
  struct Point {
    TimingModel::Mark mark;
    std::vector<uint64_t> state;  // TimingModel::relative_state
    uint64_t executed = 0, back_edges = 0;
  };
  State(const config::HardwareConfig& cfg, const SimOptions& opts)
      : scratch(cfg, Mode::TimingOnly), judge(cfg, opts.timing) {}

  std::span<const isa::Instr> program;
  std::vector<uint32_t> bounds;
  Machine scratch;    // re-executes slices
  TimingModel judge;  // judges transfers whose HBM bases differ
  uint64_t skipped = 0;
  // The template: segment tmpl, recorded from `start`; `end` and `end_regs` once it ended.
  static constexpr size_t kNone = ~size_t{0};
  size_t tmpl = kNone;
  bool recording = false;
  Point start, end;
  Regs end_regs;
  std::unique_ptr<Certificate> cert;
  std::optional<SliceRecorder> recorder;

  std::span<const isa::Instr> segment(size_t i) const {
    return program.subspan(bounds[i], bounds[i + 1] - bounds[i]);
  }
  static Point point(const TimingModel& tm, const Machine& m, uint64_t executed) {
    return {tm.mark(), tm.relative_state(), executed, m.loop_back_edges};
  }
  uint32_t mark_after(uint32_t pc) const {
    auto it = std::upper_bound(bounds.begin(), bounds.end(), pc);
    return it == bounds.end() ? UINT32_MAX : *it;
  }

  // Segment i's pcs that differ from the template's are among the template's sources.
  bool varies_as_template(size_t i) const {
    if (bounds[i + 1] - bounds[i] != bounds[tmpl + 1] - bounds[tmpl]) return false;
    const auto v = TimingReuse::varying_pcs(segment(tmpl), segment(i));
    if (!v) return false;
    return std::all_of(v->begin(), v->end(),
                       [&](uint32_t pc) { return std::binary_search(cert->sources.begin(), cert->sources.end(), pc + bounds[tmpl]); });
  }

  // How many segments from i on repeat the template (which ended at i), with the registers the
  // last of them leaves.
  uint64_t repeats(size_t i, const Machine& m, uint64_t executed, Regs& regs) {
    if (tmpl == kNone || tmpl + 1 != i || !cert || !cert->refused.empty() || start.state.empty() || start.state != end.state ||
        end.mark.stats.dram_calibrations != start.mark.stats.dram_calibrations)
      return 0;
    const uint64_t n_exec = end.executed - start.executed, n_back = end.back_edges - start.back_edges;
    const config::Timing& budget = m.config().timing;
    uint64_t k = 0;
    for (size_t j = i; j + 1 < bounds.size(); ++j, ++k) {
      // Full simulation faults on the budgets; so does a jump that would pass them.
      if (executed + (k + 1) * n_exec > budget.instruction_budget ||
          m.loop_back_edges + (k + 1) * n_back > budget.loop_iteration_budget || !varies_as_template(j))
        break;
      Regs r = end_regs;
      if (!replay(*cert, scratch, judge, program.subspan(bounds[j] - bounds[tmpl]), r)) break;
      regs = r;
    }
    return k;
  }

  void drop() {
    tmpl = kNone;
    recorder.reset();
    recording = false;
  }
  void record(size_t i, const Machine& m, Point at) {
    drop();
    if (i + 2 >= bounds.size()) return;  // no segment after i to compare with
    const auto v = TimingReuse::varying_pcs(segment(i), segment(i + 1));
    if (!v) return;
    cert = std::make_unique<Certificate>();
    for (uint32_t pc : *v) cert->sources.push_back(pc + bounds[i]);
    recorder.emplace(*cert, m, program.size());
    tmpl = i;
    recording = true;
    start = std::move(at);
  }
};

SegmentReuse::SegmentReuse(const config::HardwareConfig& cfg, const SimOptions& opts)
    : s_(std::make_unique<State>(cfg, opts)) {}
SegmentReuse::~SegmentReuse() = default;

void SegmentReuse::prepare(std::span<const isa::Instr> program, std::span<const uint64_t> bounds) {
  State& s = *s_;
  s.program = program;
  s.bounds.clear();
  for (uint64_t b : bounds) {
    if (b > program.size() || (!s.bounds.empty() && b <= s.bounds.back()))
      throw std::logic_error("segment reuse: bounds must increase within the program");
    s.bounds.push_back(uint32_t(b));
  }
  s.skipped = 0;
  s.tmpl = State::kNone;
  s.recording = false;
  s.recorder.reset();
  s.cert.reset();
}

uint64_t SegmentReuse::skipped() const { return s_->skipped; }
uint32_t SegmentReuse::first_mark() const { return s_->bounds.empty() ? UINT32_MAX : s_->bounds.front(); }

void SegmentReuse::observe(const Effects& e, uint32_t pc) {
  if (s_->recorder) (*s_->recorder)(e, pc);
}

RunSegments::Next SegmentReuse::at(uint32_t pc, Machine& m, TimingModel* timing, uint64_t& executed) {
  State& s = *s_;
  const auto it = std::lower_bound(s.bounds.begin(), s.bounds.end(), pc);
  const size_t i = size_t(it - s.bounds.begin());
  if (it == s.bounds.end() || *it != pc || !m.loops.empty() || !timing) {  // not at a boundary
    s.drop();
    return {pc, s.mark_after(pc), false};
  }
  State::Point now = State::point(*timing, m, executed);
  if (s.recording) {
    s.end = now;
    s.end_regs = Regs::of(m);
    s.cert->tainted_at_end = s.recorder->taint();
    s.recorder.reset();
    s.recording = false;
  }
  Regs regs;
  size_t land = i;
  if (const uint64_t k = s.repeats(i, m, executed, regs)) {
    timing->repeat(s.start.mark, s.end.mark, k);
    executed += k * (s.end.executed - s.start.executed);
    m.loop_back_edges += k * (s.end.back_edges - s.start.back_edges);
    regs.store(m);
    s.skipped += k;
    land = i + k;
    now = State::point(*timing, m, executed);
  }
  s.record(land, m, std::move(now));
  return {s.bounds[land], s.mark_after(s.bounds[land]), s.recording};
}

struct TimingReuse::Template {
  std::vector<isa::Instr> program;
  SimResult result;
  Regs end;
  std::unique_ptr<Certificate> cert;  // null: simulated without a recorder (nothing known to vary)
};

TimingReuse::TimingReuse(const config::HardwareConfig& cfg, const SimOptions& opts)
    : scratch_(std::make_unique<Machine>(cfg, Mode::TimingOnly)),
      timing_(std::make_unique<TimingModel>(cfg, opts.timing)),
      segments_(std::make_unique<SegmentReuse>(cfg, opts)) {}

TimingReuse::~TimingReuse() = default;

std::optional<std::vector<uint32_t>> TimingReuse::varying_pcs(std::span<const isa::Instr> a,
                                                              std::span<const isa::Instr> b) {
  if (a.size() != b.size()) return std::nullopt;
  using isa::Opcode;
  std::vector<uint32_t> pcs;
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    isa::Instr x = a[i], y = b[i];
    y.imm = x.imm;
    if (!(x == y) || (x.op != Opcode::S_LUI_INT && x.op != Opcode::S_ADDI_INT)) return std::nullopt;
    if (x.op == Opcode::S_ADDI_INT && x.rs1 == x.rd && i > 0 && a[i - 1].op == Opcode::S_LUI_INT && a[i - 1].rd == x.rd)
      pcs.push_back(uint32_t(i - 1));
    pcs.push_back(uint32_t(i));
    if (x.op == Opcode::S_LUI_INT && i + 1 < n && a[i + 1].op == Opcode::S_ADDI_INT && a[i + 1].rd == x.rd &&
        a[i + 1].rs1 == x.rd)
      pcs.push_back(uint32_t(i + 1));
  }
  std::sort(pcs.begin(), pcs.end());
  pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
  return pcs;
}

// Whether the template's proof covers `program`; sets sources_ to what the next template should follow.
bool TimingReuse::try_reuse(Simulator& sim, std::span<const isa::Instr> program) {
  const Template& t = *tmpl_;
  auto varying = varying_pcs(t.program, program);
  sources_.clear();
  if (!varying) return false;  // another shape: nothing is known to vary yet
  const Certificate* c = t.cert.get();
  if (c) varying->insert(varying->end(), c->sources.begin(), c->sources.end());
  std::sort(varying->begin(), varying->end());
  varying->erase(std::unique(varying->begin(), varying->end()), varying->end());
  sources_ = std::move(*varying);
  if (!c || !c->refused.empty() || c->sources != sources_) return false;
  Regs end = t.end;
  if (!replay(*c, *scratch_, *timing_, program, end)) return false;
  end.store(sim.machine());
  return true;
}

SimResult TimingReuse::run(Simulator& sim, std::span<const isa::Instr> program, bool* reused) {
  return run(sim, program, {}, reused);
}

uint64_t TimingReuse::skipped_segments() const { return skipped_segments_; }

SimResult TimingReuse::run(Simulator& sim, std::span<const isa::Instr> program, std::span<const uint64_t> segments,
                           bool* reused) {
  *reused = false;
  skipped_segments_ = 0;
  const auto t0 = std::chrono::steady_clock::now();
  if (tmpl_ && try_reuse(sim, program)) {
    *reused = true;
    SimResult r = tmpl_->result;
    r.host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }
  // Simulated in full; with a recorder when the previous step says which immediates vary.
  auto cert = sources_.empty() || given_up_ ? nullptr : std::make_unique<Certificate>();
  std::optional<SliceRecorder> recorder;
  auto& observer = sim.observer();
  if (cert) {
    if (observer) throw std::logic_error("timing reuse: the simulator already has an observer");
    cert->sources = sources_;
    recorder.emplace(*cert, sim.machine(), program.size());
    observer = [&recorder](const Effects& e, uint32_t pc) { (*recorder)(e, pc); };
  }
  SimResult r;
  try {
    if (!cert && !segments.empty() && !observer) {
      segments_->prepare(program, segments);
      r = sim.run(program, *segments_);
      skipped_segments_ = segments_->skipped();
    } else {
      r = sim.run(program);
    }
  } catch (...) {
    if (cert) observer = nullptr;
    throw;
  }
  if (cert) {
    observer = nullptr;
    cert->tainted_at_end = recorder->taint();
    // A shape calibrated here is calibrated for the next run already (Simulator), which then
    // counts no calibration: its statistics would differ.
    if (r.timing.dram_calibrations != 0 && cert->refused.empty())
      cert->refused = "the run calibrated DRAM shapes that the next run finds calibrated";
    given_up_ = cert->refused_always;  // e.g. the programs read INT SRAM: no proof for this run's kind
  }
  tmpl_ = std::make_unique<Template>();
  tmpl_->program.assign(program.begin(), program.end());
  tmpl_->result = r;
  tmpl_->end = Regs::of(sim.machine());
  tmpl_->cert = std::move(cert);
  return r;
}

}  // namespace plena::sim

// KernelCost arithmetic and the counting back-end behind ProgramBuilder::counting.
#include "compiler/cost.hpp"

#include <algorithm>
#include <tuple>

#include "compiler/cost_counter.hpp"

namespace plena::compiler {
namespace {

// Adds d's transfers to the identical pattern in v (first use keeps its place), else appends it.
void merge_dma(std::vector<CostDma>& v, const CostDma& d) {
  auto key = [](const CostDma& e) {
    return std::tie(e.op, e.precision, e.rows, e.cols, e.stride, e.scale_reg, e.write, e.matrix, e.wait_first, e.gather,
                    e.placed);
  };
  for (CostDma& e : v)
    if (key(e) == key(d) && e.format == d.format) {
      e.count += d.count;
      return;
    }
  v.push_back(d);
}

}  // namespace

uint64_t KernelCost::instructions() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.instructions;
  return n;
}

uint64_t KernelCost::transfers() const {
  uint64_t n = 0;
  for (const auto& d : dma) n += d.count;
  return n;
}

uint64_t KernelCost::vector_ops() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.vector_ops;
  return n;
}

uint64_t KernelCost::transfers(isa::Opcode op, int precision) const {
  uint64_t n = 0;
  for (const auto& d : dma)
    if (d.op == op && (precision < 0 || d.precision == uint32_t(precision))) n += d.count;
  return n;
}

void KernelCost::add(const KernelCost& o, uint64_t times) {
  for (CostPhase p : o.phases) {
    p.times *= times;
    p.entries *= times;
    phases.push_back(std::move(p));
  }
  for (CostDma d : o.dma) {
    d.count *= times;
    merge_dma(dma, d);
  }
  for (size_t i = 0; i < per_opcode.size(); ++i) per_opcode[i] += times * o.per_opcode[i];
  static_instructions += o.static_instructions;
  bursts += times * o.bursts;
  bursts_ahead += times * o.bursts_ahead;
  handoff_transfers += times * o.handoff_transfers;
  chained_in = chained_in || o.chained_in;
  stream_stall_cycles += times * o.stream_stall_cycles;
}

// ------------------------------------------------------------------------------------------------
// CostCounter

CostCounter::CostCounter(const config::HardwareConfig& cfg) : cfg_(cfg) {
  for (const isa::OpInfo& inf : isa::all_opcodes()) latency_[inf.code] = config::latency_cycles(cfg, inf.op);
  Frame top;
  top.phase = CostPhase{"top", 1};
  stack_.push_back(std::move(top));
}

void CostCounter::enter_loop(uint64_t count) {
  // A kernel's code before its loop and after it do not overlap (the loop runs between them):
  // what the top level has so far is a phase of its own.
  if (stack_.size() == 1) {
    CostPhase& open = stack_.back().phase;
    commit(cost_.phases, index_, open);
    open = CostPhase{open.name, open.times, open.entries};
  }
  const CostPhase& parent = stack_.back().phase;
  Frame f;
  f.phase.name = parent.name + "/loop";
  f.phase.times = parent.times * count;
  f.phase.entries = parent.times;
  f.count = count;
  stack_.push_back(std::move(f));
}

void CostCounter::mark_chain(bool chained_in, uint64_t handoff_transfers) {
  cost_.chained_in = cost_.chained_in || chained_in;
  cost_.handoff_transfers += stack_.back().phase.times * handoff_transfers;
}

void CostCounter::mark_burst(bool ahead) {
  cost_.bursts += stack_.back().phase.times;
  if (ahead) cost_.bursts_ahead += stack_.back().phase.times;
}

// Phases identical per repetition are one phase repeated: the time model is linear in `times` and
// `entries`, so merging is exact and keeps a long kernel's phase list as short as its distinct bodies.
void CostCounter::commit(std::vector<CostPhase>& phases, std::map<PhaseKey, size_t>& index, const CostPhase& p) {
  if (p.instructions == 0) return;
  const PhaseKey key{p.name, p.instructions, p.serial_cycles, p.vector_cycles, p.matrix_cycles, p.chain_cycles,
                     p.stream_cycles, p.vector_ops, p.dma, p.dma_serial, p.exposed_cycles};
  if (auto it = index.find(key); it != index.end()) {
    phases[it->second].times += p.times;
    phases[it->second].entries += p.entries;
    return;
  }
  index.emplace(key, phases.size());
  phases.push_back(p);
}

const KernelCost& CostCounter::cost() const {
  // The top level stays open while emission may go on: committed into a copy on each request.
  final_ = cost_;
  if (run_ahead_) final_.stream_stall_cycles += run_ahead_stall(*run_ahead_, true);
  std::map<PhaseKey, size_t> index = index_;
  commit(final_.phases, index, stack_.front().phase);
  return final_;
}

void CostCounter::leave_loop() {
  const Frame body = std::move(stack_.back());
  commit(cost_.phases, index_, body.phase);
  stack_.pop_back();
  // The loop drained the units before the enclosing code goes on; its results are ready.
  Frame& f = stack_.back();
  f.vector_free = f.issue;
  f.fp_ready.fill(0);
  // The body was seen once, with the first iteration's register values.
  gp_known_ &= uint16_t(~body.gp_written | 1u);
  f.gp_written |= body.gp_written;
  f.slots += double(body.count) * body.slots;
  f.vector_ops += double(body.count) * body.vector_ops;
  if (run_ahead_) advance_run_ahead(double(body.count - 1) * body.slots, double(body.count - 1) * body.vector_ops);
}

// The sim's per-unit queue (sim::TimingOptions::unit_queue_depth, default): instructions issued to
// a unit and not yet started.
constexpr double kUnitQueueDepth = 8;

void CostCounter::advance_run_ahead(double slots, double vector_ops) {
  RunAhead& r = *run_ahead_;
  if (r.vector_ops + vector_ops < kUnitQueueDepth) {
    r.slots += slots;
    r.vector_ops += vector_ops;
    return;
  }
  // The queue fills part way through: the front end stops at the instruction that finds it full.
  r.slots += slots * (kUnitQueueDepth - r.vector_ops) / vector_ops;
  cost_.stream_stall_cycles += run_ahead_stall(r, false);
  run_ahead_.reset();
}

// The wait left after the run-ahead; when the code ended first, the queued vector work runs after
// the stream too.
uint64_t CostCounter::run_ahead_stall(const RunAhead& r, bool ended) {
  const double left = r.wait + (ended ? r.vector_ops : 0) - r.slots;
  return left > 0 ? uint64_t(left) * r.times : 0;
}

// A vector instruction reading or writing the VRAM row a stream is still writing starts when the
// stream ends (the simulator orders them by address range).
void CostCounter::vector_waits_for_stream(const isa::Instr& in, const isa::OpInfo& inf) {
  if (!stream_left_ || !stream_row_) return;
  const uint64_t vlen = cfg_.geometry.vlen;
  for (size_t k = 0; k < inf.form.count; ++k) {
    const isa::Operand& o = inf.form.ops[k];
    if (o.kind != isa::OperandKind::Gp) continue;
    if (o.role != "dst" && o.role != "src" && o.role != "src1" && o.role != "src2" && o.role != "vram") continue;
    const auto a = gp(isa::field_value(in, o.field));
    if (!a || *a + vlen <= *stream_row_ || *stream_row_ + vlen <= *a) continue;
    if (run_ahead_) cost_.stream_stall_cycles += run_ahead_stall(*run_ahead_, false);
    run_ahead_ = RunAhead{std::max(0.0, double(stream_left_) - stream_overlap_), 0, 0, stream_times_};
    stream_left_ = 0;
    return;
  }
}

void CostCounter::track_gp(const isa::Instr& in, const isa::OpInfo& inf) {
  using isa::Opcode;
  if (inf.unit != isa::Unit::ScalarInt && inf.unit != isa::Unit::Control) return;
  const uint32_t rd = in.rd & 15;
  if (inf.unit == isa::Unit::Control && !(in.op == Opcode::C_LOOP_START || in.op == Opcode::C_LOOP_END)) return;
  if (in.op == Opcode::S_ST_INT) return;
  std::optional<uint32_t> v;
  const auto a = gp(in.rs1), b = gp(in.rs2);
  switch (in.op) {
    case Opcode::S_LUI_INT: v = uint32_t(in.imm) << 12; break;
    case Opcode::S_ADDI_INT: if (a) v = *a + uint32_t(in.imm); break;
    case Opcode::S_ADD_INT: if (a && b) v = *a + *b; break;
    case Opcode::S_SUB_INT: if (a && b) v = *a - *b; break;
    case Opcode::S_MUL_INT: if (a && b) v = *a * *b; break;
    default: break;
  }
  if (rd == 0) return;
  stack_.back().gp_written |= uint16_t(1u << rd);
  if (v) {
    gp_[rd] = *v;
    gp_known_ |= uint16_t(1u << rd);
  } else {
    gp_known_ &= uint16_t(~(1u << rd));
  }
}

void CostCounter::stall_for_stream() {
  const double wait = std::max(0.0, double(stream_left_) - stream_overlap_);
  cost_.stream_stall_cycles += uint64_t(wait) * stream_times_;
  stream_left_ = 0;
}

void CostCounter::record(const isa::Instr& in, const isa::OpInfo& inf) {
  Frame& f = stack_.back();
  CostPhase& p = f.phase;
  const uint64_t lat = latency_[inf.code];
  cost_.per_opcode[inf.code] += p.times;
  ++cost_.static_instructions;
  ++p.instructions;
  switch (inf.unit) {
    case isa::Unit::Matrix: p.matrix_cycles += lat; break;
    case isa::Unit::Vector:
      p.vector_cycles += lat;
      ++p.vector_ops;
      break;
    case isa::Unit::ScalarFp:
      if (inf.latency == isa::Latency::MapVFp)
        p.stream_cycles += lat;
      else if (inf.latency != isa::Latency::ScalarFpMem)
        p.chain_cycles += lat;
      if (stream_left_) stall_for_stream();  // the unit is still streaming: this waits for the rest
      break;
    default: break;
  }
  if (inf.latency == isa::Latency::PrefetchM || inf.latency == isa::Latency::PrefetchV ||
      inf.latency == isa::Latency::StoreV) {
    ++p.dma;
    p.dma_serial = p.dma_serial || hint.serial;
    record_dma(in, p.times);
  } else {
    p.serial_cycles += lat;
  }
  record_exposure(in, inf, lat, p);
  if (run_ahead_) advance_run_ahead(1, inf.unit == isa::Unit::Vector ? 1 : 0);
  if (inf.unit == isa::Unit::Vector) vector_waits_for_stream(in, inf);
  if (inf.latency == isa::Latency::MapVFp) {
    stream_left_ = lat;
    stream_times_ = p.times;
    stream_overlap_ = 0;
    stream_row_ = gp(in.rd);
  } else if (stream_left_) {
    stream_overlap_ += double(p.times) / double(stream_times_);  // issue slots while it streams
  }
  track_gp(in, inf);
  ++f.slots;
  if (inf.unit == isa::Unit::Vector) ++f.vector_ops;
}

// Decoupled issue within one repetition: the front end issues one instruction per slot; the vector
// unit runs its instructions back to back; a scalar FP instruction that reads a reduction's result
// waits for it, and that wait is exposed on top of the phase's overlapped time.
void CostCounter::record_exposure(const isa::Instr& in, const isa::OpInfo& inf, uint64_t lat, CostPhase& p) {
  Frame& f = stack_.back();
  if (inf.unit == isa::Unit::Vector) {
    f.vector_free = std::max(f.vector_free, f.issue) + lat;
    if (in.op == isa::Opcode::V_RED_SUM || in.op == isa::Opcode::V_RED_MAX) f.fp_ready[in.rd & 7] = f.vector_free;
  } else if (inf.unit == isa::Unit::ScalarFp) {
    uint64_t ready = 0;
    for (size_t k = 0; k < inf.form.count; ++k) {
      const isa::Operand& o = inf.form.ops[k];
      if (o.kind != isa::OperandKind::Fp) continue;
      const uint32_t r = isa::field_value(in, o.field) & 7;
      ready = std::max(ready, f.fp_ready[r]);
      f.fp_ready[r] = 0;
    }
    if (ready > f.issue) {
      p.exposed_cycles += ready - f.issue;
      f.issue = ready;
    }
  }
  ++f.issue;
}

void CostCounter::record_dma(const isa::Instr& in, uint64_t times) {
  const auto& g = cfg_.geometry;
  CostDma d;
  d.op = in.op;
  d.precision = in.funct1;
  d.matrix = in.op == isa::Opcode::H_PREFETCH_M;
  d.write = in.op == isa::Opcode::H_STORE_V;
  d.cols = d.matrix ? g.mlen : g.vlen;
  if (d.matrix)
    d.rows = (cfg_.hbm.m_prefetch_amount + g.mlen - 1) / g.mlen * g.mlen;
  else
    d.rows = d.write ? cfg_.hbm.v_writeback_amount : cfg_.hbm.v_prefetch_amount;
  d.stride = in.rs3 == 1 ? stride_ : d.cols;
  d.scale_reg = scale_;
  if (d.matrix)
    d.format = d.precision ? cfg_.formats.m_kv : cfg_.formats.m_weight;
  else
    d.format = d.precision ? cfg_.formats.v_kv : cfg_.formats.v_act;
  d.wait_first = hint.wait_first;
  d.gather = hint.gather;
  d.count = times;
  if (auto a = addr_.find(in.rs2); class_at && a != addr_.end()) d.placed = class_at(a->second);
  merge_dma(cost_.dma, d);
}

}  // namespace plena::compiler

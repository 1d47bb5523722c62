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
    return std::tie(e.op, e.precision, e.rows, e.cols, e.stride, e.scale_reg, e.write, e.matrix, e.wait_first, e.gather);
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
  const CostPhase& parent = stack_.back().phase;
  Frame f;
  f.phase.name = parent.name + "/loop";
  f.phase.times = parent.times * count;
  f.phase.entries = parent.times;
  stack_.push_back(std::move(f));
}

void CostCounter::mark_burst() { cost_.bursts += stack_.back().phase.times; }

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
  std::map<PhaseKey, size_t> index = index_;
  commit(final_.phases, index, stack_.front().phase);
  return final_;
}

void CostCounter::leave_loop() {
  commit(cost_.phases, index_, stack_.back().phase);
  stack_.pop_back();
  // The loop drained the units before the enclosing code goes on; its results are ready.
  Frame& f = stack_.back();
  f.vector_free = f.issue;
  f.fp_ready.fill(0);
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
  if (inf.latency == isa::Latency::MapVFp) {
    stream_left_ = lat;
    stream_times_ = p.times;
    stream_overlap_ = 0;
  } else if (stream_left_) {
    stream_overlap_ += double(p.times) / double(stream_times_);  // issue slots while it streams
  }
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
  merge_dma(cost_.dma, d);
}

}  // namespace plena::compiler

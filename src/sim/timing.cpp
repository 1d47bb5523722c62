// Minimal first cut of the timing model (in-order only); replaced by the full model.
#include "sim/timing.hpp"

#include <ostream>

#include "dram/dram.hpp"

namespace plena::sim {

struct TimingModel::Impl {
  config::HardwareConfig cfg;
  TimingOptions opts;
  dram::DramModel dram;
  TimingStats st;
  uint64_t now = 0;
  uint64_t ps_per_cycle = 1000;
  Impl(const config::HardwareConfig& c, const TimingOptions& o)
      : cfg(c), opts(o), dram(dram::preset(c.hbm.dram)) {
    ps_per_cycle = static_cast<uint64_t>(1000.0 / c.compute.clock_ghz + 0.5);
    if (ps_per_cycle == 0) ps_per_cycle = 1;
  }
  uint64_t latency(const Effects& e) const {
    const auto& l = cfg.latency;
    uint64_t c = 1;
    switch (e.latency) {
      case isa::Latency::MatMul: c = l.systolic_overhead + l.matrix_mm; break;
      case isa::Latency::BatchMatMul: c = l.systolic_overhead + l.matrix_bmm; break;
      case isa::Latency::MatVec: c = l.matrix_mv; break;
      case isa::Latency::BatchMatVec: c = l.systolic_overhead + l.matrix_bmv; break;
      case isa::Latency::MatWriteOut: c = l.matrix_writeout; break;
      case isa::Latency::VecAdd: c = l.vector_add; break;
      case isa::Latency::VecMul: c = l.vector_mul; break;
      case isa::Latency::VecExp: c = l.vector_exp; break;
      case isa::Latency::VecReci: c = l.vector_reci; break;
      case isa::Latency::VecSum: c = l.vector_sum; break;
      case isa::Latency::VecMax: c = l.vector_max; break;
      case isa::Latency::VecShift: c = l.vector_shift; break;
      case isa::Latency::VecPrefixScan: c = l.vector_prefix_scan; break;
      case isa::Latency::VecTopK: c = l.vector_max; break;
      case isa::Latency::Hadamard: c = l.vector_prefix_scan; break;
      case isa::Latency::ScalarFpBasic: c = l.scalar_fp_basic; break;
      case isa::Latency::ScalarFpExp: c = l.scalar_fp_exp; break;
      case isa::Latency::ScalarFpReci: c = l.scalar_fp_reci; break;
      case isa::Latency::ScalarFpSqrt: c = l.scalar_fp_sqrt; break;
      case isa::Latency::ScalarFpMem: c = l.scalar_fp_load_store; break;
      case isa::Latency::ScalarIntBasic:
      case isa::Latency::ScalarIntMem: c = l.scalar_int_basic; break;
      case isa::Latency::MapVFp: c = l.scalar_map_v_fp; break;
      case isa::Latency::Control: c = l.control; break;
      default: c = 0; break;
    }
    return c * e.repeat;
  }
};

TimingModel::TimingModel(const config::HardwareConfig& cfg, const TimingOptions& opts)
    : impl_(std::make_unique<Impl>(cfg, opts)) {
  impl_->st.dram_preset = cfg.hbm.dram;
}
TimingModel::~TimingModel() = default;

void TimingModel::issue(const Effects& e, uint32_t) {
  Impl& m = *impl_;
  m.st.instructions++;
  m.st.instr_count[static_cast<uint8_t>(e.op) & 63]++;
  if (e.zero_latency) return;
  if (e.unit == isa::Unit::Dma) {
    uint64_t last_done = m.now * m.ps_per_cycle;
    for (uint8_t i = 0; i < e.n_hbm; ++i) {
      const HbmStream& s = e.hbm[i];
      for (uint64_t r = 0; r < s.rows; ++r) {
        if (s.bytes == 0) continue;
        uint64_t id = m.dram.submit({s.base + r * s.stride, s.bytes, s.write, m.now * m.ps_per_cycle});
        m.dram.drain();
        last_done = std::max(last_done, m.dram.complete_time_ps(id));
      }
      (s.write ? m.st.hbm_write_bytes : m.st.hbm_read_bytes) += s.total_bytes();
    }
    m.now = (last_done + m.ps_per_cycle - 1) / m.ps_per_cycle;
    return;
  }
  m.now += m.latency(e);
}

void TimingModel::finish() {
  Impl& m = *impl_;
  m.st.cycles = m.now;
  m.st.time_ps = m.now * m.ps_per_cycle;
  m.st.dram_row_hit_rate = m.dram.stats().row_hit_rate;
}

const TimingStats& TimingModel::stats() const { return impl_->st; }

void TimingModel::write_perfetto(std::ostream& out) const { out << "{\"traceEvents\":[]}\n"; }

std::string TimingStats::to_json() const {
  return "{\"cycles\":" + std::to_string(cycles) + ",\"time_ps\":" + std::to_string(time_ps) + "}\n";
}

}  // namespace plena::sim

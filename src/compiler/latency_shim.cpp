// TEMPORARY (replaced by the ISA latency table): cycles of one instruction's latency class.
#include <bit>

#include "compiler/cost_counter.hpp"

namespace plena::compiler {

uint64_t op_latency(const config::HardwareConfig& cfg, isa::Opcode op) {
  const config::Latency& l = cfg.latency;
  using L = isa::Latency;
  switch (isa::info(op).latency) {
    case L::MatMul: return l.systolic_overhead + l.matrix_mm;
    case L::BatchMatMul: return l.systolic_overhead + l.matrix_bmm;
    case L::MatVec: return l.matrix_mv;
    case L::BatchMatVec: return l.systolic_overhead + l.matrix_bmv;
    case L::MatWriteOut: return l.matrix_writeout;
    case L::VecAdd: return op == isa::Opcode::V_MAX_VF || op == isa::Opcode::V_MIN_VF ? l.vector_max : l.vector_add;
    case L::VecMul: return l.vector_mul;
    case L::VecExp: return l.vector_exp;
    case L::VecReci: return l.vector_reci;
    case L::VecSum: return l.vector_sum;
    case L::VecMax: case L::VecTopK: return l.vector_max;
    case L::VecShift: return l.vector_shift;
    case L::VecPrefixScan: return l.vector_prefix_scan;
    case L::Hadamard: return l.vector_add * uint64_t(std::bit_width(uint64_t{cfg.geometry.vlen}) - 1);
    case L::ScalarFpBasic: return l.scalar_fp_basic;
    case L::ScalarFpExp: return l.scalar_fp_exp;
    case L::ScalarFpReci: return l.scalar_fp_reci;
    case L::ScalarFpSqrt: return l.scalar_fp_sqrt;
    case L::ScalarFpMem: return l.scalar_fp_load_store;
    case L::ScalarIntBasic: case L::ScalarIntMem: return l.scalar_int_basic;
    case L::MapVFp: return l.scalar_map_v_fp;
    case L::Control: return l.control;
    case L::PrefetchM: case L::PrefetchV: case L::StoreV: return 0;
  }
  return 0;
}

}  // namespace plena::compiler

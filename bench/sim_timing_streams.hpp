// Synthetic Effects streams of the timing-model benchmarks (bench_sim_timing), shared with the
// pinned-cycles test (tests/sim/test_pinned_cycles.cpp) so the benchmarked streams' results are pinned.
#pragma once
#include <vector>

#include "isa/isa.hpp"
#include "sim/effects.hpp"

namespace plena::sim::streams {

// The executor hands over one freshly filled Effects per instruction (hot in cache), so the
// synthetic streams are short and replayed rather than megabytes long.
inline constexpr int kStreamLength = 512;

inline Effects make(isa::Opcode op) {
  Effects e;
  e.op = op;
  e.unit = isa::info(op).unit;
  e.latency = isa::info(op).latency;
  return e;
}

// Address arithmetic and scalar FP, as in a kernel's loop bookkeeping.
inline std::vector<Effects> scalar_stream() {
  using isa::Opcode;
  std::vector<Effects> s;
  for (int i = 0; i < kStreamLength; ++i) {
    Effects e = make(i % 4 == 3 ? Opcode::S_MUL_FP : Opcode::S_ADDI_INT);
    if (e.op == Opcode::S_MUL_FP) {
      e.add_read(Space::FpReg, 1 + i % 3, 2 + i % 3);
      e.add_read(Space::FpReg, 4, 5);
      e.add_write(Space::FpReg, 5 + i % 2, 6 + i % 2);
    } else {
      e.add_read(Space::GpReg, 1 + i % 7, 2 + i % 7);
      e.add_write(Space::GpReg, 1 + (i + 3) % 7, 2 + (i + 3) % 7);
    }
    s.push_back(e);
  }
  return s;
}

// Row-wise vector work (softmax-like): adds, muls, exps over a sliding set of VRAM rows.
inline std::vector<Effects> vector_stream() {
  using isa::Opcode;
  std::vector<Effects> s;
  const Opcode ops[] = {Opcode::V_ADD_VV, Opcode::V_MUL_VF, Opcode::V_EXP_V, Opcode::V_SUB_VF};
  for (int i = 0; i < kStreamLength; ++i) {
    Effects e = make(ops[i % 4]);
    const uint64_t row = 64ull * (i % 256);
    e.add_read(Space::Vram, row, row + 64);
    if (e.op == Opcode::V_ADD_VV) e.add_read(Space::Vram, 64ull * ((i + 7) % 256), 64ull * ((i + 7) % 256) + 64);
    if (e.op == Opcode::V_MUL_VF || e.op == Opcode::V_SUB_VF) e.add_read(Space::FpReg, 1, 2);
    e.add_write(Space::Vram, 16384 + row, 16384 + row + 64);
    s.push_back(e);
  }
  return s;
}

// A GEMM-like loop with prefetches through the DRAM model (for reference, not the target).
inline std::vector<Effects> dma_stream() {
  using isa::Opcode;
  std::vector<Effects> s;
  for (int b = 0; b < 256; ++b) {
    const uint64_t tile = (b % 2) * 4096;
    Effects pm = make(Opcode::H_PREFETCH_M);
    pm.add_write(Space::Mram, tile, tile + 4096);
    pm.add_hbm({65536ull * b, 64, 64, 64, false});
    s.push_back(pm);
    for (int k = 0; k < 14; ++k) {
      Effects mm = make(Opcode::M_MM);
      mm.add_read(Space::Mram, tile, tile + 4096);
      mm.add_read(Space::Vram, 256ull * k, 256ull * k + 256);
      mm.add_read(Space::AccM, 0, 1);
      mm.add_write(Space::AccM, 0, 1);
      s.push_back(mm);
      Effects wo = make(Opcode::M_MM_WO);
      wo.add_read(Space::AccM, 0, 1);
      wo.add_write(Space::AccM, 0, 1);
      wo.add_write(Space::Vram, 65536 + 256ull * k, 65536 + 256ull * k + 256);
      s.push_back(wo);
    }
  }
  return s;
}

}  // namespace plena::sim::streams

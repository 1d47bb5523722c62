// Staged golden of the matrix unit's GEMM as emit_linear / emit_batched_matmul drive it: per MLEN
// K tile an f32 sum over k ascending from 0, added to the f32 accumulator; the accumulator is
// rounded to the VRAM type at M_MM_WO; later K chunks are rounded the same way and added with
// V_ADD_VV (rounded again). Values are as stored in VRAM (a) and MRAM (w).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include <gtest/gtest.h>

#include <map>

#include "compiler/kernels.hpp"
#include "staged_golden_vector.hpp"
#include "interp.hpp"

namespace plena::test::kv {

// a [rows, K] @ w [K, N] -> [rows, N].
inline std::vector<float> staged_matmul(const compiler::golden::Rounding& r, const float* a, const float* w, size_t rows,
                                        size_t k, size_t n, size_t mlen, size_t chunk_tiles) {
  std::vector<float> y(rows * n);
  const size_t k_tiles = k / mlen;
  for (size_t row = 0; row < rows; ++row)
    for (size_t col = 0; col < n; ++col) {
      float out = 0;
      for (size_t kt0 = 0; kt0 < k_tiles; kt0 += chunk_tiles) {
        float acc = 0;
        for (size_t kt = kt0; kt < std::min(k_tiles, kt0 + chunk_tiles); ++kt) {
          float s = 0;
          for (size_t kk = kt * mlen; kk < (kt + 1) * mlen; ++kk) s += a[row * k + kk] * w[kk * n + col];
          acc += s;
        }
        out = kt0 == 0 ? r.v(acc) : r.v(out + r.v(acc));
      }
      y[row * n + col] = out;
    }
  return y;
}

// The counting back-end's counts of a linear / batched-matmul emission equal the executed
// instruction mix (independent interpreter), and the kernel left no registers live.
// Runs `emit` on the counting back-end over a copy of the plan.
template <class Emit>
compiler::KernelCost count_emission(const config::HardwareConfig& cfg, const compiler::MemoryPlan& plan, Emit emit) {
  compiler::MemoryPlan copy = plan;
  compiler::ProgramBuilder b = compiler::ProgramBuilder::counting(cfg, "count");
  emit(b, copy);
  return b.cost();
}

inline void expect_counts_match(compiler::ProgramBuilder& b, const compiler::KernelCost& cost) {
  EXPECT_EQ(b.regs().live_gp(), 0);
  EXPECT_EQ(b.regs().live_hbm(), 0);
  compiler::test::Interp in;
  in.run(b.words());
  std::map<isa::Opcode, uint64_t> h;
  for (const auto& e : in.trace) ++h[e.op];
  for (auto op : {isa::Opcode::M_MM, isa::Opcode::M_MM_WO, isa::Opcode::H_PREFETCH_M, isa::Opcode::V_ADD_VV})
    EXPECT_EQ(h[op], cost.count(op)) << isa::mnemonic(op);
}

}  // namespace plena::test::kv

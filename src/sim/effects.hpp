// The contract between the functional executor and the timing model.
// For every executed instruction the executor produces one Effects record: which unit runs it,
// its latency class, the storage ranges it reads and writes (for the scoreboard) and the HBM
// byte streams it moves (for the DMA engine / DRAM model). The timing model never looks at data,
// so the same stream drives functional+timing and timing-only runs.
#pragma once
#include <array>
#include <cstdint>

#include "isa/isa.hpp"

namespace plena::sim {

// Storage spaces tracked by the scoreboard. Units of Range::lo/hi:
//   Vram, Mram        element addresses (as in the instructions)
//   FpSram, IntSram   entry indices
//   GpReg, FpReg, HbmReg  register indices
//   AccM, AccHm, AccHv, AccV  the whole accumulator is [0, 1)
//   Ctrl              0 = SCALE_REG, 1 = STRIDE_REG, 2 = V_MASK
enum class Space : uint8_t { Vram, Mram, FpSram, IntSram, GpReg, FpReg, HbmReg, AccM, AccHm, AccHv, AccV, Ctrl, Count };

struct Range {
  Space space = Space::Vram;
  uint64_t lo = 0, hi = 0;  // half-open [lo, hi)
};

// A strided set of HBM byte ranges moved by one DMA instruction: `rows` rows of `bytes` bytes,
// row i starting at base + i*stride. An MX transfer has one stream for the elements and one for
// the scales.
struct HbmStream {
  uint64_t base = 0;
  uint64_t bytes = 0;
  uint64_t rows = 0;
  uint64_t stride = 0;
  bool write = false;
  uint64_t total_bytes() const { return bytes * rows; }
};

struct Effects {
  isa::Opcode op{};
  isa::Unit unit{};
  isa::Latency latency{};
  uint32_t repeat = 1;        // latency multiplier (e.g. V_TOPK: number of logits scanned)
  bool zero_latency = false;  // the reference skips FP ops whose destination is f0: 0 cycles
  uint8_t n_reads = 0, n_writes = 0, n_hbm = 0;
  std::array<Range, 6> reads{};
  std::array<Range, 4> writes{};
  std::array<HbmStream, 2> hbm{};

  void add_read(Space s, uint64_t lo, uint64_t hi) { reads[n_reads++] = Range{s, lo, hi}; }
  void add_write(Space s, uint64_t lo, uint64_t hi) { writes[n_writes++] = Range{s, lo, hi}; }
  void add_hbm(const HbmStream& h) { hbm[n_hbm++] = h; }
};

}  // namespace plena::sim

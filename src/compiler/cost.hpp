// The cost of emitted code, counted by ProgramBuilder's counting back-end (ProgramBuilder::counting):
// a kernel's own emitter runs against it, loops are multiplied instead of unrolled, and what the
// program would execute is tallied per phase. This is the analytic model's only source of counts:
// there is no hand-written closed form of any kernel. Included through compiler/compiler.hpp.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "isa/isa.hpp"
#include "numerics/hbm_tensor.hpp"
#include "numerics/numerics.hpp"

namespace plena::compiler {

// A phase: a region of the dynamic instruction stream repeated `times` times (the top level of a
// kernel, or one hardware-loop body with its enclosing trip counts multiplied). Within a phase the
// units may overlap in the decoupled timing mode; the next phase's instructions wait for them
// (loop boundaries are where emitters put a reduction feeding a scalar or a write-after-read).
// Per repetition:
struct CostPhase {
  std::string name;
  uint64_t times = 1;
  uint64_t entries = 1;  // times the loop is entered (its enclosing phase's times; 1 at the top)
  uint64_t instructions = 0;
  uint64_t serial_cycles = 0;  // sum of latencies (DMA excluded): the in-order time
  uint64_t vector_cycles = 0, matrix_cycles = 0;
  uint64_t chain_cycles = 0;   // scalar FP arithmetic (a dependent chain in the kernels)
  uint64_t stream_cycles = 0;  // S_MAP_V_FP: the scalar unit streams a VRAM row while others go on
  uint64_t vector_ops = 0;     // vector-unit instructions
  uint64_t dma = 0;            // HBM transfers
  bool dma_serial = false;     // each transfer waits for the previous (DmaHint::serial)
  uint64_t exposed_cycles = 0; // decoupled: scalar FP reads of a reduction result not yet ready
};

// One HBM access pattern (the instruction's geometry at issue) and how often it executes.
struct CostDma {
  isa::Opcode op = isa::Opcode::H_PREFETCH_V;
  uint32_t precision = 0;
  uint64_t rows = 0, cols = 0;  // rows transferred, elements per row
  uint64_t stride = 0;          // STRIDE_REG (elements) when the row-stride flag is set, else cols
  uint64_t scale_reg = 0;       // SCALE_REG at issue
  numerics::Format format;
  bool write = false, matrix = false;
  bool wait_first = false;      // DmaHint: compute waits for the first transfer (decoupled)
  bool gather = false;          // DmaHint: consecutive transfers read unrelated DRAM rows
  uint64_t count = 0;           // dynamic transfers
  // Class of the HBM tensor the transfer's base address falls in, as the memory plan placed it
  // (decides the pool, as the address does in the simulator); empty when the address is unknown.
  std::optional<numerics::TensorClass> placed;
};

// What an emitter tells the cost model about its transfers (the instruction cannot say it).
struct DmaHint {
  bool wait_first = false;
  bool gather = false;
  bool serial = false;
};

struct KernelCost {
  std::string kernel;
  std::vector<CostPhase> phases;
  std::vector<CostDma> dma;                 // distinct patterns, first use first
  std::array<uint64_t, 64> per_opcode{};    // dynamic count by opcode value
  uint64_t static_instructions = 0;         // what emission would have written
  // Streamed-weight kernels: executions of a burst (ProgramBuilder::burst), i.e. a run of prefetches
  // into MRAM that must wait for the previous burst's products (they reuse its tiles).
  uint64_t bursts = 0;
  // Of those, the bursts prefetched one ahead into the other of two MRAM buffers (double buffering:
  // they wait for the products of the burst two back, so the stream overlaps the multiplies).
  uint64_t bursts_ahead = 0;
  // Chained linears (LinearArgs::next_weight / chained): transfers prefetching the next kernel's
  // first chunk (streamed under this kernel's last step, charged to the next), and whether this
  // kernel's first chunk was so prefetched (no fill, no prologue burst).
  uint64_t handoff_transfers = 0;
  bool chained_in = false;
  // Decoupled: cycles the front end waits, once, for an S_MAP_V_FP row stream still holding the
  // scalar FP unit when the next scalar FP instruction needs it (the stream overlaps what issues
  // in between).
  uint64_t stream_stall_cycles = 0;

  uint64_t instructions() const;            // dynamic, exactly what the simulator executes
  uint64_t count(isa::Opcode op) const { return per_opcode[isa::info(op).code]; }
  uint64_t transfers() const;
  uint64_t vector_ops() const;
  // Sum of count over the patterns matching op (and precision when given).
  uint64_t transfers(isa::Opcode op, int precision = -1) const;
  // Adds `times` repetitions of `other` (another call of a kernel, a layer repeated).
  void add(const KernelCost& other, uint64_t times = 1);
};

}  // namespace plena::compiler

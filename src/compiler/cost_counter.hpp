// ProgramBuilder's counting back-end (internal to the compiler module): tallies each instruction
// the emitter produces into the current phase, multiplied by the enclosing loops' trip counts.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "compiler/cost.hpp"
#include "config/config.hpp"

namespace plena::compiler {

class CostCounter {
 public:
  explicit CostCounter(const config::HardwareConfig& cfg);
  void record(const isa::Instr& in, const isa::OpInfo& inf);  // inf = isa::info(in.op)
  // A loop body of `count` iterations becomes its own phase; the enclosing phase resumes after it.
  void enter_loop(uint64_t count);
  void leave_loop();
  void mark_burst(bool ahead);  // one more burst per repetition of the current phase
  void mark_chain(bool chained_in, uint64_t handoff_transfers);
  void set_stride(uint64_t v) { stride_ = v; }
  void set_scale(uint64_t v) { scale_ = v; }
  // The byte address ProgramBuilder::set_addr_reg loaded into a<reg>; a transfer through that
  // register records the class `class_at` (the memory plan's placement) reports for it.
  void set_addr(uint32_t reg, uint64_t byte_address) { addr_[reg] = byte_address; }
  std::function<std::optional<numerics::TensorClass>(uint64_t)> class_at;
  DmaHint hint;
  const KernelCost& cost() const;

 private:
  // Issue-order state of the current repetition of a phase (decoupled exposure rule).
  struct Frame {
    CostPhase phase;            // open until the loop ends
    uint64_t issue = 0;         // issue slot of the next instruction
    uint64_t vector_free = 0;   // the vector unit is busy until this slot
    std::array<uint64_t, 8> fp_ready{};  // slot at which a reduction's FP result is ready
    uint64_t count = 1;         // iterations of this loop
    uint16_t gp_written = 0;    // GP registers the body writes (unknown after the loop)
    double slots = 0, vector_ops = 0;  // one iteration, nested loops unrolled (issue run-ahead)
  };
  void record_dma(const isa::Instr& in, uint64_t times);
  void record_exposure(const isa::Instr& in, const isa::OpInfo& inf, uint64_t lat, CostPhase& p);
  const config::HardwareConfig& cfg_;
  std::array<uint64_t, 64> latency_{};
  using PhaseKey = std::tuple<std::string, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                              uint64_t, bool, uint64_t>;
  static void commit(std::vector<CostPhase>& phases, std::map<PhaseKey, size_t>& index, const CostPhase& p);
  KernelCost cost_;                    // closed phases
  std::map<PhaseKey, size_t> index_;   // closed phase by content
  mutable KernelCost final_;
  std::vector<Frame> stack_;
  uint64_t stride_ = 0, scale_ = 0;
  std::map<uint32_t, uint64_t> addr_;  // HBM address registers with a known value
  // An S_MAP_V_FP stream in flight: its length, the repetitions its phase had when it started, and
  // the cycles issued since (instructions, weighted by how often their phase runs per stream).
  uint64_t stream_left_ = 0, stream_times_ = 1;
  double stream_overlap_ = 0;
  std::optional<uint64_t> stream_row_;  // the VRAM address it writes, when the register is known
  void stall_for_stream();
  // A vector instruction that touches the streamed row waits in the vector queue; the front end
  // issues on until the queue is full (`slots` issue slots, `vector_ops` queued behind it).
  struct RunAhead {
    double wait = 0, slots = 0, vector_ops = 0;
    uint64_t times = 1;
  };
  std::optional<RunAhead> run_ahead_;
  void vector_waits_for_stream(const isa::Instr& in, const isa::OpInfo& inf);
  void advance_run_ahead(double slots, double vector_ops);
  static uint64_t run_ahead_stall(const RunAhead& r, bool ended);
  // GP register values where the emitted code makes them constants (LUI/ADDI/ADD... of known
  // values); a register a loop body writes is unknown after the loop.
  std::array<uint32_t, 16> gp_{};
  uint16_t gp_known_ = 1;  // gp0 is zero
  void track_gp(const isa::Instr& in, const isa::OpInfo& inf);
  std::optional<uint32_t> gp(uint32_t r) const {
    if (gp_known_ >> (r & 15) & 1) return gp_[r & 15];
    return std::nullopt;
  }
};

}  // namespace plena::compiler

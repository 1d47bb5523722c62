// Timing model: a deterministic discrete-event core that consumes the dynamic instruction
// stream (one Effects per executed instruction, in program order) and computes when each
// instruction starts and finishes on its unit, honouring the scoreboard (RAW/WAR/WAW over the
// ranges in Effects), the DMA engine + DRAM model for HBM streams, and the config's timing mode
// (in-order: each instruction starts after the previous one finished; decoupled: in-order issue,
// units overlap when no dependency forbids it) and latency table.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "sim/effects.hpp"

namespace plena::sim {

struct UnitStats {
  uint64_t busy_cycles = 0;   // cycles the unit was executing
  uint64_t stall_cycles = 0;  // cycles instructions waited for this unit's dependencies/resources
  uint64_t instructions = 0;
};

struct TimingStats {
  uint64_t cycles = 0;            // completion cycle of the last instruction
  uint64_t time_ps = 0;           // simulated time
  uint64_t instructions = 0;
  UnitStats matrix, vector, scalar_int, scalar_fp, control, dma;
  uint64_t instr_count[64] = {};  // per opcode value (instruction mix)
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  double achieved_read_gbps = 0, achieved_write_gbps = 0;  // over the run's wall of simulated time
  double dram_row_hit_rate = 0;
  std::string dram_preset;
  std::string to_json() const;  // stable key order
};

struct TimingOptions {
  bool record_trace = false;  // keep per-instruction events for write_perfetto()
  std::ostream* dram_trace = nullptr;  // Ramulator 2 load/store trace of every DRAM access atom
};

class TimingModel {
 public:
  // Builds the DRAM model from cfg.hbm.dram (plena::InputError naming the key if unknown).
  TimingModel(const config::HardwareConfig& cfg, const TimingOptions& opts = {});
  ~TimingModel();
  TimingModel(const TimingModel&) = delete;
  TimingModel& operator=(const TimingModel&) = delete;

  // Schedules one executed instruction (program order). pc is for traces.
  void issue(const Effects& e, uint32_t pc);
  // Waits for all outstanding work (DMA included) and finalises the statistics.
  void finish();
  const TimingStats& stats() const;
  // Chrome / Perfetto trace-event JSON: one track per unit, one event per instruction (needs record_trace).
  void write_perfetto(std::ostream& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plena::sim

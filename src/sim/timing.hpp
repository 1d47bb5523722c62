// Timing model: a deterministic discrete-event core that consumes the dynamic instruction
// stream (one Effects per executed instruction, in program order) and computes when each
// instruction starts and finishes on its unit, honouring the scoreboard (RAW/WAR/WAW over the
// ranges in Effects), the DMA engine + DRAM model for HBM streams, and the config's timing mode
// (in-order: each instruction starts after the previous one finished; decoupled: in-order issue,
// units overlap when no dependency forbids it) and latency table.
#pragma once
#include <array>
#include <cstdint>
#include <vector>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "ppa/ppa.hpp"
#include "sim/effects.hpp"

namespace plena::sim {

struct UnitStats {
  uint64_t busy_cycles = 0;   // cycles the unit was executing
  uint64_t stall_cycles = 0;  // cycles instructions waited for this unit's dependencies/resources
  uint64_t instructions = 0;
};

// HBM traffic of one memory pool (config::memory_pools order; docs/memory.md).
struct PoolTraffic {
  std::string name;    // [memory.<name>], or "hbm" for the implicit pool
  std::string dram;    // the timing model's name (preset or <standard>-<speed>)
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t transfers = 0;  // DMA instructions timed by this pool
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
  // Added by the timing model (see docs/timing.md).
  std::string config_hash;      // config::canonical_hash of the config the model was built from
  std::string timing_mode;      // "in-order" | "decoupled"
  std::string latency_profile;  // config profile name
  uint64_t ps_per_cycle = 0;    // integer core period used for every cycle <-> ps conversion
  uint64_t issue_stall_cycles = 0;  // decoupled: cycles the front end could not issue (queue full, register interlock)
  uint64_t dma_transfers = 0, dram_requests = 0;
  uint64_t dram_row_hits = 0, dram_row_misses = 0, dram_row_conflicts = 0;  // 0 with calibrated fidelity
  std::string dram_fidelity;    // "bank" | "calibrated"
  uint64_t dram_calibrations = 0;  // calibrated fidelity: distinct transfer shapes replayed
  double dram_avg_latency_ns = 0;
  double dram_peak_gbps = 0;     // summed over the pools
  std::vector<PoolTraffic> pools;  // one entry per memory pool
  // Energy of the run: this activity x the PPA tables (set by the Simulator; docs/ppa.md).
  ppa::Energy energy;
  ppa::Activity activity() const;  // instruction mix, HBM bytes, simulated seconds
  std::string to_json() const;  // stable key order
};

// How DMA transfers are timed (docs/timing.md "DRAM fidelity"):
//   Bank: every request goes through the bank-level DRAM model (row buffers, FR-FCFS, refresh).
//   Calibrated: each distinct transfer shape is replayed once through the bank-level model
//     (dram::calibrate_transfer) and every transfer of that shape is then charged its calibrated
//     latency and throughput on one shared DRAM pipe: orders of magnitude faster for full-size
//     models, approximate where different shapes interleave. No DRAM trace or row statistics.
enum class DramFidelity : uint8_t { Bank, Calibrated };

struct TimingOptions {
  bool record_trace = false;  // keep the Perfetto trace in memory for write_perfetto() (tests, short runs)
  // Stream the Perfetto trace here as the run goes (bounded memory; close_trace() ends it).
  std::ostream* trace = nullptr;
  // Trace only executed instructions [trace_first, trace_last) (program-order indices, "seq").
  uint64_t trace_first = 0, trace_last = ~uint64_t{0};
  std::ostream* dram_trace = nullptr;  // Ramulator 2 load/store trace of every DRAM access atom
  // Added by the timing model (decoupled mode; see docs/timing.md).
  uint32_t dma_queue_depth = 8;    // DMA transfers issued and not yet complete; issue stalls when full
  uint32_t unit_queue_depth = 8;   // per compute unit: instructions issued and not yet started
  uint32_t dma_request_bytes = 64; // HBM streams are cut into requests at this aligned size (power of two)
  uint64_t dma_setup_cycles = 0;   // fixed cycles added after the last DRAM request of a transfer
  bool vector_pipelined = false;   // true: vector ops occupy the vector unit 1 cycle per repeat
  DramFidelity dram_fidelity = DramFidelity::Bank;
};
// "bank" | "calibrated"; InputError naming `what` otherwise.
DramFidelity parse_dram_fidelity(std::string_view name, std::string_view what);
std::string_view dram_fidelity_name(DramFidelity f);

// The transfer shapes timing models have calibrated (calibrated fidelity), handed from one run
// of a simulator to the next: a simulator calibrates each shape once, at the first transfer of it
// in any of its runs (the steps of a `plena run` share them).
struct CalibratedShapes;
std::shared_ptr<CalibratedShapes> make_calibrated_shapes();

class TimingModel {
 public:
  // Builds the DRAM model from cfg.hbm.dram (plena::InputError naming the key if unknown).
  // `shapes`: calibrations to reuse and extend (null: this model's own).
  TimingModel(const config::HardwareConfig& cfg, const TimingOptions& opts = {},
              std::shared_ptr<CalibratedShapes> shapes = nullptr);
  ~TimingModel();
  TimingModel(const TimingModel&) = delete;
  TimingModel& operator=(const TimingModel&) = delete;

  // Schedules one executed instruction (program order). pc is for traces.
  void issue(const Effects& e, uint32_t pc);
  // Waits for all outstanding work (DMA included) and finalises the statistics.
  void finish();
  const TimingStats& stats() const;
  // Whether this model charges two DMA transfers whose Effects differ only in HBM stream bases
  // alike once their shape is calibrated (exact reuse of a step's timing, sim/step_reuse.hpp).
  // Only the calibrated fidelity can say yes.
  bool transfers_time_alike(const Effects& a, const Effects& b) const;
  // ---- exact repetition of a stretch of issues (segments proven to repeat, sim/step_reuse.hpp) ----
  // Counters at one point of a run: a stretch of issues is the difference of two marks.
  struct Mark {
    uint64_t fe_next = 0, next_seq = 0;
    std::array<uint64_t, isa::kNumUnits> issued{};
    std::array<UnitStats, isa::kNumUnits> units{};
    TimingStats stats;
  };
  Mark mark() const;
  // What every later issue's timing depends on, relative to the front end's clock (times that can
  // no longer delay anything dropped): two points with equal states time equal issue streams
  // alike. Empty when the model cannot give it: in-order mode, bank-level DRAM, a trace, or an
  // issued instruction whose finish is not yet known.
  std::vector<uint64_t> relative_state() const;
  // Advances the model (now at `b`, whose relative_state equals the one at `a`) as if the issues
  // between `a` and `b` happened `k` more times: times shift by k stretches, statistics add k.
  void repeat(const Mark& a, const Mark& b, uint64_t k);
  // Chrome / Perfetto trace-event JSON: one track per unit, one event per instruction (needs record_trace).
  void write_perfetto(std::ostream& out) const;
  // Ends the streamed trace (TimingOptions::trace), after finish(); a non-empty fault_message adds
  // an instant event "FAULT" at the end of the simulated time.
  void close_trace(std::string_view fault_message = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plena::sim

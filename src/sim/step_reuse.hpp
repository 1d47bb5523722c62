// Exact reuse of a simulated program's timing for a program that differs from it only in the
// immediates of scalar load-immediate instructions (S_LUI_INT / S_ADDI_INT): decode steps of one
// shape, whose programs differ in the KV store's HBM offset and the attention mask's shift.
//
// A timing-only result is a function of the Effects stream the executor produces (the timing
// model never looks at data). The proof that two programs produce interchangeable streams:
//  - the template run reads no register or INT SRAM entry it did not write itself, and stores
//    nothing to INT SRAM, so its run does not depend on the machine state it starts from;
//  - the registers a differing immediate reaches (followed through every register write, the
//    "slice") never steer control flow;
//  - re-executing the slice with the other program's immediates gives every slice instruction
//    identical Effects, except DMA stream bases that TimingModel::transfers_time_alike accepts
//    (calibrated DRAM fidelity: the same request counts, every shape calibrated before the
//    template ran, so neither run calibrates one at its own addresses).
// Anything else is simulated in full. docs/run.md ("Decode steps") has the argument at length.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sim/sim.hpp"
#include "sim/timing.hpp"

namespace plena::sim {

// Exact reuse of timing across the repeated segments of one run: the layers of a model step,
// whose programs differ only in load-immediate values (their weights' and KV caches' HBM
// addresses). At the start of each segment the run hands over (Simulator::run with segments):
//  - segment t is simulated with a slice recorder (the proof of TimingReuse, applied to the
//    segment: it reads no register it did not write, the registers its varying immediates reach
//    never steer a loop), and the timing model's relative state is taken at its start and end;
//  - when the two states are equal (TimingModel::relative_state: what every later issue depends
//    on, relative to the front end's clock) and t calibrated no DRAM shape, every following
//    segment whose slice replays to Effects that time alike (same shape, varying immediates
//    among t's) starts from that state and leaves it again, shifted by t's length: the model
//    jumps over them (TimingModel::repeat), the machine's registers are set to what they would
//    hold, and the executed count grows by theirs. Anything else is simulated.
// Cycles, statistics and instruction counts are those of full simulation (tests compare).
class SegmentReuse final : public RunSegments {
 public:
  SegmentReuse(const config::HardwareConfig& cfg, const SimOptions& opts);
  ~SegmentReuse() override;
  // The next run's program and segment boundaries (segment i is [bounds[i], bounds[i + 1]),
  // increasing; the last bound ends the last segment). The program must outlive the run.
  void prepare(std::span<const isa::Instr> program, std::span<const uint64_t> bounds);
  uint64_t skipped() const;  // segments jumped over since prepare()

  uint32_t first_mark() const override;
  Next at(uint32_t pc, Machine& m, TimingModel* timing, uint64_t& executed) override;
  void observe(const Effects& e, uint32_t pc) override;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

class TimingReuse {
 public:
  // `opts`: the options of the simulator `run` is given (timing-only mode, no trace, no observer).
  TimingReuse(const config::HardwareConfig& cfg, const SimOptions& opts);
  ~TimingReuse();
  TimingReuse(const TimingReuse&) = delete;
  TimingReuse& operator=(const TimingReuse&) = delete;

  // The result of running `program` on `sim`: the last simulated program's result when the proof
  // holds (`*reused` = true; the machine's registers are left as the run would leave them),
  // otherwise sim.run(program), which becomes the template. A template is recorded for a proof
  // (its slice) when the step before it said which immediates vary.
  SimResult run(Simulator& sim, std::span<const isa::Instr> program, bool* reused);
  // The same; a program simulated without a step proof to record jumps over the repeats among
  // `segments` (SegmentReuse: the boundaries of its layers; empty: none).
  SimResult run(Simulator& sim, std::span<const isa::Instr> program, std::span<const uint64_t> segments,
                bool* reused);
  uint64_t skipped_segments() const;  // by the last run()

  // The pcs where two programs differ, each with the other half of its load-immediate pair;
  // nullopt when they differ in length or anywhere other than a load-immediate's immediate.
  static std::optional<std::vector<uint32_t>> varying_pcs(std::span<const isa::Instr> a,
                                                          std::span<const isa::Instr> b);

  struct Certificate;  // the template's slice (step_reuse.cpp)

 private:
  struct Template;
  bool try_reuse(Simulator& sim, std::span<const isa::Instr> program);
  std::unique_ptr<Machine> scratch_;     // re-executes the slice
  std::unique_ptr<TimingModel> timing_;  // judges transfers whose HBM bases differ
  std::unique_ptr<Template> tmpl_;       // the last simulated program
  std::unique_ptr<SegmentReuse> segments_;
  uint64_t skipped_segments_ = 0;
  std::vector<uint32_t> sources_;        // the pcs the next template's proof follows
  bool given_up_ = false;
};

}  // namespace plena::sim

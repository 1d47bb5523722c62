// Private pieces of the timing model shared by timing*.cpp (not part of the public API).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "isa/isa.hpp"

namespace plena::sim::timing_detail {

inline constexpr uint64_t kUnknown = ~uint64_t{0};
inline constexpr int kUnits = isa::kNumUnits;
inline constexpr int kDmaUnit = static_cast<int>(isa::Unit::Dma);

// Integer picoseconds per core cycle: 1000 / clock_ghz rounded to the nearest ps (>= 1).
uint64_t cycle_period_ps(double clock_ghz);
std::string_view unit_name(int unit);

// One executed instruction as it appears in the Perfetto trace (times in cycles).
struct TraceEvent {
  uint64_t seq = 0;  // program-order index of the executed instruction
  uint64_t issue = 0, start = 0, finish = 0;
  uint64_t bytes = 0;  // HBM bytes moved (DMA only)
  uint32_t pc = 0;
  isa::Opcode op{};
  uint8_t unit = 0;
  bool done = false;  // finish known
};

// Chrome / Perfetto trace-event JSON written as the run goes: the header at construction, each
// event as add() receives it, the lane names and the closing bracket at close(). add() takes each
// unit's events in that unit's program order. Overlapping events of one unit (pipelined ops,
// concurrent DMA transfers) go to extra lanes "unit.1", "unit.2", ... (greedy first free lane),
// so every track holds disjoint slices; add_overflow() puts an event on the unit's last lane
// without that guarantee. Memory: the lane ends only (kUnits * kMaxLanes words).
class TraceWriter {
 public:
  static constexpr uint64_t kMaxLanes = 64;
  TraceWriter(std::ostream& out, uint64_t ps_per_cycle, std::string_view title);
  void add(const TraceEvent& e);
  void add_overflow(const TraceEvent& e);
  // Writes to `to` (the stream given at construction, or the rest of a copy of it): the lane
  // names, then `extra` (pre-formatted events, each starting with ",\n"), then the end.
  void close(std::ostream& to, std::string_view extra) const;

 private:
  void write(const TraceEvent& e, uint64_t lane);
  std::ostream& out_;
  uint64_t period_;
  std::vector<std::vector<uint64_t>> lane_end_;
};

// The instant event "FAULT" at `ps` carrying `message` (as close()'s `extra`).
std::string fault_event(uint64_t ps, std::string_view message);

}  // namespace plena::sim::timing_detail

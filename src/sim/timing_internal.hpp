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
  uint64_t issue = 0, start = 0, finish = 0;
  uint64_t bytes = 0;  // HBM bytes moved (DMA only)
  uint32_t pc = 0;
  isa::Opcode op{};
  uint8_t unit = 0;
};

// Chrome / Perfetto trace-event JSON; events in program order. Overlapping events of one unit
// (pipelined ops, concurrent DMA transfers) go to extra lanes "unit.1", "unit.2", ... so every
// track holds properly nested (here: disjoint) slices.
void write_trace_events(std::ostream& out, const std::vector<TraceEvent>& events, uint64_t ps_per_cycle,
                        std::string_view title);

}  // namespace plena::sim::timing_detail

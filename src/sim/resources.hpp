// Host memory the simulator will allocate for a config, computed before anything is allocated
// (docs/run-spec.md, "Memory"); the check itself is support/host_memory.hpp.
#pragma once
#include <cstdint>

#include "config/config.hpp"
#include "support/host_memory.hpp"

namespace plena::sim {

// Arrays the simulator allocates for `cfg`: in functional mode the SRAMs (f32 per element), the
// matmul scratch and accumulators (MLEN x MLEN tiles) and the HBM page table; in timing-only
// mode only the INT SRAM (it feeds addresses). Every product saturates.
MemoryNeed simulator_memory(const config::HardwareConfig& cfg, bool functional);

// The HBM page table (one pointer per 64 KiB page; pages are allocated when written).
uint64_t hbm_page_table_bytes(const config::HardwareConfig& cfg);

// HBM bytes actually backed by host memory when [begin, end) is written: whole 64 KiB pages.
uint64_t hbm_pages_bytes(uint64_t begin, uint64_t end);

// Size estimate of a --trace file: one event line per traced instruction (about 165 B measured
// for compute events with 6-7 digit times, more for DMA events and longer runs). The trace is
// streamed, so this is disk, not memory.
inline constexpr uint64_t kTraceBytesPerEvent = 180;
uint64_t trace_bytes(uint64_t instructions);

}  // namespace plena::sim

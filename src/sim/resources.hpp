// Host memory the simulator will allocate for a config, computed before anything is allocated,
// so a config or run spec too large for this machine is refused with a message instead of
// bad_alloc, the OOM killer or a machine that swaps for minutes (docs/run-spec.md, "Memory").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace plena::sim {

struct MemoryPart {
  std::string what;   // "Vector SRAM"
  uint64_t bytes = 0;
  std::string knob;   // the config key that sizes it, for the advice
};

struct MemoryNeed {
  std::vector<MemoryPart> parts;
  void add(std::string what, uint64_t bytes, std::string knob);
  uint64_t total() const;  // saturates at UINT64_MAX instead of wrapping
};

// Arrays the simulator allocates for `cfg`: in functional mode the SRAMs (f32 per element), the
// matmul scratch and accumulators (MLEN x MLEN tiles) and the HBM page table; in timing-only
// mode only the INT SRAM (it feeds addresses). Every product saturates.
MemoryNeed simulator_memory(const config::HardwareConfig& cfg, bool functional);

// HBM bytes actually backed by host memory when [begin, end) is written: whole 64 KiB pages.
uint64_t hbm_pages_bytes(uint64_t begin, uint64_t end);

// Upper bound of --trace memory: one event per executed instruction.
uint64_t trace_bytes(uint64_t instructions);

// "MemAvailable:  123456 kB" from /proc/meminfo text, in bytes; nullopt when absent or garbled.
std::optional<uint64_t> parse_mem_available(std::string_view meminfo);
// This machine's MemAvailable (nullopt when /proc/meminfo cannot be read: no check then).
std::optional<uint64_t> host_memory_available();

// InputError "<who>: error: needs X (parts...), this machine has Y available (MemAvailable); <advice>"
// when need.total() > available.
void require_memory(const MemoryNeed& need, uint64_t available, std::string_view who, std::string_view advice);

// 1536 -> "1.5 KiB"; UINT64_MAX -> "more than 16 EiB".
std::string human_bytes(uint64_t bytes);

}  // namespace plena::sim

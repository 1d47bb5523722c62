// Host memory a command will need, computed before anything large is allocated, and the memory
// this machine has: a run that cannot fit is refused with a message (what needs the bytes, which
// knob sizes them, what to do) instead of bad_alloc, the OOM killer or minutes of swapping.
// The sizes themselves live with their owners (sim/resources.hpp, runner/resources.hpp).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/checked.hpp"

namespace plena {

inline constexpr uint64_t kSaturatedBytes = std::numeric_limits<uint64_t>::max();

// Saturating size arithmetic: an absurd size reads as "more than any machine", never wraps.
inline uint64_t sat_mul(std::initializer_list<uint64_t> factors) {
  return checked_product(factors).value_or(kSaturatedBytes);
}
inline uint64_t sat_add(uint64_t a, uint64_t b) { return checked_add(a, b).value_or(kSaturatedBytes); }

struct MemoryPart {
  std::string what;  // "Vector SRAM"
  uint64_t bytes = 0;
  std::string knob;  // the config key or flag that sizes it (may be empty), for the advice
};

struct MemoryNeed {
  std::vector<MemoryPart> parts;
  void add(std::string what, uint64_t bytes, std::string knob = {});
  void add(const MemoryNeed& more);
  uint64_t total() const;  // saturates at UINT64_MAX instead of wrapping
};

// 1536 -> "1.5 KiB"; UINT64_MAX -> "more than 16 EiB".
std::string human_bytes(uint64_t bytes);

// "MemAvailable:  123456 kB" from /proc/meminfo text, in bytes; nullopt when absent or garbled.
std::optional<uint64_t> parse_mem_available(std::string_view meminfo);
// What a cgroup v2 still lets this process allocate: memory.max minus memory.current, less the
// reclaimable page cache (memory.stat inactive_file; MemAvailable counts it as available too).
// nullopt when there is no limit ("max") or a file is garbled.
std::optional<uint64_t> parse_cgroup_room(std::string_view max, std::string_view current, std::string_view stat);

// Bytes this process may still allocate: MemAvailable (else sysconf), capped by the cgroup v2
// limit when one is set. nullopt when unknown (then no check is made).
std::optional<uint64_t> host_memory_available();

// InputError "<who>: error: needs about X of host memory (largest parts, each with its knob), but
// this machine has Y available; <advice>" when need.total() > available. No check when available
// is nullopt (unknown).
void require_memory(const MemoryNeed& need, std::optional<uint64_t> available, std::string_view who,
                    std::string_view advice);

}  // namespace plena

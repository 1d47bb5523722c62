// Up-front memory check of `plena run` and `plena compile`: the bytes a run will hold at its peak,
// estimated from the model and hardware sizes before anything large is allocated, against the
// memory the machine has (docs/run.md "Memory check").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "model/model.hpp"

namespace plena::runner::detail {

inline constexpr uint64_t kMaxBatch = 65536;
inline constexpr uint32_t kMinDmaRequestBytes = 32, kMaxDmaRequestBytes = 1u << 24;

struct MemoryNeed {
  std::vector<std::pair<std::string, uint64_t>> parts;  // what, bytes
  uint64_t total() const;
};

// `positions`: KV positions per sequence; `data`: weights and values (not --timing-only);
// `checkpoint`: weights read from safetensors (the file bytes are held while converting).
MemoryNeed run_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                           uint64_t positions, bool data, bool checkpoint);
MemoryNeed compile_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                               uint64_t positions, bool weights, bool checkpoint);

std::string human_bytes(uint64_t bytes);  // "12.3 GiB"

// Bytes this process may still allocate: /proc/meminfo MemAvailable (else sysconf), capped by a
// cgroup v2 memory.max. 0 when unknown.
uint64_t available_memory();
// InputError when `need` exceeds `available` (0: unknown, no check): says how much is needed (the
// largest parts), how much there is, and `advice`.
void check_memory(const MemoryNeed& need, std::string_view command, std::string_view advice,
                  uint64_t available = available_memory());

}  // namespace plena::runner::detail

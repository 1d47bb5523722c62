// Up-front memory check of `plena run` and `plena compile`: the bytes a run will hold at its peak,
// estimated from the model and hardware sizes before anything large is allocated (docs/run.md
// "Memory check"); the check against this machine's memory is support/host_memory.hpp.
#pragma once
#include <cstdint>

#include "config/config.hpp"
#include "model/model.hpp"
#include "support/host_memory.hpp"

namespace plena::runner::detail {

inline constexpr uint64_t kMaxBatch = 65536;
inline constexpr uint32_t kMinDmaRequestBytes = 32, kMaxDmaRequestBytes = 1u << 24;
// Weight rows staged at a time while the HBM image is written (cache-sized, reused): about
// kImageChunkElems elements in a multiple of kImageChunkRows rows (32 bf16 words: a cache line).
inline constexpr uint64_t kImageChunkElems = uint64_t(1) << 20, kImageChunkRows = 32;

// `positions`: KV positions per sequence; `data`: weights and values (not --timing-only);
// `checkpoint`: weights read from safetensors (the file bytes are held while converting).
MemoryNeed run_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                           uint64_t positions, bool data, bool checkpoint);
MemoryNeed compile_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                               uint64_t positions, bool weights, bool checkpoint);

}  // namespace plena::runner::detail

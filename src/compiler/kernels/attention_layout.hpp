// Attention internals shared by the emitter (attention.cpp), the KV cache layout
// (attention_layout.cpp) and the closed-form counts: head mapping, query-chunk schedule, window
// geometry. Not public API (kernels_attention.hpp is).
#pragma once
#include <cstdint>
#include <string_view>

#include "compiler/kernels_attention.hpp"
#include "support/math.hpp"

namespace plena::compiler::attn {

[[noreturn]] void fail(std::string_view kernel, std::string_view what);

// MLEN for head_dim <= MLEN (InputError unless it divides MLEN), else head_dim (a multiple of
// MLEN); head_dim must be a multiple of HLEN and BLEN.
uint64_t padded_head_dim(const config::HardwareConfig& cfg, uint64_t head_dim, std::string_view who);
// MLEN x MLEN tiles one H_PREFETCH_M fills.
uint64_t tiles_per_prefetch(const config::HardwareConfig& cfg);

// Lowest key query i (position kv_len - q_len + i) sees: its sliding window's first key, else 0.
uint64_t window_lowest_key(const AttentionArgs& a, uint64_t i);

// How the query heads map onto KV column blocks. A unit is one MLEN column block of the cache
// holding whole kv heads (head_dim <= MLEN: MLEN / head_dim of them) or one kv head spanning
// head_dim / MLEN blocks; its query heads all read the same KV tiles.
struct HeadMap {
  uint64_t hd = 0, rep = 0, kv_per_unit = 0, units = 0, unit_blocks = 0, max_unit_heads = 0;
  bool copy_q = false;  // head_dim < MLEN: query heads are copied next to their kv head's columns
  uint64_t kv_lo(uint64_t u, const AttentionArgs& a) const { return std::min(a.num_kv_heads, u * kv_per_unit); }
  uint64_t kv_hi(uint64_t u, const AttentionArgs& a) const { return std::min(a.num_kv_heads, (u + 1) * kv_per_unit); }
  uint64_t first_block(uint64_t u) const { return u * unit_blocks; }
};
HeadMap head_map(const config::HardwareConfig& cfg, const AttentionArgs& a);

// Query rows per chunk and heads per pass: the FP SRAM holds the running max and sum of every
// (head, row) of a pass, so heads_per_pass * q_chunk <= fp_free / 2. Picks the fewest KV streams,
// then the larger chunk. Chunks are whole BLEN row groups, or all q_len rows. When the KV range
// fits in one whole-tile prefetch (kv_resident) the tiles stay in MRAM across head passes, so a
// chunk streams them once: ceil(q_len / q_chunk) streams; otherwise every pass streams them:
// ceil(unit heads / heads_per_pass) * ceil(q_len / q_chunk).
// Otherwise, when the running max and sum fit in VRAM rows exactly (vram_stats_exact) and
// that cuts the streams at least in half, they live in VRAM (vram_stats): two broadcast rows per
// (head, row), every unit head in one pass, the chunk as large as vram_free rows allow (with the
// copied Q rows): ceil(q_len / q_chunk) streams.
// Row sums (row_sums_apply): a prefill whose KV range is one tile (every row's first tile is its
// last) takes each row's softmax sum from the matrix unit (P x an all-ones tile, the same f32 sum
// as V_RED_SUM) into VRAM rows beside O, and divides O by them once per Q block for all heads;
// no running statistics are stored.
struct Schedule {
  uint64_t q_chunk = 0, heads_per_pass = 0;
  bool vram_stats = false;
  bool row_sums = false;
};
Schedule attention_schedule(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm,
                            uint64_t fp_free, uint64_t vram_free, bool ones_room);
// The identity tensor's row where the all-ones tile's prefetch starts (after the identity's).
uint64_t ones_tile_row(const config::HardwareConfig& cfg);
// Row sums are exact (the vector and FP formats agree: V(sum) = F(sum), V(1/l) = F(1/l)) and
// apply: prefill (q_len > 1), head_dim < MLEN, one KV tile, MRAM room for the ones tile, and the
// matrix products cost less than the vector reductions they replace (latency profile).
bool row_sums_apply(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm, bool ones_room);
// Q VLEN blocks (num_heads * head_dim columns): the row-sum rows keep one block per query row each.
uint64_t row_sum_blocks(const config::HardwareConfig& cfg, const AttentionArgs& a);
// VRAM rows the VRAM-resident statistics of a chunk of q_chunk rows need with heads_per_pass heads:
// an m and an l row per (head, row) plus one zero row.
uint64_t vram_stats_rows(uint64_t q_chunk, uint64_t heads_per_pass);
// The FP format's values pass through the vector format unchanged (V(0 + m) = m).
bool vram_stats_exact(const config::HardwareConfig& cfg);
// Every query's KV tiles fit in one whole-tile prefetch (ceil(kv_len / MLEN) <= tiles per
// prefetch): the K and V tiles loaded for one head pass serve the next ones unchanged.
bool kv_resident(const config::HardwareConfig& cfg, const AttentionArgs& a);

}  // namespace plena::compiler::attn

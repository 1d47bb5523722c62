// FlashAttention kernels (prefill and decode; MHA, GQA, MQA; causal with a query position
// offset; KV length > MLEN with online softmax; K/V read from an HBM KV cache). Algorithm,
// tiling, memory layouts and every rounding point: docs/kernels-attention.md.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

// The HBM KV cache of one layer (one tensor for K, one for V, identical layouts), in the
// config's KV format (formats.m_kv: both are read with H_PREFETCH_M precision 1):
//   2-D tensor [rows(), width] with row(b, pos) = b * capacity + pos holding every kv head of
//   one position: kv head g in columns [g * head_dim, +head_dim) (= the K/V projection's output
//   row), zeros in [kv_heads * head_dim, width), and tail_rows zero rows at the end.
// width = kv_heads * head_dim rounded up to MLEN. One KV tile (MLEN positions x one MLEN column
// block) thus serves every query head whose kv head lies in that block: each K/V element is read
// once per (sequence, query chunk, head pass), not once per query head. The tail lets the last
// whole-tile prefetch (m_prefetch_amount rows) stay inside the tensor.
struct KvCacheLayout {
  uint64_t batch = 1, kv_heads = 1, capacity = 0, head_dim = 0;
  uint64_t width = 0, tail_rows = 0;
  // Combined K|V rows (kv_combinable): one tensor holds K at columns [0, kv_heads*head_dim) and V
  // from v_col0, so one tile read serves both; 0: separate K and V tensors.
  uint64_t v_col0 = 0;
  bool combined() const { return v_col0 != 0; }
  uint64_t rows() const { return batch * capacity + tail_rows; }
  uint64_t row(uint64_t b, uint64_t pos) const { return b * capacity + pos; }
  uint64_t col(uint64_t kvh) const { return kvh * head_dim; }
};
// InputError when head_dim is neither a divisor of MLEN nor a multiple of it, or is not a
// multiple of HLEN and BLEN, or capacity is 0.
// combined: K and V share each row (InputError unless kv_combinable).
KvCacheLayout kv_cache_layout(const config::HardwareConfig& cfg, uint64_t batch, uint64_t kv_heads,
                              uint64_t capacity, uint64_t head_dim, bool combined = false);
// K and V of a position fit one MLEN-wide row (2 * kv_heads * head_dim <= MLEN, head_dim < MLEN)
// and the store can merge them under V_MASK (VLEN / HLEN <= 32).
bool kv_combinable(const config::HardwareConfig& cfg, uint64_t kv_heads, uint64_t head_dim);
// The head width a model's heads are placed at (docs/compiler.md, "Padding"): the smallest
// width >= head_dim that kv_cache_layout accepts: a multiple of lcm(HLEN, BLEN, 2) that divides
// MLEN, else a multiple of MLEN. A narrower head is zero-padded to it (placed_head_column).
uint64_t placed_head_dim(const config::HardwareConfig& cfg, uint64_t head_dim);
// Where real column j of a head_dim-wide head sits in its placed-wide copy: each rotate-half
// RoPE half at the start of its placed half (j < head_dim/2 -> j, else placed/2 + j - head_dim/2),
// so RoPE's pairs (i, i + half) stay paired. Inverse: placed column -> real column, or -1.
uint64_t placed_head_column(uint64_t head_dim, uint64_t placed, uint64_t j);
int64_t real_head_column(uint64_t head_dim, uint64_t placed, uint64_t c);
// Places one cache tensor (class kv, format formats.m_kv, shape [rows(), width]).
const HbmTensor& place_kv_cache(MemoryPlan& plan, std::string_view name, const KvCacheLayout& layout);

// The K or V rows of a step's new tokens: VRAM `source` [batch * q_len rows, layout.width] (the
// projection's output, every kv head of a position in one row) -> the HBM cache rows at positions
// past.. (H_STORE_V in the KV format, v_writeback_amount rows per store: the capacity must leave
// room for the last group's spill, and source needs (batch - 1) * q_len + round_up(q_len,
// v_writeback_amount) allocated rows).
struct KvStoreArgs {
  std::string name = "kv_store";
  std::string source;  // VRAM tensor
  std::string cache;   // HBM tensor laid out by `layout`
  KvCacheLayout layout;
  uint64_t batch = 1, q_len = 1, past = 0;
  // Combined layout: `source` holds V and k_source K (both [.., layout.width], zero or finite
  // padding); V's rows become K|V rows in place (V shifted to v_col0, K added under V_MASK, exact)
  // and one store writes both. Combined with k_source empty: `source` already holds K|V rows (the
  // fused K|V projection's output) and is stored as it is.
  std::string k_source;
};
void emit_kv_store(ProgramBuilder& b, const MemoryPlan& plan, const KvStoreArgs& args);

// When head_dim < MLEN the kernel copies each query head's columns next to its kv head's columns
// (Q x a 0/1 identity tile with M_MM, exact), so it needs an identity matrix in HBM:
// [attention_identity_rows(cfg), MLEN] in formats.m_weight (class weight), the first MLEN rows
// the identity and the rest zero (the whole-tile prefetch reads that many rows).
bool attention_needs_identity(const config::HardwareConfig& cfg, uint64_t head_dim);
uint64_t attention_identity_rows(const config::HardwareConfig& cfg);
const HbmTensor& place_attention_identity(MemoryPlan& plan, std::string_view name);
std::vector<float> attention_identity_data(const config::HardwareConfig& cfg);  // row-major contents

// O = softmax(scale * Q K^T + mask) V per (sequence b, query head h), kv head = h / (H / Hkv).
// Q and O are VRAM tensors [batch * q_len rows, num_heads * head_dim] (activation layout, row
// b * q_len + i = query i of sequence b, head h in columns [h * head_dim, +head_dim)).
// Query i of a sequence sits at position kv_len - q_len + i (the new tokens are the last q_len
// cache positions: decode is q_len = 1 at kv_len - 1; prefill with a past of P tokens is
// kv_len = P + q_len). causal: it sees keys <= its position; otherwise all kv_len keys.
// sliding_window = W > 0 (causal only, HF Mistral semantics): query at position p sees keys j with
// p - W < j <= p; KV tiles below every query's window are neither fetched nor computed.
// scale = 1/sqrt(scale_head_dim or head_dim) from the FP constant "attn_scale" (defined if
// absent; InputError if it exists with another value). Uses the constant "neg_large" (-1e30)
// likewise. Q and O may have more columns than num_heads * head_dim (a projection padded to
// MLEN): those are neither read nor written.
struct AttentionArgs {
  std::string name = "attention";
  std::string q, out;              // VRAM tensors
  std::string k_cache, v_cache;    // HBM tensors laid out by kv_cache_layout
  std::string identity;            // HBM tensor from place_attention_identity (head_dim < MLEN only)
  uint64_t batch = 1, q_len = 1, kv_len = 1;
  uint64_t capacity = 0;           // positions per (sequence, kv head) in the cache; 0: kv_len
  uint64_t num_heads = 1, num_kv_heads = 1, head_dim = 0;
  bool causal = true;
  uint64_t sliding_window = 0;     // 0: none
  // At most this many query rows per chunk (rounded down to a multiple of BLEN). Each (chunk, head
  // pass) keeps its running max and sum in FP SRAM and streams the KV range once. 0: no limit
  // beyond the free FP SRAM (the kernel picks the chunk and heads per pass with the fewest streams).
  uint64_t max_q_chunk = 0;
  // Zero-padded heads (placed_head_dim): the model's own head_dim, which the softmax scale uses.
  uint64_t scale_head_dim = 0;  // 0: head_dim
  // VRAM rows the running max and sum (two rows per (head, query row)) and the copied Q rows may
  // take when they move to VRAM (a KV range longer than one prefetch that the FP SRAM would make
  // the kernel stream many times; docs/kernels-attention.md §1), at most the plan's largest free
  // VRAM block. 0: they stay in FP SRAM. Callers whose cost is estimated pass a value that does not
  // depend on the plan (attention_stats_vram_budget), so the counted and compiled schedules agree.
  uint64_t stats_vram_rows = 0;
  // k_cache == v_cache in the combined K|V layout (kv_cache_layout(..., true)): one prefetch per
  // tile reads K and V; the identity tile gets its own MRAM buffer.
  bool kv_combined = false;
  // Combined K|V rows, head_dim < MLEN: an MRAM allocation holding RoPE's swap tile
  // (rope_swap_matrix, left by RopeArgs::keep_swap) instead of the identity tensor. Q then holds
  // each head's halves swapped (RopeArgs::swapped_output), the Q copy multiplies by this tile
  // (swap(swap(q)) = q, exact), nothing is prefetched for it, and the kernel frees the allocation.
  std::string copy_tile{};
};

// The VRAM budget ModelCompiler gives the attention statistics: half of the config's VRAM rows.
uint64_t attention_stats_vram_budget(const config::HardwareConfig& cfg);

// Padded rows Q and O need: M_TMM / M_MM_WO move BLEN rows at a time starting at each sequence's
// first row, so the last sequence's last row group may extend past batch * q_len:
// (batch - 1) * q_len + round_up(q_len, BLEN). Allocate Q and O with at least this many rows.
uint64_t attention_rows_alloc(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len);

// The schedule the emitter chose (from the free FP SRAM and VRAM): query rows per chunk, heads per KV pass.
struct AttentionSchedule {
  uint64_t q_chunk = 0, heads_per_pass = 0;
  uint64_t q_chunks = 0;   // ceil(q_len / q_chunk)
  // Passes over the KV range: batch x q_chunks x ceil(heads / heads_per_pass). When the range fits
  // one whole-tile prefetch the tiles stay in MRAM and a pass after the first fetches nothing.
  uint64_t kv_passes = 0;
  bool vram_stats = false;  // running max and sum in VRAM rows (long KV ranges, small FP SRAM)
  bool row_sums = false;    // one-tile prefill: row sums on the matrix unit, O /= l per Q block
  bool broadcast_scores = false;  // row sums with S from M_BTMM: every head of a Q block at once
};
AttentionSchedule emit_flash_attention(ProgramBuilder& b, MemoryPlan& plan, const AttentionArgs& args);
// Attention calls whose programs differ only in their step values (load_step_imm: the mask
// shift): decode (one causal query per sequence, no sliding window) over the same number of KV
// tiles with the last one partial over the same number of BLEN-wide key blocks, or the same full
// tiles. Returns the class of kv_len, or
// nullopt where the emission may depend on kv_len in other ways (ModelCompiler then emits).
std::optional<uint64_t> attention_step_class(const config::HardwareConfig& cfg, uint64_t q_len, uint64_t kv_len,
                                             bool causal, uint64_t sliding_window);

}  // namespace plena::compiler

// Attention with an additive score bias (T5's relative position bias): a dense, one-sequence
// kernel for the decoder-block baselines (compiler/decoder_block.hpp). docs/decoder-block.md §3.
#pragma once
#include <cstdint>
#include <string>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

// O[i, h] = softmax_j( scale · Q[i, h] · K[j, h]ᵀ + bias[h·q_len + i, j] + mask(i, j) ) · V[j, h]
// for one sequence, multi-head (every query head has its own kv head). Query i sits at position
// kv_len − q_len + i; causal: it sees keys j <= that position, otherwise all kv_len keys.
// Q and O: VRAM [>= round_up(q_len, BLEN) allocated rows, num_heads·head_dim] (activation
// layout, head h at columns [h·head_dim, +head_dim)). K/V: HBM caches of kv_cache_layout(cfg, 1,
// num_heads, capacity, head_dim) (formats.m_kv). bias: VRAM [num_heads·q_len, >= kv_len].
// Every KV tile of one head stays in MRAM while the head's row groups run (K and V: 2 ·
// ceil(kv_len / prefetch) prefetches per head), S of one BLEN row group is a VRAM row block over
// all keys, and the softmax is exact per row (no online rescaling).
// Errors (InputError naming the kernel): VLEN != MLEN; head_dim not a multiple of BLEN or HLEN,
// or neither a divisor nor a multiple of MLEN; m_prefetch_amount < MLEN; kv_len > capacity, or
// causal with kv_len < q_len; missing or misshapen tensors; K/V tiles that do not fit the free MRAM.
struct BiasedAttentionArgs {
  std::string name = "biased_attention";
  std::string q, out;            // VRAM tensors
  std::string k_cache, v_cache;  // HBM tensors (kv_cache_layout)
  std::string bias;              // VRAM tensor
  uint64_t q_len = 1, kv_len = 1, capacity = 0;  // capacity 0: kv_len
  uint64_t num_heads = 1, head_dim = 0;
  bool causal = true;
  std::string scale = "";  // FP constant multiplying Q·K before the bias; "" = none (T5)
};
void emit_biased_attention(ProgramBuilder& b, MemoryPlan& plan, const BiasedAttentionArgs& a);

}  // namespace plena::compiler

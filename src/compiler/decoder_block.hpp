// One whole decoder block (LLaMA or T5 v1.1) as a standalone program for given shapes: the
// placement of its tensors, the emission through the kernel registry's emitters, and the host
// reference. The kernel benchmark's L3 baselines (src/bench) use it. docs/decoder-block.md.
//
// LLaMA (HF LlamaDecoderLayer, a prefill of `seq` tokens at positions 0..seq-1, no past):
//   h = rmsnorm(x) * attn_norm; q, k, v = h Wq, h Wk, h Wv; RoPE(q, k) (rotate-half, rope_theta);
//   a = causal GQA softmax(q k^T / sqrt(head_dim)) v; y1 = x + a Wo;
//   y = y1 + (silu(rmsnorm(y1) * mlp_norm Wg) * (rmsnorm(y1) * mlp_norm Wu)) Wd.
// T5 (HF T5Block of a decoder, T5 v1.1 gated-GELU feed-forward, a prefill at positions 0..seq-1):
//   h = rmsnorm(x) * self_norm (T5LayerNorm: no mean subtraction, no bias);
//   s = q k^T + position_bias[head] (no 1/sqrt(d) scaling), causal; y1 = x + softmax(s) v Wo;
//   cross-attention over the encoder states: q = rmsnorm(y1) * cross_norm Wcq, k/v = enc Wck/Wcv,
//   no mask, no bias, no scaling; y2 = y1 + softmax(q k^T) v Wco;
//   y = y2 + (gelu_tanh(h3 Wi0) * (h3 Wi1)) Wff with h3 = rmsnorm(y2) * ff_norm.
// position_bias is HF's compute_bias output, which T5 computes once per stack and passes to every
// block: [heads * seq, seq], row h * seq + i = head h, query i (t5_position_bias builds it from
// the relative_attention_bias table with T5's bucket rule).
// Every linear weight is stored [in, out] (HF's transposed) in formats.m_weight; norm weights as
// [1, hidden] rows in formats.v_act; activations, encoder states and the bias in VRAM.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

enum class DecoderKind : uint8_t { Llama, T5 };

struct DecoderBlockDims {
  DecoderKind kind = DecoderKind::Llama;
  uint64_t seq = 0;     // decoder tokens (rows of x and y)
  uint64_t hidden = 0;  // d_model
  uint64_t heads = 0, kv_heads = 0, head_dim = 0;  // T5: kv_heads = heads (0 means heads)
  uint64_t intermediate = 0;                       // d_ff
  uint64_t enc_len = 0;                            // T5: encoder positions
  double eps = 1e-6;
  double rope_theta = 10000.0;  // LLaMA
};

// What the block reads and writes. Inputs are drawn by the caller (values as stored are what the
// reference reads); constants come with their contents; scratch tensors (HBM KV caches) are
// written by the program and compared with nothing.
enum class BlockRole : uint8_t { Input, Output, Constant, Scratch };
struct BlockTensor {
  std::string name;
  BlockRole role = BlockRole::Input;
  bool vram = true;           // else HBM
  double range = 1;           // inputs: a sensible uniform range [-range, range]
  std::vector<float> data;    // constants: row-major [rows, cols] of the placed tensor
};

// Checks the dims (InputError naming the dimension and the rule: hidden, heads*head_dim and
// intermediate multiples of MLEN; kv_heads*head_dim a divisor or a multiple of MLEN (LLaMA's wk and
// wv are placed MLEN wide then, the columns past kv_heads*head_dim ignored); heads a multiple of
// kv_heads; head_dim as the attention kernels accept it; seq, enc_len > 0) and places every tensor of the block in
// `plan`, in a stable order: inputs, then constants, scratch, and the output "y" last.
// Tensor names: x, y, attn_norm, wq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down (LLaMA); x, enc,
// position_bias, y, self_norm, wq, wk, wv, wo, cross_norm, wcq, wck, wcv, wco, ff_norm, wi0, wi1,
// wff (T5); constants rope.cos/rope.sin (VRAM), rope.swap and attn_identity (HBM) where needed;
// scratch HBM KV caches k_cache/v_cache (LLaMA), self_/cross_k_cache, self_/cross_v_cache (T5).
std::vector<BlockTensor> place_decoder_block(MemoryPlan& plan, const DecoderBlockDims& d);
// Emits the block into b (tensors placed by place_decoder_block in the same plan).
void emit_decoder_block(ProgramBuilder& b, MemoryPlan& plan, const DecoderBlockDims& d);

// Host reference (f32 storage, double accumulation): io holds every input row-major [rows, cols]
// by name (real columns only); sets io["y"] [seq, hidden].
using BlockTensors = std::map<std::string, std::vector<float>>;
void decoder_block_reference(const DecoderBlockDims& d, BlockTensors& io);

// T5's relative position bucket (HF T5Attention._relative_position_bucket) of
// relative_position = key position - query position.
int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                    int64_t max_distance);
// HF compute_bias: table [num_buckets, heads] (relative_attention_bias.weight) -> [heads * q_len,
// kv_len] with query i at position kv_len - q_len + i.
std::vector<float> t5_position_bias(std::span<const float> table, uint64_t heads, uint64_t q_len, uint64_t kv_len,
                                    bool bidirectional, int64_t num_buckets = 32, int64_t max_distance = 128);

}  // namespace plena::compiler

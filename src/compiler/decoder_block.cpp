// One whole decoder block (LLaMA or T5) for given shapes: placement, emission, host reference.
#include "compiler/decoder_block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels.hpp"
#include "compiler/kernels_attention.hpp"
#include "compiler/kernels_biased_attention.hpp"
#include "compiler/kernels_vector.hpp"
#include "model/model.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::compiler {

namespace {

bool is_t5(const DecoderBlockDims& d) { return d.kind == DecoderKind::T5; }
uint64_t kv_heads_of(const DecoderBlockDims& d) { return is_t5(d) || d.kv_heads == 0 ? d.heads : d.kv_heads; }

[[noreturn]] void bad_dims(const DecoderBlockDims& d, const std::string& what) {
  throw InputError(fmt::format("decoder block ({}): {}", is_t5(d) ? "T5" : "LLaMA", what));
}

// Activation rows: whole BLEN groups and whole V prefetch / writeback groups (the KV store's spill).
uint64_t row_multiple(const config::HardwareConfig& cfg) {
  return std::lcm(std::lcm(cfg.geometry.blen, cfg.hbm.v_prefetch_amount), cfg.hbm.v_writeback_amount);
}

void check_dims(const config::HardwareConfig& cfg, const DecoderBlockDims& d) {
  const uint64_t mlen = cfg.geometry.mlen, kvh = kv_heads_of(d);
  if (d.seq == 0 || d.hidden == 0 || d.heads == 0 || d.head_dim == 0 || d.intermediate == 0)
    bad_dims(d, "seq, hidden, heads, head_dim and intermediate must be positive");
  if (is_t5(d) && d.enc_len == 0) bad_dims(d, "enc_len must be positive");
  if (d.heads % kvh) bad_dims(d, fmt::format("heads {} is not a multiple of kv_heads {}", d.heads, kvh));
  const std::pair<const char*, uint64_t> widths[] = {
      {"hidden", d.hidden}, {"heads*head_dim", d.heads * d.head_dim}, {"intermediate", d.intermediate}};
  for (const auto& [name, v] : widths)
    if (v % mlen) bad_dims(d, fmt::format("{} = {} must be a multiple of MLEN ({})", name, v, mlen));
  // A narrower K/V projection is padded to MLEN (the KV cache's row width).
  if (kvh * d.head_dim % mlen && mlen % (kvh * d.head_dim))
    bad_dims(d, fmt::format("kv_heads*head_dim = {} must divide or be a multiple of MLEN ({})", kvh * d.head_dim, mlen));
  if (!(d.eps > 0)) bad_dims(d, fmt::format("eps {} must be positive", d.eps));
}

const HbmTensor& place_weight(MemoryPlan& plan, std::vector<BlockTensor>& out, const std::string& name, uint64_t in,
                              uint64_t cols) {
  out.push_back({name, BlockRole::Input, false, 1.0 / std::sqrt(double(in)), {}});
  return plan.place_hbm(name, TensorClass::Weight, {in, cols}, plan.config().formats.m_weight);
}

void place_norm(MemoryPlan& plan, std::vector<BlockTensor>& out, const std::string& name, uint64_t cols) {
  out.push_back({name, BlockRole::Input, false, 1.0, {}});
  standalone::hbm_rows(plan, name, 1, cols);
}

void place_act(MemoryPlan& plan, std::vector<BlockTensor>* out, const std::string& name, uint64_t rows, uint64_t cols,
               BlockRole role = BlockRole::Input, double range = 1) {
  VramPlaceOptions o;
  o.row_multiple = row_multiple(plan.config());
  plan.alloc_vram(name, rows, cols, o);
  if (out) out->push_back({name, role, true, range, {}});
}

// A KV cache pair for `positions` positions (scratch: the block writes it, nobody reads it after).
KvCacheLayout place_caches(MemoryPlan& plan, std::vector<BlockTensor>& out, const std::string& prefix,
                           uint64_t kv_heads, uint64_t positions, uint64_t head_dim) {
  const KvCacheLayout kv =
      kv_cache_layout(plan.config(), 1, kv_heads, round_up(positions, row_multiple(plan.config())), head_dim);
  for (const char* t : {"k_cache", "v_cache"}) {
    place_kv_cache(plan, prefix + t, kv);
    out.push_back({prefix + t, BlockRole::Scratch, false, 0, {}});
  }
  return kv;
}

void place_identity(MemoryPlan& plan, std::vector<BlockTensor>& out, uint64_t head_dim) {
  if (!attention_needs_identity(plan.config(), head_dim)) return;
  place_attention_identity(plan, "attn_identity");
  out.push_back({"attn_identity", BlockRole::Constant, false, 0, attention_identity_data(plan.config())});
}

void place_rope(MemoryPlan& plan, std::vector<BlockTensor>& out, const DecoderBlockDims& d) {
  const auto& cfg = plan.config();
  const uint64_t rows = round_up(d.seq, row_multiple(cfg));
  const RopePlacement p = place_rope_tables(plan, "rope", rows, d.head_dim);
  std::vector<int64_t> pos(rows);
  std::iota(pos.begin(), pos.end(), int64_t(0));
  RopeTables t = rope_tables(model::rope_inv_freq(int64_t(d.head_dim), d.rope_theta, {}), d.head_dim,
                             cfg.geometry.vlen, pos);
  out.push_back({p.cos, BlockRole::Constant, true, 0, std::move(t.cos)});
  out.push_back({p.sin, BlockRole::Constant, true, 0, std::move(t.sin)});
  if (p.swap.empty()) return;
  std::vector<float> swap = rope_swap_matrix(d.head_dim, cfg.geometry.mlen);
  swap.resize(plan.hbm(p.swap).rows * cfg.geometry.mlen, 0.f);
  out.push_back({p.swap, BlockRole::Constant, false, 0, std::move(swap)});
}

}  // namespace

std::vector<BlockTensor> place_decoder_block(MemoryPlan& plan, const DecoderBlockDims& d) {
  check_dims(plan.config(), d);
  std::vector<BlockTensor> out;
  const uint64_t H = d.hidden, qd = d.heads * d.head_dim, I = d.intermediate;
  const uint64_t kvd = round_up(kv_heads_of(d) * d.head_dim, plan.config().geometry.mlen);
  place_act(plan, &out, "x", d.seq, H);
  if (is_t5(d)) {
    place_act(plan, &out, "enc", d.enc_len, H);
    place_act(plan, &out, "position_bias", d.heads * d.seq, d.seq);
    place_norm(plan, out, "self_norm", H);
    for (const char* w : {"wq", "wk", "wv"}) place_weight(plan, out, w, H, qd);
    place_weight(plan, out, "wo", qd, H);
    place_norm(plan, out, "cross_norm", H);
    for (const char* w : {"wcq", "wck", "wcv"}) place_weight(plan, out, w, H, qd);
    place_weight(plan, out, "wco", qd, H);
    place_norm(plan, out, "ff_norm", H);
    place_weight(plan, out, "wi0", H, I);
    place_weight(plan, out, "wi1", H, I);
    place_weight(plan, out, "wff", I, H);
    place_identity(plan, out, d.head_dim);
    place_caches(plan, out, "self_", d.heads, d.seq, d.head_dim);
    place_caches(plan, out, "cross_", d.heads, d.enc_len, d.head_dim);
  } else {
    place_norm(plan, out, "attn_norm", H);
    place_weight(plan, out, "wq", H, qd);
    place_weight(plan, out, "wk", H, kvd);
    place_weight(plan, out, "wv", H, kvd);
    place_weight(plan, out, "wo", qd, H);
    place_norm(plan, out, "mlp_norm", H);
    place_weight(plan, out, "w_gate", H, I);
    place_weight(plan, out, "w_up", H, I);
    place_weight(plan, out, "w_down", I, H);
    place_rope(plan, out, d);
    place_identity(plan, out, d.head_dim);
    place_caches(plan, out, "", kv_heads_of(d), d.seq, d.head_dim);
  }
  place_act(plan, &out, "y", d.seq, H, BlockRole::Output);
  return out;
}

namespace {

// Emission helpers: scratch activations allocated and freed by name as the block goes.
struct BlockEmitter {
  ProgramBuilder& b;
  MemoryPlan& plan;
  const DecoderBlockDims& d;

  void alloc(const std::string& name, uint64_t rows, uint64_t cols) { place_act(plan, nullptr, name, rows, cols); }
  void free(std::initializer_list<const char*> names) {
    for (const char* n : names) plan.free_vram(n);
  }
  void norm(const std::string& in, const std::string& weight) {
    alloc("h", d.seq, d.hidden);
    emit_rmsnorm(b, plan, {weight, in, "h", weight});
  }
  void linear(const std::string& weight, const std::string& in, const std::string& out, uint64_t rows, uint64_t cols) {
    alloc(out, rows, cols);
    emit_linear(b, plan, {weight, weight, in, out});
  }
  void store(const std::string& src, const std::string& cache, uint64_t kv_heads, uint64_t rows) {
    const KvCacheLayout kv = kv_cache_layout(plan.config(), 1, kv_heads, capacity(cache, kv_heads), d.head_dim);
    emit_kv_store(b, plan, {cache + ".store", src, cache, kv, 1, rows, 0, ""});
  }
  uint64_t capacity(const std::string& cache, uint64_t kv_heads) const {
    return plan.hbm(cache).rows - kv_cache_layout(plan.config(), 1, kv_heads, 1, d.head_dim).tail_rows;
  }
  // Flash attention (LLaMA self-attention; T5 cross-attention with scale 1 and no mask).
  void attention(const std::string& q, const std::string& prefix, uint64_t kv_heads, uint64_t kv_len, bool causal,
                 uint64_t scale_head_dim) {
    alloc("attn", d.seq, d.heads * d.head_dim);
    AttentionArgs a;
    a.name = prefix + "attention";
    a.q = q;
    a.out = "attn";
    a.k_cache = prefix + "k_cache";
    a.v_cache = prefix + "v_cache";
    if (attention_needs_identity(plan.config(), d.head_dim)) a.identity = "attn_identity";
    a.q_len = d.seq;
    a.kv_len = kv_len;
    a.capacity = capacity(a.k_cache, kv_heads);
    a.num_heads = d.heads;
    a.num_kv_heads = kv_heads;
    a.head_dim = d.head_dim;
    a.causal = causal;
    a.scale_head_dim = scale_head_dim;
    emit_flash_attention(b, plan, a);
  }
  // y = base + (attn Wo).
  void out_proj(const std::string& weight, const std::string& in, const std::string& base) {
    linear(weight, in, "o", d.seq, d.hidden);
    emit_residual_add(b, plan, {weight + ".residual", base, "o", "y"});
    free({"o"});
  }

  void llama();
  void t5();
};

void BlockEmitter::llama() {
  const uint64_t qd = d.heads * d.head_dim, kvh = kv_heads_of(d);
  const uint64_t kvd = round_up(kvh * d.head_dim, plan.config().geometry.mlen);
  plan.fp_constant("eps", float(d.eps));
  norm("x", "attn_norm");
  linear("wq", "h", "q", d.seq, qd);
  linear("wk", "h", "k", d.seq, kvd);
  linear("wv", "h", "v", d.seq, kvd);
  free({"h"});
  RopePlacement tables{"rope.cos", "rope.sin", plan.hbm_space().contains("rope.swap") ? "rope.swap" : ""};
  emit_rope(b, plan, {"rope_q", "q", "q", d.head_dim, tables});
  emit_rope(b, plan, {"rope_k", "k", "k", d.head_dim, tables});
  store("k", "k_cache", kvh, d.seq);
  store("v", "v_cache", kvh, d.seq);
  free({"k", "v"});
  attention("q", "", kvh, d.seq, true, 0);
  free({"q"});
  out_proj("wo", "attn", "x");
  free({"attn"});
  norm("y", "mlp_norm");
  linear("w_gate", "h", "gate", d.seq, d.intermediate);
  linear("w_up", "h", "up", d.seq, d.intermediate);
  free({"h"});
  emit_swiglu(b, plan, {"swiglu", "gate", "up", "gate"});
  free({"up"});
  out_proj("w_down", "gate", "y");
  free({"gate"});
}

void BlockEmitter::t5() {
  const uint64_t qd = d.heads * d.head_dim;
  plan.fp_constant("eps", float(d.eps));
  // Self-attention with the relative position bias, causal, unscaled.
  norm("x", "self_norm");
  linear("wq", "h", "q", d.seq, qd);
  linear("wk", "h", "k", d.seq, qd);
  linear("wv", "h", "v", d.seq, qd);
  free({"h"});
  store("k", "self_k_cache", d.heads, d.seq);
  store("v", "self_v_cache", d.heads, d.seq);
  free({"k", "v"});
  alloc("attn", d.seq, qd);
  emit_biased_attention(b, plan, {"self_attention", "q", "attn", "self_k_cache", "self_v_cache", "position_bias",
                                  d.seq, d.seq, capacity("self_k_cache", d.heads), d.heads, d.head_dim, true, ""});
  free({"q"});
  out_proj("wo", "attn", "x");
  free({"attn"});
  // Cross-attention over the encoder states: no mask, no bias, scale 1 (1/sqrt(1)).
  linear("wck", "enc", "k", d.enc_len, qd);
  linear("wcv", "enc", "v", d.enc_len, qd);
  store("k", "cross_k_cache", d.heads, d.enc_len);
  store("v", "cross_v_cache", d.heads, d.enc_len);
  free({"k", "v"});
  norm("y", "cross_norm");
  linear("wcq", "h", "q", d.seq, qd);
  free({"h"});
  attention("q", "cross_", d.heads, d.enc_len, false, 1);
  free({"q"});
  out_proj("wco", "attn", "y");
  free({"attn"});
  // Gated-GELU feed-forward (T5 v1.1).
  norm("y", "ff_norm");
  linear("wi0", "h", "gate", d.seq, d.intermediate);
  linear("wi1", "h", "up", d.seq, d.intermediate);
  free({"h"});
  emit_gated_gelu(b, plan, {"gated_gelu", "gate", "up", "gate"});
  free({"up"});
  out_proj("wff", "gate", "y");
  free({"gate"});
}

}  // namespace

void emit_decoder_block(ProgramBuilder& b, MemoryPlan& plan, const DecoderBlockDims& d) {
  check_dims(plan.config(), d);
  auto ks = b.kernel(is_t5(d) ? "t5_block" : "llama_block");
  b.comment(fmt::format("decoder block ({}): seq {}, hidden {}, heads {}/{} x {}, intermediate {}{}",
                        is_t5(d) ? "T5" : "LLaMA", d.seq, d.hidden, d.heads, kv_heads_of(d), d.head_dim,
                        d.intermediate, is_t5(d) ? fmt::format(", encoder {}", d.enc_len) : std::string()));
  BlockEmitter e{b, plan, d};
  if (is_t5(d))
    e.t5();
  else
    e.llama();
}

}  // namespace plena::compiler

// KV cache layout, the identity tile and the attention internals (attention_layout.hpp,
// kernels_attention.hpp; docs/kernels-attention.md).
#include "compiler/kernels/attention_layout.hpp"
#include "support/math.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "support/support.hpp"

namespace plena::compiler {
namespace attn {


[[noreturn]] void fail(std::string_view kernel, std::string_view what) {
  throw InputError(fmt::format("kernel '{}': {}", kernel, what));
}

uint64_t padded_head_dim(const config::HardwareConfig& cfg, uint64_t head_dim, std::string_view who) {
  const uint64_t mlen = cfg.geometry.mlen, hlen = cfg.geometry.hlen, blen = cfg.geometry.blen;
  if (head_dim == 0 || head_dim % hlen || head_dim % blen)
    fail(who, fmt::format("head_dim {} must be a positive multiple of HLEN = {} and BLEN = {}", head_dim, hlen, blen));
  if (head_dim <= mlen) {
    if (mlen % head_dim)
      fail(who, fmt::format("head_dim {} must divide MLEN = {} or be a multiple of it", head_dim, mlen));
    return mlen;
  }
  if (head_dim % mlen) fail(who, fmt::format("head_dim {} must divide MLEN = {} or be a multiple of it", head_dim, mlen));
  return head_dim;
}

}  // namespace attn

uint64_t placed_head_dim(const config::HardwareConfig& cfg, uint64_t head_dim) {
  const uint64_t mlen = cfg.geometry.mlen;
  const uint64_t g = std::lcm(std::lcm<uint64_t>(cfg.geometry.hlen, cfg.geometry.blen), 2);
  if (head_dim == 0) attn::fail("head layout", "head_dim must be positive");
  for (uint64_t p = round_up(head_dim, g); p < mlen; p += g)
    if (mlen % p == 0) return p;
  return round_up(head_dim, mlen);
}

uint64_t placed_head_column(uint64_t head_dim, uint64_t placed, uint64_t j) {
  const uint64_t half = head_dim / 2;
  return j < half ? j : placed / 2 + (j - half);
}

int64_t real_head_column(uint64_t head_dim, uint64_t placed, uint64_t c) {
  const uint64_t half = head_dim / 2, phalf = placed / 2;
  if (c < phalf) return c < half ? int64_t(c) : -1;
  return c - phalf < head_dim - half ? int64_t(half + c - phalf) : -1;
}

namespace attn {

uint64_t tiles_per_prefetch(const config::HardwareConfig& cfg) {
  return ceil_div(cfg.hbm.m_prefetch_amount, cfg.geometry.mlen);
}

// Lowest key query i (position kv_len - q_len + i) sees: its sliding window's first key, else 0.
uint64_t window_lowest_key(const AttentionArgs& a, uint64_t i) {
  const uint64_t pos = a.kv_len - a.q_len + i;
  return a.sliding_window && pos + 1 > a.sliding_window ? pos + 1 - a.sliding_window : 0;
}

HeadMap head_map(const config::HardwareConfig& cfg, const AttentionArgs& a) {
  const uint64_t mlen = cfg.geometry.mlen;
  HeadMap m;
  m.hd = a.head_dim;
  m.rep = a.num_heads / a.num_kv_heads;
  m.copy_q = a.head_dim < mlen;
  m.kv_per_unit = m.copy_q ? mlen / a.head_dim : 1;
  m.units = ceil_div(a.num_kv_heads, m.kv_per_unit);
  m.unit_blocks = m.copy_q ? 1 : a.head_dim / mlen;
  m.max_unit_heads = std::min(a.num_kv_heads, m.kv_per_unit) * m.rep;
  return m;
}

uint64_t vram_stats_rows(uint64_t q_chunk, uint64_t heads_per_pass) { return 2 * q_chunk * heads_per_pass + 1; }

bool vram_stats_exact(const config::HardwareConfig& cfg) { return cfg.sram.fp_type == cfg.sram.vector_type; }

// Every unit head in one pass, the largest chunk whose statistics and copied Q rows fit.
static Schedule vram_schedule(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm,
                              uint64_t vram_free, uint64_t limit) {
  const uint64_t blen = cfg.geometry.blen, hu = hm.max_unit_heads;
  auto rows = [&](uint64_t qc) {
    return vram_stats_rows(qc, hu) + (hm.copy_q ? hu * round_up(qc, blen) : 0) + 4 * blen;  // slack: rounding
  };
  uint64_t qc = a.q_len <= limit ? a.q_len : limit;
  if (rows(qc) > vram_free) qc = std::min(qc, a.q_len) / blen * blen;
  while (qc >= blen && rows(qc) > vram_free) qc -= blen;
  if (qc == 0 || rows(qc) > vram_free) return {};
  return {qc, hu, true};
}

uint64_t ones_tile_row(const config::HardwareConfig& cfg) { return tiles_per_prefetch(cfg) * cfg.geometry.mlen; }

uint64_t row_sum_blocks(const config::HardwareConfig& cfg, const AttentionArgs& a) {
  return ceil_div(a.num_heads * a.head_dim, cfg.geometry.vlen);
}

// Worth it where a row group's products with the ones tile cost the matrix unit less than the
// group's V_RED_SUMs cost the vector unit (not on the reference emulator's M_MM = MLEN cycles).
bool row_sums_apply(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm, bool ones_room) {
  const auto& l = cfg.latency;
  const uint64_t blen = cfg.geometry.blen, sums = a.head_dim / blen * (l.systolic_overhead + l.matrix_mm);
  return ones_room && a.q_len > 1 && hm.copy_q && ceil_div(a.kv_len, cfg.geometry.mlen) == 1 &&
         vram_stats_exact(cfg) && sums < blen * l.vector_sum;
}

// Row sums: no statistics outlive a row, so every unit head goes in one pass and the chunk is as
// large as the copied Q rows and the row-sum rows allow in vram_free (at least the FP SRAM chunk).
static Schedule row_sum_schedule(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm,
                                 uint64_t vram_free, uint64_t limit, uint64_t fp_chunk) {
  const uint64_t blen = cfg.geometry.blen, per_row = hm.max_unit_heads + row_sum_blocks(cfg, a);
  auto fits = [&](uint64_t qc) { return per_row * round_up(qc, blen) + 4 * blen <= vram_free; };
  uint64_t qc = std::min(a.q_len, limit);
  if (!fits(qc)) qc = qc / blen * blen;
  while (qc > fp_chunk && !fits(qc)) qc -= blen;
  Schedule s{std::max(qc, fp_chunk), hm.max_unit_heads};
  s.row_sums = true;
  return s;
}

Schedule attention_schedule(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm,
                            uint64_t fp_free, uint64_t vram_free, bool ones_room) {
  const uint64_t blen = cfg.geometry.blen, cap = fp_free / 2, hu = hm.max_unit_heads;
  const uint64_t limit = a.max_q_chunk ? std::max(blen, a.max_q_chunk / blen * blen) : ~uint64_t(0);
  const bool resident = kv_resident(cfg, a);
  Schedule best;
  uint64_t best_passes = ~uint64_t(0);
  auto consider = [&](uint64_t qc) {
    if (qc == 0 || qc > cap || qc > limit) return;
    const uint64_t hp = std::min(hu, cap / qc);
    const uint64_t passes = (resident ? 1 : ceil_div(hu, hp)) * ceil_div(a.q_len, qc);
    if (passes < best_passes || (passes == best_passes && qc > best.q_chunk)) {
      best_passes = passes;
      best = {qc, hp};
    }
  };
  consider(a.q_len);
  for (uint64_t qc = blen; qc < a.q_len && qc <= cap; qc += blen) consider(qc);
  if (row_sums_apply(cfg, a, hm, ones_room)) return row_sum_schedule(cfg, a, hm, vram_free, limit, best.q_chunk);
  if (resident || !vram_stats_exact(cfg) || vram_free == 0) return best;
  const Schedule v = vram_schedule(cfg, a, hm, vram_free, limit);
  if (v.q_chunk && 2 * ceil_div(a.q_len, v.q_chunk) <= best_passes) return v;
  return best;
}

bool kv_resident(const config::HardwareConfig& cfg, const AttentionArgs& a) {
  return ceil_div(a.kv_len, cfg.geometry.mlen) <= tiles_per_prefetch(cfg);
}

}  // namespace attn

using attn::fail;
using attn::padded_head_dim;
using attn::tiles_per_prefetch;

KvCacheLayout kv_cache_layout(const config::HardwareConfig& cfg, uint64_t batch, uint64_t kv_heads,
                              uint64_t capacity, uint64_t head_dim, bool combined) {
  if (batch == 0 || kv_heads == 0 || capacity == 0)
    fail("kv_cache", fmt::format("batch {}, kv_heads {} and capacity {} must be positive", batch, kv_heads, capacity));
  (void)padded_head_dim(cfg, head_dim, "kv_cache");  // validates head_dim against MLEN, HLEN, BLEN
  KvCacheLayout l;
  l.batch = batch;
  l.kv_heads = kv_heads;
  l.capacity = capacity;
  l.head_dim = head_dim;
  l.width = round_up(kv_heads * head_dim, cfg.geometry.mlen);
  l.tail_rows = tiles_per_prefetch(cfg) * cfg.geometry.mlen;
  if (combined) {
    if (!kv_combinable(cfg, kv_heads, head_dim))
      fail("kv_cache", fmt::format("K and V of {} kv heads of {} do not share one MLEN = {} row (VLEN / HLEN = {})",
                                   kv_heads, head_dim, cfg.geometry.mlen, cfg.geometry.vlen / cfg.geometry.hlen));
    l.v_col0 = kv_heads * head_dim;
  }
  return l;
}

bool kv_combinable(const config::HardwareConfig& cfg, uint64_t kv_heads, uint64_t head_dim) {
  const auto& g = cfg.geometry;
  return head_dim < g.mlen && 2 * kv_heads * head_dim <= g.mlen && g.vlen == g.mlen && g.vlen / g.hlen <= 32;
}

const HbmTensor& place_kv_cache(MemoryPlan& plan, std::string_view name, const KvCacheLayout& layout) {
  return plan.place_hbm(name, TensorClass::Kv, {layout.rows(), layout.width}, plan.config().formats.m_kv);
}

bool attention_needs_identity(const config::HardwareConfig& cfg, uint64_t head_dim) {
  return head_dim < cfg.geometry.mlen;
}
// Two whole-tile prefetches: the identity, then the all-ones tile of the row sums (attn::row_sums).
uint64_t attention_identity_rows(const config::HardwareConfig& cfg) {
  return 2 * tiles_per_prefetch(cfg) * cfg.geometry.mlen;
}
const HbmTensor& place_attention_identity(MemoryPlan& plan, std::string_view name) {
  const auto& cfg = plan.config();
  return plan.place_hbm(name, TensorClass::Weight, {attention_identity_rows(cfg), cfg.geometry.mlen},
                        cfg.formats.m_weight);
}
std::vector<float> attention_identity_data(const config::HardwareConfig& cfg) {
  const uint64_t mlen = cfg.geometry.mlen;
  std::vector<float> d(attention_identity_rows(cfg) * mlen, 0.f);
  for (uint64_t i = 0; i < mlen; ++i) d[i * mlen + i] = 1.f;
  const uint64_t ones0 = attn::ones_tile_row(cfg) * mlen;
  std::fill(d.begin() + long(ones0), d.begin() + long(ones0 + mlen * mlen), 1.f);
  return d;
}

uint64_t attention_stats_vram_budget(const config::HardwareConfig& cfg) { return cfg.sram.vector_depth / 2; }

uint64_t attention_rows_alloc(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len) {
  return (batch - 1) * q_len + round_up(q_len, cfg.geometry.blen);
}

}  // namespace plena::compiler

// FlashAttention (docs/kernels-attention.md). Per (sequence, KV column block, query chunk, head
// pass), KV tiles of MLEN positions are streamed from the HBM cache into MRAM once and serve every
// query head of the pass (head_dim < MLEN: Q copied next to its kv head's columns); per head and
// BLEN-row query group:
//   S = Q K^T (M_TMM, K tile rows = positions), scaled and masked per row, online softmax per row
//   (V_RED_MAX / S_SUB_FP / S_EXP_FP / V_EXP_V / V_RED_SUM with m, l kept in FP SRAM), and
//   P V (M_MM, V tile in MRAM) added into O after rescaling O by exp(m_old - m_new).
// Every tile/row decision (causal and window skipping, which rows need a mask) is static, so no KV tile repeats the previous one's body by accident and m/l are never reset
// between tiles (plena_compiler.md §7).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "compiler/kernels_attention.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
uint64_t round_up(uint64_t a, uint64_t m) { return ceil_div(a, m) * m; }

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

uint64_t tiles_per_prefetch(const config::HardwareConfig& cfg) {
  return ceil_div(cfg.hbm.m_prefetch_amount, cfg.geometry.mlen);
}

// Lowest key query i (position kv_len - q_len + i) sees: its sliding window's first key, else 0.
uint64_t window_lowest_key(const AttentionArgs& a, uint64_t i) {
  const uint64_t pos = a.kv_len - a.q_len + i;
  return a.sliding_window && pos + 1 > a.sliding_window ? pos + 1 - a.sliding_window : 0;
}

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

// Query rows per chunk and heads per pass: the FP SRAM holds the running max and sum of every
// (head, row) of a pass, so heads_per_pass * q_chunk <= fp_free / 2. Picks the fewest KV streams
// ceil(unit heads / heads_per_pass) * ceil(q_len / q_chunk), then the larger chunk. Chunks are
// whole BLEN row groups, or all q_len rows.
struct Schedule {
  uint64_t q_chunk = 0, heads_per_pass = 0;
};
Schedule attention_schedule(const config::HardwareConfig& cfg, const AttentionArgs& a, const HeadMap& hm,
                            uint64_t fp_free) {
  const uint64_t blen = cfg.geometry.blen, cap = fp_free / 2, hu = hm.max_unit_heads;
  const uint64_t limit = a.max_q_chunk ? std::max(blen, a.max_q_chunk / blen * blen) : ~uint64_t(0);
  Schedule best;
  uint64_t best_passes = ~uint64_t(0);
  auto consider = [&](uint64_t qc) {
    if (qc == 0 || qc > cap || qc > limit) return;
    const uint64_t hp = std::min(hu, cap / qc);
    const uint64_t passes = ceil_div(hu, hp) * ceil_div(a.q_len, qc);
    if (passes < best_passes || (passes == best_passes && qc > best.q_chunk)) {
      best_passes = passes;
      best = {qc, hp};
    }
  };
  consider(a.q_len);
  for (uint64_t qc = blen; qc < a.q_len && qc <= cap; qc += blen) consider(qc);
  return best;
}

}  // namespace

KvCacheLayout kv_cache_layout(const config::HardwareConfig& cfg, uint64_t batch, uint64_t kv_heads,
                              uint64_t capacity, uint64_t head_dim) {
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
  return l;
}

const HbmTensor& place_kv_cache(MemoryPlan& plan, std::string_view name, const KvCacheLayout& layout) {
  return plan.place_hbm(name, TensorClass::Kv, {layout.rows(), layout.width}, plan.config().formats.m_kv);
}

bool attention_needs_identity(const config::HardwareConfig& cfg, uint64_t head_dim) {
  return head_dim < cfg.geometry.mlen;
}
uint64_t attention_identity_rows(const config::HardwareConfig& cfg) {
  return tiles_per_prefetch(cfg) * cfg.geometry.mlen;
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
  return d;
}

uint64_t attention_rows_alloc(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len) {
  return (batch - 1) * q_len + round_up(q_len, cfg.geometry.blen);
}

AttentionCounts emit_flash_attention(ProgramBuilder& b, MemoryPlan& plan, const AttentionArgs& a) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen,
                 hlen = cfg.geometry.hlen;
  const std::string_view kn = a.name;
  if (vlen != mlen) fail(kn, fmt::format("VLEN = {} must equal MLEN = {}", vlen, mlen));
  if (a.batch == 0 || a.q_len == 0 || a.kv_len == 0)
    fail(kn, fmt::format("batch {}, q_len {} and kv_len {} must be positive", a.batch, a.q_len, a.kv_len));
  if (a.num_heads == 0 || a.num_kv_heads == 0 || a.num_heads % a.num_kv_heads)
    fail(kn, fmt::format("num_heads {} must be a positive multiple of num_kv_heads {}", a.num_heads, a.num_kv_heads));
  if (a.causal && a.kv_len < a.q_len)
    fail(kn, fmt::format("causal attention needs kv_len {} >= q_len {} (queries are the last q_len positions)",
                         a.kv_len, a.q_len));
  if (a.sliding_window && !a.causal)
    fail(kn, fmt::format("sliding_window {} needs causal attention (the window ends at each query's position)",
                         a.sliding_window));
  const uint64_t capacity = a.capacity ? a.capacity : a.kv_len;
  if (a.kv_len > capacity) fail(kn, fmt::format("kv_len {} exceeds the cache capacity {}", a.kv_len, capacity));
  const uint64_t hd = a.head_dim;
  const KvCacheLayout kv = kv_cache_layout(cfg, a.batch, a.num_kv_heads, capacity, hd);
  const HeadMap hm = head_map(cfg, a);
  const uint64_t ub = hm.unit_blocks;                   // MLEN column blocks of a unit (and of a head)
  const uint64_t sub_cols = std::min(hd, mlen) / blen;  // BLEN-wide output sub-columns per block
  const uint64_t width = a.num_heads * hd, kvw = kv.width;

  // O is written while later KV tiles still read Q, so they must be different tensors.
  if (a.q == a.out) fail(kn, fmt::format("Q and O must be different VRAM tensors (both are '{}')", a.q));
  const VramTensor& q = plan.vram(a.q);
  const VramTensor& o = plan.vram(a.out);
  const uint64_t rows_need = attention_rows_alloc(cfg, a.batch, a.q_len);
  for (const VramTensor* t : {&q, &o}) {
    if (t->cols != width)
      fail(kn, fmt::format("VRAM tensor '{}' has {} columns, expected num_heads * head_dim = {}", t->name, t->cols,
                           width));
    if (t->rows < a.batch * a.q_len || t->rows_alloc < rows_need)
      fail(kn, fmt::format("VRAM tensor '{}' has {} rows ({} allocated), expected >= {} rows and >= {} allocated "
                           "(attention_rows_alloc)",
                           t->name, t->rows, t->rows_alloc, a.batch * a.q_len, rows_need));
  }
  const HbmTensor& kt = plan.hbm(a.k_cache);
  const HbmTensor& vt = plan.hbm(a.v_cache);
  for (const HbmTensor* t : {&kt, &vt}) {
    if (t->rows != kv.rows() || t->cols != kvw || !(t->format == cfg.formats.m_kv))
      fail(kn, fmt::format("HBM tensor '{}' is [{}, {}] in {}, expected the KV cache layout [{}, {}] in formats.m_kv = {}",
                           t->name, t->rows, t->cols, t->format.name(), kv.rows(), kvw, cfg.formats.m_kv.name()));
  }
  if (kt.row_stride != vt.row_stride || kt.scale_reg != vt.scale_reg)
    fail(kn, "K and V caches must have identical layouts");
  const HbmTensor* idt = nullptr;
  if (hm.copy_q) {
    if (a.identity.empty())
      fail(kn, fmt::format("head_dim {} < MLEN = {} needs the identity tensor (AttentionArgs::identity, "
                           "place_attention_identity)",
                           hd, mlen));
    idt = &plan.hbm(a.identity);
    if (idt->rows != attention_identity_rows(cfg) || idt->cols != mlen || !(idt->format == cfg.formats.m_weight))
      fail(kn, fmt::format("HBM tensor '{}' is [{}, {}] in {}, expected the identity [{}, {}] in formats.m_weight = {}",
                           idt->name, idt->rows, idt->cols, idt->format.name(), attention_identity_rows(cfg), mlen,
                           cfg.formats.m_weight.name()));
  }
  const bool head_masks = hd < vlen;  // heads share a VLEN block: O updates use V_MASK
  if (head_masks && vlen / hlen > 32)
    fail(kn, fmt::format("VLEN / HLEN = {} exceeds the 32 V_MASK bits", vlen / hlen));

  // ---- on-chip allocations ----
  const uint64_t tpp = tiles_per_prefetch(cfg);
  const std::string n_k = a.name + ".k", n_v = a.name + ".v", n_s = a.name + ".s", n_pv = a.name + ".pv",
                    n_mask = a.name + ".mask", n_m = a.name + ".m", n_l = a.name + ".l", n_qx = a.name + ".qx";
  const MramBlock& mk = plan.alloc_mram(n_k, ub * tpp);
  const MramBlock& mv = plan.alloc_mram(n_v, ub * tpp);
  const uint64_t s_base = plan.alloc_vram(n_s, blen, mlen).base();
  const uint64_t pv_base = plan.alloc_vram(n_pv, blen, ub * mlen).base();  // ub blocks of BLEN rows
  auto lowest_key = [&](uint64_t i) { return window_lowest_key(a, i); };
  // The window cuts some tile from below: a second table masks keys below a row's window.
  const bool low_masks = lowest_key(a.q_len - 1) > 0;
  // Rows [0, MLEN]: row s masks keys >= s, row MLEN all keys; with low_masks, rows MLEN+1+s mask keys < s.
  const uint64_t mask_base = plan.alloc_vram(n_mask, low_masks ? 2 * mlen + 1 : mlen + 1, vlen).base();
  const uint64_t low_base = mask_base + (mlen + 1) * vlen;
  const float scale = float(1.0 / std::sqrt(double(hd)));
  const uint64_t scale_slot = plan.fp_constant("attn_scale", scale);
  const uint64_t neg_slot = plan.fp_constant("neg_large", -1.0e30f);
  // Query chunks x head passes whose running max and sum fit in FP SRAM.
  const uint64_t fp_free = plan.fp_space().largest_free();
  const Schedule sch = attention_schedule(cfg, a, hm, fp_free);
  const uint64_t q_chunk = sch.q_chunk, hpass = sch.heads_per_pass;
  if (q_chunk == 0)
    fail(kn, fmt::format("needs 2 * min(q_len, BLEN) = {} free FP SRAM entries for the running max and sum, {} free",
                         2 * std::min(a.q_len, blen), plan.fp_space().largest_free()));
  const uint64_t m_slot = plan.alloc_fp_scratch(n_m, hpass * q_chunk);
  const uint64_t l_slot = plan.alloc_fp_scratch(n_l, hpass * q_chunk);
  // Q heads copied next to their kv head (head_dim < MLEN): one VLEN block per head of a unit,
  // copied once per query chunk for all passes (the identity tile shares the K tiles' MRAM).
  const uint64_t qx_rows = round_up(q_chunk, blen);
  const uint64_t qx_base = hm.copy_q ? plan.alloc_vram(n_qx, hm.max_unit_heads * qx_rows, vlen).base() : 0;

  auto kscope = b.kernel(a.name);
  RegisterAllocator& regs = b.regs();
  const size_t start_size = b.size();
  b.comment(fmt::format("{}: batch {}, q_len {}, kv_len {}, heads {}/{} (kv), head_dim {}, {}{}; {} heads per pass, "
                        "chunks of {} rows",
                        a.name, a.batch, a.q_len, a.kv_len, a.num_heads, a.num_kv_heads, hd,
                        a.causal ? "causal" : "non-causal",
                        a.sliding_window ? fmt::format(", window {}", a.sliding_window) : std::string(), hpass,
                        q_chunk));

  // Scratch address registers and the loop-carried address registers (names say what they hold).
  auto ra = regs.gp("address a");
  auto rb = regs.gp("address b");
  auto r_e = regs.gp("cache row element offset");
  auto r_q = regs.gp("group Q row");
  auto r_o = regs.gp("group O row");
  auto r_g = regs.gp("group first query index");
  auto r_srow = regs.gp("S row");
  auto r_idx = regs.gp("query index");
  auto r_orow = regs.gp("O row");
  auto at = [&](const ScopedGp& r, uint64_t v) -> GpReg {
    b.load_imm(r, v);
    return r;
  };
  auto f_scale = regs.fp("softmax scale");
  auto f_m = regs.fp("running max");
  auto f_mold = regs.fp("previous max");
  auto f_a = regs.fp("rescale factor");
  auto f_l = regs.fp("running sum");
  b.s_ld_fp(f_scale, at(ra, scale_slot), 0);

  // ---- the mask table: row s has -1e30 in columns >= s (V_SHFT_V of a -1e30 row) ----
  // The -1e30 row is 0 * Q row + (-1e30): Q is finite, and no -inf is ever multiplied.
  b.stage(a.name + ": column masks");
  {
    auto f_neg = regs.fp("-1e30");
    b.s_ld_fp(f_neg, at(ra, neg_slot), 0);
    const uint64_t neg_row = mask_base + mlen * vlen;
    b.v_mul_vf(at(ra, neg_row), at(rb, q.block_address(0)), f0);
    b.v_add_vf(ra, ra, f_neg);
    b.load_imm(rb, mask_base);
    b.load_imm(r_idx, 0);
    b.loop(mlen, [&] {
      b.v_shft_v(rb, ra, r_idx);
      b.add_imm(rb, rb, vlen);
      b.add_imm(r_idx, r_idx, 1);
    });
    if (low_masks) {
      // low[s] = -1e30 row - mask[s]: -1e30 in columns < s, exactly 0 from s on.
      b.load_imm(rb, mask_base);
      b.load_imm(r_idx, low_base);
      b.loop(mlen, [&] {
        b.v_sub_vv(r_idx, ra, rb);
        b.add_imm(rb, rb, vlen);
        b.add_imm(r_idx, r_idx, vlen);
      });
    }
  }

  // HBM: both caches share SCALE_REG / STRIDE_REG (identical layouts); the identity tile's
  // prefetch switches them briefly.
  auto ak = regs.hbm("K cache");
  auto av = regs.hbm("V cache");
  b.set_addr_reg(ak, kt.base);
  b.set_addr_reg(av, vt.base);
  auto set_cache_regs = [&] {
    b.set_scale_reg(kt.scale_reg);
    b.set_stride_reg(kt.row_stride);
  };
  set_cache_regs();

  uint64_t qc0 = 0, qcn = 0, groups = 0;  // current query chunk [qc0, qc0 + qcn) and its row groups
  const uint64_t n_tiles = ceil_div(a.kv_len, mlen);
  const uint64_t q_bstride = q.rows_alloc * vlen, o_bstride = o.rows_alloc * vlen;
  // Keys of tile t that query i sees: columns [visible_from, visible); visible = 0 when none.
  auto visible = [&](uint64_t i, uint64_t t) -> uint64_t {
    const uint64_t t0 = t * mlen;
    const uint64_t last = a.causal ? a.kv_len - a.q_len + i : a.kv_len - 1;  // last key seen
    if (last < t0 || lowest_key(i) >= t0 + mlen) return 0;
    return std::min<uint64_t>(last - t0 + 1, mlen);
  };
  auto visible_from = [&](uint64_t i, uint64_t t) -> uint64_t {
    const uint64_t lo = lowest_key(i), t0 = t * mlen;
    return lo > t0 ? lo - t0 : 0;
  };
  // Every query sees the whole tile t: the tile's code is then the same for all such tiles.
  auto tile_full = [&](uint64_t t) {
    for (uint64_t i = qc0; i < qc0 + qcn; ++i)
      if (visible(i, t) != mlen || visible_from(i, t) != 0) return false;
    return true;
  };
  // The chunk's first KV tile: every row's first visible tile when they agree (its P V then
  // writes O directly), else none (O, m and l are initialised before the tiles).
  uint64_t first_tile = 0;
  const uint64_t no_tile = ~uint64_t(0);

  // One query head of the current pass and chunk.
  struct Head {
    uint64_t h = 0, k = 0;        // head index; index within the pass (FP SRAM slots k * q_chunk + i)
    uint64_t q_row0 = 0;          // the chunk's first Q row the S product reads (Q or the copied Qx)
    uint64_t q_stride = 0;        // element distance between the head's Q column blocks
    uint64_t o_row0 = 0, o_q = 0; // the chunk's first O row in the head's first block; column offset
    uint64_t v_col = 0;           // the kv head's first column inside the V tile's block
    uint64_t vmask = 0;
  };
  const Head* cur = nullptr;
  auto select_head = [&](const Head& hh) {
    cur = &hh;
    if (head_masks) b.set_v_mask(hh.vmask);
  };

  // Online-softmax update of one query row: S row at r_srow, query index in r_idx, O row at
  // r_orow. `s` = visible keys (< MLEN adds the column mask row s), or `mask`: a register
  // holding the mask row's address; `from` > 0 adds the window mask row; `first` = the first tile.
  auto row_update = [&](uint64_t s, bool first, const GpReg* mask = nullptr, uint64_t from = 0) {
    const uint32_t rmask = head_masks ? 1 : 0;
    const uint32_t ms = uint32_t(m_slot + cur->k * q_chunk), ls = uint32_t(l_slot + cur->k * q_chunk);
    b.v_mul_vf(r_srow, r_srow, f_scale);
    if (mask)
      b.v_add_vv(r_srow, r_srow, *mask);
    else if (s < mlen)
      b.v_add_vv(r_srow, r_srow, at(ra, mask_base + s * vlen));
    if (from > 0) b.v_add_vv(r_srow, r_srow, at(ra, low_base + from * vlen));
    if (first) {
      b.s_ld_fp(f_m, at(ra, neg_slot), 0);
      b.v_red_max(f_m, r_srow);
      b.v_sub_vf(r_srow, r_srow, f_m);
      b.v_exp_v(r_srow, r_srow);
      b.s_add_fp(f_l, f0, f0);  // l starts at 0
      b.v_red_sum(f_l, r_srow);
    } else {
      b.s_ld_fp(f_mold, r_idx, ms);
      b.s_add_fp(f_m, f_mold, f0);
      b.v_red_max(f_m, r_srow);
      b.s_sub_fp(f_a, f_mold, f_m);
      b.s_exp_fp(f_a, f_a);
      b.v_sub_vf(r_srow, r_srow, f_m);
      b.v_exp_v(r_srow, r_srow);
      b.s_ld_fp(f_l, r_idx, ls);
      b.s_mul_fp(f_l, f_l, f_a);
      b.v_red_sum(f_l, r_srow);
      for (uint64_t cb = 0; cb < ub; ++cb) {
        b.add_imm(ra, r_orow, cb * o_bstride);
        b.v_mul_vf(ra, ra, f_a, rmask);
      }
    }
    b.s_st_fp(f_m, r_idx, ms);
    b.s_st_fp(f_l, r_idx, ls);
  };
  // O row += PV row (PV row = S row address moved to the PV scratch).
  auto row_add_pv = [&] {
    const uint32_t rmask = head_masks ? 1 : 0;
    for (uint64_t cb = 0; cb < ub; ++cb) {
      b.add_imm(ra, r_orow, cb * o_bstride);
      b.add_imm(rb, r_srow, (pv_base + cb * blen * vlen - s_base) & 0xFFFFFFFFu);  // wraps like the hardware
      b.v_add_vv(ra, ra, rb, rmask);
    }
  };
  auto advance_row = [&] {
    b.add_imm(r_srow, r_srow, vlen);
    b.add_imm(r_idx, r_idx, 1);
    b.add_imm(r_orow, r_orow, vlen);
  };
  auto start_rows = [&] {
    b.load_imm(r_srow, s_base);
    b.add_imm(r_idx, r_g, 0);
    b.add_imm(r_orow, r_o, 0);
  };

  // One row group of the current head in tile t (group registers r_q, r_o, r_g already set).
  // `full`: all BLEN rows see the whole tile, or (with `mask_g`) row k of the group adds the mask
  // row at mask_g + k * mask_step: the rows become a hardware loop. Otherwise rows [i0, i1) are static.
  auto group_body = [&](uint64_t t, bool full, uint64_t i0, uint64_t i1, const GpReg* mask_g = nullptr,
                        const GpReg* mask_row = nullptr, uint64_t mask_step = 0) {
    const bool first = t == first_tile;
    const uint64_t tile = t % tpp;
    // S[BLEN rows, MLEN keys] = Q_rows K_tile^T, summed over the head's column blocks.
    for (uint64_t c = 0; c < mlen / blen; ++c) {
      for (uint64_t cb = 0; cb < ub; ++cb) {
        b.add_imm(ra, r_q, cb * cur->q_stride);
        b.m_tmm(ra, at(rb, mk.tile_address(cb * tpp + tile) + c * blen * mlen));
      }
      b.m_mm_wo(at(ra, s_base + c * blen), gp0, 0);
    }
    start_rows();
    if (full && mask_g) {
      b.add_imm(*mask_row, *mask_g, 0);
      b.loop(blen, [&] {
        row_update(0, first, mask_row);
        advance_row();
        b.add_imm(*mask_row, *mask_row, mask_step);
      });
    } else if (full) {
      b.loop(blen, [&] {
        row_update(mlen, first);
        advance_row();
      });
    } else {
      for (uint64_t i = i0; i < i1; ++i) {
        const uint64_t s = visible(i, t);
        if (s > 0) row_update(s, first, nullptr, visible_from(i, t));
        advance_row();
      }
    }
    // P V (the kv head's columns of the V tile): the first tile writes O directly (every row
    // sees it); later tiles go through the PV scratch and are added into the rescaled O.
    for (uint64_t cb = 0; cb < ub; ++cb)
      for (uint64_t c = 0; c < sub_cols; ++c) {
        b.m_mm(at(ra, mv.tile_address(cb * tpp + tile) + (cur->v_col + c * blen) * mlen), at(rb, s_base));
        if (first)
          b.add_imm(ra, r_o, cb * o_bstride + cur->o_q + c * blen);
        else
          b.load_imm(ra, pv_base + cb * blen * vlen + cur->o_q + c * blen);
        b.m_mm_wo(ra, gp0, 0);
      }
    if (!first) {
      start_rows();
      if (full) {
        b.loop(blen, [&] {
          row_add_pv();
          advance_row();
        });
      } else {
        for (uint64_t i = i0; i < i1; ++i) {
          if (visible(i, t) > 0) row_add_pv();
          advance_row();
        }
      }
    }
  };
  auto set_group = [&](uint64_t g) {
    b.load_imm(r_q, cur->q_row0 + g * blen * vlen);
    b.load_imm(r_o, cur->o_row0 + g * blen * vlen);
    b.load_imm(r_g, g * blen);
  };
  auto next_group = [&] {
    b.add_imm(r_q, r_q, blen * vlen);
    b.add_imm(r_o, r_o, blen * vlen);
    b.add_imm(r_g, r_g, blen);
  };
  // Row groups of the current head in tile t: runs of uniform groups (every row full, or a mask
  // row that advances by `d` rows per query: d = 1 on the causal diagonal, 0 for a fixed KV tail)
  // are hardware loops; the rest are emitted one by one.
  auto head_tile = [&](uint64_t t) {
    struct Kind {
      int kind = 0;  // 0 skip, 1 uniform, 2 static
      uint64_t s0 = 0, d = 0;
    };
    auto classify = [&](uint64_t g) {
      const uint64_t i0 = qc0 + g * blen, i1 = std::min(qc0 + qcn, i0 + blen);
      Kind k;
      bool any = false;
      for (uint64_t i = i0; i < i1; ++i) any = any || visible(i, t) > 0;
      if (!any) return k;
      k.kind = 2;
      if (i1 - i0 < blen) return k;
      for (uint64_t i = i0; i < i1; ++i)
        if (visible_from(i, t) > 0) return k;
      k.s0 = visible(i0, t);
      const uint64_t s1 = blen > 1 ? visible(i0 + 1, t) : k.s0;
      if (s1 < k.s0 || s1 - k.s0 > 1) return k;
      k.d = s1 - k.s0;
      for (uint64_t i = i0; i < i1; ++i)
        if (visible(i, t) != k.s0 + (i - i0) * k.d) return k;
      const bool ok = (k.s0 == mlen && k.d == 0) || (k.s0 >= 1 && k.s0 + (blen - 1) * k.d < mlen);
      if (ok) k.kind = 1;
      return k;
    };
    for (uint64_t g = 0; g < groups; ++g) {
      const Kind k = classify(g);
      if (k.kind == 0) continue;  // the whole tile is in the future of this group, or below its window
      if (k.kind == 2) {
        const uint64_t i0 = qc0 + g * blen, i1 = std::min(qc0 + qcn, i0 + blen);
        set_group(g);
        group_body(t, false, i0, i1);
        continue;
      }
      uint64_t g1 = g + 1;
      for (; g1 < groups; ++g1) {
        const Kind n = classify(g1);
        if (n.kind != 1 || n.d != k.d || n.s0 != k.s0 + (g1 - g) * blen * k.d || (n.s0 < mlen) != (k.s0 < mlen))
          break;
      }
      set_group(g);
      if (k.s0 == mlen) {
        b.loop(g1 - g, [&] {
          group_body(t, true, 0, 0);
          next_group();
        });
      } else {
        auto mask_g = regs.gp("group mask row");
        auto mask_row = regs.gp("mask row");
        b.load_imm(mask_g, mask_base + k.s0 * vlen);
        const GpReg mg = mask_g, mr = mask_row;
        b.loop(g1 - g, [&] {
          group_body(t, true, 0, 0, &mg, &mr, k.d * vlen);
          next_group();
          b.add_imm(mask_g, mask_g, blen * k.d * vlen);
        });
      }
      g = g1 - 1;
    }
  };

  std::vector<Head> heads;  // the current pass's heads
  uint64_t unit_block0 = 0;  // the current unit's first column block of the cache
  // One KV tile: the unit's blocks of K and V when it starts a whole-tile prefetch, then every
  // head of the pass.
  auto tile_body = [&](uint64_t t) {
    if (t % tpp == 0) {
      for (uint64_t cb = 0; cb < ub; ++cb) {
        b.add_imm(rb, r_e, cb * mlen);
        b.h_prefetch_m(at(ra, mk.tile_address(cb * tpp)), rb, ak, 1, 1);
        b.h_prefetch_m(at(ra, mv.tile_address(cb * tpp)), rb, av, 1, 1);
      }
      b.add_imm(r_e, r_e, tpp * mlen * kv.width);
    }
    for (const Head& hh : heads) {
      select_head(hh);
      head_tile(t);
    }
  };

  // Copies the unit's query heads next to their kv head's columns (Qx rows = the chunk's rows,
  // one VLEN block per head, zeros outside the head): M_MM with the identity tile, exact.
  auto copy_q = [&] {
    auto ai = regs.hbm("identity");
    b.set_addr_reg(ai, idt->base);
    b.set_scale_reg(idt->scale_reg);
    b.set_stride_reg(idt->row_stride);
    b.h_prefetch_m(at(ra, mk.tile_address(0)), gp0, ai, 1, 0);
    set_cache_regs();
    for (const Head& hh : heads) {
      const uint64_t col0 = hh.h * hd, o_h = col0 % vlen;
      b.load_imm(r_q, q.block_address(col0 / vlen) + (hh.o_row0 - o.block_address(col0 / vlen)));
      b.load_imm(r_o, hh.q_row0);
      b.loop(groups, [&] {
        for (uint64_t c = 0; c < mlen / blen; ++c) {
          const uint64_t col = c * blen;
          if (col >= hh.v_col && col < hh.v_col + hd)
            b.m_mm(at(ra, mk.tile_address(0) + (o_h + col - hh.v_col) * mlen), r_q);
          b.add_imm(ra, r_o, col);
          b.m_mm_wo(ra, gp0, 0);  // the zero accumulator outside the head
        }
        b.add_imm(r_q, r_q, blen * vlen);
        b.add_imm(r_o, r_o, blen * vlen);
      });
    }
  };

  // One query chunk of one head pass: every KV tile, then O /= l per head.
  auto emit_chunk = [&](uint64_t bi) {
    const uint32_t rmask = head_masks ? 1 : 0;
    // Tiles wholly below every row's window are skipped (from a whole-prefetch boundary).
    const uint64_t ts0 = lowest_key(qc0) / mlen, ts1 = lowest_key(qc0 + qcn - 1) / mlen;
    const uint64_t t_begin = ts0 / tpp * tpp;
    first_tile = ts0 == ts1 ? ts0 : no_tile;
    b.load_imm(r_e, kv.row(bi, t_begin * mlen) * kv.width + unit_block0 * mlen);
    if (first_tile == no_tile) {
      // Rows start at different tiles: O (head columns) = 0 by write-outs of the zero
      // accumulator, m = -1e30 and l = 0, so each row's first tile is an ordinary update.
      b.s_ld_fp(f_m, at(ra, neg_slot), 0);
      for (const Head& hh : heads) {
        b.load_imm(r_o, hh.o_row0);
        b.loop(groups, [&] {
          for (uint64_t cb = 0; cb < ub; ++cb)
            for (uint64_t c = 0; c < sub_cols; ++c) {
              b.add_imm(ra, r_o, cb * o_bstride + hh.o_q + c * blen);
              b.m_mm_wo(ra, gp0, 0);
            }
          b.add_imm(r_o, r_o, blen * vlen);
        });
      }
      b.load_imm(r_idx, 0);
      b.loop(heads.size() * q_chunk, [&] {
        b.s_st_fp(f_m, r_idx, uint32_t(m_slot));
        b.s_st_fp(f0, r_idx, uint32_t(l_slot));
        b.add_imm(r_idx, r_idx, 1);
      });
    }
    // Tiles: the first tile and the partially visible tiles are emitted one by one; the run of
    // tiles that every row sees completely is a hardware loop over whole prefetches.
    uint64_t tf0 = n_tiles, tf1 = n_tiles;
    for (uint64_t t = t_begin + 1; t < n_tiles; ++t)
      if (t % tpp == 0 && tile_full(t)) {
        tf0 = t;
        break;
      }
    for (tf1 = tf0; tf1 < n_tiles && tile_full(tf1);) ++tf1;
    tf1 = tf0 + (tf1 - tf0) / tpp * tpp;
    for (uint64_t t = t_begin; t < n_tiles; ++t) {
      if (t == tf0 && tf1 > tf0) {
        b.loop((tf1 - tf0) / tpp, [&] {
          for (uint64_t u = 0; u < tpp; ++u) tile_body(tf0 + u);
        });
        t = tf1 - 1;
        continue;
      }
      tile_body(t);
    }
    // O /= l.
    for (const Head& hh : heads) {
      select_head(hh);
      b.load_imm(r_idx, 0);
      b.load_imm(r_orow, hh.o_row0);
      b.loop(qcn, [&] {
        b.s_ld_fp(f_l, r_idx, uint32_t(l_slot + hh.k * q_chunk));
        b.s_reci_fp(f_a, f_l);
        for (uint64_t cb = 0; cb < ub; ++cb) {
          b.add_imm(ra, r_orow, cb * o_bstride);
          b.v_mul_vf(ra, ra, f_a, rmask);
        }
        b.add_imm(r_idx, r_idx, 1);
        b.add_imm(r_orow, r_orow, vlen);
      });
    }
  };

  for (uint64_t bi = 0; bi < a.batch; ++bi)
    for (uint64_t u = 0; u < hm.units; ++u) {
      unit_block0 = hm.first_block(u);
      const uint64_t h_lo = hm.kv_lo(u, a) * hm.rep, h_hi = hm.kv_hi(u, a) * hm.rep;
      for (qc0 = 0; qc0 < a.q_len; qc0 += q_chunk) {
        qcn = std::min(q_chunk, a.q_len - qc0);
        groups = ceil_div(qcn, blen);
        // heads [p0, p1) of the unit: the pass's Head records (Qx block h - h_lo).
        auto make_heads = [&](uint64_t p0, uint64_t p1) {
          heads.clear();
          for (uint64_t h = p0; h < p1; ++h) {
            Head hh;
            hh.h = h;
            hh.k = h - p0;
            const uint64_t col0 = h * hd, kvh = h / hm.rep, qb0 = col0 / vlen;
            hh.o_q = head_masks ? col0 % vlen : 0;
            hh.o_row0 = o.block_address(qb0) + (bi * a.q_len + qc0) * vlen;
            hh.v_col = hm.copy_q ? kv.col(kvh) % mlen : 0;
            if (hm.copy_q) {
              hh.q_row0 = qx_base + (h - h_lo) * qx_rows * vlen;
              hh.q_stride = 0;
            } else {
              hh.q_row0 = q.block_address(qb0) + (bi * a.q_len + qc0) * vlen;
              hh.q_stride = q_bstride;
            }
            hh.vmask = head_masks ? ((uint64_t(1) << (hd / hlen)) - 1) << (hh.o_q / hlen) : 0;
            heads.push_back(hh);
          }
        };
        if (hm.copy_q) {
          b.stage(fmt::format("{}: sequence {} rows {}.. heads {}..{}: Q next to the kv heads", a.name, bi, qc0, h_lo,
                              h_hi - 1));
          make_heads(h_lo, h_hi);
          copy_q();
        }
        for (uint64_t p0 = h_lo; p0 < h_hi; p0 += hpass) {
          const uint64_t p1 = std::min(h_hi, p0 + hpass);
          b.stage(fmt::format("{}: sequence {} rows {}.. heads {}..{} (kv column block {})", a.name, bi, qc0, p0, p1 - 1,
                              unit_block0));
          make_heads(p0, p1);
          emit_chunk(bi);
        }
      }
    }
  if (head_masks) b.set_v_mask(0);

  AttentionCounts cnt = attention_counts(cfg, a, fp_free);
  cnt.instructions = b.size() - start_size;

  if (hm.copy_q) plan.free_vram(n_qx);
  plan.free_fp_scratch(n_l);
  plan.free_fp_scratch(n_m);
  plan.free_vram(n_mask);
  plan.free_vram(n_pv);
  plan.free_vram(n_s);
  plan.free_mram(n_v);
  plan.free_mram(n_k);
  return cnt;
}
AttentionCounts attention_counts(const config::HardwareConfig& cfg, const AttentionArgs& a, uint64_t fp_free) {
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, hd = a.head_dim;
  const uint64_t sub_cols = std::min(hd, mlen) / blen, tpp = tiles_per_prefetch(cfg);
  const HeadMap hm = head_map(cfg, a);
  const Schedule sch = attention_schedule(cfg, a, hm, fp_free);
  const uint64_t ub = hm.unit_blocks, chunk = std::max<uint64_t>(1, sch.q_chunk);
  AttentionCounts c;
  c.kv_tiles = ceil_div(a.kv_len, mlen);
  c.q_chunk = sch.q_chunk;
  c.heads_per_pass = sch.heads_per_pass;
  c.q_chunks = ceil_div(a.q_len, chunk);
  const uint64_t heads = a.batch * a.num_heads;
  auto lowest_key = [&](uint64_t i) { return window_lowest_key(a, i); };
  // Passes over the heads of each column-block unit (per sequence).
  uint64_t passes = 0;
  for (uint64_t u = 0; u < hm.units; ++u)
    passes += ceil_div((hm.kv_hi(u, a) - hm.kv_lo(u, a)) * hm.rep, std::max<uint64_t>(1, sch.heads_per_pass));
  c.kv_passes = passes * c.q_chunks;
  // Per chunk: prefetches from the whole-prefetch boundary below its lowest window; chunks whose
  // rows start at different tiles zero their O head columns first; head_dim < MLEN copies Q.
  uint64_t prefetches = 0, zero_wo = 0, copy_mm = 0, copy_wo = 0;
  for (uint64_t q0 = 0; q0 < a.q_len; q0 += chunk) {
    const uint64_t n = std::min(chunk, a.q_len - q0), groups = ceil_div(n, blen);
    const uint64_t ts0 = lowest_key(q0) / mlen, ts1 = lowest_key(q0 + n - 1) / mlen;
    prefetches += ceil_div(c.kv_tiles - ts0 / tpp * tpp, tpp);
    if (ts0 != ts1) zero_wo += groups * ub * sub_cols;
    if (hm.copy_q) {
      copy_mm += groups * (hd / blen);
      copy_wo += groups * (mlen / blen);
    }
  }
  c.identity_prefetches = hm.copy_q ? a.batch * hm.units * c.q_chunks : 0;
  c.h_prefetch_m = a.batch * passes * prefetches * 2 * ub + c.identity_prefetches;
  // Row groups start at each chunk's first row (chunks are whole groups).
  for (uint64_t t = 0; t < c.kv_tiles; ++t)
    for (uint64_t g = 0; g * blen < a.q_len; ++g) {
      bool any = false;
      for (uint64_t i = g * blen; i < std::min(a.q_len, (g + 1) * blen); ++i) {
        const uint64_t last = a.causal ? a.kv_len - a.q_len + i : a.kv_len - 1, lo = lowest_key(i);
        if (last < t * mlen || lo >= (t + 1) * mlen) continue;
        any = true;
        ++c.softmax_rows;
        if (last - t * mlen + 1 < mlen || lo > t * mlen) ++c.masked_rows;
      }
      if (any) ++c.tile_groups;
    }
  c.tile_groups *= heads;
  c.softmax_rows *= heads;
  c.masked_rows *= heads;
  c.m_tmm = c.tile_groups * (mlen / blen) * ub;
  c.m_mm = c.tile_groups * ub * sub_cols + heads * copy_mm;
  c.m_mm_wo = c.tile_groups * (mlen / blen + ub * sub_cols) + heads * (zero_wo + copy_wo);
  return c;
}

}  // namespace plena::compiler

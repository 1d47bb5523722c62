// FlashAttention (docs/kernels-attention.md). Per (sequence, KV column block, query chunk, head
// pass), KV tiles of MLEN positions are streamed from the HBM cache into MRAM once and serve every
// query head of the pass (head_dim < MLEN: Q copied next to its kv head's columns); per head and
// BLEN-row query group:
//   S = Q K^T (M_TMM, K tile rows = positions), scaled and masked per row, online softmax per row
//   (V_RED_MAX / S_SUB_FP / S_EXP_FP / V_EXP_V / V_RED_SUM with m, l kept in FP SRAM), and
//   P V (M_MM, V tile in MRAM) added into O after rescaling O by exp(m_old - m_new).
// Every tile/row decision (causal and window skipping, which rows need a mask) is static, so no KV
// tile repeats the previous one's body by accident and m/l are never reset between tiles
// (plena_compiler.md §7).
//
// AttentionSetup validates the tensors and makes the on-chip allocations; FlashAttentionEmitter
// emits the phases: masks, Q copy, per chunk (init, KV tile stream with online softmax, rescale
// and P V accumulation, O /= l).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/attention_layout.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

using namespace attn;

// Everything fixed before emission: the validated tensors, head map, schedule and the on-chip
// allocations (released by release()).
struct AttentionSetup {
  AttentionSetup(const config::HardwareConfig& cfg, MemoryPlan& plan, const AttentionArgs& a);
  void release(MemoryPlan& plan) const;

  const AttentionArgs& a;
  uint64_t mlen = 0, blen = 0, vlen = 0, hlen = 0, hd = 0;
  uint64_t ub = 0;        // MLEN column blocks of a unit (and of a head)
  uint64_t sub_cols = 0;  // BLEN-wide output sub-columns per block
  KvCacheLayout kv;
  HeadMap hm;
  const VramTensor *q = nullptr, *o = nullptr;
  const HbmTensor *kt = nullptr, *vt = nullptr, *idt = nullptr;
  bool head_masks = false;  // heads share a VLEN block: O updates use V_MASK
  bool low_masks = false;   // the window cuts some tile from below: a second mask table
  uint64_t tpp = 0;
  std::string n_k, n_v, n_s, n_pv, n_mask, n_m, n_l, n_qx, n_st, n_ones, n_lsum;
  const MramBlock *mk = nullptr, *mv = nullptr;
  // Where the V tiles are read (mk with combined K|V rows) and where the identity tile goes (mv
  // then, so it does not evict the K|V tiles).
  const MramBlock *v_tiles = nullptr, *id_tile = nullptr;
  // Row sums (attn::Schedule::row_sums): the all-ones tile (its own MRAM block, loaded once, or the
  // identity's, reloaded after every Q copy), and the sums: row i of Q block qb of the chunk at
  // lsum_base + (qb * lsum_rows + i) VLEN, head h's sum over its own columns.
  bool rsum = false, own_ones = false;
  const MramBlock* ones = nullptr;
  uint64_t lsum_base = 0, lsum_rows = 0;
  // Row sums: a second S buffer, so the next group's S is multiplied while this group's rows run.
  uint64_t s2_base = 0;
  std::string n_s2;
  // Broadcast scores (row sums, head_dim = HLEN, one chunk): S of every head of a Q block against
  // one kv head by one M_BTMM into BROADCAST x MLEN rows at bs_base (head k of the block at row
  // k MLEN), instead of per (head, row group) M_TMMs over MLEN columns of which head_dim are used.
  bool bscores = false;
  uint64_t bs_base = 0;
  std::string n_bs;
  uint64_t s_base = 0, pv_base = 0, mask_base = 0, low_base = 0, scale_slot = 0, neg_slot = 0;
  // The column-mask table holds mask_rows rows; the row masking keys >= s sits at slot
  // (s - mask_first) mod MLEN (see allocate), and the -1e30 row follows them.
  uint64_t mask_first = 0, mask_rows = 0;
  bool compact_masks = false;
  // Query row 0's mask row s(0) = (last_key(0) + 1) mod MLEN.
  static uint64_t first_mask_shift(bool causal, uint64_t q_len, uint64_t kv_len, uint64_t mlen) {
    return ((causal ? kv_len - q_len : kv_len - 1) + 1) % mlen;
  }
  uint64_t mask_row(uint64_t s) const { return mask_base + (s + mlen - mask_first) % mlen * vlen; }
  uint64_t neg_row() const { return mask_base + mask_rows * vlen; }
  uint64_t fp_free = 0, q_chunk = 0, hpass = 0, m_slot = 0, l_slot = 0, qx_rows = 0, qx_base = 0;
  // Decode with heads as rows (q_len = 1, combined K|V, one pass): the unit's query heads are the
  // rows of BLEN-row groups, so one S product serves BLEN heads; O accumulates per head row in
  // `<name>.ox` (row k = head k of the unit at its O columns) and the KV prefetches alternate
  // between the two MRAM buffers, one prefetch ahead of the products.
  bool head_rows = false;
  uint64_t ox_base = 0;
  std::string n_ox;
  // Running max and sum in VRAM (attn::Schedule::vram_stats): row (i, k) of the chunk's query i and
  // pass head k holds m at stats_base + (2 (i hpass + k)) VLEN and l one row later, each broadcast
  // over the row; a zero row follows them. In FP SRAM they sit at slots m_slot / l_slot + k q_chunk + i.
  bool vstats = false;
  uint64_t stats_base = 0;
  uint64_t zero_row() const { return stats_base + 2 * q_chunk * hpass * vlen; }
  // Distance between consecutive query rows' statistics (r_idx steps), and a head's m and l offsets.
  uint64_t idx_step() const { return vstats ? 2 * hpass * vlen : 1; }
  uint64_t m_off(uint64_t k) const { return vstats ? 2 * k * vlen : m_slot + k * q_chunk; }
  uint64_t l_off(uint64_t k) const { return vstats ? (2 * k + 1) * vlen : l_slot + k * q_chunk; }
  uint64_t idx_base() const { return vstats ? stats_base : 0; }

 private:
  void check_args(const config::HardwareConfig& cfg);
  void check_tensors(const config::HardwareConfig& cfg, MemoryPlan& plan);
  void allocate(MemoryPlan& plan);
  bool broadcast_fits(const config::HardwareConfig& cfg, const MemoryPlan& plan, bool ones_room) const;
};

AttentionSetup::AttentionSetup(const config::HardwareConfig& cfg, MemoryPlan& plan, const AttentionArgs& args)
    : a(args) {
  mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen, hlen = cfg.geometry.hlen;
  check_args(cfg);
  check_tensors(cfg, plan);
  allocate(plan);
}

void AttentionSetup::check_args(const config::HardwareConfig& cfg) {
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
  hd = a.head_dim;
  kv = kv_cache_layout(cfg, a.batch, a.num_kv_heads, capacity, hd, a.kv_combined);
  hm = head_map(cfg, a);
  ub = hm.unit_blocks;
  sub_cols = std::min(hd, mlen) / blen;
}

void AttentionSetup::check_tensors(const config::HardwareConfig& cfg, MemoryPlan& plan) {
  const std::string_view kn = a.name;
  const uint64_t width = a.num_heads * hd, kvw = kv.width;
  // O is written while later KV tiles still read Q, so they must be different tensors.
  if (a.q == a.out) fail(kn, fmt::format("Q and O must be different VRAM tensors (both are '{}')", a.q));
  q = &plan.vram(a.q);
  o = &plan.vram(a.out);
  const uint64_t rows_need = attention_rows_alloc(cfg, a.batch, a.q_len);
  for (const VramTensor* t : {q, o}) {
    if (t->cols < width)  // more: a projection padded to MLEN (those columns are not touched)
      fail(kn, fmt::format("VRAM tensor '{}' has {} columns, expected at least num_heads * head_dim = {}", t->name,
                           t->cols, width));
    if (t->rows < a.batch * a.q_len || t->rows_alloc < rows_need)
      fail(kn, fmt::format("VRAM tensor '{}' has {} rows ({} allocated), expected >= {} rows and >= {} allocated "
                           "(attention_rows_alloc)",
                           t->name, t->rows, t->rows_alloc, a.batch * a.q_len, rows_need));
  }
  if (a.kv_combined && a.k_cache != a.v_cache)
    fail(kn, fmt::format("combined K|V rows need k_cache == v_cache (got '{}' and '{}')", a.k_cache, a.v_cache));
  kt = &plan.hbm(a.k_cache);
  vt = &plan.hbm(a.v_cache);
  for (const HbmTensor* t : {kt, vt}) {
    if (t->rows != kv.rows() || t->cols != kvw || !(t->format == cfg.formats.m_kv))
      fail(kn, fmt::format("HBM tensor '{}' is [{}, {}] in {}, expected the KV cache layout [{}, {}] in formats.m_kv = {}",
                           t->name, t->rows, t->cols, t->format.name(), kv.rows(), kvw, cfg.formats.m_kv.name()));
  }
  if (kt->row_stride != vt->row_stride || kt->scale_reg != vt->scale_reg)
    fail(kn, "K and V caches must have identical layouts");
  if (!a.copy_tile.empty()) {  // RoPE's swap tile, left in MRAM, replaces the identity
    if (!hm.copy_q || !a.kv_combined)
      fail(kn, fmt::format("copy_tile '{}' needs head_dim {} < MLEN and combined K|V rows", a.copy_tile, hd));
    if (!plan.mram_space().contains(a.copy_tile) || plan.mram(a.copy_tile).tiles < tiles_per_prefetch(cfg))
      fail(kn, fmt::format("copy_tile '{}' is not an MRAM allocation of {} tile(s) (RopeArgs::keep_swap leaves one)",
                           a.copy_tile, tiles_per_prefetch(cfg)));
  } else if (hm.copy_q) {
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
  head_masks = hd < vlen;
  if (head_masks && vlen / hlen > 32)
    fail(kn, fmt::format("VLEN / HLEN = {} exceeds the 32 V_MASK bits", vlen / hlen));
  tpp = tiles_per_prefetch(cfg);
}

// MRAM for one whole prefetch of K and V per unit block, VRAM for S, P V, the mask tables and the
// copied Q, FP SRAM for the running max and sum of every (head, row) of a pass.
void AttentionSetup::allocate(MemoryPlan& plan) {
  n_k = a.name + ".k", n_v = a.name + ".v", n_s = a.name + ".s", n_pv = a.name + ".pv", n_mask = a.name + ".mask",
  n_m = a.name + ".m", n_l = a.name + ".l", n_qx = a.name + ".qx", n_st = a.name + ".stats";
  n_ones = a.name + ".ones", n_lsum = a.name + ".lsum", n_s2 = a.name + ".s2";
  mk = &plan.alloc_mram(n_k, ub * tpp);
  // With combined rows the second buffer only holds the copy tile: RoPE's, when it left one.
  mv = a.copy_tile.empty() ? &plan.alloc_mram(n_v, ub * tpp) : &plan.mram(a.copy_tile);
  v_tiles = kv.combined() ? mk : mv;
  id_tile = kv.combined() ? mv : mk;
  s_base = plan.alloc_vram(n_s, blen, mlen).base();
  pv_base = plan.alloc_vram(n_pv, blen, ub * mlen).base();  // ub blocks of BLEN rows
  low_masks = window_lowest_key(a, a.q_len - 1) > 0;
  // Query row i adds mask row s(i) = (last_key(i) + 1) mod MLEN, and s(i) = s(0) + i (mod MLEN). Up
  // to MLEN rows, the table holds only those: row i's mask at slot i, built with shift s(0) + i, so
  // its addresses do not move with kv_len (a decode step's program then differs from the next
  // one's only in values: the KV store offset and this shift). The window's low masks are built
  // from the full table (rows s = 0..MLEN-1 at slot s). Then the -1e30 row; with low_masks, rows
  // MLEN+1+s mask keys < s.
  compact_masks = !low_masks && a.q_len <= mlen;
  mask_first = compact_masks ? first_mask_shift(a.causal, a.q_len, a.kv_len, mlen) : 0;
  mask_rows = compact_masks ? (a.causal ? a.q_len : 1) : mlen;
  mask_base = plan.alloc_vram(n_mask, mask_rows + 1 + (low_masks ? mlen : 0), vlen).base();
  low_base = neg_row() + vlen;
  const float scale = float(1.0 / std::sqrt(double(a.scale_head_dim ? a.scale_head_dim : hd)));
  scale_slot = plan.fp_constant("attn_scale", scale);
  neg_slot = plan.fp_constant("neg_large", -1.0e30f);
  // Query chunks x head passes whose running max and sum fit in FP SRAM.
  fp_free = plan.fp_space().largest_free();
  const uint64_t vram_budget = std::min(a.stats_vram_rows, plan.vram_space().largest_free());
  const uint64_t mram_free = plan.mram_space().largest_free();
  own_ones = mram_free >= tpp;
  Schedule sch = attention_schedule(plan.config(), a, hm, fp_free, vram_budget, own_ones || kv.combined());
  const uint64_t blocks = row_sum_blocks(plan.config(), a);
  if (sch.row_sums && (hm.max_unit_heads + blocks) * round_up(sch.q_chunk, blen) > plan.vram_space().largest_free())
    sch = attention_schedule(plan.config(), a, hm, fp_free, vram_budget, false);
  bscores = broadcast_fits(plan.config(), plan, own_ones || kv.combined());
  if (bscores) sch = {a.q_len, hm.max_unit_heads, false, true};
  q_chunk = sch.q_chunk, hpass = sch.heads_per_pass, vstats = sch.vram_stats, rsum = sch.row_sums;
  if (q_chunk == 0)
    fail(a.name, fmt::format("needs 2 * min(q_len, BLEN) = {} free FP SRAM entries for the running max and sum, {} free",
                             2 * std::min(a.q_len, blen), plan.fp_space().largest_free()));
  if (rsum) {
    ones = own_ones ? &plan.alloc_mram(n_ones, tpp) : id_tile;
    own_ones = ones != id_tile;
    lsum_rows = round_up(q_chunk, blen);
    lsum_base = plan.alloc_vram(n_lsum, blocks * lsum_rows, vlen).base();
    s2_base = plan.alloc_vram(n_s2, blen, mlen).base();
    n_bs = a.name + ".bs";
    if (bscores) bs_base = plan.alloc_vram(n_bs, plan.config().geometry.broadcast_amount * mlen, vlen).base();
  } else if (vstats) {
    stats_base = plan.alloc_vram(n_st, vram_stats_rows(q_chunk, hpass), vlen).base();
  } else {
    m_slot = plan.alloc_fp_scratch(n_m, hpass * q_chunk);
    l_slot = plan.alloc_fp_scratch(n_l, hpass * q_chunk);
  }
  // Q heads copied next to their kv head (head_dim < MLEN): one VLEN block per head of a unit,
  // copied once per query chunk for all passes (the identity tile shares the K tiles' MRAM).
  qx_rows = round_up(q_chunk, blen);
  qx_base = hm.copy_q && !bscores ? plan.alloc_vram(n_qx, hm.max_unit_heads * qx_rows, vlen).base() : 0;
  head_rows = a.q_len == 1 && hm.copy_q && kv.combined() && ub == 1 && !vstats && hpass >= hm.max_unit_heads;
  n_ox = a.name + ".ox";
  if (head_rows) ox_base = plan.alloc_vram(n_ox, round_up(hm.max_unit_heads, blen), vlen).base();
}

// Broadcast scores apply to a row-sum prefill of one chunk (q_len <= MLEN) whose heads are the
// HLEN segments M_BTMM reads (head_dim = HLEN, BROADCAST * HLEN = VLEN), with bmm_scale 1 (S keeps
// its bits: the same f32 products in the same order as M_TMM over the copied Q row, whose other
// columns are zeros), Q rows readable MLEN deep in place (rows_alloc), and VRAM for the
// BROADCAST x MLEN score rows and the row sums.
bool AttentionSetup::broadcast_fits(const config::HardwareConfig& cfg, const MemoryPlan& plan, bool ones_room) const {
  const uint64_t bcast = cfg.geometry.broadcast_amount;
  if (!row_sums_apply(cfg, a, hm, ones_room) || hd != hlen || bcast * hlen != vlen || cfg.compute.bmm_scale != 1.0)
    return false;
  if (a.q_len > mlen || (a.max_q_chunk && a.max_q_chunk < a.q_len) || !a.copy_tile.empty()) return false;
  if ((a.batch - 1) * a.q_len + mlen > q->rows_alloc) return false;
  const uint64_t need = bcast * mlen + row_sum_blocks(cfg, a) * round_up(a.q_len, blen) + 3 * blen;
  return plan.vram_space().largest_free() >= need;
}

void AttentionSetup::release(MemoryPlan& plan) const {
  if (head_rows) plan.free_vram(n_ox);
  if (hm.copy_q && !bscores) plan.free_vram(n_qx);
  if (bscores) plan.free_vram(n_bs);
  if (rsum) {
    plan.free_vram(n_s2);
    plan.free_vram(n_lsum);
    if (own_ones) plan.free_mram(n_ones);
  } else if (vstats) {
    plan.free_vram(n_st);
  } else {
    plan.free_fp_scratch(n_l);
    plan.free_fp_scratch(n_m);
  }
  plan.free_vram(n_mask);
  plan.free_vram(n_pv);
  plan.free_vram(n_s);
  plan.free_mram(a.copy_tile.empty() ? n_v : a.copy_tile);
  plan.free_mram(n_k);
}

// One query head of the current pass and chunk.
struct Head {
  uint64_t h = 0, k = 0;        // head index; index within the pass (FP SRAM slots k * q_chunk + i)
  uint64_t q_row0 = 0;          // the chunk's first Q row the S product reads (Q or the copied Qx)
  uint64_t q_stride = 0;        // element distance between the head's Q column blocks
  uint64_t o_row0 = 0, o_q = 0; // the chunk's first O row in the head's first block; column offset
  uint64_t v_col = 0;           // the kv head's first column inside the V tile's block
  uint64_t vmask = 0;
};

// How a row group of the current chunk meets a KV tile.
struct GroupKind {
  int kind = 0;  // 0 skip, 1 uniform (a hardware loop), 2 static (rows one by one)
  uint64_t s0 = 0, d = 0;  // uniform: row k sees s0 + k * d keys
  // BLEN-wide S column blocks [c_lo, c_hi) some row of the group sees; the others are masked for
  // every row, so their products are skipped (causal diagonal, window edge).
  uint64_t c_lo = 0, c_hi = 0;
  // Uniform but for the last row, which sees the whole tile and adds no mask (the causal diagonal's
  // last group of a one-tile prefill; broadcast scores only, whose rows are straight-line).
  bool open_last = false;
};

class FlashAttentionEmitter {
 public:
  FlashAttentionEmitter(ProgramBuilder& b, const AttentionSetup& s);
  void emit();

 private:
  GpReg at(const ScopedGp& r, uint64_t v) {
    b_.load_imm(r, v);
    return r;
  }
  // Phases.
  void build_masks();
  void bind_caches();
  void set_cache_regs();
  void emit_unit(uint64_t bi, uint64_t u);
  // Decode with heads as rows (AttentionSetup::head_rows).
  void emit_unit_rows(uint64_t bi, uint64_t u);
  void copy_q_rows();
  void init_rows();
  void prefetch_rows(uint64_t p);
  void compute_rows(uint64_t p);
  void tile_rows(uint64_t t, const MramBlock& buf);
  void normalize_rows();
  // Prefetches alternate between the buffers unless RoPE's copy tile in the second one must survive
  // for another sequence or unit.
  bool rows_ahead() const { return a_.copy_tile.empty() || (a_.batch == 1 && s_.hm.units == 1); }
  const MramBlock& rows_buffer(uint64_t p) const { return rows_ahead() && p % 2 == 1 ? *s_.mv : *s_.mk; }
  void make_heads(uint64_t bi, uint64_t h_lo, uint64_t p0, uint64_t p1);
  void copy_q();
  ScopedHbm prefetch_identity();
  void emit_chunk(uint64_t bi);
  void init_running_state();
  void stream_tiles();
  void normalize_output();
  void tile_body(uint64_t t);
  void head_tile(uint64_t t);
  void uniform_groups(uint64_t t, uint64_t g, uint64_t g1, const GroupKind& k);
  GroupKind classify(uint64_t g, uint64_t t) const;
  void score_cols(uint64_t g, uint64_t t, GroupKind& k) const;
  void group_body(uint64_t t, const GroupKind& k, bool full, uint64_t i0, uint64_t i1, const GpReg* mask_g = nullptr,
                  const GpReg* mask_row = nullptr, uint64_t mask_step = 0);
  void group_scores(uint64_t tile, const GroupKind& k);
  void group_pv(uint64_t tile, bool first);
  void group_row_sums(bool s_in_rb = false);
  void load_ones(const ScopedHbm& ai);
  void load_ones_once();
  void normalize_by_row_sums();
  void row_update(uint64_t s, bool first, const GpReg* mask = nullptr, uint64_t from = 0);
  void rescale_row(bool first);
  void row_add_pv();
  // The row registers a rows loop walks: the S row always, the statistics index and the O row
  // only where it uses them (the first tile's updates leave O alone; P V adds need no statistics).
  void advance_row(bool stats, bool o);
  GpReg o_block(uint64_t cb);
  void load_stat(const ScopedFp& f, uint64_t off, bool is_max);
  void store_stat(const ScopedFp& f, uint64_t off);
  void start_rows(bool stats, bool o);
  void set_group(uint64_t g);
  void set_group_outputs(uint64_t g);
  void open_last_row(uint64_t g, uint64_t t, GroupKind& k) const;
  void next_group();
  void select_head(const Head& hh);
  // Tile geometry of the current chunk.
  uint64_t visible(uint64_t i, uint64_t t) const;
  uint64_t visible_from(uint64_t i, uint64_t t) const;
  bool tile_full(uint64_t t) const;

  ProgramBuilder& b_;
  const AttentionSetup& s_;
  const AttentionArgs& a_;
  RegisterAllocator::KernelScope kscope_;
  // Scratch address registers and the loop-carried address registers (names say what they hold).
  ScopedGp ra, rb, r_e, r_q, r_o, r_g, r_srow, r_idx, r_orow;
  ScopedFp f_scale, f_m, f_mold, f_a, f_l, f_neg;
  ScopedHbm ak, av;
  uint64_t o_bstride = 0, q_bstride = 0, n_tiles = 0;
  uint32_t rmask = 0;  // V_MASK operand of O updates
  // Current query chunk [qc0, qc0 + qcn) and its row groups.
  uint64_t qc0 = 0, qcn = 0, groups = 0;
  // The chunk's first KV tile: every row's first visible tile when they agree (its P V then
  // writes O directly), else no_tile (O, m and l are initialised before the tiles).
  uint64_t first_tile = 0;
  static constexpr uint64_t no_tile = ~uint64_t(0);
  uint64_t unit_block0 = 0;  // the current unit's first column block of the cache
  uint64_t unit_ = 0;        // the current unit
  // Which (sequence, unit, first tile) the K and V MRAM buffers hold after a stream that fit in one
  // whole-tile prefetch (no_tile: unknown, or the identity tile); the current chunk's stream
  // prefetches K (V) only when it differs.
  uint64_t res_k_ = no_tile, res_v_ = no_tile;
  bool load_k_ = true, load_v_ = true;
  bool setup_after_kv_ = false;  // the ones tile and mask table wait for the first K|V prefetch
  uint64_t t_begin = 0;      // the chunk's first streamed tile (a whole-prefetch boundary)
  std::vector<Head> heads;   // the current pass's heads
  const Head* cur = nullptr;
  uint64_t lsum_row0 = 0;  // row sums: the current head's first row-sum row of the chunk
  uint64_t cur_s = 0;      // the S buffer the current group's rows and products use
  // Row sums: one computed (head, row group) of a tile, in emission order.
  struct Item {
    const Head* head = nullptr;
    uint64_t g = 0;
    GroupKind k;
  };
  void pipelined_tile(uint64_t t);
  void broadcast_tile(uint64_t t);
  void item_products(const Item& it, uint64_t tile);
  void rows_with_next_scores(uint64_t t, const Item& it, const Item* next, uint64_t next_s);
  void next_scores_begin(const Item& next, uint64_t next_s);
  void next_scores_zeros(const Item& next);
  void next_score_block(uint64_t c, uint64_t tile);
  struct RowSpec {
    uint64_t s = 0, from = 0;  // visible keys (0: none) and the window's first key in the tile
  };
  void softmax_rows(const std::vector<RowSpec>& rows, const GpReg* mask, uint64_t mask_step,
                    const std::function<void(uint64_t)>& after = {}, uint64_t open_tail = 0);
};

FlashAttentionEmitter::FlashAttentionEmitter(ProgramBuilder& b, const AttentionSetup& s)
    : b_(b),
      s_(s),
      a_(s.a),
      kscope_(b.kernel(s.a.name)),
      ra(b.regs().gp("address a")),
      rb(b.regs().gp("address b")),
      r_e(b.regs().gp("cache row element offset")),
      r_q(b.regs().gp("group Q row")),
      r_o(b.regs().gp("group O row")),
      r_g(b.regs().gp("group first query index")),
      r_srow(b.regs().gp("S row")),
      r_idx(b.regs().gp("query index")),
      r_orow(b.regs().gp("O row")),
      f_scale(b.regs().fp("softmax scale")),
      f_m(b.regs().fp("running max")),
      f_mold(b.regs().fp("previous max")),
      f_a(b.regs().fp("rescale factor")),
      f_l(b.regs().fp("running sum")),
      f_neg(b.regs().fp("-1e30")),
      ak(b.regs().hbm("K cache")),
      av(b.regs().hbm("V cache")) {
  o_bstride = s.o->rows_alloc * s.vlen;
  q_bstride = s.q->rows_alloc * s.vlen;
  cur_s = s.s_base;
  n_tiles = ceil_div(a_.kv_len, s.mlen);
  rmask = s.head_masks ? 1 : 0;
}

void FlashAttentionEmitter::emit() {
  b_.comment(fmt::format("{}: batch {}, q_len {}, kv_len {}, heads {}/{} (kv), head_dim {}, {}{}; {} heads per pass, "
                         "chunks of {} rows",
                         a_.name, a_.batch, a_.q_len, a_.kv_len, a_.num_heads, a_.num_kv_heads, s_.hd,
                         a_.causal ? "causal" : "non-causal",
                         a_.sliding_window ? fmt::format(", window {}", a_.sliding_window) : std::string(), s_.hpass,
                         s_.q_chunk));
  b_.s_ld_fp(f_scale, at(ra, s_.scale_slot), 0);
  // Broadcast scores of one sequence: the K|V prefetch goes first (tile_body), then the ones tile
  // and the mask table, which therefore build while the tile lands; the ones tile lands under the
  // first M_BTMM (the row sums need it only after `lead` items).
  setup_after_kv_ = s_.bscores && a_.batch == 1;
  if (!setup_after_kv_) build_masks();
  bind_caches();
  if (!setup_after_kv_) load_ones_once();
  // Every sequence has the same lengths: the same code shape, counted once.
  b_.repeat(a_.batch, [&](uint64_t bi) {
    for (uint64_t u = 0; u < s_.hm.units; ++u) {
      if (s_.head_rows)
        emit_unit_rows(bi, u);
      else
        emit_unit(bi, u);
    }
  });
  if (s_.head_masks) b_.set_v_mask(0);
}

// Row sums with their own ones block, or with no Q copy to evict it: loaded once per call.
void FlashAttentionEmitter::load_ones_once() {
  if (!s_.rsum || !(s_.own_ones || s_.bscores)) return;
  auto ai = b_.regs().hbm("identity");
  b_.set_addr_reg(ai, s_.idt->base);
  load_ones(ai);
}

// ---- the mask table: row s has -1e30 in columns >= s (V_SHFT_V of a -1e30 row) ----
// The -1e30 row is 0 * Q row + (-1e30): Q is finite, and no -inf is ever multiplied.
void FlashAttentionEmitter::build_masks() {
  const uint64_t mlen = s_.mlen, vlen = s_.vlen;
  b_.stage(a_.name + ": column masks");
  b_.s_ld_fp(f_neg, at(ra, s_.neg_slot), 0);
  if (s_.vstats) b_.v_mul_vf(at(ra, s_.zero_row()), at(rb, s_.q->block_address(0)), f0);  // the stores' zero row
  b_.v_mul_vf(at(ra, s_.neg_row()), at(rb, s_.q->block_address(0)), f0);
  b_.v_add_vf(ra, ra, f_neg);
  // Slots 0.. take shifts mask_first..MLEN-1, then 0.. (the table wraps around MLEN).
  const uint64_t upper = std::min(s_.mask_rows, mlen - s_.mask_first);
  b_.load_imm(rb, s_.mask_base);
  if (s_.compact_masks)  // the shift moves with the step's position (ModelCompiler patches it)
    b_.load_step_imm(r_idx, [causal = a_.causal, q = a_.q_len, kv = a_.kv_len, mlen](int64_t d) {
      return AttentionSetup::first_mask_shift(causal, q, uint64_t(int64_t(kv) + d), mlen);
    });
  else
    b_.load_imm(r_idx, s_.mask_first);
  auto shifted_rows = [&](uint64_t count) {
    b_.loop(count, [&] {
      b_.v_shft_v(rb, ra, r_idx);
      b_.add_imm(rb, rb, vlen);
      b_.add_imm(r_idx, r_idx, 1);
    });
  };
  shifted_rows(upper);
  if (upper < s_.mask_rows) {
    b_.load_imm(r_idx, 0);
    shifted_rows(s_.mask_rows - upper);
  }
  if (s_.low_masks) {
    // low[s] = -1e30 row - mask[s]: -1e30 in columns < s, exactly 0 from s on.
    b_.load_imm(rb, s_.mask_base);
    b_.load_imm(r_idx, s_.low_base);
    b_.loop(mlen, [&] {
      b_.v_sub_vv(r_idx, ra, rb);
      b_.add_imm(rb, rb, vlen);
      b_.add_imm(r_idx, r_idx, vlen);
    });
  }
}

// HBM: both caches share SCALE_REG / STRIDE_REG (identical layouts); the identity tile's
// prefetch switches them briefly.
void FlashAttentionEmitter::bind_caches() {
  b_.set_addr_reg(ak, s_.kt->base);
  b_.set_addr_reg(av, s_.vt->base);
  set_cache_regs();
}

void FlashAttentionEmitter::set_cache_regs() {
  b_.set_scale_reg(s_.kt->scale_reg);
  b_.set_stride_reg(s_.kt->row_stride);
}

// One column-block unit of one sequence: per query chunk, the Q copy (head_dim < MLEN) and the
// head passes.
void FlashAttentionEmitter::emit_unit(uint64_t bi, uint64_t u) {
  const HeadMap& hm = s_.hm;
  unit_block0 = hm.first_block(u);
  unit_ = u;
  const uint64_t h_lo = hm.kv_lo(u, a_) * hm.rep, h_hi = hm.kv_hi(u, a_) * hm.rep;
  for (qc0 = 0; qc0 < a_.q_len; qc0 += s_.q_chunk) {
    qcn = std::min(s_.q_chunk, a_.q_len - qc0);
    groups = ceil_div(qcn, s_.blen);
    if (hm.copy_q && !s_.bscores) {
      b_.stage(fmt::format("{}: sequence {} rows {}.. heads {}..{}: Q next to the kv heads", a_.name, bi, qc0, h_lo,
                           h_hi - 1));
      make_heads(bi, h_lo, h_lo, h_hi);
      copy_q();
    }
    // Passes of a whole hpass heads emit the same code shape (counted once), then the remainder.
    // The first pass may prefetch tiles that the later ones find resident: emitted on its own.
    const uint64_t full = (h_hi - h_lo) / s_.hpass;
    auto pass = [&](uint64_t p0) {
      const uint64_t p1 = std::min(h_hi, p0 + s_.hpass);
      b_.stage(fmt::format("{}: sequence {} rows {}.. heads {}..{} (kv column block {})", a_.name, bi, qc0, p0, p1 - 1,
                           unit_block0));
      make_heads(bi, h_lo, p0, p1);
      emit_chunk(bi);
    };
    if (full > 0) pass(h_lo);
    if (full > 1) b_.repeat(full - 1, [&](uint64_t i) { pass(h_lo + (i + 1) * s_.hpass); });
    if (h_lo + full * s_.hpass < h_hi) pass(h_lo + full * s_.hpass);
  }
}

// Heads [p0, p1) of the unit starting at head h_lo: the pass's Head records (Qx block h - h_lo).
void FlashAttentionEmitter::make_heads(uint64_t bi, uint64_t h_lo, uint64_t p0, uint64_t p1) {
  const uint64_t hd = s_.hd, vlen = s_.vlen;
  heads.clear();
  for (uint64_t h = p0; h < p1; ++h) {
    Head hh;
    hh.h = h;
    hh.k = h - p0;
    const uint64_t col0 = h * hd, kvh = h / s_.hm.rep, qb0 = col0 / vlen;
    hh.o_q = s_.head_masks ? col0 % vlen : 0;
    hh.o_row0 = s_.o->block_address(qb0) + (bi * a_.q_len + qc0) * vlen;
    hh.v_col = s_.hm.copy_q ? s_.kv.col(kvh) % s_.mlen : 0;
    if (s_.hm.copy_q && !s_.bscores) {
      hh.q_row0 = s_.qx_base + (h - h_lo) * s_.qx_rows * vlen;
      hh.q_stride = 0;
    } else {
      hh.q_row0 = s_.q->block_address(qb0) + (bi * a_.q_len + qc0) * vlen;
      hh.q_stride = q_bstride;
    }
    hh.vmask = s_.head_masks ? ((uint64_t(1) << (hd / s_.hlen)) - 1) << (hh.o_q / s_.hlen) : 0;
    heads.push_back(hh);
  }
}

// The identity tile for the Q copy, unless RoPE left its swap tile (AttentionArgs::copy_tile).
ScopedHbm FlashAttentionEmitter::prefetch_identity() {
  if (!a_.copy_tile.empty()) return {};
  auto ai = b_.regs().hbm("identity");
  b_.set_addr_reg(ai, s_.idt->base);
  b_.set_scale_reg(s_.idt->scale_reg);
  b_.set_stride_reg(s_.idt->row_stride);
  b_.h_prefetch_m(at(ra, s_.id_tile->tile_address(0)), gp0, ai, 1, 0);
  set_cache_regs();
  return ai;  // kept by the caller when the ones tile follows from the same tensor
}

// Copies the unit's query heads next to their kv head's columns (Qx rows = the chunk's rows,
// one VLEN block per head, zeros outside the head): M_MM with the identity tile, exact.
void FlashAttentionEmitter::copy_q() {
  const uint64_t mlen = s_.mlen, blen = s_.blen, vlen = s_.vlen;
  ScopedHbm ai = prefetch_identity();
  if (s_.id_tile == s_.mk) res_k_ = no_tile;  // the identity replaced the K tiles
  for (const Head& hh : heads) {
    const uint64_t col0 = hh.h * s_.hd, o_h = col0 % vlen;
    b_.load_imm(r_q, s_.q->block_address(col0 / vlen) + (hh.o_row0 - s_.o->block_address(col0 / vlen)));
    b_.load_imm(r_o, hh.q_row0);
    b_.loop(groups, [&] {
      for (uint64_t c = 0; c < mlen / blen; ++c) {
        const uint64_t col = c * blen;
        if (col >= hh.v_col && col < hh.v_col + s_.hd)
          b_.m_mm(at(ra, s_.id_tile->tile_address(0) + (o_h + col - hh.v_col) * mlen), r_q);
        b_.add_imm(ra, r_o, col);
        b_.m_mm_wo(ra, gp0, 0);  // the zero accumulator outside the head
      }
      b_.add_imm(r_q, r_q, blen * vlen);
      b_.add_imm(r_o, r_o, blen * vlen);
    });
  }
  if (s_.rsum && !s_.own_ones) load_ones(ai);  // after the copy's reads of the shared block
}

// The all-ones tile from the identity tensor (its second whole-tile prefetch).
void FlashAttentionEmitter::load_ones(const ScopedHbm& ai) {
  b_.set_scale_reg(s_.idt->scale_reg);
  b_.set_stride_reg(s_.idt->row_stride);
  b_.h_prefetch_m(at(ra, s_.ones->tile_address(0)), at(rb, ones_tile_row(b_.config()) * s_.mlen), ai, 1, 0);
  set_cache_regs();
}

// One query chunk of one head pass: every KV tile, then O /= l per head.
void FlashAttentionEmitter::emit_chunk(uint64_t bi) {
  const uint64_t mlen = s_.mlen, tpp = s_.tpp;
  // Tiles wholly below every row's window are skipped (from a whole-prefetch boundary).
  const uint64_t ts0 = window_lowest_key(a_, qc0) / mlen, ts1 = window_lowest_key(a_, qc0 + qcn - 1) / mlen;
  t_begin = ts0 / tpp * tpp;
  first_tile = ts0 == ts1 ? ts0 : no_tile;
  // A stream within one whole-tile prefetch leaves its tiles in MRAM for the next pass or chunk.
  const bool fits = n_tiles - t_begin <= tpp;
  const uint64_t key = (bi * s_.hm.units + unit_) * n_tiles + t_begin;
  load_k_ = !(fits && res_k_ == key);
  load_v_ = !s_.kv.combined() && !(fits && res_v_ == key);  // combined: the K prefetch reads V too
  b_.load_imm(r_e, s_.kv.row(bi, t_begin * mlen) * s_.kv.width + unit_block0 * mlen);
  if (first_tile == no_tile) init_running_state();
  stream_tiles();
  normalize_output();
  res_k_ = res_v_ = fits ? key : no_tile;
}

// Rows start at different tiles: O (head columns) = 0 by write-outs of the zero accumulator,
// m = -1e30 and l = 0, so each row's first tile is an ordinary update.
void FlashAttentionEmitter::init_running_state() {
  b_.s_ld_fp(f_m, at(ra, s_.neg_slot), 0);
  for (const Head& hh : heads) {
    b_.load_imm(r_o, hh.o_row0);
    b_.loop(groups, [&] {
      for (uint64_t cb = 0; cb < s_.ub; ++cb)
        for (uint64_t c = 0; c < s_.sub_cols; ++c) {
          b_.add_imm(ra, r_o, cb * o_bstride + hh.o_q + c * s_.blen);
          b_.m_mm_wo(ra, gp0, 0);
        }
      b_.add_imm(r_o, r_o, s_.blen * s_.vlen);
    });
  }
  if (s_.vstats) {  // every (row, head) pair of the pass: m row, then l row
    b_.load_imm(r_idx, s_.stats_base);
    b_.load_imm(rb, s_.zero_row());
    b_.loop(s_.hpass * s_.q_chunk, [&] {
      b_.v_add_vf(r_idx, rb, f_m);
      b_.add_imm(ra, r_idx, s_.vlen);
      b_.v_add_vf(ra, rb, f0);
      b_.add_imm(r_idx, r_idx, 2 * s_.vlen);
    });
    return;
  }
  b_.load_imm(r_idx, 0);
  b_.loop(heads.size() * s_.q_chunk, [&] {
    b_.s_st_fp(f_m, r_idx, uint32_t(s_.m_slot));
    b_.s_st_fp(f0, r_idx, uint32_t(s_.l_slot));
    b_.add_imm(r_idx, r_idx, 1);
  });
}

// Tiles: the first tile and the partially visible tiles are emitted one by one; the run of tiles
// that every row sees completely is a hardware loop over whole prefetches.
void FlashAttentionEmitter::stream_tiles() {
  const uint64_t tpp = s_.tpp;
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
      b_.loop((tf1 - tf0) / tpp, [&] {
        for (uint64_t u = 0; u < tpp; ++u) tile_body(tf0 + u);
      });
      t = tf1 - 1;
      continue;
    }
    tile_body(t);
  }
}

// O /= l.
void FlashAttentionEmitter::normalize_output() {
  if (s_.rsum) return normalize_by_row_sums();
  for (const Head& hh : heads) {
    select_head(hh);
    b_.load_imm(r_idx, s_.idx_base());
    b_.load_imm(r_orow, hh.o_row0);
    b_.loop(qcn, [&] {
      load_stat(f_l, s_.l_off(hh.k), false);
      b_.s_reci_fp(f_a, f_l);
      for (uint64_t cb = 0; cb < s_.ub; ++cb) {
        const GpReg ob = o_block(cb);
        b_.v_mul_vf(ob, ob, f_a, rmask);
      }
      b_.add_imm(r_idx, r_idx, s_.idx_step());
      b_.add_imm(r_orow, r_orow, s_.vlen);
    });
  }
}

// O /= l with the row sums: per Q block the pass's heads share, 1/l then O * (1/l) over all of
// them at once (V_MASK: their columns), as S_RECI_FP and V_MUL_VF would per head.
void FlashAttentionEmitter::normalize_by_row_sums() {
  const uint64_t vlen = s_.vlen;
  for (uint64_t qb = heads.front().h * s_.hd / vlen; qb <= (heads.back().h * s_.hd) / vlen; ++qb) {
    uint64_t mask = 0, o_row0 = 0;
    for (const Head& hh : heads)
      if (hh.h * s_.hd / vlen == qb) mask |= hh.vmask, o_row0 = hh.o_row0;
    if (mask == 0) continue;
    b_.set_v_mask(mask);
    b_.load_imm(r_idx, s_.lsum_base + qb * s_.lsum_rows * vlen);
    b_.load_imm(r_orow, o_row0);
    auto rows = [&](uint64_t n) {
      for (uint64_t i = 0; i < n; ++i) {
        b_.v_reci_v(r_idx, r_idx, 1);
        b_.v_mul_vv(r_orow, r_orow, r_idx, 1);
        b_.add_imm(r_idx, r_idx, vlen);
        b_.add_imm(r_orow, r_orow, vlen);
      }
    };
    // Four rows per iteration: the loop instruction is a fifth of an issue-bound row's cost.
    b_.loop(qcn / 4, [&] { rows(4); });
    rows(qcn % 4);
  }
}

// One KV tile: the unit's blocks of K and V when it starts a whole-tile prefetch, then every head
// of the pass.
void FlashAttentionEmitter::tile_body(uint64_t t) {
  const uint64_t mlen = s_.mlen, tpp = s_.tpp;
  if (t % tpp == 0) {
    for (uint64_t cb = 0; cb < s_.ub && (load_k_ || load_v_); ++cb) {
      b_.add_imm(rb, r_e, cb * mlen);
      if (load_k_) b_.h_prefetch_m(at(ra, s_.mk->tile_address(cb * tpp)), rb, ak, 1, 1);
      if (load_v_) b_.h_prefetch_m(at(ra, s_.mv->tile_address(cb * tpp)), rb, av, 1, 1);
    }
    b_.add_imm(r_e, r_e, tpp * mlen * s_.kv.width);
  }
  if (setup_after_kv_) {
    setup_after_kv_ = false;
    load_ones_once();
    build_masks();
  }
  if (s_.bscores) return broadcast_tile(t);
  if (s_.rsum) return pipelined_tile(t);
  // Every head of the pass emits the same code shape for the tile (head-specific values are
  // fixed-length loads and SRAM offsets): counted once.
  b_.repeat(heads.size(), [&](uint64_t i) {
    select_head(heads[i]);
    head_tile(t);
  });
}

// Row groups of the current head in tile t: runs of uniform groups (every row full, or a mask row
// that advances by `d` rows per query: d = 1 on the causal diagonal, 0 for a fixed KV tail) are
// hardware loops; the rest are emitted one by one.
void FlashAttentionEmitter::head_tile(uint64_t t) {
  for (uint64_t g = 0; g < groups; ++g) {
    const GroupKind k = classify(g, t);
    if (k.kind == 0) continue;  // the whole tile is in the future of this group, or below its window
    if (k.kind == 2) {
      const uint64_t i0 = qc0 + g * s_.blen, i1 = std::min(qc0 + qcn, i0 + s_.blen);
      set_group(g);
      group_body(t, k, false, i0, i1);
      continue;
    }
    uint64_t g1 = g + 1;
    for (; g1 < groups; ++g1) {
      const GroupKind n = classify(g1, t);
      if (n.kind != 1 || n.d != k.d || n.s0 != k.s0 + (g1 - g) * s_.blen * k.d || (n.s0 < s_.mlen) != (k.s0 < s_.mlen) ||
          n.c_lo != k.c_lo || n.c_hi != k.c_hi)
        break;
    }
    uniform_groups(t, g, g1, k);
    g = g1 - 1;
  }
}

// Row sums (the tile is every row's only one): the pass's computed (head, group) items in order,
// alternating between two S buffers; S of item j+1 is multiplied, one column block at a time,
// between pieces of item j's rows, so the matrix unit works under the softmax.
void FlashAttentionEmitter::pipelined_tile(uint64_t t) {
  std::vector<Item> items;
  for (const Head& hh : heads)
    for (uint64_t g = 0; g < groups; ++g)
      if (const GroupKind k = classify(g, t); k.kind != 0) items.push_back({&hh, g, k});
  if (items.empty()) return;
  const uint64_t bufs[2] = {s_.s_base, s_.s2_base}, tile = t % s_.tpp;
  next_scores_begin(items[0], bufs[0]);
  next_scores_zeros(items[0]);
  for (uint64_t c = items[0].k.c_lo; c < items[0].k.c_hi; ++c) next_score_block(c, tile);
  for (size_t j = 0; j < items.size(); ++j) {
    const Item& it = items[j];
    select_head(*it.head);
    set_group(it.g);
    cur_s = bufs[j % 2];
    rows_with_next_scores(t, it, j + 1 < items.size() ? &items[j + 1] : nullptr, bufs[(j + 1) % 2]);
    group_pv(tile, true);
    group_row_sums();
  }
  cur_s = s_.s_base;
}

// Broadcast scores: per (Q block, kv head) batch one M_BTMM gives S of every head of the block
// (BROADCAST x MLEN rows; the kv head's heads are read). The next batch's M_BTMM is issued before
// this batch's rows, so it runs under them; the items' P V and row sums wait until the vector
// unit has had about one M_BTMM's worth of rows (lead), then run two items per item's rows, so
// the in-order matrix queue never holds the front end (and the vector unit) behind the M_BTMM.
// The next batch's write-out follows this batch's products (it overwrites their P rows).
void FlashAttentionEmitter::broadcast_tile(uint64_t t) {
  const uint64_t mlen = s_.mlen, blen = s_.blen, tile = t % s_.tpp;
  struct Batch {
    uint64_t qb = 0, kvh = 0, q_row0 = 0;
    std::vector<Item> items;
  };
  std::vector<Batch> batches;
  for (const Head& hh : heads) {
    const uint64_t qb = hh.h * s_.hd / s_.vlen, kvh = hh.h / s_.hm.rep;
    if (batches.empty() || batches.back().qb != qb || batches.back().kvh != kvh)
      batches.push_back({qb, kvh, hh.q_row0, {}});
    for (uint64_t g = 0; g < groups; ++g)
      if (GroupKind k = classify(g, t); k.kind != 0) {
        open_last_row(g, t, k);
        batches.back().items.push_back({&hh, g, k});
      }
  }
  auto scores = [&](const Batch& bt) {
    b_.m_btmm(at(ra, s_.mk->tile_address(tile) + s_.kv.col(bt.kvh) % mlen), at(rb, bt.q_row0));
  };
  const auto& l = b_.config().latency;
  const uint64_t row_cycles = l.vector_mul + 2 * l.vector_add + l.vector_max + l.vector_exp;
  const uint64_t lead = ceil_div(l.systolic_overhead + l.matrix_bmm, blen * std::max<uint64_t>(1, row_cycles));
  scores(batches[0]);
  b_.m_bmm_wo(at(ra, s_.bs_base), 0);
  for (size_t j = 0; j < batches.size(); ++j) {
    const std::vector<Item>& items = batches[j].items;
    if (j + 1 < batches.size()) scores(batches[j + 1]);
    const uint64_t n = items.size();
    uint64_t done = 0;
    for (uint64_t k = 0; k < n; ++k) {
      const Item& it = items[k];
      select_head(*it.head);  // first-tile rows read only S (r_srow, r_q) and the mask row
      cur_s = s_.bs_base + ((it.head->h * s_.hd % s_.vlen) / s_.hd * mlen + it.g * blen) * s_.vlen;
      rows_with_next_scores(t, it, nullptr, 0);
      if (k + 1 < std::min(lead, n)) continue;
      // Spread the pending products over the items left (this one included).
      const uint64_t pending = k + 1 - done, rate = ceil_div(pending + (n - 1 - k), n - k);
      for (uint64_t e = 0; e < rate && done <= k; ++e) item_products(items[done++], tile);
    }
    if (j + 1 < batches.size()) b_.m_bmm_wo(at(ra, s_.bs_base), 0);
  }
  cur_s = s_.s_base;
}

// P V and the row sums of a broadcast-scores item (its S rows in the score buffer).
void FlashAttentionEmitter::item_products(const Item& it, uint64_t tile) {
  select_head(*it.head);
  set_group_outputs(it.g);
  cur_s = s_.bs_base + ((it.head->h * s_.hd % s_.vlen) / s_.hd * s_.mlen + it.g * s_.blen) * s_.vlen;
  group_pv(tile, true);
  group_row_sums(true);
}

// A causal group of a one-tile prefill whose rows see s0, s0 + 1, ..., MLEN keys: uniform (a mask
// row register stepping one row) but for its last row, which needs no mask.
void FlashAttentionEmitter::open_last_row(uint64_t g, uint64_t t, GroupKind& k) const {
  const uint64_t i0 = qc0 + g * s_.blen, i1 = std::min(qc0 + qcn, i0 + s_.blen);
  if (k.kind != 2 || !a_.causal || i1 - i0 != s_.blen || s_.blen < 2 || visible_from(i1 - 1, t) > 0) return;
  const uint64_t s0 = visible(i0, t);
  if (s0 == 0 || visible(i1 - 1, t) != s_.mlen || s0 + s_.blen - 1 != s_.mlen) return;
  k.kind = 1;
  k.s0 = s0;
  k.d = 1;
  k.open_last = true;
}

// The next item's S: its Q rows in r_idx, its buffer in r_orow (neither is used by first-tile
// rows).
void FlashAttentionEmitter::next_scores_begin(const Item& next, uint64_t next_s) {
  b_.load_imm(r_idx, next.head->q_row0 + next.g * s_.blen * s_.vlen);
  b_.load_imm(r_orow, next_s);
}

// The column blocks no row of the next item sees, written from the zero accumulator. They reuse
// the buffer the previous item's P V and row sums read, so they queue behind those products on
// the in-order matrix unit: issued after the first piece of rows, not before it, lest a full
// matrix queue stall the front end (and the vector unit) until those products start.
void FlashAttentionEmitter::next_scores_zeros(const Item& next) {
  for (uint64_t c = 0; c < s_.mlen / s_.blen; ++c)
    if (c < next.k.c_lo || c >= next.k.c_hi) {
      b_.add_imm(ra, r_orow, c * s_.blen);
      b_.m_mm_wo(ra, gp0, 0);
    }
}

// One BLEN-wide column block of the next item's S (a unit is one column block: head_dim < MLEN).
void FlashAttentionEmitter::next_score_block(uint64_t c, uint64_t tile) {
  const uint64_t mlen = s_.mlen, blen = s_.blen;
  b_.m_tmm(r_idx, at(rb, s_.mk->tile_address(tile) + c * blen * mlen));
  b_.add_imm(ra, r_orow, c * blen);
  b_.m_mm_wo(ra, gp0, 0);
}

// Item it's rows (S in cur_s) in nb + 1 pieces around the nb computed column blocks of the next
// item's S: the first piece, then per block the block and `per` rows. The last block is thus
// multiplied under rows of this item, not after them (the next item's rows need all of its S).
// A uniform group's blocks are one hardware loop whose body is the block then `per` rows (the
// phase overlaps them, as the units do); the rest are static.
void FlashAttentionEmitter::rows_with_next_scores(uint64_t t, const Item& it, const Item* next, uint64_t next_s) {
  const uint64_t blen = s_.blen, vlen = s_.vlen, tile = t % s_.tpp;
  const uint64_t i0 = qc0 + it.g * blen, i1 = std::min(qc0 + qcn, i0 + blen), n = i1 - i0;
  const uint64_t nb = next ? next->k.c_hi - next->k.c_lo : 0, c0 = next ? next->k.c_lo : 0;
  const uint64_t per = n / (nb + 1), first = per > 0 ? n - per * nb : n;
  if (next) next_scores_begin(*next, next_s);
  start_rows(false, false);
  // After the first piece: the zero blocks, then (static rows) block p after `per` more rows each.
  auto after_first = [&] {
    if (next) next_scores_zeros(*next);
    if (per == 0)
      for (uint64_t p = 0; p < nb; ++p) next_score_block(c0 + p, tile);
  };
  if (it.k.kind == 2) {
    std::vector<RowSpec> specs;
    for (uint64_t i = i0; i < i1; ++i) specs.push_back({visible(i, t), visible_from(i, t)});
    softmax_rows(specs, nullptr, 0, [&](uint64_t r) {
      if (r + 1 == first) after_first();
      if (per > 0 && r + 1 >= first && r + 1 < n && (r + 1 - first) % per == 0)
        next_score_block(c0 + (r + 1 - first) / per, tile);
    });
    return;
  }
  const bool masked = it.k.s0 < s_.mlen;
  std::optional<ScopedGp> mrow;
  if (masked) {
    mrow.emplace(b_.regs().gp("mask row"));
    b_.load_imm(*mrow, s_.mask_row(it.k.s0));
  }
  const GpReg mreg = masked ? GpReg(*mrow) : gp0;
  auto rows = [&](uint64_t count, uint64_t open_tail = 0) {
    softmax_rows(std::vector<RowSpec>(count, RowSpec{s_.mlen, 0}), masked ? &mreg : nullptr, it.k.d * vlen, {},
                 open_tail);
  };
  rows(first, it.k.open_last && !next ? 1 : 0);
  after_first();
  if (per == 0 || nb == 0) return;
  auto col = b_.regs().gp("next S column");
  b_.load_imm(col, c0 * blen);
  auto kaddr = b_.regs().gp("next K block");
  b_.load_imm(kaddr, s_.mk->tile_address(tile) + c0 * blen * s_.mlen);
  b_.loop(nb, [&] {
    b_.m_tmm(r_idx, kaddr);
    b_.s_add_int(ra, r_orow, col);
    b_.m_mm_wo(ra, gp0, 0);
    b_.add_imm(kaddr, kaddr, blen * s_.mlen);
    b_.add_imm(col, col, blen);
    rows(per);
  });
}

// First-tile updates of row-sum rows from r_srow on, software-pipelined: row k+1's scale, mask
// and max are issued before row k's exp, with m alternating between f_m and f_mold, so the front
// end does not wait for the V_RED_MAX it just issued. Even rows' S addresses are in r_srow, odd
// rows' in r_q (each steps two rows); r_srow ends at the row after the last. A row with s = 0 sees
// nothing and is skipped; `mask` (stepping by mask_step per row) replaces the static mask rows.
// after(k) runs once row k's exp is issued.
void FlashAttentionEmitter::softmax_rows(const std::vector<RowSpec>& rows, const GpReg* mask, uint64_t mask_step,
                                         const std::function<void(uint64_t)>& after, uint64_t open_tail) {
  const uint64_t vlen = s_.vlen, n = rows.size();
  const GpReg reg[2] = {r_srow, r_q};
  const FpReg fm[2] = {f_m, f_mold};
  b_.add_imm(r_q, r_srow, vlen);
  auto stage_a = [&](uint64_t k) {
    const GpReg row = reg[k % 2];
    const bool open = k + open_tail >= n;  // sees the whole tile: no mask row (nor its step)
    if (rows[k].s > 0) {
      b_.v_mul_vf(row, row, f_scale);
      if (mask) {
        if (!open) b_.v_add_vv(row, row, *mask);
      } else if (rows[k].s < s_.mlen) {
        b_.v_add_vv(row, row, at(ra, s_.mask_row(rows[k].s)));
      }
      if (rows[k].from > 0) b_.v_add_vv(row, row, at(ra, s_.low_base + rows[k].from * vlen));
      b_.s_add_fp(fm[k % 2], f_neg, f0);  // m starts at F(-1e30 + 0) = -1e30
      b_.v_red_max(fm[k % 2], row);
    }
    if (mask && !open) b_.add_imm(*mask, *mask, mask_step);
  };
  auto stage_b = [&](uint64_t k) {
    const GpReg row = reg[k % 2];
    if (rows[k].s > 0) {
      b_.v_sub_vf(row, row, fm[k % 2]);
      b_.v_exp_v(row, row);
    }
    b_.add_imm(row, row, 2 * vlen);
    if (after) after(k);
  };
  for (uint64_t k = 0; k < n; ++k) {
    stage_a(k);
    if (k > 0) stage_b(k - 1);
  }
  if (n > 0) stage_b(n - 1);
  if (n % 2) b_.add_imm(r_srow, r_q, 0);  // the odd register passed the next row
}

// Groups [g, g1) of kind k as one hardware loop (a mask row register when rows see part of the tile).
void FlashAttentionEmitter::uniform_groups(uint64_t t, uint64_t g, uint64_t g1, const GroupKind& k) {
  set_group(g);
  if (k.s0 == s_.mlen) {
    b_.loop(g1 - g, [&] {
      group_body(t, k, true, 0, 0);
      next_group();
    });
    return;
  }
  auto mask_g = b_.regs().gp("group mask row");
  auto mask_row = b_.regs().gp("mask row");
  b_.load_imm(mask_g, s_.mask_row(k.s0));
  const GpReg mg = mask_g, mr = mask_row;
  b_.loop(g1 - g, [&] {
    group_body(t, k, true, 0, 0, &mg, &mr, k.d * s_.vlen);
    next_group();
    b_.add_imm(mask_g, mask_g, s_.blen * k.d * s_.vlen);
  });
}

// The last key a row sees and its window's lowest key never decrease with the row, so a group is
// decided at its ends (O(log BLEN) per group and tile instead of a scan of its rows: a long
// prefill asks this for every group of every tile).
GroupKind FlashAttentionEmitter::classify(uint64_t g, uint64_t t) const {
  const uint64_t blen = s_.blen, mlen = s_.mlen, t0 = t * mlen;
  const uint64_t i0 = qc0 + g * blen, i1 = std::min(qc0 + qcn, i0 + blen);
  auto last_key = [&](uint64_t i) { return a_.causal ? a_.kv_len - a_.q_len + i : a_.kv_len - 1; };
  GroupKind k;
  // Some row sees part of the tile: the first row whose last key reaches the tile must still have
  // the tile's end above its window's lowest key.
  if (last_key(i1 - 1) < t0) return k;
  uint64_t lo = i0, hi = i1 - 1;  // first row with last_key >= t0
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (last_key(mid) >= t0) hi = mid; else lo = mid + 1;
  }
  if (window_lowest_key(a_, lo) >= t0 + mlen) return k;
  k.kind = 2;
  score_cols(g, t, k);
  if (i1 - i0 < blen || visible_from(i1 - 1, t) > 0) return k;
  // Every row sees from the tile's start: visible(i) = min(last_key(i) - t0 + 1, MLEN), affine in
  // the row unless it crosses MLEN or 0 inside the group.
  k.s0 = visible(i0, t);
  const uint64_t s_last = visible(i1 - 1, t);
  k.d = a_.causal && k.s0 < mlen && i1 - i0 > 1 ? 1 : 0;  // one-row groups are their own run
  if (k.s0 == 0 || s_last != k.s0 + (i1 - 1 - i0) * k.d) return k;
  const bool ok = (k.s0 == mlen && k.d == 0) || (k.s0 >= 1 && k.s0 + (blen - 1) * k.d < mlen);
  if (ok) k.kind = 1;
  return k;
}

// The S column blocks some row of group g sees in tile t: from the lowest key any row sees to
// the highest (a scan of at most BLEN rows, only for groups that are computed).
void FlashAttentionEmitter::score_cols(uint64_t g, uint64_t t, GroupKind& k) const {
  const uint64_t blen = s_.blen, i0 = qc0 + g * blen, i1 = std::min(qc0 + qcn, i0 + blen);
  uint64_t lo = s_.mlen, hi = 0;
  for (uint64_t i = i0; i < i1; ++i) {
    const uint64_t v = visible(i, t);
    if (v == 0) continue;
    lo = std::min(lo, visible_from(i, t));
    hi = std::max(hi, v);
  }
  k.c_lo = lo / blen;
  k.c_hi = ceil_div(hi, blen);
}

// One row group of the current head in tile t (group registers r_q, r_o, r_g already set).
// `full`: all BLEN rows see the whole tile, or (with `mask_g`) row k of the group adds the mask
// row at mask_g + k * mask_step: the rows become a hardware loop. Otherwise rows [i0, i1) are static.
void FlashAttentionEmitter::group_body(uint64_t t, const GroupKind& k, bool full, uint64_t i0, uint64_t i1,
                                       const GpReg* mask_g, const GpReg* mask_row, uint64_t mask_step) {
  const bool first = t == first_tile;
  const uint64_t tile = t % s_.tpp;
  const bool stats = !s_.rsum;
  group_scores(tile, k);
  start_rows(stats, !first);
  if (full && mask_g) {
    b_.add_imm(*mask_row, *mask_g, 0);
    b_.loop(s_.blen, [&] {
      row_update(0, first, mask_row);
      advance_row(stats, !first);
      b_.add_imm(*mask_row, *mask_row, mask_step);
    });
  } else if (full) {
    b_.loop(s_.blen, [&] {
      row_update(s_.mlen, first);
      advance_row(stats, !first);
    });
  } else {
    for (uint64_t i = i0; i < i1; ++i) {
      const uint64_t s = visible(i, t);
      if (s > 0) row_update(s, first, nullptr, visible_from(i, t));
      advance_row(stats, !first);
    }
  }
  group_pv(tile, first);
  if (s_.rsum) group_row_sums();
  if (first) return;
  start_rows(false, true);
  if (full) {
    b_.loop(s_.blen, [&] {
      row_add_pv();
      advance_row(false, true);
    });
  } else {
    for (uint64_t i = i0; i < i1; ++i) {
      if (visible(i, t) > 0) row_add_pv();
      advance_row(false, true);
    }
  }
}

// S[BLEN rows, MLEN keys] = Q_rows K_tile^T, summed over the head's column blocks. Column blocks
// no row of the group sees are written from the zero accumulator instead: every row masks them
// (adds -1e30, so they hold exactly -1e30 as with the product, and P is exp(-88) either way).
void FlashAttentionEmitter::group_scores(uint64_t tile, const GroupKind& k) {
  const uint64_t mlen = s_.mlen, blen = s_.blen;
  for (uint64_t c = 0; c < mlen / blen; ++c) {
    for (uint64_t cb = 0; cb < s_.ub && c >= k.c_lo && c < k.c_hi; ++cb) {
      b_.add_imm(ra, r_q, cb * cur->q_stride);
      b_.m_tmm(ra, at(rb, s_.mk->tile_address(cb * s_.tpp + tile) + c * blen * mlen));
    }
    b_.m_mm_wo(at(ra, s_.s_base + c * blen), gp0, 0);
  }
}

// P V (the kv head's columns of the V tile): the first tile writes O directly (every row sees
// it); later tiles go through the PV scratch and are added into the rescaled O.
// l of the group's rows: P x the all-ones tile (each output column = the f32 sum of the row, in
// V_RED_SUM's order), written over the head's columns of its row-sum rows (r_g).
void FlashAttentionEmitter::group_row_sums(bool s_in_rb) {
  for (uint64_t c = 0; c < s_.sub_cols; ++c) {
    b_.m_mm(at(ra, s_.ones->tile_address(0)), s_in_rb ? GpReg(rb) : at(rb, cur_s));
    b_.add_imm(ra, r_g, cur->o_q + c * s_.blen);
    b_.m_mm_wo(ra, gp0, 0);
  }
}

void FlashAttentionEmitter::group_pv(uint64_t tile, bool first) {
  const uint64_t mlen = s_.mlen, blen = s_.blen;
  for (uint64_t cb = 0; cb < s_.ub; ++cb)
    for (uint64_t c = 0; c < s_.sub_cols; ++c) {
      b_.m_mm(at(ra, s_.v_tiles->tile_address(cb * s_.tpp + tile) + (s_.kv.v_col0 + cur->v_col + c * blen) * mlen),
              at(rb, cur_s));
      if (first)
        b_.add_imm(ra, r_o, cb * o_bstride + cur->o_q + c * blen);
      else
        b_.load_imm(ra, s_.pv_base + cb * blen * s_.vlen + cur->o_q + c * blen);
      b_.m_mm_wo(ra, gp0, 0);
    }
}

// Online-softmax update of one query row: S row at r_srow, query index in r_idx, O row at r_orow.
// `s` = visible keys (< MLEN adds the column mask row s), or `mask`: a register holding the mask
// row's address; `from` > 0 adds the window mask row; `first` = the first tile.
void FlashAttentionEmitter::row_update(uint64_t s, bool first, const GpReg* mask, uint64_t from) {
  const uint64_t vlen = s_.vlen;
  b_.v_mul_vf(r_srow, r_srow, f_scale);
  if (mask)
    b_.v_add_vv(r_srow, r_srow, *mask);
  else if (s < s_.mlen)
    b_.v_add_vv(r_srow, r_srow, at(ra, s_.mask_row(s)));
  if (from > 0) b_.v_add_vv(r_srow, r_srow, at(ra, s_.low_base + from * vlen));
  rescale_row(first);
  if (s_.rsum) return;  // the row's only tile: m is not needed again, l comes from the matrix
  store_stat(f_m, s_.m_off(cur->k));
  store_stat(f_l, s_.l_off(cur->k));
}

// m, l and P of the scaled, masked S row; past the first tile, O is rescaled by exp(m_old - m).
void FlashAttentionEmitter::rescale_row(bool first) {
  if (first) {
    b_.s_add_fp(f_m, f_neg, f0);  // m starts at F(-1e30 + 0) = -1e30
    b_.v_red_max(f_m, r_srow);
    b_.v_sub_vf(r_srow, r_srow, f_m);
    b_.v_exp_v(r_srow, r_srow);
    if (s_.rsum) return;
    b_.s_add_fp(f_l, f0, f0);  // l starts at 0
    b_.v_red_sum(f_l, r_srow);
    return;
  }
  load_stat(f_mold, s_.m_off(cur->k), true);
  b_.s_add_fp(f_m, f_mold, f0);
  b_.v_red_max(f_m, r_srow);
  b_.s_sub_fp(f_a, f_mold, f_m);
  b_.s_exp_fp(f_a, f_a);
  b_.v_sub_vf(r_srow, r_srow, f_m);
  b_.v_exp_v(r_srow, r_srow);
  load_stat(f_l, s_.l_off(cur->k), false);
  b_.s_mul_fp(f_l, f_l, f_a);
  b_.v_red_sum(f_l, r_srow);
  for (uint64_t cb = 0; cb < s_.ub; ++cb) {
    const GpReg ob = o_block(cb);
    b_.v_mul_vf(ob, ob, f_a, rmask);
  }
}

// O row += PV row (PV row = S row address moved to the PV scratch).
void FlashAttentionEmitter::row_add_pv() {
  for (uint64_t cb = 0; cb < s_.ub; ++cb) {
    const GpReg ob = o_block(cb);
    b_.add_imm(rb, r_srow, (s_.pv_base + cb * s_.blen * s_.vlen - s_.s_base) & 0xFFFFFFFFu);  // wraps like the hardware
    b_.v_add_vv(ob, ob, rb, rmask);
  }
}

// A running max (is_max) or sum of the current row: an FP SRAM load, or from its VRAM row (every
// element holds the value): max(-1e30, m) = m and max(0, l) = l exactly.
void FlashAttentionEmitter::load_stat(const ScopedFp& f, uint64_t off, bool is_max) {
  if (!s_.vstats) {
    b_.s_ld_fp(f, r_idx, uint32_t(off));
    return;
  }
  if (is_max)
    b_.s_add_fp(f, f_neg, f0);
  else
    b_.s_add_fp(f, f0, f0);
  b_.add_imm(ra, r_idx, off);
  b_.v_red_max(f, ra);
}

// Stores a running max or sum: FP SRAM, or broadcast into its VRAM row (0 + x = x: the vector
// format holds every FP value, attn::vram_stats_exact).
void FlashAttentionEmitter::store_stat(const ScopedFp& f, uint64_t off) {
  if (!s_.vstats) {
    b_.s_st_fp(f, r_idx, uint32_t(off));
    return;
  }
  b_.add_imm(ra, r_idx, off);
  b_.v_add_vf(ra, at(rb, s_.zero_row()), f);
}

void FlashAttentionEmitter::advance_row(bool stats, bool o) {
  b_.add_imm(r_srow, r_srow, s_.vlen);
  if (stats) b_.add_imm(r_idx, r_idx, s_.idx_step());
  if (o) b_.add_imm(r_orow, r_orow, s_.vlen);
}

void FlashAttentionEmitter::start_rows(bool stats, bool o) {
  b_.load_imm(r_srow, cur_s);
  if (stats) b_.add_imm(r_idx, r_g, 0);
  if (o) b_.add_imm(r_orow, r_o, 0);
}

// The current O row's column block cb (the head's first block is r_orow itself).
GpReg FlashAttentionEmitter::o_block(uint64_t cb) {
  if (cb == 0) return r_orow;
  b_.add_imm(ra, r_orow, cb * o_bstride);
  return ra;
}

void FlashAttentionEmitter::set_group(uint64_t g) {
  b_.load_imm(r_q, cur->q_row0 + g * s_.blen * s_.vlen);
  b_.load_imm(r_o, cur->o_row0 + g * s_.blen * s_.vlen);
  b_.load_imm(r_g, s_.rsum ? lsum_row0 + g * s_.blen * s_.vlen : s_.idx_base() + g * s_.blen * s_.idx_step());
}

// The group's O and row-sum rows only (products read S through its own address).
void FlashAttentionEmitter::set_group_outputs(uint64_t g) {
  b_.load_imm(r_o, cur->o_row0 + g * s_.blen * s_.vlen);
  b_.load_imm(r_g, lsum_row0 + g * s_.blen * s_.vlen);
}

void FlashAttentionEmitter::next_group() {
  b_.add_imm(r_q, r_q, s_.blen * s_.vlen);
  b_.add_imm(r_o, r_o, s_.blen * s_.vlen);
  b_.add_imm(r_g, r_g, s_.blen * (s_.rsum ? s_.vlen : s_.idx_step()));
}

void FlashAttentionEmitter::select_head(const Head& hh) {
  cur = &hh;
  lsum_row0 = s_.lsum_base + (hh.h * s_.hd / s_.vlen) * s_.lsum_rows * s_.vlen;
  if (s_.head_masks && !s_.rsum) b_.set_v_mask(hh.vmask);  // row sums: no masked op until O /= l
}

// ---- decode with heads as rows (AttentionSetup::head_rows) ----
// The identity and the first KV prefetch are issued together; Q heads become rows of one group;
// each KV prefetch is issued one ahead of the products (alternating MRAM buffers: the identity's
// buffer takes the second one once the copy has read it). Every tile is an ordinary online-softmax
// update from m = -1e30, l = 0, Ox = 0, which gives the first tile's bits (docs/kernels-attention.md).
void FlashAttentionEmitter::emit_unit_rows(uint64_t bi, uint64_t u) {
  const HeadMap& hm = s_.hm;
  const uint64_t mlen = s_.mlen, tpp = s_.tpp;
  unit_block0 = hm.first_block(u);
  unit_ = u;
  const uint64_t h_lo = hm.kv_lo(u, a_) * hm.rep, h_hi = hm.kv_hi(u, a_) * hm.rep;
  qc0 = 0, qcn = 1, groups = 1;
  first_tile = no_tile;
  b_.stage(fmt::format("{}: sequence {} heads {}..{} as rows of one group (decode)", a_.name, bi, h_lo, h_hi - 1));
  make_heads(bi, h_lo, h_lo, h_hi);
  cur = &heads[0];  // pass head 0: a head row's statistics sit at slot (row)
  const uint32_t head_rmask = rmask;
  rmask = 0;  // an Ox row holds one head: whole-row updates
  t_begin = window_lowest_key(a_, 0) / mlen / tpp * tpp;
  const uint64_t n_pf = ceil_div(n_tiles - t_begin, tpp);
  b_.load_imm(r_e, s_.kv.row(bi, t_begin * mlen) * s_.kv.width + unit_block0 * mlen);
  prefetch_identity();
  prefetch_rows(0);
  copy_q_rows();
  init_rows();
  auto full = [&](uint64_t p) {
    for (uint64_t t = t_begin + p * tpp; t < t_begin + (p + 1) * tpp; ++t)
      if (t >= n_tiles || !tile_full(t)) return false;
    return true;
  };
  auto step = [&](uint64_t p) {  // one buffer: the next prefetch waits for these products
    if (rows_ahead() && p + 1 < n_pf) prefetch_rows(p + 1);
    compute_rows(p);
    if (!rows_ahead() && p + 1 < n_pf) prefetch_rows(p + 1);
  };
  step(0);
  // Full prefetches with a successor, two per iteration (so each keeps its buffer): one loop.
  uint64_t p = 1, p1 = 1;
  while (p1 + 1 < n_pf && full(p1)) ++p1;
  if (const uint64_t pairs = (p1 - p) / 2; pairs > 0) {
    b_.loop(pairs, [&] {
      step(p);
      step(p + 1);
    });
    p += 2 * pairs;
  }
  for (; p < n_pf; ++p) step(p);
  normalize_rows();
  rmask = head_rmask;
  res_k_ = res_v_ = no_tile;
}

// Head k of the unit into Qx row k, next to its kv head's columns. M_MM_WO writes BLEN rows from
// row k; heads go in ascending order, so every row a head spills into is rewritten by a later head
// (rows past the last head are never read as a head).
void FlashAttentionEmitter::copy_q_rows() {
  const uint64_t mlen = s_.mlen, blen = s_.blen, vlen = s_.vlen, id = s_.id_tile->tile_address(0);
  for (const Head& hh : heads) {
    const uint64_t col0 = hh.h * s_.hd, o_h = col0 % vlen;
    b_.load_imm(r_q, s_.q->block_address(col0 / vlen) + (hh.o_row0 - s_.o->block_address(col0 / vlen)));
    b_.load_imm(r_o, s_.qx_base + hh.k * vlen);
    for (uint64_t c = 0; c < mlen / blen; ++c) {
      const uint64_t col = c * blen;
      if (col >= hh.v_col && col < hh.v_col + s_.hd) b_.m_mm(at(ra, id + (o_h + col - hh.v_col) * mlen), r_q);
      b_.add_imm(ra, r_o, col);
      b_.m_mm_wo(ra, gp0, 0);  // the zero accumulator outside the head
    }
  }
}

// O's head columns = 0 (the final masked adds land on them), m = -1e30 and l = 0 per head row,
// Ox = 0 (the first tile's rescale multiplies it).
void FlashAttentionEmitter::init_rows() {
  init_running_state();
  b_.load_imm(r_orow, s_.ox_base);
  b_.loop(heads.size(), [&] {
    b_.v_mul_vf(r_orow, r_orow, f0);
    b_.add_imm(r_orow, r_orow, s_.vlen);
  });
}

// Whole-tile prefetch p of the K|V rows into its buffer; past the first it runs ahead of the
// products of the previous one.
void FlashAttentionEmitter::prefetch_rows(uint64_t p) {
  b_.burst(p > 0 && rows_ahead());
  b_.h_prefetch_m(at(ra, rows_buffer(p).tile_address(0)), r_e, ak, 1, 1);
  b_.add_imm(r_e, r_e, s_.tpp * s_.mlen * s_.kv.width);
}

void FlashAttentionEmitter::compute_rows(uint64_t p) {
  for (uint64_t u = 0; u < s_.tpp; ++u) {
    const uint64_t t = t_begin + p * s_.tpp + u;
    if (t < n_tiles) tile_rows(t, rows_buffer(p));
  }
}

// One KV tile for every head row, BLEN head rows per group: S = Qx K^T (one product for the
// group's heads), the online-softmax update of each row (Ox row rescaled), P V per head into the
// PV scratch at the head's O columns, Ox += PV.
void FlashAttentionEmitter::tile_rows(uint64_t t, const MramBlock& buf) {
  const GroupKind k = classify(0, t);
  if (k.kind == 0) return;
  const uint64_t mlen = s_.mlen, blen = s_.blen, vlen = s_.vlen, base = buf.tile_address(t % s_.tpp);
  const uint64_t seen = visible(0, t), from = visible_from(0, t);
  for (uint64_t g0 = 0; g0 < heads.size(); g0 += blen) {
    const uint64_t rows = std::min<uint64_t>(blen, heads.size() - g0);
    b_.load_imm(r_q, s_.qx_base + g0 * vlen);
    for (uint64_t c = 0; c < mlen / blen; ++c) {
      if (c >= k.c_lo && c < k.c_hi) b_.m_tmm(r_q, at(rb, base + c * blen * mlen));
      b_.m_mm_wo(at(ra, s_.s_base + c * blen), gp0, 0);
    }
    b_.load_imm(r_srow, s_.s_base);
    b_.load_imm(r_idx, g0);
    b_.load_imm(r_orow, s_.ox_base + g0 * vlen);
    b_.loop(rows, [&] {
      row_update(seen, false, nullptr, from);
      advance_row(true, true);
    });
    for (uint64_t i = g0; i < g0 + rows; ++i)
      for (uint64_t c = 0; c < s_.sub_cols; ++c) {
        b_.m_mm(at(ra, base + (s_.kv.v_col0 + heads[i].v_col + c * blen) * mlen), at(rb, s_.s_base));
        b_.m_mm_wo(at(ra, s_.pv_base + heads[i].o_q + c * blen), gp0, 0);
      }
    b_.load_imm(r_srow, s_.s_base);
    b_.load_imm(r_orow, s_.ox_base + g0 * vlen);
    b_.loop(rows, [&] {
      row_add_pv();
      advance_row(false, true);
    });
  }
}

// O = Ox / l per head: the Ox row scaled, then added into O's (zero) head columns under V_MASK.
void FlashAttentionEmitter::normalize_rows() {
  const uint32_t head_rmask = s_.head_masks ? 1 : 0;
  b_.load_imm(r_orow, s_.ox_base);
  b_.load_imm(r_idx, 0);
  for (const Head& hh : heads) {
    load_stat(f_l, s_.l_off(0), false);
    b_.s_reci_fp(f_a, f_l);
    b_.v_mul_vf(r_orow, r_orow, f_a);
    select_head(hh);
    b_.v_add_vv(at(ra, hh.o_row0), ra, r_orow, head_rmask);
    b_.add_imm(r_orow, r_orow, s_.vlen);
    b_.add_imm(r_idx, r_idx, 1);
  }
  cur = &heads[0];
}

// Keys of tile t that query i sees: columns [visible_from, visible); visible = 0 when none.
uint64_t FlashAttentionEmitter::visible(uint64_t i, uint64_t t) const {
  const uint64_t t0 = t * s_.mlen;
  const uint64_t last = a_.causal ? a_.kv_len - a_.q_len + i : a_.kv_len - 1;  // last key seen
  if (last < t0 || window_lowest_key(a_, i) >= t0 + s_.mlen) return 0;
  return std::min<uint64_t>(last - t0 + 1, s_.mlen);
}

uint64_t FlashAttentionEmitter::visible_from(uint64_t i, uint64_t t) const {
  const uint64_t lo = window_lowest_key(a_, i), t0 = t * s_.mlen;
  return lo > t0 ? lo - t0 : 0;
}

// Every query of the chunk sees the whole tile t: the tile's code is then the same for all such tiles.
// The last key a query sees and the lowest key of its window never decrease with the query's row,
// so the chunk's first row decides "sees through the tile's end" and its last row "sees from the
// tile's start" (O(1) instead of a scan: long prefills ask this for every tile of every chunk).
bool FlashAttentionEmitter::tile_full(uint64_t t) const {
  const uint64_t first = qc0, last = qc0 + qcn - 1;
  return visible(first, t) == s_.mlen && visible(last, t) == s_.mlen && visible_from(last, t) == 0;
}

}  // namespace

// The emission reads kv_len through the tile count, which tiles are full (tile_full, classify),
// the S column blocks of the last tile (score_cols) and the mask shift; with one causal query and
// no window, every tile but the last is full, and the last one's visible keys pick the S blocks
// it multiplies and the mask shift (its row sits at slot 0 of the table). Class: tiles, and the
// last tile's BLEN-wide key blocks (0: full).
std::optional<uint64_t> attention_step_class(const config::HardwareConfig& cfg, uint64_t q_len, uint64_t kv_len,
                                             bool causal, uint64_t sliding_window) {
  if (q_len != 1 || !causal || sliding_window != 0 || kv_len == 0) return std::nullopt;
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  return ceil_div(kv_len, mlen) * (mlen / blen + 1) + ceil_div(kv_len % mlen, blen);
}

AttentionSchedule emit_flash_attention(ProgramBuilder& b, MemoryPlan& plan, const AttentionArgs& a) {
  const AttentionSetup setup(b.config(), plan, a);
  {
    FlashAttentionEmitter e(b, setup);
    e.emit();
  }
  setup.release(plan);
  AttentionSchedule s{setup.q_chunk, setup.hpass};
  s.vram_stats = setup.vstats;
  s.row_sums = setup.rsum;
  s.broadcast_scores = setup.bscores;
  s.q_chunks = (a.q_len + s.q_chunk - 1) / s.q_chunk;
  s.kv_passes = a.batch * s.q_chunks * ((a.num_heads + s.heads_per_pass - 1) / s.heads_per_pass);
  return s;
}

namespace {

// Q and O attention_rows_alloc tall (or the optional rows_alloc a model step gives them), caches of
// capacity kv_len (or the optional capacity), the identity when head_dim < MLEN.
void attention_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const auto& cfg = plan.config();
  const uint64_t batch = s.get("batch"), q_len = s.get("q_len"), kv_len = s.get("kv_len"), heads = s.get("heads"),
                 kv_heads = s.get("kv_heads"), head_dim = s.get("head_dim");
  const bool combined = s.get_or("kv_combined", 0) != 0;
  const KvCacheLayout lay = kv_cache_layout(cfg, batch, kv_heads, s.get_or("capacity", kv_len), head_dim, combined);
  place_kv_cache(plan, "k_cache", lay);
  if (!combined) place_kv_cache(plan, "v_cache", lay);
  const uint64_t rows = s.get_or("rows_alloc", attention_rows_alloc(cfg, batch, q_len));
  plan.alloc_vram("q", rows, heads * head_dim);
  plan.alloc_vram("o", rows, heads * head_dim);
  // vram_free: what a model's layer leaves the attention (ModelCompiler::attention_vram_free); its
  // schedule follows the free VRAM, so the count holds the rest.
  const uint64_t model_free = s.get_or("vram_free", 0), free_now = plan.vram_space().largest_free();
  if (model_free && model_free < free_now) plan.alloc_vram("model_rows", free_now - model_free, cfg.geometry.vlen);
  // copy_tile: RoPE's swap tile left in MRAM (AttentionArgs::copy_tile) instead of the identity.
  const bool copy_tile = s.get_or("copy_tile", 0) != 0;
  const bool identity = attention_needs_identity(cfg, head_dim) && !copy_tile;
  if (identity) place_attention_identity(plan, "identity");
  if (copy_tile) plan.alloc_mram("swap.tile", tiles_per_prefetch(cfg));
  AttentionArgs a{.name = "attention",
                .q = "q",
                .out = "o",
                .k_cache = "k_cache",
                .v_cache = combined ? "k_cache" : "v_cache",
                .identity = identity ? "identity" : "",
                .batch = batch,
                .q_len = q_len,
                .kv_len = kv_len,
                .capacity = s.get_or("capacity", 0),
                .num_heads = heads,
                .num_kv_heads = kv_heads,
                .head_dim = head_dim,
                .causal = true,
                .sliding_window = s.get("window"),
                .stats_vram_rows = s.get_or("stats_vram", 0),
                .kv_combined = combined};
  if (copy_tile) a.copy_tile = "swap.tile";
  emit_flash_attention(b, plan, a);
}

}  // namespace

extern const KernelEntry kAttentionKernel;
const KernelEntry kAttentionKernel{"attention", "FlashAttention over the HBM KV cache (prefill, decode, sliding window)",
                                   {"batch", "q_len", "kv_len", "heads", "kv_heads", "head_dim", "window"},
                                   attention_standalone, KernelSchedule::Attention,
    {{1, 64, 256, 4, 2, 64, 0}, {2, 1, 512, 8, 2, 64, 0}, {1, 64, 256, 4, 2, 64, 96}, {2, 1, 512, 8, 2, 64, 128}}};

}  // namespace plena::compiler

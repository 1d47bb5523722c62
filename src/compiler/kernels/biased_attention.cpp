// Attention with an additive score bias (T5 relative position bias), dense per row group:
//   S = Q_h K_h^T (M_TMM over the head's K tiles, resident in MRAM), S = S * scale + bias row,
//   exact row softmax over the visible keys, O_h = P V_h (M_MM over the resident V tiles).
// head_dim < MLEN: the head's Q columns are isolated with a 0/1 column mask (V_MUL_VV, exact), so
// the product over the whole MLEN-wide K block sums only that head's columns.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/vector_common.hpp"
#include "compiler/kernels_attention.hpp"
#include "compiler/kernels_biased_attention.hpp"
#include "support/support.hpp"

namespace plena::compiler {

using namespace vk;

namespace {

struct BiasedSetup {
  uint64_t mlen = 0, blen = 0, vlen = 0, hd = 0, kb = 0, tpp = 0, tiles = 0, res_tiles = 0;
  VramTensor q, o, bias;
  HbmTensor kt, vt;
  uint64_t width = 0;  // cache row width
};

BiasedSetup check_args(const MemoryPlan& plan, const BiasedAttentionArgs& a) {
  const auto& g = plan.config().geometry;
  BiasedSetup s;
  s.mlen = g.mlen, s.blen = g.blen, s.vlen = g.vlen, s.hd = a.head_dim;
  if (s.vlen != s.mlen) fail(a.name, fmt::format("needs VLEN == MLEN (VLEN {}, MLEN {})", s.vlen, s.mlen));
  if (a.head_dim == 0 || a.head_dim % g.blen || a.head_dim % g.hlen ||
      (s.mlen % a.head_dim != 0 && a.head_dim % s.mlen != 0))
    fail(a.name, fmt::format("head_dim {} must be a multiple of BLEN ({}) and HLEN ({}) and divide or be a multiple "
                             "of MLEN ({})", a.head_dim, g.blen, g.hlen, s.mlen));
  if (a.q_len == 0 || a.kv_len == 0 || a.num_heads == 0) fail(a.name, "q_len, kv_len and num_heads must be positive");
  const uint64_t capacity = a.capacity ? a.capacity : a.kv_len;
  if (a.kv_len > capacity) fail(a.name, fmt::format("kv_len {} exceeds the cache capacity {}", a.kv_len, capacity));
  if (a.causal && a.kv_len < a.q_len)
    fail(a.name, fmt::format("causal attention needs kv_len ({}) >= q_len ({})", a.kv_len, a.q_len));
  const uint64_t amount = plan.config().hbm.m_prefetch_amount;
  if (amount < s.mlen) fail(a.name, fmt::format("m_prefetch_amount {} is below MLEN {}", amount, s.mlen));
  s.kb = std::max<uint64_t>(1, a.head_dim / s.mlen);
  s.tpp = (amount + s.mlen - 1) / s.mlen;
  s.tiles = (a.kv_len + s.mlen - 1) / s.mlen;
  s.res_tiles = (s.tiles + s.tpp - 1) / s.tpp * s.tpp;
  const uint64_t cols = a.num_heads * a.head_dim, rows_alloc = round_up(a.q_len, s.blen);
  s.q = input_tensor(plan, a.name, "q", a.q);
  s.o = input_tensor(plan, a.name, "output", a.out);
  for (const VramTensor* t : {&s.q, &s.o})
    if (t->cols < cols || t->rows < a.q_len || t->rows_alloc < rows_alloc)
      fail(a.name, fmt::format("'{}' is [{} rows ({} allocated), {} cols], needs {} rows ({} allocated), {} cols",
                               t->name, t->rows, t->rows_alloc, t->cols, a.q_len, rows_alloc, cols));
  if (a.q == a.out) fail(a.name, "q and out must be different tensors");
  s.bias = input_tensor(plan, a.name, "bias", a.bias);
  if (s.bias.rows < a.num_heads * a.q_len || s.bias.cols < a.kv_len)
    fail(a.name, fmt::format("bias '{}' is [{}, {}], needs [{}, {}] (row h*q_len + i)", a.bias, s.bias.rows,
                             s.bias.cols, a.num_heads * a.q_len, a.kv_len));
  const KvCacheLayout kv = kv_cache_layout(plan.config(), 1, a.num_heads, capacity, a.head_dim);
  s.width = kv.width;
  s.kt = plan.hbm(a.k_cache);
  s.vt = plan.hbm(a.v_cache);
  for (const HbmTensor* t : {&s.kt, &s.vt})
    if (t->rows != kv.rows() || t->cols != kv.width || !(t->format == plan.config().formats.m_kv))
      fail(a.name, fmt::format("cache '{}' is [{}, {}], expected [{}, {}] in formats.m_kv (kv_cache_layout)", t->name,
                               t->rows, t->cols, kv.rows(), kv.width));
  return s;
}

// Code of one call: per head, the resident K/V tiles, then per BLEN row group S, softmax, P V.
class BiasedEmitter {
 public:
  BiasedEmitter(ProgramBuilder& b, MemoryPlan& plan, const BiasedAttentionArgs& a, const BiasedSetup& s)
      : b_(b), plan_(plan), a_(a), s_(s), ra_(b.regs().gp("address")), rb_(b.regs().gp("address 2")),
        ak_(b.regs().hbm("K cache")), av_(b.regs().hbm("V cache")), f_max_(b.regs().fp("row max")),
        f_sum_(b.regs().fp("row sum")), f_neg_(b.regs().fp("mask negative")), f_one_(b.regs().fp("one")) {}
  void emit();

 private:
  uint64_t visible(uint64_t i) const { return a_.causal ? a_.kv_len - a_.q_len + i + 1 : a_.kv_len; }
  uint64_t s_block(uint64_t t) const { return s_base_ + t * s_.blen * s_.vlen; }
  void build_rows();
  uint64_t tail_row(std::map<uint64_t, uint64_t>& rows, uint64_t n, bool keep);
  void load_head(uint64_t h);
  void scores(uint64_t h, uint64_t i0, uint64_t tiles);
  void softmax_row(uint64_t h, uint64_t i, uint64_t r, uint64_t tiles);
  void zero_rows(uint64_t from, uint64_t tiles);
  void values(uint64_t h, uint64_t i0, uint64_t tiles);

  ProgramBuilder& b_;
  MemoryPlan& plan_;
  const BiasedAttentionArgs& a_;
  const BiasedSetup& s_;
  ScopedGp ra_, rb_;
  ScopedHbm ak_, av_;
  ScopedFp f_max_, f_sum_, f_neg_, f_one_;
  std::optional<ScopedFp> f_scale_;
  uint64_t s_base_ = 0, qx_base_ = 0, rows_base_ = 0, n_rows_ = 0;
  const MramBlock *mk_ = nullptr, *mv_ = nullptr;
  std::map<uint64_t, uint64_t> head_mask_, neg_row_, keep_row_;  // key -> VRAM address
};

// One mask row: n leading `first` values, then `rest` (emit_fill_row) at the next free row.
uint64_t BiasedEmitter::tail_row(std::map<uint64_t, uint64_t>& rows, uint64_t n, bool keep) {
  if (auto it = rows.find(n); it != rows.end()) return it->second;
  const uint64_t addr = rows_base_ + n_rows_++ * s_.vlen;
  if (keep)
    emit_fill_row(b_, plan_, a_.name, addr, n, f_one_, f0);
  else
    emit_fill_row(b_, plan_, a_.name, addr, n, f0, f_neg_);
  rows[n] = addr;
  return addr;
}

// Head column masks (head_dim < MLEN: 1 on the head's columns of its block) and, per partial last
// block of a row's visible keys, a -large row and a 0/1 keep row.
void BiasedEmitter::build_rows() {
  b_.stage(a_.name + ": masks");
  std::map<uint64_t, uint64_t> lo;
  for (uint64_t h = 0; h < a_.num_heads && s_.hd < s_.mlen; ++h) {
    const uint64_t off = h * s_.hd % s_.mlen;
    if (head_mask_.count(off)) continue;
    const uint64_t hi = tail_row(keep_row_, off + s_.hd, true);
    if (off == 0) {
      head_mask_[off] = hi;
      continue;
    }
    const uint64_t below = tail_row(keep_row_, off, true);
    const uint64_t addr = rows_base_ + n_rows_++ * s_.vlen;
    b_.load_imm(ra_, addr);
    b_.load_imm(rb_, hi);
    auto r3 = b_.regs().gp("mask below");
    b_.load_imm(r3, below);
    b_.v_sub_vv(ra_, rb_, r3);  // 1 on [off, off + hd), exact
    head_mask_[off] = addr;
  }
  for (uint64_t i = 0; i < a_.q_len; ++i)
    if (const uint64_t n = visible(i) % s_.vlen; n != 0) {
      tail_row(neg_row_, n, false);
      tail_row(keep_row_, n, true);
    }
}

void BiasedEmitter::emit() {
  const uint64_t vlen = s_.vlen, blen = s_.blen;
  // Mask rows: at most one per head offset (x2), per distinct tail (x2), plus the unique ones.
  const uint64_t max_rows = 3 * (s_.mlen / std::min(s_.hd, s_.mlen)) + 2 * std::min(a_.q_len, vlen) + 2;
  ScratchRows mask_rows(plan_, a_.name + ".rows", max_rows, vlen);
  rows_base_ = mask_rows.t().base();
  ScratchRows sc(plan_, a_.name + ".s", blen, s_.tiles * vlen);
  s_base_ = sc.t().base();
  std::optional<ScratchRows> qx;
  if (s_.hd < s_.mlen) {
    qx.emplace(plan_, a_.name + ".qx", blen, vlen);
    qx_base_ = qx->t().base();
  }
  const uint64_t need = 2 * s_.kb * s_.res_tiles;
  if (!plan_.mram_space().fits(need))
    fail(a_.name, fmt::format("keeps a head's K and V tiles in MRAM: {} tiles, largest free range is {}", need,
                              plan_.mram_space().largest_free()));
  mk_ = &plan_.alloc_mram(a_.name + ".k", s_.kb * s_.res_tiles);
  mv_ = &plan_.alloc_mram(a_.name + ".v", s_.kb * s_.res_tiles);
  plan_.fp_constant("vec.mask_neg", mask_negative_value(b_.config()));
  plan_.fp_constant("one", 1.0f);
  load_fp_constant(b_, plan_, f_neg_, "vec.mask_neg");
  load_fp_constant(b_, plan_, f_one_, "one");
  if (!a_.scale.empty()) {
    f_scale_.emplace(b_.regs().fp("scale"));
    load_fp_constant(b_, plan_, *f_scale_, a_.scale);
  }
  build_rows();
  b_.set_addr_reg(ak_, s_.kt.base);
  b_.set_addr_reg(av_, s_.vt.base);
  b_.set_scale_reg(s_.kt.scale_reg);
  b_.set_stride_reg(s_.kt.row_stride);
  for (uint64_t h = 0; h < a_.num_heads; ++h) {
    b_.stage(fmt::format("{}: head {}", a_.name, h));
    // Heads sharing a column block (head_dim < MLEN) share its resident tiles.
    if (h == 0 || h * s_.hd / s_.mlen != (h - 1) * s_.hd / s_.mlen) load_head(h);
    for (uint64_t i0 = 0; i0 < a_.q_len; i0 += blen) {
      const uint64_t i1 = std::min(a_.q_len, i0 + blen);
      const uint64_t tiles = (visible(i1 - 1) + s_.mlen - 1) / s_.mlen;
      scores(h, i0, tiles);
      for (uint64_t i = i0; i < i1; ++i) softmax_row(h, i, i - i0, tiles);
      zero_rows(i1 - i0, tiles);
      values(h, i0, tiles);
    }
  }
  plan_.free_mram(a_.name + ".k");
  plan_.free_mram(a_.name + ".v");
}

// The head's K and V column blocks of every tile the last query row sees (whole prefetches).
// The MHA cache holds kv head h at the query head's columns, so the tiles serve every head of the block.
void BiasedEmitter::load_head(uint64_t h) {
  const uint64_t mlen = s_.mlen, blk0 = h * s_.hd / mlen;
  const uint64_t tiles = (visible(a_.q_len - 1) + mlen - 1) / mlen;
  for (uint64_t t = 0; t < tiles; t += s_.tpp)
    for (uint64_t cb = 0; cb < s_.kb; ++cb) {
      b_.load_imm(rb_, t * mlen * s_.width + (blk0 + cb) * mlen);
      b_.load_imm(ra_, mk_->tile_address(cb * s_.res_tiles + t));
      b_.h_prefetch_m(ra_, rb_, ak_, 1, 1);
      b_.load_imm(ra_, mv_->tile_address(cb * s_.res_tiles + t));
      b_.h_prefetch_m(ra_, rb_, av_, 1, 1);
    }
}

// S of rows [i0, i0 + BLEN) over `tiles` KV tiles: BLEN x BLEN blocks of M_TMM, written to S.
void BiasedEmitter::scores(uint64_t h, uint64_t i0, uint64_t tiles) {
  const uint64_t mlen = s_.mlen, blen = s_.blen, vlen = s_.vlen, blk0 = h * s_.hd / mlen;
  const uint64_t last_key = visible(std::min(a_.q_len, i0 + blen) - 1);
  if (s_.hd < mlen) {  // Q rows of the head, zeros elsewhere in the block
    auto rm = b_.regs().gp("head mask");
    b_.load_imm(rm, head_mask_.at(h * s_.hd % mlen));
    for (uint64_t r = 0; r < blen; ++r) {
      b_.load_imm(ra_, qx_base_ + r * vlen);
      b_.load_imm(rb_, s_.q.address(i0 + r, blk0 * mlen));
      b_.v_mul_vv(ra_, rb_, rm);
    }
  }
  for (uint64_t t = 0; t < tiles; ++t)
    for (uint64_t c = 0; c < mlen / blen && t * mlen + c * blen < last_key; ++c) {
      for (uint64_t cb = 0; cb < s_.kb; ++cb) {
        b_.load_imm(ra_, s_.hd < mlen ? qx_base_ : s_.q.address(i0, (blk0 + cb) * mlen));
        b_.load_imm(rb_, mk_->tile_address(cb * s_.res_tiles + t) + c * blen * mlen);
        b_.m_tmm(ra_, rb_);
      }
      b_.load_imm(ra_, s_block(t) + c * blen);
      b_.m_mm_wo(ra_, gp0, 0);
    }
}

// Row r of S (query i): scale, bias, -large past the visible keys, exact softmax; blocks past the
// row's visible ones (but inside the group's) become exact zeros, so P V ignores them.
void BiasedEmitter::softmax_row(uint64_t h, uint64_t i, uint64_t r, uint64_t tiles) {
  const uint64_t vlen = s_.vlen, vis = visible(i), own = (vis + vlen - 1) / vlen, tail = vis % vlen;
  auto sp = b_.regs().gp("S block");
  auto bp = b_.regs().gp("bias block");
  auto mp = b_.regs().gp("tail mask");
  b_.s_add_fp(f_max_, f_neg_, f0);
  for (uint64_t t = 0; t < own; ++t) {
    b_.load_imm(sp, s_block(t) + r * vlen);
    b_.load_imm(bp, s_.bias.address(h * a_.q_len + i, t * vlen));
    if (f_scale_) b_.v_mul_vf(sp, sp, *f_scale_);
    b_.v_add_vv(sp, sp, bp);
    if (tail && t + 1 == own) {
      b_.load_imm(mp, neg_row_.at(tail));
      b_.v_add_vv(sp, sp, mp);
    }
    b_.v_red_max(f_max_, sp);
  }
  b_.s_add_fp(f_sum_, f0, f0);
  for (uint64_t t = 0; t < own; ++t) {
    b_.load_imm(sp, s_block(t) + r * vlen);
    b_.v_sub_vf(sp, sp, f_max_);
    b_.v_exp_v(sp, sp);
    if (tail && t + 1 == own) {
      b_.load_imm(mp, keep_row_.at(tail));
      b_.v_mul_vv(sp, sp, mp);
    }
    b_.v_red_sum(f_sum_, sp);
  }
  b_.s_reci_fp(f_sum_, f_sum_);
  for (uint64_t t = 0; t < tiles; ++t) {
    b_.load_imm(sp, s_block(t) + r * vlen);
    b_.v_mul_vf(sp, sp, t < own ? f_sum_.reg() : f0);
  }
}

// S rows past the last query (a partial group) become zeros: their P V lands in O's padding rows.
void BiasedEmitter::zero_rows(uint64_t from, uint64_t tiles) {
  for (uint64_t r = from; r < s_.blen; ++r)
    for (uint64_t t = 0; t < tiles; ++t) {
      b_.load_imm(ra_, s_block(t) + r * s_.vlen);
      b_.v_mul_vf(ra_, ra_, f0);
    }
}

// O rows [i0, i0 + BLEN), head h's columns: BLEN-wide column blocks of P V summed over the tiles
// in the accumulator, written straight into O.
void BiasedEmitter::values(uint64_t h, uint64_t i0, uint64_t tiles) {
  const uint64_t mlen = s_.mlen, blen = s_.blen, blk0 = h * s_.hd / mlen, off = h * s_.hd % mlen;
  const uint64_t sub = std::min(s_.hd, mlen) / blen;
  for (uint64_t cb = 0; cb < s_.kb; ++cb)
    for (uint64_t c = 0; c < sub; ++c) {
      const uint64_t col = off + c * blen;
      for (uint64_t t = 0; t < tiles; ++t) {
        b_.load_imm(ra_, mv_->tile_address(cb * s_.res_tiles + t) + col * mlen);
        b_.load_imm(rb_, s_block(t));
        b_.m_mm(ra_, rb_);
      }
      b_.load_imm(ra_, s_.o.address(i0, (blk0 + cb) * mlen + col));
      b_.m_mm_wo(ra_, gp0, 0);
    }
}

}  // namespace

void emit_biased_attention(ProgramBuilder& b, MemoryPlan& plan, const BiasedAttentionArgs& a) {
  auto ks = b.kernel(a.name);
  const BiasedSetup s = check_args(plan, a);
  b.comment(fmt::format("{}: biased attention, {} heads x head_dim {}, q_len {}, kv_len {}, {}", a.name, a.num_heads,
                        a.head_dim, a.q_len, a.kv_len, a.causal ? "causal" : "full"));
  BiasedEmitter(b, plan, a, s).emit();
}

namespace {

// Q, O and the bias in VRAM, the caches as a model step places them.
void biased_attention_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t heads = s.get("heads"), hd = s.get("head_dim"), q_len = s.get("q_len"), kv_len = s.get("kv_len");
  VramPlaceOptions rows;
  rows.row_multiple = plan.config().geometry.blen;
  plan.alloc_vram("q", q_len, heads * hd, rows);
  plan.alloc_vram("o", q_len, heads * hd, rows);
  plan.alloc_vram("bias", heads * q_len, kv_len);
  const KvCacheLayout kv = kv_cache_layout(plan.config(), 1, heads, kv_len, hd);
  place_kv_cache(plan, "k_cache", kv);
  place_kv_cache(plan, "v_cache", kv);
  emit_biased_attention(b, plan, {"biased_attention", "q", "o", "k_cache", "v_cache", "bias", q_len, kv_len, kv_len,
                                  heads, hd, s.get_or("causal", 1) != 0, ""});
}

}  // namespace

extern const KernelEntry kBiasedAttentionKernel;
const KernelEntry kBiasedAttentionKernel{
    "biased_attention", "attention with an additive score bias (T5 relative position bias), one sequence",
    {"heads", "head_dim", "q_len", "kv_len", "causal"}, biased_attention_standalone, KernelSchedule::Phased,
    {{2, 32, 16, 16, 1}, {4, 32, 5, 5, 1}, {2, 64, 16, 16, 1}}};

}  // namespace plena::compiler

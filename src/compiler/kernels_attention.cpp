// FlashAttention (docs/kernels-attention.md). Per (sequence, query head), KV tiles of MLEN
// positions are streamed from the HBM cache into MRAM; per BLEN-row query group:
//   S = Q K^T (M_TMM, K tile rows = positions), scaled and masked per row, online softmax per row
//   (V_RED_MAX / S_SUB_FP / S_EXP_FP / V_EXP_V / V_RED_SUM with m, l kept in FP SRAM), and
//   P V (M_MM, V tile in MRAM) added into O after rescaling O by exp(m_old - m_new).
// The program is straight-line: every tile/row decision (causal skipping, which rows need a mask)
// is static, so no KV tile repeats the previous one's body by accident and m/l are never reset
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

}  // namespace

KvCacheLayout kv_cache_layout(const config::HardwareConfig& cfg, uint64_t batch, uint64_t kv_heads,
                              uint64_t capacity, uint64_t head_dim) {
  if (batch == 0 || kv_heads == 0 || capacity == 0)
    fail("kv_cache", fmt::format("batch {}, kv_heads {} and capacity {} must be positive", batch, kv_heads, capacity));
  KvCacheLayout l;
  l.batch = batch;
  l.kv_heads = kv_heads;
  l.capacity = capacity;
  l.head_dim = head_dim;
  l.padded_dim = padded_head_dim(cfg, head_dim, "kv_cache");
  l.guard_rows = 1;
  l.tail_rows = tiles_per_prefetch(cfg) * cfg.geometry.mlen;
  return l;
}

const HbmTensor& place_kv_cache(MemoryPlan& plan, std::string_view name, const KvCacheLayout& layout) {
  return plan.place_hbm(name, TensorClass::Kv, {layout.rows(), layout.padded_dim}, plan.config().formats.m_kv);
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
  const uint64_t capacity = a.capacity ? a.capacity : a.kv_len;
  if (a.kv_len > capacity) fail(kn, fmt::format("kv_len {} exceeds the cache capacity {}", a.kv_len, capacity));
  const uint64_t hd = a.head_dim;
  const KvCacheLayout kv = kv_cache_layout(cfg, a.batch, a.num_kv_heads, capacity, hd);
  const uint64_t dpad = kv.padded_dim;
  const uint64_t kb = dpad / mlen;                  // MLEN column blocks per head
  const uint64_t sub_cols = std::min(hd, mlen) / blen;  // BLEN-wide output sub-columns per block
  const uint64_t width = a.num_heads * hd;

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
    if (t->rows != kv.rows() || t->cols != dpad || !(t->format == cfg.formats.m_kv))
      fail(kn, fmt::format("HBM tensor '{}' is [{}, {}] in {}, expected the KV cache layout [{}, {}] in formats.m_kv = {}",
                           t->name, t->rows, t->cols, t->format.name(), kv.rows(), dpad, cfg.formats.m_kv.name()));
  }
  if (kt.row_stride != vt.row_stride || kt.scale_reg != vt.scale_reg)
    fail(kn, "K and V caches must have identical layouts");
  const uint64_t fmt_block = std::max<uint64_t>(1, uint64_t(cfg.formats.m_kv.block));
  const bool head_masks = hd < vlen;  // heads share a VLEN block: O updates use V_MASK
  if (head_masks && vlen / hlen > 32)
    fail(kn, fmt::format("VLEN / HLEN = {} exceeds the 32 V_MASK bits", vlen / hlen));

  // ---- on-chip allocations ----
  const uint64_t tpp = tiles_per_prefetch(cfg);
  const std::string n_k = a.name + ".k", n_v = a.name + ".v", n_s = a.name + ".s", n_pv = a.name + ".pv",
                    n_mask = a.name + ".mask", n_m = a.name + ".m", n_l = a.name + ".l";
  const MramBlock& mk = plan.alloc_mram(n_k, kb * tpp);
  const MramBlock& mv = plan.alloc_mram(n_v, kb * tpp);
  const uint64_t s_base = plan.alloc_vram(n_s, blen, mlen).base();
  const uint64_t pv_base = plan.alloc_vram(n_pv, blen, dpad).base();  // kb blocks of BLEN rows
  const uint64_t mask_base = plan.alloc_vram(n_mask, mlen + 1, vlen).base();  // row s: keys >= s masked; row MLEN: all
  const uint64_t m_slot = plan.alloc_fp_scratch(n_m, a.q_len);
  const uint64_t l_slot = plan.alloc_fp_scratch(n_l, a.q_len);
  const float scale = float(1.0 / std::sqrt(double(hd)));
  const uint64_t scale_slot = plan.fp_constant("attn_scale", scale);
  const uint64_t neg_slot = plan.fp_constant("neg_large", -1.0e30f);

  auto kscope = b.kernel(a.name);
  RegisterAllocator& regs = b.regs();
  AttentionCounts cnt;
  cnt.kv_tiles = ceil_div(a.kv_len, mlen);
  const size_t start_size = b.size();
  b.comment(fmt::format("{}: batch {}, q_len {}, kv_len {}, heads {}/{} (kv), head_dim {} (padded {}), {}", a.name,
                        a.batch, a.q_len, a.kv_len, a.num_heads, a.num_kv_heads, hd, dpad,
                        a.causal ? "causal" : "non-causal"));

  auto ra = regs.gp("address a");
  auto rb = regs.gp("address b");
  auto rc = regs.gp("address c");
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
    b.load_imm(rc, 0);
    b.loop(mlen, [&] {
      b.v_shft_v(rb, ra, rc);
      b.add_imm(rb, rb, vlen);
      b.add_imm(rc, rc, 1);
    });
  }

  // HBM: both caches share SCALE_REG / STRIDE_REG (identical layouts).
  auto ak = regs.hbm("K cache");
  auto av = regs.hbm("V cache");
  b.set_addr_reg(ak, kt.base);
  b.set_addr_reg(av, vt.base);
  b.set_scale_reg(kt.scale_reg);
  b.set_stride_reg(kt.row_stride);

  const uint64_t group_rows = blen;
  const uint64_t groups = ceil_div(a.q_len, group_rows);
  for (uint64_t bi = 0; bi < a.batch; ++bi) {
    for (uint64_t h = 0; h < a.num_heads; ++h) {
      const uint64_t kvh = h / (a.num_heads / a.num_kv_heads);
      const uint64_t col0 = h * hd;
      const uint64_t qb0 = col0 / vlen;            // first column block of the head
      const uint64_t o_q = head_masks ? col0 % vlen : 0;  // column offset inside that block
      if (o_q % fmt_block)
        fail(kn, fmt::format("head {} starts at column {} of its VLEN block, not a multiple of the KV format block {}",
                             h, o_q, fmt_block));
      const uint32_t rmask = head_masks ? 1 : 0;
      b.stage(fmt::format("{}: sequence {} head {} (kv head {})", a.name, bi, h, kvh));
      if (head_masks) b.set_v_mask(((uint64_t(1) << (hd / hlen)) - 1) << (o_q / hlen));
      auto o_row = [&](uint64_t i, uint64_t cb) { return o.block_address(qb0 + cb) + (bi * a.q_len + i) * vlen; };

      for (uint64_t t = 0; t < cnt.kv_tiles; ++t) {
        const uint64_t t0 = t * mlen;
        // Visible keys of query i in this tile: columns [0, s_i).
        auto visible = [&](uint64_t i) -> uint64_t {
          const uint64_t last = a.causal ? a.kv_len - a.q_len + i : a.kv_len - 1;  // last key seen
          if (last < t0) return 0;
          return std::min<uint64_t>(last - t0 + 1, mlen);
        };
        if (t % tpp == 0) {
          // One whole-tile prefetch per column block fills tiles t .. t+tpp-1. K is read shifted left
          // by o_q so head columns line up with Q's columns; the zero padding and the guard row make
          // every other K column 0 (docs/kernels-attention.md, "K alignment").
          for (uint64_t cb = 0; cb < kb; ++cb) {
            const uint64_t e = kv.row(bi, kvh, t0) * dpad + cb * mlen;
            b.h_prefetch_m(at(ra, mk.tile_address(cb * tpp)), at(rb, e - o_q), ak, 1, 1);
            b.h_prefetch_m(at(ra, mv.tile_address(cb * tpp)), at(rb, e), av, 1, 1);
            cnt.h_prefetch_m += 2;
          }
        }
        auto k_tile = [&](uint64_t cb) { return mk.tile_address(cb * tpp + t % tpp); };
        auto v_tile = [&](uint64_t cb) { return mv.tile_address(cb * tpp + t % tpp); };

        for (uint64_t g = 0; g < groups; ++g) {
          const uint64_t i0 = g * group_rows, i1 = std::min(a.q_len, i0 + group_rows);
          bool any = false;
          for (uint64_t i = i0; i < i1; ++i) any = any || visible(i) > 0;
          if (!any) continue;  // causal: the whole tile is in the future of this group
          ++cnt.tile_groups;
          const uint64_t r0 = bi * a.q_len + i0;
          // S[BLEN rows, MLEN keys] = Q_rows K_tile^T, summed over the head's column blocks.
          for (uint64_t c = 0; c < mlen / blen; ++c) {
            for (uint64_t cb = 0; cb < kb; ++cb) {
              b.m_tmm(at(ra, q.block_address(qb0 + cb) + r0 * vlen), at(rb, k_tile(cb) + c * blen * mlen));
              ++cnt.m_tmm;
            }
            b.m_mm_wo(at(ra, s_base + c * blen), gp0, 0);
            ++cnt.m_mm_wo;
          }
          // Online softmax per visible row.
          for (uint64_t i = i0; i < i1; ++i) {
            const uint64_t s = visible(i);
            if (s == 0) continue;
            ++cnt.softmax_rows;
            const GpReg row = at(rc, s_base + (i - i0) * vlen);
            b.v_mul_vf(row, row, f_scale);
            if (s < mlen) {
              b.v_add_vv(row, row, at(ra, mask_base + s * vlen));
              ++cnt.masked_rows;
            }
            if (t == 0) {
              b.s_ld_fp(f_m, at(ra, neg_slot), 0);
              b.v_red_max(f_m, row);
              b.v_sub_vf(row, row, f_m);
              b.v_exp_v(row, row);
              b.s_add_fp(f_l, f0, f0);  // l starts at 0
              b.v_red_sum(f_l, row);
            } else {
              b.s_ld_fp(f_mold, at(ra, m_slot + i), 0);
              b.s_add_fp(f_m, f_mold, f0);
              b.v_red_max(f_m, row);
              b.s_sub_fp(f_a, f_mold, f_m);
              b.s_exp_fp(f_a, f_a);
              b.v_sub_vf(row, row, f_m);
              b.v_exp_v(row, row);
              b.s_ld_fp(f_l, at(rb, l_slot + i), 0);
              b.s_mul_fp(f_l, f_l, f_a);
              b.v_red_sum(f_l, row);
              for (uint64_t cb = 0; cb < kb; ++cb) {
                const GpReg orow = at(rb, o_row(i, cb));
                b.v_mul_vf(orow, orow, f_a, rmask);
              }
            }
            b.s_st_fp(f_m, at(ra, m_slot + i), 0);
            b.s_st_fp(f_l, at(ra, l_slot + i), 0);
          }
          // P V: tile 0 writes O directly (every row sees tile 0), later tiles go through the PV
          // scratch and are added into the rescaled O.
          for (uint64_t cb = 0; cb < kb; ++cb) {
            for (uint64_t c = 0; c < sub_cols; ++c) {
              b.m_mm(at(ra, v_tile(cb) + c * blen * mlen), at(rb, s_base));
              ++cnt.m_mm;
              const uint64_t dst =
                  t == 0 ? o.block_address(qb0 + cb) + r0 * vlen : pv_base + cb * blen * vlen;
              b.m_mm_wo(at(ra, dst + o_q + c * blen), gp0, 0);
              ++cnt.m_mm_wo;
            }
          }
          if (t > 0) {
            for (uint64_t i = i0; i < i1; ++i) {
              if (visible(i) == 0) continue;
              for (uint64_t cb = 0; cb < kb; ++cb) {
                const GpReg orow = at(ra, o_row(i, cb));
                b.v_add_vv(orow, orow, at(rb, pv_base + cb * blen * vlen + (i - i0) * vlen), rmask);
              }
            }
          }
        }
      }
      // O /= l.
      for (uint64_t i = 0; i < a.q_len; ++i) {
        b.s_ld_fp(f_l, at(ra, l_slot + i), 0);
        b.s_reci_fp(f_a, f_l);
        for (uint64_t cb = 0; cb < kb; ++cb) {
          const GpReg orow = at(ra, o_row(i, cb));
          b.v_mul_vf(orow, orow, f_a, rmask);
        }
      }
    }
  }
  if (head_masks) b.set_v_mask(0);
  cnt.instructions = b.size() - start_size;

  plan.free_fp_scratch(n_l);
  plan.free_fp_scratch(n_m);
  plan.free_vram(n_mask);
  plan.free_vram(n_pv);
  plan.free_vram(n_s);
  plan.free_mram(n_v);
  plan.free_mram(n_k);
  return cnt;
}

}  // namespace plena::compiler

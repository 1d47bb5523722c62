// Linear / GEMM with K-split (plena_compiler.md §1.6 loop nest) on the row-granular MRAM ABI:
// BLEN-wide sub-tile c of a weight tile is addressed at c*BLEN*MLEN, while the VRAM output
// address advances by BLEN columns.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/kernels.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

LinearCounts linear_counts(const config::HardwareConfig& cfg, uint64_t rows_alloc, uint64_t k, uint64_t n,
                           uint64_t chunk_tiles) {
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  LinearCounts c;
  c.k_tiles = k / mlen;
  c.n_blocks = n / mlen;
  c.row_groups = rows_alloc / blen;
  c.chunk_tiles = chunk_tiles;
  c.chunks = ceil_div(c.k_tiles, chunk_tiles);
  c.tiles_per_prefetch = cfg.hbm.m_prefetch_amount / mlen;
  const uint64_t sub_cols = n / blen;  // BLEN-wide output columns
  c.m_mm = sub_cols * c.row_groups * c.k_tiles;
  c.m_mm_wo = sub_cols * c.row_groups * c.chunks;
  uint64_t prefetches_per_block = 0;
  for (uint64_t kt0 = 0; kt0 < c.k_tiles; kt0 += chunk_tiles)
    prefetches_per_block += ceil_div(std::min(chunk_tiles, c.k_tiles - kt0), c.tiles_per_prefetch);
  c.h_prefetch_m = c.n_blocks * prefetches_per_block;
  c.v_add_vv = c.n_blocks * (c.chunks - 1) * rows_alloc;
  return c;
}

LinearCounts emit_linear(ProgramBuilder& b, MemoryPlan& plan, const LinearArgs& a) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen;
  const HbmTensor& w = plan.hbm(a.weight);
  const VramTensor& x = plan.vram(a.input);
  const VramTensor& y = plan.vram(a.output);
  auto fail = [&](std::string_view what) {
    throw InputError(fmt::format("kernel '{}': {}", a.name, what));
  };
  const uint64_t K = x.cols, N = y.cols, R = x.rows_alloc;
  if (K % mlen || N % mlen)
    fail(fmt::format("K = {} and N = {} must be multiples of MLEN = {} (pad the graph)", K, N, mlen));
  if (w.rows != K || w.cols != N)
    fail(fmt::format("weight '{}' is [{}, {}], expected [K = {}, N = {}] ([in, out])", w.name, w.rows, w.cols, K, N));
  if (y.rows_alloc != R || R % blen)
    fail(fmt::format("input/output padded rows are {} and {}, expected equal and a multiple of BLEN = {}", R,
                     y.rows_alloc, blen));
  if (vlen != mlen) fail("VLEN must equal MLEN");

  // ---- K chunking by MRAM capacity (whole prefetches of m_prefetch_amount rows) ----
  const uint64_t k_tiles = K / mlen;
  const uint64_t tpp = cfg.hbm.m_prefetch_amount / mlen;
  uint64_t cap = plan.mram_space().largest_free();
  if (a.max_k_tiles) cap = std::min(cap, std::max(a.max_k_tiles, tpp));
  cap = cap / tpp * tpp;
  if (cap == 0)
    fail(fmt::format("needs at least {} free MRAM tiles (one H_PREFETCH_M of {} rows), {} free", tpp,
                     cfg.hbm.m_prefetch_amount, plan.mram_space().largest_free()));
  const uint64_t chunk_tiles = std::min(cap, ceil_div(k_tiles, tpp) * tpp);
  const LinearCounts counts = linear_counts(cfg, R, K, N, std::min(chunk_tiles, k_tiles));
  const std::string mram_name = a.name + ".mram";
  const std::string scratch_name = a.name + ".ksplit";
  const MramBlock& mram = plan.alloc_mram(mram_name, chunk_tiles);
  const uint64_t mram_base = mram.address();
  uint64_t scratch_base = 0;
  if (counts.chunks > 1) scratch_base = plan.alloc_vram(scratch_name, R, mlen).base();

  auto kscope = b.kernel(a.name);
  RegisterAllocator& regs = b.regs();
  b.comment(fmt::format("{}: [{}, {}] @ {} [{}, {}] -> {} ({} K chunk(s) of <= {} tiles)", a.name, R, K, w.name, K, N,
                        y.name, counts.chunks, chunk_tiles));
  auto aw = regs.hbm("weight base");
  b.set_addr_reg(aw, w.base);
  b.set_scale_reg(w.scale_reg);
  b.set_stride_reg(w.row_stride);

  auto hbm_nb = regs.gp("weight column block offset");
  auto y_nb = regs.gp("output column block");
  b.load_imm(hbm_nb, 0);
  b.load_imm(y_nb, y.block_address(0));
  b.loop(counts.n_blocks, [&] {
    for (uint64_t kt0 = 0; kt0 < k_tiles; kt0 += chunk_tiles) {
      const uint64_t ktc = std::min(chunk_tiles, k_tiles - kt0);
      const bool first = kt0 == 0;
      // Prefetch this chunk's K tiles of the current MLEN-wide column block.
      {
        auto off = regs.gp("prefetch HBM offset");
        auto dst = regs.gp("prefetch MRAM address");
        b.add_imm(off, hbm_nb, kt0 * mlen * w.row_stride);
        b.load_imm(dst, mram_base);
        b.loop(ceil_div(ktc, tpp), [&] {
          b.h_prefetch_m(dst, off, aw, 1, a.precision);
          b.add_imm(dst, dst, cfg.hbm.m_prefetch_amount * mlen);
          b.add_imm(off, off, cfg.hbm.m_prefetch_amount * w.row_stride);
        });
      }
      auto w_c = regs.gp("MRAM sub-tile column");
      auto out_c = regs.gp("output sub-column");
      b.load_imm(w_c, mram_base);
      if (first)
        b.add_imm(out_c, y_nb, 0);
      else
        b.load_imm(out_c, scratch_base);
      b.loop(mlen / blen, [&] {
        auto act_rg = regs.gp("activation row group");
        auto out = regs.gp("output row group");
        b.load_imm(act_rg, x.block_address(kt0));
        b.add_imm(out, out_c, 0);
        b.loop(R / blen, [&] {
          auto wk = regs.gp("MRAM K tile");
          auto act = regs.gp("VRAM K block");
          b.add_imm(wk, w_c, 0);
          b.add_imm(act, act_rg, 0);
          b.loop(ktc, [&] {
            b.m_mm(wk, act);
            b.add_imm(wk, wk, mlen * mlen);
            b.add_imm(act, act, R * vlen);
          });
          b.m_mm_wo(out, gp0, 0);
          b.add_imm(act_rg, act_rg, blen * vlen);
          b.add_imm(out, out, blen * vlen);
        });
        // Row-granular MRAM: the next BLEN output columns are BLEN MRAM rows further.
        b.add_imm(w_c, w_c, blen * mlen);
        b.add_imm(out_c, out_c, blen);
      });
      if (!first) {
        auto yr = regs.gp("accumulate output row");
        auto sr = regs.gp("accumulate scratch row");
        b.add_imm(yr, y_nb, 0);
        b.load_imm(sr, scratch_base);
        b.loop(R, [&] {
          b.v_add_vv(yr, yr, sr);
          b.add_imm(yr, yr, vlen);
          b.add_imm(sr, sr, vlen);
        });
      }
    }
    b.add_imm(hbm_nb, hbm_nb, mlen);
    b.add_imm(y_nb, y_nb, R * vlen);
  });

  plan.free_mram(mram_name);
  if (counts.chunks > 1) plan.free_vram(scratch_name);
  return counts;
}

}  // namespace plena::compiler

// Linear / GEMM with K-split (plena_compiler.md §1.6 loop nest) on the row-granular MRAM ABI:
// BLEN-wide sub-tile c of a weight tile is addressed at c*BLEN*MLEN, while the VRAM output
// address advances by BLEN columns.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/linear_pass.hpp"
#include "support/support.hpp"

namespace plena::compiler {

namespace {

void emit_linear_pass(ProgramBuilder& b, const HbmTensor& w, HbmReg aw, uint64_t k, uint64_t n, uint64_t chunk_tiles,
                      uint64_t mram_base, uint64_t scratch_base, uint32_t precision, const LinearPass& p) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen;
  const uint64_t k_tiles = k / mlen, tpp = cfg.hbm.m_prefetch_amount / mlen;
  RegisterAllocator& regs = b.regs();
  auto hbm_nb = regs.gp("weight column block offset");
  auto y_nb = regs.gp("output column block");
  b.load_imm(hbm_nb, p.w_offset);
  b.load_imm(y_nb, p.y_base);
  b.loop(n / mlen, [&] {
    for (uint64_t kt0 = 0; kt0 < k_tiles; kt0 += chunk_tiles) {
      const uint64_t ktc = std::min(chunk_tiles, k_tiles - kt0);
      const bool first = kt0 == 0;
      // Prefetch this chunk's K tiles of the current MLEN-wide column block.
      {
        auto off = regs.gp("prefetch HBM offset");
        auto dst = regs.gp("prefetch MRAM address");
        b.add_imm(off, hbm_nb, kt0 * mlen * w.row_stride);
        b.load_imm(dst, mram_base);
        b.burst();
        b.loop(ceil_div(ktc, tpp), [&] {
          b.h_prefetch_m(dst, off, aw, 1, precision);
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
        b.load_imm(act_rg, p.x_base + kt0 * p.x_block_stride);
        b.add_imm(out, out_c, 0);
        b.loop(p.rows / blen, [&] {
          auto wk = regs.gp("MRAM K tile");
          auto act = regs.gp("VRAM K block");
          b.add_imm(wk, w_c, 0);
          b.add_imm(act, act_rg, 0);
          b.loop(ktc, [&] {
            b.m_mm(wk, act);
            b.add_imm(wk, wk, mlen * mlen);
            b.add_imm(act, act, p.x_block_stride);
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
        b.loop(p.rows, [&] {
          b.v_add_vv(yr, yr, sr);
          b.add_imm(yr, yr, vlen);
          b.add_imm(sr, sr, vlen);
        });
      }
    }
    b.add_imm(hbm_nb, hbm_nb, mlen);
    b.add_imm(y_nb, y_nb, p.y_block_stride);
  });
}

}  // namespace

uint64_t emit_linear_passes(ProgramBuilder& b, MemoryPlan& plan, const std::string& name, const HbmTensor& w, uint64_t k,
                            uint64_t n, uint64_t scratch_rows, uint64_t max_k_tiles, uint32_t precision,
                            const std::string& what, const std::vector<LinearPass>& passes) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, k_tiles = k / mlen, tpp = cfg.hbm.m_prefetch_amount / mlen;
  uint64_t cap = plan.mram_space().largest_free();
  if (max_k_tiles) cap = std::min(cap, std::max(max_k_tiles, tpp));
  cap = cap / tpp * tpp;
  if (cap == 0)
    throw InputError(fmt::format("kernel '{}': needs at least {} free MRAM tiles (one H_PREFETCH_M of {} rows), {} free",
                                 name, tpp, cfg.hbm.m_prefetch_amount, plan.mram_space().largest_free()));
  const uint64_t chunk_tiles = std::min(cap, ceil_div(k_tiles, tpp) * tpp);
  const uint64_t chunks = ceil_div(k_tiles, std::min(chunk_tiles, k_tiles));
  const std::string mram_name = name + ".mram";
  const std::string scratch_name = name + ".ksplit";
  const uint64_t mram_base = plan.alloc_mram(mram_name, chunk_tiles).address();
  uint64_t scratch_base = 0;
  if (chunks > 1) scratch_base = plan.alloc_vram(scratch_name, scratch_rows, mlen).base();

  auto kscope = b.kernel(name);
  b.comment(fmt::format("{}: {} ({} K chunk(s) of <= {} tiles)", name, what, chunks, chunk_tiles));
  auto aw = b.regs().hbm("weight base");
  b.set_addr_reg(aw, w.base);
  b.set_scale_reg(w.scale_reg);
  b.set_stride_reg(w.row_stride);
  for (size_t i = 0; i < passes.size(); ++i) {
    if (passes.size() > 1) b.comment(fmt::format("{}: matrix {}", name, i));
    emit_linear_pass(b, w, aw, k, n, chunk_tiles, mram_base, scratch_base, precision, passes[i]);
  }
  plan.free_mram(mram_name);
  if (chunks > 1) plan.free_vram(scratch_name);
  return chunk_tiles;
}

uint64_t emit_linear(ProgramBuilder& b, MemoryPlan& plan, const LinearArgs& a) {
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

  return std::min<uint64_t>(K / mlen,
      emit_linear_passes(b, plan, a.name, w, K, N, R, a.max_k_tiles, a.precision,
                     fmt::format("[{}, {}] @ {} [{}, {}] -> {}", R, K, w.name, K, N, y.name),
                     {{x.block_address(0), R * vlen, y.block_address(0), R * vlen, R, 0}}));
}

namespace {

void linear_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const auto& cfg = plan.config();
  const uint64_t rows = s.get("rows"), k = s.get("k"), n = s.get("n");
  plan.place_hbm("w", TensorClass::Weight, {k, n}, cfg.formats.m_weight);
  VramPlaceOptions vo;
  vo.row_multiple = cfg.geometry.blen;
  plan.alloc_vram("x", rows, k, vo);
  plan.alloc_vram("y", rows, n, vo);
  emit_linear(b, plan, {.name = "linear", .weight = "w", .input = "x", .output = "y", .max_k_tiles = s.get("max_k_tiles")});
}

}  // namespace

extern const KernelEntry kLinearKernel;
const KernelEntry kLinearKernel{"linear", "Y = X @ W with W in HBM, K-split",
                                {"rows", "k", "n", "max_k_tiles"},
                                linear_standalone, KernelSchedule::StreamedWeights,
    {{4, 256, 256, 0}, {16, 1024, 512, 0}, {64, 512, 1024, 0}, {8, 2048, 256, 8}, {32, 4096, 128, 0}}};

}  // namespace plena::compiler

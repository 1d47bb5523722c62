// Linear / GEMM with K-split (plena_compiler.md §1.6 loop nest) on the row-granular MRAM ABI:
// BLEN-wide sub-tile c of a weight tile is addressed at c*BLEN*MLEN, while the VRAM output
// address advances by BLEN columns.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/linear_pass.hpp"
#include "compiler/kernels_vector.hpp"
#include "support/support.hpp"

namespace plena::compiler {

namespace {

// One linear pass as a stream of steps, a step being one K chunk of one MLEN-wide column block.
// With two chunk buffers in MRAM (`ahead`), step s+1's prefetch is issued before step s's
// multiplies into the buffer step s-1 used, so the weight stream runs under the matrix unit:
//
//   DMA     | W0 | W1 | W2 | W3 |
//   matrix       | M0   | M1   | M2   | M3   |      (buffers A B A B)
//
// With one buffer each step prefetches its own chunk after the previous step's multiplies.
struct PassGeometry {
  uint64_t k_tiles = 0, chunk_tiles = 0, chunks = 0, blocks = 0;
  uint64_t buffers[2] = {0, 0};  // MRAM chunk buffers (equal when single-buffered)
  uint64_t scratch_base = 0;     // K-split partial products, [rows, MLEN]
  uint64_t buffer_tiles = 0;     // tiles per buffer (a chain's buffers may exceed this kernel's chunk)
  uint32_t precision = 0;
  bool ahead() const { return buffers[0] != buffers[1]; }
};

// Prefetches chunk kc of the column block whose HBM element offset is in `block` into MRAM at `buf`.
void emit_chunk_prefetch(ProgramBuilder& b, const HbmTensor& w, HbmReg aw, const PassGeometry& g, GpReg block,
                         GpReg buf, uint64_t kc, bool ahead) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, tpp = cfg.hbm.m_prefetch_amount / mlen;
  const uint64_t ktc = std::min(g.chunk_tiles, g.k_tiles - kc * g.chunk_tiles);
  RegisterAllocator& regs = b.regs();
  auto off = regs.gp("prefetch HBM offset");
  auto dst = regs.gp("prefetch MRAM address");
  b.add_imm(off, block, kc * g.chunk_tiles * mlen * w.row_stride);
  b.add_imm(dst, buf, 0);
  b.burst(ahead);
  b.loop(ceil_div(ktc, tpp), [&] {
    b.h_prefetch_m(dst, off, aw, 1, g.precision);
    b.add_imm(dst, dst, cfg.hbm.m_prefetch_amount * mlen);
    b.add_imm(off, off, cfg.hbm.m_prefetch_amount * w.row_stride);
  });
}

// The first chunk's row groups with the prologue's rows one group ahead: group 0's rows first, then
// the groups whose next group is all real rows (one loop), the one before a partial group, the rest.
void prologue_groups(ProgramBuilder& b, LinearPrologue& pro, uint64_t groups,
                     const std::function<void(uint64_t)>& row_group) {
  const uint64_t blen = b.config().geometry.blen, real = pro.total_rows();
  auto rows_of = [&](uint64_t group) { return std::min(blen, real - std::min(real, group * blen)); };
  pro.open(b);
  pro.rows(b, rows_of(0));
  const uint64_t ahead = real / blen > 0 ? real / blen - 1 : 0;
  b.loop(ahead, [&] { row_group(blen); });
  uint64_t done = ahead;
  if (done + 1 < groups && rows_of(done + 1) > 0) {
    row_group(rows_of(done + 1));
    ++done;
  }
  pro.close();
  b.loop(groups - done, [&] { row_group(0); });
}

// Chunk kc's multiplies from MRAM at `buf`, row group by row group (each row group's activations
// serve all MLEN/BLEN sub-columns). Chunk 0 writes the output block at `y_block`; a later chunk
// writes the scratch and adds it to the output one row group behind, so the adds never wait for
// the multiplies in flight and the front end keeps feeding the matrix unit. The address registers
// walk and are walked back (no copies: the pass holds many registers).
// With a prologue (the first column block's first chunk), row group g's multiplies have the
// prologue's rows of group g+1 under them.
// With `lag` (a later chunk of the last block), that block's own epilogue rows follow its adds.
void emit_chunk_multiplies(ProgramBuilder& b, const PassGeometry& g, const LinearPass& p, GpReg buf, GpReg y_block,
                           uint64_t kc, LinearEpilogue* epi, LinearPrologue* pro, LinearEpilogue* lag) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen;
  const uint64_t kt0 = kc * g.chunk_tiles, ktc = std::min(g.chunk_tiles, g.k_tiles - kt0);
  const bool first = kc == 0;
  RegisterAllocator& regs = b.regs();
  auto act_rg = regs.gp("activation row group");
  auto out_rg = regs.gp("output row group");
  b.load_imm(act_rg, p.x_base + kt0 * p.x_block_stride);
  if (first)
    b.add_imm(out_rg, y_block, 0);
  else
    b.load_imm(out_rg, g.scratch_base);
  // Vector rows under a row group (`under`, n rows): per sub-column when they split evenly, else
  // after the group.
  const uint64_t subs = mlen / blen;
  if (epi) epi->begin(b, y_block, p.y_block_stride);
  std::function<void(uint64_t)> under;
  if (epi) under = [&](uint64_t n) { epi->rows(b, n); };
  if (pro) under = [&](uint64_t n) { pro->rows(b, n); };
  auto row_group = [&](uint64_t n) {
    const uint64_t per_sub = n % subs == 0 ? n / subs : 0;
    b.loop(mlen / blen, [&] {
      if (ktc == 1) {
        b.m_mm(buf, act_rg);
      } else {
        b.loop(ktc, [&] {
          b.m_mm(buf, act_rg);
          b.add_imm(buf, buf, mlen * mlen);
          b.add_imm(act_rg, act_rg, p.x_block_stride);
        });
        b.sub_imm(buf, buf, ktc * mlen * mlen);
        b.sub_imm(act_rg, act_rg, ktc * p.x_block_stride);
      }
      b.m_mm_wo(out_rg, gp0, 0);
      // Row-granular MRAM: the next BLEN output columns are BLEN MRAM rows further.
      b.add_imm(buf, buf, blen * mlen);
      b.add_imm(out_rg, out_rg, blen);
      if (per_sub) under(per_sub);
    });
    if (n && !per_sub) under(n);
    b.sub_imm(buf, buf, mlen * mlen);
    b.add_imm(act_rg, act_rg, blen * vlen);
    b.add_imm(out_rg, out_rg, blen * vlen - mlen);
  };
  const uint64_t groups = p.rows / blen;
  if (pro) return prologue_groups(b, *pro, groups, row_group);
  if (first) {
    b.loop(groups, [&] { row_group(epi ? blen : 0); });
    return;
  }
  auto yr = regs.gp("accumulate output row");
  b.add_imm(yr, y_block, 0);
  auto add_group = [&] {  // the row group before the one out_rg has passed
    auto sr = regs.gp("accumulate scratch row");
    b.sub_imm(sr, out_rg, 2 * blen * vlen);
    b.loop(blen, [&] {
      b.v_add_vv(yr, yr, sr);
      b.add_imm(yr, yr, vlen);
      b.add_imm(sr, sr, vlen);
    });
  };
  if (lag) {  // this block's epilogue rows, two row groups behind (the adds finish them one behind)
    lag->begin(b, y_block, 0);
    under = [&](uint64_t n) { lag->rows(b, n); };
  }
  const uint64_t lagged = lag ? blen : 0;
  row_group(0);
  if (lag) {
    row_group(0);
    add_group();
  }
  b.loop(groups - 1 - (lag ? 1 : 0), [&] {
    row_group(lagged);
    add_group();
  });
  b.add_imm(out_rg, out_rg, blen * vlen);  // as if one more row group had run
  add_group();
  if (lag) lag->rows(b, 2 * blen);
}

// The next linear's first K chunk (LinearChain::next) into MRAM at `buf`: its own weight base,
// SCALE_REG and STRIDE_REG (this kernel prefetches nothing after it; the next one sets its own).
uint64_t emit_handoff_prefetch(ProgramBuilder& b, const HbmTensor& next, const PassGeometry& g, GpReg buf) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, tpp = cfg.hbm.m_prefetch_amount / mlen;
  // The next kernel's chunk: its K in whole prefetches, at most one buffer.
  const uint64_t next_tiles = next.rows / mlen;
  const uint64_t prefetches = ceil_div(std::min(g.buffer_tiles, ceil_div(next_tiles, tpp) * tpp), tpp);
  RegisterAllocator& regs = b.regs();
  auto an = regs.hbm("next weight base");
  b.set_addr_reg(an, next.base);
  b.set_scale_reg(next.scale_reg);
  b.set_stride_reg(next.row_stride);
  auto off = regs.gp("prefetch HBM offset");
  auto dst = regs.gp("prefetch MRAM address");
  b.load_imm(off, 0);
  b.add_imm(dst, buf, 0);
  b.loop(prefetches, [&] {
    b.h_prefetch_m(dst, off, an, 1, 0);
    b.add_imm(dst, dst, cfg.hbm.m_prefetch_amount * mlen);
    b.add_imm(off, off, cfg.hbm.m_prefetch_amount * next.row_stride);
  });
  return prefetches;
}

// first_loaded: the previous kernel prefetched step 0 (chained); handoff: the next kernel's
// first chunk goes into the free buffer during the last step.
void emit_linear_pass(ProgramBuilder& b, const HbmTensor& w, HbmReg aw, const PassGeometry& g, const LinearPass& p,
                      bool first_loaded, const HbmTensor* handoff) {
  const uint64_t mlen = b.config().geometry.mlen;
  RegisterAllocator& regs = b.regs();
  // Optional: the first block's prologue takes these two registers (their values are known there).
  std::optional<ScopedGp> hbm_nb, nxt;
  hbm_nb.emplace(regs.gp("weight column block offset"));
  auto y_nb = regs.gp("output column block");
  auto cur = regs.gp("MRAM buffer multiplied");
  nxt.emplace(regs.gp("MRAM buffer prefetched"));
  b.load_imm(*hbm_nb, p.w_offset);
  b.load_imm(y_nb, p.y_base);
  b.load_imm(cur, g.buffers[0]);
  b.load_imm(*nxt, g.buffers[1]);
  if (g.ahead() && !first_loaded) emit_chunk_prefetch(b, w, aw, g, *hbm_nb, cur, 0, true);
  // The last block's epilogue rows run under its own last K chunk when there is a later chunk
  // (the first one runs the previous block's rows) and it has at least three row groups.
  const bool lag_last = p.epilogue && g.chunks > 1 && p.rows / b.config().geometry.blen >= 3;
  auto block = [&](bool last, bool prev, bool with_prologue) {
    for (uint64_t kc = 0; kc < g.chunks; ++kc) {
      const bool pro = kc == 0 && with_prologue;
      if (!g.ahead()) {
        emit_chunk_prefetch(b, w, aw, g, *hbm_nb, cur, kc, false);
      } else if (kc + 1 < g.chunks) {
        emit_chunk_prefetch(b, w, aw, g, *hbm_nb, *nxt, kc + 1, true);
      } else if (!last) {  // the next column block's first chunk
        auto next_nb = regs.gp("next column block offset");
        b.add_imm(next_nb, *hbm_nb, mlen);
        emit_chunk_prefetch(b, w, aw, g, next_nb, *nxt, 0, true);
      } else if (handoff) {
        b.chain_note(false, emit_handoff_prefetch(b, *handoff, g, *nxt));
      }
      if (pro) {  // the first block's first step: no swap or block advance yet
        hbm_nb.reset();
        nxt.reset();
      }
      emit_chunk_multiplies(b, g, p, cur, y_nb, kc, kc == 0 && prev ? p.epilogue : nullptr, pro ? p.prologue : nullptr,
                            last && lag_last && kc + 1 == g.chunks ? p.epilogue : nullptr);
      if (pro) {
        hbm_nb.emplace(regs.gp("weight column block offset"));
        nxt.emplace(regs.gp("MRAM buffer prefetched"));
        b.load_imm(*hbm_nb, p.w_offset);
        b.load_imm(*nxt, g.buffers[1]);
      }
      if (g.ahead()) {
        auto t = regs.gp("buffer swap");
        b.add_imm(t, cur, 0);
        b.add_imm(cur, *nxt, 0);
        b.add_imm(*nxt, t, 0);
      }
    }
    b.add_imm(*hbm_nb, *hbm_nb, mlen);
    b.add_imm(y_nb, y_nb, p.y_block_stride);
  };
  // The last column block is peeled: it prefetches nothing past the weight. With an epilogue the
  // first is too (no block before it), and the last block's rows follow (or run under its last
  // chunk: lag_last).
  // A prologue peels the first block (its first chunk runs the prologue's rows).
  if (!p.epilogue) {
    const bool peel = p.prologue && g.blocks > 1;
    if (peel) block(false, false, true);
    b.loop(g.blocks - 1 - (peel ? 1 : 0), [&] { block(false, false, false); });
    block(true, false, p.prologue && !peel);
    return;
  }
  if (g.blocks > 1) block(false, false, false);
  if (g.blocks > 2) b.loop(g.blocks - 2, [&] { block(false, true, false); });
  block(true, g.blocks > 1, false);
  if (lag_last) return;
  p.epilogue->begin(b, y_nb, p.y_block_stride);
  p.epilogue->rows(b, p.rows);
}

// Whether the first step's registers leave the prologue's: the pass keeps four during it (it
// lends two), plus a counter per hardware loop (row groups, sub-columns, K tiles if K has several).
bool prologue_fits(ProgramBuilder& b, const LinearPrologue& pro, uint64_t k_tiles, uint64_t groups) {
  const auto& geo = b.config().geometry;
  auto counter = [&](uint64_t n) { return n > 1 && !b.loop_policy().unrolls(n) ? 1 : 0; };
  const uint64_t loops = counter(groups) + counter(geo.mlen / geo.blen) + counter(k_tiles);
  return uint64_t(b.regs().live_gp()) + 4 + loops + pro.gp_registers() <= uint64_t(kGpRegs - 1);
}

}  // namespace

namespace {

// The pass geometry: K chunks, one or two MRAM buffers (allocated here, or a chain's), scratch.
PassGeometry place_pass(MemoryPlan& plan, const config::HardwareConfig& cfg, const std::string& name, uint64_t k,
                        uint64_t n, uint64_t scratch_rows, uint64_t max_k_tiles, const LinearChain& chain) {
  const uint64_t mlen = cfg.geometry.mlen, k_tiles = k / mlen, tpp = cfg.hbm.m_prefetch_amount / mlen;
  const bool chained = chain.in || chain.next;
  if (chain.in && !plan.mram_space().contains(kChainMram))
    throw InputError(fmt::format("kernel '{}': chained, but MRAM '{}' (left by the previous linear) is not allocated", name,
                                 kChainMram));
  // A chain's buffers: halves of the block the first kernel allocated from the free MRAM.
  const uint64_t free_tiles = chain.in ? plan.mram(kChainMram).tiles : plan.mram_space().largest_free();
  uint64_t cap = free_tiles;
  if (max_k_tiles) cap = std::min(cap, std::max(max_k_tiles, tpp));
  cap = cap / tpp * tpp;
  if (cap == 0)
    throw InputError(fmt::format("kernel '{}': needs at least {} free MRAM tiles (one H_PREFETCH_M of {} rows), {} free",
                                 name, tpp, cfg.hbm.m_prefetch_amount, plan.mram_space().largest_free()));
  PassGeometry g;
  g.k_tiles = k_tiles;
  g.blocks = n / mlen;
  const uint64_t whole = ceil_div(k_tiles, tpp) * tpp;  // K in whole prefetches
  // Two buffers when two chunks of at least one prefetch fit and the pass has more than one step
  // (or hands over to / from a chained linear).
  const uint64_t half = std::min(cap, free_tiles / 2 / tpp * tpp);
  if (chained && (half == 0 || max_k_tiles))
    throw InputError(fmt::format("kernel '{}': chained linears need max_k_tiles 0 and two chunk buffers ({} free MRAM "
                                 "tiles, one prefetch is {})", name, free_tiles, tpp));
  const bool ahead = half > 0 && (chained || g.blocks * ceil_div(k_tiles, std::min(half, k_tiles)) > 1);
  g.chunk_tiles = std::min(ahead ? half : cap, whole);
  g.chunks = ceil_div(k_tiles, std::min(g.chunk_tiles, k_tiles));
  g.buffer_tiles = chained ? half : g.chunk_tiles;
  const uint64_t base = chain.in ? plan.mram(kChainMram).address()
                                 : plan.alloc_mram(chained ? std::string(kChainMram) : name + ".mram",
                                                   ahead ? 2 * g.buffer_tiles : g.buffer_tiles).address();
  // Buffer 0 holds step 0: a chained kernel's first chunk is in half chain.in_half.
  const uint64_t first = chain.in && chain.in_half ? 1 : 0;
  g.buffers[0] = g.buffers[1] = base;
  if (ahead) g.buffers[1 - first] += g.buffer_tiles * mlen * mlen;
  if (g.chunks > 1) g.scratch_base = plan.alloc_vram(name + ".ksplit", scratch_rows, mlen).base();
  return g;
}

}  // namespace

uint64_t emit_linear_passes(ProgramBuilder& b, MemoryPlan& plan, const std::string& name, const HbmTensor& w, uint64_t k,
                            uint64_t n, uint64_t scratch_rows, uint64_t max_k_tiles, uint32_t precision,
                            const std::string& what, const std::vector<LinearPass>& passes, const LinearChain& chain) {
  PassGeometry g = place_pass(plan, b.config(), name, k, n, scratch_rows, max_k_tiles, chain);
  g.precision = precision;
  const uint64_t base = std::min(g.buffers[0], g.buffers[1]);
  auto kscope = b.kernel(name);
  b.comment(fmt::format("{}: {} ({} K chunk(s) of <= {} tiles, {} buffered{})", name, what, g.chunks, g.chunk_tiles,
                        g.ahead() ? "double" : "single", chain.in || chain.next ? ", chained" : ""));
  if (chain.in) b.chain_note(true, 0);
  auto aw = b.regs().hbm("weight base");
  b.set_addr_reg(aw, w.base);
  b.set_scale_reg(w.scale_reg);
  b.set_stride_reg(w.row_stride);
  for (size_t i = 0; i < passes.size(); ++i) {
    if (passes.size() > 1) b.comment(fmt::format("{}: matrix {}", name, i));
    emit_linear_pass(b, w, aw, g, passes[i], i == 0 && chain.in, i + 1 == passes.size() ? chain.next : nullptr);
  }
  // Step S (the next kernel's first chunk) lands in buffer S mod 2; the chain keeps its buffers.
  const uint64_t steps = passes.size() * g.blocks * g.chunks;
  if (chain.next && chain.out_half) *chain.out_half = g.buffers[steps % 2] == base ? 0 : 1;
  if (chain.next && chain.out_address) *chain.out_address = g.buffers[steps % 2];
  if (!chain.next) plan.free_mram(chain.in ? std::string(kChainMram) : name + ".mram");
  if (g.chunks > 1) plan.free_vram(name + ".ksplit");
  return g.chunk_tiles;
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

  LinearChain chain;
  if (!a.next_weight.empty()) {
    chain.next = &plan.hbm(a.next_weight);
    if (chain.next->rows % mlen) fail(fmt::format("next weight '{}' has {} rows, not a multiple of MLEN = {}",
                                                  chain.next->name, chain.next->rows, mlen));
    chain.out_half = a.chain_half;
    chain.out_address = a.handoff_address;
  }
  chain.in = a.chained;
  chain.in_half = a.chain_half ? *a.chain_half : 0;
  std::unique_ptr<LinearEpilogue> epi;
  if (!a.swiglu_gate.empty()) {
    const VramTensor& gate = plan.vram(a.swiglu_gate);
    if (gate.cols != N || gate.rows_alloc != R)
      fail(fmt::format("SwiGLU gate '{}' is [{} rows allocated, {}], expected the output's [{}, {}]", gate.name,
                       gate.rows_alloc, gate.cols, R, N));
    epi = swiglu_epilogue(b, plan, a.name + ".swiglu", gate, y);
  }
  std::unique_ptr<LinearPrologue> pro;
  if (a.norm) {
    if (!a.swiglu_gate.empty() || !a.residual.empty()) fail("a fused RMSNorm cannot go with a fused epilogue");
    if (a.norm->output != a.input)
      fail(fmt::format("the fused RMSNorm writes '{}', but the linear reads '{}'", a.norm->output, a.input));
    pro = rmsnorm_prologue(b, plan, *a.norm);
    if (!prologue_fits(b, *pro, K / mlen, R / blen)) {  // the same rows before the linear
      pro->run_all(b);
      pro.reset();
    }
  }
  if (!a.residual.empty()) {
    const VramTensor& res = plan.vram(a.residual);
    if (epi || res.cols != N || res.rows_alloc != R)
      fail(fmt::format("residual '{}' is [{} rows allocated, {}], expected the output's [{}, {}] and no SwiGLU",
                       res.name, res.rows_alloc, res.cols, R, N));
    epi = residual_epilogue(b, res, y);
  }
  const uint64_t chunk = emit_linear_passes(b, plan, a.name, w, K, N, R, a.max_k_tiles, a.precision,
                     fmt::format("[{}, {}] @ {} [{}, {}] -> {}{}{}{}", R, K, w.name, K, N, y.name,
                                 a.swiglu_gate.empty() ? "" : fmt::format(", silu({0}) * it -> {0}", a.swiglu_gate),
                                 a.residual.empty() ? "" : fmt::format(", {0} + it -> {0}", a.residual),
                                 a.norm ? fmt::format(", input = RMSNorm({})", a.norm->input) : ""),
                     {{x.block_address(0), R * vlen, y.block_address(0), R * vlen, R, 0, epi.get(), pro.get()}}, chain);
  return std::min<uint64_t>(K / mlen, chunk);
}

namespace {

void linear_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const auto& cfg = plan.config();
  const uint64_t rows = s.get("rows"), k = s.get("k"), n = s.get("n");
  plan.place_hbm("w", TensorClass::Weight, {k, n}, cfg.formats.m_weight);
  VramPlaceOptions vo;
  vo.row_multiple = cfg.geometry.blen;
  plan.alloc_vram("y", rows, n, vo);
  LinearArgs a{.name = "linear", .weight = "w", .input = "x", .output = "y", .max_k_tiles = s.get("max_k_tiles")};
  RmsNormArgs norm{"linear.norm", "x_in", "x", "norm_w"};
  if (s.get_or("norm", 0)) {  // RMSNorm fused (LinearArgs::norm) over norm_rows real rows of x_in
    KernelShape real;
    real.set("rows", s.get("norm_rows")).set("rows_alloc", rows);
    plan.fp_constant("eps", 1e-5f);
    standalone::hbm_rows(plan, "norm_w", 1, k);
    standalone::activation(plan, real, "x_in", k);
    standalone::activation(plan, real, "x", k);
    a.norm = &norm;
  } else {
    plan.alloc_vram("x", rows, k, vo);
  }
  if (s.get_or("swiglu", 0)) {  // SwiGLU fused (LinearArgs::swiglu_gate): the gate beside the output
    plan.alloc_vram("gate", rows, n, vo);
    a.swiglu_gate = "gate";
  }
  if (s.get_or("residual", 0)) {  // residual add fused (LinearArgs::residual): x beside the output
    plan.alloc_vram("residual", rows, n, vo);
    a.residual = "residual";
  }
  // Chained (as a model step's q/k/v and gate/up/down): next_k x next_n is the next linear's
  // weight, whose first chunk this one prefetches; chained: this one's first chunk is already in.
  uint64_t half = 0;
  if (s.get_or("next_n", 0)) {
    plan.place_hbm("w_next", TensorClass::Weight, {s.get("next_k"), s.get("next_n")}, cfg.formats.m_weight);
    a.next_weight = "w_next";
    a.chain_half = &half;
  }
  if (s.get_or("chained", 0)) {
    const uint64_t tpp = cfg.hbm.m_prefetch_amount / cfg.geometry.mlen;
    plan.alloc_mram(kChainMram, plan.mram_space().largest_free() / 2 / tpp * tpp * 2);
    a.chained = true;
    a.chain_half = &half;
  }
  emit_linear(b, plan, a);
}

}  // namespace

extern const KernelEntry kLinearKernel;
const KernelEntry kLinearKernel{"linear", "Y = X @ W with W in HBM, K-split",
                                {"rows", "k", "n", "max_k_tiles"},
                                linear_standalone, KernelSchedule::StreamedWeights,
    {{4, 256, 256, 0}, {16, 1024, 512, 0}, {64, 512, 1024, 0}, {8, 2048, 256, 8}, {32, 4096, 128, 0}}};

}  // namespace plena::compiler

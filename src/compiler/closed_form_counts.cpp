// Closed-form (hand-derived) instruction counts of the kernels: each function re-derives its
// emitter's loop nest (docs/compiler.md). Kept in one file, apart from the emitters.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compiler/kernels.hpp"
#include "compiler/kernels/attention_layout.hpp"
#include "compiler/kernels/vector_common.hpp"
#include "compiler/kernels_attention.hpp"
#include "compiler/kernels_vector.hpp"
#include "support/support.hpp"

namespace plena::compiler {

using vk::ceil_div;

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

LinearCounts batched_matmul_counts(const config::HardwareConfig& cfg, uint64_t batch, uint64_t rows, uint64_t k,
                                   uint64_t n, uint64_t chunk_tiles) {
  LinearCounts c = linear_counts(cfg, rows, k, n, chunk_tiles);
  c.m_mm *= batch;
  c.m_mm_wo *= batch;
  c.h_prefetch_m *= batch;
  c.v_add_vv *= batch;
  return c;
}

}  // namespace plena::compiler

// ---------------------------------------------------------------------------------------------
// Closed-form counts (analytic model): each function walks the emitter's loop structure above.
// ---------------------------------------------------------------------------------------------
namespace plena::compiler {
using vk::ceil_div;
namespace {

uint64_t load_imm_instrs(uint64_t v) { return v <= kImm18Max ? 1 : 1 + ((v & 0xFFF) ? 1 : 0); }
// ProgramBuilder::add_imm: nothing for +0 in place, ADDI up to 18 bits, else LOAD_IMM + ADD.
uint64_t add_imm_instrs(uint64_t v, bool same_reg) {
  if (v == 0 && same_reg) return 0;
  if (v <= kImm18Max) return 1;
  return load_imm_instrs(v) + 1;
}

// Accumulates one phase: each instruction by unit / latency class.
struct PhaseTally {
  PhaseTally(const config::HardwareConfig& cfg, std::string name, uint64_t times) : l(cfg.latency) {
    p.name = std::move(name);
    p.times = times;
  }
  PhaseTally& vec(uint64_t lat, uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += lat * n;
    p.vector_cycles += lat * n;
    p.vector_ops += n;
    return *this;
  }
  PhaseTally& mat(uint64_t lat, uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += lat * n;
    p.matrix_cycles += lat * n;
    return *this;
  }
  PhaseTally& fp(uint64_t lat, uint64_t n = 1) {  // dependent scalar FP chain
    p.instructions += n;
    p.serial_cycles += lat * n;
    p.chain_cycles += lat * n;
    return *this;
  }
  PhaseTally& fp_mem(uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += l.scalar_fp_load_store * n;
    return *this;
  }
  PhaseTally& sint(uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += l.scalar_int_basic * n;
    return *this;
  }
  PhaseTally& ctrl(uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += l.control * n;
    return *this;
  }
  PhaseTally& dma(uint64_t n, bool serial) {
    p.instructions += n;
    p.dma += n;
    p.dma_serial = p.dma_serial || serial;
    return *this;
  }
  // C_LOOP_START of a hardware loop (count 0 and 1 emit none).
  PhaseTally& loop_start(uint64_t count) { return ctrl(count > 1 ? 1 : 0); }
  // A loop of `count` iterations of `body` folded into this phase (start, body and end each time).
  PhaseTally& absorb(const KernelPhase& body, uint64_t count) {
    if (count == 0) return *this;
    loop_start(count);
    const uint64_t end = count > 1 ? 1 : 0;
    p.instructions += count * (body.instructions + end);
    p.serial_cycles += count * (body.serial_cycles + end * l.control);
    p.vector_cycles += count * body.vector_cycles;
    p.matrix_cycles += count * body.matrix_cycles;
    p.chain_cycles += count * body.chain_cycles;
    p.vector_ops += count * body.vector_ops;
    p.dma += count * body.dma;
    p.dma_serial = p.dma_serial || body.dma_serial;
    return *this;
  }
  // This phase as the body of a hardware loop of `count` iterations kept as its own phase: adds
  // the C_LOOP_END each iteration executes.
  KernelPhase body(uint64_t count) {
    if (count > 1) ctrl(1);
    return p;
  }
  const config::Latency& l;
  KernelPhase p;
};

void push_phase(VectorKernelCounts& c, const KernelPhase& p) {
  if (p.times > 0 && p.instructions > 0) c.phases.push_back(p);
}

// set_addr_reg / set_scale_reg / set_stride_reg: LOAD_IMM of a non-zero value (counted as one
// instruction: addresses depend on the plan) + the C_SET_* instruction.
void count_set_reg(PhaseTally& t, bool nonzero) { t.sint(nonzero ? 1 : 0).ctrl(1); }

// vk::Masks(cols, with_negative): the constant load(s) and emit_fill_row(s).
void count_masks(const config::HardwareConfig& cfg, PhaseTally& t, uint64_t cols, bool with_negative) {
  const uint64_t vlen = cfg.geometry.vlen, tail = cols % vlen;
  if (tail == 0) return;
  PhaseTally st(cfg, "fill", 1);
  st.fp_mem(1).sint(1);
  auto fill = [&](uint64_t n) {
    t.sint(1).absorb(st.p, n).absorb(st.p, vlen - n).sint(2).fp(cfg.latency.scalar_map_v_fp);
  };
  t.fp_mem(1);
  fill(tail);
  if (with_negative) {
    t.fp_mem(1);
    fill(vlen - tail);
  }
}

}  // namespace

uint64_t VectorKernelCounts::instructions() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.instructions;
  return n;
}
uint64_t VectorKernelCounts::vector_ops() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.vector_ops;
  return n;
}
uint64_t VectorKernelCounts::transfers() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.dma;
  return n;
}

namespace {

// vk::ParamRow from HBM: the [1, cols] row in ceil(blocks / v_prefetch_amount) packed H_PREFETCH_V
// (awaited by the first use), the masked last block when cols is not whole blocks (into `after`
// when given: it waits for the load).
void count_hbm_param_row(const config::HardwareConfig& cfg, PhaseTally& s, VectorKernelCounts& c, uint64_t cols,
                         PhaseTally* after = nullptr) {
  const uint64_t vlen = cfg.geometry.vlen, blocks = ceil_div(cols, vlen);
  const uint64_t amount = cfg.hbm.v_prefetch_amount, groups = ceil_div(blocks, amount);
  count_set_reg(s, true);
  count_set_reg(s, true);
  s.sint(2);
  PhaseTally g(cfg, "param load", 1);
  g.dma(1, false).sint(add_imm_instrs(amount * vlen, true) * 2);
  s.absorb(g.p, groups);
  if (cols % vlen) (after ? *after : s).sint(2).vec(cfg.latency.vector_mul);
  c.dma = {amount, vlen, vlen, cfg.formats.v_act, false, false, true, false};
}

}  // namespace

VectorKernelCounts bias_add_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, full = cols / vlen, xs = rows_alloc * vlen;
  const bool tail = cols % vlen != 0;
  VectorKernelCounts c;
  c.kernel = "bias_add";
  PhaseTally s(cfg, "setup", 1);
  count_masks(cfg, s, cols, false);
  count_hbm_param_row(cfg, s, c, cols);
  s.sint((tail ? 1 : 0) + 3).loop_start(full);  // bias tail pointer, the three block cursors
  push_phase(c, s.p);
  // One column block: the row loop adds the bias block to every real row.
  PhaseTally row(cfg, "", 1);
  row.vec(l.vector_add).sint(2 * add_imm_instrs(vlen, true));
  PhaseTally b(cfg, "column block", full);
  b.sint(2).absorb(row.p, rows).sint(2 * add_imm_instrs(xs, true) + add_imm_instrs(vlen, true));
  push_phase(c, b.body(full));
  if (tail) {
    PhaseTally t(cfg, "tail block", 1);
    t.sint(2).absorb(row.p, rows);
    push_phase(c, t.p);
  }
  return c;
}

VectorKernelCounts rmsnorm_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols,
                                  bool weight_in_hbm) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, full = cols / vlen;
  const bool tail = cols % vlen != 0;
  const uint64_t xs = rows_alloc * vlen;
  VectorKernelCounts c;
  c.kernel = "rmsnorm";
  PhaseTally s(cfg, "setup", 1);
  s.fp_mem(2);  // 1/n, eps
  count_masks(cfg, s, cols, false);
  if (weight_in_hbm) {
    count_hbm_param_row(cfg, s, c, cols);
  } else if (tail) {
    s.sint(3).vec(l.vector_mul);
  }
  s.sint(1 + (tail ? 2 : 0) + 2 + (tail ? 1 : 0));  // scratch, keep mask, x/y rows, w tail
  s.loop_start(rows);
  push_phase(c, s.p);

  PhaseTally r(cfg, "row", rows);
  r.fp(l.scalar_fp_basic);  // sum = 0
  r.sint(1).loop_start(full);
  if (tail) {
    // The masked last block's square, mask and reduction issue in 3 cycles; the scalar chain
    // then waits for the reduction.
    r.vec(l.vector_mul, 2).vec(l.vector_sum);
    r.p.exposed_cycles += 2 * l.vector_mul + l.vector_sum - std::min<uint64_t>(3, 2 * l.vector_mul + l.vector_sum);
  }
  r.fp(l.scalar_fp_basic, 2).fp(l.scalar_fp_sqrt).fp(l.scalar_fp_reci);
  r.sint(3).loop_start(full);
  if (tail) r.vec(l.vector_mul, 2);
  r.sint(2);
  push_phase(c, r.body(rows));

  PhaseTally b1(cfg, "sum of squares block", rows * full);
  b1.vec(l.vector_mul).vec(l.vector_sum).sint(add_imm_instrs(xs, true));
  push_phase(c, b1.body(full));
  PhaseTally b2(cfg, "scale block", rows * full);
  b2.vec(l.vector_mul, 2).sint(2 * add_imm_instrs(xs, true) + add_imm_instrs(vlen, true));
  push_phase(c, b2.body(full));
  return c;
}

VectorKernelCounts head_rmsnorm_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc,
                                       uint64_t cols, uint64_t head_dim) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, hd = head_dim, xs = rows_alloc * vlen;
  if (hd == 0 || cols % hd != 0 || (hd % vlen != 0 && vlen % hd != 0))
    throw InputError(fmt::format("head_rmsnorm_counts: head_dim {} must divide the {} columns and be a multiple or a "
                                 "divisor of VLEN {}",
                                 hd, cols, vlen));
  VectorKernelCounts c;
  c.kernel = "head_rmsnorm";
  PhaseTally s(cfg, "setup", 1);
  s.fp_mem(2);  // 1/head_dim, eps
  // finish(): f = 1 / sqrt(f * (1/n) + eps), a dependent scalar chain
  auto finish = [&](PhaseTally& t) { t.fp(l.scalar_fp_basic, 2).fp(l.scalar_fp_sqrt).fp(l.scalar_fp_reci); };
  if (hd % vlen == 0) {
    // head_rmsnorm_blocks: rows x heads x (sum-of-squares pass, scale pass) over bph blocks.
    const uint64_t bph = hd / vlen, heads = cols / hd;
    count_hbm_param_row(cfg, s, c, hd);
    s.sint(1 + 2).loop_start(rows);  // square scratch, x/y rows
    push_phase(c, s.p);
    PhaseTally r(cfg, "row", rows);
    r.sint(2).loop_start(heads).sint(2 * add_imm_instrs(vlen, true));
    push_phase(c, r.body(rows));
    PhaseTally h(cfg, "head", rows * heads);
    h.fp(l.scalar_fp_basic).sint(1).loop_start(bph);  // sum = 0, head block pointer
    finish(h);
    h.sint(1).loop_start(bph);  // weight block pointer
    push_phase(c, h.body(heads));
    PhaseTally b1(cfg, "sum of squares block", rows * heads * bph);
    b1.vec(l.vector_mul).vec(l.vector_sum).sint(add_imm_instrs(xs, true));
    push_phase(c, b1.body(bph));
    PhaseTally b2(cfg, "scale block", rows * heads * bph);
    b2.vec(l.vector_mul, 2).sint(2 * add_imm_instrs(xs, true) + add_imm_instrs(vlen, true));
    push_phase(c, b2.body(bph));
    return c;
  }
  // head_rmsnorm_packed: hpb heads per column block, head masks and the tiled weight built once.
  const uint64_t hpb = vlen / hd, full = cols / vlen, tail_heads = (cols % vlen) / hd;
  s.fp_mem(1).sint(3).vec(l.vector_shift).vec(l.vector_add).sint(1).vec(l.vector_shift).vec(l.vector_add);  // m_0
  // The weight's masking waits for its load; the vector unit runs in order, so everything after
  // it does too (a phase of its own).
  PhaseTally w(cfg, "head masks and tiled weight", 1);
  count_hbm_param_row(cfg, s, c, hd, &w);  // one block, masked by m_0
  push_phase(c, s.p);
  PhaseTally mk(cfg, "", 1);  // m_j = shift(m_0, j * head_dim)
  mk.vec(l.vector_shift).sint(add_imm_instrs(vlen, true) + add_imm_instrs(hd, true));
  w.sint(3).absorb(mk.p, hpb - 1);
  PhaseTally tw(cfg, "", 1);  // weight tiled across the block
  tw.vec(l.vector_shift).vec(l.vector_add).sint(add_imm_instrs(hd, true));
  w.sint(2).vec(l.vector_shift).sint(2).absorb(tw.p, hpb - 1);
  w.sint(3 + 2).loop_start(rows);  // x^2, masked and output rows; x/y rows
  push_phase(c, w.p);
  PhaseTally r(cfg, "row", rows);
  r.sint(2).loop_start(full).sint(2 * add_imm_instrs(vlen, true));
  push_phase(c, r.body(rows));
  // A column block: x^2 and the first head's mask pointer; the tiled weight at the end.
  auto block = [&](PhaseTally& t, uint64_t nh) {
    t.vec(l.vector_mul).sint(1).loop_start(nh - 1).sint(1).vec(l.vector_mul);
  };
  // One head: its masked squares reduced, then the scalar chain, then the masked scaled output.
  auto head = [&](PhaseTally& t, bool first) {
    t.vec(l.vector_mul).fp(l.scalar_fp_basic).vec(l.vector_sum);
    finish(t);
    t.vec(l.vector_mul, 2);
    if (!first) t.vec(l.vector_add);
    t.sint(add_imm_instrs(vlen, true));
  };
  // A head is one dependent chain: the reduction starts once x^2 * m_j and sum = 0 are ready (the
  // 2 instructions before it), the chain's first scalar waits for it, each scalar for the previous
  // one, and the instructions after the chain issue one per cycle (the next head's first product
  // rewrites the scratch the last ones read). The front end waits out what the overlap hides.
  const uint64_t chain = 2 * l.scalar_fp_basic + l.scalar_fp_sqrt + l.scalar_fp_reci;
  auto serial = [&](KernelPhase p) {
    const uint64_t after = p.instructions - 7;  // past the product, sum = 0, reduction, 4 scalars
    const uint64_t t = std::max<uint64_t>({2, l.vector_mul, 1 + l.scalar_fp_basic}) + l.vector_sum + chain + after;
    const uint64_t overlap = std::max({p.instructions, p.vector_cycles, p.chain_cycles});
    p.exposed_cycles = t > overlap ? t - overlap : 0;
    return p;
  };
  PhaseTally fb(cfg, "column block", rows * full);
  block(fb, hpb);
  fb.sint(add_imm_instrs(xs, true) * 2);
  push_phase(c, fb.body(full));
  PhaseTally h0(cfg, "first head", rows * (full + (tail_heads ? 1 : 0)));
  head(h0, true);
  push_phase(c, serial(h0.p));
  PhaseTally hn(cfg, "head", rows * full * (hpb - 1));
  head(hn, false);
  push_phase(c, serial(hn.body(hpb - 1)));
  if (tail_heads) {
    PhaseTally tb(cfg, "tail block", rows);
    block(tb, tail_heads);
    push_phase(c, tb.p);
    PhaseTally th(cfg, "tail head", rows * (tail_heads - 1));
    head(th, false);
    push_phase(c, serial(th.body(tail_heads - 1)));
  }
  return c;
}

namespace {

// for_rows over `tensors` tensors of [rows, cols] (rows_alloc physical rows): column blocks outer,
// rows inner; `body` is one row of one block.
VectorKernelCounts elementwise_counts(const config::HardwareConfig& cfg, std::string kernel, uint64_t rows,
                                      uint64_t rows_alloc, uint64_t cols, uint64_t tensors, uint64_t setup_instrs,
                                      const std::function<void(PhaseTally&)>& body) {
  const uint64_t vlen = cfg.geometry.vlen, blocks = ceil_div(cols, vlen);
  VectorKernelCounts c;
  c.kernel = std::move(kernel);
  PhaseTally s(cfg, "setup", 1);
  s.fp_mem(setup_instrs ? 1 : 0).sint(setup_instrs ? setup_instrs - 1 : 0);
  s.sint(tensors).loop_start(blocks);
  push_phase(c, s.p);
  PhaseTally b(cfg, "column block", blocks);
  b.loop_start(rows).sint(tensors * add_imm_instrs((rows_alloc - rows) * vlen, true));
  push_phase(c, b.body(blocks));
  PhaseTally r(cfg, "row", blocks * rows);
  body(r);
  r.sint(tensors * add_imm_instrs(vlen, true));
  push_phase(c, r.body(rows));
  return c;
}

}  // namespace

VectorKernelCounts swiglu_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols) {
  const auto& l = cfg.latency;
  // setup: the constant 1.0 and the scratch row pointer
  return elementwise_counts(cfg, "swiglu", rows, rows_alloc, cols, 3, 2, [&](PhaseTally& r) {
    r.vec(l.vector_add).vec(l.vector_exp).vec(l.vector_add).vec(l.vector_reci).vec(l.vector_mul, 2);
  });
}

VectorKernelCounts residual_add_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc,
                                       uint64_t cols) {
  const auto& l = cfg.latency;
  return elementwise_counts(cfg, "residual", rows, rows_alloc, cols, 3, 0,
                            [&](PhaseTally& r) { r.vec(l.vector_add); });
}

VectorKernelCounts gather_last_counts(const config::HardwareConfig& cfg, uint64_t batch, uint64_t hidden) {
  VectorKernelCounts c;
  c.kernel = "gather_last";
  PhaseTally t(cfg, "row block", batch * ceil_div(hidden, cfg.geometry.vlen));
  t.sint(2).vec(cfg.latency.vector_add);
  push_phase(c, t.p);
  return c;
}


VectorKernelCounts rope_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols,
                               uint64_t head_dim) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  const uint64_t xs = rows_alloc * vlen;  // x, y and the tables share rows_alloc in a model step
  VectorKernelCounts c;
  c.kernel = "rope";
  if (head_dim > vlen) {
    const uint64_t hb = head_dim / vlen, half_b = hb / 2, heads = cols / head_dim;
    PhaseTally s(cfg, "setup", 1);
    s.sint(6).loop_start(rows);
    push_phase(c, s.p);
    PhaseTally r(cfg, "row", rows);
    for (uint64_t h = 0; h < heads; ++h)
      for (uint64_t j = 0; j < half_b; ++j) {
        const uint64_t b1 = h * hb + j, b2 = b1 + half_b;
        for (uint64_t v : {b2 * xs, j * xs, b1 * xs, (j + half_b) * xs, j * xs, b1 * xs, b2 * xs, (j + half_b) * xs,
                           b2 * xs})
          r.sint(add_imm_instrs(v, false));
        r.vec(l.vector_mul, 4).vec(l.vector_add, 2);
      }
    r.sint(4 * add_imm_instrs(vlen, true));
    push_phase(c, r.body(rows));
    return c;
  }
  const uint64_t col_blocks = ceil_div(cols, vlen), groups = ceil_div(rows, blen), sub = mlen / blen;
  PhaseTally s(cfg, "setup", 1);
  count_set_reg(s, true);
  count_set_reg(s, true);
  count_set_reg(s, true);
  s.sint(1).dma(1, false).sint(2).loop_start(col_blocks);
  push_phase(c, s.p);
  // swap tile: one H_PREFETCH_M of m_weight, MLEN columns; the first M_MM waits for it
  c.dma = {std::max<uint64_t>(mlen, cfg.hbm.m_prefetch_amount), mlen, mlen, cfg.formats.m_weight, false, true, true, false};
  PhaseTally cb(cfg, "column block", col_blocks);
  cb.sint(4).loop_start(groups).sint(add_imm_instrs(xs, true) * 2);
  push_phase(c, cb.body(col_blocks));
  // One row group: swap(x) on the matrix unit (BLEN columns per M_MM), then the combine on the
  // vector unit; the next group's M_MMs overlap this group's combine.
  PhaseTally g(cfg, "row group", col_blocks * groups);
  PhaseTally mm(cfg, "", 1);
  mm.mat(l.systolic_overhead + l.matrix_mm).mat(l.matrix_writeout);
  mm.sint(add_imm_instrs(blen * mlen, true) + add_imm_instrs(blen, true));
  PhaseTally vr(cfg, "", 1);
  vr.vec(l.vector_mul, 2).vec(l.vector_add).sint(5 * add_imm_instrs(vlen, true));
  g.sint(2).absorb(mm.p, sub).sint(1).absorb(vr.p, blen);
  push_phase(c, g.body(groups));
  return c;
}

VectorKernelCounts embedding_counts(const config::HardwareConfig& cfg, uint64_t tokens, uint64_t rows_alloc,
                                    uint64_t hidden) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, amount = cfg.hbm.v_prefetch_amount, cbk = ceil_div(hidden, vlen);
  const uint64_t total = cbk * rows_alloc;
  auto direct = [&](uint64_t i, uint64_t r) { return i * rows_alloc + r + amount <= total; };
  uint64_t safe = 0;
  while (safe < cbk && tokens > 0 && direct(safe, tokens - 1)) ++safe;
  const bool scratch = safe < cbk;
  VectorKernelCounts c;
  c.kernel = "embedding";
  // Each H_PREFETCH_V writes `amount` VRAM rows overlapping the next one's: they run one at a time.
  c.dma = {amount, vlen, 0, cfg.formats.v_act, false, false, false, true};  // token rows: a gather
  PhaseTally s(cfg, "setup", 1);
  count_set_reg(s, true);
  count_set_reg(s, true);
  count_set_reg(s, false);
  if (scratch) s.fp_mem(1).sint(1);
  s.sint(2).loop_start(safe);
  push_phase(c, s.p);
  auto block_tail = [&](PhaseTally& t) {
    t.sint(add_imm_instrs((rows_alloc - tokens) * vlen, true) + add_imm_instrs(vlen, true));
  };
  PhaseTally b(cfg, "block", safe);
  b.sint(3 * tokens).dma(tokens, true);
  block_tail(b);
  push_phase(c, b.body(safe));
  PhaseTally u(cfg, "unrolled blocks", 1);
  for (uint64_t i = safe; i < cbk; ++i) {
    for (uint64_t r = 0; r < tokens; ++r) {
      u.sint(3).dma(1, true);
      if (!direct(i, r)) u.vec(l.vector_mul);
    }
    block_tail(u);
  }
  push_phase(c, u.p);
  return c;
}

VectorKernelCounts kv_store_counts(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len,
                                   uint64_t kv_heads, uint64_t padded_dim, uint64_t row_stride) {
  const uint64_t vlen = cfg.geometry.vlen, wb = cfg.hbm.v_writeback_amount;
  const uint64_t groups = ceil_div(q_len, wb), blocks = batch * kv_heads * (padded_dim / vlen);
  VectorKernelCounts c;
  c.kernel = "kv_store";
  c.dma = {wb, vlen, row_stride, cfg.formats.v_kv, true, false, false, false};
  PhaseTally s(cfg, "setup", 1);
  count_set_reg(s, true);
  count_set_reg(s, true);
  count_set_reg(s, true);
  push_phase(c, s.p);
  PhaseTally h(cfg, "head block", blocks);
  h.sint(2).loop_start(groups);
  push_phase(c, h.p);
  PhaseTally g(cfg, "store", blocks * groups);
  g.dma(1, false).sint(add_imm_instrs(wb * vlen, true) + add_imm_instrs(wb * row_stride, true));
  push_phase(c, g.body(groups));
  return c;
}

}  // namespace plena::compiler
namespace plena::compiler {
using attn::attention_schedule;
using attn::head_map;
using attn::HeadMap;
using attn::Schedule;
using attn::tiles_per_prefetch;
using attn::window_lowest_key;

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

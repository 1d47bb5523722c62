// Per-kernel estimates from the compiler's closed-form counts (compiler::linear_counts,
// compiler::attention_counts), the config's latency table and the calibrated DMA timing.
// Formulas: docs/analytic.md §2.
#include <algorithm>
#include <cmath>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Dynamic instructions of ProgramBuilder::loop(count, body) with hardware loops:
// C_LOOP_START once, the body and C_LOOP_END per iteration; count 1 emits the body alone.
uint64_t loop_instrs(uint64_t count, uint64_t body) {
  if (count == 0) return 0;
  if (count == 1) return body;
  return 1 + count * (body + 1);
}

void classify(OpEstimate& e) {
  const double compute = std::max(e.matrix_cycles, e.vector_cycles);
  if (e.dma_cycles >= compute && e.dma_cycles >= e.issue_cycles)
    e.bound = Bound::Memory;
  else if (e.issue_cycles > compute)
    e.bound = Bound::Issue;
  else
    e.bound = Bound::Compute;
}

}  // namespace

std::string_view bound_name(Bound b) {
  switch (b) {
    case Bound::Compute: return "compute";
    case Bound::Memory: return "memory";
    case Bound::Issue: return "issue";
  }
  return "?";
}

OpEstimate estimate_linear(const config::HardwareConfig& cfg, MemoryModel& mem, uint64_t rows_alloc, uint64_t k,
                           uint64_t n, uint64_t chunk_tiles) {
  const auto& g = cfg.geometry;
  const auto& lat = cfg.latency;
  if (k == 0 || n == 0 || rows_alloc == 0 || k % g.mlen || n % g.mlen || rows_alloc % g.blen)
    throw InputError("analytic linear: K and N must be positive multiples of MLEN and rows a multiple of BLEN");
  const uint64_t k_tiles = k / g.mlen, tpp = std::max<uint64_t>(1, cfg.hbm.m_prefetch_amount / g.mlen);
  uint64_t cap = chunk_tiles ? std::max(chunk_tiles, tpp) : cfg.matrix_tiles();
  cap = cap / tpp * tpp;
  if (cap == 0) throw InputError("analytic linear: the MRAM holds less than one H_PREFETCH_M");
  const uint64_t chunk = std::min(cap, ceil_div(k_tiles, tpp) * tpp);
  const compiler::LinearCounts c = compiler::linear_counts(cfg, rows_alloc, k, n, std::min(chunk, k_tiles));

  const DmaPattern pat = prefetch_m_pattern(cfg, cfg.formats.m_weight, n);
  const DmaTiming dma = mem.timing(pat);
  const double mm = double(lat.systolic_overhead + lat.matrix_mm), wo = double(lat.matrix_writeout);
  const uint64_t R = rows_alloc, rgs = R / g.blen, sub = g.mlen / g.blen;

  OpEstimate e;
  e.name = "linear";
  e.macs = c.m_mm * uint64_t(g.blen) * g.mlen * g.blen;
  e.hbm_read_bytes = c.h_prefetch_m * pat.bytes();
  e.matrix_cycles = double(c.m_mm) * mm + double(c.m_mm_wo) * wo;
  e.vector_cycles = double(c.v_add_vv) * double(lat.vector_add);

  // Dynamic instruction count of emit_linear (one instruction per set/add/load immediate).
  // The K-chunk's HBM offset immediate is legalised like ProgramBuilder::add_imm (ADDI up to
  // 18 bits, else LUI [+ ADDI] + ADD); other immediates are addresses the model does not know
  // and are counted as one instruction.
  const uint64_t row_stride = compiler::hbm_row_stride(cfg.formats.m_weight, n);
  auto add_imm_instrs = [](uint64_t v) -> uint64_t {
    if (v <= compiler::kImm18Max) return 1;
    return 1 + ((v & 0xFFF) ? 1 : 0) + 1;
  };
  auto chunk_instrs = [&](uint64_t kt0, uint64_t ktc, bool first) {
    const uint64_t pf = ceil_div(ktc, tpp);
    uint64_t i = add_imm_instrs(kt0 * g.mlen * row_stride) + 1 + loop_instrs(pf, 3) + 2;
    i += loop_instrs(sub, 2 + loop_instrs(rgs, 2 + loop_instrs(ktc, 3) + 3) + 2);
    if (!first) i += 2 + loop_instrs(R, 3);
    return i;
  };
  uint64_t per_block = 2;
  for (uint64_t kt0 = 0; kt0 < k_tiles; kt0 += chunk) per_block += chunk_instrs(kt0, std::min(chunk, k_tiles - kt0), kt0 == 0);
  e.instructions = 7 + loop_instrs(c.n_blocks, per_block);
  e.issue_cycles = double(e.instructions);
  e.dma_cycles = double(c.h_prefetch_m) * dma.per_transfer_cycles;

  double total = 0;
  if (cfg.timing.mode == config::TimingMode::InOrder) {
    // Everything serialises: scalar/control instructions cost their 1-cycle class each.
    const double other = double(e.instructions - c.m_mm - c.m_mm_wo - c.v_add_vv - c.h_prefetch_m);
    total = e.matrix_cycles + e.vector_cycles + other * double(lat.scalar_int_basic) +
            double(c.h_prefetch_m) * dma.alone_cycles;
  } else {
    // Decoupled: per (column block, K chunk) the prefetches stream into the chunk's MRAM region
    // (they wait for the previous chunk's last M_MM: WAR on the same tiles); the first row group
    // consumes the tiles as they land; the rest of the chunk runs at max(matrix, issue) rate; a
    // later chunk's V_ADD_VV accumulation is issue-bound before the next prefetch can issue.
    for (uint64_t kt0 = 0; kt0 < k_tiles; kt0 += chunk) {
      const uint64_t ktc = std::min(chunk, k_tiles - kt0);
      const bool first = kt0 == 0;
      double t = 0;
      for (uint64_t kk = 0; kk < ktc; ++kk) {
        const double arrive = dma.first_cycles + double(kk / tpp) * dma.per_transfer_cycles;
        t = std::max(t, arrive) + mm;
      }
      t += wo;
      const double rest_matrix = double(sub * rgs * ktc - ktc) * mm + double(sub * rgs - 1) * wo;
      const double rest_issue = double(chunk_instrs(kt0, ktc, first)) - double(3 * ktc + 4 + 3 * ceil_div(ktc, tpp));
      t += std::max(rest_matrix, rest_issue - (first ? 0.0 : double(loop_instrs(R, 3))));
      if (!first) t += std::max(double(R) * double(lat.vector_add), double(loop_instrs(R, 3)));
      total += t * double(c.n_blocks);
    }
    total += 7;
  }
  e.cycles = total;
  classify(e);
  return e;
}

OpEstimate estimate_attention(const config::HardwareConfig& cfg, MemoryModel& mem, uint64_t batch, uint64_t q_len,
                              uint64_t kv_len, uint64_t heads, uint64_t kv_heads, uint64_t head_dim,
                              uint64_t sliding_window) {
  const auto& g = cfg.geometry;
  const auto& lat = cfg.latency;
  compiler::AttentionArgs a;
  a.batch = batch;
  a.q_len = q_len;
  a.kv_len = kv_len;
  a.num_heads = heads;
  a.num_kv_heads = kv_heads;
  a.head_dim = head_dim;
  a.causal = true;
  a.sliding_window = sliding_window;
  // The kernel derives its query chunk and heads per pass from the free FP SRAM (running max
  // and sum of every (head, row) of a pass).
  const uint64_t fp_free = cfg.sram.fp_depth > 8 ? cfg.sram.fp_depth - 8 : cfg.sram.fp_depth;
  const compiler::AttentionCounts c = compiler::attention_counts(cfg, a, fp_free);
  // KV tiles: MLEN-wide column blocks of cache rows holding every kv head of a position; the
  // identity tile (head_dim < MLEN: Q copy) is one MLEN-wide weight prefetch per (sequence,
  // column block, query chunk).
  const uint64_t row_width = (kv_heads * head_dim + g.mlen - 1) / g.mlen * g.mlen;
  const DmaPattern pat = prefetch_m_pattern(cfg, cfg.formats.m_kv, row_width);
  const DmaTiming dma = mem.timing(pat);
  const uint64_t kv_prefetches = c.h_prefetch_m - c.identity_prefetches;
  DmaPattern id_pat;
  DmaTiming id_dma;
  if (c.identity_prefetches) {
    id_pat = prefetch_m_pattern(cfg, cfg.formats.m_weight, g.mlen);
    id_dma = mem.timing(id_pat);
  }

  OpEstimate e;
  e.name = "attention";
  e.exact_schedule = false;  // matrix/DMA counts exact; per-row softmax cost approximate
  const double mm = double(lat.systolic_overhead + lat.matrix_mm);
  e.matrix_cycles = double(c.m_tmm + c.m_mm) * mm + double(c.m_mm_wo) * double(lat.matrix_writeout);
  e.macs = (c.m_tmm + c.m_mm) * uint64_t(g.blen) * g.mlen * g.blen;
  e.hbm_read_bytes = kv_prefetches * pat.bytes() + c.identity_prefetches * id_pat.bytes();
  const uint64_t kb = head_dim <= g.mlen ? 1 : head_dim / g.mlen;  // column blocks per head
  // Online softmax per row: max, subtract, exp, sum, rescale of the output blocks; masked rows add one V_ADD.
  const double row_vec = double(lat.vector_max + lat.vector_add + lat.vector_exp + lat.vector_sum) +
                         double(kb) * double(lat.vector_mul + lat.vector_add);
  e.vector_cycles = double(c.softmax_rows) * row_vec + double(c.masked_rows) * double(lat.vector_add);
  const double row_scalar = 6 * double(lat.scalar_fp_basic) + double(lat.scalar_fp_exp);
  e.instructions = c.softmax_rows * (14 + 2 * kb) + c.masked_rows * 2 + (c.m_tmm + c.m_mm + c.m_mm_wo) * 3 +
                   c.h_prefetch_m * 3;
  e.issue_cycles = double(e.instructions);
  e.dma_cycles = double(kv_prefetches) * dma.per_transfer_cycles +
                 double(c.identity_prefetches) * id_dma.per_transfer_cycles;
  if (cfg.timing.mode == config::TimingMode::InOrder) {
    e.cycles = e.matrix_cycles + e.vector_cycles + double(c.softmax_rows) * row_scalar +
               double(kv_prefetches) * dma.alone_cycles + double(c.identity_prefetches) * id_dma.alone_cycles +
               double(e.instructions) * 0.5;
  } else {
    e.cycles = std::max({e.matrix_cycles + e.vector_cycles, e.dma_cycles, e.issue_cycles}) + dma.first_cycles;
  }
  classify(e);
  return e;
}

DmaPattern kernel_dma_pattern(const config::HardwareConfig& cfg, const compiler::KernelDma& d) {
  if (d.matrix) return prefetch_m_pattern(cfg, d.format, d.cols);
  DmaPattern p;
  p.rows = d.rows;
  p.elem_row_bytes = numerics::packed_element_bytes(d.format, d.cols);
  p.elem_stride = numerics::packed_element_bytes(d.format, d.stride);
  p.scale_row_bytes = numerics::scale_bytes(d.format, d.cols);
  p.scale_stride = numerics::scale_bytes(d.format, d.stride);
  // Scales follow the tensor's element region (SCALE_REG): a few thousand rows further on.
  p.scale_offset = (std::max(p.elem_stride, p.elem_row_bytes) * 4096 + 63) / 64 * 64;
  p.write = d.write;
  return p;
}

OpEstimate estimate_kernel(const config::HardwareConfig& cfg, MemoryModel& mem, const compiler::VectorKernelCounts& k) {
  OpEstimate e;
  e.name = k.kernel;
  const uint64_t transfers = k.transfers();
  DmaTiming dma;
  if (transfers) {
    const DmaPattern pat = kernel_dma_pattern(cfg, k.dma);
    dma = mem.timing(pat);
    (k.dma.write ? e.hbm_write_bytes : e.hbm_read_bytes) = transfers * pat.bytes();
  }
  const bool in_order = cfg.timing.mode == config::TimingMode::InOrder;
  double total = 0;
  // A gather (embedding rows of arbitrary token ids) opens a new DRAM row per transfer: each
  // costs what the first, cold transfer of a burst costs rather than the row-hit average.
  const double one = k.dma.gather ? std::max(dma.alone_cycles, dma.first_cycles) : dma.alone_cycles;
  for (const auto& p : k.phases) {
    const double times = double(p.times);
    e.matrix_cycles += times * double(p.matrix_cycles);
    e.vector_cycles += times * double(p.vector_cycles);
    double dma_rep = double(p.dma) * (p.dma_serial ? one : dma.per_transfer_cycles);
    // Awaited transfers (a parameter row, the RoPE swap tile): the phase ends no earlier than the
    // burst that the next phase's first instruction reads has landed.
    if (!in_order && k.dma.wait_first && p.dma && !p.dma_serial)
      dma_rep = dma.first_cycles;
    e.dma_cycles += times * dma_rep;
    if (in_order) {
      total += times * (double(p.serial_cycles) + double(p.dma) * one);
    } else {
      // Within a phase the units overlap; the front end issues one instruction per cycle.
      total += times * (std::max({double(p.instructions), double(p.vector_cycles), double(p.matrix_cycles),
                                  double(p.chain_cycles), dma_rep}) +
                        double(p.exposed_cycles));
    }
  }
  e.instructions = k.instructions();
  e.issue_cycles = double(e.instructions);
  e.cycles = total;
  classify(e);
  return e;
}

OpEstimate estimate_vector(const config::HardwareConfig& cfg, MemoryModel& mem, std::string_view kind, uint64_t rows,
                           uint64_t rows_alloc, uint64_t cols, uint64_t head_dim) {
  if (rows == 0 || cols == 0 || rows_alloc < rows)
    throw InputError("analytic vector kernel: rows and cols must be positive and rows_alloc >= rows");
  compiler::VectorKernelCounts k;
  if (kind == "rmsnorm")
    k = compiler::rmsnorm_counts(cfg, rows, rows_alloc, cols, true);
  else if (kind == "swiglu")
    k = compiler::swiglu_counts(cfg, rows, rows_alloc, cols);
  else if (kind == "bias_add")
    k = compiler::bias_add_counts(cfg, rows, rows_alloc, cols);
  else if (kind == "head_rmsnorm")
    k = compiler::head_rmsnorm_counts(cfg, rows, rows_alloc, cols, head_dim);
  else if (kind == "residual")
    k = compiler::residual_add_counts(cfg, rows, rows_alloc, cols);
  else if (kind == "rope")
    k = compiler::rope_counts(cfg, rows, rows_alloc, cols, head_dim);
  else if (kind == "embedding")
    k = compiler::embedding_counts(cfg, rows, rows_alloc, cols);
  else if (kind == "gather_last")
    k = compiler::gather_last_counts(cfg, rows, cols);
  else
    throw InputError(std::string("analytic: unknown vector kernel '") + std::string(kind) +
                     "', expected rmsnorm, head_rmsnorm, swiglu, bias_add, residual, rope, embedding or gather_last");
  return estimate_kernel(cfg, mem, k);
}

}  // namespace plena::analytic

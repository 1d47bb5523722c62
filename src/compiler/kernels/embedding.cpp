// Embedding lookup: H_PREFETCH_V with STRIDE_REG = 0 (docs/kernels-vector.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/vector_common.hpp"
#include "support/support.hpp"

namespace plena::compiler {

using namespace vk;

void emit_embedding(ProgramBuilder& b, MemoryPlan& plan, const EmbeddingArgs& a) {
  auto ks = b.kernel(a.name);
  const auto& cfg = b.config();
  const uint64_t vlen = cfg.geometry.vlen, amount = cfg.hbm.v_prefetch_amount;
  if (!plan.hbm_space().contains(a.table)) fail(a.name, fmt::format("table '{}' is not an HBM tensor", a.table));
  const HbmTensor& t = plan.hbm(a.table);
  const VramTensor y = input_tensor(plan, a.name, "output", a.output);
  if (y.rows != a.token_ids.size() || y.cols != t.cols)
    fail(a.name, fmt::format("output '{}' is [{}, {}], expected [{} tokens, {} (the table's hidden size)]", y.name, y.rows,
                             y.cols, a.token_ids.size(), t.cols));
  const uint32_t precision = v_precision(cfg, t, a.name, "table");
  if (t.row_stride < y.col_blocks * vlen)
    fail(a.name, fmt::format("table '{}' has row stride {}; whole VLEN blocks are read, expected >= {} (place it with "
                             "row_multiple = VLEN)",
                             a.table, t.row_stride, y.col_blocks * vlen));
  for (size_t r = 0; r < a.token_ids.size(); ++r)
    if (a.token_ids[r] < 0 || uint64_t(a.token_ids[r]) >= t.rows)
      fail(a.name, fmt::format("token id {} at row {} is outside the table's {} rows", a.token_ids[r], r, t.rows));
  b.comment(fmt::format("{}: embedding lookup of {} tokens from '{}' ({} prefetch rows per H_PREFETCH_V)", a.name,
                        a.token_ids.size(), a.table, amount));

  // A prefetch for row r of block i writes tensor rows g..g+amount-1, g = i*rows_alloc + r (block
  // i+1 follows block i). It may go straight to the output when that stays inside the tensor;
  // rows written later overwrite the spill. Other rows land in a scratch and are copied.
  const uint64_t total = y.col_blocks * y.rows_alloc;
  auto direct = [&](uint64_t i, uint64_t r) { return i * y.rows_alloc + r + amount <= total; };
  uint64_t safe_blocks = 0;  // blocks whose rows are all direct
  while (safe_blocks < y.col_blocks && direct(safe_blocks, y.rows - 1)) ++safe_blocks;
  const bool need_scratch = safe_blocks < y.col_blocks;
  std::optional<ScratchRows> scratch;
  if (need_scratch) scratch.emplace(plan, a.name + ".landing", amount, vlen);

  // Token rows: unrelated DRAM rows (a gather), and each prefetch's rows overlap the next one's
  // VRAM rows, so they run one at a time.
  auto hint = b.dma_hint({.gather = true, .serial = true});
  auto ar = b.regs().hbm("embedding table");
  b.set_addr_reg(ar, t.base);
  b.set_scale_reg(t.scale_reg);
  b.set_stride_reg(0);  // every prefetched row is the same table row
  auto dst = b.regs().gp("output row");
  auto off = b.regs().gp("table offset");
  auto boff = b.regs().gp("block offset");
  std::optional<ScopedFp> one;
  std::optional<ScopedGp> land;
  if (need_scratch) {
    plan.fp_constant("one", 1.0f);
    one.emplace(b.regs().fp("1.0"));
    load_fp_constant(b, plan, *one, "one");
    land.emplace(b.regs().gp("landing row"));
    b.load_imm(*land, scratch->t().base());
  }
  // One column block: rows in ascending order so each prefetch's spill is overwritten later.
  auto block = [&](std::optional<uint64_t> i) {  // i: a static block index (per-row checks), or none
    for (size_t r = 0; r < a.token_ids.size(); ++r) {
      b.load_imm(off, uint64_t(a.token_ids[r]) * t.row_stride);
      b.s_add_int(off, off, boff);
      if (i && !direct(*i, r)) {
        b.h_prefetch_v(*land, off, ar, 1, precision);
        b.v_mul_vf(dst, *land, *one);  // exact copy (x * 1.0)
      } else {
        b.h_prefetch_v(dst, off, ar, 1, precision);
      }
      b.add_imm(dst, dst, vlen);
    }
    b.add_imm(dst, dst, (y.rows_alloc - y.rows) * vlen);
    b.add_imm(boff, boff, vlen);
  };
  b.load_imm(dst, y.base());
  b.load_imm(boff, 0);
  b.loop(safe_blocks, [&] { block(std::nullopt); });
  for (uint64_t i = safe_blocks; i < y.col_blocks; ++i) block(i);
}

namespace {

// A 1024-row table and spread-out ids (consecutive lookups hit unrelated DRAM rows).
void embedding_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t rows = s.get("rows"), cols = s.get("cols"), vocab = 1024;
  standalone::hbm_rows(plan, "table", vocab, cols);
  standalone::activation(plan, s, "x", cols);
  std::vector<int64_t> ids(rows);
  for (uint64_t i = 0; i < rows; ++i) ids[i] = int64_t((i * 389 + 7) % vocab);
  emit_embedding(b, plan, {"embedding", "table", "x", ids});
}

}  // namespace

extern const KernelEntry kEmbeddingKernel;
const KernelEntry kEmbeddingKernel{"embedding", "token embedding lookup",
                                   {"rows", "rows_alloc", "cols"},
                                   embedding_standalone, KernelSchedule::Phased,
    {{16, 576}}};

}  // namespace plena::compiler

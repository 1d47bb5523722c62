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

namespace {

constexpr uint64_t kRingSlots = 16;  // landing buffers (twice the DMA queue depth)

// One H_PREFETCH_V of the lookup: `blocks` column blocks of output row `row` from landing rows
// land_row.. of a transfer that starts at table element `offset`.
struct Fetch {
  uint64_t offset = 0;
  bool repeat_row = false;  // STRIDE_REG 0: one VLEN block read `amount` times
  uint64_t row = 0, first_block = 0, blocks = 0, land_row = 0;
};

// A token's blocks are consecutive table elements: one transfer of `amount` consecutive VLEN rows
// (row stride = VLEN) carries up to `amount` of them, so it moves amount/blocks times the row's
// bytes instead of amount times. A window that would run past the table's element region starts
// earlier (the token's blocks then land further down the slot). A table smaller than one window,
// or rows not VLEN-aligned, read each block with STRIDE_REG 0 (amount copies of one block).
std::vector<Fetch> plan_fetches(const HbmTensor& t, const std::vector<int64_t>& ids, uint64_t blocks, uint64_t vlen,
                                uint64_t amount) {
  const uint64_t table = t.rows * t.stride(), window = amount * vlen;
  const bool windows = t.stride() % vlen == 0 && table >= window;
  std::vector<Fetch> v;
  for (size_t r = 0; r < ids.size(); ++r) {
    const uint64_t row_offset = uint64_t(ids[r]) * t.stride();
    const uint64_t per = windows ? amount : 1;
    for (uint64_t b0 = 0; b0 < blocks; b0 += per) {
      Fetch f;
      f.row = r;
      f.first_block = b0;
      f.blocks = std::min(per, blocks - b0);
      const uint64_t start = row_offset + b0 * vlen;
      f.offset = windows ? std::min(start, table - window) : start;
      f.repeat_row = !windows;
      f.land_row = (start - f.offset) / vlen;
      v.push_back(f);
    }
  }
  return v;
}

// In order every transfer blocks, so a ring of landing buffers overlaps nothing: one block per
// transfer (STRIDE_REG 0) straight into the output. (Windows would move fewer bytes in order too,
// but the estimate's in-order time for them is 15% off the bank model's; docs/kernels-vector.md.)
void lookup_in_order(ProgramBuilder& b, MemoryPlan& plan, const EmbeddingArgs& a, const HbmTensor& t,
                     const VramTensor& y, uint32_t precision) {
  const uint64_t vlen = b.config().geometry.vlen, amount = b.config().hbm.v_prefetch_amount;
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

// Decoupled: the transfers of plan_fetches through a ring of landing buffers (docs/kernels-vector.md §6).
void lookup_windows(ProgramBuilder& b, MemoryPlan& plan, const EmbeddingArgs& a, const HbmTensor& t,
                    const VramTensor& y, uint32_t precision) {
  const uint64_t vlen = b.config().geometry.vlen, amount = b.config().hbm.v_prefetch_amount;
  const std::vector<Fetch> fetches =
      plan_fetches(t, a.token_ids, y.col_blocks, vlen, amount);
  if (fetches.empty()) return;
  const bool repeat = std::any_of(fetches.begin(), fetches.end(), [](const Fetch& f) { return f.repeat_row; });

  // Each H_PREFETCH_V lands in a slot of a ring of landing buffers and its rows are copied to the
  // output (x * 1.0, exact) `lag` fetches later, so up to `lag` transfers are in flight while the
  // copies of earlier ones run (a slot is reused only after its copies have read it).
  const uint64_t ring = std::clamp<uint64_t>(plan.vram_space().largest_free() / amount, 1,
                                             std::min<uint64_t>(kRingSlots, fetches.size()));
  const uint64_t lag = ring / 2;
  ScratchRows landing(plan, a.name + ".landing", ring * amount, vlen);
  auto ar = b.regs().hbm("embedding table");
  b.set_addr_reg(ar, t.base);
  b.set_scale_reg(t.scale_reg);
  if (repeat) b.set_stride_reg(0);  // every prefetched row is the same table row
  plan.fp_constant("one", 1.0f);
  auto one = b.regs().fp("1.0");
  load_fp_constant(b, plan, one, "one");
  auto off = b.regs().gp("table offset");
  auto land = b.regs().gp("landing slot");
  auto src = b.regs().gp("landing row");
  auto dst = b.regs().gp("output row");
  auto slot_base = [&](uint64_t i) { return landing.t().base() + (i % ring) * amount * vlen; };
  for (uint64_t i = 0; i < fetches.size() + lag; ++i) {
    if (i < fetches.size()) {
      b.load_imm(off, fetches[i].offset);
      b.load_imm(land, slot_base(i));
      // A token's first transfer opens an unrelated DRAM row (a gather); its others follow on.
      auto hint = b.dma_hint({.gather = fetches[i].first_block == 0 || fetches[i].repeat_row});
      b.h_prefetch_v(land, off, ar, fetches[i].repeat_row ? 1 : 0, precision);
    }
    if (i < lag) continue;
    const Fetch& f = fetches[i - lag];
    for (uint64_t k = 0; k < f.blocks; ++k) {
      b.load_imm(src, slot_base(i - lag) + (f.land_row + k) * vlen);
      b.load_imm(dst, y.address(f.row, (f.first_block + k) * vlen));
      b.v_mul_vf(dst, src, one);
    }
  }
}

}  // namespace

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
  if (cfg.timing.mode == config::TimingMode::InOrder) return lookup_in_order(b, plan, a, t, y, precision);
  lookup_windows(b, plan, a, t, y, precision);
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

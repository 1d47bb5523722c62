// Zero the columns [first_col, cols) of a VRAM tensor (kernels_vector.hpp): the columns a
// projection padded to MLEN carries past its last head, which no kernel writes otherwise.
#include <fmt/format.h>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels_vector.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::compiler {

// Write-outs of the zero matrix accumulator (every kernel leaves it zero: each M_MM_WO resets it),
// BLEN rows x BLEN columns each: exact zeros whatever the rows held (a vector multiply by 0 would
// keep a NaN).
void emit_zero_columns(ProgramBuilder& b, MemoryPlan& plan, const ZeroColumnsArgs& a) {
  const uint64_t blen = b.config().geometry.blen;
  const VramTensor& t = plan.vram(a.tensor);
  if (a.first_col % blen || a.first_col > t.cols || t.rows_alloc % blen)
    throw InputError(fmt::format("kernel '{}': tensor '{}' is [{} ({} allocated), {}], expected first_col {} <= cols, "
                                 "first_col and the allocated rows multiples of BLEN = {}",
                                 a.name, t.name, t.rows, t.rows_alloc, t.cols, a.first_col, blen));
  if (a.first_col == t.cols) return;
  auto ks = b.kernel(a.name);
  b.comment(fmt::format("{}: zero columns {}..{} of '{}'", a.name, a.first_col, t.cols - 1, t.name));
  auto r = b.regs().gp("zero row group");
  const uint64_t cols = round_up(t.cols, blen);
  for (uint64_t c0 = a.first_col; c0 < cols;) {
    const uint64_t block_end = std::min(cols, (c0 / t.vlen + 1) * t.vlen);
    b.load_imm(r, t.address(0, c0 - c0 % t.vlen));
    b.loop(t.rows_alloc / blen, [&] {
      for (uint64_t c = c0; c < block_end; c += blen) b.m_mm_wo(r, gp0, uint32_t(c % t.vlen));
      b.add_imm(r, r, blen * t.vlen);
    });
    c0 = block_end;
  }
}

namespace {

void zero_columns_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  standalone::activation(plan, s, "attn", s.get("cols"));
  emit_zero_columns(b, plan, {"zero_columns", "attn", s.get("first_col")});
}

}  // namespace

extern const KernelEntry kZeroColumnsKernel;
const KernelEntry kZeroColumnsKernel{"zero_columns", "zero a VRAM tensor's padding columns",
                                     {"rows", "rows_alloc", "cols", "first_col"}, zero_columns_standalone,
                                     KernelSchedule::Phased,
    {{16, 128, 72}, {5, 192, 4}}};

}  // namespace plena::compiler

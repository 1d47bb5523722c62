// Shared pieces of the vector kernels (src/compiler/kernels/*.cpp only; not part of the public API):
// tensor lookups, scratch rows, masks, parameter rows, block and row walks.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "compiler/kernels_vector.hpp"
#include "support/math.hpp"

namespace plena::compiler::vk {

[[noreturn]] void fail(std::string_view kernel, std::string_view what);

// A VRAM tensor by name (InputError naming the kernel and role when absent).
VramTensor input_tensor(const MemoryPlan& plan, std::string_view kernel, std::string_view role, const std::string& name);
// Same, and the shape must equal `ref`'s.
VramTensor like_tensor(const MemoryPlan& plan, std::string_view kernel, std::string_view role, const std::string& name,
                       const VramTensor& ref);

// VRAM scratch freed when it goes out of scope.
class ScratchRows {
 public:
  ScratchRows(MemoryPlan& plan, std::string name, uint64_t rows, uint64_t cols);
  ~ScratchRows();
  ScratchRows(const ScratchRows&) = delete;
  ScratchRows& operator=(const ScratchRows&) = delete;
  const VramTensor& t() const { return t_; }

 private:
  MemoryPlan& plan_;
  std::string name_;
  VramTensor t_;
};

// f[dst] = FP SRAM constant `name` (S_LD_FP from gp0 + slot).
void load_fp_constant(ProgramBuilder& b, MemoryPlan& plan, FpReg dst, std::string_view name);
// The finite large negative value used to mask softmax padding for this config's types.
float mask_negative_value(const config::HardwareConfig& cfg);
// VRAM row at vram_addr = [first] * n ++ [rest] * (VLEN - n), through FP SRAM scratch + S_MAP_V_FP.
void emit_fill_row(ProgramBuilder& b, MemoryPlan& plan, const std::string& name, uint64_t vram_addr, uint64_t n,
                   FpReg first, FpReg rest);

// Mask rows for a partial last column block: keep = 1 on real columns, 0 on padding; neg = 0 on
// real columns, a large negative value on padding. Nothing is built when cols % VLEN == 0.
struct Masks {
  Masks(ProgramBuilder& b, MemoryPlan& plan, const std::string& kernel, uint64_t cols, bool with_negative);
  uint64_t tail = 0;  // real columns in the last block (0: no partial block)
  uint64_t keep = 0, neg = 0;
  std::optional<ScratchRows> rows;
};

// The H_PREFETCH_V precision bit that reads HBM tensor t (InputError when its format is neither).
uint32_t v_precision(const config::HardwareConfig& cfg, const HbmTensor& t, std::string_view kernel,
                     std::string_view role);

// A block pointer for for_blocks: starts at *row (register copy) or at `base` (immediate) and
// advances by `stride` after each full block.
struct Cursor {
  GpReg blk;
  std::optional<GpReg> row;
  uint64_t base = 0;
  uint64_t stride = 0;
};
// Emits body(false) for each full column block (a loop) and body(true) for the partial last one.
void for_blocks(ProgramBuilder& b, uint64_t cols, const std::vector<Cursor>& cursors,
                const std::function<void(bool tail)>& body);

// A [1, cols] parameter row (norm weight or bias) as VRAM addresses: full blocks at
// base + i*stride, the last block at tail_addr (masked to 0 on padding columns).
struct ParamRow {
  ParamRow(ProgramBuilder& b, MemoryPlan& plan, const std::string& kernel, const std::string& role,
           const std::string& tensor, ParamSource source, uint64_t cols, const Masks& masks);
  uint64_t base = 0, stride = 0, tail_addr = 0;
  std::optional<ScratchRows> scratch;
};

// Row pointers of a row-wise kernel (input x, output y, real rows of x): the registers for the
// row bases, the block cursors and the keep mask, and the row loop that advances them.
struct RowWalk {
  RowWalk(ProgramBuilder& b, const VramTensor& x, const VramTensor& y, const Masks& m)
      : b(b),
        x(x),
        y(y),
        x_row(b.regs().gp("x row")),
        y_row(b.regs().gp("y row")),
        xb(b.regs().gp("x block")),
        yb(b.regs().gp("y block")) {
    if (m.tail) {
      keep.emplace(b.regs().gp("keep mask"));
      b.load_imm(*keep, m.keep);
    }
    b.load_imm(x_row, x.base());
    b.load_imm(y_row, y.base());
  }
  Cursor xc() const { return {xb, x_row, 0, x.rows_alloc * x.vlen}; }
  Cursor yc() const { return {yb, y_row, 0, y.rows_alloc * y.vlen}; }
  void rows(const std::function<void()>& body) {
    b.loop(x.rows, [&] {
      body();
      b.add_imm(x_row, x_row, x.vlen);
      b.add_imm(y_row, y_row, y.vlen);
    });
  }
  ProgramBuilder& b;
  const VramTensor &x, &y;
  ScopedGp x_row, y_row, xb, yb;
  std::optional<ScopedGp> keep;
};

// Registers holding constants for register-register pointer steps (a step wider than an 18-bit
// immediate, or a step back: S_ADDI_INT takes neither), each loaded once before the loops.
class ConstRegs {
 public:
  explicit ConstRegs(ProgramBuilder& b) : b_(b) {}
  GpReg get(uint64_t value);

 private:
  ProgramBuilder& b_;
  std::vector<std::pair<uint64_t, ScopedGp>> regs_;
};

// A pointer over the `blocks` column blocks of a row (`stride` apart) that then moves to the next
// row's first block (`next` past this row's first; 0 returns to it, e.g. a parameter row): one
// instruction per block, for every stride (ConstRegs carries the wide and the backward steps).
class BlockWalk {
 public:
  BlockWalk(ProgramBuilder& b, ConstRegs& consts, uint64_t start, uint64_t blocks, uint64_t stride, uint64_t next);
  GpReg ptr() const { return ptr_; }
  void step(uint64_t k);  // after block k of the row (k = blocks - 1: on to the next row)

 private:
  ProgramBuilder& b_;
  ConstRegs& consts_;
  ScopedGp ptr_;
  uint64_t blocks_, stride_, next_;
};

// Checks eps, defines 1/n for the real column count, loads both into FP registers.
struct NormConstants {
  NormConstants(ProgramBuilder& b, MemoryPlan& plan, uint64_t cols, const std::string& eps_name)
      : inv(b.regs().fp("1/n")), eps(b.regs().fp("eps")) {
    (void)plan.fp_slot(eps_name);  // a clear error before anything is emitted
    const std::string inv_name = fmt::format("inv_n_{}", cols);
    plan.fp_constant(inv_name, float(1.0 / double(cols)));
    load_fp_constant(b, plan, inv, inv_name);
    load_fp_constant(b, plan, eps, eps_name);
  }
  // f = 1 / sqrt(f * (1/n) + eps)
  void finish(ProgramBuilder& b, FpReg f) const {
    b.s_mul_fp(f, f, inv);
    b.s_add_fp(f, f, eps);
    b.s_sqrt_fp(f, f);
    b.s_reci_fp(f, f);
  }
  ScopedFp inv, eps;
};

// GELU, tanh form, as a gate: t = 1/(1 + exp(-2k x (1 + c x^2))), k = sqrt(2/pi), c = 0.044715,
// so that x * t = gelu_tanh(x). The constructor defines and loads the constants (once, before
// the loops); emit() is the 8-op element-wise body (t must not alias x). Shared by the GELU
// activation and the gated GELU.
struct GeluTanhGate {
  GeluTanhGate(ProgramBuilder& b, MemoryPlan& plan, FpReg one);
  void emit(ProgramBuilder& b, GpReg t, GpReg x) const;
  FpReg one;
  ScopedFp c, neg_2k;
};

// Runs body(row pointers) over the `rows` real rows of every column block of `shape`, one row
// pointer per tensor (element-wise kernels; padding columns map 0 to 0).
void for_rows(ProgramBuilder& b, const VramTensor& shape, const std::vector<const VramTensor*>& tensors,
              const std::function<void(const std::vector<GpReg>&)>& body);

}  // namespace plena::compiler::vk

// RMSNorm with a weight row (docs/kernels-vector.md).
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

// Software-pipelined over rows: the body sums row r's squares and scales row r-1, whose sum of
// squares came from the previous body, so the front end's waits for V_RED_SUM results (the scalar
// chain 1/sqrt(mean + eps), the next reduction into the same register) run while the vector unit
// still has queued work, and the vector unit never idles. Every column block is its own straight-line code with
// one pointer step per stream and block (BlockWalk), so the vector unit, not the issue of pointer
// and loop instructions, bounds the row. Same operations in the same order as one row at a time.
void emit_rmsnorm(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: RMSNorm over {} rows x {} cols (weight '{}', eps '{}')", a.name, x.rows, x.cols, a.weight,
                        a.eps));
  NormConstants k(b, plan, a.mean_cols ? a.mean_cols : x.cols, a.eps);
  Masks masks(b, plan, a.name, x.cols, false);
  ParamRow w(b, plan, a.name, "weight", a.weight, a.weight_source, x.cols, masks);
  ScratchRows tmp(plan, a.name + ".sq", 1, x.vlen);
  const uint64_t blocks = x.col_blocks, vlen = x.vlen;
  auto sum = b.regs().fp("sum of squares");
  auto scale = b.regs().fp("row scale");
  auto t = b.regs().gp("square scratch");
  b.load_imm(t, tmp.t().base());
  std::optional<ScopedGp> keep;
  if (masks.tail) {
    keep.emplace(b.regs().gp("keep mask"));
    b.load_imm(*keep, masks.keep);
  }
  ConstRegs consts(b);
  // Weight blocks: a register each for a few blocks, else a pointer returning to the row start
  // (the masked tail block always has its own register).
  constexpr uint64_t kWeightRegs = 4;
  const uint64_t full = blocks - (masks.tail ? 1 : 0);
  std::vector<ScopedGp> wregs;
  for (uint64_t i = 0; i < blocks && blocks <= kWeightRegs; ++i) {
    wregs.push_back(b.regs().gp("weight block"));
    b.load_imm(wregs.back(), i < full ? w.base + i * w.stride : w.tail_addr);
  }
  std::optional<BlockWalk> ww;
  std::optional<ScopedGp> wtail;
  if (wregs.empty()) {
    ww.emplace(b, consts, w.base, full, w.stride, 0);
    if (masks.tail) {
      wtail.emplace(b.regs().gp("weight tail"));
      b.load_imm(*wtail, w.tail_addr);
    }
  }
  const uint64_t xs = x.rows_alloc * vlen, ys = y.rows_alloc * vlen;
  BlockWalk p(b, consts, x.base(), blocks, xs, vlen);  // the row being summed
  BlockWalk q(b, consts, x.base(), blocks, xs, vlen);  // the row being scaled
  // Its own output pointer even in place: the kernel's length must not depend on aliasing (the
  // estimate counts it standalone, with distinct tensors).
  BlockWalk yq(b, consts, y.base(), blocks, ys, vlen);

  auto square_block = [&](uint64_t i) {
    b.v_mul_vv(t, p.ptr(), p.ptr());
    if (masks.tail && i + 1 == blocks) b.v_mul_vv(t, t, *keep);
    b.v_red_sum(sum, t);
    p.step(i);
  };
  auto scale_block = [&](uint64_t i, bool last_row) {
    const GpReg out = yq.ptr();
    const GpReg wi = !wregs.empty() ? GpReg(wregs[i]) : (i < full ? ww->ptr() : GpReg(*wtail));
    b.v_mul_vf(out, q.ptr(), scale);
    b.v_mul_vv(out, out, wi);
    if (last_row && i + 1 == blocks) return;  // no row follows
    q.step(i);
    yq.step(i);
    if (ww && i < full) ww->step(i);
  };
  // scale = 1 / sqrt(sum * (1/n) + eps); the first product frees `sum` for the next row.
  auto rest_of_scale = [&] {
    b.s_add_fp(scale, scale, k.eps);
    b.s_sqrt_fp(scale, scale);
    b.s_reci_fp(scale, scale);
  };
  b.s_add_fp(sum, f0, f0);
  for (uint64_t i = 0; i < blocks; ++i) square_block(i);
  // Row r's squares interleaved with row r-1's scaling block by block: each V_RED_SUM into `sum`
  // issues once the previous one has finished (the register interlock), and the scaling
  // instructions between them keep the vector unit busy meanwhile.
  b.loop(x.rows - 1, [&] {
    b.s_mul_fp(scale, sum, k.inv);
    b.s_add_fp(sum, f0, f0);
    for (uint64_t i = 0; i < blocks; ++i) {
      square_block(i);
      if (i == 0) rest_of_scale();
      scale_block(i, false);
    }
  });
  b.s_mul_fp(scale, sum, k.inv);
  rest_of_scale();
  for (uint64_t i = 0; i < blocks; ++i) scale_block(i, true);
}

namespace {

void rmsnorm_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  plan.fp_constant("eps", 1e-5f);
  standalone::hbm_rows(plan, "w", 1, cols);
  standalone::activation(plan, s, "x", cols);
  standalone::activation(plan, s, "y", cols);
  emit_rmsnorm(b, plan, {"rmsnorm", "x", "y", "w"});
}

}  // namespace

extern const KernelEntry kRmsNormKernel;
const KernelEntry kRmsNormKernel{"rmsnorm", "RMSNorm with a weight row",
                                 {"rows", "rows_alloc", "cols"},
                                 rmsnorm_standalone, KernelSchedule::Phased,
    {{32, 576}, {5, 520}}};

}  // namespace plena::compiler

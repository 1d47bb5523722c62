// Row softmax over the real columns (docs/kernels-vector.md).
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

void emit_softmax(ProgramBuilder& b, MemoryPlan& plan, const SoftmaxArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: softmax over {} rows x {} cols", a.name, x.rows, x.cols));
  plan.fp_constant("vec.mask_neg", mask_negative_value(b.config()));
  Masks masks(b, plan, a.name, x.cols, true);
  auto f_start = b.regs().fp("max start");
  auto f_max = b.regs().fp("row max");
  auto f_sum = b.regs().fp("row sum");
  load_fp_constant(b, plan, f_start, "vec.mask_neg");
  RowWalk rw(b, x, y, masks);
  std::optional<ScopedGp> neg;
  if (masks.tail) {
    neg.emplace(b.regs().gp("negative mask"));
    b.load_imm(*neg, masks.neg);
  }
  rw.rows([&] {
    b.s_add_fp(f_max, f_start, f0);
    for_blocks(b, x.cols, {rw.xc(), rw.yc()}, [&](bool tail) {
      // tail: y = x + (0 | large negative), so padding can never win the max
      if (tail) b.v_add_vv(rw.yb, rw.xb, *neg);
      b.v_red_max(f_max, tail ? GpReg(rw.yb) : GpReg(rw.xb));
    });
    b.s_add_fp(f_sum, f0, f0);
    for_blocks(b, x.cols, {rw.xc(), rw.yc()}, [&](bool tail) {
      b.v_sub_vf(rw.yb, tail ? GpReg(rw.yb) : GpReg(rw.xb), f_max);
      b.v_exp_v(rw.yb, rw.yb);
      if (tail) b.v_mul_vv(rw.yb, rw.yb, *rw.keep);  // exact zeros: padding adds nothing to the sum
      b.v_red_sum(f_sum, rw.yb);
    });
    b.s_reci_fp(f_sum, f_sum);
    for_blocks(b, x.cols, {rw.yc()}, [&](bool) { b.v_mul_vf(rw.yb, rw.yb, f_sum); });
  });
}

namespace {

void softmax_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  standalone::activation(plan, s, "x", cols);
  standalone::activation(plan, s, "y", cols);
  emit_softmax(b, plan, {"softmax", "x", "y"});
}

}  // namespace

extern const KernelEntry kSoftmaxKernel;
const KernelEntry kSoftmaxKernel{"softmax", "row softmax over the real columns",
                                 {"rows", "rows_alloc", "cols"},
                                 softmax_standalone, KernelSchedule::Phased,
    {{16, 256}, {5, 200}}};

}  // namespace plena::compiler

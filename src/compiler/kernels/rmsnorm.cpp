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
  auto f_acc = b.regs().fp("sum of squares");
  auto t = b.regs().gp("square scratch");
  auto wb = b.regs().gp("w block");
  b.load_imm(t, tmp.t().base());
  RowWalk rw(b, x, y, masks);
  std::optional<ScopedGp> wtail;
  if (masks.tail) {
    wtail.emplace(b.regs().gp("w tail"));
    b.load_imm(*wtail, w.tail_addr);
  }
  rw.rows([&] {
    b.s_add_fp(f_acc, f0, f0);
    for_blocks(b, x.cols, {rw.xc()}, [&](bool tail) {
      b.v_mul_vv(t, rw.xb, rw.xb);
      if (tail) b.v_mul_vv(t, t, *rw.keep);
      b.v_red_sum(f_acc, t);
    });
    k.finish(b, f_acc);
    for_blocks(b, x.cols, {rw.xc(), rw.yc(), {wb, std::nullopt, w.base, w.stride}}, [&](bool tail) {
      b.v_mul_vf(rw.yb, rw.xb, f_acc);
      b.v_mul_vv(rw.yb, rw.yb, tail ? GpReg(*wtail) : GpReg(wb));
    });
  });
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

// SwiGLU: silu(gate) * up (docs/kernels-vector.md).
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

void emit_swiglu(ProgramBuilder& b, MemoryPlan& plan, const SwiGluArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor g = input_tensor(plan, a.name, "gate", a.gate);
  const VramTensor u = like_tensor(plan, a.name, "up", a.up, g);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, g);
  b.comment(fmt::format("{}: silu(gate) * up over {} rows x {} cols", a.name, g.rows, g.cols));
  ScratchRows tmp(plan, a.name + ".t", 1, b.config().geometry.vlen);
  plan.fp_constant("one", 1.0f);
  auto f_one = b.regs().fp("1.0");
  load_fp_constant(b, plan, f_one, "one");
  auto t = b.regs().gp("scratch row");
  b.load_imm(t, tmp.t().base());
  for_rows(b, g, {&g, &u, &y}, [&](const std::vector<GpReg>& p) {
    b.v_sub_vf(t, p[0], f0, 0, 1);  // -gate
    b.v_exp_v(t, t);
    b.v_add_vf(t, t, f_one);
    b.v_reci_v(t, t);
    b.v_mul_vv(t, p[0], t);     // silu(gate)
    b.v_mul_vv(p[2], t, p[1]);  // * up
  });
}

namespace {

void swiglu_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  standalone::activation(plan, s, "gate", cols);
  standalone::activation(plan, s, "up", cols);
  emit_swiglu(b, plan, {"swiglu", "gate", "up", "gate"});
}

}  // namespace

extern const KernelEntry kSwiGluKernel;
const KernelEntry kSwiGluKernel{"swiglu", "silu(gate) * up", {"rows", "rows_alloc", "cols"}, swiglu_standalone, KernelSchedule::Phased,
    {{16, 1536}}};

}  // namespace plena::compiler

// Element-wise activations: SiLU, GELU (tanh form), ReLU (docs/kernels-vector.md).
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

void emit_activation(ProgramBuilder& b, MemoryPlan& plan, const ActivationArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  const uint64_t vlen = b.config().geometry.vlen;
  static constexpr const char* kNames[] = {"SiLU", "GELU (tanh form)", "ReLU"};
  b.comment(fmt::format("{}: {} over {} rows x {} cols", a.name, kNames[int(a.kind)], x.rows, x.cols));
  if (a.kind == Activation::Relu) {
    for_rows(b, x, {&x, &y}, [&](const std::vector<GpReg>& p) { b.v_max_vf(p[1], p[0], f0); });
    return;
  }
  ScratchRows tmp(plan, a.name + ".t", 1, vlen);
  plan.fp_constant("one", 1.0f);
  auto f_one = b.regs().fp("1.0");
  load_fp_constant(b, plan, f_one, "one");
  auto t = b.regs().gp("scratch row");
  b.load_imm(t, tmp.t().base());
  if (a.kind == Activation::Silu) {
    for_rows(b, x, {&x, &y}, [&](const std::vector<GpReg>& p) {
      b.v_sub_vf(t, p[0], f0, 0, 1);  // -x
      b.v_exp_v(t, t);
      b.v_add_vf(t, t, f_one);
      b.v_reci_v(t, t);
      b.v_mul_vv(p[1], p[0], t);
    });
    return;
  }
  // GELU, tanh form: x * sigmoid(2k(x + c x^3)).
  const GeluTanhGate gelu(b, plan, f_one);
  for_rows(b, x, {&x, &y}, [&](const std::vector<GpReg>& p) {
    gelu.emit(b, t, p[0]);
    b.v_mul_vv(p[1], p[0], t);
  });
}

namespace {

template <Activation kind>
void activation_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  standalone::activation(plan, s, "x", cols);
  standalone::activation(plan, s, "y", cols);
  emit_activation(b, plan, {"activation", kind, "x", "y"});
}

}  // namespace

extern const KernelEntry kSiluKernel;
const KernelEntry kSiluKernel{"silu", "SiLU activation",
                              {"rows", "rows_alloc", "cols"},
                              activation_standalone<Activation::Silu>, KernelSchedule::Phased,
    {{16, 1536}}};
extern const KernelEntry kGeluKernel;
const KernelEntry kGeluKernel{"gelu", "GELU activation (tanh form)",
                              {"rows", "rows_alloc", "cols"},
                              activation_standalone<Activation::Gelu>, KernelSchedule::Phased,
    {{16, 1536}}};
extern const KernelEntry kReluKernel;
const KernelEntry kReluKernel{"relu", "ReLU activation",
                              {"rows", "rows_alloc", "cols"},
                              activation_standalone<Activation::Relu>, KernelSchedule::Phased,
    {{16, 1536}}};

}  // namespace plena::compiler

// Gated GELU (T5 v1.1 feed-forward): gelu_tanh(gate) * up (docs/compiler.md, "How to add a kernel").
#include <fmt/format.h>

#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/vector_common.hpp"

namespace plena::compiler {

using namespace vk;

void emit_gated_gelu(ProgramBuilder& b, MemoryPlan& plan, const GatedGeluArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor g = input_tensor(plan, a.name, "gate", a.gate);
  const VramTensor u = like_tensor(plan, a.name, "up", a.up, g);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, g);
  b.comment(fmt::format("{}: gelu_tanh(gate) * up over {} rows x {} cols", a.name, g.rows, g.cols));
  ScratchRows tmp(plan, a.name + ".t", 1, b.config().geometry.vlen);
  plan.fp_constant("one", 1.0f);
  auto f_one = b.regs().fp("1.0");
  load_fp_constant(b, plan, f_one, "one");
  const GeluTanhGate gelu(b, plan, f_one);
  auto t = b.regs().gp("scratch row");
  b.load_imm(t, tmp.t().base());
  for_rows(b, g, {&g, &u, &y}, [&](const std::vector<GpReg>& p) {
    gelu.emit(b, t, p[0]);
    b.v_mul_vv(t, p[0], t);     // gelu_tanh(gate)
    b.v_mul_vv(p[2], t, p[1]);  // * up
  });
}

namespace {

// Output over the gate, the layout a model step gives its FFN activation (as swiglu's).
void gated_gelu_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  standalone::activation(plan, s, "gate", cols);
  standalone::activation(plan, s, "up", cols);
  emit_gated_gelu(b, plan, {"gated_gelu", "gate", "up", "gate"});
}

}  // namespace

extern const KernelEntry kGatedGeluKernel;
const KernelEntry kGatedGeluKernel{"gated_gelu", "gelu_tanh(gate) * up (T5 v1.1 gated-GELU feed-forward)",
                                   {"rows", "rows_alloc", "cols"}, gated_gelu_standalone, KernelSchedule::Phased,
    {{16, 1536}, {5, 200}}};

}  // namespace plena::compiler

// SwiGLU: silu(gate) * up (docs/kernels-vector.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/linear_pass.hpp"
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

// emit_swiglu's row body with its own row registers, over the rows of one up block and its gate block.
class SwiGluEpilogue final : public LinearEpilogue {
 public:
  SwiGluEpilogue(ProgramBuilder& b, MemoryPlan& plan, const std::string& name, const VramTensor& gate,
                 const VramTensor& up)
      : tmp_(plan, name + ".t", 1, b.config().geometry.vlen),
        f_one_(b.regs().fp("1.0")),
        t_(b.regs().gp("SwiGLU scratch row")),
        g_(b.regs().gp("SwiGLU gate row")),
        u_(b.regs().gp("SwiGLU up row")),
        gate_(gate.block_address(0)),
        up_(up.block_address(0)) {
    plan.fp_constant("one", 1.0f);
    load_fp_constant(b, plan, f_one_, "one");
    b.load_imm(t_, tmp_.t().base());
  }
  void begin(ProgramBuilder& b, GpReg y_block, uint64_t back) override {
    b.sub_imm(u_, y_block, back);
    // A fixed-length load whatever the distance: the counted standalone call places gate and up
    // elsewhere than a model step, and must count the same instructions.
    b.load_imm(g_, gate_ >= up_ ? gate_ - up_ : up_ - gate_);
    if (gate_ >= up_)
      b.s_add_int(g_, u_, g_);
    else
      b.s_sub_int(g_, u_, g_);
  }
  void rows(ProgramBuilder& b, uint64_t n) override {
    const uint64_t vlen = b.config().geometry.vlen;
    b.loop(n, LoopPolicy::automatic(16), [&] {  // a few rows (inside the linear's loops): no loop counter
      b.v_sub_vf(t_, g_, f0, 0, 1);  // -gate
      b.v_exp_v(t_, t_);
      b.v_add_vf(t_, t_, f_one_);
      b.v_reci_v(t_, t_);
      b.v_mul_vv(t_, g_, t_);   // silu(gate)
      b.v_mul_vv(g_, t_, u_);   // * up, into the gate row
      b.add_imm(g_, g_, vlen);
      b.add_imm(u_, u_, vlen);
    });
  }

 private:
  ScratchRows tmp_;
  ScopedFp f_one_;
  ScopedGp t_, g_, u_;
  uint64_t gate_, up_;
};

}  // namespace

std::unique_ptr<LinearEpilogue> swiglu_epilogue(ProgramBuilder& b, MemoryPlan& plan, const std::string& name,
                                                const VramTensor& gate, const VramTensor& up) {
  return std::make_unique<SwiGluEpilogue>(b, plan, name, gate, up);
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

// Residual add: out = a + b (docs/kernels-vector.md).
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

void emit_residual_add(ProgramBuilder& b, MemoryPlan& plan, const ResidualAddArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "a", a.a);
  const VramTensor r = like_tensor(plan, a.name, "b", a.b, x);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: {} + {} over {} rows x {} cols", a.name, a.a, a.b, x.rows, x.cols));
  for_rows(b, x, {&x, &r, &y}, [&](const std::vector<GpReg>& p) { b.v_add_vv(p[2], p[0], p[1]); });
}

namespace {

// emit_residual_add's row body over the rows of one output block of a linear and the residual
// stream's matching block: x = x + out, in the same operand order.
class ResidualEpilogue final : public LinearEpilogue {
 public:
  ResidualEpilogue(ProgramBuilder& b, const VramTensor& residual, const VramTensor& out)
      : x_(b.regs().gp("residual row")),
        o_(b.regs().gp("linear output row")),
        x0_(residual.block_address(0)),
        o0_(out.block_address(0)) {}
  void begin(ProgramBuilder& b, GpReg y_block, uint64_t back) override {
    b.sub_imm(o_, y_block, back);
    // A fixed-length load whatever the distance (the standalone count places the tensors elsewhere).
    b.load_imm(x_, x0_ >= o0_ ? x0_ - o0_ : o0_ - x0_);
    if (x0_ >= o0_)
      b.s_add_int(x_, o_, x_);
    else
      b.s_sub_int(x_, o_, x_);
  }
  void rows(ProgramBuilder& b, uint64_t n) override {
    const uint64_t vlen = b.config().geometry.vlen;
    b.loop(n, LoopPolicy::automatic(16), [&] {
      b.v_add_vv(x_, x_, o_);
      b.add_imm(x_, x_, vlen);
      b.add_imm(o_, o_, vlen);
    });
  }

 private:
  ScopedGp x_, o_;
  uint64_t x0_, o0_;
};

}  // namespace

std::unique_ptr<LinearEpilogue> residual_epilogue(ProgramBuilder& b, const VramTensor& residual, const VramTensor& out) {
  return std::make_unique<ResidualEpilogue>(b, residual, out);
}

namespace {

void residual_add_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  standalone::activation(plan, s, "x", cols);
  standalone::activation(plan, s, "o", cols);
  emit_residual_add(b, plan, {"residual_add", "x", "o", "x"});
}

}  // namespace

extern const KernelEntry kResidualAddKernel;
const KernelEntry kResidualAddKernel{"residual_add", "residual add a + b",
                                     {"rows", "rows_alloc", "cols"},
                                     residual_add_standalone, KernelSchedule::Phased,
    {{16, 576}}};

}  // namespace plena::compiler

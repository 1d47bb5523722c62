// Residual add: out = a + b (docs/kernels-vector.md).
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

void emit_residual_add(ProgramBuilder& b, MemoryPlan& plan, const ResidualAddArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "a", a.a);
  const VramTensor r = like_tensor(plan, a.name, "b", a.b, x);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: {} + {} over {} rows x {} cols", a.name, a.a, a.b, x.rows, x.cols));
  for_rows(b, x, {&x, &r, &y}, [&](const std::vector<GpReg>& p) { b.v_add_vv(p[2], p[0], p[1]); });
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

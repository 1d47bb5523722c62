// Bias add: a [1, cols] row broadcast over the real rows (docs/kernels-vector.md).
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

void emit_bias_add(ProgramBuilder& b, MemoryPlan& plan, const BiasAddArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  const uint64_t vlen = x.vlen;
  b.comment(fmt::format("{}: {} + bias '{}' over {} rows x {} cols", a.name, a.input, a.bias, x.rows, x.cols));
  Masks masks(b, plan, a.name, x.cols, false);
  ParamRow bias(b, plan, a.name, "bias", a.bias, a.bias_source, x.cols, masks);
  auto xb = b.regs().gp("x block");
  auto yb = b.regs().gp("y block");
  auto pb = b.regs().gp("bias block");
  auto xr = b.regs().gp("x row");
  auto yr = b.regs().gp("y row");
  std::optional<ScopedGp> ptail;
  if (masks.tail) {
    ptail.emplace(b.regs().gp("bias tail"));
    b.load_imm(*ptail, bias.tail_addr);
  }
  for_blocks(b, x.cols,
             {{xb, std::nullopt, x.base(), x.rows_alloc * vlen},
              {yb, std::nullopt, y.base(), y.rows_alloc * vlen},
              {pb, std::nullopt, bias.base, bias.stride}},
             [&](bool tail) {
               b.s_add_int(xr, xb, gp0);
               b.s_add_int(yr, yb, gp0);
               const GpReg src = tail ? GpReg(*ptail) : GpReg(pb);
               b.loop(x.rows, [&] {
                 b.v_add_vv(yr, xr, src);
                 b.add_imm(xr, xr, vlen);
                 b.add_imm(yr, yr, vlen);
               });
             });
}

namespace {

void bias_add_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  standalone::hbm_rows(plan, "bias", 1, cols);
  standalone::activation(plan, s, "x", cols);
  emit_bias_add(b, plan, {"bias_add", "x", "x", "bias"});
}

}  // namespace

extern const KernelEntry kBiasAddKernel;
const KernelEntry kBiasAddKernel{"bias_add", "bias row broadcast over the rows",
                                 {"rows", "rows_alloc", "cols"},
                                 bias_add_standalone, KernelSchedule::Phased,
    {{16, 576}, {5, 200}}};

}  // namespace plena::compiler

// LayerNorm with weight and optional bias, two-pass variance (docs/kernels-vector.md).
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

void emit_layernorm(ProgramBuilder& b, MemoryPlan& plan, const LayerNormArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: LayerNorm over {} rows x {} cols (weight '{}', bias '{}')", a.name, x.rows, x.cols,
                        a.weight, a.bias.empty() ? "none" : a.bias));
  NormConstants k(b, plan, x.cols, a.eps);
  Masks masks(b, plan, a.name, x.cols, false);
  ParamRow w(b, plan, a.name, "weight", a.weight, a.param_source, x.cols, masks);
  std::optional<ParamRow> bias;
  if (!a.bias.empty()) bias.emplace(b, plan, a.name, "bias", a.bias, a.param_source, x.cols, masks);
  ScratchRows tmp(plan, a.name + ".sq", 1, x.vlen);
  auto f_mean = b.regs().fp("mean");
  auto f_var = b.regs().fp("variance");
  auto t = b.regs().gp("scratch row");
  auto pb = b.regs().gp("param block");
  b.load_imm(t, tmp.t().base());
  RowWalk rw(b, x, y, masks);
  std::optional<ScopedGp> ptail;
  if (masks.tail) ptail.emplace(b.regs().gp("param tail"));
  rw.rows([&] {
    // mean (padding masked out of the sum)
    b.s_add_fp(f_mean, f0, f0);
    for_blocks(b, x.cols, {rw.xc()}, [&](bool tail) {
      if (tail) b.v_mul_vv(t, rw.xb, *rw.keep);
      b.v_red_sum(f_mean, tail ? GpReg(t) : GpReg(rw.xb));
    });
    b.s_mul_fp(f_mean, f_mean, k.inv);
    // centre into y; variance of the centred values
    b.s_add_fp(f_var, f0, f0);
    for_blocks(b, x.cols, {rw.xc(), rw.yc()}, [&](bool tail) {
      b.v_sub_vf(rw.yb, rw.xb, f_mean);
      b.v_mul_vv(t, rw.yb, rw.yb);
      if (tail) b.v_mul_vv(t, t, *rw.keep);
      b.v_red_sum(f_var, t);
    });
    k.finish(b, f_var);
    // scale, weight, bias (the parameters' padding is 0, so the output padding is too)
    auto apply = [&](const ParamRow& p, bool add) {
      for_blocks(b, x.cols, {rw.yc(), {pb, std::nullopt, p.base, p.stride}}, [&](bool tail) {
        if (!add) b.v_mul_vf(rw.yb, rw.yb, f_var);
        if (tail) b.load_imm(*ptail, p.tail_addr);
        const GpReg src = tail ? GpReg(*ptail) : GpReg(pb);
        if (add)
          b.v_add_vv(rw.yb, rw.yb, src);
        else
          b.v_mul_vv(rw.yb, rw.yb, src);
      });
    };
    apply(w, false);
    if (bias) apply(*bias, true);
  });
}

namespace {

void layernorm_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  plan.fp_constant("eps", 1e-5f);
  standalone::hbm_rows(plan, "w", 1, cols);
  standalone::hbm_rows(plan, "bias", 1, cols);
  standalone::activation(plan, s, "x", cols);
  standalone::activation(plan, s, "y", cols);
  emit_layernorm(b, plan, {"layernorm", "x", "y", "w", "bias"});
}

}  // namespace

extern const KernelEntry kLayerNormKernel;
const KernelEntry kLayerNormKernel{"layernorm", "LayerNorm with weight and bias",
                                   {"rows", "rows_alloc", "cols"},
                                   layernorm_standalone, KernelSchedule::Phased,
    {{16, 576}, {5, 520}}};

}  // namespace plena::compiler

// Per-head RMSNorm (Qwen3 q_norm / k_norm; docs/kernels-vector.md).
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

namespace {

// head_dim a multiple of VLEN: per head, pass 1 sums the squares of its blocks, pass 2 scales and
// weights them (in place is safe: a head is read completely before it is written).
void head_rmsnorm_blocks(ProgramBuilder& b, MemoryPlan& plan, const HeadRmsNormArgs& a, const VramTensor& x,
                         const VramTensor& y, const NormConstants& k) {
  const uint64_t vlen = x.vlen, hd = a.head_dim, bph = hd / vlen, heads = x.cols / hd;
  Masks masks(b, plan, a.name, hd, false);  // hd % VLEN == 0: builds nothing
  ParamRow w(b, plan, a.name, "weight", a.weight, a.weight_source, hd, masks);
  ScratchRows tmp(plan, a.name + ".sq", 1, vlen);
  auto f_acc = b.regs().fp("sum of squares");
  auto t = b.regs().gp("square scratch");
  auto p = b.regs().gp("x head block");
  auto wb = b.regs().gp("w block");
  b.load_imm(t, tmp.t().base());
  RowWalk rw(b, x, y, masks);
  const uint64_t xs = x.rows_alloc * vlen, ys = y.rows_alloc * vlen;
  rw.rows([&] {
    b.s_add_int(rw.xb, rw.x_row, gp0);
    b.s_add_int(rw.yb, rw.y_row, gp0);
    b.loop(heads, [&] {
      b.s_add_fp(f_acc, f0, f0);
      b.s_add_int(p, rw.xb, gp0);
      b.loop(bph, [&] {
        b.v_mul_vv(t, p, p);
        b.v_red_sum(f_acc, t);
        b.add_imm(p, p, xs);
      });
      k.finish(b, f_acc);
      b.load_imm(wb, w.base);
      b.loop(bph, [&] {
        b.v_mul_vf(rw.yb, rw.xb, f_acc);
        b.v_mul_vv(rw.yb, rw.yb, wb);
        b.add_imm(rw.xb, rw.xb, xs);
        b.add_imm(rw.yb, rw.yb, ys);
        b.add_imm(wb, wb, w.stride);
      });
    });
  });
}

// VLEN a multiple of head_dim: hpb = VLEN/head_dim heads per column block. Setup builds the head
// masks m_j (1 on head j's columns) and the weight tiled across the block, both with V_SHFT_V.
// Per block: sq = x*x once; per head j: f_j = finish(red_sum(sq * m_j)), o (+)= (x * m_j) * f_j;
// finally y = o * W. The mask products are exact and o's heads never overlap (the sums add a
// value to +-0), so each output is round(round(x * f_j) * w) exactly as in emit_rmsnorm.
void head_rmsnorm_packed(ProgramBuilder& b, MemoryPlan& plan, const HeadRmsNormArgs& a, const VramTensor& x,
                         const VramTensor& y, const NormConstants& k) {
  const uint64_t vlen = x.vlen, hd = a.head_dim, hpb = vlen / hd;
  ScratchRows masks(plan, a.name + ".head_masks", 1, hpb * vlen);
  // work rows: tiled weight, x^2, masked temporary, accumulated output
  ScratchRows work(plan, a.name + ".work", 1, 4 * vlen);
  const uint64_t w_addr = work.t().base(), sq_addr = w_addr + vlen, t_addr = w_addr + 2 * vlen,
                 o_addr = w_addr + 3 * vlen;
  b.comment(fmt::format("{}: {} heads of {} per block: head masks and tiled weight (V_SHFT_V)", a.name, hpb, hd));
  // Head 0's mask on the vector unit (no VLEN-entry FP SRAM scratch, which VLEN 2048 geometries
  // lack): ones = shift(any, VLEN) + 1 (the shift fills zeros whatever the row held), then
  // m_0 = ones - shift(ones, head_dim). Exact in every type.
  plan.fp_constant("one", 1.0f);
  const uint64_t m0 = masks.t().base();
  {
    auto one = b.regs().fp("1.0");
    load_fp_constant(b, plan, one, "one");
    auto sh = b.regs().gp("shift");
    auto r0 = b.regs().gp("ones row");
    auto r1 = b.regs().gp("shifted ones");
    b.load_imm(r0, m0);
    b.load_imm(r1, t_addr);
    b.load_imm(sh, vlen);
    b.v_shft_v(r0, r0, sh);
    b.v_add_vf(r0, r0, one);
    b.load_imm(sh, hd);
    b.v_shft_v(r1, r0, sh);
    b.v_sub_vv(r0, r0, r1);
  }
  Masks head0(b, plan, a.name, vlen, false);  // builds nothing; points ParamRow at m_0
  head0.tail = hd;
  head0.keep = m0;
  ParamRow w(b, plan, a.name, "weight", a.weight, a.weight_source, hd, head0);  // at tail_addr, masked
  {
    auto sh = b.regs().gp("shift");
    auto src = b.regs().gp("shift source");
    auto dst = b.regs().gp("shift destination");
    b.load_imm(sh, hd);
    b.load_imm(src, m0);
    b.load_imm(dst, m0 + vlen);
    b.loop(hpb - 1, [&] {
      b.v_shft_v(dst, src, sh);
      b.add_imm(dst, dst, vlen);
      b.add_imm(sh, sh, hd);
    });
    b.load_imm(src, w.tail_addr);
    b.load_imm(dst, w_addr);
    b.v_shft_v(dst, src, gp0);  // shift 0: a copy
    auto tr = b.regs().gp("shifted weight");
    b.load_imm(tr, t_addr);
    b.load_imm(sh, hd);
    b.loop(hpb - 1, [&] {
      b.v_shft_v(tr, src, sh);
      b.v_add_vv(dst, dst, tr);
      b.add_imm(sh, sh, hd);
    });
  }
  const uint64_t tail_heads = (x.cols % vlen) / hd;
  auto f_acc = b.regs().fp("head sum of squares");
  auto sq = b.regs().gp("x^2 row");
  auto tr = b.regs().gp("masked row");
  auto o = b.regs().gp("output accumulator");
  auto mp = b.regs().gp("head mask");
  b.load_imm(sq, sq_addr);
  b.load_imm(tr, t_addr);
  b.load_imm(o, o_addr);
  Masks none(b, plan, a.name, vlen, false);  // RowWalk needs no keep mask: padding heads are skipped
  RowWalk rw(b, x, y, none);
  rw.rows([&] {
    for_blocks(b, x.cols, {rw.xc(), rw.yc()}, [&](bool tail) {
      const uint64_t nh = tail ? tail_heads : hpb;
      b.v_mul_vv(sq, rw.xb, rw.xb);
      b.load_imm(mp, masks.t().base());
      auto head = [&](bool first) {
        b.v_mul_vv(tr, sq, mp);
        b.s_add_fp(f_acc, f0, f0);
        b.v_red_sum(f_acc, tr);
        k.finish(b, f_acc);
        b.v_mul_vv(tr, rw.xb, mp);
        if (first) {
          b.v_mul_vf(o, tr, f_acc);
        } else {
          b.v_mul_vf(tr, tr, f_acc);
          b.v_add_vv(o, o, tr);
        }
        b.add_imm(mp, mp, vlen);
      };
      head(true);
      b.loop(nh - 1, [&] { head(false); });
      {
        auto wr = b.regs().gp("tiled weight");
        b.load_imm(wr, w_addr);
        b.v_mul_vv(rw.yb, o, wr);
      }
    });
  });
}

}  // namespace

void emit_head_rmsnorm(ProgramBuilder& b, MemoryPlan& plan, const HeadRmsNormArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  const uint64_t vlen = x.vlen, hd = a.head_dim;
  if (hd == 0 || x.cols % hd != 0)
    fail(a.name, fmt::format("head_dim {} must be positive and divide the {} columns of '{}'", hd, x.cols, x.name));
  if (hd % vlen != 0 && vlen % hd != 0)
    fail(a.name, fmt::format("head_dim {} must be a multiple or a divisor of VLEN {}", hd, vlen));
  b.comment(fmt::format("{}: per-head RMSNorm over {} rows x {} heads of {} (weight '{}', eps '{}')", a.name, x.rows,
                        x.cols / hd, hd, a.weight, a.eps));
  NormConstants k(b, plan, a.mean_dim ? a.mean_dim : hd, a.eps);
  if (hd % vlen == 0)
    head_rmsnorm_blocks(b, plan, a, x, y, k);
  else
    head_rmsnorm_packed(b, plan, a, x, y, k);
}

namespace {

// In place, as the model step norms q and k.
void head_rmsnorm_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t head_dim = s.get("head_dim");
  plan.fp_constant("eps", 1e-6f);
  standalone::hbm_rows(plan, "w", 1, head_dim);
  standalone::activation(plan, s, "x", s.get("cols"));
  emit_head_rmsnorm(b, plan, {"head_rmsnorm", "x", "x", "w", head_dim});
}

}  // namespace

extern const KernelEntry kHeadRmsNormKernel;
const KernelEntry kHeadRmsNormKernel{"head_rmsnorm", "per-head RMSNorm (Qwen3 q/k norms)",
                                     {"rows", "rows_alloc", "cols", "head_dim"},
                                     head_rmsnorm_standalone, KernelSchedule::Phased,
    {{16, 512, 32}, {16, 512, 128}}};

}  // namespace plena::compiler

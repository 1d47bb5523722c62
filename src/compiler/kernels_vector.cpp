// Vector-side kernels (RMSNorm, LayerNorm, softmax, activations, SwiGLU, residual add, RoPE,
// embedding). Layouts and padding rules: docs/kernels-vector.md.
#include "compiler/kernels_vector.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "compiler/kernels_vector_detail.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace vk {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

[[noreturn]] void fail(std::string_view kernel, std::string_view what) {
  throw InputError(fmt::format("kernel '{}': {}", kernel, what));
}

VramTensor input_tensor(const MemoryPlan& plan, std::string_view kernel, std::string_view role,
                        const std::string& name) {
  if (name.empty()) fail(kernel, fmt::format("no {} tensor named (expected a VRAM tensor name)", role));
  if (!plan.vram_space().contains(name))
    fail(kernel, fmt::format("{} '{}' is not a VRAM tensor (expected a tensor placed with alloc_vram)", role, name));
  return plan.vram(name);
}

VramTensor like_tensor(const MemoryPlan& plan, std::string_view kernel, std::string_view role, const std::string& name,
                       const VramTensor& ref) {
  VramTensor t = input_tensor(plan, kernel, role, name);
  if (t.rows != ref.rows || t.cols != ref.cols)
    fail(kernel, fmt::format("{} '{}' is [{}, {}], expected [{}, {}] like '{}'", role, name, t.rows, t.cols, ref.rows,
                             ref.cols, ref.name));
  return t;
}

ScratchRows::ScratchRows(MemoryPlan& plan, std::string name, uint64_t rows, uint64_t cols)
    : plan_(plan), name_(std::move(name)) {
  t_ = plan_.alloc_vram(name_, rows, cols);
}
ScratchRows::~ScratchRows() {
  try {
    plan_.free_vram(name_);
  } catch (...) {  // only when unwinding from an earlier error; the plan is discarded then
  }
}

void load_fp_constant(ProgramBuilder& b, MemoryPlan& plan, FpReg dst, std::string_view name) {
  const uint64_t slot = plan.fp_slot(name);
  if (slot <= kImm18Max) {
    b.s_ld_fp(dst, gp0, static_cast<uint32_t>(slot));
    return;
  }
  auto r = b.regs().gp("fp constant slot");
  b.load_imm(r, slot);
  b.s_ld_fp(dst, r, 0);
}

float mask_negative_value(const config::HardwareConfig& cfg) {
  // A finite "minus infinity" that stays finite in the FP register and VRAM types (fp16 cannot
  // hold -1e30); it only has to stay below every real logit and never be multiplied by 0.
  for (float v : {-1.0e30f, -6.0e4f}) {
    float a = numerics::round_to_format(v, cfg.sram.fp_type);
    float c = numerics::round_to_format(v, cfg.sram.vector_type);
    if (std::isfinite(a) && std::isfinite(c)) return v;
  }
  return -1.0f;  // formats narrower than fp16 (not used for SRAMs); still finite
}

void emit_fill_row(ProgramBuilder& b, MemoryPlan& plan, const std::string& name, uint64_t vram_addr, uint64_t n,
                   FpReg first, FpReg rest) {
  const uint64_t vlen = b.config().geometry.vlen;
  if (!plan.fp_space().contains("vec.fill_scratch") && plan.fp_space().largest_free() < vlen)
    fail(name, fmt::format("building a mask row needs {} free FP SRAM entries (VLEN), largest free range is {}", vlen,
                           plan.fp_space().largest_free()));
  // One persistent scratch for every fill, never freed: a freed range could later become a
  // PRELOADED constant slot, which this runtime fill (earlier in the program) would clobber.
  static constexpr std::string_view kFill = "vec.fill_scratch";
  const uint64_t base = plan.fp_space().contains(kFill) ? plan.fp_space().block(kFill).offset
                                                        : plan.alloc_fp_scratch(kFill, vlen);
  {
    auto p = b.regs().gp("mask fill pointer");
    b.load_imm(p, base);
    b.loop(n, [&] {
      b.s_st_fp(first, p, 0);
      b.s_addi_int(p, p, 1);
    });
    b.loop(vlen - n, [&] {
      b.s_st_fp(rest, p, 0);
      b.s_addi_int(p, p, 1);
    });
    auto d = b.regs().gp("mask row");
    b.load_imm(d, vram_addr);
    b.load_imm(p, base);
    b.s_map_v_fp(d, p, 0);
  }
}

Masks::Masks(ProgramBuilder& b, MemoryPlan& plan, const std::string& kernel, uint64_t cols, bool with_negative) {
  const uint64_t vlen = b.config().geometry.vlen;
  tail = cols % vlen;
  if (tail == 0) return;
  rows.emplace(plan, kernel + ".masks", 2, vlen);
  keep = rows->t().address(0, 0);
  neg = rows->t().address(1, 0);
  b.comment(fmt::format("{}: padding masks for the last column block ({} of {} columns real)", kernel, tail, vlen));
  plan.fp_constant("one", 1.0f);
  if (with_negative) plan.fp_constant("vec.mask_neg", mask_negative_value(b.config()));
  auto one = b.regs().fp("1.0");
  load_fp_constant(b, plan, one, "one");
  emit_fill_row(b, plan, kernel + ".keep", keep, tail, one, f0);
  if (with_negative) {
    auto ng = b.regs().fp("mask negative");
    load_fp_constant(b, plan, ng, "vec.mask_neg");
    emit_fill_row(b, plan, kernel + ".neg", neg, tail, f0, ng);
  }
}

uint32_t v_precision(const config::HardwareConfig& cfg, const HbmTensor& t, std::string_view kernel,
                     std::string_view role) {
  if (t.format == cfg.formats.v_act) return 0;
  if (t.format == cfg.formats.v_kv) return 1;
  fail(kernel, fmt::format("{} '{}' is stored as {}, but H_PREFETCH_V reads {} (precision 0) or {} (precision 1)", role,
                           t.name, t.format.name(), cfg.formats.v_act.name(), cfg.formats.v_kv.name()));
}

void for_blocks(ProgramBuilder& b, uint64_t cols, const std::vector<Cursor>& cursors,
                const std::function<void(bool tail)>& body) {
  const uint64_t vlen = b.config().geometry.vlen;
  for (const Cursor& c : cursors) {
    if (c.row)
      b.s_add_int(c.blk, *c.row, gp0);
    else
      b.load_imm(c.blk, c.base);
  }
  const uint64_t full = cols / vlen;
  const bool tail = cols % vlen != 0;
  b.loop(full, [&] {
    body(false);
    for (const Cursor& c : cursors) b.add_imm(c.blk, c.blk, c.stride);
  });
  if (tail) body(true);
}

ParamRow::ParamRow(ProgramBuilder& b, MemoryPlan& plan, const std::string& kernel, const std::string& role,
                   const std::string& tensor, ParamSource source, uint64_t cols, const Masks& masks) {
  const auto& cfg = b.config();
  const uint64_t vlen = cfg.geometry.vlen;
  const uint64_t blocks = ceil_div(cols, vlen);
  if (tensor.empty()) fail(kernel, fmt::format("no {} tensor named", role));
  const bool in_vram = plan.vram_space().contains(tensor);
  const bool in_hbm = plan.hbm_space().contains(tensor);
  ParamSource src = source;
  if (src == ParamSource::Auto) {
    if (in_vram && in_hbm)
      fail(kernel, fmt::format("{} '{}' exists in both VRAM and HBM; set the source explicitly", role, tensor));
    src = in_vram ? ParamSource::Vram : ParamSource::Hbm;
  }
  if (src == ParamSource::Vram) {
    const VramTensor t = input_tensor(plan, kernel, role, tensor);
    if (t.rows != 1 || t.cols != cols)
      fail(kernel, fmt::format("{} '{}' is [{}, {}], expected [1, {}]", role, tensor, t.rows, t.cols, cols));
    base = t.base();
    stride = t.rows_alloc * vlen;
    tail_addr = t.block_address(blocks - 1);
    if (masks.tail) {
      // The caller's tensor stays untouched: the masked last block goes to a scratch row.
      scratch.emplace(plan, kernel + "." + role + ".tail", 1, vlen);
      tail_addr = scratch->t().base();
      auto s = b.regs().gp("param tail source");
      auto d = b.regs().gp("param tail");
      auto m = b.regs().gp("keep mask");
      b.load_imm(s, t.block_address(blocks - 1));
      b.load_imm(d, tail_addr);
      b.load_imm(m, masks.keep);
      b.v_mul_vv(d, s, m);
    }
    return;
  }
  if (!in_hbm) fail(kernel, fmt::format("{} '{}' is neither a VRAM nor an HBM tensor", role, tensor));
  const HbmTensor& h = plan.hbm(tensor);
  const uint32_t precision = v_precision(cfg, h, kernel, role);
  if (h.rows != 1 || h.cols != cols)
    fail(kernel, fmt::format("{} '{}' is [{}, {}] in HBM, expected [1, {}]", role, tensor, h.rows, h.cols, cols));
  if (h.row_stride < blocks * vlen)
    fail(kernel, fmt::format("{} '{}' has row stride {} in HBM; the kernel reads whole VLEN blocks, expected a stride "
                             ">= {} (place it with row_multiple = VLEN so the padding is zeros)",
                             role, tensor, h.row_stride, blocks * vlen));
  const uint64_t amount = cfg.hbm.v_prefetch_amount;
  const uint64_t groups = ceil_div(blocks, amount);
  // Scratch [1, groups*amount*VLEN]: rows_alloc 1, so column blocks are consecutive VRAM rows,
  // exactly what a packed (rstride 0) H_PREFETCH_V of a one-row tensor writes.
  scratch.emplace(plan, kernel + "." + role, 1, groups * amount * vlen);
  base = scratch->t().base();
  stride = vlen;
  tail_addr = base + (blocks - 1) * vlen;
  b.comment(fmt::format("{}: load {} '{}' from HBM ({} prefetches of {} rows)", kernel, role, tensor, groups, amount));
  auto a = b.regs().hbm("param base");
  b.set_addr_reg(a, h.base);
  b.set_scale_reg(h.scale_reg);
  auto dst = b.regs().gp("param dst");
  auto off = b.regs().gp("param offset");
  b.load_imm(dst, base);
  b.load_imm(off, 0);
  b.loop(groups, [&] {
    b.h_prefetch_v(dst, off, a, 0, precision);
    b.add_imm(dst, dst, amount * vlen);
    b.add_imm(off, off, amount * vlen);
  });
  if (masks.tail) {
    auto d = b.regs().gp("param tail");
    auto m = b.regs().gp("keep mask");
    b.load_imm(d, tail_addr);
    b.load_imm(m, masks.keep);
    b.v_mul_vv(d, d, m);
  }
}

}  // namespace vk

using namespace vk;

namespace {

// Row pointers of a row-wise kernel (input x, output y, real rows of x): the registers for the
// row bases, the block cursors and the keep mask, and the row loop that advances them.
struct RowWalk {
  RowWalk(ProgramBuilder& b, const VramTensor& x, const VramTensor& y, const Masks& m)
      : b(b),
        x(x),
        y(y),
        x_row(b.regs().gp("x row")),
        y_row(b.regs().gp("y row")),
        xb(b.regs().gp("x block")),
        yb(b.regs().gp("y block")) {
    if (m.tail) {
      keep.emplace(b.regs().gp("keep mask"));
      b.load_imm(*keep, m.keep);
    }
    b.load_imm(x_row, x.base());
    b.load_imm(y_row, y.base());
  }
  Cursor xc() const { return {xb, x_row, 0, x.rows_alloc * x.vlen}; }
  Cursor yc() const { return {yb, y_row, 0, y.rows_alloc * y.vlen}; }
  void rows(const std::function<void()>& body) {
    b.loop(x.rows, [&] {
      body();
      b.add_imm(x_row, x_row, x.vlen);
      b.add_imm(y_row, y_row, y.vlen);
    });
  }
  ProgramBuilder& b;
  const VramTensor &x, &y;
  ScopedGp x_row, y_row, xb, yb;
  std::optional<ScopedGp> keep;
};

// Checks eps, defines 1/n for the real column count, loads both into FP registers.
struct NormConstants {
  NormConstants(ProgramBuilder& b, MemoryPlan& plan, uint64_t cols, const std::string& eps_name)
      : inv(b.regs().fp("1/n")), eps(b.regs().fp("eps")) {
    (void)plan.fp_slot(eps_name);  // a clear error before anything is emitted
    const std::string inv_name = fmt::format("inv_n_{}", cols);
    plan.fp_constant(inv_name, float(1.0 / double(cols)));
    load_fp_constant(b, plan, inv, inv_name);
    load_fp_constant(b, plan, eps, eps_name);
  }
  // f = 1 / sqrt(f * (1/n) + eps)
  void finish(ProgramBuilder& b, FpReg f) const {
    b.s_mul_fp(f, f, inv);
    b.s_add_fp(f, f, eps);
    b.s_sqrt_fp(f, f);
    b.s_reci_fp(f, f);
  }
  ScopedFp inv, eps;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// RMSNorm
// ---------------------------------------------------------------------------------------------
void emit_rmsnorm(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: RMSNorm over {} rows x {} cols (weight '{}', eps '{}')", a.name, x.rows, x.cols, a.weight,
                        a.eps));
  NormConstants k(b, plan, x.cols, a.eps);
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

// ---------------------------------------------------------------------------------------------
// Per-head RMSNorm
// ---------------------------------------------------------------------------------------------
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
  NormConstants k(b, plan, hd, a.eps);
  if (hd % vlen == 0)
    head_rmsnorm_blocks(b, plan, a, x, y, k);
  else
    head_rmsnorm_packed(b, plan, a, x, y, k);
}

// ---------------------------------------------------------------------------------------------
// Bias add
// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// LayerNorm
// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Softmax
// ---------------------------------------------------------------------------------------------
void emit_softmax(ProgramBuilder& b, MemoryPlan& plan, const SoftmaxArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: softmax over {} rows x {} cols", a.name, x.rows, x.cols));
  plan.fp_constant("vec.mask_neg", mask_negative_value(b.config()));
  Masks masks(b, plan, a.name, x.cols, true);
  auto f_start = b.regs().fp("max start");
  auto f_max = b.regs().fp("row max");
  auto f_sum = b.regs().fp("row sum");
  load_fp_constant(b, plan, f_start, "vec.mask_neg");
  RowWalk rw(b, x, y, masks);
  std::optional<ScopedGp> neg;
  if (masks.tail) {
    neg.emplace(b.regs().gp("negative mask"));
    b.load_imm(*neg, masks.neg);
  }
  rw.rows([&] {
    b.s_add_fp(f_max, f_start, f0);
    for_blocks(b, x.cols, {rw.xc(), rw.yc()}, [&](bool tail) {
      // tail: y = x + (0 | large negative), so padding can never win the max
      if (tail) b.v_add_vv(rw.yb, rw.xb, *neg);
      b.v_red_max(f_max, tail ? GpReg(rw.yb) : GpReg(rw.xb));
    });
    b.s_add_fp(f_sum, f0, f0);
    for_blocks(b, x.cols, {rw.xc(), rw.yc()}, [&](bool tail) {
      b.v_sub_vf(rw.yb, tail ? GpReg(rw.yb) : GpReg(rw.xb), f_max);
      b.v_exp_v(rw.yb, rw.yb);
      if (tail) b.v_mul_vv(rw.yb, rw.yb, *rw.keep);  // exact zeros: padding adds nothing to the sum
      b.v_red_sum(f_sum, rw.yb);
    });
    b.s_reci_fp(f_sum, f_sum);
    for_blocks(b, x.cols, {rw.yc()}, [&](bool) { b.v_mul_vf(rw.yb, rw.yb, f_sum); });
  });
}

// ---------------------------------------------------------------------------------------------
// Element-wise kernels: every VLEN row of every column block (padding columns map 0 to 0).
// ---------------------------------------------------------------------------------------------
namespace {

// Runs body(src pointers..., dst pointer) over the `rows` real rows of every column block.
void for_rows(ProgramBuilder& b, const VramTensor& shape, const std::vector<const VramTensor*>& tensors,
              const std::function<void(const std::vector<GpReg>&)>& body) {
  const uint64_t vlen = b.config().geometry.vlen;
  std::vector<ScopedGp> ptrs;
  std::vector<GpReg> regs;
  for (size_t i = 0; i < tensors.size(); ++i) {
    ptrs.push_back(b.regs().gp("row pointer"));
    regs.push_back(ptrs.back());
  }
  const uint64_t blocks = shape.col_blocks;
  for (size_t i = 0; i < tensors.size(); ++i) b.load_imm(regs[i], tensors[i]->base());
  b.loop(blocks, [&] {
    b.loop(shape.rows, [&] {
      body(regs);
      for (GpReg r : regs) b.add_imm(r, r, vlen);
    });
    // to the next column block: skip the rows not visited
    for (size_t i = 0; i < tensors.size(); ++i) {
      const uint64_t skip = (tensors[i]->rows_alloc - shape.rows) * vlen;
      if (skip) b.add_imm(regs[i], regs[i], skip);
    }
  });
}

}  // namespace

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
  // GELU, tanh form: x * sigmoid(2k(x + c x^3)) = x / (1 + exp(-2k x (1 + c x^2))).
  plan.fp_constant("gelu.c", 0.044715f);
  plan.fp_constant("gelu.neg_2k", float(-2.0 * std::sqrt(2.0 / 3.14159265358979323846)));
  auto f_c = b.regs().fp("0.044715");
  auto f_k = b.regs().fp("-2 sqrt(2/pi)");
  load_fp_constant(b, plan, f_c, "gelu.c");
  load_fp_constant(b, plan, f_k, "gelu.neg_2k");
  for_rows(b, x, {&x, &y}, [&](const std::vector<GpReg>& p) {
    b.v_mul_vv(t, p[0], p[0]);
    b.v_mul_vf(t, t, f_c);
    b.v_add_vf(t, t, f_one);
    b.v_mul_vv(t, t, p[0]);
    b.v_mul_vf(t, t, f_k);
    b.v_exp_v(t, t);
    b.v_add_vf(t, t, f_one);
    b.v_reci_v(t, t);
    b.v_mul_vv(p[1], p[0], t);
  });
}

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

void emit_residual_add(ProgramBuilder& b, MemoryPlan& plan, const ResidualAddArgs& a) {
  auto ks = b.kernel(a.name);
  const VramTensor x = input_tensor(plan, a.name, "a", a.a);
  const VramTensor r = like_tensor(plan, a.name, "b", a.b, x);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  b.comment(fmt::format("{}: {} + {} over {} rows x {} cols", a.name, a.a, a.b, x.rows, x.cols));
  for_rows(b, x, {&x, &r, &y}, [&](const std::vector<GpReg>& p) { b.v_add_vv(p[2], p[0], p[1]); });
}

}  // namespace plena::compiler

// ---------------------------------------------------------------------------------------------
// Closed-form counts (analytic model): each function walks the emitter's loop structure above.
// ---------------------------------------------------------------------------------------------
namespace plena::compiler {
using vk::ceil_div;
namespace {

uint64_t load_imm_instrs(uint64_t v) { return v <= kImm18Max ? 1 : 1 + ((v & 0xFFF) ? 1 : 0); }
// ProgramBuilder::add_imm: nothing for +0 in place, ADDI up to 18 bits, else LOAD_IMM + ADD.
uint64_t add_imm_instrs(uint64_t v, bool same_reg) {
  if (v == 0 && same_reg) return 0;
  if (v <= kImm18Max) return 1;
  return load_imm_instrs(v) + 1;
}

// Accumulates one phase: each instruction by unit / latency class.
struct PhaseTally {
  PhaseTally(const config::HardwareConfig& cfg, std::string name, uint64_t times) : l(cfg.latency) {
    p.name = std::move(name);
    p.times = times;
  }
  PhaseTally& vec(uint64_t lat, uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += lat * n;
    p.vector_cycles += lat * n;
    p.vector_ops += n;
    return *this;
  }
  PhaseTally& mat(uint64_t lat, uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += lat * n;
    p.matrix_cycles += lat * n;
    return *this;
  }
  PhaseTally& fp(uint64_t lat, uint64_t n = 1) {  // dependent scalar FP chain
    p.instructions += n;
    p.serial_cycles += lat * n;
    p.chain_cycles += lat * n;
    return *this;
  }
  PhaseTally& fp_mem(uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += l.scalar_fp_load_store * n;
    return *this;
  }
  PhaseTally& sint(uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += l.scalar_int_basic * n;
    return *this;
  }
  PhaseTally& ctrl(uint64_t n = 1) {
    p.instructions += n;
    p.serial_cycles += l.control * n;
    return *this;
  }
  PhaseTally& dma(uint64_t n, bool serial) {
    p.instructions += n;
    p.dma += n;
    p.dma_serial = p.dma_serial || serial;
    return *this;
  }
  // C_LOOP_START of a hardware loop (count 0 and 1 emit none).
  PhaseTally& loop_start(uint64_t count) { return ctrl(count > 1 ? 1 : 0); }
  // A loop of `count` iterations of `body` folded into this phase (start, body and end each time).
  PhaseTally& absorb(const KernelPhase& body, uint64_t count) {
    if (count == 0) return *this;
    loop_start(count);
    const uint64_t end = count > 1 ? 1 : 0;
    p.instructions += count * (body.instructions + end);
    p.serial_cycles += count * (body.serial_cycles + end * l.control);
    p.vector_cycles += count * body.vector_cycles;
    p.matrix_cycles += count * body.matrix_cycles;
    p.chain_cycles += count * body.chain_cycles;
    p.vector_ops += count * body.vector_ops;
    p.dma += count * body.dma;
    p.dma_serial = p.dma_serial || body.dma_serial;
    return *this;
  }
  // This phase as the body of a hardware loop of `count` iterations kept as its own phase: adds
  // the C_LOOP_END each iteration executes.
  KernelPhase body(uint64_t count) {
    if (count > 1) ctrl(1);
    return p;
  }
  const config::Latency& l;
  KernelPhase p;
};

void push_phase(VectorKernelCounts& c, const KernelPhase& p) {
  if (p.times > 0 && p.instructions > 0) c.phases.push_back(p);
}

// set_addr_reg / set_scale_reg / set_stride_reg: LOAD_IMM of a non-zero value (counted as one
// instruction: addresses depend on the plan) + the C_SET_* instruction.
void count_set_reg(PhaseTally& t, bool nonzero) { t.sint(nonzero ? 1 : 0).ctrl(1); }

// vk::Masks(cols, with_negative): the constant load(s) and emit_fill_row(s).
void count_masks(const config::HardwareConfig& cfg, PhaseTally& t, uint64_t cols, bool with_negative) {
  const uint64_t vlen = cfg.geometry.vlen, tail = cols % vlen;
  if (tail == 0) return;
  PhaseTally st(cfg, "fill", 1);
  st.fp_mem(1).sint(1);
  auto fill = [&](uint64_t n) {
    t.sint(1).absorb(st.p, n).absorb(st.p, vlen - n).sint(2).fp(cfg.latency.scalar_map_v_fp);
  };
  t.fp_mem(1);
  fill(tail);
  if (with_negative) {
    t.fp_mem(1);
    fill(vlen - tail);
  }
}

}  // namespace

uint64_t VectorKernelCounts::instructions() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.instructions;
  return n;
}
uint64_t VectorKernelCounts::vector_ops() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.vector_ops;
  return n;
}
uint64_t VectorKernelCounts::transfers() const {
  uint64_t n = 0;
  for (const auto& p : phases) n += p.times * p.dma;
  return n;
}

namespace {

// vk::ParamRow from HBM: the [1, cols] row in ceil(blocks / v_prefetch_amount) packed H_PREFETCH_V
// (awaited by the first use), the masked last block when cols is not whole blocks (into `after`
// when given: it waits for the load).
void count_hbm_param_row(const config::HardwareConfig& cfg, PhaseTally& s, VectorKernelCounts& c, uint64_t cols,
                         PhaseTally* after = nullptr) {
  const uint64_t vlen = cfg.geometry.vlen, blocks = ceil_div(cols, vlen);
  const uint64_t amount = cfg.hbm.v_prefetch_amount, groups = ceil_div(blocks, amount);
  count_set_reg(s, true);
  count_set_reg(s, true);
  s.sint(2);
  PhaseTally g(cfg, "param load", 1);
  g.dma(1, false).sint(add_imm_instrs(amount * vlen, true) * 2);
  s.absorb(g.p, groups);
  if (cols % vlen) (after ? *after : s).sint(2).vec(cfg.latency.vector_mul);
  c.dma = {amount, vlen, vlen, cfg.formats.v_act, false, false, true, false};
}

}  // namespace

VectorKernelCounts bias_add_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, full = cols / vlen, xs = rows_alloc * vlen;
  const bool tail = cols % vlen != 0;
  VectorKernelCounts c;
  c.kernel = "bias_add";
  PhaseTally s(cfg, "setup", 1);
  count_masks(cfg, s, cols, false);
  count_hbm_param_row(cfg, s, c, cols);
  s.sint((tail ? 1 : 0) + 3).loop_start(full);  // bias tail pointer, the three block cursors
  push_phase(c, s.p);
  // One column block: the row loop adds the bias block to every real row.
  PhaseTally row(cfg, "", 1);
  row.vec(l.vector_add).sint(2 * add_imm_instrs(vlen, true));
  PhaseTally b(cfg, "column block", full);
  b.sint(2).absorb(row.p, rows).sint(2 * add_imm_instrs(xs, true) + add_imm_instrs(vlen, true));
  push_phase(c, b.body(full));
  if (tail) {
    PhaseTally t(cfg, "tail block", 1);
    t.sint(2).absorb(row.p, rows);
    push_phase(c, t.p);
  }
  return c;
}

VectorKernelCounts rmsnorm_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols,
                                  bool weight_in_hbm) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, full = cols / vlen;
  const bool tail = cols % vlen != 0;
  const uint64_t xs = rows_alloc * vlen;
  VectorKernelCounts c;
  c.kernel = "rmsnorm";
  PhaseTally s(cfg, "setup", 1);
  s.fp_mem(2);  // 1/n, eps
  count_masks(cfg, s, cols, false);
  if (weight_in_hbm) {
    count_hbm_param_row(cfg, s, c, cols);
  } else if (tail) {
    s.sint(3).vec(l.vector_mul);
  }
  s.sint(1 + (tail ? 2 : 0) + 2 + (tail ? 1 : 0));  // scratch, keep mask, x/y rows, w tail
  s.loop_start(rows);
  push_phase(c, s.p);

  PhaseTally r(cfg, "row", rows);
  r.fp(l.scalar_fp_basic);  // sum = 0
  r.sint(1).loop_start(full);
  if (tail) {
    // The masked last block's square, mask and reduction issue in 3 cycles; the scalar chain
    // then waits for the reduction.
    r.vec(l.vector_mul, 2).vec(l.vector_sum);
    r.p.exposed_cycles += 2 * l.vector_mul + l.vector_sum - std::min<uint64_t>(3, 2 * l.vector_mul + l.vector_sum);
  }
  r.fp(l.scalar_fp_basic, 2).fp(l.scalar_fp_sqrt).fp(l.scalar_fp_reci);
  r.sint(3).loop_start(full);
  if (tail) r.vec(l.vector_mul, 2);
  r.sint(2);
  push_phase(c, r.body(rows));

  PhaseTally b1(cfg, "sum of squares block", rows * full);
  b1.vec(l.vector_mul).vec(l.vector_sum).sint(add_imm_instrs(xs, true));
  push_phase(c, b1.body(full));
  PhaseTally b2(cfg, "scale block", rows * full);
  b2.vec(l.vector_mul, 2).sint(2 * add_imm_instrs(xs, true) + add_imm_instrs(vlen, true));
  push_phase(c, b2.body(full));
  return c;
}

VectorKernelCounts head_rmsnorm_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc,
                                       uint64_t cols, uint64_t head_dim) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, hd = head_dim, xs = rows_alloc * vlen;
  if (hd == 0 || cols % hd != 0 || (hd % vlen != 0 && vlen % hd != 0))
    throw InputError(fmt::format("head_rmsnorm_counts: head_dim {} must divide the {} columns and be a multiple or a "
                                 "divisor of VLEN {}",
                                 hd, cols, vlen));
  VectorKernelCounts c;
  c.kernel = "head_rmsnorm";
  PhaseTally s(cfg, "setup", 1);
  s.fp_mem(2);  // 1/head_dim, eps
  // finish(): f = 1 / sqrt(f * (1/n) + eps), a dependent scalar chain
  auto finish = [&](PhaseTally& t) { t.fp(l.scalar_fp_basic, 2).fp(l.scalar_fp_sqrt).fp(l.scalar_fp_reci); };
  if (hd % vlen == 0) {
    // head_rmsnorm_blocks: rows x heads x (sum-of-squares pass, scale pass) over bph blocks.
    const uint64_t bph = hd / vlen, heads = cols / hd;
    count_hbm_param_row(cfg, s, c, hd);
    s.sint(1 + 2).loop_start(rows);  // square scratch, x/y rows
    push_phase(c, s.p);
    PhaseTally r(cfg, "row", rows);
    r.sint(2).loop_start(heads).sint(2 * add_imm_instrs(vlen, true));
    push_phase(c, r.body(rows));
    PhaseTally h(cfg, "head", rows * heads);
    h.fp(l.scalar_fp_basic).sint(1).loop_start(bph);  // sum = 0, head block pointer
    finish(h);
    h.sint(1).loop_start(bph);  // weight block pointer
    push_phase(c, h.body(heads));
    PhaseTally b1(cfg, "sum of squares block", rows * heads * bph);
    b1.vec(l.vector_mul).vec(l.vector_sum).sint(add_imm_instrs(xs, true));
    push_phase(c, b1.body(bph));
    PhaseTally b2(cfg, "scale block", rows * heads * bph);
    b2.vec(l.vector_mul, 2).sint(2 * add_imm_instrs(xs, true) + add_imm_instrs(vlen, true));
    push_phase(c, b2.body(bph));
    return c;
  }
  // head_rmsnorm_packed: hpb heads per column block, head masks and the tiled weight built once.
  const uint64_t hpb = vlen / hd, full = cols / vlen, tail_heads = (cols % vlen) / hd;
  s.fp_mem(1).sint(3).vec(l.vector_shift).vec(l.vector_add).sint(1).vec(l.vector_shift).vec(l.vector_add);  // m_0
  // The weight's masking waits for its load; the vector unit runs in order, so everything after
  // it does too (a phase of its own).
  PhaseTally w(cfg, "head masks and tiled weight", 1);
  count_hbm_param_row(cfg, s, c, hd, &w);  // one block, masked by m_0
  push_phase(c, s.p);
  PhaseTally mk(cfg, "", 1);  // m_j = shift(m_0, j * head_dim)
  mk.vec(l.vector_shift).sint(add_imm_instrs(vlen, true) + add_imm_instrs(hd, true));
  w.sint(3).absorb(mk.p, hpb - 1);
  PhaseTally tw(cfg, "", 1);  // weight tiled across the block
  tw.vec(l.vector_shift).vec(l.vector_add).sint(add_imm_instrs(hd, true));
  w.sint(2).vec(l.vector_shift).sint(2).absorb(tw.p, hpb - 1);
  w.sint(3 + 2).loop_start(rows);  // x^2, masked and output rows; x/y rows
  push_phase(c, w.p);
  PhaseTally r(cfg, "row", rows);
  r.sint(2).loop_start(full).sint(2 * add_imm_instrs(vlen, true));
  push_phase(c, r.body(rows));
  // A column block: x^2 and the first head's mask pointer; the tiled weight at the end.
  auto block = [&](PhaseTally& t, uint64_t nh) {
    t.vec(l.vector_mul).sint(1).loop_start(nh - 1).sint(1).vec(l.vector_mul);
  };
  // One head: its masked squares reduced, then the scalar chain, then the masked scaled output.
  auto head = [&](PhaseTally& t, bool first) {
    t.vec(l.vector_mul).fp(l.scalar_fp_basic).vec(l.vector_sum);
    finish(t);
    t.vec(l.vector_mul, 2);
    if (!first) t.vec(l.vector_add);
    t.sint(add_imm_instrs(vlen, true));
  };
  // A head is one dependent chain: the reduction starts once x^2 * m_j and sum = 0 are ready (the
  // 2 instructions before it), the chain's first scalar waits for it, each scalar for the previous
  // one, and the instructions after the chain issue one per cycle (the next head's first product
  // rewrites the scratch the last ones read). The front end waits out what the overlap hides.
  const uint64_t chain = 2 * l.scalar_fp_basic + l.scalar_fp_sqrt + l.scalar_fp_reci;
  auto serial = [&](KernelPhase p) {
    const uint64_t after = p.instructions - 7;  // past the product, sum = 0, reduction, 4 scalars
    const uint64_t t = std::max<uint64_t>({2, l.vector_mul, 1 + l.scalar_fp_basic}) + l.vector_sum + chain + after;
    const uint64_t overlap = std::max({p.instructions, p.vector_cycles, p.chain_cycles});
    p.exposed_cycles = t > overlap ? t - overlap : 0;
    return p;
  };
  PhaseTally fb(cfg, "column block", rows * full);
  block(fb, hpb);
  fb.sint(add_imm_instrs(xs, true) * 2);
  push_phase(c, fb.body(full));
  PhaseTally h0(cfg, "first head", rows * (full + (tail_heads ? 1 : 0)));
  head(h0, true);
  push_phase(c, serial(h0.p));
  PhaseTally hn(cfg, "head", rows * full * (hpb - 1));
  head(hn, false);
  push_phase(c, serial(hn.body(hpb - 1)));
  if (tail_heads) {
    PhaseTally tb(cfg, "tail block", rows);
    block(tb, tail_heads);
    push_phase(c, tb.p);
    PhaseTally th(cfg, "tail head", rows * (tail_heads - 1));
    head(th, false);
    push_phase(c, serial(th.body(tail_heads - 1)));
  }
  return c;
}

namespace {

// for_rows over `tensors` tensors of [rows, cols] (rows_alloc physical rows): column blocks outer,
// rows inner; `body` is one row of one block.
VectorKernelCounts elementwise_counts(const config::HardwareConfig& cfg, std::string kernel, uint64_t rows,
                                      uint64_t rows_alloc, uint64_t cols, uint64_t tensors, uint64_t setup_instrs,
                                      const std::function<void(PhaseTally&)>& body) {
  const uint64_t vlen = cfg.geometry.vlen, blocks = ceil_div(cols, vlen);
  VectorKernelCounts c;
  c.kernel = std::move(kernel);
  PhaseTally s(cfg, "setup", 1);
  s.fp_mem(setup_instrs ? 1 : 0).sint(setup_instrs ? setup_instrs - 1 : 0);
  s.sint(tensors).loop_start(blocks);
  push_phase(c, s.p);
  PhaseTally b(cfg, "column block", blocks);
  b.loop_start(rows).sint(tensors * add_imm_instrs((rows_alloc - rows) * vlen, true));
  push_phase(c, b.body(blocks));
  PhaseTally r(cfg, "row", blocks * rows);
  body(r);
  r.sint(tensors * add_imm_instrs(vlen, true));
  push_phase(c, r.body(rows));
  return c;
}

}  // namespace

VectorKernelCounts swiglu_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols) {
  const auto& l = cfg.latency;
  // setup: the constant 1.0 and the scratch row pointer
  return elementwise_counts(cfg, "swiglu", rows, rows_alloc, cols, 3, 2, [&](PhaseTally& r) {
    r.vec(l.vector_add).vec(l.vector_exp).vec(l.vector_add).vec(l.vector_reci).vec(l.vector_mul, 2);
  });
}

VectorKernelCounts residual_add_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc,
                                       uint64_t cols) {
  const auto& l = cfg.latency;
  return elementwise_counts(cfg, "residual", rows, rows_alloc, cols, 3, 0,
                            [&](PhaseTally& r) { r.vec(l.vector_add); });
}

VectorKernelCounts gather_last_counts(const config::HardwareConfig& cfg, uint64_t batch, uint64_t hidden) {
  VectorKernelCounts c;
  c.kernel = "gather_last";
  PhaseTally t(cfg, "row block", batch * ceil_div(hidden, cfg.geometry.vlen));
  t.sint(2).vec(cfg.latency.vector_add);
  push_phase(c, t.p);
  return c;
}


VectorKernelCounts rope_counts(const config::HardwareConfig& cfg, uint64_t rows, uint64_t rows_alloc, uint64_t cols,
                               uint64_t head_dim) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  const uint64_t xs = rows_alloc * vlen;  // x, y and the tables share rows_alloc in a model step
  VectorKernelCounts c;
  c.kernel = "rope";
  if (head_dim > vlen) {
    const uint64_t hb = head_dim / vlen, half_b = hb / 2, heads = cols / head_dim;
    PhaseTally s(cfg, "setup", 1);
    s.sint(6).loop_start(rows);
    push_phase(c, s.p);
    PhaseTally r(cfg, "row", rows);
    for (uint64_t h = 0; h < heads; ++h)
      for (uint64_t j = 0; j < half_b; ++j) {
        const uint64_t b1 = h * hb + j, b2 = b1 + half_b;
        for (uint64_t v : {b2 * xs, j * xs, b1 * xs, (j + half_b) * xs, j * xs, b1 * xs, b2 * xs, (j + half_b) * xs,
                           b2 * xs})
          r.sint(add_imm_instrs(v, false));
        r.vec(l.vector_mul, 4).vec(l.vector_add, 2);
      }
    r.sint(4 * add_imm_instrs(vlen, true));
    push_phase(c, r.body(rows));
    return c;
  }
  const uint64_t col_blocks = ceil_div(cols, vlen), groups = ceil_div(rows, blen), sub = mlen / blen;
  PhaseTally s(cfg, "setup", 1);
  count_set_reg(s, true);
  count_set_reg(s, true);
  count_set_reg(s, true);
  s.sint(1).dma(1, false).sint(2).loop_start(col_blocks);
  push_phase(c, s.p);
  // swap tile: one H_PREFETCH_M of m_weight, MLEN columns; the first M_MM waits for it
  c.dma = {std::max<uint64_t>(mlen, cfg.hbm.m_prefetch_amount), mlen, mlen, cfg.formats.m_weight, false, true, true, false};
  PhaseTally cb(cfg, "column block", col_blocks);
  cb.sint(4).loop_start(groups).sint(add_imm_instrs(xs, true) * 2);
  push_phase(c, cb.body(col_blocks));
  // One row group: swap(x) on the matrix unit (BLEN columns per M_MM), then the combine on the
  // vector unit; the next group's M_MMs overlap this group's combine.
  PhaseTally g(cfg, "row group", col_blocks * groups);
  PhaseTally mm(cfg, "", 1);
  mm.mat(l.systolic_overhead + l.matrix_mm).mat(l.matrix_writeout);
  mm.sint(add_imm_instrs(blen * mlen, true) + add_imm_instrs(blen, true));
  PhaseTally vr(cfg, "", 1);
  vr.vec(l.vector_mul, 2).vec(l.vector_add).sint(5 * add_imm_instrs(vlen, true));
  g.sint(2).absorb(mm.p, sub).sint(1).absorb(vr.p, blen);
  push_phase(c, g.body(groups));
  return c;
}

VectorKernelCounts embedding_counts(const config::HardwareConfig& cfg, uint64_t tokens, uint64_t rows_alloc,
                                    uint64_t hidden) {
  const auto& l = cfg.latency;
  const uint64_t vlen = cfg.geometry.vlen, amount = cfg.hbm.v_prefetch_amount, cbk = ceil_div(hidden, vlen);
  const uint64_t total = cbk * rows_alloc;
  auto direct = [&](uint64_t i, uint64_t r) { return i * rows_alloc + r + amount <= total; };
  uint64_t safe = 0;
  while (safe < cbk && tokens > 0 && direct(safe, tokens - 1)) ++safe;
  const bool scratch = safe < cbk;
  VectorKernelCounts c;
  c.kernel = "embedding";
  // Each H_PREFETCH_V writes `amount` VRAM rows overlapping the next one's: they run one at a time.
  c.dma = {amount, vlen, 0, cfg.formats.v_act, false, false, false, true};  // token rows: a gather
  PhaseTally s(cfg, "setup", 1);
  count_set_reg(s, true);
  count_set_reg(s, true);
  count_set_reg(s, false);
  if (scratch) s.fp_mem(1).sint(1);
  s.sint(2).loop_start(safe);
  push_phase(c, s.p);
  auto block_tail = [&](PhaseTally& t) {
    t.sint(add_imm_instrs((rows_alloc - tokens) * vlen, true) + add_imm_instrs(vlen, true));
  };
  PhaseTally b(cfg, "block", safe);
  b.sint(3 * tokens).dma(tokens, true);
  block_tail(b);
  push_phase(c, b.body(safe));
  PhaseTally u(cfg, "unrolled blocks", 1);
  for (uint64_t i = safe; i < cbk; ++i) {
    for (uint64_t r = 0; r < tokens; ++r) {
      u.sint(3).dma(1, true);
      if (!direct(i, r)) u.vec(l.vector_mul);
    }
    block_tail(u);
  }
  push_phase(c, u.p);
  return c;
}

VectorKernelCounts kv_store_counts(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len,
                                   uint64_t kv_heads, uint64_t padded_dim, uint64_t row_stride) {
  const uint64_t vlen = cfg.geometry.vlen, wb = cfg.hbm.v_writeback_amount;
  const uint64_t groups = ceil_div(q_len, wb), blocks = batch * kv_heads * (padded_dim / vlen);
  VectorKernelCounts c;
  c.kernel = "kv_store";
  c.dma = {wb, vlen, row_stride, cfg.formats.v_kv, true, false, false, false};
  PhaseTally s(cfg, "setup", 1);
  count_set_reg(s, true);
  count_set_reg(s, true);
  count_set_reg(s, true);
  push_phase(c, s.p);
  PhaseTally h(cfg, "head block", blocks);
  h.sint(2).loop_start(groups);
  push_phase(c, h.p);
  PhaseTally g(cfg, "store", blocks * groups);
  g.dma(1, false).sint(add_imm_instrs(wb * vlen, true) + add_imm_instrs(wb * row_stride, true));
  push_phase(c, g.body(groups));
  return c;
}

}  // namespace plena::compiler

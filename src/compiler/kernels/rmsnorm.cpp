// RMSNorm with a weight row (docs/kernels-vector.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <set>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/linear_pass.hpp"
#include "compiler/kernels/vector_common.hpp"
#include "support/support.hpp"

namespace plena::compiler {

using namespace vk;

// Software-pipelined over rows: the body sums row r's squares and scales row r-1, whose sum of
// squares came from the previous body, so the front end's waits for V_RED_SUM results (the scalar
// chain 1/sqrt(mean + eps), the next reduction into the same register) run while the vector unit
// still has queued work, and the vector unit never idles. Every column block is its own straight-line code with
// one pointer step per stream and block (BlockWalk), so the vector unit, not the issue of pointer
// and loop instructions, bounds the row. Same operations in the same order as one row at a time.
// The rows come in calls of any size (emit_rmsnorm: all at once; a linear's prologue: a row group
// at a time), each pipelined within itself.
class RmsNormRows final : public LinearPrologue {
 public:
  // The constants, masks and weight row (instructions before any row).
  RmsNormRows(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a)
      : x_(input_tensor(plan, a.name, "input", a.input)),
        y_(commented(b, like_tensor(plan, a.name, "output", a.output, x_), a)),
        k_(b, plan, a.mean_cols ? a.mean_cols : x_.cols, a.eps),
        masks_(b, plan, a.name, x_.cols, false),
        w_(b, plan, a.name, "weight", a.weight, a.weight_source, x_.cols, masks_),
        tmp_(plan, a.name + ".sq", 1, x_.vlen) {}
  uint64_t total_rows() const override { return x_.rows; }
  // Inside a linear at most two weight registers (else a walking pointer).
  void open(ProgramBuilder& b) override { regs_.emplace(b, *this, 2); }
  uint64_t gp_registers() const override;
  // Every row now, as the standalone kernel (up to four weight registers, held until destruction).
  void run_all(ProgramBuilder& b) override {
    regs_.emplace(b, *this, 4);
    emit_rows(b, x_.rows, true, b.loop_policy());
  }
  void close() override { regs_.reset(); }
  // A few rows at a time inside the linear's loops: unrolled (a hardware loop takes a register).
  void rows(ProgramBuilder& b, uint64_t n) override { emit_rows(b, n, false, LoopPolicy::automatic(16)); }
  // last: the rows end the tensor (the pointers need not move past them).
  void emit_rows(ProgramBuilder& b, uint64_t n, bool last, LoopPolicy policy);

 private:
  VramTensor commented(ProgramBuilder& b, const VramTensor& y, const RmsNormArgs& a) const {
    b.comment(fmt::format("{}: RMSNorm over {} rows x {} cols (weight '{}', eps '{}')", a.name, x_.rows, x_.cols,
                          a.weight, a.eps));
    return y;
  }
  // The row loop's registers.
  struct Regs {
    Regs(ProgramBuilder& b, const RmsNormRows& n, uint64_t weight_regs);
    ScopedFp sum, scale;
    ScopedGp t;
    std::optional<ScopedGp> keep;
    ConstRegs consts;
    std::vector<ScopedGp> wregs;
    std::optional<BlockWalk> ww, p, q, yq;  // weights; the row being summed, the row being scaled, its output
    std::optional<ScopedGp> wtail;
  };
  void square_block(ProgramBuilder& b, uint64_t i);
  void scale_block(ProgramBuilder& b, uint64_t i, bool last_row);
  void rest_of_scale(ProgramBuilder& b);
  const VramTensor x_, y_;
  NormConstants k_;
  Masks masks_;
  ParamRow w_;
  ScratchRows tmp_;
  std::optional<Regs> regs_;
};

RmsNormRows::Regs::Regs(ProgramBuilder& b, const RmsNormRows& n, uint64_t weight_regs)
    : sum(b.regs().fp("sum of squares")), scale(b.regs().fp("row scale")), t(b.regs().gp("square scratch")), consts(b) {
  const VramTensor& x = n.x_;
  const ParamRow& w = n.w_;
  b.load_imm(t, n.tmp_.t().base());
  if (n.masks_.tail) {
    keep.emplace(b.regs().gp("keep mask"));
    b.load_imm(*keep, n.masks_.keep);
  }
  // Weight blocks: a register each for a few blocks, else a pointer returning to the row start
  // (the masked tail block always has its own register).
  const uint64_t blocks = x.col_blocks, full = blocks - (n.masks_.tail ? 1 : 0);
  for (uint64_t i = 0; i < blocks && blocks <= weight_regs; ++i) {
    wregs.push_back(b.regs().gp("weight block"));
    b.load_imm(wregs.back(), i < full ? w.base + i * w.stride : w.tail_addr);
  }
  if (wregs.empty()) {
    ww.emplace(b, consts, w.base, full, w.stride, 0);
    if (n.masks_.tail) {
      wtail.emplace(b.regs().gp("weight tail"));
      b.load_imm(*wtail, w.tail_addr);
    }
  }
  const uint64_t xs = x.rows_alloc * x.vlen, ys = n.y_.rows_alloc * x.vlen;
  p.emplace(b, consts, x.base(), blocks, xs, x.vlen);
  q.emplace(b, consts, x.base(), blocks, xs, x.vlen);
  // Its own output pointer even in place: the kernel's length must not depend on aliasing (the
  // estimate counts it standalone, with distinct tensors).
  yq.emplace(b, consts, n.y_.base(), blocks, ys, x.vlen);
}

// The GP registers open() takes: Regs' own, and the step constants its BlockWalks load.
uint64_t RmsNormRows::gp_registers() const {
  const uint64_t blocks = x_.col_blocks, vlen = x_.vlen, tail = masks_.tail ? 1 : 0, full = blocks - tail;
  std::set<uint64_t> consts;
  auto walk = [&](uint64_t n, uint64_t stride, uint64_t next) {  // as BlockWalk's constructor
    const uint64_t span = (n - 1) * stride;
    if (n > 1 && stride > kImm18Max) consts.insert(stride);
    if (next < span) consts.insert(span - next);
    if (next > span && next - span > kImm18Max) consts.insert(next - span);
  };
  uint64_t regs = 1 + tail + 3;  // scratch, keep mask, the three row walks
  if (blocks <= 2) {
    regs += blocks;
  } else {
    regs += 1 + tail;
    walk(full, w_.stride, 0);
  }
  walk(blocks, x_.rows_alloc * vlen, vlen);
  walk(blocks, y_.rows_alloc * vlen, vlen);
  return regs + consts.size();
}

void RmsNormRows::square_block(ProgramBuilder& b, uint64_t i) {
  Regs& r = *regs_;
  b.v_mul_vv(r.t, r.p->ptr(), r.p->ptr());
  if (masks_.tail && i + 1 == x_.col_blocks) b.v_mul_vv(r.t, r.t, *r.keep);
  b.v_red_sum(r.sum, r.t);
  r.p->step(i);
}

void RmsNormRows::scale_block(ProgramBuilder& b, uint64_t i, bool last_row) {
  Regs& r = *regs_;
  const uint64_t full = x_.col_blocks - (masks_.tail ? 1 : 0);
  const GpReg out = r.yq->ptr();
  const GpReg wi = !r.wregs.empty() ? GpReg(r.wregs[i]) : (i < full ? r.ww->ptr() : GpReg(*r.wtail));
  b.v_mul_vf(out, r.q->ptr(), r.scale);
  b.v_mul_vv(out, out, wi);
  if (last_row && i + 1 == x_.col_blocks) return;  // no row follows
  r.q->step(i);
  r.yq->step(i);
  if (r.ww && i < full) r.ww->step(i);
}

// scale = 1 / sqrt(sum * (1/n) + eps); the first product frees `sum` for the next row.
void RmsNormRows::rest_of_scale(ProgramBuilder& b) {
  b.s_add_fp(regs_->scale, regs_->scale, k_.eps);
  b.s_sqrt_fp(regs_->scale, regs_->scale);
  b.s_reci_fp(regs_->scale, regs_->scale);
}

void RmsNormRows::emit_rows(ProgramBuilder& b, uint64_t n, bool last, LoopPolicy policy) {
  if (n == 0) return;
  Regs& r = *regs_;
  const uint64_t blocks = x_.col_blocks;
  b.s_add_fp(r.sum, f0, f0);
  for (uint64_t i = 0; i < blocks; ++i) square_block(b, i);
  // Row r's squares interleaved with row r-1's scaling block by block: each V_RED_SUM into `sum`
  // issues once the previous one has finished (the register interlock), and the scaling
  // instructions between them keep the vector unit busy meanwhile.
  b.loop(n - 1, policy, [&] {
    b.s_mul_fp(r.scale, r.sum, k_.inv);
    b.s_add_fp(r.sum, f0, f0);
    for (uint64_t i = 0; i < blocks; ++i) {
      square_block(b, i);
      if (i == 0) rest_of_scale(b);
      scale_block(b, i, false);
    }
  });
  b.s_mul_fp(r.scale, r.sum, k_.inv);
  rest_of_scale(b);
  for (uint64_t i = 0; i < blocks; ++i) scale_block(b, i, last);
}

void emit_rmsnorm(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a) {
  auto ks = b.kernel(a.name);
  RmsNormRows norm(b, plan, a);
  norm.run_all(b);
}

std::unique_ptr<LinearPrologue> rmsnorm_prologue(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a) {
  return std::make_unique<RmsNormRows>(b, plan, a);
}

namespace {

void rmsnorm_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t cols = s.get("cols");
  plan.fp_constant("eps", 1e-5f);
  standalone::hbm_rows(plan, "w", 1, cols);
  standalone::activation(plan, s, "x", cols);
  standalone::activation(plan, s, "y", cols);
  emit_rmsnorm(b, plan, {"rmsnorm", "x", "y", "w"});
}

}  // namespace

extern const KernelEntry kRmsNormKernel;
const KernelEntry kRmsNormKernel{"rmsnorm", "RMSNorm with a weight row",
                                 {"rows", "rows_alloc", "cols"},
                                 rmsnorm_standalone, KernelSchedule::Phased,
    {{32, 576}, {5, 520}}};

}  // namespace plena::compiler

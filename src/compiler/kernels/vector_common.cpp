// Shared pieces of the vector kernels (vector_common.hpp).
#include "compiler/kernels/vector_common.hpp"
#include "support/math.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace vk {


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
  auto hint = b.dma_hint({.wait_first = true});  // the row's first use waits for it
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


GpReg ConstRegs::get(uint64_t value) {
  for (const auto& [v, r] : regs_)
    if (v == value) return r;
  regs_.emplace_back(value, b_.regs().gp("step constant"));
  b_.load_imm(regs_.back().second, value);
  return regs_.back().second;
}

BlockWalk::BlockWalk(ProgramBuilder& b, ConstRegs& consts, uint64_t start, uint64_t blocks, uint64_t stride,
                     uint64_t next)
    : b_(b), consts_(consts), ptr_(b.regs().gp("block walk")), blocks_(blocks), stride_(stride), next_(next) {
  b_.load_imm(ptr_, start);
  // Registers for the steps the body takes (loaded here, before any loop).
  const uint64_t span = (blocks_ - 1) * stride_;
  if (blocks_ > 1 && stride_ > kImm18Max) (void)consts_.get(stride_);
  if (next_ < span) (void)consts_.get(span - next_);
  if (next_ > span && next_ - span > kImm18Max) (void)consts_.get(next_ - span);
}

void BlockWalk::step(uint64_t k) {
  auto add = [&](uint64_t v) {
    if (v > kImm18Max)
      b_.s_add_int(ptr_, ptr_, consts_.get(v));
    else
      b_.add_imm(ptr_, ptr_, v);
  };
  if (k + 1 < blocks_) return add(stride_);
  const uint64_t span = (blocks_ - 1) * stride_;
  if (next_ > span) add(next_ - span);
  if (next_ < span) b_.s_sub_int(ptr_, ptr_, consts_.get(span - next_));
}

// Runs body(src pointers..., dst pointer) over the `rows` real rows of every column block.
GeluTanhGate::GeluTanhGate(ProgramBuilder& b, MemoryPlan& plan, FpReg one)
    : one(one), c(b.regs().fp("0.044715")), neg_2k(b.regs().fp("-2 sqrt(2/pi)")) {
  plan.fp_constant("gelu.c", 0.044715f);
  plan.fp_constant("gelu.neg_2k", float(-2.0 * std::sqrt(2.0 / 3.14159265358979323846)));
  load_fp_constant(b, plan, c, "gelu.c");
  load_fp_constant(b, plan, neg_2k, "gelu.neg_2k");
}

void GeluTanhGate::emit(ProgramBuilder& b, GpReg t, GpReg x) const {
  b.v_mul_vv(t, x, x);
  b.v_mul_vf(t, t, c);
  b.v_add_vf(t, t, one);
  b.v_mul_vv(t, t, x);
  b.v_mul_vf(t, t, neg_2k);
  b.v_exp_v(t, t);
  b.v_add_vf(t, t, one);
  b.v_reci_v(t, t);
}

void for_rows(ProgramBuilder& b, const VramTensor& shape, const std::vector<const VramTensor*>& tensors,
              const std::function<void(const std::vector<GpReg>&)>& body) {
  const uint64_t vlen = b.config().geometry.vlen;
  // Aliased tensors (an in-place output) share one pointer: one step per distinct row stream.
  std::vector<ScopedGp> ptrs;
  std::vector<const VramTensor*> owners;
  std::vector<GpReg> regs;
  for (const VramTensor* t : tensors) {
    size_t j = 0;
    while (j < owners.size() && (owners[j]->base() != t->base() || owners[j]->rows_alloc != t->rows_alloc)) ++j;
    if (j == owners.size()) {
      ptrs.push_back(b.regs().gp("row pointer"));
      owners.push_back(t);
      b.load_imm(ptrs.back(), t->base());
    }
    regs.push_back(ptrs[j]);
  }
  auto row = [&] {
    body(regs);
    for (const ScopedGp& r : ptrs) b.add_imm(r, r, vlen);
  };
  // Several rows per loop iteration: the loop's own instruction is paid once per kUnroll rows.
  constexpr uint64_t kUnroll = 4;
  auto rows = [&](uint64_t n) {
    b.loop(n / kUnroll, [&] {
      for (uint64_t i = 0; i < kUnroll; ++i) row();
    });
    for (uint64_t i = 0; i < n % kUnroll; ++i) row();
  };
  const bool packed = std::all_of(owners.begin(), owners.end(), [&](const VramTensor* t) { return t->rows_alloc == shape.rows; });
  if (packed) return rows(shape.col_blocks * shape.rows);  // the blocks follow each other: one walk
  b.loop(shape.col_blocks, [&] {
    rows(shape.rows);
    // to the next column block: skip the rows not visited
    for (size_t i = 0; i < ptrs.size(); ++i) {
      const uint64_t skip = (owners[i]->rows_alloc - shape.rows) * vlen;
      if (skip) b.add_imm(ptrs[i], ptrs[i], skip);
    }
  });
}

}  // namespace vk
}  // namespace plena::compiler

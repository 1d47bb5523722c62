// RoPE: rotate-half with host-built cos/sin tables; the half swap on the matrix unit or by whole
// column blocks (docs/kernels-vector.md).
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

void check_head_dim(std::string_view kernel, uint64_t head_dim, uint64_t vlen) {
  if (head_dim == 0 || head_dim % 2 != 0) fail(kernel, fmt::format("head_dim {} must be even and positive", head_dim));
  if (head_dim <= vlen) {
    if (vlen % head_dim != 0)
      fail(kernel, fmt::format("head_dim {} must divide VLEN ({}) so whole heads sit in a VLEN row", head_dim, vlen));
  } else if ((head_dim / 2) % vlen != 0) {
    fail(kernel, fmt::format("head_dim {} > VLEN ({}): head_dim/2 must be a multiple of VLEN so the rotated halves are "
                             "whole column blocks",
                             head_dim, vlen));
  }
}

// RopeArgs::rotate_cols checked against the tensors: the columns that rotate.
uint64_t rotated_cols(const RopeArgs& a, const VramTensor& x, const VramTensor& y, const config::HardwareConfig& cfg) {
  const uint64_t rot = a.rotate_cols ? a.rotate_cols : x.cols;
  if (rot == x.cols) return rot;
  const auto& g = cfg.geometry;
  if (rot > x.cols || rot % a.head_dim != 0)
    fail(a.name, fmt::format("rotate_cols {} must be a whole number of heads of {} within the input's {} columns", rot,
                             a.head_dim, x.cols));
  if (x.name != y.name) fail(a.name, fmt::format("rotate_cols {} < {} columns needs output == input", rot, x.cols));
  if (a.swapped_output) fail(a.name, "swapped_output rotates every column (rotate_cols must be 0)");
  if (rot % g.vlen != 0 && (rot % g.hlen != 0 || g.vlen / g.hlen > 32))
    fail(a.name, fmt::format("rotate_cols {} ends inside a VLEN block: it must be a multiple of HLEN ({}) with VLEN / "
                             "HLEN <= 32 (V_MASK keeps the rest)",
                             rot, g.hlen));
  return rot;
}

}  // namespace

RopeTables rope_tables(std::span<const float> inv_freq, uint64_t head_dim, uint64_t vlen,
                       std::span<const int64_t> positions) {
  check_head_dim("rope_tables", head_dim, vlen);
  const uint64_t half = head_dim / 2;
  if (inv_freq.size() != half)
    fail("rope_tables", fmt::format("{} inverse frequencies for head_dim {}, expected {}", inv_freq.size(), head_dim, half));
  RopeTables t;
  t.rows = positions.size();
  t.width = std::max(vlen, head_dim);
  t.cos.resize(t.rows * t.width);
  t.sin.resize(t.rows * t.width);
  // One cos/sin per frequency and distinct position (padding rows repeat position 0; columns
  // repeat the head's half frequencies).
  std::vector<float> cs(half), sn(half);
  for (uint64_t r = 0; r < t.rows; ++r) {
    if (r == 0 || positions[r] != positions[r - 1])
      for (uint64_t i = 0; i < half; ++i) {
        // As model::rope_apply: the angle in f32, cos/sin in double, rounded to f32.
        const float angle = static_cast<float>(positions[r]) * inv_freq[i];
        cs[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
        sn[i] = static_cast<float>(std::sin(static_cast<double>(angle)));
      }
    for (uint64_t c = 0; c < t.width; ++c) {
      const uint64_t j = c % head_dim, i = j % half;
      t.cos[r * t.width + c] = cs[i];
      t.sin[r * t.width + c] = j < half ? -sn[i] : sn[i];
    }
  }
  return t;
}

std::vector<float> rope_swap_matrix(uint64_t head_dim, uint64_t mlen) {
  check_head_dim("rope_swap_matrix", head_dim, mlen);
  if (head_dim > mlen) fail("rope_swap_matrix", fmt::format("head_dim {} > MLEN {} needs no swap matrix", head_dim, mlen));
  const uint64_t half = head_dim / 2;
  std::vector<float> m(mlen * mlen, 0.f);
  for (uint64_t n = 0; n < mlen; ++n) {
    const uint64_t j = n % head_dim;
    const uint64_t k = n - j + (j < half ? j + half : j - half);
    m[k * mlen + n] = 1.f;  // output n takes input k
  }
  return m;
}

uint64_t rope_swap_rows(const config::HardwareConfig& cfg) {
  // One H_PREFETCH_M moves m_prefetch_amount rows: the tensor holds that many (zeros past MLEN).
  return std::max<uint64_t>(cfg.geometry.mlen, cfg.hbm.m_prefetch_amount);
}

RopePlacement place_rope_tables(MemoryPlan& plan, const std::string& name, uint64_t rows, uint64_t head_dim) {
  const auto& cfg = plan.config();
  const uint64_t vlen = cfg.geometry.vlen, mlen = cfg.geometry.mlen;
  check_head_dim(name, head_dim, vlen);
  const uint64_t width = std::max(vlen, head_dim);
  VramPlaceOptions o;
  o.row_multiple = cfg.geometry.blen;
  RopePlacement p{name + ".cos", name + ".sin", ""};
  plan.alloc_vram(p.cos, rows, width, o);
  plan.alloc_vram(p.sin, rows, width, o);
  if (head_dim <= vlen) {
    p.swap = name + ".swap";
    plan.place_hbm(p.swap, TensorClass::Weight, {rope_swap_rows(cfg), mlen}, cfg.formats.m_weight);
  }
  return p;
}

namespace {

// y = x * COS + swap(x) * SIN for head_dim <= VLEN, swap(x) = x @ P on the matrix unit, BLEN rows
// at a time. The vector pass runs one row group behind the products (two swapped buffers), so
// it never waits for the multiplies in flight and the front end keeps the matrix unit fed.
// Only the first `rot` columns rotate: whole blocks, then a last block under V_MASK (its other HLEN
// segments keep x, which in place leaves them as they are).
void emit_rope_swapped(ProgramBuilder& b, MemoryPlan& plan, const RopeArgs& a, const VramTensor& x,
                       const VramTensor& y, const VramTensor& ct, const VramTensor& st, uint64_t tile, uint64_t rot) {
  const auto& cfg = b.config();
  const uint64_t vlen = cfg.geometry.vlen, mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  const uint64_t xs = x.rows_alloc * vlen, ys = y.rows_alloc * vlen, groups = ceil_div(x.rows, blen);
  if (groups == 0) return;
  ScratchRows swapped(plan, a.name + ".swapped", 2 * blen, vlen);
  const uint64_t buf0 = swapped.t().base(), buf1 = buf0 + blen * vlen;
  auto xb = b.regs().gp("x block");
  auto yb = b.regs().gp("y block");
  auto xq = b.regs().gp("x row group multiplied");
  auto xp = b.regs().gp("x row");
  auto yp = b.regs().gp("y row");
  auto cp = b.regs().gp("cos row");
  auto sp = b.regs().gp("sin row");
  auto cur = b.regs().gp("swapped buffer written");
  auto prev = b.regs().gp("swapped buffer read");
  // After products() the older group's buffer is `cur`, the newest one's `prev`.
  const uint64_t full = rot / vlen, part = rot % vlen;
  uint64_t mask = 0;  // rmask of the combine: 1 on the partial block
  // n rows of the combine, the swapped rows walked by `sc`. The few rows between two products
  // are straight-line code in the products' loop body, which keeps a loop counter register free
  // and lets the counting back-end overlap them with the multiplies as the units do.
  auto combine_row = [&](GpReg sc) {
      if (a.swapped_output) {
        b.v_mul_vv(sc, sc, cp);
        b.v_mul_vv(yp, xp, sp);
        b.v_sub_vv(yp, sc, yp);
      } else {
        b.v_mul_vv(sc, sc, sp, mask);
        b.v_mul_vv(yp, xp, cp, mask);
        b.v_add_vv(yp, yp, sc, mask);
      }
      for (GpReg r : {GpReg(xp), GpReg(yp), GpReg(cp), GpReg(sp), GpReg(sc)}) b.add_imm(r, r, vlen);
  };
  auto combine_rows = [&](GpReg sc, uint64_t n) {
    if (n <= 16) {
      for (uint64_t i = 0; i < n; ++i) combine_row(sc);
    } else {
      b.loop(n, LoopPolicy::automatic(16), [&] { combine_row(sc); });
    }
  };
  auto combine = [&](GpReg buf) {
    auto sc = b.regs().gp("swapped row");
    b.add_imm(sc, buf, 0);
    combine_rows(sc, blen);
  };
  // The next group's products; with `older`, the previous group's combine (buffer `prev`) runs
  // between them, a few rows per BLEN-wide column, so the vector rows issue under the multiplies.
  // Only the BLEN-wide columns that rotate are multiplied (a partial block: the heads before
  // rot; the swap never crosses a head, so the other columns' products would be discarded).
  uint64_t subs = mlen / blen;
  auto products = [&](bool older) {
    const uint64_t per_sub = blen % subs == 0 ? blen / subs : 0;
    {
      auto wc = b.regs().gp("swap sub-tile");
      auto sc = b.regs().gp("swapped column");
      std::optional<ScopedGp> oc;
      if (older) {
        oc.emplace(b.regs().gp("swapped row"));
        b.add_imm(*oc, prev, 0);
      }
      b.load_imm(wc, tile);
      b.add_imm(sc, cur, 0);
      b.loop(subs, [&] {  // BLEN output columns per M_MM (row-granular MRAM: sub-tile c at c*BLEN*MLEN)
        b.m_mm(wc, xq);
        b.m_mm_wo(sc, gp0, 0);
        b.add_imm(wc, wc, blen * mlen);
        b.add_imm(sc, sc, blen);
        if (older && per_sub) combine_rows(*oc, per_sub);
      });
      if (older && !per_sub) combine_rows(*oc, blen);
    }
    b.add_imm(xq, xq, blen * vlen);
    auto t = b.regs().gp("buffer swap");
    b.add_imm(t, cur, 0);
    b.add_imm(cur, prev, 0);
    b.add_imm(prev, t, 0);
  };
  b.load_imm(xb, x.base());
  b.load_imm(yb, y.base());
  auto block = [&] {
    b.s_add_int(xq, xb, gp0);
    b.s_add_int(xp, xb, gp0);
    b.s_add_int(yp, yb, gp0);
    b.load_imm(cp, ct.base());
    b.load_imm(sp, st.base());
    b.load_imm(cur, buf0);
    b.load_imm(prev, buf1);
    products(false);
    b.loop(groups - 1, [&] { products(true); });
    combine(prev);
    b.add_imm(xb, xb, xs);
    b.add_imm(yb, yb, ys);
  };
  // The column blocks are unrolled: a hardware loop's counter would be one GP register too many
  // beside the products' loops and the combine's row registers.
  for (uint64_t i = 0; i < full; ++i) block();
  if (part) {
    mask = 1;
    subs = ceil_div(part, blen);
    b.set_v_mask((uint64_t(1) << (part / cfg.geometry.hlen)) - 1);
    block();
    b.set_v_mask(0);
  }
}

// The swap tile a previous call left in MRAM (RopeArgs::swap_loaded): its block's address, or
// tile_address checked to lie with the whole tile inside tile_block.
uint64_t loaded_swap_tile(const MemoryPlan& plan, const RopeArgs& a, const std::string& block, uint64_t tiles) {
  if (!plan.mram_space().contains(block))
    fail(a.name, fmt::format("swap_loaded: MRAM '{}' is not allocated (a previous call with keep_swap, or the "
                             "linear that prefetched the tile, leaves it)", block));
  const MramBlock& m = plan.mram(block);
  if (a.tile_block.empty()) return m.address();
  const uint64_t tile_elems = m.mlen * m.mlen;
  if (a.tile_address < m.address() || a.tile_address % tile_elems != 0 ||
      a.tile_address / tile_elems + tiles > m.first_tile + m.tiles)
    fail(a.name, fmt::format("swap tile address {} is not {} whole tiles inside MRAM '{}' (tiles {}..{})",
                             a.tile_address, tiles, block, m.first_tile, m.first_tile + m.tiles - 1));
  return a.tile_address;
}

}  // namespace

void emit_rope(ProgramBuilder& b, MemoryPlan& plan, const RopeArgs& a) {
  auto ks = b.kernel(a.name);
  const auto& cfg = b.config();
  const uint64_t vlen = cfg.geometry.vlen, mlen = cfg.geometry.mlen, blen = cfg.geometry.blen;
  const VramTensor x = input_tensor(plan, a.name, "input", a.input);
  const VramTensor y = like_tensor(plan, a.name, "output", a.output, x);
  check_head_dim(a.name, a.head_dim, vlen);
  if (x.cols % a.head_dim != 0)
    fail(a.name, fmt::format("input has {} columns, not a whole number of heads of {}", x.cols, a.head_dim));
  const uint64_t width = std::max(vlen, a.head_dim);
  const VramTensor ct = input_tensor(plan, a.name, "cos table", a.tables.cos);
  const VramTensor st = input_tensor(plan, a.name, "sin table", a.tables.sin);
  for (const VramTensor* t : {&ct, &st})
    if (t->cols != width || t->rows < x.rows || t->rows_alloc != ct.rows_alloc)
      fail(a.name, fmt::format("table '{}' is [{}, {}], expected at least {} rows of {} columns (place_rope_tables)",
                               t->name, t->rows, t->cols, x.rows, width));
  const uint64_t xs = x.rows_alloc * vlen, ys = y.rows_alloc * vlen, ts = ct.rows_alloc * vlen;
  const uint64_t rot = rotated_cols(a, x, y, cfg);
  b.comment(fmt::format("{}: RoPE (rotate-half, head_dim {}) over {} rows x {} of {} cols", a.name, a.head_dim, x.rows,
                        rot, x.cols));

  if (a.head_dim > vlen) {
    if (a.swapped_output) fail(a.name, fmt::format("swapped_output needs head_dim {} <= VLEN ({})", a.head_dim, vlen));
    // The halves are whole column blocks: out_b = x_b * COS + x_partner * SIN, per row.
    const uint64_t hb = a.head_dim / vlen, half_b = hb / 2, heads = rot / a.head_dim;
    ScratchRows tmp(plan, a.name + ".t", 2, vlen);
    auto x_row = b.regs().gp("x row");
    auto y_row = b.regs().gp("y row");
    auto c_row = b.regs().gp("cos row");
    auto s_row = b.regs().gp("sin row");
    auto ta = b.regs().gp("rotated first half");
    auto tb = b.regs().gp("rotated second half");
    auto r1 = b.regs().gp("x block");
    auto r2 = b.regs().gp("table block");
    auto r3 = b.regs().gp("y block");
    b.load_imm(x_row, x.base());
    b.load_imm(y_row, y.base());
    b.load_imm(c_row, ct.base());
    b.load_imm(s_row, st.base());
    b.load_imm(ta, tmp.t().address(0, 0));
    b.load_imm(tb, tmp.t().address(1, 0));
    b.loop(x.rows, [&] {
      for (uint64_t h = 0; h < heads; ++h)
        for (uint64_t j = 0; j < half_b; ++j) {
          const uint64_t b1 = h * hb + j, b2 = b1 + half_b;
          b.add_imm(r1, x_row, b2 * xs);
          b.add_imm(r2, s_row, j * ts);
          b.v_mul_vv(ta, r1, r2);  // x2 * (-sin)
          b.add_imm(r1, x_row, b1 * xs);
          b.add_imm(r2, s_row, (j + half_b) * ts);
          b.v_mul_vv(tb, r1, r2);  // x1 * sin
          b.add_imm(r2, c_row, j * ts);
          b.add_imm(r3, y_row, b1 * ys);
          b.v_mul_vv(r3, r1, r2);
          b.v_add_vv(r3, r3, ta);
          b.add_imm(r1, x_row, b2 * xs);
          b.add_imm(r2, c_row, (j + half_b) * ts);
          b.add_imm(r3, y_row, b2 * ys);
          b.v_mul_vv(r3, r1, r2);
          b.v_add_vv(r3, r3, tb);
        }
      for (GpReg r : {GpReg(x_row), GpReg(y_row), GpReg(c_row), GpReg(s_row)}) b.add_imm(r, r, vlen);
    });
    return;
  }

  // head_dim <= VLEN: swap(x) = x @ P on the matrix unit, BLEN rows at a time.
  if (a.tables.swap.empty() || !plan.hbm_space().contains(a.tables.swap))
    fail(a.name, fmt::format("head_dim {} <= VLEN needs the swap matrix in HBM (place_rope_tables), got '{}'",
                             a.head_dim, a.tables.swap));
  const HbmTensor& sw = plan.hbm(a.tables.swap);
  if (sw.format != cfg.formats.m_weight || sw.cols != mlen || sw.rows < cfg.hbm.m_prefetch_amount || sw.rows < mlen)
    fail(a.name, fmt::format("swap matrix '{}' must be [{}, {}] in {} (place_rope_tables)", sw.name,
                             std::max<uint64_t>(mlen, cfg.hbm.m_prefetch_amount), mlen, cfg.formats.m_weight.name()));
  const uint64_t groups = ceil_div(x.rows, blen);
  for (const VramTensor* t : {&x, &y, &ct})
    if (t->rows_alloc < groups * blen)
      fail(a.name, fmt::format("'{}' has {} allocated rows; the matrix unit works on groups of BLEN = {} rows, expected "
                               "rows_alloc >= {} (place with row_multiple = BLEN)",
                               t->name, t->rows_alloc, blen, groups * blen));
  // The swap tile: prefetched here, or left loaded by the previous call (keep_swap / swap_loaded).
  const std::string tile_name = a.tile_block.empty() ? sw.name + ".tile" : a.tile_block;
  const bool own = !a.swap_loaded;
  if (own && !a.tile_block.empty())
    fail(a.name, fmt::format("tile_block '{}' needs swap_loaded (the tile is already there)", a.tile_block));
  const uint64_t tile = own ? plan.alloc_mram(tile_name, cfg.hbm.m_prefetch_amount / mlen).address()
                            : loaded_swap_tile(plan, a, tile_name, cfg.hbm.m_prefetch_amount / mlen);
  struct MramGuard {
    MemoryPlan& p;
    std::string n;
    bool keep;
    ~MramGuard() {
      if (keep) return;
      try {
        p.free_mram(n);
      } catch (...) {
      }
    }
  } guard{plan, tile_name, a.keep_swap};
  if (own) {
    auto ar = b.regs().hbm("swap matrix");
    auto mr = b.regs().gp("swap tile");
    b.set_addr_reg(ar, sw.base);
    b.set_scale_reg(sw.scale_reg);
    b.set_stride_reg(sw.row_stride);
    b.load_imm(mr, tile);
    auto hint = b.dma_hint({.wait_first = true});  // the swap product waits for the tile
    b.h_prefetch_m(mr, gp0, ar, 1, 0);
  }
  emit_rope_swapped(b, plan, a, x, y, ct, st, tile, rot);
}

namespace {

// Tables for every physical row, applied in place (as the model step ropes q and k).
void rope_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t head_dim = s.get("head_dim");
  const RopePlacement t = place_rope_tables(plan, "rope", s.get("rows_alloc"), head_dim);
  standalone::activation(plan, s, "q", s.get("cols"));
  RopeArgs a{"rope", "q", "q", head_dim, t};
  a.rotate_cols = s.get_or("rotate_cols", 0);
  a.swapped_output = s.get_or("swapped_output", 0) != 0;
  // swap_loaded: the previous call (rope_q before rope_k) left the swap tile in MRAM.
  a.swap_loaded = !t.swap.empty() && s.get_or("swap_loaded", 0) != 0;
  if (a.swap_loaded) plan.alloc_mram(t.swap + ".tile", plan.config().hbm.m_prefetch_amount / plan.config().geometry.mlen);
  emit_rope(b, plan, a);
}

}  // namespace

extern const KernelEntry kRopeKernel;
const KernelEntry kRopeKernel{"rope", "rotate-half RoPE with per-row tables",
                              {"rows", "rows_alloc", "cols", "head_dim"},
                              rope_standalone, KernelSchedule::Phased,
    {{16, 576, 64}, {8, 256, 32}}};

}  // namespace plena::compiler

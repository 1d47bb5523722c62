// KV store: a step's new K/V rows from VRAM into the HBM KV cache (kernels_attention.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels_attention.hpp"
#include "support/support.hpp"

namespace plena::compiler {

namespace {

// The combined layout's K|V rows: V_SHFT_V moves V to v_col0 (zeros below), then V_ADD_VV adds
// K in K's HLEN segments only (V_MASK; 0 + K = K, exact) and keeps V in the others. V's tensor is
// dead after the store, so the merge works in place. Each writeback group is merged just before
// its store, so a store streams while the next group merges. A sequence's last group merges only
// its own rows (the rows past them are the next sequence's, merged with that sequence); the
// unmerged spill lands on the sequence's not-yet-valid positions like any spill.
void store_combined(ProgramBuilder& b, const MemoryPlan& plan, const KvStoreArgs& args, HbmReg a, uint64_t groups) {
  const auto& g = b.config().geometry;
  const uint64_t wb = b.config().hbm.v_writeback_amount;
  const VramTensor& v = plan.vram(args.source);
  const VramTensor& k = plan.vram(args.k_source);
  const HbmTensor& cache = plan.hbm(args.cache);
  const uint64_t rows = (args.batch - 1) * args.q_len + groups * wb;
  if (v.cols > g.vlen || k.cols > g.vlen || k.rows_alloc < rows || v.rows_alloc < rows)
    throw InputError(fmt::format("error: kernel '{}': combined K|V rows need K '{}' and V '{}' of at most VLEN = {} "
                                 "columns and {} allocated rows",
                                 args.name, k.name, v.name, g.vlen, rows));
  auto rv = b.regs().gp("kv merged row");
  auto rk = b.regs().gp("kv K row");
  auto rs = b.regs().gp("kv V shift");
  auto vr = b.regs().gp("kv vram row");
  auto off = b.regs().gp("kv hbm offset");
  b.load_imm(rs, args.layout.v_col0);
  b.set_v_mask((uint64_t(1) << (args.layout.v_col0 / g.hlen)) - 1);
  auto merge_row = [&] {
    b.v_shft_v(rv, rv, rs);
    b.v_add_vv(rv, rv, rk, 1);
    b.add_imm(rv, rv, g.vlen);
    b.add_imm(rk, rk, g.vlen);
  };
  // The rows straight-line in a group that a later group's merge follows (its store streams under
  // that merge); the last group's rows in a loop, its store waiting for them with nothing after.
  auto group = [&](uint64_t merged, bool last) {
    if (last)
      b.loop(merged, merge_row);
    else
      for (uint64_t i = 0; i < merged; ++i) merge_row();
    b.h_store_v(vr, off, a, 1, 1);
    b.add_imm(vr, vr, wb * g.vlen);
    b.add_imm(off, off, wb * cache.row_stride);
  };
  for (uint64_t bi = 0; bi < args.batch; ++bi) {
    b.load_imm(rv, v.address(bi * args.q_len, 0));
    b.load_imm(rk, k.address(bi * args.q_len, 0));
    b.load_imm(vr, v.address(bi * args.q_len, 0));
    b.load_step_imm(off, [kv = args.layout, bi, past = args.past, stride = cache.row_stride](int64_t d) {
      return kv.row(bi, uint64_t(int64_t(past) + d)) * stride;
    });
    const bool last_seq = bi + 1 == args.batch;
    b.loop(groups - 1, [&] { group(wb, false); });
    group(last_seq ? wb : args.q_len - (groups - 1) * wb, last_seq);
  }
  b.set_v_mask(0);
}

}  // namespace

// H_STORE_V writes v_writeback_amount rows; the extra rows of a sequence's last group land on its
// own not-yet-valid positions (the capacity leaves room), which later steps overwrite before
// attention can see them.
void emit_kv_store(ProgramBuilder& b, const MemoryPlan& plan, const KvStoreArgs& args) {
  auto ks = b.kernel(args.name);
  const auto& cfg = b.config();
  const VramTensor& src = plan.vram(args.source);
  const HbmTensor& cache = plan.hbm(args.cache);
  const KvCacheLayout& kv = args.layout;
  const uint64_t vlen = cfg.geometry.vlen, wb = cfg.hbm.v_writeback_amount;
  const uint64_t groups = (args.q_len + wb - 1) / wb, past = args.past;
  b.comment(fmt::format("kv_store: {} rows of {} into {} at positions {}..{}", args.batch * args.q_len, src.name,
                        cache.name, past, past + args.q_len - 1));
  auto a = b.regs().hbm("kv cache");
  b.set_addr_reg(a, cache.base);
  b.set_scale_reg(cache.scale_reg);
  b.set_stride_reg(cache.row_stride);
  // Unfused combined rows merge K into V group by group; the fused K|V projection already wrote whole rows.
  if (kv.combined() && !args.k_source.empty()) return store_combined(b, plan, args, a, groups);
  auto vr = b.regs().gp("kv vram row");
  auto off = b.regs().gp("kv hbm offset");
  for (uint64_t bi = 0; bi < args.batch; ++bi)
    for (uint64_t j = 0; j < kv.width / vlen; ++j) {
      b.load_imm(vr, src.address(bi * args.q_len, j * vlen));
      b.load_step_imm(off, [kv, bi, past, stride = cache.row_stride, col = j * vlen](int64_t d) {
        return kv.row(bi, uint64_t(int64_t(past) + d)) * stride + col;
      });
      b.loop(groups, [&] {
        b.h_store_v(vr, off, a, 1, 1);
        b.add_imm(vr, vr, wb * vlen);
        b.add_imm(off, off, wb * cache.row_stride);
      });
    }
}

namespace {

// The K projection's output [batch * q_len, width] as a model step holds it (rows for whole
// writeback groups of the last sequence), stored at positions past.. of a cache with room for
// the last group's spill.
void kv_store_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const auto& cfg = plan.config();
  const uint64_t batch = s.get("batch"), q_len = s.get("q_len"), past = s.get("past");
  const uint64_t wb = cfg.hbm.v_writeback_amount, blen = cfg.geometry.blen;
  const uint64_t groups_rows = (q_len + wb - 1) / wb * wb;
  const KvCacheLayout lay = kv_cache_layout(cfg, batch, s.get("kv_heads"), s.get_or("capacity", past + groups_rows),
                                            s.get("head_dim"), s.get_or("kv_combined", 0) != 0);
  place_kv_cache(plan, "k_cache", lay);
  VramPlaceOptions act;
  act.row_multiple = s.get_or("rows_alloc", ((batch - 1) * q_len + groups_rows + blen - 1) / blen * blen);
  // kv_merged: the fused K|V projection's output already holds whole cache rows (no merge).
  const bool merge = lay.combined() && s.get_or("kv_merged", 0) == 0;
  plan.alloc_vram("k", batch * q_len, lay.width, act);
  if (merge) plan.alloc_vram("v", batch * q_len, lay.width, act);
  emit_kv_store(b, plan, {"kv_store", merge ? "v" : "k", "k_cache", lay, batch, q_len, past, merge ? "k" : ""});
}

}  // namespace

extern const KernelEntry kKvStoreKernel;
const KernelEntry kKvStoreKernel{"kv_store", "new K/V rows into the HBM KV cache",
                                 {"batch", "q_len", "past", "kv_heads", "head_dim"}, kv_store_standalone, KernelSchedule::Phased,
    {{1, 16, 0, 2, 64}, {2, 1, 37, 2, 64}}};

}  // namespace plena::compiler

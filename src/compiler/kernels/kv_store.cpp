// KV store: a step's new K/V rows from VRAM into the HBM KV cache (kernels_attention.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels_attention.hpp"
#include "support/support.hpp"

namespace plena::compiler {

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
  const KvCacheLayout lay =
      kv_cache_layout(cfg, batch, s.get("kv_heads"), s.get_or("capacity", past + groups_rows), s.get("head_dim"));
  place_kv_cache(plan, "k_cache", lay);
  VramPlaceOptions act;
  act.row_multiple = s.get_or("rows_alloc", ((batch - 1) * q_len + groups_rows + blen - 1) / blen * blen);
  plan.alloc_vram("k", batch * q_len, lay.width, act);
  emit_kv_store(b, plan, {"kv_store", "k", "k_cache", lay, batch, q_len, past});
}

}  // namespace

extern const KernelEntry kKvStoreKernel;
const KernelEntry kKvStoreKernel{"kv_store", "new K/V rows into the HBM KV cache",
                                 {"batch", "q_len", "past", "kv_heads", "head_dim"}, kv_store_standalone, KernelSchedule::Phased,
    {{1, 16, 0, 2, 64}, {2, 1, 37, 2, 64}}};

}  // namespace plena::compiler

// The counting back-end: a kernel's emitter run against ProgramBuilder::counting yields exactly the
// dynamic instruction count the simulator executes for the emitted program.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>

#include "compiler/compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "sim/sim.hpp"

using namespace plena;
using namespace plena::compiler;

namespace {

using Emit = std::function<void(ProgramBuilder&, MemoryPlan&)>;

// Emits once for real (simulated, timing-only) and once counting, each on a fresh plan; the real
// one's tensors sit elsewhere (pads placed first), which must not change the count.
void expect_exact(const config::HardwareConfig& cfg, const std::string& what, const Emit& emit) {
  MemoryPlan p1(cfg, "t"), p2(cfg, "t");
  p1.alloc_vram("pad", 3 * cfg.geometry.blen, 7 * cfg.geometry.vlen);
  p1.place_hbm("pad", TensorClass::Weight, {300, 4096}, cfg.formats.m_weight);
  ProgramBuilder real(cfg, "t");
  emit(real, p1);
  ProgramBuilder counting = ProgramBuilder::counting(cfg, "t");
  emit(counting, p2);
  sim::SimOptions so;
  so.mode = sim::Mode::TimingOnly;
  sim::Simulator s(cfg, so);
  const sim::SimResult r = s.run(real.words());
  EXPECT_EQ(counting.cost().instructions(), r.executed) << what;
  EXPECT_GT(r.executed, 0u) << what;
  EXPECT_EQ(counting.size() > 0, true) << what;
}

config::HardwareConfig small() { return config::preset("reference-small"); }

}  // namespace

TEST(KernelCost, LinearCountsEqualSimulated) {
  const auto cfg = small();
  for (auto [r, k, n, kt] : std::vector<std::array<uint64_t, 4>>{{4, 256, 256, 0}, {8, 2048, 256, 8}, {32, 512, 128, 0}})
    expect_exact(cfg, fmt::format("linear {}x{}x{} kt {}", r, k, n, kt), [&](ProgramBuilder& b, MemoryPlan& plan) {
      plan.place_hbm("w", TensorClass::Weight, {k, n}, cfg.formats.m_weight);
      VramPlaceOptions vo;
      vo.row_multiple = cfg.geometry.blen;
      plan.alloc_vram("x", r, k, vo);
      plan.alloc_vram("y", r, n, vo);
      emit_linear(b, plan, {.name = "linear", .weight = "w", .input = "x", .output = "y", .max_k_tiles = kt});
    });
}

TEST(KernelCost, RmsNormCountsEqualSimulated) {
  const auto cfg = small();
  for (auto [rows, cols] : std::vector<std::array<uint64_t, 2>>{{32, 576}, {5, 520}})
    expect_exact(cfg, fmt::format("rmsnorm {}x{}", rows, cols), [&](ProgramBuilder& b, MemoryPlan& plan) {
      plan.fp_constant("eps", 1e-5f);
      HbmPlaceOptions rowvec;
      rowvec.row_multiple = cfg.geometry.vlen;
      plan.place_hbm("w", TensorClass::Weight, {1, cols}, cfg.formats.v_act, rowvec);
      VramPlaceOptions act;
      act.row_multiple = cfg.geometry.blen;
      plan.alloc_vram("x", rows, cols, act);
      plan.alloc_vram("y", rows, cols, act);
      emit_rmsnorm(b, plan, {"rmsnorm", "x", "y", "w"});
    });
}

TEST(KernelCost, AttentionCountsEqualSimulated) {
  const auto cfg = small();
  for (auto [bt, q, kv, h, kvh, hd] :
       std::vector<std::array<uint64_t, 6>>{{1, 64, 256, 4, 2, 64}, {2, 1, 512, 8, 2, 64}, {1, 17, 40, 2, 1, 64}})
    expect_exact(cfg, fmt::format("attention b{} q{} kv{}", bt, q, kv), [&](ProgramBuilder& b, MemoryPlan& plan) {
      const KvCacheLayout lay = kv_cache_layout(cfg, bt, kvh, kv, hd);
      place_kv_cache(plan, "k_cache", lay);
      place_kv_cache(plan, "v_cache", lay);
      const uint64_t rows = attention_rows_alloc(cfg, bt, q);
      plan.alloc_vram("query", rows, h * hd);
      plan.alloc_vram("output", rows, h * hd);
      AttentionArgs a;
      a.q = "query";
      a.out = "output";
      a.k_cache = "k_cache";
      a.v_cache = "v_cache";
      a.batch = bt;
      a.q_len = q;
      a.kv_len = kv;
      a.num_heads = h;
      a.num_kv_heads = kvh;
      a.head_dim = hd;
      emit_flash_attention(b, plan, a);
    });
}

namespace {

// A row stream to VRAM row 0, `between` scalar instructions, then 201 vector adds: the first reads
// `first_src` (the streamed row or another one), the rest write other rows.
void stream_then_vectors(ProgramBuilder& b, uint64_t first_src, int between) {
  const uint64_t vlen = b.config().geometry.vlen;
  auto row = b.regs().gp("streamed row");
  auto src = b.regs().gp("first source");
  auto dst = b.regs().gp("destination");
  auto scratch = b.regs().gp("scratch");
  b.load_imm(row, 0);
  b.load_imm(src, first_src);
  b.load_imm(dst, 8 * vlen);
  b.s_map_v_fp(row, gp0, 0);
  for (int i = 0; i < between; ++i) b.s_addi_int(scratch, scratch, 1);
  b.v_add_vv(dst, src, src);
  b.loop(200, [&] {
    b.add_imm(dst, dst, vlen);
    b.v_add_vv(dst, dst, dst);
  });
}

struct StreamCase {
  uint64_t stall = 0, sim_cycles = 0;
};

StreamCase run_stream_case(uint64_t first_src, int between) {
  config::HardwareConfig cfg = small();
  cfg.timing.mode = config::TimingMode::Decoupled;
  ProgramBuilder counting = ProgramBuilder::counting(cfg, "t");
  stream_then_vectors(counting, first_src, between);
  ProgramBuilder real(cfg, "t");
  stream_then_vectors(real, first_src, between);
  sim::SimOptions so;
  so.mode = sim::Mode::TimingOnly;
  sim::Simulator s(cfg, so);
  return {counting.cost().stream_stall_cycles, s.run(real.words()).timing.cycles};
}

}  // namespace

// A vector instruction touching the row an S_MAP_V_FP stream still writes waits for the stream's
// end; the front end issues on until the vector queue is full. The counter finds the row through
// the constants the code loads, and its stall is the simulator's extra time.
TEST(KernelCost, VectorReadOfAStreamedRowWaitsForTheStream) {
  const uint64_t vlen = small().geometry.vlen;
  for (int between : {0, 10, 40}) {
    const StreamCase touching = run_stream_case(0, between);  // the streamed row
    const StreamCase apart = run_stream_case(4 * vlen, between);
    EXPECT_EQ(apart.stall, 0u) << between;
    EXPECT_GT(touching.stall, 0u) << between;
    const int64_t sim_extra = int64_t(touching.sim_cycles) - int64_t(apart.sim_cycles);
    EXPECT_GT(sim_extra, 0) << between;
    EXPECT_LE(std::abs(int64_t(touching.stall) - sim_extra), 4) << between << ": counted " << touching.stall
                                                                 << ", simulated extra " << sim_extra;
  }
}

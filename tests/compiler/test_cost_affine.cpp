// Affine interpolation of decode kernel counts (compiler/cost_affine.hpp, compiler::count_kernel).
#include <gtest/gtest.h>

#include "compiler/compiler.hpp"
#include "compiler/cost_affine.hpp"
#include "config/config.hpp"

using namespace plena;
using namespace plena::compiler;

namespace {

// One emission on the capacities count_kernel counts with (VRAM and HBM lifted).
KernelCost emitted(config::HardwareConfig cfg, const char* kernel, const KernelShape& shape) {
  cfg.sram.vector_depth = std::max<uint64_t>(cfg.sram.vector_depth, (uint64_t(1) << 32) / cfg.geometry.vlen);
  cfg.hbm.size_bytes = std::max<uint64_t>(cfg.hbm.size_bytes, uint64_t(1) << 50);
  ProgramBuilder b = ProgramBuilder::counting(cfg, "count");
  MemoryPlan plan(cfg, "count");
  b.classify_hbm_with([&plan](uint64_t addr) { return plan.hbm_class_at(addr); });  // as count_kernel
  find_kernel(kernel).emit_standalone(b, plan, shape);
  KernelCost c = b.cost();
  c.kernel = kernel;
  return c;
}

KernelCost with_counts(uint64_t instructions, uint64_t rows) {
  KernelCost c;
  c.kernel = std::string("k");
  CostPhase top;
  top.name = "top";
  top.instructions = instructions;
  c.phases.push_back(top);
  CostDma dma;
  dma.rows = rows;
  dma.count = 1;
  c.dma.push_back(dma);
  c.per_opcode[3] = instructions;
  return c;
}

}  // namespace

TEST(CostAffine, InterpolatesOnlyWhereEveryCountIsAnInteger) {
  const KernelCost a = with_counts(10, 4), b = with_counts(20, 8);
  const auto mid = interpolate_cost(a, 0, b, 4, 2);
  ASSERT_TRUE(mid);
  EXPECT_TRUE(same_cost(*mid, with_counts(15, 6)));
  EXPECT_FALSE(interpolate_cost(a, 0, b, 4, 1));  // 12.5 instructions
  EXPECT_TRUE(same_cost(*interpolate_cost(a, 0, b, 4, 0), a));
  EXPECT_FALSE(interpolate_cost(b, 4, a, 0, 2));  // anchors out of order
  EXPECT_FALSE(interpolate_cost(with_counts(20, 0), 0, a, 4, 1));  // a count below zero
  KernelCost other = b;
  other.dma[0].write = true;
  EXPECT_FALSE(interpolate_cost(a, 0, other, 4, 2));  // different transfer patterns
  other = b;
  other.phases[0].name = "loop";
  EXPECT_FALSE(interpolate_cost(a, 0, other, 4, 2));
  EXPECT_FALSE(same_cost(a, b));
}

// The decode kernels' counts, interpolated within KV tiles, equal each context's own emission:
// every context over several tiles, for split and combined K|V rows.
TEST(CostAffine, DecodeCountsEqualTheirEmission) {
  for (const char* preset : {"reference-small", "tiny-fp32"}) {
    const config::HardwareConfig cfg = config::preset(preset);
    const uint64_t mlen = cfg.geometry.mlen, capacity = 3 * mlen + 5;
    for (uint64_t combined : {0, 1}) {
      if (combined && mlen < 64) continue;  // K|V of one 32-wide head need a 64-wide row
      KernelShape at, kv;
      const uint64_t kv_heads = combined ? 1 : 2;  // combined: K and V share one MLEN row
      at.set("batch", 1).set("q_len", 1).set("heads", 4).set("kv_heads", kv_heads).set("head_dim", 32);
      at.set("window", 0).set("capacity", capacity);
      kv.set("batch", 1).set("q_len", 1).set("kv_heads", kv_heads).set("head_dim", 32).set("capacity", capacity);
      if (combined) {
        at.set("kv_combined", 1);
        kv.set("kv_combined", 1);
      }
      for (uint64_t ctx = 1; ctx <= capacity - cfg.hbm.v_writeback_amount; ++ctx) {
        at.set("kv_len", ctx);
        kv.set("past", ctx - 1);
        EXPECT_TRUE(same_cost(count_kernel(cfg, "attention", at), emitted(cfg, "attention", at)))
            << preset << " " << at.text();
        EXPECT_TRUE(same_cost(count_kernel(cfg, "kv_store", kv), emitted(cfg, "kv_store", kv)))
            << preset << " " << kv.text();
      }
    }
  }
}

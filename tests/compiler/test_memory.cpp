// Memory planner: best-fit allocation, alignment, free/reuse, high-water, HBM layout per format,
// VRAM column-block layout, MRAM tiles, the FP SRAM constant table and spill decisions.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cmath>
#include <set>
#include <string>

#include "compiler/compiler.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using numerics::parse_format;

namespace {
config::HardwareConfig cfg() { return config::HardwareConfig{}; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}
}  // namespace

TEST(RangeAllocator, BestFitFreeReuseAndHighWater) {
  RangeAllocator a("VRAM", "rows", 100);
  EXPECT_EQ(a.allocate("a", 10), 0u);
  EXPECT_EQ(a.allocate("b", 30), 10u);
  EXPECT_EQ(a.allocate("c", 5), 40u);
  EXPECT_EQ(a.allocate("d", 20), 45u);
  EXPECT_EQ(a.high_water(), 65u);
  a.free("b");  // hole [10, 40) of 30
  a.free("a");  // coalesces to [0, 40)
  EXPECT_EQ(a.largest_free(), 40u);
  a.free("c");  // [0, 45)
  EXPECT_EQ(a.used(), 20u);
  EXPECT_EQ(a.peak_used(), 65u);
  // Best fit: the 45-row hole beats the 35-row tail only when the tail cannot hold it.
  EXPECT_EQ(a.allocate("e", 40), 0u);
  EXPECT_EQ(a.allocate("f", 30), 65u);  // the tail [65, 100) is the only fit
  EXPECT_EQ(a.allocate("g", 5), 40u);   // exactly the 5-row hole [40, 45)
  EXPECT_EQ(a.high_water(), 95u);
  EXPECT_FALSE(a.fits(6));
  EXPECT_TRUE(a.fits(5));
  std::string m = error_of([&] { a.allocate("big", 6); });
  EXPECT_NE(m.find("VRAM: 'big' needs 6 rows"), std::string::npos) << m;
  EXPECT_NE(m.find("capacity 100"), std::string::npos) << m;
  EXPECT_NE(m.find("largest free range 5"), std::string::npos) << m;
  EXPECT_THROW(a.allocate("e", 1), InputError);  // duplicate name
  EXPECT_THROW(a.allocate("z", 0), InputError);
  EXPECT_THROW(a.free("nope"), InputError);
}

TEST(RangeAllocator, BestFitPrefersTheSmallestHole) {
  RangeAllocator a("X", "units", 100);
  a.allocate("h1", 20);  // [0,20)
  a.allocate("p1", 1);   // [20,21)
  a.allocate("h2", 8);   // [21,29)
  a.allocate("p2", 1);   // [29,30)
  a.free("h1");
  a.free("h2");
  EXPECT_EQ(a.allocate("x", 8), 21u);  // the 8-hole, not the 20-hole or the tail
  EXPECT_EQ(a.allocate("y", 8), 0u);   // then the 20-hole (smaller than the 70 tail)
}

TEST(RangeAllocator, Alignment) {
  RangeAllocator a("HBM", "bytes", 1 << 20);
  EXPECT_EQ(a.allocate("a", 10, 64), 0u);
  EXPECT_EQ(a.allocate("b", 10, 64), 64u);
  EXPECT_EQ(a.allocate("c", 10, 4096), 4096u);
  EXPECT_EQ(a.allocate("d", 100, 3072), 3072u);  // non-power-of-two alignment, inside the gap [74, 4096)
  a.free("b");                                    // free: [10, 3072) and [3172, 4096) and the tail
  EXPECT_EQ(a.allocate("e", 20, 64), 3200u);      // best fit: the smallest range that holds it aligned
  EXPECT_EQ(a.allocate("f", 3000, 64), 64u);
  for (const auto& [n, blk] : a.blocks()) EXPECT_EQ(blk.offset % 64, 0u) << n;
}

TEST(HbmLayout, MxFp8MatchesTheReferenceSizes) {
  // plena_compiler.md §1.7: an MXFP8 activation 4x128 takes 576 bytes (ratio 1.125).
  MemoryPlan plan(cfg(), "default");
  const auto f = parse_format("plena-hw-mxfp:fp8_e4m3:b8");
  const HbmTensor& t = plan.place_hbm("act", TensorClass::Activation, {4, 128}, f);
  EXPECT_EQ(t.base, 0u);
  EXPECT_EQ(t.rows, 4u);
  EXPECT_EQ(t.cols, 128u);
  EXPECT_EQ(t.row_stride, 128u);
  EXPECT_EQ(t.elem_bytes, 512u);
  EXPECT_EQ(t.scale_offset, 512u);
  EXPECT_EQ(t.scale_bytes, 64u);
  EXPECT_EQ(t.bytes(), 576u);
  EXPECT_EQ(t.scale_reg, 512u);
  EXPECT_EQ(t.element_bits(), 8);
  EXPECT_EQ(t.block(), 8);
  // The DMA contract: element e at base + packed(e), its scale at base + packed(scale_reg) + scale_bytes(e).
  EXPECT_EQ(t.element_address(t.element_index(2, 8)), 2u * 128 + 8);
  EXPECT_EQ(t.scale_address(t.element_index(2, 8)), 512u + 2 * 16 + 1);
  const HbmTensor& w = plan.place_hbm("w", TensorClass::Weight, {128, 64}, f);
  EXPECT_EQ(w.base, 576u);  // 576 is already whole 64-byte blocks
  const HbmTensor& v = plan.place_hbm("v", TensorClass::Activation, {1, 8}, f);
  EXPECT_EQ(v.bytes(), 9u);
  EXPECT_EQ(plan.place_hbm("u", TensorClass::Activation, {1, 8}, f).base, v.base + 64);  // 9 -> one 64-byte block
  EXPECT_EQ(plan.hbm_space().high_water(), 576u + 128 * 64 * 9 / 8 + 128);
}

TEST(HbmLayout, SubByteAndPlainFormatsPadRowsToBytesAndBlocks) {
  const auto fp4 = parse_format("ocp-mx:fp4_e2m1:b32");
  HbmTensor t = hbm_layout("k", TensorClass::Kv, {3, 40}, fp4);
  EXPECT_EQ(t.row_stride, 64u);  // 40 -> whole 32-element blocks
  EXPECT_EQ(t.elem_bytes, 3u * 64 / 2);
  EXPECT_EQ(t.scale_bytes, 6u);
  EXPECT_EQ(t.element_address(t.element_index(1, 0)), 32u);
  EXPECT_EQ(t.scale_address(t.element_index(2, 0)), 96u + 4);

  const auto fp6 = parse_format("ocp-mx:fp6_e3m2:b32");
  EXPECT_EQ(hbm_row_stride(fp6, 33), 64u);
  HbmTensor t6 = hbm_layout("x", TensorClass::Activation, {2, 32}, fp6);
  EXPECT_EQ(t6.elem_bytes, 48u);  // 64 elements * 6 bits

  const auto bf16 = parse_format("bf16");
  HbmTensor tb = hbm_layout("b", TensorClass::Logits, {3, 5}, bf16);
  EXPECT_EQ(tb.row_stride, 5u);
  EXPECT_EQ(tb.elem_bytes, 30u);
  EXPECT_EQ(tb.scale_bytes, 0u);
  EXPECT_EQ(hbm_row_stride(bf16, 5, 64), 64u);  // explicit row padding

  const auto int2 = parse_format("mase-bfp:int2:b16");
  EXPECT_EQ(hbm_row_stride(int2, 1), 16u);
  HbmTensor t3 = hbm_layout("v", TensorClass::Kv, {2, 3, 16}, int2);  // rank 3: rows = 6
  EXPECT_EQ(t3.rows, 6u);
  EXPECT_EQ(t3.elem_bytes, 6u * 16 * 2 / 8);

  EXPECT_THROW(hbm_layout("e", TensorClass::Weight, {}, bf16), InputError);
  EXPECT_THROW(hbm_layout("z", TensorClass::Weight, {4, 0}, bf16), InputError);
}

TEST(HbmLayout, TileAlignmentAndCapacityErrors) {
  config::HardwareConfig c = cfg();
  c.hbm.size_bytes = 16384;
  MemoryPlan plan(c, "small");
  const auto f = parse_format("plena-hw-mxfp:fp8_e4m3:b8");
  plan.place_hbm("a", TensorClass::Activation, {1, 64}, f);
  HbmPlaceOptions tile;
  tile.tile_align = true;
  const HbmTensor& t = plan.place_hbm("w", TensorClass::Weight, {64, 64}, f, tile);
  EXPECT_EQ(t.base, 4096u);  // one 64x64 fp8 tile = 4096 bytes
  std::string m = error_of([&] { plan.place_hbm("huge", TensorClass::Weight, {128, 128}, f); });
  EXPECT_NE(m.find("HBM: 'huge' needs 18432 bytes"), std::string::npos) << m;
  plan.free_hbm("a");
  EXPECT_EQ(plan.place_hbm("b", TensorClass::Scratch, {1, 64}, f).base, 0u);  // reuse
  EXPECT_THROW(plan.hbm("a"), InputError);
}

TEST(Vram, ColumnBlockMajorLayoutAndSpill) {
  config::HardwareConfig c = cfg();
  c.sram.vector_depth = 1024;
  MemoryPlan plan(c, "v");
  VramPlaceOptions o;
  o.row_multiple = 4;
  const VramTensor& x = plan.alloc_vram("x", 10, 130, o);
  EXPECT_EQ(x.col_blocks, 3u);
  EXPECT_EQ(x.rows_alloc, 12u);
  EXPECT_EQ(x.vram_rows(), 36u);
  EXPECT_EQ(x.address(0, 0), 0u);
  EXPECT_EQ(x.address(1, 0), 64u);
  EXPECT_EQ(x.address(0, 64), 12u * 64);
  EXPECT_EQ(x.address(3, 129), 2u * 12 * 64 + 3 * 64 + 1);
  const VramTensor& y = plan.alloc_vram("y", 4, 64);
  EXPECT_EQ(y.base(), 36u * 64);

  SpillDecision fits = plan.decide_residency(100, 64 * 9);
  EXPECT_EQ(fits.where, Residency::Vram) << fits.reason;
  EXPECT_EQ(fits.rows_needed, 900u);
  SpillDecision spill = plan.decide_residency(1000, 128);
  EXPECT_EQ(spill.where, Residency::HbmStream);
  EXPECT_EQ(spill.largest_free, 1024u - 40);
  EXPECT_NE(spill.reason.find("spill"), std::string::npos);
  EXPECT_THROW(plan.alloc_vram("z", 1000, 128), InputError);
  plan.free_vram("x");
  EXPECT_EQ(plan.alloc_vram("x2", 36, 64).base_row, 0u);
}

TEST(Mram, WholeTiles) {
  MemoryPlan plan(cfg(), "default");
  EXPECT_EQ(plan.mram_space().capacity(), 64u);  // 4096 rows / MLEN 64
  const MramBlock& a = plan.alloc_mram("w", 4);
  EXPECT_EQ(a.address(), 0u);
  EXPECT_EQ(a.tile_address(3), 3u * 64 * 64);
  const MramBlock& b = plan.alloc_mram("k", 60);
  EXPECT_EQ(b.address(), 4u * 4096);
  EXPECT_THROW(plan.alloc_mram("v", 1), InputError);
  plan.free_mram("w");
  EXPECT_EQ(plan.alloc_mram("v", 2).first_tile, 0u);
}

TEST(FpConstants, OneTableWithUniqueSlotsAndTheRequestedValues) {
  MemoryPlan plan(cfg(), "default");
  model::ModelConfig m = model::model_preset("tiny");
  define_standard_constants(plan, m);
  std::set<uint64_t> slots;
  for (const auto& c : plan.fp_constants()) {
    EXPECT_TRUE(slots.insert(c.slot).second) << c.name;
    EXPECT_LT(c.slot, cfg().sram.fp_depth);
  }
  EXPECT_EQ(slots.size(), 6u);
  EXPECT_EQ(plan.fp_value("zero"), 0.0f);
  EXPECT_EQ(plan.fp_value("one"), 1.0f);
  EXPECT_EQ(plan.fp_value("neg_large"), -1.0e30f);
  EXPECT_EQ(plan.fp_value("eps"), float(m.rms_norm_eps));
  EXPECT_EQ(plan.fp_value("inv_hidden"), float(1.0 / double(m.hidden_size)));
  EXPECT_EQ(plan.fp_value("attn_scale"), float(1.0 / std::sqrt(double(m.head_dim))));
  // Defining the same constant again is idempotent; a conflicting value is an error.
  uint64_t one = plan.fp_slot("one");
  EXPECT_EQ(plan.fp_constant("one", 1.0f), one);
  EXPECT_THROW(plan.fp_constant("one", 2.0f), InputError);
  EXPECT_THROW(plan.fp_constant("inf", INFINITY), InputError);
  std::string e = error_of([&] { plan.fp_slot("gelu_1702"); });
  EXPECT_NE(e.find("no constant named 'gelu_1702'"), std::string::npos) << e;
  EXPECT_NE(e.find("attn_scale"), std::string::npos) << e;
  // Scratch never lands on a constant.
  uint64_t s = plan.alloc_fp_scratch("softmax_state", 3);
  for (const auto& c : plan.fp_constants()) EXPECT_TRUE(c.slot < s || c.slot >= s + 3);
  EXPECT_THROW(plan.free_fp_scratch("one"), InputError);
  plan.free_fp_scratch("softmax_state");

  std::vector<float> img = fp_sram_image(plan.manifest());
  ASSERT_EQ(img.size(), cfg().sram.fp_depth);
  EXPECT_EQ(img[plan.fp_slot("attn_scale")], plan.fp_value("attn_scale"));
  EXPECT_EQ(img[plan.fp_slot("neg_large")], -1.0e30f);
}

// A constant defined after a scratch range was freed must not reuse its slots: code emitted
// earlier writes them at run time, after the constant was preloaded.
TEST(FpConstants, NeverReuseFreedScratchSlots) {
  MemoryPlan plan(cfg(), "default");
  uint64_t s = plan.alloc_fp_scratch("early_scratch", 4);
  plan.free_fp_scratch("early_scratch");
  for (int i = 0; i < 6; ++i) {
    uint64_t slot = plan.fp_constant(fmt::format("c{}", i), float(i) + 0.5f);
    EXPECT_TRUE(slot < s || slot >= s + 4) << "constant c" << i << " took freed scratch slot " << slot;
  }
  // The freed scratch range is still available to later scratch.
  EXPECT_EQ(plan.alloc_fp_scratch("late_scratch", 4), s);
}

TEST(IntSram, PreloadsAndScratch) {
  MemoryPlan plan(cfg(), "default");
  uint64_t a = plan.int_preload("expert_base", {10, 20, 30});
  uint64_t b = plan.alloc_int_scratch("topk_idx", 8);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 3u);
  std::vector<uint32_t> img = int_sram_image(plan.manifest());
  EXPECT_EQ(img[1], 20u);
  EXPECT_EQ(img[3], 0u);
  EXPECT_THROW(plan.free_int_scratch("expert_base"), InputError);
  EXPECT_THROW(plan.alloc_int_scratch("huge", cfg().sram.int_depth), InputError);
}

// emit_linear, structurally: the executed M_MM / M_MM_WO / H_PREFETCH_M / V_ADD_VV stream (with
// operand VALUES, from the independent interpreter) equals the loop nest computed here from the
// ABI formulas, under hardware loops and unrolling, with and without K-split.
#include <gtest/gtest.h>

#include <map>

#include "compiler/compiler.hpp"
#include "interp.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using isa::Opcode;

namespace {

struct Case {
  uint64_t rows = 8, k = 256, n = 128, max_k_tiles = 0, m_prefetch = 64;
  LoopPolicy policy = LoopPolicy::hardware();
};

struct Result {
  std::vector<test::TraceEntry> trace;
  std::vector<test::TraceEntry> expected;
  KernelCost cost;          // the same emission on the counting back-end
  uint64_t chunk = 0, chunks = 0;  // K tiles per chunk, chunks (the test's own derivation)
  bool ahead = false;              // double-buffered
  size_t static_size = 0;
  test::Interp interp;
  std::string text;
  std::vector<uint32_t> words;
  uint64_t scale_reg = 0, stride = 0;
};

Result run_case(const Case& c) {
  config::HardwareConfig cfg;
  cfg.hbm.m_prefetch_amount = c.m_prefetch;
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen;
  MemoryPlan plan(cfg, "default");
  ProgramBuilder b(cfg, "default");
  b.set_loop_policy(c.policy);
  // Other residents so no base address is zero.
  plan.alloc_mram("resident", 2);
  plan.alloc_vram("resident", 12, 64);
  plan.place_hbm("resident", TensorClass::Weight, {64, 64}, numerics::parse_format("bf16"));
  const HbmTensor& w = plan.place_hbm("w", TensorClass::Weight, {c.k, c.n}, numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8"));
  VramPlaceOptions vo;
  vo.row_multiple = blen;
  const VramTensor& x = plan.alloc_vram("x", c.rows, c.k, vo);
  const VramTensor& y = plan.alloc_vram("y", c.rows, c.n, vo);
  const LinearArgs a{.name = "q_proj", .weight = "w", .input = "x", .output = "y", .max_k_tiles = c.max_k_tiles};
  Result r;
  {
    MemoryPlan copy = plan;
    ProgramBuilder counting = ProgramBuilder::counting(cfg, "default");
    counting.set_loop_policy(c.policy);
    emit_linear(counting, copy, a);
    r.cost = counting.cost();
  }
  // The K chunk: with two steps or more (column blocks x K chunks), two buffers of whole
  // prefetches in half the free MRAM (or max_k_tiles); else one chunk as large as the MRAM holds.
  const uint64_t k_tiles = c.k / mlen, tpp = c.m_prefetch / mlen, blocks = c.n / mlen;
  uint64_t cap = plan.mram_space().largest_free();
  if (c.max_k_tiles) cap = std::min(cap, std::max(c.max_k_tiles, tpp));
  cap = cap / tpp * tpp;
  const uint64_t half = std::min(cap, plan.mram_space().largest_free() / 2 / tpp * tpp);
  const bool ahead = half > 0 && blocks * ((k_tiles + std::min(half, k_tiles) - 1) / std::min(half, k_tiles)) > 1;
  r.chunk = std::min(ahead ? half : cap, (k_tiles + tpp - 1) / tpp * tpp);
  r.chunks = (k_tiles + std::min(r.chunk, k_tiles) - 1) / std::min(r.chunk, k_tiles);
  r.ahead = ahead;
  emit_linear(b, plan, a);
  EXPECT_FALSE(plan.mram_space().contains("q_proj.mram"));  // freed after emission
  EXPECT_EQ(b.regs().live_gp(), 0);
  EXPECT_EQ(b.regs().live_hbm(), 0);
  r.static_size = b.size();
  r.words = b.words();
  r.text = b.assembly();
  r.interp.run(r.words);
  for (const auto& e : r.interp.trace)
    if (e.op == Opcode::M_MM || e.op == Opcode::M_MM_WO || e.op == Opcode::H_PREFETCH_M || e.op == Opcode::V_ADD_VV)
      r.trace.push_back(e);

  // The expected stream, from the ABI: MRAM buffers right after the resident tiles, scratch after
  // y in VRAM. Step s = (column block, K chunk) multiplies from buffer s % 2 (double-buffered:
  // step s+1's prefetch comes first) or from the one buffer it prefetched itself.
  const uint64_t R = x.rows_alloc, chunk = r.chunk, groups = R / blen;
  const uint64_t buffer[2] = {2 * mlen * mlen, 2 * mlen * mlen + (ahead ? chunk * mlen * mlen : 0)};
  const uint64_t scratch = y.base() + y.vram_rows() * vlen;
  const uint64_t steps = blocks * r.chunks;
  auto prefetch = [&](uint64_t s) {
    const uint64_t nb = s / r.chunks, kt0 = s % r.chunks * chunk, ktc = std::min(chunk, k_tiles - kt0);
    for (uint64_t p = 0; p * tpp < ktc; ++p)
      r.expected.push_back({Opcode::H_PREFETCH_M, {buffer[s % 2] + p * c.m_prefetch * mlen,
                                                   nb * mlen + (kt0 + p * tpp) * mlen * w.row_stride, w.base, 1, 0}});
  };
  auto adds = [&](uint64_t nb, uint64_t rg) {
    for (uint64_t row = rg * blen; row < (rg + 1) * blen; ++row)
      r.expected.push_back({Opcode::V_ADD_VV, {y.address(row, nb * mlen), y.address(row, nb * mlen),
                                               scratch + row * vlen, 0}});
  };
  if (ahead) prefetch(0);
  for (uint64_t s = 0; s < steps; ++s) {
    const uint64_t nb = s / r.chunks, kt0 = s % r.chunks * chunk, ktc = std::min(chunk, k_tiles - kt0);
    if (!ahead) prefetch(s);
    else if (s + 1 < steps) prefetch(s + 1);
    for (uint64_t rg = 0; rg < groups; ++rg) {
      for (uint64_t sc = 0; sc < mlen / blen; ++sc) {
        for (uint64_t k = 0; k < ktc; ++k)
          r.expected.push_back({Opcode::M_MM, {0, buffer[s % 2] + k * mlen * mlen + sc * blen * mlen,
                                               x.block_address(kt0 + k) + rg * blen * vlen}});
        const uint64_t out =
            kt0 == 0 ? y.address(rg * blen, nb * mlen + sc * blen) : scratch + rg * blen * vlen + sc * blen;
        r.expected.push_back({Opcode::M_MM_WO, {out, 0, 0}});
      }
      if (kt0 != 0 && rg > 0) adds(nb, rg - 1);  // one row group behind the multiplies
    }
    if (kt0 != 0) adds(nb, groups - 1);
  }
  r.scale_reg = w.scale_reg;
  r.stride = w.row_stride;
  return r;
}

std::map<Opcode, uint64_t> histogram(const std::vector<test::TraceEntry>& t) {
  std::map<Opcode, uint64_t> h;
  for (const auto& e : t) ++h[e.op];
  return h;
}

void check(const Case& c, uint64_t want_chunks) {
  Result r = run_case(c);
  EXPECT_EQ(r.chunks, want_chunks);
  ASSERT_FALSE(r.expected.empty());
  EXPECT_EQ(r.trace.size(), r.expected.size());
  EXPECT_TRUE(r.trace == r.expected);
  for (size_t i = 0; i < std::min(r.trace.size(), r.expected.size()); ++i)
    if (!(r.trace[i] == r.expected[i])) {
      ADD_FAILURE() << "first difference at dynamic instruction " << i << ": " << isa::mnemonic(r.trace[i].op);
      break;
    }
  auto h = histogram(r.trace);
  // The counting back-end agrees with the executed trace, opcode by opcode and in total.
  for (Opcode op : {Opcode::M_MM, Opcode::M_MM_WO, Opcode::H_PREFETCH_M, Opcode::V_ADD_VV})
    EXPECT_EQ(h[op], r.cost.count(op)) << isa::mnemonic(op);
  EXPECT_EQ(h[Opcode::M_MM], (c.n / 4) * (c.rows / 4) * (c.k / 64));
  EXPECT_EQ(r.interp.scale, r.scale_reg);
  EXPECT_EQ(r.interp.stride, r.stride);
  // Row-granular MRAM ABI: every M_MM MRAM operand is a BLEN*MLEN multiple inside its tile.
  for (const auto& e : r.trace)
    if (e.op == Opcode::M_MM) {
      EXPECT_EQ(e.values[1] % (4 * 64), 0u);
    }
  isa::Program p = isa::assemble(r.text, "linear.asm");
  EXPECT_EQ(p.words, r.words);
}

}  // namespace

TEST(Linear, SingleChunkHardwareLoops) { check({}, 1); }
TEST(Linear, SingleChunkUnrolled) { check({.policy = LoopPolicy::unroll()}, 1); }
TEST(Linear, KSplitHardwareLoops) { check({.rows = 12, .k = 256, .n = 192, .max_k_tiles = 3}, 2); }
TEST(Linear, KSplitAuto) { check({.rows = 8, .k = 320, .n = 128, .max_k_tiles = 2, .policy = LoopPolicy::automatic(3)}, 3); }
TEST(Linear, MultiTilePrefetch) { check({.rows = 4, .k = 192, .n = 64, .m_prefetch = 128}, 1); }

TEST(Linear, HardwareAndUnrolledTracesAgree) {
  Case hw{.rows = 8, .k = 256, .n = 128, .max_k_tiles = 3};
  Case un = hw;
  un.policy = LoopPolicy::unroll();
  Result a = run_case(hw), b = run_case(un);
  EXPECT_TRUE(a.trace == b.trace);
  EXPECT_LT(a.static_size * 5, b.static_size);
}

TEST(Linear, StaticSizeWithHardwareLoopsDoesNotGrowWithRowsOrN) {
  // Three column blocks or more: the block loop (all but the peeled last block) is a real loop.
  Result small = run_case({.rows = 8, .k = 256, .n = 192});
  Result big = run_case({.rows = 32, .k = 256, .n = 768});
  EXPECT_EQ(small.static_size, big.static_size);
  EXPECT_EQ(big.cost.count(Opcode::M_MM), 16 * small.cost.count(Opcode::M_MM));
  EXPECT_GT(big.trace.size(), small.trace.size() * 10);
}

TEST(Linear, ShapeErrorsNameTheKernel) {
  config::HardwareConfig cfg;
  MemoryPlan plan(cfg, "default");
  ProgramBuilder b(cfg, "default");
  plan.place_hbm("w", TensorClass::Weight, {128, 64}, numerics::parse_format("bf16"));
  plan.alloc_vram("x", 4, 100);
  plan.alloc_vram("y", 4, 64);
  LinearArgs a{.name = "o_proj", .weight = "w", .input = "x", .output = "y"};
  try {
    emit_linear(b, plan, a);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("kernel 'o_proj': K = 100"), std::string::npos) << e.what();
  }
  plan.free_vram("x");
  plan.alloc_vram("x", 4, 192);
  EXPECT_THROW(emit_linear(b, plan, a), InputError);  // weight [128, 64] vs K = 192
}

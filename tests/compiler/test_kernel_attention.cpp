// FlashAttention kernel through the simulator: against the host fp32 truth (model::attention)
// and bit-exactly against the staged golden (kernel_harness_attention.hpp).
#include <cstdlib>

#include "kernel_harness_attention.hpp"

using namespace plena;
using namespace plena::attn_test;

namespace {

config::HardwareConfig tiny_fp32() { return config::preset("tiny-fp32"); }

// bf16 SRAMs + MXFP8 KV cache at the reference geometry (MLEN 64, BLEN 4, HLEN 16).
config::HardwareConfig ref_bf16() {
  return config::parse_config_toml(
      "base = \"reference-small\"\n[sram]\nvector_depth = 16384\nmatrix_depth = 1024\n[hbm]\nsize_bytes = 67108864\n",
      "ref-bf16");
}

// PLENA_VERBOSE=1 prints the error metrics of every case.
void report(const Case& c, const Result& r, const Metrics& h) {
  const char* e = std::getenv("PLENA_VERBOSE");
  if (!e || std::string(e) != "1") return;
  fmt::print("{:<36} max_abs {:.3e} mean_abs {:.3e} cos {:.9f} |ref| {:.3f} executed {}\n", c.label(), h.max_abs,
             h.mean_abs, h.cosine, h.ref_max, r.executed);
}

// The executed instructions equal the counting back-end's, opcode by opcode.
void check_counts(const Result& r) {
  using isa::Opcode;
  auto n = [&](Opcode op) { return r.ops.count(op) ? r.ops.at(op) : 0; };
  for (Opcode op : {Opcode::M_TMM, Opcode::M_MM, Opcode::M_MM_WO, Opcode::H_PREFETCH_M, Opcode::V_RED_MAX, Opcode::V_ADD_VV})
    EXPECT_EQ(n(op), r.cost.count(op)) << isa::mnemonic(op);
  EXPECT_EQ(r.executed, r.cost.instructions());
}

// fp32 configs: near-exact vs the host truth, bit-exact vs the golden, non-trivial output.
void check_fp32(const config::HardwareConfig& cfg, const Case& c) {
  SCOPED_TRACE(c.label());
  Result r = run_case(cfg, c);
  Metrics h = compare(r.out, r.host);
  report(c, r, h);
  EXPECT_LE(h.max_abs, 2e-6 * std::max(1.0, h.ref_max)) << "mean " << h.mean_abs << " cos " << h.cosine;
  EXPECT_GT(h.cosine, 0.999999);
  EXPECT_GT(h.ref_max, 1e-3);                      // not a trivial reference
  EXPECT_NEAR(h.energy_ratio, 1.0, 1e-4);          // output energy matches
  EXPECT_TRUE(bits_equal(r.out, r.golden));
  check_counts(r);
}

void check_bf16(const config::HardwareConfig& cfg, const Case& c) {
  SCOPED_TRACE(c.label());
  Result r = run_case(cfg, c);
  Metrics h = compare(r.out, r.host);
  report(c, r, h);
  EXPECT_GT(h.cosine, 0.999) << "max " << h.max_abs << " mean " << h.mean_abs;
  EXPECT_LE(h.max_abs, 0.05);
  EXPECT_NEAR(h.energy_ratio, 1.0, 0.02);
  EXPECT_GT(h.ref_max, 1e-3);
  EXPECT_TRUE(bits_equal(r.out, r.golden));
}

uint64_t ceil_div_u(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

bool large_tests() {
  const char* e = std::getenv("PLENA_LARGE_TESTS");
  return e && std::string(e) == "1";
}

}  // namespace

TEST(KernelAttention, SingleTileNonCausal) {
  check_fp32(tiny_fp32(), {.q_len = 4, .kv_len = 16, .heads = 1, .kv_heads = 1, .head_dim = 16, .causal = false});
}

TEST(KernelAttention, SingleTileCausal) {
  check_fp32(tiny_fp32(), {.q_len = 16, .kv_len = 16, .heads = 1, .kv_heads = 1, .head_dim = 16, .causal = true});
}

TEST(KernelAttention, MultiTileOnlineSoftmax) {
  check_fp32(tiny_fp32(), {.q_len = 3, .kv_len = 70, .heads = 1, .kv_heads = 1, .head_dim = 16, .causal = false});
  check_fp32(tiny_fp32(), {.q_len = 70, .kv_len = 70, .heads = 2, .kv_heads = 1, .head_dim = 16, .causal = true});
}

TEST(KernelAttention, GqaMqaHeadMapping) {
  for (uint64_t kvh : {4, 2, 1})
    check_fp32(tiny_fp32(), {.q_len = 5, .kv_len = 37, .heads = 4, .kv_heads = kvh, .head_dim = 16, .seed = 7});
}

TEST(KernelAttention, HeadDimWiderThanMlen) {
  check_fp32(tiny_fp32(), {.q_len = 6, .kv_len = 40, .heads = 2, .kv_heads = 1, .head_dim = 32, .seed = 3});
  check_fp32(tiny_fp32(), {.q_len = 2, .kv_len = 20, .heads = 2, .kv_heads = 2, .head_dim = 64, .causal = false});
}

TEST(KernelAttention, HeadsSharingAVlenBlock) {
  // MLEN 64: head_dim 16/32 heads sit at column offsets inside one VLEN block.
  check_fp32(fp32_mlen64(), {.q_len = 16, .kv_len = 70, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 11});
  check_fp32(fp32_mlen64(), {.q_len = 3, .kv_len = 130, .heads = 4, .kv_heads = 1, .head_dim = 32, .causal = false});
}

TEST(KernelAttention, DecodeWithKvCache) {
  // q_len 1 at position L-1 sees all L keys; batch 2 with its own cache rows.
  check_fp32(tiny_fp32(), {.batch = 2, .q_len = 1, .kv_len = 70, .heads = 4, .kv_heads = 2, .head_dim = 16});
  check_fp32(fp32_mlen64(), {.batch = 2, .q_len = 1, .kv_len = 130, .heads = 4, .kv_heads = 1, .head_dim = 16});
}

TEST(KernelAttention, PrefillWithPastAndBatch) {
  check_fp32(tiny_fp32(), {.batch = 2, .q_len = 3, .kv_len = 33, .heads = 4, .kv_heads = 2, .head_dim = 16});
  check_fp32(fp32_mlen64(), {.batch = 2, .q_len = 5, .kv_len = 70, .heads = 4, .kv_heads = 4, .head_dim = 16});
}

TEST(KernelAttention, MultiTilePrefetch) {
  // m_prefetch_amount = 2 * MLEN: one H_PREFETCH_M fills two consecutive KV tiles.
  const auto cfg = config::parse_config_toml("base = \"tiny-fp32\"\n[hbm]\nm_prefetch_amount = 32\n", "tpp2");
  check_fp32(cfg, {.batch = 2, .q_len = 3, .kv_len = 90, .heads = 4, .kv_heads = 2, .head_dim = 16});
  check_fp32(cfg, {.q_len = 1, .kv_len = 130, .heads = 2, .kv_heads = 1, .head_dim = 32});
  check_fp32(cfg, {.q_len = 40, .kv_len = 70, .heads = 2, .kv_heads = 2, .head_dim = 16, .causal = false});
  // MLEN 64, head_dim 16: the identity tile fills both prefetched MRAM tiles of K.
  const auto cfg64 = config::parse_config_toml(
      "base = \"tiny-fp32\"\n[geometry]\nmlen = 64\nvlen = 64\nblen = 4\nhlen = 16\nbroadcast_amount = 4\n"
      "[hbm]\nm_prefetch_amount = 128\n",
      "fp32-mlen64-tpp2");
  check_fp32(cfg64, {.batch = 2, .q_len = 9, .kv_len = 200, .heads = 8, .kv_heads = 2, .head_dim = 16, .window = 100});
  check_fp32(cfg64, {.q_len = 1, .kv_len = 300, .heads = 4, .kv_heads = 4, .head_dim = 32});
}

TEST(KernelAttention, QueryChunks) {
  // Query rows in chunks of 8 (each streams the KV range again): same numbers as one chunk.
  Case c{.batch = 2, .q_len = 21, .kv_len = 40, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 9};
  Result one = run_case(tiny_fp32(), c);
  c.max_q_chunk = 8;
  check_fp32(tiny_fp32(), c);
  Result chunked = run_case(tiny_fp32(), c);
  EXPECT_TRUE(bits_equal(one.out, chunked.out));
  EXPECT_EQ(chunked.schedule.q_chunks, 3u);
  c.causal = false;
  check_fp32(tiny_fp32(), c);
}

TEST(KernelAttention, Bf16StagedGoldenBitExact) {
  check_bf16(ref_bf16(), {.q_len = 16, .kv_len = 130, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 5});
  check_bf16(ref_bf16(), {.batch = 2, .q_len = 1, .kv_len = 70, .heads = 4, .kv_heads = 1, .head_dim = 64});
}

// Sliding window (Mistral): query at position p sees keys (p - W, p]. Windows smaller than, equal
// to and larger than MLEN, prefill with and without a past, decode, batches, several geometries.
TEST(KernelAttention, SlidingWindow) {
  const auto cfg = tiny_fp32();  // MLEN 16
  for (uint64_t w : {1, 5, 16, 37})
    check_fp32(cfg, {.q_len = 40, .kv_len = 40, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 21, .window = w});
  check_fp32(cfg, {.batch = 2, .q_len = 10, .kv_len = 45, .heads = 4, .kv_heads = 1, .head_dim = 16, .window = 16});
  check_fp32(cfg, {.batch = 2, .q_len = 7, .kv_len = 70, .heads = 2, .kv_heads = 2, .head_dim = 32, .window = 23});
  for (uint64_t w : {3, 16, 20, 100})  // decode; a window wider than the context changes nothing
    check_fp32(cfg, {.batch = 2, .q_len = 1, .kv_len = 70, .heads = 4, .kv_heads = 2, .head_dim = 16, .window = w});
  // MLEN 64, heads sharing a VLEN block.
  check_fp32(fp32_mlen64(), {.q_len = 16, .kv_len = 130, .heads = 4, .kv_heads = 2, .head_dim = 16, .window = 10});
  check_fp32(fp32_mlen64(), {.batch = 2, .q_len = 70, .kv_len = 70, .heads = 4, .kv_heads = 1, .head_dim = 32,
                             .window = 64});
  check_fp32(fp32_mlen64(), {.q_len = 1, .kv_len = 200, .heads = 4, .kv_heads = 2, .head_dim = 16, .window = 90});
  // Two tiles per prefetch: skipping starts at a whole-prefetch boundary.
  const auto tpp2 = config::parse_config_toml("base = \"tiny-fp32\"\n[hbm]\nm_prefetch_amount = 32\n", "tpp2");
  check_fp32(tpp2, {.batch = 2, .q_len = 9, .kv_len = 90, .heads = 4, .kv_heads = 2, .head_dim = 16, .window = 21});
  check_fp32(tpp2, {.q_len = 1, .kv_len = 130, .heads = 2, .kv_heads = 1, .head_dim = 32, .window = 40});
  // bf16 + MXFP8 KV.
  check_bf16(ref_bf16(), {.q_len = 16, .kv_len = 130, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 5, .window = 70});
}

// Chunks whose rows start at different tiles initialise O, m and l explicitly: same bits as one chunk.
TEST(KernelAttention, SlidingWindowQueryChunks) {
  Case c{.batch = 2, .q_len = 37, .kv_len = 50, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 4, .window = 9};
  Result one = run_case(tiny_fp32(), c);
  c.max_q_chunk = 8;
  check_fp32(tiny_fp32(), c);
  Result chunked = run_case(tiny_fp32(), c);
  EXPECT_TRUE(bits_equal(one.out, chunked.out));
  EXPECT_EQ(chunked.schedule.q_chunks, 5u);
}

// A window makes long contexts cost window-sized work: the tiles below it are neither fetched
// nor computed, and the decode program size does not grow with the context.
TEST(KernelAttention, SlidingWindowSkipsTiles) {
  Case full{.q_len = 1, .kv_len = 262, .heads = 4, .kv_heads = 2, .head_dim = 16};
  Case win = full;
  win.window = 20;
  Result rf = run_case(tiny_fp32(), full), rw = run_case(tiny_fp32(), win);
  EXPECT_TRUE(bits_equal(rw.out, rw.golden));
  // 2 kv heads (one column block each at head_dim = MLEN), K and V.
  EXPECT_EQ(rf.cost.count(isa::Opcode::H_PREFETCH_M), 2u * 17 * 2);
  EXPECT_EQ(rw.cost.count(isa::Opcode::H_PREFETCH_M), 2u * 2 * 2);  // positions 242..261: tiles 15 and 16
  EXPECT_LT(rw.executed * 3, rf.executed);
  Case win_short = win;
  win_short.kv_len = 70;  // same offsets inside the tiles as 262 (mod 16)
  Result rs = run_case(tiny_fp32(), win_short);
  EXPECT_EQ(rs.cost.static_instructions, rw.cost.static_instructions);
  EXPECT_EQ(rs.cost.count(isa::Opcode::H_PREFETCH_M), rw.cost.count(isa::Opcode::H_PREFETCH_M));
}

// Each KV tile is read once per (sequence, column block, head pass): every query head whose kv
// head lies in the block shares it (MLEN 64, head_dim 16: 4 kv heads per block).
TEST(KernelAttention, KvTilesSharedByAllHeadsOfABlock) {
  const Case dec{.batch = 2, .q_len = 1, .kv_len = 130, .heads = 8, .kv_heads = 2, .head_dim = 16, .seed = 12};
  Result r = run_case(fp32_mlen64(), dec);
  check_fp32(fp32_mlen64(), dec);
  EXPECT_EQ(r.schedule.heads_per_pass, 8u);
  EXPECT_EQ(r.cost.transfers(isa::Opcode::H_PREFETCH_M, 0), 2u);                        // one Q copy per sequence
  EXPECT_EQ(r.cost.count(isa::Opcode::H_PREFETCH_M), 2u * 3 * 2 + r.cost.transfers(isa::Opcode::H_PREFETCH_M, 0));  // 3 tiles, K and V
  // 8 kv heads of 16 span two column blocks: two streams per sequence.
  const Case mha{.q_len = 5, .kv_len = 70, .heads = 8, .kv_heads = 8, .head_dim = 16, .seed = 13};
  Result m = run_case(fp32_mlen64(), mha);
  check_fp32(fp32_mlen64(), mha);
  EXPECT_EQ(m.cost.count(isa::Opcode::H_PREFETCH_M), 2u * 2 * 2 + m.cost.transfers(isa::Opcode::H_PREFETCH_M, 0));
  // A small FP SRAM splits the heads of a block into passes (each streams the tiles again). Two
  // tiles per prefetch: a two-tile range is resident but is no single tile (no row sums).
  Case split = dec;
  split.batch = 1;
  split.q_len = 16;
  split.kv_len = 100;
  const auto small_fp = config::parse_config_toml(
      "base = \"tiny-fp32\"\n[geometry]\nmlen = 64\nvlen = 64\nblen = 4\nhlen = 16\nbroadcast_amount = 4\n"
      "[hbm]\nm_prefetch_amount = 128\n[sram]\nfp_depth = 96\n[timing]\nlatency_profile = \"analytic\"\n",
      "fp32-mlen64-smallfp");
  check_fp32(small_fp, split);
  Result sp = run_case(small_fp, split);
  EXPECT_LT(sp.schedule.heads_per_pass, 8u);
  EXPECT_EQ(sp.schedule.kv_passes, ceil_div_u(8, sp.schedule.heads_per_pass) * sp.schedule.q_chunks);
  // The KV range (one tile) stays in MRAM across the passes: per chunk the identity and K (the
  // identity replaced K), and V once.
  EXPECT_EQ(sp.cost.transfers(isa::Opcode::H_PREFETCH_M, 0), sp.schedule.q_chunks);
  EXPECT_EQ(sp.cost.count(isa::Opcode::H_PREFETCH_M), 2 * sp.schedule.q_chunks + 1);
  // One tile: row sums, every head in one pass whatever the FP SRAM; K after each chunk's
  // identity, V and the ones tile (its own MRAM block) once.
  Case one = split;
  one.kv_len = 16;
  check_fp32(small_fp, one);
  Result rs = run_case(small_fp, one);
  EXPECT_TRUE(rs.schedule.row_sums);
  EXPECT_EQ(rs.schedule.heads_per_pass, 8u);
  EXPECT_EQ(rs.cost.count(isa::Opcode::H_PREFETCH_M), 2 * rs.schedule.q_chunks + 2);
  // Four tiles do not fit one prefetch: every pass of every chunk streams them.
  split.kv_len = 130 + 64;
  check_fp32(small_fp, split);
  Result st = run_case(small_fp, split);
  EXPECT_EQ(st.cost.count(isa::Opcode::H_PREFETCH_M),
            st.schedule.q_chunks + st.schedule.kv_passes * 2 * 2);  // 4 tiles: two prefetches of K and of V
}

// A KV range longer than one prefetch with a small FP SRAM: the running max and sum move to VRAM
// rows, every head of a block shares one pass and the range is streamed once per chunk; same
// bits as the golden (fp32 and bf16), with and without a window, with query chunks.
TEST(KernelAttention, RunningStatisticsInVram) {
  const char* small_fp =
      "base = \"tiny-fp32\"\n[geometry]\nmlen = 64\nvlen = 64\nblen = 4\nhlen = 16\nbroadcast_amount = 4\n"
      "[hbm]\nm_prefetch_amount = 64\n[sram]\nfp_depth = 96\n";
  const auto cfg = config::parse_config_toml(small_fp, "fp32-mlen64-smallfp");
  Case c{.q_len = 40, .kv_len = 200, .heads = 8, .kv_heads = 2, .head_dim = 16, .seed = 41};
  EXPECT_FALSE(run_case(cfg, c).schedule.vram_stats);  // no VRAM budget given
  c.stats_vram = 1 << 20;                              // capped at the free VRAM
  check_fp32(cfg, c);
  Result r = run_case(cfg, c);
  EXPECT_TRUE(r.schedule.vram_stats);
  EXPECT_EQ(r.schedule.heads_per_pass, 8u);
  EXPECT_EQ(r.schedule.q_chunks, 1u);
  EXPECT_EQ(r.cost.count(isa::Opcode::H_PREFETCH_M), 1 + 4u * 2);  // identity, 4 tiles of K and V
  c.window = 50;
  check_fp32(cfg, c);
  c.max_q_chunk = 12;
  check_fp32(cfg, c);
  EXPECT_EQ(run_case(cfg, c).schedule.q_chunks, 4u);
  c.window = 0;
  c.batch = 2;
  check_fp32(cfg, c);
  // The FP format wider than the vector format: VRAM rows would round m and l, so they stay in FP SRAM.
  const auto narrow = config::parse_config_toml(std::string(small_fp) + "vector_type = \"bf16\"\n", "narrow");
  EXPECT_FALSE(run_case(narrow, {.q_len = 40, .kv_len = 200, .heads = 8, .kv_heads = 2, .head_dim = 16,
                                 .stats_vram = 1 << 20})
                   .schedule.vram_stats);
  // bf16 + MXFP8 KV with a small FP SRAM.
  const auto bf = config::parse_config_toml(
      "base = \"reference-small\"\n[sram]\nvector_depth = 16384\nmatrix_depth = 1024\nfp_depth = 96\n[hbm]\n"
      "size_bytes = 67108864\n",
      "ref-bf16-smallfp");
  const Case cb{.q_len = 24, .kv_len = 150, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 42, .window = 70,
                .stats_vram = 1 << 20};
  check_bf16(bf, cb);
  EXPECT_TRUE(run_case(bf, cb).schedule.vram_stats);
}

// Causal prefill: S column blocks that every row of a group masks are not multiplied (tiny-fp32:
// MLEN 16, BLEN 4; on the diagonal tile group g needs g + 1 of the 4 blocks), with the same bits.
TEST(KernelAttention, CausalSkipsMaskedScoreColumns) {
  const Case causal{.q_len = 16, .kv_len = 16, .heads = 2, .kv_heads = 1, .head_dim = 16, .seed = 31};
  Result rc = run_case(tiny_fp32(), causal);
  check_fp32(tiny_fp32(), causal);
  EXPECT_EQ(rc.cost.count(isa::Opcode::M_TMM), 2u * (1 + 2 + 3 + 4));
  Case full = causal;
  full.causal = false;
  EXPECT_EQ(run_case(tiny_fp32(), full).cost.count(isa::Opcode::M_TMM), 2u * 4 * 4);
  // With a past of 16 the rows sit in the second tile (row i sees i + 1 of its keys: groups need
  // 1 and 2 blocks); every row sees the first tile whole.
  const Case past{.q_len = 8, .kv_len = 24, .heads = 2, .kv_heads = 1, .head_dim = 16, .seed = 32};
  check_fp32(tiny_fp32(), past);
  EXPECT_EQ(run_case(tiny_fp32(), past).cost.count(isa::Opcode::M_TMM), 2u * (2 * 4 + 1 + 2));
}

TEST(KernelAttention, BadInputsAreInputErrors) {
  using namespace plena::compiler;
  auto cfg = tiny_fp32();
  EXPECT_THROW(kv_cache_layout(cfg, 1, 1, 16, 24), plena::InputError);  // neither divides nor is a multiple of MLEN
  EXPECT_THROW(kv_cache_layout(cfg, 1, 1, 0, 16), plena::InputError);
  ProgramBuilder b(cfg, "t");
  MemoryPlan plan(cfg, "t");
  plan.alloc_vram("q", 4, 64);
  plan.alloc_vram("o", 4, 64);
  auto kv = kv_cache_layout(cfg, 1, 2, 16, 16);
  place_kv_cache(plan, "k", kv);
  place_kv_cache(plan, "v", kv);
  AttentionArgs a{.q = "q", .out = "o", .k_cache = "k", .v_cache = "v", .identity = "", .batch = 1, .q_len = 4, .kv_len = 16,
                  .capacity = 16, .num_heads = 4, .num_kv_heads = 3, .head_dim = 16};
  EXPECT_THROW(emit_flash_attention(b, plan, a), plena::InputError);  // 4 heads over 3 kv heads
  a.num_kv_heads = 2;
  a.q_len = 8;
  EXPECT_THROW(emit_flash_attention(b, plan, a), plena::InputError);  // Q has too few rows
  a.q_len = 4;
  a.kv_len = 17;
  EXPECT_THROW(emit_flash_attention(b, plan, a), plena::InputError);  // beyond the capacity
  a.kv_len = 2;
  EXPECT_THROW(emit_flash_attention(b, plan, a), plena::InputError);  // causal needs kv_len >= q_len
  a.kv_len = 16;
  a.out = "q";
  EXPECT_THROW(emit_flash_attention(b, plan, a), plena::InputError);  // in place is not supported
  a.out = "o";
  a.causal = false;
  a.sliding_window = 4;
  EXPECT_THROW(emit_flash_attention(b, plan, a), plena::InputError);  // a window needs causal attention
  a.causal = true;
  EXPECT_NO_THROW(emit_flash_attention(b, plan, a));
  EXPECT_NO_THROW(emit_flash_attention(b, plan, a));  // everything it allocated was freed
}

// Decode and long-past prefill loop over the fully visible KV tiles: the program size does not
// grow with the KV length, and the executed work does.
TEST(KernelAttention, ProgramSizeIndependentOfKvLength) {
  for (uint64_t q_len : {1, 5}) {
    Case short_kv{.batch = 1, .q_len = q_len, .kv_len = 70, .heads = 4, .kv_heads = 2, .head_dim = 16};
    Case long_kv = short_kv;
    long_kv.kv_len = 262;  // same tail tile shape (262 = 16 * 16 + 6, 70 = 4 * 16 + 6)
    Result a = run_case(tiny_fp32(), short_kv), b = run_case(tiny_fp32(), long_kv);
    EXPECT_EQ(a.cost.static_instructions, b.cost.static_instructions) << "q_len " << q_len;
    EXPECT_GT(b.executed, 3 * a.executed);
    EXPECT_TRUE(bits_equal(b.out, b.golden));
  }
}

TEST(KernelAttention, Deterministic) {
  Case c{.batch = 2, .q_len = 3, .kv_len = 20, .heads = 4, .kv_heads = 2, .head_dim = 16};
  Result a = run_case(tiny_fp32(), c), b = run_case(tiny_fp32(), c);
  EXPECT_TRUE(bits_equal(a.out, b.out));
  EXPECT_EQ(a.executed, b.executed);
}

// Full matrix (PLENA_LARGE_TESTS=1): heads/kv_heads x head_dim x q_len x kv_len x causal x batch.
TEST(KernelAttention, LargeMatrix) {
  if (!large_tests()) GTEST_SKIP() << "set PLENA_LARGE_TESTS=1 for the full matrix";
  const std::vector<std::pair<uint64_t, uint64_t>> heads = {{4, 4}, {4, 2}, {4, 1}};
  uint32_t seed = 100;
  for (const auto& cfg_pair : {std::pair{0, tiny_fp32()}, std::pair{1, fp32_mlen64()}})
    for (auto [h, kvh] : heads)
      for (uint64_t d : {16, 32, 64})
        for (uint64_t ql : {1, 3, 16, 70})
          for (uint64_t kl : {1, 16, 70, 130})
            for (bool causal : {false, true})
              for (uint64_t batch : {1, 2}) {
                if (causal && kl < ql) continue;
                if (!causal && kl < ql && ql > 16) continue;  // keep the matrix bounded
                check_fp32(cfg_pair.second, {.batch = batch, .q_len = ql, .kv_len = kl, .heads = h,
                                             .kv_heads = kvh, .head_dim = d, .causal = causal, .seed = seed++});
              }
  for (auto [h, kvh] : heads)
    for (uint64_t d : {16, 64})
      for (uint64_t ql : {1, 16, 70})
        for (uint64_t kl : {16, 130}) {
          if (kl < ql) continue;
          check_bf16(ref_bf16(), {.batch = 2, .q_len = ql, .kv_len = kl, .heads = h, .kv_heads = kvh,
                                  .head_dim = d, .causal = true, .seed = seed++});
        }
  // Sliding windows below, at and above MLEN on both geometries.
  for (const auto& cfg : {tiny_fp32(), fp32_mlen64()})
    for (uint64_t w : {1, 7, 16, 64, 100})
      for (uint64_t ql : {1, 5, 70})
        for (uint64_t kl : {70, 130}) {
          if (kl < ql) continue;
          check_fp32(cfg, {.batch = 2, .q_len = ql, .kv_len = kl, .heads = 4, .kv_heads = 2, .head_dim = 16,
                           .seed = seed++, .window = w});
        }
}

// Combined K|V cache rows (K and V of a position in one MLEN row): the same bits as separate K and
// V tensors, one H_PREFETCH_M per tile instead of two, and the identity tile in its own buffer (a
// resident range is not fetched again after the Q copy).
TEST(KernelAttention, CombinedKvRows) {
  auto run_both = [](const config::HardwareConfig& cfg, Case c, bool fp32) {
    SCOPED_TRACE(c.label());
    ASSERT_TRUE(compiler::kv_combinable(cfg, c.kv_heads, c.head_dim));
    const Result sep = run_case(cfg, c);
    c.kv_combined = true;
    fp32 ? check_fp32(cfg, c) : check_bf16(cfg, c);
    const Result comb = run_case(cfg, c);
    EXPECT_TRUE(bits_equal(comb.out, sep.out));
    const uint64_t pf_sep = sep.ops.at(isa::Opcode::H_PREFETCH_M), pf = comb.ops.at(isa::Opcode::H_PREFETCH_M);
    EXPECT_LT(pf, pf_sep);
    EXPECT_GE(2 * pf, pf_sep - 1);  // at most the K|V tiles + one identity per chunk
  };
  run_both(fp32_mlen64(), {.q_len = 1, .kv_len = 130, .heads = 4, .kv_heads = 2, .head_dim = 16}, true);
  run_both(fp32_mlen64(), {.batch = 2, .q_len = 1, .kv_len = 200, .heads = 8, .kv_heads = 2, .head_dim = 16}, true);
  run_both(fp32_mlen64(), {.batch = 2, .q_len = 5, .kv_len = 70, .heads = 4, .kv_heads = 1, .head_dim = 32}, true);
  run_both(fp32_mlen64(), {.q_len = 40, .kv_len = 40, .heads = 4, .kv_heads = 2, .head_dim = 16, .max_q_chunk = 8},
           true);
  run_both(fp32_mlen64(), {.q_len = 9, .kv_len = 200, .heads = 8, .kv_heads = 2, .head_dim = 16, .window = 37}, true);
  run_both(fp32_mlen64(),
           {.q_len = 12, .kv_len = 260, .heads = 8, .kv_heads = 2, .head_dim = 16, .stats_vram = 4096}, true);
  run_both(ref_bf16(), {.q_len = 16, .kv_len = 130, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 5}, false);
  run_both(ref_bf16(), {.batch = 2, .q_len = 1, .kv_len = 70, .heads = 4, .kv_heads = 1, .head_dim = 16}, false);
  // A resident range: fetched once, not again after each chunk's Q copy.
  Case c{.q_len = 40, .kv_len = 40, .heads = 4, .kv_heads = 2, .head_dim = 16, .max_q_chunk = 8, .kv_combined = true};
  const Result r = run_case(fp32_mlen64(), c);
  // K|V once + one identity per chunk (+ the ones tile once with row sums).
  EXPECT_EQ(r.ops.at(isa::Opcode::H_PREFETCH_M), 1u + r.schedule.q_chunks + (r.schedule.row_sums ? 1 : 0));
}

// A one-tile prefill takes each row's softmax sum from the matrix unit (P x ones) and divides O
// once per Q block: the same bits as V_RED_SUM and S_RECI_FP per head (staged golden, fp32 and
// bf16), no V_RED_SUM executed. Not where the vector and FP formats differ (V(l) != F(l)), nor
// for decode or a range of several tiles.
TEST(KernelAttention, RowSumsOnTheMatrixUnit) {
  const auto tiny_analytic =
      config::parse_config_toml("base = \"tiny-fp32\"\n[timing]\nlatency_profile = \"analytic\"\n", "tiny-analytic");
  for (const Case& c : {Case{.q_len = 16, .kv_len = 16, .heads = 2, .kv_heads = 1, .head_dim = 8, .seed = 41},
                        Case{.q_len = 13, .kv_len = 15, .heads = 4, .kv_heads = 2, .head_dim = 8, .seed = 42},
                        Case{.batch = 2, .q_len = 10, .kv_len = 16, .heads = 4, .kv_heads = 4, .head_dim = 8,
                             .causal = false, .seed = 43},
                        Case{.q_len = 16, .kv_len = 16, .heads = 2, .kv_heads = 1, .head_dim = 8, .seed = 44, .window = 5},
                        Case{.q_len = 16, .kv_len = 16, .heads = 4, .kv_heads = 2, .head_dim = 8, .seed = 45,
                             .max_q_chunk = 4}}) {
    check_fp32(tiny_analytic, c);
    const Result r = run_case(tiny_analytic, c);
    EXPECT_TRUE(r.schedule.row_sums) << c.label();
    EXPECT_EQ(r.schedule.heads_per_pass, std::min<uint64_t>(c.heads, 16 / c.head_dim * c.heads / c.kv_heads))
        << c.label();  // every head of a unit (MLEN 16: two kv heads of 8)
    EXPECT_EQ(r.ops.count(isa::Opcode::V_RED_SUM), 0u) << c.label();
    // head_dim = HLEN, Q MLEN rows deep, one chunk: S of a Q block's heads by one M_BTMM per kv head.
    const bool broadcast = c.batch == 1 && c.max_q_chunk == 0;
    EXPECT_EQ(r.schedule.broadcast_scores, broadcast) << c.label();
    if (broadcast) {
      EXPECT_EQ(r.ops.at(isa::Opcode::M_BTMM), c.heads * c.head_dim / 16) << c.label();  // one per Q block
    }
  }
  const Case bf{.q_len = 40, .kv_len = 40, .heads = 4, .kv_heads = 2, .head_dim = 16, .seed = 46, .kv_combined = true};
  // reference-small's emulator latencies (M_MM = MLEN cycles) make V_RED_SUM cheaper: not used;
  // with the analytic profile (M_MM = BLEN) it is.
  EXPECT_FALSE(run_case(ref_bf16(), bf).schedule.row_sums);
  const auto bf_analytic = config::parse_config_toml(
      "base = \"reference-small\"\n[sram]\nvector_depth = 16384\nmatrix_depth = 1024\n[hbm]\nsize_bytes = 67108864\n"
      "[timing]\nlatency_profile = \"analytic\"\n",
      "ref-bf16-analytic");
  check_bf16(bf_analytic, bf);
  EXPECT_TRUE(run_case(bf_analytic, bf).schedule.row_sums);
  // MLEN-deep Q: a bf16 cache of 4 heads over 2 kv heads: S by M_BTMM, same bits (staged golden).
  const Case deep{.q_len = 64, .kv_len = 64, .heads = 8, .kv_heads = 2, .head_dim = 16, .seed = 48,
                  .kv_combined = true};
  check_bf16(bf_analytic, deep);
  const Result rd = run_case(bf_analytic, deep);
  EXPECT_TRUE(rd.schedule.broadcast_scores);
  EXPECT_EQ(rd.ops.count(isa::Opcode::M_TMM), 0u);
  EXPECT_EQ(rd.ops.at(isa::Opcode::M_BTMM), 2u);  // one per (Q block, kv head): 4 heads per block
  EXPECT_FALSE(run_case(bf_analytic, bf).schedule.broadcast_scores);  // Q is 40 rows, not MLEN deep
  const auto wide_fp = config::parse_config_toml(
      "base = \"tiny-fp32\"\n[sram]\nfp_type = \"bf16\"\n[timing]\nlatency_profile = \"analytic\"\n", "fp-bf16");
  const Case c{.q_len = 16, .kv_len = 16, .heads = 2, .kv_heads = 1, .head_dim = 8, .seed = 47};
  EXPECT_FALSE(run_case(wide_fp, c).schedule.row_sums);
  EXPECT_FALSE(run_case(tiny_analytic, {.q_len = 1, .kv_len = 16, .heads = 2, .kv_heads = 1, .head_dim = 8}).schedule.row_sums);
  EXPECT_FALSE(run_case(tiny_analytic, {.q_len = 8, .kv_len = 20, .heads = 2, .kv_heads = 1, .head_dim = 8}).schedule.row_sums);
  EXPECT_FALSE(run_case(tiny_fp32(), c).schedule.row_sums);  // emulator latencies: M_MM = MLEN
}

// Decode with combined K|V rows: the unit's heads are the rows of one group, so S costs one set of
// M_TMM per tile for all heads (same bits as the per-head path, checked in CombinedKvRows), and
// the KV prefetches alternate between the two MRAM buffers.
TEST(KernelAttention, DecodeHeadsAsRows) {
  for (uint64_t batch : {1, 2}) {
    Case c{.batch = batch, .q_len = 1, .kv_len = 200, .heads = 8, .kv_heads = 2, .head_dim = 16, .seed = 21};
    SCOPED_TRACE(c.label());
    const Result sep = run_case(fp32_mlen64(), c);
    c.kv_combined = true;
    check_fp32(fp32_mlen64(), c);
    const Result comb = run_case(fp32_mlen64(), c);
    EXPECT_TRUE(bits_equal(comb.out, sep.out));
    // 8 heads over one unit (4 kv heads of 16 fit a 64-wide block), two groups of BLEN = 4 head
    // rows: 4x fewer score products.
    EXPECT_EQ(comb.ops.at(isa::Opcode::M_TMM) * 4, sep.ops.at(isa::Opcode::M_TMM));
    // One identity and 4 K|V tiles per sequence.
    EXPECT_EQ(comb.ops.at(isa::Opcode::H_PREFETCH_M), batch * (1 + 4));
  }
  // A window; two tiles per prefetch (odd and even prefetch counts, with and without a window);
  // bf16 with an MXFP8 cache.
  check_fp32(fp32_mlen64(), {.q_len = 1, .kv_len = 200, .heads = 4, .kv_heads = 2, .head_dim = 16, .window = 90,
                             .kv_combined = true});
  const auto cfg64 = config::parse_config_toml(
      "base = \"tiny-fp32\"\n[geometry]\nmlen = 64\nvlen = 64\nblen = 4\nhlen = 16\nbroadcast_amount = 4\n"
      "[hbm]\nm_prefetch_amount = 128\n",
      "fp32-mlen64-tpp2");
  for (uint64_t kv_len : {100, 300, 600, 700})
    check_fp32(cfg64, {.batch = 2, .q_len = 1, .kv_len = kv_len, .heads = 8, .kv_heads = 2, .head_dim = 16,
                       .kv_combined = true});
  check_fp32(cfg64, {.q_len = 1, .kv_len = 700, .heads = 8, .kv_heads = 2, .head_dim = 16, .window = 150,
                     .kv_combined = true});
  check_bf16(ref_bf16(), {.batch = 2, .q_len = 1, .kv_len = 300, .heads = 8, .kv_heads = 2, .head_dim = 16,
                          .kv_combined = true});
}

TEST(KernelAttention, CombinedKvRowsErrors) {
  // K and V of 4 kv heads of 16 do not share one MLEN-16 row.
  EXPECT_THROW(compiler::kv_cache_layout(tiny_fp32(), 1, 4, 8, 16, true), InputError);
  EXPECT_FALSE(compiler::kv_combinable(tiny_fp32(), 4, 16));
}

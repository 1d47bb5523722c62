// Timing model tests on hand-built Effects. Expected values come from the config's latency table
// and the DRAM preset's published timings, computed here by hand, not from the model's code.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dram/dram.hpp"
#include "sim/timing.hpp"
#include "support/support.hpp"

namespace plena::sim {
namespace {

using isa::Opcode;

config::HardwareConfig make_cfg(config::TimingMode mode,
                                config::LatencyProfile profile = config::LatencyProfile::ReferenceEmulator) {
  config::HardwareConfig c = config::preset("reference-small");
  c.timing.mode = mode;
  c.timing.latency_profile = profile;
  c.latency = config::profile_latency(profile, c.geometry);
  return c;
}
constexpr auto kInOrder = config::TimingMode::InOrder;
constexpr auto kDecoupled = config::TimingMode::Decoupled;

Effects make(Opcode op) {
  Effects e;
  e.op = op;
  e.unit = isa::info(op).unit;
  e.latency = isa::info(op).latency;
  return e;
}

// M_MM: MRAM tile, BLEN VRAM rows, accumulator.
Effects mm(uint64_t mram, uint64_t vram) {
  Effects e = make(Opcode::M_MM);
  e.add_read(Space::Mram, mram, mram + 64 * 64);
  e.add_read(Space::Vram, vram, vram + 4 * 64);
  e.add_read(Space::AccM, 0, 1);
  e.add_write(Space::AccM, 0, 1);
  return e;
}
Effects vadd(uint64_t dst, uint64_t a, uint64_t b, Opcode op = Opcode::V_ADD_VV) {
  Effects e = make(op);
  e.add_read(Space::Vram, a, a + 64);
  e.add_read(Space::Vram, b, b + 64);
  e.add_write(Space::Vram, dst, dst + 64);
  return e;
}
Effects prefetch_v(uint64_t vram, uint64_t hbm, uint64_t bytes, uint64_t rows = 1) {
  Effects e = make(Opcode::H_PREFETCH_V);
  e.add_write(Space::Vram, vram, vram + rows * 64);
  e.add_hbm(HbmStream{hbm, bytes, rows, bytes, false});
  return e;
}
Effects prefetch_m(uint64_t mram, uint64_t hbm, uint64_t bytes) {
  Effects e = make(Opcode::H_PREFETCH_M);
  e.add_write(Space::Mram, mram, mram + 64 * 64);
  e.add_hbm(HbmStream{hbm, bytes, 1, bytes, false});
  return e;
}
Effects store_v(uint64_t vram, uint64_t hbm, uint64_t bytes) {
  Effects e = make(Opcode::H_STORE_V);
  e.add_read(Space::Vram, vram, vram + 64);
  e.add_hbm(HbmStream{hbm, bytes, 1, bytes, true});
  return e;
}
Effects scalar_int(Opcode op, uint64_t rd, uint64_t rs) {
  Effects e = make(op);
  e.add_read(Space::GpReg, rs, rs + 1);
  e.add_write(Space::GpReg, rd, rd + 1);
  return e;
}

struct Run {
  TimingStats stats;
  std::string json, trace;
  nlohmann::json events;  // the "X" events in program order (by args.seq)
};

Run run(const config::HardwareConfig& cfg, const std::vector<Effects>& stream, TimingOptions opts = {}) {
  opts.record_trace = true;
  TimingModel tm(cfg, opts);
  for (size_t i = 0; i < stream.size(); ++i) tm.issue(stream[i], static_cast<uint32_t>(i));
  tm.finish();
  Run r;
  r.stats = tm.stats();
  r.json = r.stats.to_json();
  std::ostringstream os;
  tm.write_perfetto(os);
  r.trace = os.str();
  r.events = nlohmann::json::array();
  const nlohmann::json parsed = nlohmann::json::parse(r.trace);
  // Events are written per unit as they finish; "seq" gives the program order.
  std::map<uint64_t, nlohmann::json> by_seq;
  for (const auto& ev : parsed["traceEvents"])
    if (ev["ph"] == "X") by_seq.emplace(ev["args"]["seq"].get<uint64_t>(), ev);
  for (auto& [seq, ev] : by_seq) r.events.push_back(std::move(ev));
  return r;
}
uint64_t start_of(const Run& r, size_t i) { return r.events.at(i)["args"]["start_cycle"].get<uint64_t>(); }
uint64_t end_of(const Run& r, size_t i) {
  return start_of(r, i) + r.events.at(i)["args"]["cycles"].get<uint64_t>();
}

// HBM2 preset timings in ns (1 cycle = 1 ns at the preset's 1 GHz clock).
struct Hbm2 {
  dram::Params p = dram::preset("hbm2");
  uint64_t ns(uint64_t ps) const { return ps / 1000; }
  // One 32 B atom moves 256 bits over 64 pins at 2 Gbps: 2 ns.
  uint64_t tBL() const { return uint64_t(p.atom_bytes) * 8 * 1000 / (uint64_t(p.bus_width_bits) * p.data_rate_mbps); }
};

// ---------------------------------------------------------------- compute latencies

TEST(Timing, LoneMatMulIsSystolicOverheadPlusMatrixMm) {
  for (auto mode : {kInOrder, kDecoupled}) {
    auto cfg = make_cfg(mode);
    ASSERT_EQ(cfg.latency.matrix_mm, 64u);  // reference emulator: MLEN
    auto r = run(cfg, {mm(0, 0)});
    EXPECT_EQ(r.stats.cycles, cfg.latency.systolic_overhead + cfg.latency.matrix_mm);
    EXPECT_EQ(r.stats.cycles, 64u);
    EXPECT_EQ(r.stats.time_ps, 64000u);
    EXPECT_EQ(r.stats.matrix.busy_cycles, 64u);
    EXPECT_EQ(r.stats.matrix.instructions, 1u);
  }
}

TEST(Timing, RtlAlignedMatMulIsSerialised3BlenPlus11) {
  for (auto mode : {kInOrder, kDecoupled}) {
    auto cfg = make_cfg(mode, config::LatencyProfile::RtlAligned);
    const uint64_t per = 3 * cfg.geometry.blen + 11;  // 23 at BLEN 4
    ASSERT_EQ(per, 23u);
    // Independent M_MMs (different tiles and rows, but one accumulator): serialised on the unit.
    auto r = run(cfg, {mm(0, 0), mm(4096, 256), mm(8192, 512)});
    EXPECT_EQ(r.stats.cycles, 3 * per);
    EXPECT_EQ(start_of(r, 1), per);
    EXPECT_EQ(start_of(r, 2), 2 * per);
  }
}

TEST(Timing, SystolicOverheadAddsToMatMulButNotMatVec) {
  auto cfg = make_cfg(kInOrder);
  cfg.latency.systolic_overhead = 7;
  Effects mv = make(Opcode::M_MV);
  mv.add_read(Space::Mram, 0, 4096);
  EXPECT_EQ(run(cfg, {mm(0, 0)}).stats.cycles, 7u + 64u);
  EXPECT_EQ(run(cfg, {mv}).stats.cycles, 64u);
  Effects bmv = make(Opcode::M_BMV);
  EXPECT_EQ(run(cfg, {bmv}).stats.cycles, 7u + 1u);
}

TEST(Timing, InOrderIsSumOfLatencies) {
  auto cfg = make_cfg(kInOrder);
  Effects exp = make(Opcode::V_EXP_V), sum = make(Opcode::V_RED_SUM), fmax = make(Opcode::V_MAX_VF);
  Effects map = make(Opcode::S_MAP_V_FP), ctl = make(Opcode::C_LOOP_START);
  // vector_exp 1 + vector_sum 8 + vector_max 4 (V_MAX_VF) + 2*VLEN + control 1
  auto r = run(cfg, {exp, sum, fmax, map, ctl});
  EXPECT_EQ(r.stats.cycles, 1u + 8u + 4u + 128u + 1u);
  EXPECT_EQ(r.stats.instructions, 5u);
}

TEST(Timing, ZeroLatencyCostsNothingAndRepeatMultiplies) {
  for (auto mode : {kInOrder, kDecoupled}) {
    auto cfg = make_cfg(mode);
    Effects skipped = make(Opcode::S_ADD_FP);
    skipped.zero_latency = true;
    Effects topk = make(Opcode::V_TOPK);
    topk.repeat = 10;
    auto r = run(cfg, {skipped, skipped, topk});
    EXPECT_EQ(r.stats.cycles, 10 * cfg.latency.vector_max);
    EXPECT_EQ(r.stats.instructions, 3u);
    EXPECT_EQ(r.stats.instr_count[static_cast<int>(Opcode::S_ADD_FP)], 2u);
    ASSERT_EQ(r.events.size(), 3u);
    EXPECT_EQ(r.events[0]["dur"].get<double>(), 0.0);
  }
}

TEST(Timing, ScalarStreamSameCyclesInBothModes) {
  std::vector<Effects> s;
  for (int i = 0; i < 100; ++i) s.push_back(scalar_int(Opcode::S_ADDI_INT, 1 + i % 8, 1 + (i + 3) % 8));
  EXPECT_EQ(run(make_cfg(kInOrder), s).stats.cycles, 100u);
  EXPECT_EQ(run(make_cfg(kDecoupled), s).stats.cycles, 100u);
}

TEST(Timing, RegisterInterlockDelaysIssue) {
  auto cfg = make_cfg(kDecoupled);
  cfg.latency.scalar_int_basic = 5;
  // gp1 <- ...; gp2 <- gp1 (waits 5); gp3 <- gp4 (independent, issues next cycle)
  auto r = run(cfg, {scalar_int(Opcode::S_ADDI_INT, 1, 0), scalar_int(Opcode::S_ADDI_INT, 2, 1),
                     scalar_int(Opcode::S_ADDI_INT, 3, 4)});
  EXPECT_EQ(start_of(r, 1), 5u);
  EXPECT_EQ(start_of(r, 2), 6u);
  EXPECT_EQ(r.stats.cycles, 11u);
  EXPECT_EQ(r.stats.issue_stall_cycles, 4u);
}

// ---------------------------------------------------------------- DRAM through the DMA engine

TEST(Timing, LonePrefetchOfOneAtomToClosedRow) {
  Hbm2 h;
  ASSERT_EQ(h.p.tCK, 1000u);
  ASSERT_EQ(h.tBL(), 2u);
  for (auto mode : {kInOrder, kDecoupled}) {
    auto cfg = make_cfg(mode);
    ASSERT_EQ(cfg.hbm.dram, "hbm2");
    // One 32 B atom: ACT, tRCD, READ, tCL, one burst. No fixed DMA overhead by default.
    auto r = run(cfg, {prefetch_v(0, 0, 32)});
    EXPECT_EQ(r.stats.cycles, h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL());
    EXPECT_EQ(r.stats.cycles, 30u);
    EXPECT_EQ(r.stats.dram_row_misses, 1u);
    EXPECT_EQ(r.stats.hbm_read_bytes, 32u);
    EXPECT_EQ(r.stats.dma.busy_cycles, 30u);
  }
}

TEST(Timing, LonePrefetchOf64BytesIsTwoBurstsInOneRow) {
  Hbm2 h;
  dram::DramModel probe(h.p);
  ASSERT_EQ(probe.locate(0).row, probe.locate(32).row);
  ASSERT_EQ(probe.locate(0).channel, probe.locate(32).channel);
  ASSERT_EQ(probe.locate(0).pseudo_channel, probe.locate(32).pseudo_channel);
  ASSERT_EQ(probe.locate(0).bank, probe.locate(32).bank);
  ASSERT_EQ(probe.locate(0).bank_group, probe.locate(32).bank_group);
  auto cfg = make_cfg(kInOrder);
  auto r = run(cfg, {prefetch_v(0, 0, 64)});
  // The second atom is a row hit in the same bank group: its READ follows the first by tCCD_L
  // (4 ns), and its burst cannot overlap the first one's.
  const uint64_t gap = std::max(h.ns(h.p.tCCD_L), h.tBL());
  EXPECT_EQ(r.stats.cycles, h.ns(h.p.tRCD) + gap + h.ns(h.p.tCL) + h.tBL());
  EXPECT_EQ(r.stats.cycles, 34u);
  EXPECT_EQ(r.stats.dram_row_hits, 1u);
  EXPECT_EQ(r.stats.dram_row_misses, 1u);
  EXPECT_EQ(r.stats.dram_requests, 1u);  // one 64 B request (two atoms)
  // The fixed DMA overhead option adds on top.
  TimingOptions o;
  o.dma_setup_cycles = 3;
  EXPECT_EQ(run(cfg, {prefetch_v(0, 0, 64)}, o).stats.cycles, 37u);
}

TEST(Timing, SequentialPrefetchesInOneRowHit) {
  Hbm2 h;
  dram::DramModel probe(h.p);
  ASSERT_EQ(probe.locate(0).row, probe.locate(32).row);
  auto cfg = make_cfg(kInOrder);
  auto r = run(cfg, {prefetch_v(0, 0, 32), prefetch_v(64, 32, 32)});
  const uint64_t first = h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL();
  // Open row: only tCL and the burst.
  EXPECT_EQ(r.stats.cycles, first + h.ns(h.p.tCL) + h.tBL());
  EXPECT_EQ(r.stats.dram_row_hits, 1u);
  EXPECT_EQ(r.stats.dram_row_misses, 1u);
  EXPECT_DOUBLE_EQ(r.stats.dram_row_hit_rate, 0.5);
  EXPECT_EQ(start_of(r, 1), first);
}

TEST(Timing, PrefetchToOtherRowOfSameBankConflicts) {
  Hbm2 h;
  dram::DramModel probe(h.p);
  const auto home = probe.locate(0);
  uint64_t other = 0;
  for (uint64_t a = h.p.row_bytes; a < (uint64_t(1) << 34); a += 32) {
    auto l = probe.locate(a);
    if (l.channel == home.channel && l.pseudo_channel == home.pseudo_channel && l.bank_group == home.bank_group &&
        l.bank == home.bank && l.row != home.row) {
      other = a;
      break;
    }
  }
  ASSERT_NE(other, 0u);
  auto cfg = make_cfg(kInOrder);
  auto r = run(cfg, {prefetch_v(0, 0, 32), prefetch_v(64, other, 32)});
  const uint64_t first = h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL();  // 30
  // PRE no earlier than tRAS after ACT(0), ACT no earlier than tRP after PRE and tRC after ACT(0).
  const uint64_t act = std::max(h.ns(h.p.tRC), std::max(first, h.ns(h.p.tRAS)) + h.ns(h.p.tRP));
  EXPECT_EQ(r.stats.cycles, act + h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL());
  EXPECT_EQ(r.stats.dram_row_conflicts, 1u);
}

TEST(Timing, StoreCountsWriteBytesAndWaitsForItsRows) {
  auto cfg = make_cfg(kDecoupled);
  cfg.latency.vector_exp = 20;
  Effects exp = make(Opcode::V_EXP_V);
  exp.add_read(Space::Vram, 1024, 1088);
  exp.add_write(Space::Vram, 0, 64);
  auto r = run(cfg, {exp, store_v(0, 4096, 64)});
  EXPECT_EQ(start_of(r, 1), 20u);  // RAW: the store reads the rows V_EXP_V produces
  EXPECT_EQ(r.stats.hbm_write_bytes, 64u);
  EXPECT_GT(r.stats.cycles, 20u);
  EXPECT_GT(r.stats.achieved_write_gbps, 0.0);
}

// ---------------------------------------------------------------- decoupled overlap and hazards

TEST(Timing, DecoupledOverlapsPrefetchWithIndependentWork) {
  Hbm2 h;
  const uint64_t pf = h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL();  // 30
  for (uint64_t n : {10u, 40u}) {
    std::vector<Effects> s;
    s.push_back(prefetch_v(0, 0, 32, 4));  // VRAM rows 0..3 from four 32 B HBM rows
    s.back().hbm[0] = HbmStream{0, 32, 1, 32, false};
    for (uint64_t i = 0; i < n; ++i) s.push_back(vadd(4096 + 64 * i, 8192, 8256));
    s.push_back(mm(0, 0));  // reads the prefetched rows: RAW
    const auto in = run(make_cfg(kInOrder), s);
    const auto de = run(make_cfg(kDecoupled), s);
    EXPECT_EQ(in.stats.cycles, pf + n * 1 + 64);
    // M_MM issues at cycle n+1 and starts when the prefetch is done.
    EXPECT_EQ(de.stats.cycles, std::max(n + 1, pf) + 64);
    EXPECT_LT(de.stats.cycles, in.stats.cycles);
    EXPECT_EQ(start_of(de, n + 1), std::max(n + 1, pf));
    EXPECT_EQ(de.stats.matrix.stall_cycles, std::max(n + 1, pf) - (n + 1));
  }
}

TEST(Timing, RawDependentCannotStartBeforeProducerFinishes) {
  auto cfg = make_cfg(kDecoupled);
  auto r = run(cfg, {prefetch_v(0, 0, 64), vadd(128, 0, 64), vadd(192, 256, 320)});
  const uint64_t pf_end = end_of(r, 0);
  EXPECT_GT(pf_end, 2u);
  EXPECT_GE(start_of(r, 1), pf_end);  // reads row 0, written by the prefetch
  EXPECT_EQ(start_of(r, 1), pf_end);
  // The unit is in order: the independent add waits behind the dependent one.
  EXPECT_EQ(start_of(r, 2), pf_end + 1);
}

TEST(Timing, WarPrefetchWaitsForReaderButOtherBufferOverlaps) {
  auto cfg = make_cfg(kDecoupled);
  Hbm2 h;
  const uint64_t pf = h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL();
  // Overwriting the tile the M_MM reads must wait for the M_MM (double buffering needs two tiles).
  auto same = run(cfg, {mm(0, 0), prefetch_m(0, 0, 32)});
  EXPECT_EQ(start_of(same, 1), 64u);
  EXPECT_EQ(same.stats.cycles, 64u + pf);
  auto other = run(cfg, {mm(0, 0), prefetch_m(4096, 0, 32)});
  EXPECT_EQ(start_of(other, 1), 1u);
  EXPECT_EQ(other.stats.cycles, 64u);
}

TEST(Timing, WawSecondWriterWaitsForFirst) {
  auto cfg = make_cfg(kDecoupled);
  Hbm2 h;
  // A prefetch writes row 0; a vector op overwriting row 0 (reading elsewhere) waits for it.
  auto r = run(cfg, {prefetch_v(0, 0, 32), vadd(0, 512, 576)});
  EXPECT_EQ(start_of(r, 1), end_of(r, 0));
  EXPECT_EQ(end_of(r, 0), h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL());
  // Disjoint rows: no wait.
  auto d = run(cfg, {prefetch_v(0, 0, 32), vadd(64, 512, 576)});
  EXPECT_EQ(start_of(d, 1), 1u);
}

TEST(Timing, DmaQueueDepthLimitsOutstandingTransfers) {
  auto cfg = make_cfg(kDecoupled);
  Hbm2 h;
  dram::DramModel probe(h.p);
  // Two reads to different channels overlap with a deep queue and serialise with depth 1.
  uint64_t far = 0;
  for (uint64_t a = 32; a < (1u << 20); a += 32)
    if (probe.locate(a).channel != probe.locate(0).channel) {
      far = a;
      break;
    }
  ASSERT_NE(far, 0u);
  std::vector<Effects> s = {prefetch_v(0, 0, 32), prefetch_v(64, far, 32)};
  const uint64_t pf = h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL();
  EXPECT_EQ(run(cfg, s).stats.cycles, 1 + pf);
  TimingOptions o;
  o.dma_queue_depth = 1;
  auto r = run(cfg, s, o);
  EXPECT_EQ(start_of(r, 1), pf);
  EXPECT_EQ(r.stats.cycles, 2 * pf);
  EXPECT_EQ(r.stats.issue_stall_cycles, pf - 1);
}

TEST(Timing, UnitQueueFullStallsIssue) {
  auto cfg = make_cfg(kDecoupled);
  TimingOptions o;
  o.unit_queue_depth = 2;
  std::vector<Effects> s;
  for (int i = 0; i < 4; ++i) s.push_back(mm(4096u * i, 0));
  s.push_back(scalar_int(Opcode::S_ADDI_INT, 1, 0));
  auto r = run(cfg, s, o);
  // M_MM k starts at 64k; with two waiting slots, M_MM 3 issues when M_MM 1 starts (64).
  EXPECT_EQ(r.events[3]["args"]["issue_cycle"].get<uint64_t>(), 64u);
  EXPECT_EQ(r.events[4]["args"]["issue_cycle"].get<uint64_t>(), 65u);
  EXPECT_EQ(r.stats.cycles, 4 * 64u);
}

TEST(Timing, ChainThroughPendingTransferInterlocksRegisterReaders) {
  auto cfg = make_cfg(kDecoupled);
  Hbm2 h;
  const uint64_t pf = h.ns(h.p.tRCD) + h.ns(h.p.tCL) + h.tBL();  // 30
  Effects sum = make(Opcode::V_RED_SUM);                         // f1 += sum(row 0): waits for the prefetch
  sum.add_read(Space::Vram, 0, 64);
  sum.add_write(Space::FpReg, 1, 2);
  Effects mul = make(Opcode::S_MUL_FP);  // reads f1: the front end stalls until V_RED_SUM is done
  mul.add_read(Space::FpReg, 1, 2);
  mul.add_write(Space::FpReg, 2, 3);
  Effects exp = make(Opcode::V_EXP_V);  // row 0 -> row 1, behind V_RED_SUM in the vector unit
  exp.add_read(Space::Vram, 0, 64);
  exp.add_write(Space::Vram, 64, 128);
  auto r = run(cfg, {prefetch_v(0, 0, 32), sum, exp, store_v(64, 1 << 20, 32), mul,
                     scalar_int(Opcode::S_ADDI_INT, 1, 1)});
  const uint64_t sum_end = pf + cfg.latency.vector_sum;  // 38
  EXPECT_EQ(start_of(r, 1), pf);
  EXPECT_EQ(end_of(r, 1), sum_end);
  EXPECT_EQ(start_of(r, 2), sum_end);  // non-pipelined vector unit, in order
  EXPECT_EQ(start_of(r, 3), sum_end + cfg.latency.vector_exp);  // the store reads what V_EXP_V writes
  EXPECT_EQ(r.events[4]["args"]["issue_cycle"].get<uint64_t>(), sum_end);
  EXPECT_EQ(r.events[5]["args"]["issue_cycle"].get<uint64_t>(), sum_end + 1);
  EXPECT_EQ(r.stats.issue_stall_cycles, sum_end - 4);
  EXPECT_EQ(r.stats.vector.stall_cycles, (pf - 1) + (sum_end - 2));
}

// ---------------------------------------------------------------- mixed streams, stats, traces

std::vector<Effects> mixed_stream(int blocks) {
  std::vector<Effects> s;
  uint64_t state = 12345;
  auto rnd = [&state](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  for (int b = 0; b < blocks; ++b) {
    const uint64_t tile = (b % 2) * 4096;
    const uint64_t hbm = 65536ull * b;
    Effects pm = make(Opcode::H_PREFETCH_M);
    pm.add_read(Space::GpReg, 1, 2);
    pm.add_read(Space::HbmReg, 0, 1);
    pm.add_write(Space::Mram, tile, tile + 4096);
    pm.add_hbm(HbmStream{hbm, 64, 64, 64, false});
    pm.add_hbm(HbmStream{hbm + 4096, 8, 64, 8, false});
    s.push_back(pm);
    s.push_back(prefetch_v(1024 * (b % 4), hbm + 8192, 64, 4));
    s.push_back(scalar_int(Opcode::S_ADDI_INT, 1, 1));
    for (int k = 0; k < 3; ++k) s.push_back(vadd(16384 + 64 * rnd(32), 16384 + 64 * rnd(32), 1024 * (b % 4)));
    s.push_back(mm(tile, 1024 * (b % 4)));
    Effects wo = make(Opcode::M_MM_WO);
    wo.add_read(Space::AccM, 0, 1);
    wo.add_write(Space::AccM, 0, 1);
    wo.add_write(Space::Vram, 32768 + 256 * (b % 8), 32768 + 256 * (b % 8) + 256);
    s.push_back(wo);
    Effects sum = make(Opcode::V_RED_SUM);
    sum.add_read(Space::Vram, 32768 + 256 * (b % 8), 32768 + 256 * (b % 8) + 64);
    sum.add_write(Space::FpReg, 1, 2);
    s.push_back(sum);
    Effects sfp = make(Opcode::S_MUL_FP);
    sfp.add_read(Space::FpReg, 1, 2);
    sfp.add_write(Space::FpReg, 2, 3);
    s.push_back(sfp);
    if (b % 3 == 2) s.push_back(store_v(32768 + 256 * (b % 8), (1ull << 30) + 64 * b, 64));
  }
  return s;
}

TEST(Timing, DeterministicStatsTraceAndDramTrace) {
  const auto s = mixed_stream(40);
  for (auto mode : {kInOrder, kDecoupled}) {
    auto cfg = make_cfg(mode);
    std::ostringstream d1, d2;
    TimingOptions o1, o2;
    o1.dram_trace = &d1;
    o2.dram_trace = &d2;
    const auto a = run(cfg, s, o1);
    const auto b = run(cfg, s, o2);
    EXPECT_EQ(a.json, b.json);
    EXPECT_EQ(a.trace, b.trace);
    EXPECT_EQ(d1.str(), d2.str());
    EXPECT_GT(a.stats.cycles, 0u);
    // The DRAM trace has one line per 32 B atom: LD for prefetches, ST for stores.
    const auto entries = dram::parse_ramulator_trace(d1.str(), "trace");
    uint64_t ld = 0, st = 0;
    for (const auto& e : entries) (e.is_write ? st : ld)++;
    EXPECT_EQ(ld * 32, a.stats.hbm_read_bytes);
    EXPECT_EQ(st * 32, a.stats.hbm_write_bytes);
  }
}

TEST(Timing, DecoupledBeatsInOrderOnMixedStreamForEveryPreset) {
  const auto s = mixed_stream(24);
  for (const auto& name : config::preset_names()) {
    for (auto profile : {config::LatencyProfile::ReferenceEmulator, config::LatencyProfile::RtlAligned,
                         config::LatencyProfile::Analytic}) {
      SCOPED_TRACE(name);
      auto base = config::preset(name);
      base.timing.latency_profile = profile;
      base.latency = config::profile_latency(profile, base.geometry);
      auto in = base, de = base;
      in.timing.mode = kInOrder;
      de.timing.mode = kDecoupled;
      const auto ri = run(in, s), rd = run(de, s);
      EXPECT_EQ(ri.stats.instructions, s.size());
      EXPECT_EQ(rd.stats.instructions, s.size());
      EXPECT_LT(rd.stats.cycles, ri.stats.cycles);
      EXPECT_EQ(ri.stats.hbm_read_bytes, rd.stats.hbm_read_bytes);
      // In order, the units never overlap: busy cycles add up to the total.
      const auto& t = ri.stats;
      EXPECT_EQ(t.matrix.busy_cycles + t.vector.busy_cycles + t.scalar_int.busy_cycles + t.scalar_fp.busy_cycles +
                    t.control.busy_cycles + t.dma.busy_cycles,
                t.cycles);
    }
  }
}

TEST(Timing, StatsJsonHasTheDocumentedKeys) {
  auto cfg = make_cfg(kDecoupled);
  const auto r = run(cfg, mixed_stream(4));
  const auto j = nlohmann::json::parse(r.json);
  for (const char* k : {"config_hash", "timing_mode", "latency_profile", "ps_per_cycle", "cycles", "time_ps",
                        "instructions", "issue_stall_cycles", "units", "instruction_mix", "hbm", "dram"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["config_hash"], config::canonical_hash(cfg));
  EXPECT_EQ(j["timing_mode"], "decoupled");
  EXPECT_EQ(j["cycles"].get<uint64_t>(), r.stats.cycles);
  EXPECT_EQ(j["time_ps"].get<uint64_t>(), r.stats.cycles * 1000);
  for (const char* u : {"matrix", "vector", "scalar_int", "scalar_fp", "dma", "control"})
    for (const char* k : {"busy_cycles", "stall_cycles", "instructions", "utilization"})
      EXPECT_TRUE(j["units"][u].contains(k)) << u << "." << k;
  EXPECT_EQ(j["instruction_mix"]["M_MM"].get<uint64_t>(), 4u);
  EXPECT_EQ(j["instruction_mix"]["H_PREFETCH_M"].get<uint64_t>(), 4u);
  EXPECT_FALSE(j["instruction_mix"].contains("M_TMM"));
  for (const char* k : {"read_bytes", "write_bytes", "achieved_read_gbps", "achieved_write_gbps"})
    EXPECT_TRUE(j["hbm"].contains(k)) << k;
  EXPECT_EQ(j["hbm"]["read_bytes"].get<uint64_t>(), 4u * (64 * 64 + 8 * 64 + 4 * 64));
  EXPECT_EQ(j["dram"]["preset"], "hbm2");
  EXPECT_GT(j["dram"]["row_hit_rate"].get<double>(), 0.0);
  EXPECT_LE(j["dram"]["row_hit_rate"].get<double>(), 1.0);
  const double gbps = double(r.stats.hbm_read_bytes) / double(r.stats.time_ps) * 1000.0;
  EXPECT_NEAR(j["hbm"]["achieved_read_gbps"].get<double>(), gbps, 1e-9);
}

TEST(Timing, PerfettoTraceParsesWithOneEventPerInstruction) {
  auto cfg = make_cfg(kDecoupled);
  const auto s = mixed_stream(6);
  const auto r = run(cfg, s);
  const auto j = nlohmann::json::parse(r.trace);
  ASSERT_TRUE(j["traceEvents"].is_array());
  EXPECT_EQ(r.events.size(), s.size());
  std::set<uint64_t> named;
  for (const auto& ev : j["traceEvents"])
    if (ev["ph"] == "M" && ev["name"] == "thread_name") named.insert(ev["tid"].get<uint64_t>());
  // Events: name, complete phase, microsecond timestamps of simulated time, a named track.
  std::map<uint64_t, double> track_end;
  for (size_t i = 0; i < r.events.size(); ++i) {
    const auto& ev = r.events[i];
    for (const char* k : {"name", "ph", "ts", "dur", "pid", "tid", "args"}) ASSERT_TRUE(ev.contains(k)) << k;
    EXPECT_EQ(ev["args"]["pc"].get<uint64_t>(), i);
    EXPECT_EQ(ev["name"].get<std::string>(), std::string(isa::mnemonic(s[i].op)));
    EXPECT_NEAR(ev["ts"].get<double>(), double(start_of(r, i)) / 1000.0, 1e-9);  // 1 cycle = 1 ns
    const uint64_t tid = ev["tid"].get<uint64_t>();
    EXPECT_TRUE(named.count(tid)) << tid;
    // Slices on one track never overlap (lanes split concurrent DMA transfers).
    EXPECT_GE(ev["ts"].get<double>() + 1e-9, track_end[tid]);
    track_end[tid] = ev["ts"].get<double>() + ev["dur"].get<double>();
  }
}

// Brute-force check of the decoupled schedule on random streams: every pair of conflicting
// instructions is ordered, units run in order, issue is one per cycle, latencies are exact.
TEST(Timing, RandomStreamsRespectEveryHazardPairwise) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto rnd = [&state](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  auto range_in = [&](uint64_t span, uint64_t max_len) {
    const uint64_t lo = rnd(span);
    return std::pair<uint64_t, uint64_t>{lo, lo + 1 + rnd(max_len)};
  };
  const Opcode compute_ops[] = {Opcode::V_ADD_VV, Opcode::V_EXP_V,  Opcode::V_RED_SUM, Opcode::M_MM,
                                Opcode::M_MM_WO,  Opcode::S_ADD_FP, Opcode::S_ADDI_INT, Opcode::S_LD_FP};
  for (int trial = 0; trial < 12; ++trial) {
    SCOPED_TRACE(trial);
    auto cfg = make_cfg(kDecoupled, trial % 2 ? config::LatencyProfile::RtlAligned
                                              : config::LatencyProfile::ReferenceEmulator);
    TimingOptions opts;
    opts.dma_queue_depth = 1 + trial % 4;
    opts.unit_queue_depth = 1 + trial % 3;
    std::vector<Effects> s;
    for (int i = 0; i < 250; ++i) {
      const uint64_t kind = rnd(10);
      Effects e;
      if (kind < 3) {
        e = make(kind == 0 ? Opcode::H_STORE_V : kind == 1 ? Opcode::H_PREFETCH_M : Opcode::H_PREFETCH_V);
        auto [lo, hi] = range_in(1024, 256);
        const Space sp = kind == 1 ? Space::Mram : Space::Vram;
        if (kind == 0) {
          e.add_read(sp, lo, hi);
        } else {
          e.add_write(sp, lo, hi);
        }
        e.add_read(Space::GpReg, rnd(16), 0);
        e.reads[e.n_reads - 1].hi = e.reads[e.n_reads - 1].lo + 1;
        e.add_hbm(HbmStream{64 * rnd(4096), 16 + 16 * rnd(8), 1 + rnd(4), 256, kind == 0});
      } else {
        e = make(compute_ops[rnd(std::size(compute_ops))]);
        for (int k = 0, n = 1 + int(rnd(3)); k < n; ++k) {
          const Space sp = std::array{Space::Vram, Space::Mram, Space::AccM, Space::FpSram}[rnd(4)];
          auto [lo, hi] = range_in(sp == Space::AccM ? 1 : 1024, sp == Space::AccM ? 1 : 128);
          e.add_read(sp, lo, hi);
        }
        for (int k = 0, n = int(rnd(3)); k < n; ++k) {
          const Space sp = std::array{Space::Vram, Space::Mram, Space::AccM, Space::FpSram}[rnd(4)];
          auto [lo, hi] = range_in(sp == Space::AccM ? 1 : 1024, sp == Space::AccM ? 1 : 128);
          e.add_write(sp, lo, hi);
        }
        const Space reg = rnd(2) ? Space::GpReg : Space::FpReg;
        const uint64_t r1 = rnd(8), r2 = rnd(8);
        e.add_read(reg, r1, r1 + 1);
        e.add_write(reg, r2, r2 + 1);
        e.zero_latency = rnd(20) == 0;
      }
      s.push_back(e);
    }
    const auto r = run(cfg, s, opts);
    ASSERT_EQ(r.events.size(), s.size());
    auto issue = [&](size_t i) { return r.events[i]["args"]["issue_cycle"].get<uint64_t>(); };
    auto overlaps = [](const Range& a, const Range& b) {
      return a.space == b.space && a.lo < b.hi && b.lo < a.hi;
    };
    auto is_reg = [](Space sp) { return sp == Space::GpReg || sp == Space::FpReg; };
    uint64_t last_issue = 0;
    bool any = false;
    uint64_t max_end = 0;
    for (size_t j = 0; j < s.size(); ++j) {
      if (s[j].zero_latency) continue;
      const auto& b = s[j];
      if (any) {
        EXPECT_GT(issue(j), last_issue) << j;
      }
      any = true;
      last_issue = issue(j);
      EXPECT_GE(start_of(r, j), issue(j)) << j;
      max_end = std::max(max_end, end_of(r, j));
      if (b.unit != isa::Unit::Dma) {
        EXPECT_EQ(end_of(r, j) - start_of(r, j), r.events[j]["args"]["cycles"].get<uint64_t>());
      }
      for (size_t i = 0; i < j; ++i) {
        if (s[i].zero_latency) continue;
        const auto& a = s[i];
        if (a.unit == b.unit) {
          EXPECT_GE(start_of(r, j), start_of(r, i)) << i << " -> " << j;
        }
        bool sram = false, reg = false;
        for (int x = 0; x < b.n_reads; ++x)
          for (int y = 0; y < a.n_writes; ++y)
            if (overlaps(b.reads[x], a.writes[y])) (is_reg(b.reads[x].space) ? reg : sram) = true;
        for (int x = 0; x < b.n_writes; ++x) {
          for (int y = 0; y < a.n_writes; ++y)
            if (overlaps(b.writes[x], a.writes[y])) (is_reg(b.writes[x].space) ? reg : sram) = true;
          for (int y = 0; y < a.n_reads; ++y)
            if (!is_reg(b.writes[x].space) && overlaps(b.writes[x], a.reads[y])) sram = true;
        }
        if (sram) {
          EXPECT_GE(start_of(r, j), end_of(r, i)) << "scoreboard hazard " << i << " -> " << j;
        }
        if (reg) {
          EXPECT_GE(issue(j), end_of(r, i)) << "register hazard " << i << " -> " << j;
        }
      }
    }
    EXPECT_EQ(r.stats.cycles, max_end);
  }
}

TEST(Timing, UnknownDramPresetIsAnInputErrorNamingTheKey) {
  auto cfg = make_cfg(kInOrder);
  cfg.hbm.dram = "hbm9";
  try {
    TimingModel tm(cfg);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hbm.dram"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hbm2"), std::string::npos) << e.what();
  }
}

TEST(Timing, NonIntegerClockPeriodRoundsToNearestPicosecond) {
  auto cfg = make_cfg(kInOrder);
  cfg.compute.clock_ghz = 1.5;  // 666.67 ps -> 667 ps
  auto r = run(cfg, {mm(0, 0)});
  EXPECT_EQ(r.stats.ps_per_cycle, 667u);
  EXPECT_EQ(r.stats.time_ps, 64u * 667u);
  // A DRAM completion at 30 ns lands on the next cycle edge: ceil(30000 / 667) = 45.
  EXPECT_EQ(run(cfg, {prefetch_v(0, 0, 32)}).stats.cycles, 45u);
}

TEST(Timing, IdealDramPresetAndOtherTechnologiesRun) {
  for (const auto& name : dram::preset_names()) {
    SCOPED_TRACE(name);
    for (auto mode : {kInOrder, kDecoupled}) {
      auto cfg = make_cfg(mode);
      cfg.hbm.dram = name;
      const auto r = run(cfg, mixed_stream(8));
      EXPECT_GT(r.stats.cycles, 0u);
      EXPECT_EQ(r.stats.dram_preset, name);
      EXPECT_GT(r.stats.dma.busy_cycles, 0u);
    }
  }
}

TEST(Timing, FinishIsABarrierAndIssueMayContinue) {
  auto cfg = make_cfg(kDecoupled);
  TimingModel tm(cfg);
  tm.issue(prefetch_v(0, 0, 32), 0);
  tm.finish();
  const uint64_t first = tm.stats().cycles;
  tm.issue(prefetch_v(64, 1 << 20, 32), 1);
  tm.finish();
  EXPECT_GT(tm.stats().cycles, first);
  EXPECT_EQ(tm.stats().instructions, 2u);
}

TEST(Timing, MalformedEffectsAreSimFaults) {
  auto cfg = make_cfg(kDecoupled);
  TimingModel tm(cfg);
  Effects bad = make(Opcode::V_ADD_VV);
  bad.add_hbm(HbmStream{0, 64, 1, 64, false});
  EXPECT_THROW(tm.issue(bad, 0), SimFault);
  Effects reg = make(Opcode::S_ADDI_INT);
  reg.add_write(Space::GpReg, 100, 101);
  EXPECT_THROW(tm.issue(reg, 1), SimFault);
}

// Each malformed field gets its own message, in both timing modes (the dispatch path only tests
// a predicate; the message is built out of line).
void expect_fault(TimingModel& tm, const Effects& e, const std::string& what) {
  try {
    tm.issue(e, 0);
    ADD_FAILURE() << "no SimFault, expected one mentioning: " << what;
  } catch (const SimFault& f) {
    EXPECT_NE(std::string(f.what()).find(what), std::string::npos) << f.what();
  }
}

TEST(Timing, MalformedEffectsNameTheField) {
  for (const auto mode : {kInOrder, kDecoupled}) {
    TimingModel tm(make_cfg(mode));
    Effects e = make(Opcode::V_ADD_VV);
    e.op = static_cast<Opcode>(200);
    expect_fault(tm, e, "opcode 200");
    for (const int unit : {6, 7, 9, 255}) {  // past the units, within and past the tables' index width
      e = make(Opcode::V_ADD_VV);
      e.unit = static_cast<isa::Unit>(unit);
      expect_fault(tm, e, "unit " + std::to_string(unit));
    }
    for (const int cls : {isa::kNumLatencyClasses, 31, 32, 200}) {
      e = make(Opcode::V_ADD_VV);
      e.latency = static_cast<isa::Latency>(cls);
      expect_fault(tm, e, "latency class " + std::to_string(cls));
    }
    e = make(Opcode::V_ADD_VV);
    e.n_reads = 7;
    expect_fault(tm, e, "range counts exceed");
    e = make(Opcode::V_ADD_VV);
    e.n_hbm = 3;
    expect_fault(tm, e, "range counts exceed");
    e = make(Opcode::H_PREFETCH_M);  // a DMA latency class on a compute unit
    e.unit = isa::Unit::Vector;
    expect_fault(tm, e, "H_PREFETCH_M: HBM streams and DMA latency classes belong to the DMA unit only");
    e = make(Opcode::V_ADD_VV);  // the DMA unit with neither streams nor a DMA class
    e.unit = isa::Unit::Dma;
    expect_fault(tm, e, "V_ADD_VV: HBM streams");
  }
}

TEST(Timing, MalformedRangesNameTheRange) {
  TimingModel tm(make_cfg(kDecoupled));
  Effects e = make(Opcode::S_ADDI_INT);
  e.add_read(static_cast<Space>(200), 0, 1);
  expect_fault(tm, e, "invalid space 200");
  for (const auto& [lo, hi] : {std::pair<uint64_t, uint64_t>{64, 65}, {5, 3}, {0, 65}}) {
    e = make(Opcode::S_ADDI_INT);
    e.add_read(Space::GpReg, lo, hi);
    expect_fault(tm, e, "register range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  }
  // The edges of the register file are fine, and so is an empty range at its end.
  e = make(Opcode::S_ADDI_INT);
  e.add_read(Space::GpReg, 63, 64);
  e.add_read(Space::FpReg, 64, 64);
  e.add_write(Space::GpReg, 0, 64);
  EXPECT_NO_THROW(tm.issue(e, 1));
}

namespace plena::sim {
namespace {

// ---------------------------------------------------------------- calibrated DRAM fidelity

// A weight stream as emit_linear issues it: whole MX tiles (element rows + scale rows, strided
// like a [K, N] tensor), one matrix op per tile, double-buffered MRAM.
std::vector<Effects> weight_stream(int tiles, uint64_t row_bytes, uint64_t rows) {
  std::vector<Effects> s;
  const uint64_t stride = 4 * row_bytes, scale_base = uint64_t(1) << 28;
  for (int t = 0; t < tiles; ++t) {
    const uint64_t buf = (t % 2) * 4096;
    Effects pm = make(Opcode::H_PREFETCH_M);
    pm.add_write(Space::Mram, buf, buf + 4096);
    pm.add_hbm(HbmStream{t * rows * stride, row_bytes, rows, stride, false});
    pm.add_hbm(HbmStream{scale_base + t * rows * stride / 8, row_bytes / 8, rows, stride / 8, false});
    s.push_back(pm);
    s.push_back(mm(buf, 0));
  }
  return s;
}

// The accuracy bound on compiled programs is in tests/runner (whole-model steps); this synthetic
// stream only checks the bookkeeping and a loose bound: its consumer waits on the first of two
// concurrent transfers, which the bank model interleaves and the calibrated FIFO pipe does not
// (docs/timing.md "DRAM fidelity" documents that limitation).
TEST(TimingCalibrated, CountsTheSameRequestsAndStaysNearBankLevel) {
  TimingOptions cal;
  cal.dram_fidelity = DramFidelity::Calibrated;
  for (auto mode : {kInOrder, kDecoupled})
    for (auto [row_bytes, rows] : std::vector<std::pair<uint64_t, uint64_t>>{{64, 64}, {2048, 16}, {512, 300}}) {
      SCOPED_TRACE(::testing::Message() << (mode == kInOrder ? "in-order" : "decoupled") << " row " << row_bytes
                                        << " x " << rows);
      const auto cfg = make_cfg(mode);
      const auto s = weight_stream(24, row_bytes, rows);
      const auto bank = run(cfg, s), fast = run(cfg, s, cal);
      EXPECT_EQ(fast.stats.dram_fidelity, "calibrated");
      EXPECT_EQ(bank.stats.dram_fidelity, "bank");
      EXPECT_EQ(fast.stats.hbm_read_bytes, bank.stats.hbm_read_bytes);
      EXPECT_EQ(fast.stats.dram_requests, bank.stats.dram_requests);  // same cutting rule, counted not submitted
      EXPECT_GE(fast.stats.dram_calibrations, 1u);
      EXPECT_EQ(fast.stats.dram_calibrations, 1u);  // one geometry
      const double err = double(fast.stats.cycles) / double(bank.stats.cycles) - 1.0;
      EXPECT_LT(std::abs(err), 0.45) << "bank " << bank.stats.cycles << " calibrated " << fast.stats.cycles;
      EXPECT_GT(bank.stats.dram_row_hits + bank.stats.dram_row_misses, 0u);
      EXPECT_EQ(fast.stats.dram_row_hits + fast.stats.dram_row_misses + fast.stats.dram_row_conflicts, 0u);
      // Deterministic.
      EXPECT_EQ(run(cfg, s, cal).json, fast.json);
    }
}

TEST(TimingCalibrated, LongerTransfersScaleLinearlyAndDramTraceNeedsBankFidelity) {
  TimingOptions cal;
  cal.dram_fidelity = DramFidelity::Calibrated;
  const auto cfg = make_cfg(kDecoupled);
  // 256 and 512 rows of one geometry: one calibration, steady-state time ~doubles.
  const auto a = run(cfg, weight_stream(8, 512, 256), cal), b = run(cfg, weight_stream(8, 512, 512), cal);
  EXPECT_EQ(a.stats.dram_calibrations, 1u);
  const double ratio = double(b.stats.cycles) / double(a.stats.cycles);
  EXPECT_GT(ratio, 1.8);
  EXPECT_LT(ratio, 2.05);
  std::ostringstream trace;
  cal.dram_trace = &trace;
  EXPECT_THROW(TimingModel(cfg, cal), InputError);
  EXPECT_EQ(parse_dram_fidelity("calibrated", "x"), DramFidelity::Calibrated);
  EXPECT_EQ(dram_fidelity_name(DramFidelity::Bank), "bank");
  EXPECT_THROW(parse_dram_fidelity("fast", "--dram-fidelity"), InputError);
}

}  // namespace
}  // namespace plena::sim

// The simulator charges every compute opcode config::latency_cycles (the one table), e.g.
// V_MAX_VF/V_MIN_VF vector_max, not vector_add.
TEST(Timing, EveryComputeOpcodeCostsLatencyCycles) {
  auto cfg = make_cfg(kInOrder);
  uint64_t v = 3;
  for (uint64_t* key : {&cfg.latency.matrix_mm, &cfg.latency.matrix_bmm, &cfg.latency.matrix_mv,
                        &cfg.latency.matrix_bmv, &cfg.latency.matrix_writeout, &cfg.latency.vector_add,
                        &cfg.latency.vector_mul, &cfg.latency.vector_exp, &cfg.latency.vector_reci,
                        &cfg.latency.vector_max, &cfg.latency.vector_sum, &cfg.latency.vector_shift,
                        &cfg.latency.vector_prefix_scan, &cfg.latency.scalar_fp_basic, &cfg.latency.scalar_fp_exp,
                        &cfg.latency.scalar_fp_sqrt, &cfg.latency.scalar_fp_reci, &cfg.latency.scalar_fp_load_store,
                        &cfg.latency.scalar_map_v_fp, &cfg.latency.scalar_int_basic, &cfg.latency.control})
    *key = v += 2;
  cfg.latency.systolic_overhead = 100;
  for (const isa::OpInfo& o : isa::all_opcodes()) {
    if (o.unit == isa::Unit::Dma) continue;
    EXPECT_EQ(run(cfg, {make(o.op)}).stats.cycles, config::latency_cycles(cfg, o.op)) << o.mnemonic;
  }
  EXPECT_EQ(run(cfg, {make(Opcode::V_MAX_VF)}).stats.cycles, cfg.latency.vector_max);
  EXPECT_EQ(run(cfg, {make(Opcode::V_MIN_VF)}).stats.cycles, cfg.latency.vector_max);
  EXPECT_NE(cfg.latency.vector_max, cfg.latency.vector_add);
}

}  // namespace
}  // namespace plena::sim

namespace plena::sim {
namespace {

// The calibrated fidelity counts a transfer's requests in closed form; the bank-level path cuts
// and submits every request (dram::for_each_request). Both must agree on any strided geometry.
TEST(Timing, CalibratedRequestCountEqualsTheBankPathsOnStridedStreams) {
  std::mt19937_64 rng(12);
  auto pick = [&](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo + 1); };
  for (int trial = 0; trial < 300; ++trial) {
    const uint64_t bytes = pick(1, 300), rows = pick(1, 40);
    const uint64_t stride = trial % 5 == 0 ? bytes : pick(0, 700);
    Effects e = make(Opcode::H_PREFETCH_V);
    e.add_write(Space::Vram, 0, 64);
    e.add_hbm(HbmStream{pick(0, 1u << 20), bytes, rows, stride, false});
    TimingOptions o;
    o.dma_request_bytes = uint32_t(1) << pick(4, 8);
    o.dram_fidelity = DramFidelity::Bank;
    TimingModel bank(make_cfg(kDecoupled), o);
    o.dram_fidelity = DramFidelity::Calibrated;
    TimingModel calib(make_cfg(kDecoupled), o);
    for (TimingModel* tm : {&bank, &calib}) {
      tm->issue(e, 0);
      tm->finish();
    }
    EXPECT_EQ(calib.stats().dram_requests, bank.stats().dram_requests)
        << "bytes " << bytes << " rows " << rows << " stride " << stride << " request " << o.dma_request_bytes;
  }
}

}  // namespace
}  // namespace plena::sim

namespace plena::sim {
namespace {

size_t count_events(const std::string& trace) {
  size_t n = 0;
  for (size_t at = trace.find("\"ph\":\"X\""); at != std::string::npos; at = trace.find("\"ph\":\"X\"", at + 1)) ++n;
  return n;
}

// A streamed trace holds back only events whose unit still has an earlier one in flight, at most
// 4096 per unit plus the queue depths: the rest is in the stream before the run ends.
TEST(Timing, StreamedTraceHoldsBoundedEventsAndEqualsTheInMemoryOne) {
  std::vector<Effects> s = {prefetch_v(0, 0, 64 * 1024, 256)};
  Effects map = make(Opcode::S_MAP_V_FP);  // waits for the prefetch: the scalar FP unit's oldest event
  map.add_read(Space::Vram, 0, 64);
  map.add_write(Space::FpSram, 0, 64);
  s.push_back(map);
  for (int i = 0; i < 20000; ++i) {
    Effects f = make(Opcode::S_ADD_FP);  // writes f0: zero latency, done at once, behind the S_MAP_V_FP
    f.zero_latency = true;
    s.push_back(f);
    s.push_back(scalar_int(Opcode::S_ADDI_INT, 1 + i % 5, 1 + (i + 1) % 5));
  }
  std::ostringstream os;
  TimingOptions o;
  o.trace = &os;
  TimingModel tm(make_cfg(kDecoupled), o);
  for (size_t i = 0; i < s.size(); ++i) tm.issue(s[i], uint32_t(i));
  EXPECT_GE(count_events(os.str()), s.size() - 4096 - 2 * 8) << "events held back before finish()";
  tm.finish();
  tm.close_trace();
  const nlohmann::json j = nlohmann::json::parse(os.str());
  std::set<uint64_t> seqs;
  bool overflow_lane = false;
  for (const auto& ev : j["traceEvents"]) {
    if (ev["ph"] == "X") {
      EXPECT_TRUE(seqs.insert(ev["args"]["seq"].get<uint64_t>()).second);
    }
    if (ev["name"] == "thread_name" && ev["args"]["name"] == "scalar_fp.63") overflow_lane = true;
  }
  EXPECT_EQ(seqs.size(), s.size());
  EXPECT_TRUE(overflow_lane);
  // Without the overflow (the in-memory trace of a short stream), streamed = in memory.
  std::vector<Effects> shorter(s.begin(), s.begin() + 2000);
  std::ostringstream streamed;
  o.trace = &streamed;
  TimingModel a(make_cfg(kDecoupled), o);
  for (size_t i = 0; i < shorter.size(); ++i) a.issue(shorter[i], uint32_t(i));
  a.finish();
  a.close_trace();
  EXPECT_EQ(streamed.str(), run(make_cfg(kDecoupled), shorter).trace);
}

TEST(Timing, TraceWindowKeepsExactlyItsInstructions) {
  std::vector<Effects> s;
  for (int i = 0; i < 40; ++i) s.push_back(i % 3 ? scalar_int(Opcode::S_ADDI_INT, 1, 2) : vadd(64 * i, 0, 64));
  const auto full = run(make_cfg(kDecoupled), s);
  TimingOptions o;
  o.trace_first = 10;
  o.trace_last = 25;
  const auto part = run(make_cfg(kDecoupled), s, o);
  ASSERT_EQ(part.events.size(), 15u);
  for (size_t i = 0; i < part.events.size(); ++i) {
    EXPECT_EQ(part.events[i]["args"], full.events[10 + i]["args"]);
    EXPECT_EQ(part.events[i]["ts"], full.events[10 + i]["ts"]);
  }
  EXPECT_EQ(part.json, full.json) << "a window changes the trace only";
}

TEST(Timing, FaultEventClosesAStreamedTrace) {
  std::ostringstream os;
  TimingOptions o;
  o.trace = &os;
  TimingModel tm(make_cfg(kInOrder), o);
  tm.issue(scalar_int(Opcode::S_ADDI_INT, 1, 2), 0);
  tm.finish();
  tm.close_trace("pc 0x0001: X: \"quoted\"");
  const nlohmann::json j = nlohmann::json::parse(os.str());
  EXPECT_EQ(j["traceEvents"].back()["name"], "FAULT");
  EXPECT_EQ(j["traceEvents"].back()["args"]["message"], "pc 0x0001: X: \"quoted\"");
  EXPECT_EQ(j["traceEvents"].back()["ts"].get<double>(), 0.001);
}

}  // namespace
}  // namespace plena::sim

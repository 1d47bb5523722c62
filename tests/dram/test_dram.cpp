// DRAM model tests. Expected times are hand arithmetic from the preset numbers restated here
// (JESD235 HBM2 2 Gbps as in the hbm2 preset), not values read back from the code.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "dram/dram.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::dram;

namespace {

// hbm2 preset, in ps.
constexpr uint64_t tRCD = 14000, tCL = 14000, tRP = 14000, tRAS = 33000, tRC = 47000;
constexpr uint64_t tBL = 2000;      // 32 B atom on a 64-bit pseudo-channel at 2 Gbps: 4 beats x 500 ps
constexpr uint64_t tCCD_L = 4000;   // same bank group
constexpr uint64_t tCWL = 4000;
constexpr uint64_t tRFC = 350000, tREFI = 3900000;

// Plain mapping so hand-made addresses land where we want: atom = 32 B, then
// Ch (3 bits) Pc (1) Co (5) Bg (2) Ba (2) Ro. Row stride = 2^(5+3+1+5+2+2) B = 256 KiB.
Params plain_hbm2() {
  Params p = preset("hbm2");
  p.mapping = "RoBaBgCoPcCh";
  return p;
}
constexpr uint64_t kRowStride = 256 * 1024;
constexpr uint64_t kColStride = 32 * 16;  // next column, same unit/bank/row

struct Lcg {
  uint64_t s;
  uint64_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 11;
  }
};

uint64_t run_one(DramModel& m, Request r) {
  const uint64_t id = m.submit(r);
  m.drain();
  return m.complete_time_ps(id);
}

}  // namespace

TEST(DramPresets, AllSelfConsistent) {
  const auto names = preset_names();
  ASSERT_EQ(names.size(), 11u);
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    Params p = preset(n);
    EXPECT_EQ(p.name, n);
    EXPECT_FALSE(p.description.empty());
    EXPECT_FALSE(p.source.empty());
    EXPECT_NO_THROW(p.validate());
    ASSERT_GT(p.published_peak_GBps, 0);
    EXPECT_NEAR(p.peak_bandwidth_GBps() / p.published_peak_GBps, 1.0, 0.01);
    if (p.kind != Kind::Dram) continue;
    // The data buses, burst by burst, carry the published peak...
    const double bus_GBps = double(p.units()) * p.atom_bytes / double(p.tBL) * 1000.0;
    EXPECT_NEAR(bus_GBps / p.published_peak_GBps, 1.0, 0.01);
    // ...and column commands can keep them busy (different bank groups).
    EXPECT_LE(p.tCCD_S, p.tBL);
    EXPECT_GE(p.tCCD_L, p.tCCD_S);
    EXPECT_GE(p.tRC, p.tRAS + p.tRP);
    EXPECT_GE(p.tRAS, p.tRCD);
    if (p.tREFI) {
      EXPECT_LT(p.tRFC * 5, p.tREFI);
    }
    EXPECT_GE(p.tFAW, p.tRRD_S);
    EXPECT_EQ(p.atom_bytes * 8 % p.bus_width_bits, 0u);
  }
  EXPECT_EQ(preset("hbm2").channels, 8u);
  EXPECT_EQ(preset("hbm2").data_rate_mbps, 2000u);
  EXPECT_DOUBLE_EQ(preset("hbm2").peak_bandwidth_GBps(), 256.0);
  EXPECT_EQ(preset("hbm2").idle_read_latency_ps(), tRCD + tCL + tBL);
  EXPECT_EQ(preset("ideal").idle_read_latency_ps(), 28000u + 250u);  // 64 B at 256 GB/s
  EXPECT_NEAR(preset("hbm2").refresh_limited_bandwidth_GBps(), 256.0 * (1 - 350.0 / 3900.0), 1e-9);
  // Flash: long page read, no refresh, slow program.
  EXPECT_GE(preset("hbf").tRCD, 1000000u);
  EXPECT_EQ(preset("hbf").tREFI, 0u);
  EXPECT_GT(preset("hbf").tWR, 10 * preset("hbf").tRCD);
}

TEST(DramPresets, UnknownAndInvalid) {
  EXPECT_THROW(preset("hbm9"), InputError);
  try {
    preset("hbm9");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hbm2e"), std::string::npos);
  }
  Params p = preset("hbm2");
  p.channels = 6;
  EXPECT_THROW(DramModel{p}, InputError);
  p = preset("hbm2");
  p.tBL = 0;
  EXPECT_THROW(DramModel{p}, InputError);
  p = preset("hbm2");
  p.mapping = "RoBaBgCoPcXx";
  EXPECT_THROW(DramModel{p}, InputError);
  p.mapping = "BaRoBgCoPcCh";
  EXPECT_THROW(DramModel{p}, InputError);
  p = preset("hbm2");
  p.write_low_watermark = p.write_high_watermark;
  EXPECT_THROW(DramModel{p}, InputError);
}

TEST(DramMapping, PlainAndXor) {
  DramModel m(plain_hbm2());
  EXPECT_EQ(m.locate(0), (Location{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(m.locate(32), (Location{1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(m.locate(kColStride), (Location{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(m.locate(kRowStride), (Location{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(m.locate(kRowStride * 5 + 32 * 8), (Location{0, 1, 0, 0, 5, 0}));

  // mop4clxor: 256 B stay in one row of one bank, then the next unit.
  DramModel x(preset("hbm2"));
  const Location l0 = x.locate(0);
  for (uint64_t a = 0; a < 256; a += 32) {
    const Location l = x.locate(a);
    EXPECT_EQ(l.channel, l0.channel);
    EXPECT_EQ(l.bank, l0.bank);
    EXPECT_EQ(l.row, l0.row);
    EXPECT_EQ(l.column, a / 32);
  }
  // Every unit is used exactly once per 16 consecutive 256 B blocks, at any offset.
  for (uint64_t base : {uint64_t{0}, uint64_t{1} << 20, uint64_t{12345} << 12}) {
    std::vector<int> seen(16, 0);
    for (uint64_t b = 0; b < 16; ++b) {
      const Location l = x.locate(base + b * 256);
      seen[l.channel * 2 + l.pseudo_channel]++;
    }
    for (int s : seen) EXPECT_EQ(s, 1);
  }
  // A power-of-two stride (one unit sweep, 4 KiB) does not pile onto one unit.
  std::vector<int> hits(16, 0);
  for (uint64_t i = 0; i < 64; ++i) {
    const Location l = x.locate(i * 4096);
    hits[l.channel * 2 + l.pseudo_channel]++;
  }
  for (int h : hits) EXPECT_LE(h, 8);
}

TEST(DramTiming, ClosedBankReadIsRcdPlusClPlusBurst) {
  DramModel m(preset("hbm2"));
  EXPECT_EQ(run_one(m, {.addr = 0, .size = 32, .is_write = false, .arrival_ps = 0}), tRCD + tCL + tBL);
  DramModel m2(preset("hbm2"));
  // A 64 B request is two atoms in the same row: the second is a hit one tCCD_L later.
  EXPECT_EQ(run_one(m2, {.addr = 0, .size = 64, .arrival_ps = 1000}), 1000 + tRCD + tCCD_L + tCL + tBL);
  const Stats s = m2.stats();
  EXPECT_EQ(s.row_misses, 1u);
  EXPECT_EQ(s.row_hits, 1u);
  EXPECT_EQ(s.read_atoms, 2u);
}

TEST(DramTiming, RowHitCostsClPlusBurst) {
  DramModel m(plain_hbm2());
  EXPECT_EQ(run_one(m, {.addr = 0, .size = 32}), tRCD + tCL + tBL);
  const uint64_t t = 100000;  // bank idle with row 0 open
  EXPECT_EQ(run_one(m, {.addr = kColStride, .size = 32, .arrival_ps = t}), t + tCL + tBL);
  EXPECT_EQ(m.stats().row_hits, 1u);
}

TEST(DramTiming, RowConflictCostsRpPlusRcdPlusCl) {
  DramModel m(plain_hbm2());
  EXPECT_EQ(run_one(m, {.addr = 0, .size = 32}), tRCD + tCL + tBL);
  const uint64_t t = 100000;
  EXPECT_EQ(run_one(m, {.addr = kRowStride, .size = 32, .arrival_ps = t}), t + tRP + tRCD + tCL + tBL);
  // Too early for tRAS: the precharge waits for ACT + tRAS, the next ACT also satisfies tRC.
  DramModel e(plain_hbm2());
  e.submit({.addr = 0, .size = 32});
  const uint64_t id = e.submit({.addr = kRowStride, .size = 32, .arrival_ps = 20000});
  e.drain();
  EXPECT_EQ(e.complete_time_ps(id), std::max(tRAS + tRP, tRC) + tRCD + tCL + tBL);
  const Stats s = e.stats();
  EXPECT_EQ(s.row_conflicts, 1u);
  EXPECT_EQ(s.row_misses, 1u);
}

TEST(DramTiming, WriteCostsRcdPlusCwlPlusBurst) {
  DramModel m(preset("hbm2"));
  EXPECT_EQ(run_one(m, {.addr = 0, .size = 32, .is_write = true}), tRCD + tCWL + tBL);
  EXPECT_EQ(m.stats().write_atoms, 1u);
  EXPECT_EQ(m.stats().bytes_written, 32u);
}

TEST(DramScheduling, FrFcfsServesHitBeforeOlderMiss) {
  DramModel m(plain_hbm2());
  const uint64_t a = m.submit({.addr = 0, .size = 32, .arrival_ps = 0});                // opens row 0
  const uint64_t b = m.submit({.addr = kRowStride, .size = 32, .arrival_ps = 1000});    // older, conflict
  const uint64_t c = m.submit({.addr = kColStride, .size = 32, .arrival_ps = 2000});    // younger, hit
  m.drain();
  EXPECT_EQ(m.complete_time_ps(a), tRCD + tCL + tBL);
  // c: CAS one tCCD_L after a's CAS (same bank group).
  EXPECT_EQ(m.complete_time_ps(c), tRCD + tCCD_L + tCL + tBL);
  // b: precharge once tRAS has passed since the ACT, then ACT (tRC also met) and read.
  EXPECT_EQ(m.complete_time_ps(b), tRAS + tRP + tRCD + tCL + tBL);
  EXPECT_LT(m.complete_time_ps(c), m.complete_time_ps(b));
}

TEST(DramScheduling, QueueDepthOneIsFcfs) {
  Params p = plain_hbm2();
  p.read_queue_depth = 1;
  DramModel m(p);
  m.submit({.addr = 0, .size = 32, .arrival_ps = 0});
  const uint64_t b = m.submit({.addr = kRowStride, .size = 32, .arrival_ps = 1000});
  const uint64_t c = m.submit({.addr = kColStride, .size = 32, .arrival_ps = 2000});
  m.drain();
  EXPECT_LT(m.complete_time_ps(b), m.complete_time_ps(c));
}

TEST(DramRefresh, ReadAtTrefiWaitsForRfc) {
  {
    DramModel m(preset("hbm2"));
    const uint64_t t = tREFI - 100000;
    EXPECT_EQ(run_one(m, {.addr = 0, .size = 32, .arrival_ps = t}), t + tRCD + tCL + tBL);
    EXPECT_EQ(m.stats().refreshes, 0u);
  }
  {
    DramModel m(preset("hbm2"));
    EXPECT_EQ(run_one(m, {.addr = 0, .size = 32, .arrival_ps = tREFI}), tREFI + tRFC + tRCD + tCL + tBL);
    EXPECT_EQ(m.stats().refreshes, 1u);
  }
  {
    // A row opened before the refresh is closed by it: the next access is a miss again.
    DramModel m(plain_hbm2());
    run_one(m, {.addr = 0, .size = 32, .arrival_ps = 0});
    const uint64_t t = 10 * tREFI + 500000;  // ten refreshes passed while idle
    EXPECT_EQ(run_one(m, {.addr = kColStride, .size = 32, .arrival_ps = t}), t + tRCD + tCL + tBL);
    EXPECT_EQ(m.stats().refreshes, 10u);
    EXPECT_EQ(m.stats().row_hits, 0u);
  }
}

namespace {
Stats stream(const std::string& name, uint64_t bytes, uint64_t req_bytes, bool write = false) {
  DramModel m(preset(name));
  for (uint64_t a = 0; a < bytes; a += req_bytes) m.submit({.addr = a, .size = req_bytes, .is_write = write});
  m.drain();
  return m.stats();
}
}  // namespace

TEST(DramBandwidth, SequentialReadsApproachPeak) {
  // Refresh alone leaves 1 - tRFC/tREFI of the peak (91% for hbm2, 85% for gddr6). Bound: a
  // sequential stream reaches at least 93% of that and never exceeds the peak.
  for (const char* n : {"hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6", "gddr7", "lpddr5x", "ddr5"}) {
    SCOPED_TRACE(n);
    const Params p = preset(n);
    const double refresh_limit = p.refresh_limited_bandwidth_GBps() / p.peak_bandwidth_GBps();
    // Long enough for three refresh intervals at peak.
    const uint64_t bytes = (uint64_t(p.peak_bandwidth_GBps() * 3 * double(p.tREFI) / 1000.0) >> 20 << 20) + (1u << 20);
    const Stats s = stream(n, bytes, 64);
    EXPECT_GE(s.refreshes, 3u * p.units());
    const double frac = s.read_bandwidth_GBps / s.peak_bandwidth_GBps;
    std::printf("  %-8s sequential read %.1f GB/s = %.1f%% of peak (refresh limit %.1f%%), row hit %.3f\n", n,
                s.read_bandwidth_GBps, 100 * frac, 100 * refresh_limit, s.row_hit_rate);
    EXPECT_GE(frac, 0.93 * refresh_limit);
    EXPECT_LE(frac, 1.0);
    EXPECT_GT(s.row_hit_rate, 0.9);
    for (const ChannelStats& c : s.channels) EXPECT_GT(c.utilization, 0.8);
  }
  // Big requests give the same picture.
  const Stats big = stream("hbm2", 4u << 20, 4096);
  EXPECT_GE(big.read_bandwidth_GBps / big.peak_bandwidth_GBps, 0.85);  // hbm2: 0.93 x 0.91
  const Stats wr = stream("hbm2", 4u << 20, 64, true);
  EXPECT_GE(wr.write_bandwidth_GBps / wr.peak_bandwidth_GBps, 0.80);
}

TEST(DramBandwidth, RandomReadsMissTheRowBuffer) {
  DramModel m(preset("hbm2"));
  Lcg rng{42};
  for (int i = 0; i < 20000; ++i) m.submit({.addr = (rng.next() % (1ull << 32)) & ~63ull, .size = 64});
  m.drain();
  const Stats s = m.stats();
  std::printf("  hbm2 random 64 B reads: %.1f GB/s, row hit %.3f\n", s.read_bandwidth_GBps, s.row_hit_rate);
  // Each 64 B request is two atoms of one row: the second is the only likely hit.
  EXPECT_LT(s.row_hit_rate, 0.55);
  EXPECT_GT(s.row_hit_rate, 0.45);
  EXPECT_GT(s.row_misses + s.row_conflicts, 19000u);
  EXPECT_LT(s.read_bandwidth_GBps, 0.8 * s.peak_bandwidth_GBps);
  EXPECT_GT(s.read_bandwidth_GBps, 0.05 * s.peak_bandwidth_GBps);
}

namespace {
struct Workload {
  std::vector<Request> reqs;
};
Workload mixed(uint64_t seed, int n) {
  Workload w;
  Lcg rng{seed};
  uint64_t t = 0;
  for (int i = 0; i < n; ++i) {
    t += rng.next() % 3000;
    const bool seq = rng.next() % 2;
    const uint64_t addr = seq ? uint64_t(i) * 256 : (rng.next() % (1ull << 30));
    w.reqs.push_back({.addr = addr, .size = 1 + rng.next() % 512, .is_write = rng.next() % 4 == 0, .arrival_ps = t});
  }
  return w;
}
}  // namespace

TEST(DramDeterminism, RepeatableAndIndependentOfCallPattern) {
  const Workload w = mixed(7, 3000);
  auto run_drain = [&](std::string* trace) {
    DramModel m(preset("hbm3"));
    std::ostringstream os;
    if (trace) m.set_trace_sink(ramulator_trace_writer(os));
    for (const Request& r : w.reqs) m.submit(r);
    m.drain();
    std::vector<Completion> out = m.advance_to(kNever);
    if (trace) *trace = os.str();
    return std::make_pair(out, to_json(m.stats()));
  };
  std::string t1, t2;
  const auto a = run_drain(&t1);
  const auto b = run_drain(&t2);
  ASSERT_EQ(a.first.size(), w.reqs.size());
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_EQ(t1, t2);
  EXPECT_FALSE(t1.empty());
  for (size_t i = 1; i < a.first.size(); ++i) {
    const auto& p = a.first[i - 1];
    const auto& q = a.first[i];
    EXPECT_TRUE(p.time_ps < q.time_ps || (p.time_ps == q.time_ps && p.id < q.id));
  }

  // Event-driven: submit each request at its arrival, advancing in between.
  DramModel m(preset("hbm3"));
  std::vector<Completion> got;
  for (const Request& r : w.reqs) {
    auto c = m.advance_to(r.arrival_ps);
    got.insert(got.end(), c.begin(), c.end());
    m.submit(r);
  }
  for (uint64_t t = m.next_event_time(); t != kNever; t = m.next_event_time()) {
    auto c = m.advance_to(t);
    got.insert(got.end(), c.begin(), c.end());
  }
  EXPECT_EQ(got, a.first);
  EXPECT_EQ(to_json(m.stats()), a.second);
  // Same again, stepping completion by completion.
  DramModel n(preset("hbm3"));
  std::vector<Completion> got2;
  for (const Request& r : w.reqs) {
    for (;;) {
      auto c = n.advance_to_next_completion(r.arrival_ps);
      if (c.empty()) break;
      got2.insert(got2.end(), c.begin(), c.end());
    }
    EXPECT_EQ(n.now_ps(), r.arrival_ps);
    n.submit(r);
  }
  for (auto c = n.advance_to_next_completion(); !c.empty(); c = n.advance_to_next_completion())
    got2.insert(got2.end(), c.begin(), c.end());
  EXPECT_EQ(got2, a.first);
  for (const Completion& c : got) {
    EXPECT_GT(c.time_ps, w.reqs[c.id].arrival_ps);
    EXPECT_EQ(m.complete_time_ps(c.id), c.time_ps);
  }
}

TEST(DramModelApi, ErrorsAndState) {
  DramModel m(preset("hbm2"));
  EXPECT_THROW(m.submit({.addr = 0, .size = 0}), SimFault);
  const uint64_t id = m.submit({.addr = 0, .size = 32, .arrival_ps = 5000});
  EXPECT_FALSE(m.is_scheduled(id));
  EXPECT_THROW(m.complete_time_ps(id), SimFault);
  EXPECT_EQ(m.next_event_time(), 5000u);
  EXPECT_TRUE(m.advance_to(6000).empty());
  EXPECT_TRUE(m.is_scheduled(id));  // decided at 5000, data still in flight
  EXPECT_EQ(m.next_event_time(), 5000 + tRCD + tCL + tBL);
  EXPECT_THROW(m.submit({.addr = 0, .size = 32, .arrival_ps = 5999}), SimFault);
  EXPECT_THROW(m.advance_to(10), SimFault);
  const auto c = m.advance_to(5000 + tRCD + tCL + tBL);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], (Completion{id, 5000 + tRCD + tCL + tBL}));
  EXPECT_EQ(m.next_event_time(), kNever);
  EXPECT_THROW(m.complete_time_ps(99), SimFault);
}

TEST(DramIdeal, ExactArithmetic) {
  DramModel m(preset("ideal"));
  // 256 GB/s = 0.256 B/ps; 28 ns fixed latency; first come first served.
  const uint64_t a = m.submit({.addr = 0, .size = 64});
  const uint64_t b = m.submit({.addr = 4096, .size = 1000, .is_write = true});
  const uint64_t c = m.submit({.addr = 0, .size = 100, .arrival_ps = 100000});
  m.drain();
  EXPECT_EQ(m.complete_time_ps(a), 250u + 28000u);           // 64 / 0.256 = 250 ps
  EXPECT_EQ(m.complete_time_ps(b), 250u + 3907u + 28000u);   // 1000 / 0.256 = 3906.25 -> 3907
  EXPECT_EQ(m.complete_time_ps(c), 100000u + 391u + 28000u); // 100 / 0.256 = 390.6 -> 391
  const Stats s = m.stats();
  EXPECT_EQ(s.read_requests, 2u);
  EXPECT_EQ(s.write_requests, 1u);
  EXPECT_EQ(s.row_hits + s.row_misses + s.row_conflicts, 0u);
  // Saturated: n back-to-back 64 B requests take n x 250 ps of bus time.
  DramModel sat(preset("ideal"));
  uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) last = sat.submit({.addr = uint64_t(i) * 64, .size = 64});
  sat.drain();
  EXPECT_EQ(sat.complete_time_ps(last), 1000u * 250u + 28000u);
}

TEST(DramFlash, LongReadsHighParallelism) {
  DramModel m(preset("hbf"));
  const Params& p = m.params();
  EXPECT_EQ(run_one(m, {.addr = 0, .size = 64}), p.tRCD + p.tCL + p.tBL);
  // Streaming many pages hides the page read behind plane parallelism.
  const Stats s = stream("hbf", 16u << 20, 4096);
  std::printf("  hbf sequential read %.1f GB/s = %.1f%% of peak\n", s.read_bandwidth_GBps,
              100 * s.read_bandwidth_GBps / s.peak_bandwidth_GBps);
  EXPECT_GT(s.read_bandwidth_GBps, 0.5 * s.peak_bandwidth_GBps);
  // A program blocks the plane for tWR before another page of it can be read.
  Params hp = preset("hbf");
  hp.mapping = "RoBaBgCoPcCh";                 // page (row) stride: 64 B x 2^(4+1+8+6) = 32 MiB
  DramModel w(hp);
  const uint64_t other_page = 32ull << 20;
  ASSERT_EQ(w.locate(other_page).row, 1u);
  ASSERT_EQ(w.locate(other_page).bank, 0u);
  const uint64_t wid = w.submit({.addr = 0, .size = 64, .is_write = true});
  const uint64_t r = w.submit({.addr = other_page, .size = 64, .arrival_ps = 1});
  w.drain();
  const uint64_t write_done = p.tRCD + p.tCWL + p.tBL;
  EXPECT_EQ(w.complete_time_ps(wid), write_done);
  EXPECT_EQ(w.complete_time_ps(r), write_done + p.tWR + p.tRP + p.tRCD + p.tCL + p.tBL);
}

TEST(DramTrace, RamulatorLoadStoreFormat) {
  DramModel m(preset("hbm2"));
  std::ostringstream os;
  m.set_trace_sink(ramulator_trace_writer(os));
  m.submit({.addr = 100, .size = 100});                   // atoms 96..192
  m.submit({.addr = 0x1000, .size = 32, .is_write = true});
  EXPECT_EQ(os.str(), "LD 0x60\nLD 0x80\nLD 0xa0\nLD 0xc0\nST 0x1000\n");
  const auto back = parse_ramulator_trace(os.str(), "t.trace");
  ASSERT_EQ(back.size(), 5u);
  EXPECT_EQ(back[0], (TraceEntry{false, 0x60}));
  EXPECT_EQ(back[4], (TraceEntry{true, 0x1000}));
  EXPECT_EQ(parse_ramulator_trace("LD 4096\n", "d")[0].addr, 4096u);
  try {
    parse_ramulator_trace("LD 0x10\nXX 0x20\n", "bad.trace");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.trace:2:1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_ramulator_trace("LD 0xzz\n", "b"), InputError);
  EXPECT_THROW(parse_ramulator_trace("LD\n", "b"), InputError);
}

TEST(DramStats, JsonHasTheNumbers) {
  DramModel m(preset("hbm2"));
  m.submit({.addr = 0, .size = 4096});
  m.submit({.addr = 1 << 20, .size = 4096, .is_write = true});
  m.drain();
  const std::string j = to_json(m.stats());
  for (const char* key : {"\"read_gbps\"", "\"row_hit_rate\"", "\"channels\"", "\"refreshes\"",
                          "\"avg_latency_ps\"", "\"write_bytes\": 4096"})
    EXPECT_NE(j.find(key), std::string::npos) << key;
  const Stats s = m.stats();
  EXPECT_EQ(s.completed_requests, 2u);
  EXPECT_EQ(s.channels.size(), 8u);
  EXPECT_GT(s.read_bandwidth_GBps, 0);
  EXPECT_GT(s.write_bandwidth_GBps, 0);
  EXPECT_GE(s.max_latency_ps, uint64_t(s.avg_latency_ps));
}

TEST(DramScheduling, WriteDrainWatermarks) {
  // hbm2 queues: 32 deep, drain writes at >= 24 arrived, stop at <= 8 while reads wait.
  auto writes_before_first_read = [](int n_writes) {
    DramModel m(plain_hbm2());
    std::vector<uint64_t> w, r;
    for (int i = 0; i < n_writes; ++i)  // unit 0, bank group 1
      w.push_back(m.submit({.addr = 16384 + uint64_t(i) * kColStride, .size = 32, .is_write = true}));
    for (int i = 0; i < 10; ++i) r.push_back(m.submit({.addr = uint64_t(i) * kColStride, .size = 32}));
    m.drain();
    uint64_t first_read = kNever;
    for (uint64_t id : r) first_read = std::min(first_read, m.complete_time_ps(id));
    int n = 0;
    for (uint64_t id : w) n += m.complete_time_ps(id) < first_read;
    return n;
  };
  EXPECT_EQ(writes_before_first_read(10), 0);   // below the high watermark: reads first
  EXPECT_EQ(writes_before_first_read(30), 22);  // drain 30 -> 8, then the reads
}

// ---------------------------------------------------------------- transfer calibration

TEST(DramTransfers, RequestCuttingAtAlignedBoundaries) {
  std::vector<std::pair<uint64_t, uint64_t>> got;
  auto collect = [&](uint64_t a, uint64_t n) { got.emplace_back(a, n); };
  // Contiguous rows form one range: [100, 100 + 3*40) cut at 64 B boundaries.
  dram::for_each_request(100, 40, 3, 40, 64, collect);
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, uint64_t>>{{100, 28}, {128, 64}, {192, 28}}));
  got.clear();
  // Strided rows are cut one by one.
  dram::for_each_request(0, 96, 2, 256, 64, collect);
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, uint64_t>>{{0, 64}, {64, 32}, {256, 64}, {320, 32}}));
  got.clear();
  dram::for_each_request(0, 0, 5, 0, 64, collect);
  EXPECT_TRUE(got.empty());
}

TEST(DramTransfers, CalibrationMatchesPublishedTimingsAndBandwidth) {
  const dram::Params p = dram::preset("hbm2");
  dram::TransferShape one;
  one.streams[one.n++] = {0, 32, 1, 32};
  dram::BurstOptions o;
  o.queue_depth = 1;
  // One atom to a closed bank: the preset's idle read latency.
  const auto lone = dram::simulate_burst(p, one, 1, o);
  EXPECT_EQ(lone.at(0), p.idle_read_latency_ps());
  // A long sequential stream: per-transfer time within [peak, peak / 0.8] of its bytes.
  dram::TransferShape seq;
  seq.streams[seq.n++] = {0, 4096, 128, 4096};
  const dram::TransferTiming t = dram::calibrate_transfer(p, seq, dram::BurstOptions{});
  const double ideal_ps = double(seq.bytes()) / p.peak_bandwidth_GBps() * 1000.0;
  EXPECT_GE(t.per_transfer_ps, ideal_ps);
  EXPECT_LT(t.per_transfer_ps, ideal_ps / 0.8);
  EXPECT_GE(t.first_ps, ideal_ps);  // the first transfer alone cannot beat the peak
  EXPECT_GT(t.alone_ps, 0.0);
  // Deterministic, and the row scaling is linear beyond 128 rows.
  seq.streams[0].rows = 512;
  const dram::TransferTiming t4 = dram::calibrate_transfer(p, seq, dram::BurstOptions{});
  EXPECT_DOUBLE_EQ(t4.per_transfer_ps, 4 * t.per_transfer_ps);
  EXPECT_DOUBLE_EQ(t4.first_ps, t.first_ps + 3 * t.per_transfer_ps);
}

// calibrate_transfer is memoized for the process: the same (parameters, shape, options) is
// computed once and returns the same timing; any argument that differs is a new calibration.
TEST(DramTransfers, CalibrationsAreSharedByTheProcess) {
  dram::Params p = dram::preset("hbm3");
  dram::TransferShape s;
  s.streams[s.n++] = {4096 * 7 + 64, 1536, 24, 8192};  // a placement no other test uses
  const uint64_t before = dram::calibrations_computed();
  const dram::TransferTiming a = dram::calibrate_transfer(p, s, dram::BurstOptions{});
  EXPECT_EQ(dram::calibrations_computed(), before + 1);
  const dram::TransferTiming b = dram::calibrate_transfer(p, s, dram::BurstOptions{});
  EXPECT_EQ(dram::calibrations_computed(), before + 1);
  EXPECT_EQ(a.per_transfer_ps, b.per_transfer_ps);
  EXPECT_EQ(a.warm_ps, b.warm_ps);
  EXPECT_GT(a.per_transfer_ps, 0.0);
  dram::BurstOptions deeper;
  deeper.queue_depth = 2;
  dram::calibrate_transfer(p, s, deeper);
  EXPECT_EQ(dram::calibrations_computed(), before + 2);
  p.tRCD += 1000;  // other parameters: a different calibration, and a slower one
  const dram::TransferTiming c = dram::calibrate_transfer(p, s, dram::BurstOptions{});
  EXPECT_EQ(dram::calibrations_computed(), before + 3);
  EXPECT_GT(c.alone_ps, a.alone_ps);
}

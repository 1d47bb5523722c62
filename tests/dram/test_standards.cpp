// Memory technologies as data (data/memory/*.toml): every standard and speed grade resolves,
// overrides follow the documented rules, a speed grade moves bandwidth as its datasheet says, and
// the grades Ramulator 2.1 also has are checked against recorded Ramulator 2.1 runs (docs/memory.md
// "Validation").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include "dram/dram.hpp"
#include "dram/standards.hpp"
#include "support/support.hpp"

namespace plena::dram {
namespace {

// Sequential 64 B reads over `intervals` refresh intervals of every unit; read bandwidth in GB/s.
double sequential_GBps(const Params& p, double intervals = 3.0) {
  DramModel m(p);
  const double window_ns = p.tREFI ? intervals * double(p.tREFI) / 1000.0 : 5000.0;
  const uint64_t bytes = (uint64_t(p.peak_bandwidth_GBps() * window_ns) >> 16 << 16) + (1u << 16);
  for (uint64_t a = 0; a < bytes; a += 64) m.submit({.addr = a, .size = 64});
  m.drain();
  return m.stats().read_bandwidth_GBps;
}

// Random 64 B reads (a fixed LCG over 4 GiB), read bandwidth in GB/s.
double random_GBps(const Params& p, int n = 20000) {
  DramModel m(p);
  uint64_t x = 12345;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    m.submit({.addr = ((x >> 16) % (1ull << 32)) & ~63ull, .size = 64});
  }
  m.drain();
  return m.stats().read_bandwidth_GBps;
}

TEST(MemoryStandards, EveryStandardAndSpeedResolves) {
  const auto names = standard_names();
  for (const char* s : {"ddr4", "ddr5", "gddr6", "gddr7", "hbf", "hbm2", "hbm2e", "hbm3", "hbm3e", "hbm4", "ideal",
                        "lpddr5", "lpddr5x"})
    EXPECT_NE(std::find(names.begin(), names.end(), s), names.end()) << s;
  for (const auto& s : names) {
    const StandardInfo& info = standard_info(s);
    EXPECT_FALSE(info.speeds.empty()) << s;
    EXPECT_GT(info.tech.pj_per_bit, 0) << s;
    EXPECT_GT(info.tech.cost_usd_per_gb, 0) << s;
    EXPECT_GT(info.tech.device_capacity_gb, 0) << s;
    EXPECT_FALSE(info.tech.pj_source.empty()) << s;
    for (const auto& sp : info.speeds) {
      SCOPED_TRACE(s + " " + sp);
      const Params p = standard_params(s, sp);
      // The pins x rate peak is the grade's published figure (within rounding of the rate).
      EXPECT_NEAR(p.peak_bandwidth_GBps(), p.published_peak_GBps, 0.01 * p.published_peak_GBps);
      if (p.kind == Kind::Dram) {
        EXPECT_EQ(p.tBL, p.burst_time_from_rate_ps());
      }
    }
  }
  EXPECT_GT(standard_info("hbf").tech.write_endurance_cycles, 0);
  EXPECT_EQ(standard_info("hbm3").tech.write_endurance_cycles, 0);
}

// The historical presets are the grades that carry their name, with their historical numbers.
TEST(MemoryStandards, LegacyPresetsAreSpeedGrades) {
  for (const auto& n : preset_names()) {
    std::string standard, speed;
    ASSERT_TRUE(preset_grade(n, standard, speed)) << n;
    EXPECT_EQ(preset(n), standard_params(standard, speed)) << n;
    EXPECT_EQ(preset(n).name, n);
  }
  const Params h = preset("hbm2");  // the reference's Ramulator2 HBM2_2Gbps, 8 channels
  EXPECT_EQ(h.tCK, 1000u);
  EXPECT_EQ(h.tRCD, 14000u);
  EXPECT_EQ(h.tCCD_L, 4000u);
  EXPECT_EQ(h.tBL, 2000u);
  const Params e = preset("hbm3e");
  EXPECT_EQ(e.tCCD_S, 833u);  // { ps = 833 }, not 2 x 417
  EXPECT_EQ(e.tCWL, 3750u);
  const Params a = preset("hbm2e-a100");
  EXPECT_EQ(a.tCK, 502u);
  EXPECT_EQ(a.tCWL, 4 * 502u);  // { ck = 4 } follows the grade's tCK
  EXPECT_EQ(a.tRTP, 5000u);     // hbm2e's, in ns
  EXPECT_THROW(preset("hbm4"), InputError);  // a standard, not a legacy preset name
}

TEST(MemoryStandards, OverridesFollowTheRules) {
  const Params base = standard_params("hbm3", "6400");
  // Clock-valued timings follow an overridden tCK; ns values do not.
  const FieldOverride slow_clock[] = {{"tCK", {FieldValue::Unit::Ps, 1000}}};
  const Params p = standard_params("hbm3", "6400", slow_clock);
  EXPECT_EQ(p.tCCD_S, 2000u);
  EXPECT_EQ(p.tCWL, 6000u);
  EXPECT_EQ(p.tRCD, base.tRCD);
  // ns, clocks and ps spellings.
  const FieldOverride o[] = {{"tRCD", {FieldValue::Unit::Ns, 18.5}},
                             {"tRP", {FieldValue::Unit::Clocks, 30}},
                             {"tFAW", {FieldValue::Unit::Ps, 20001}},
                             {"read_queue_depth", {FieldValue::Unit::Number, 64}}};
  const Params q = standard_params("hbm3", "6400", o);
  EXPECT_EQ(q.tRCD, 18500u);
  EXPECT_EQ(q.tRP, 30u * 625u);
  EXPECT_EQ(q.tFAW, 20001u);
  EXPECT_EQ(q.read_queue_depth, 64u);
  // Channels double the peak; a rate override moves tBL with it.
  EXPECT_DOUBLE_EQ(standard_params("hbm3", "6400", {}, 32).peak_bandwidth_GBps(), 2 * base.peak_bandwidth_GBps());
  const FieldOverride rate[] = {{"data_rate_mbps", {FieldValue::Unit::Number, 3200}}};
  EXPECT_EQ(standard_params("hbm3", "6400", rate).tBL, 2 * base.tBL);
  // The empty speed is the default grade.
  EXPECT_EQ(standard_params("hbm3", ""), base);
}

TEST(MemoryStandards, BadInputsNameWhatWasExpected) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { standard_params("hbm9", ""); }).find("expected one of: ddr4"), std::string::npos);
  EXPECT_NE(message([] { standard_params("hbm3", "7777", {}, 0, "memory.kv"); }).find("memory.kv: unknown speed grade '7777'"),
            std::string::npos);
  const FieldOverride bad_field[] = {{"tXYZ", {FieldValue::Unit::Ns, 1}}};
  EXPECT_NE(message([&] { standard_params("hbm3", "", bad_field, 0, "memory.kv.overrides"); }).find("unknown field 'tXYZ'"),
            std::string::npos);
  const FieldOverride bad_unit[] = {{"channels", {FieldValue::Unit::Clocks, 2}}};
  EXPECT_NE(message([&] { standard_params("hbm3", "", bad_unit); }).find("timings only"), std::string::npos);
  const FieldOverride not_pow2[] = {{"channels", {FieldValue::Unit::Number, 3}}};
  EXPECT_NE(message([&] { standard_params("hbm3", "", not_pow2, 0, "memory.kv"); }).find("memory.kv: "), std::string::npos);
  const FieldOverride inconsistent[] = {{"tRAS", {FieldValue::Unit::Ns, 1}}};
  EXPECT_NE(message([&] { standard_params("hbm3", "", inconsistent); }).find("tRAS must be >= tRCD"), std::string::npos);
}

// A speed grade changes the numbers as its datasheet says: the sequential bandwidth scales with
// the pin rate (same organisation and ns timings), within 3%.
TEST(MemoryStandards, SpeedGradeMovesBandwidthAsTheDatasheet) {
  struct Pair {
    const char *standard, *slow, *fast;
  };
  for (const Pair& c : {Pair{"hbm3", "5200", "6400"}, Pair{"ddr5", "4800", "6400"}, Pair{"lpddr5x", "7500", "9600"},
                        Pair{"gddr6", "14000", "20000"}, Pair{"hbm4", "6400", "8000"}}) {
    SCOPED_TRACE(std::string(c.standard) + " " + c.slow + " -> " + c.fast);
    const Params a = standard_params(c.standard, c.slow), b = standard_params(c.standard, c.fast);
    const double datasheet = b.published_peak_GBps / a.published_peak_GBps;
    const double measured = sequential_GBps(b, 1.0) / sequential_GBps(a, 1.0);
    std::printf("  %-8s %s -> %s: datasheet x%.3f, model x%.3f\n", c.standard, c.slow, c.fast, datasheet, measured);
    EXPECT_NEAR(measured / datasheet, 1.0, 0.03);
  }
}

// Ramulator 2.1 runs (tests/dram/data/ramulator2_bandwidth.toml, how they were made: its header
// and docs/memory.md "Validation"): one channel of each standard and speed grade both have,
// streaming sequential and uniformly random reads of one transaction each. The data buses differ
// in count, so both sides compare as efficiency (achieved / pins x rate): ours over the whole
// device, sequential; over one channel of ours, random (like Ramulator's one channel).
struct RamulatorPoint {
  std::string standard, speed, preset;
  double peak_GBps = 0, seq_GBps = 0, rand_GBps = 0, seq_write_GBps = 0;
  uint64_t tx_bytes = 0;
};

std::vector<RamulatorPoint> ramulator_points() {
  const auto file = std::string(PLENA_SOURCE_DIR) + "/tests/dram/data/ramulator2_bandwidth.toml";
  const toml::table t = toml::parse_file(file);
  std::vector<RamulatorPoint> v;
  for (const toml::node& n : *t["point"].as_array()) {
    const toml::table& p = *n.as_table();
    RamulatorPoint r;
    r.standard = p["standard"].value_or(std::string());
    r.speed = p["speed"].value_or(std::string());
    r.preset = p["ramulator_timing"].value_or(std::string());
    r.peak_GBps = p["channel_peak_GBps"].value_or(0.0);
    r.seq_GBps = p["seq_read_GBps"].value_or(0.0);
    r.rand_GBps = p["rand_read_GBps"].value_or(0.0);
    r.seq_write_GBps = p["seq_write_GBps"].value_or(0.0);
    r.tx_bytes = p["tx_bytes"].value_or(uint64_t(0));
    v.push_back(r);
  }
  return v;
}

// Random reads of `bytes` each over the first 128 MiB (what the Ramulator runs did), GB/s.
double random_span_GBps(const Params& p, uint64_t bytes, int n = 20000) {
  DramModel m(p);
  uint64_t x = 12345;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    m.submit({.addr = ((x >> 16) % ((128ull << 20) / bytes)) * bytes, .size = bytes});
  }
  m.drain();
  return m.stats().read_bandwidth_GBps;
}

// Random reads where our model and Ramulator 2.1 still differ by more than 10%, and why (open in
// #13; docs/memory.md "Validation"). Sequential reads agree within 10% everywhere.
struct RandomGap {
  const char *standard, *speed, *why;
};
constexpr RandomGap kRandomGaps[] = {
    {"ddr5", "4800", "Ramulator's DDR5 tFAW is max(32 nCK, 20 ns) ('~20 ns for 1KB page'), ours JESD79-5's 32 nCK"},
    {"ddr5", "6400", "as 4800, and its nRRD_S for 6400 falls back to 5 ns (16 nCK), ours 8 nCK (2.5 ns)"},
    {"hbm2", "2000", "Ramulator's two pseudo-channels share one row command bus (ACT 2 cycles, PRE 1); ours are independent"},
    {"hbm2", "2400", "as 2000"},
    {"gddr6", "14000", "Ramulator's GDDR6_14000_1250mV preset: nRRD 11 nCK (6.3 ns), nFAW 43 nCK (24.5 ns); ours tRRD_S 2 ns, tFAW 16 ns"},
};

bool known_random_gap(const RamulatorPoint& r) {
  for (const RandomGap& g : kRandomGaps)
    if (r.standard == g.standard && r.speed == g.speed) return true;
  return false;
}

TEST(MemoryStandards, BandwidthWithinTenPercentOfRamulator) {
  const auto points = ramulator_points();
  ASSERT_GE(points.size(), 10u);
  for (const RamulatorPoint& r : points) {
    SCOPED_TRACE(r.standard + " " + r.speed + " (" + r.preset + ")");
    const Params p = standard_params(r.standard, r.speed);
    Params one = p;
    one.channels = 1;
    const double seq = sequential_GBps(p) / p.peak_bandwidth_GBps(), ram_seq = r.seq_GBps / r.peak_GBps;
    const double rnd = random_span_GBps(one, r.tx_bytes) / one.peak_bandwidth_GBps(), ram_rnd = r.rand_GBps / r.peak_GBps;
    std::printf("  %-7s %-6s sequential %.3f (Ramulator %.3f, %+5.1f%%)  random %.3f (Ramulator %.3f, %+5.1f%%)\n",
                r.standard.c_str(), r.speed.c_str(), seq, ram_seq, 100 * (seq / ram_seq - 1), rnd, ram_rnd,
                100 * (rnd / ram_rnd - 1));
    EXPECT_NEAR(seq / ram_seq, 1.0, 0.10);
    if (known_random_gap(r))
      std::printf("          random: a known gap (kRandomGaps)\n");
    else
      EXPECT_NEAR(rnd / ram_rnd, 1.0, 0.10);
  }
}

// Where a gap above is a timing parameter, our model given Ramulator's values (its exported
// presets, in ps) lands within 10% of its run: the scheduling engines agree; the grades differ.
TEST(MemoryStandards, RandomBandwidthWithRamulatorTimingsAgrees) {
  struct Case {
    const char *standard, *speed;
    uint64_t tRRD_S, tRRD_L, tFAW, tRC, tRCD_RP, tRAS;  // ps; 0 keeps ours
  };
  const Case cases[] = {{"ddr5", "4800", 0, 0, 20000, 0, 0, 0},
                        {"ddr5", "6400", 5000, 0, 20000, 0, 0, 0},
                        {"gddr6", "14000", 11 * 570, 11 * 570, 43 * 570, 90 * 570, 30 * 570, 60 * 570}};
  const auto points = ramulator_points();
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.standard) + " " + c.speed);
    const auto r = std::find_if(points.begin(), points.end(),
                                [&](const RamulatorPoint& x) { return x.standard == c.standard && x.speed == c.speed; });
    ASSERT_NE(r, points.end());
    Params p = standard_params(c.standard, c.speed);
    p.channels = 1;
    if (c.tRRD_S) p.tRRD_S = c.tRRD_S;
    if (c.tRRD_L) p.tRRD_L = c.tRRD_L;
    if (c.tFAW) p.tFAW = c.tFAW;
    if (c.tRC) p.tRC = c.tRC, p.tRCD = p.tRP = c.tRCD_RP, p.tRAS = c.tRAS;
    const double ours = random_span_GBps(p, r->tx_bytes) / p.peak_bandwidth_GBps(), ram = r->rand_GBps / r->peak_GBps;
    std::printf("  %-6s %-6s random with Ramulator's timings %.3f (Ramulator %.3f, %+5.1f%%)\n", c.standard, c.speed,
                ours, ram, 100 * (ours / ram - 1));
    EXPECT_NEAR(ours / ram, 1.0, 0.10);
  }
}

// Random reads: a closed-row miss per 64 B request, bounded by the activation rate of each unit
// (one ACT per tRRD_S, four per tFAW, every bank once per tRC) and the data bus [D].
TEST(MemoryStandards, RandomBandwidthWithinActivationBound) {
  for (const RamulatorPoint& r : ramulator_points()) {
    SCOPED_TRACE(r.standard + " " + r.speed);
    const Params p = standard_params(r.standard, r.speed);
    const double act_ps = std::max({double(p.tRRD_S), double(p.tFAW) / 4.0, double(p.tRC) / double(p.banks())});
    const double bound = std::min(p.peak_bandwidth_GBps(), 64.0 / act_ps * 1000.0 * p.units());
    const double ours = random_GBps(p);
    EXPECT_LE(ours, bound * 1.001);
    EXPECT_GE(ours, 0.25 * bound);
  }
}

TEST(MemoryStandards, FlashReadsFastWritesSlow) {
  const Params f = standard_params("hbf", "");
  EXPECT_EQ(f.tREFI, 0u);  // no refresh
  EXPECT_GT(f.tWR, 100 * f.tRCD / 3);  // program time >> page read
  EXPECT_GT(standard_info("hbf").tech.device_capacity_gb, 10 * standard_info("hbm3e").tech.device_capacity_gb);
  EXPECT_LT(standard_info("hbf").tech.cost_usd_per_gb, standard_info("hbm3e").tech.cost_usd_per_gb);
}

}  // namespace
}  // namespace plena::dram

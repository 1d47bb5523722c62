// Memory technologies as data (data/memory/*.toml): every standard and speed grade resolves,
// overrides follow the documented rules, a speed grade moves bandwidth as its datasheet says, and
// the grades Ramulator 2.1 also has are checked against the figures its timing presets imply
// (docs/memory.md "Validation").
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

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

// Ramulator 2.1 has these standards at these speed grades (src/dram/impl/*.cpp timing presets;
// our grades carry its numbers in clocks). Its controller streams a sequential read at the data
// bus rate less refresh, so the reference is peak x (1 - nRFC/nREFI) with Ramulator's nRFC
// (JEDEC-rounded from its tRFC table) and nREFI, per data channel of ours [D]. No Ramulator run
// is recorded in this repository: docs/memory.md says how to record one.
struct RamulatorPoint {
  const char *standard, *speed, *ramulator_preset;
  double channel_GBps;  // one data channel (pseudo-channel) of ours at the preset's rate
  double nRFC, nREFI;   // clocks, as Ramulator computes them
};
constexpr RamulatorPoint kRamulator[] = {
    {"ddr4", "2400", "DDR4_2400R / DDR4_8Gb_x8", 19.2, 421, 9364},     // tRFC 350 ns, tREFI 7.8 us at 833 ps
    {"ddr4", "3200", "DDR4_3200AA / DDR4_8Gb_x8", 25.6, 560, 12480},   // at 625 ps
    {"ddr5", "3200", "DDR5_3200AN / DDR5_16Gb_x8", 12.8, 472, 6240},   // tRFC1 295 ns, tREFI 3.9 us, x32 sub-channel
    {"lpddr5", "6400", "LPDDR5_6400 / LPDDR5_16Gb_x16", 12.8, 224, 3125},  // tRFCab 280 ns, tREFI 3906 ns at 1250 ps
    {"hbm2", "2000", "HBM2_2Gbps", 16.0, 350, 3900},                   // tRFC 350 ns, nREFI 3900 at 1000 ps
    {"hbm3", "2000-ramulator", "HBM3_2Gbps", 8.0, 350, 3900},          // our HBM3 pseudo-channel is 32 bit
};

TEST(MemoryStandards, SequentialBandwidthMatchesRamulatorGrades) {
  for (const RamulatorPoint& r : kRamulator) {
    SCOPED_TRACE(std::string(r.standard) + " " + r.speed);
    const Params p = standard_params(r.standard, r.speed);
    const double reference = r.channel_GBps * p.units() * (1.0 - r.nRFC / r.nREFI);
    const double ours = sequential_GBps(p);
    std::printf("  %-7s %-15s (%s): ours %.1f GB/s, Ramulator-preset figure %.1f GB/s (%+.1f%%)\n", r.standard, r.speed,
                r.ramulator_preset, ours, reference, 100.0 * (ours / reference - 1.0));
    EXPECT_NEAR(ours / reference, 1.0, 0.10);
    EXPECT_NEAR(p.peak_bandwidth_GBps(), r.channel_GBps * p.units(), 1e-6);
  }
}

// Random reads: a closed-row miss per 64 B request, bounded by the activation rate of each unit
// (one ACT per tRRD_S, four per tFAW, every bank once per tRC) and the data bus [D].
TEST(MemoryStandards, RandomBandwidthWithinActivationBound) {
  for (const RamulatorPoint& r : kRamulator) {
    SCOPED_TRACE(std::string(r.standard) + " " + r.speed);
    const Params p = standard_params(r.standard, r.speed);
    const double act_ps = std::max({double(p.tRRD_S), double(p.tFAW) / 4.0, double(p.tRC) / double(p.banks())});
    const double bound = std::min(p.peak_bandwidth_GBps(), 64.0 / act_ps * 1000.0 * p.units());
    const double ours = random_GBps(p);
    std::printf("  %-7s %-15s random 64 B: ours %.1f GB/s, activation bound %.1f GB/s (%.0f%%)\n", r.standard, r.speed,
                ours, bound, 100.0 * ours / bound);
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

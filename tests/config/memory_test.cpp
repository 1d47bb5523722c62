// [memory.<pool>] tables: parsing, the canonical form, the pool address map and the errors a
// user can cause (docs/memory.md).
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "config/config.hpp"
#include "dram/dram.hpp"
#include "numerics/hbm_tensor.hpp"
#include "support/support.hpp"

namespace plena::config {
namespace {

constexpr const char* kTwoPools = R"(base = "tiny-fp32"
[memory.slow]
standard = "lpddr5x"
capacity = "512 MiB"
holds = ["weights"]

[memory.fast]
standard = "hbm3"
speed = "5200"
channels = 8
capacity = 536870912
holds = ["kv", "activations"]

[memory.fast.overrides]
tRCD = 16
tCCD_L = { ck = 6 }
)";

std::string error_of(const std::string& text) {
  try {
    parse_config_toml(text, "hw.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// Selecting a speed grade in the hardware TOML moves the pool's sustained sequential bandwidth
// as the datasheet peaks say (within 3%). (GDDR7 36 Gbps and HBM4 10.7 Gbps scale 10% / 5% below
// their peaks in our model: ns timings at the top grades; docs/memory.md "Validation".)
TEST(MemoryPoolsConfig, SpeedGradeInTheTomlMovesBandwidthAsTheDatasheet) {
  auto pool = [](const std::string& standard, const std::string& speed) {
    return pool_params(parse_config_toml("base = \"tiny-fp32\"\n[memory.m]\nstandard = \"" + standard + "\"\n" +
                                             (speed.empty() ? "" : "speed = \"" + speed + "\"\n") +
                                             "capacity = \"1 GiB\"\nholds = [\"weights\", \"kv\", \"activations\"]\n",
                                         "hw.toml"),
                       0);
  };
  auto sequential = [](const dram::Params& p) {
    dram::DramModel m(p);
    const uint64_t bytes = uint64_t(p.peak_bandwidth_GBps() * 4000.0) / 64 * 64;  // ~4 us at peak
    for (uint64_t a = 0; a < bytes; a += 64) m.submit({.addr = a, .size = 64});
    m.drain();
    return m.stats().read_bandwidth_GBps;
  };
  for (const auto& [standard, speed] : {std::pair<std::string, std::string>{"hbm3", "5200"}, {"ddr5", "4800"},
                                        {"lpddr5x", "9600"}, {"gddr6", "14000"}, {"hbm4", "6400"}}) {
    SCOPED_TRACE(standard + " " + speed);
    const dram::Params base = pool(standard, ""), grade = pool(standard, speed);
    EXPECT_NE(base.data_rate_mbps, grade.data_rate_mbps);
    const double datasheet = grade.published_peak_GBps / base.published_peak_GBps;
    EXPECT_NEAR(sequential(grade) / sequential(base) / datasheet, 1.0, 0.03);
  }
}

TEST(MemoryPoolsConfig, ParseAndAddressMap) {
  const HardwareConfig c = parse_config_toml(kTwoPools, "hw.toml");
  ASSERT_EQ(c.memory.size(), 2u);
  EXPECT_EQ(c.memory[0].name, "slow");
  EXPECT_EQ(c.memory[0].speed, "8533");  // the standard's default grade, made explicit
  EXPECT_EQ(c.memory[0].capacity_bytes, 512u << 20);
  EXPECT_EQ(c.memory[1].channels, 8u);
  ASSERT_EQ(c.memory[1].overrides.size(), 2u);
  EXPECT_EQ(pool_index(c, MemoryClass::Weights), 0u);
  EXPECT_EQ(pool_index(c, MemoryClass::Kv), 1u);
  EXPECT_EQ(pool_index(c, memory_class_of(numerics::TensorClass::Scratch)), 1u);
  EXPECT_EQ(pool_base(c, 1), 512u << 20);
  EXPECT_EQ(pool_at(c, (512u << 20) - 1), 0u);
  EXPECT_EQ(pool_at(c, 512u << 20), 1u);
  const dram::Params fast = pool_params(c, 1);
  EXPECT_EQ(fast.channels, 8u);
  EXPECT_EQ(fast.tRCD, 16000u);
  EXPECT_EQ(fast.tCCD_L, 6 * fast.tCK);
  EXPECT_EQ(fast.data_rate_mbps, 5200u);
  EXPECT_EQ(pool_params(c, 0), dram::standard_params("lpddr5x", "8533"));
}

TEST(MemoryPoolsConfig, CanonicalRoundTripAndLegacyHash) {
  const HardwareConfig c = parse_config_toml(kTwoPools, "hw.toml");
  const std::string text = to_toml(c);
  EXPECT_NE(text.find("[memory.fast.overrides]\ntCCD_L = { ck = 6 }\ntRCD = 16.0"), std::string::npos) << text;
  EXPECT_EQ(parse_config_toml(text, "canonical"), c);
  EXPECT_NE(to_json(c).find("\"memory\""), std::string::npos);
  // Without pools nothing changes: the implicit pool, no [memory] text, the same hash as before.
  const HardwareConfig legacy = preset("tiny-fp32");
  EXPECT_EQ(to_toml(legacy).find("[memory"), std::string::npos);
  EXPECT_EQ(to_json(legacy).find("\"memory\""), std::string::npos);
  EXPECT_NE(canonical_hash(c), canonical_hash(legacy));
  const auto pools = memory_pools(legacy);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].name, "hbm");
  EXPECT_EQ(pools[0].standard, "hbm2");
  EXPECT_EQ(pools[0].capacity_bytes, legacy.hbm.size_bytes);
  EXPECT_EQ(pool_params(legacy, 0), dram::preset("hbm2"));
}

TEST(MemoryPoolsConfig, OnePoolHoldsEverythingByDefault) {
  const HardwareConfig c = parse_config_toml("base = \"tiny-fp32\"\n[memory.main]\nstandard = \"gddr7\"\ncapacity = \"1 GiB\"\n", "x");
  ASSERT_EQ(c.memory[0].holds.size(), 3u);
  EXPECT_EQ(pool_params(c, 0).name, "gddr7");
}

TEST(MemoryPoolsConfig, ErrorsNameThePoolAndWhatWasExpected) {
  const std::string head = "base = \"tiny-fp32\"\n";
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                               : ::testing::AssertionFailure() << msg;
  };
  EXPECT_TRUE(has(error_of(head + "[memory.a]\ncapacity = 64\n"), "hw.toml:2:1: error: [memory.a]: missing key standard"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm9\"\ncapacity = 64\n"), "memory.a.standard = \"hbm9\": unknown memory standard"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\nspeed = \"1\"\ncapacity = 64\n"), "expected one of: 2000-ramulator, 5200, 6400"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\n"), "missing key capacity"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = \"2 parsecs\"\n"), "unknown unit 'parsecs'"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 100\n"), "multiple of 64"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\nsize = 3\n"), "unknown key memory.a.size"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\nchannels = 3\n"), "power of two"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\nholds = [\"weights\", \"bias\"]\n"),
                  "expected an array of \"weights\", \"kv\", \"activations\""));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\n[memory.a.overrides]\ntRXX = 1\n"),
                  "unknown field 'tRXX'"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\n[memory.a.overrides]\ntRAS = 1\n"),
                  "tRAS must be >= tRCD"));
  // Placement: every class in exactly one pool.
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\nholds = [\"weights\"]\n"
                                  "[memory.b]\nstandard = \"hbm3\"\ncapacity = 64\nholds = [\"weights\", \"kv\"]\n"),
                  "class \"weights\" is held by 2 pools"));
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = 64\nholds = [\"weights\"]\n"
                                  "[memory.b]\nstandard = \"hbm3\"\ncapacity = 64\nholds = [\"kv\"]\n"),
                  "class \"activations\" is held by 0 pools"));
  // The pools share hbm.size_bytes (tiny-fp32: 1 GiB).
  EXPECT_TRUE(has(error_of(head + "[memory.a]\nstandard = \"hbm3\"\ncapacity = \"2 GiB\"\n"),
                  "expected hbm.size_bytes >= 2147483648"));
}

}  // namespace
}  // namespace plena::config

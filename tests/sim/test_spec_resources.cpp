// The simulator's up-front memory accounting: the arithmetic (not this machine's memory).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "config/config.hpp"
#include "sim/resources.hpp"
#include "support/support.hpp"

using namespace plena;

TEST(SimMemory, ReferenceSmallArraysAddUp) {
  const auto cfg = config::preset("reference-small");  // MLEN 64, 262144 x 64 VRAM, 16 GiB HBM
  const auto need = sim::simulator_memory(cfg, true);
  const uint64_t vram = 262144ull * 64 * 4, mram = 4096ull * 64 * 4, fp = 1024 * 4, in = 1024 * 4;
  const uint64_t scratch = 2ull * 64 * 64 * 4, acc = 4ull * 64 * 64 * 4;
  const uint64_t pages = ((uint64_t{1} << 34) / 65536 + 1) * sizeof(void*);
  EXPECT_EQ(need.total(), vram + mram + fp + in + scratch + acc + pages);
  // Timing-only keeps only the INT SRAM (it feeds addresses).
  EXPECT_EQ(sim::simulator_memory(cfg, false).total(), in);
}

TEST(SimMemory, HugeConfigsSaturateInsteadOfWrapping) {
  auto cfg = config::preset("tiny-fp32");
  cfg.sram.vector_depth = uint64_t{1} << 62;  // not a valid config: only the arithmetic is checked
  EXPECT_EQ(sim::simulator_memory(cfg, true).total(), std::numeric_limits<uint64_t>::max());
  // The configs from the issue: a 1 PiB HBM needs a 128 GiB page table; MLEN 65536 16 GiB tiles.
  auto big = config::preset("tiny-fp32");
  big.hbm.size_bytes = uint64_t{1} << 50;
  EXPECT_GT(sim::simulator_memory(big, true).total(), uint64_t{128} << 30);
  EXPECT_LT(sim::simulator_memory(big, false).total(), uint64_t{1} << 20);
}

TEST(SimMemory, HbmImageCountsWholePages) {
  EXPECT_EQ(sim::hbm_pages_bytes(10, 10), 0u);
  EXPECT_EQ(sim::hbm_pages_bytes(0, 1), 65536u);
  EXPECT_EQ(sim::hbm_pages_bytes(65535, 65537), 131072u);
  EXPECT_EQ(sim::hbm_pages_bytes(65536, 131072), 65536u);
  EXPECT_EQ(sim::trace_bytes(std::numeric_limits<uint64_t>::max()), std::numeric_limits<uint64_t>::max());
  EXPECT_GT(sim::trace_bytes(1000), 1000u * 16);
}

TEST(SimMemory, MemAvailableIsParsedInKibibytes) {
  EXPECT_EQ(sim::parse_mem_available("MemTotal:  100 kB\nMemFree: 5 kB\nMemAvailable:    2048 kB\n"), 2097152u);
  EXPECT_EQ(sim::parse_mem_available("MemAvailable: 7 kB"), 7168u);
  EXPECT_FALSE(sim::parse_mem_available("MemTotal: 100 kB\n"));
  EXPECT_FALSE(sim::parse_mem_available("MemAvailable: lots kB\n"));
  EXPECT_FALSE(sim::parse_mem_available("MemAvailable: 12\n"));
  EXPECT_FALSE(sim::parse_mem_available("MemAvailable: 99999999999999999999 kB\n"));
  EXPECT_FALSE(sim::parse_mem_available("XMemAvailable: 12 kB\n"));
}

TEST(SimMemory, RefusalStatesNeededAvailableAndWhatToDo) {
  sim::MemoryNeed need;
  need.add("Vector SRAM", uint64_t{3} << 30, "sram.vector_depth");
  need.add("FP SRAM", 1024, "sram.fp_depth");
  EXPECT_NO_THROW(sim::require_memory(need, need.total(), "s.toml", "use --timing-only"));
  try {
    sim::require_memory(need, uint64_t{1} << 30, "s.toml", "use --timing-only");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("s.toml: error: the simulator needs 3.0 GiB", 0), 0u) << m;
    EXPECT_NE(m.find("Vector SRAM 3.0 GiB (sram.vector_depth), FP SRAM 1.0 KiB (sram.fp_depth)"), std::string::npos) << m;
    EXPECT_NE(m.find("this machine has 1.0 GiB available"), std::string::npos) << m;
    EXPECT_NE(m.find("use --timing-only"), std::string::npos) << m;
  }
  EXPECT_EQ(sim::human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(sim::human_bytes(512), "512 B");
  EXPECT_EQ(sim::human_bytes(std::numeric_limits<uint64_t>::max()), "more than 16 EiB");
}

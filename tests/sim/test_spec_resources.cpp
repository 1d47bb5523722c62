// The simulator's up-front memory accounting: the arithmetic (not this machine's memory; the
// check itself is tested in tests/support/test_host_memory.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "config/config.hpp"
#include "sim/resources.hpp"

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

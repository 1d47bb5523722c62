// The shared host-memory check: saturating sums, /proc/meminfo and cgroup parsing, the refusal.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "support/host_memory.hpp"
#include "support/support.hpp"

using namespace plena;

namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::string refusal(const MemoryNeed& need, uint64_t available, const std::string& advice) {
  try {
    require_memory(need, available, "s.toml", advice);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no refusal";
}

}  // namespace

TEST(HostMemory, SumsAndProductsSaturate) {
  EXPECT_EQ(sat_mul({3, 5, 7}), 105u);
  EXPECT_EQ(sat_mul({uint64_t{1} << 40, uint64_t{1} << 40}), kMax);
  EXPECT_EQ(sat_add(kMax - 1, 2), kMax);
  MemoryNeed need;
  need.add("a", kMax - 10);
  need.add("b", 11, "k");
  EXPECT_EQ(need.total(), kMax);
  MemoryNeed more;
  more.add(need);
  more.add("c", 1);
  ASSERT_EQ(more.parts.size(), 3u);
  EXPECT_EQ(more.parts[1].knob, "k");
}

TEST(HostMemory, MemAvailableIsParsedInKibibytes) {
  EXPECT_EQ(parse_mem_available("MemTotal:  100 kB\nMemFree: 5 kB\nMemAvailable:    2048 kB\n"), 2097152u);
  EXPECT_EQ(parse_mem_available("MemAvailable: 7 kB"), 7168u);
  EXPECT_FALSE(parse_mem_available("MemTotal: 100 kB\n"));
  EXPECT_FALSE(parse_mem_available("MemAvailable: lots kB\n"));
  EXPECT_FALSE(parse_mem_available("MemAvailable: 12\n"));
  EXPECT_FALSE(parse_mem_available("MemAvailable: 99999999999999999999 kB\n"));
  EXPECT_FALSE(parse_mem_available("XMemAvailable: 12 kB\n"));
  EXPECT_FALSE(parse_mem_available("MemAvailable: 18014398509481984 kB\n"));  // 2^54 KiB: 2^64 bytes
}

TEST(HostMemory, CgroupLimitCapsWhatIsLeft) {
  // 1 GiB limit, 600 MiB charged of which 100 MiB is reclaimable page cache: 524 MiB left.
  const std::string stat = "anon 1000\nfile 2000\ninactive_file 104857600\nactive_file 5\n";
  EXPECT_EQ(parse_cgroup_room("1073741824\n", "629145600\n", stat), uint64_t{524} << 20);
  EXPECT_EQ(parse_cgroup_room("1073741824\n", "629145600\n", ""), uint64_t{424} << 20);  // no memory.stat
  EXPECT_EQ(parse_cgroup_room("1000\n", "5000\n", ""), 0u);                              // over the limit
  EXPECT_FALSE(parse_cgroup_room("max\n", "5000\n", ""));                                // no limit
  EXPECT_FALSE(parse_cgroup_room("1000\n", "", ""));
  EXPECT_FALSE(parse_cgroup_room("1000 kB\n", "10\n", ""));
  const auto avail = host_memory_available();
  ASSERT_TRUE(avail.has_value());  // Linux: /proc/meminfo or sysconf
  EXPECT_GT(*avail, 0u);
}

TEST(HostMemory, RefusalListsLargestPartsWithKnobsAvailableAndAdvice) {
  MemoryNeed need;
  need.add("FP SRAM", 1024, "sram.fp_depth");
  need.add("Vector SRAM", uint64_t{3} << 30, "sram.vector_depth");
  need.add("working set", uint64_t{64} << 20);
  need.add("unused", 0, "x.y");
  EXPECT_NO_THROW(require_memory(need, need.total(), "s.toml", "use --timing-only"));
  EXPECT_NO_THROW(require_memory(need, std::nullopt, "s.toml", "use --timing-only"));  // unknown: no check
  const std::string m = refusal(need, uint64_t{1} << 30, "use --timing-only");
  EXPECT_EQ(m,
            "s.toml: error: needs about 3.1 GiB of host memory (Vector SRAM 3.0 GiB (sram.vector_depth), working set "
            "64.0 MiB, FP SRAM 1.0 KiB (sram.fp_depth)), but this machine has 1.0 GiB available; use --timing-only");
  // Beyond the four largest parts, the rest is one sum.
  for (int i = 0; i < 3; ++i) need.add("small " + std::to_string(i), 512);
  const std::string m2 = refusal(need, 1, "advice");
  EXPECT_NE(m2.find("FP SRAM 1.0 KiB (sram.fp_depth), small 0 512 B, others 1.0 KiB), but"), std::string::npos) << m2;
  EXPECT_NE(refusal(need, 0, "a").find("this machine has 0 B available"), std::string::npos);
}

TEST(HostMemory, HumanBytes) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(uint64_t{3} << 40), "3.0 TiB");
  EXPECT_EQ(human_bytes(kMax), "more than 16 EiB");
}

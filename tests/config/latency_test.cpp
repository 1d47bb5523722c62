// config::latency_cycles against the [latency] values, per class, and the docs/config.md key
// table generated from the latency classes table.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "config/config.hpp"
#include "isa/isa.hpp"
#include "support/support.hpp"

using namespace plena;
using isa::Latency;
using isa::Opcode;

namespace {

// Every key a distinct value, so a class reading the wrong key shows.
config::HardwareConfig distinct_latencies() {
  config::HardwareConfig c = config::preset("reference-small");
  config::Latency& l = c.latency;
  l.systolic_overhead = 1000;
  l.matrix_mm = 11, l.matrix_bmm = 12, l.matrix_mv = 13, l.matrix_bmv = 14, l.matrix_writeout = 15;
  l.vector_add = 21, l.vector_mul = 22, l.vector_exp = 23, l.vector_reci = 24, l.vector_max = 25;
  l.vector_sum = 26, l.vector_shift = 27, l.vector_prefix_scan = 28;
  l.scalar_fp_basic = 31, l.scalar_fp_exp = 32, l.scalar_fp_sqrt = 33, l.scalar_fp_reci = 34;
  l.scalar_fp_load_store = 35, l.scalar_map_v_fp = 36, l.scalar_int_basic = 37, l.control = 38;
  return c;
}

}  // namespace

// Written out by hand from docs/config.md and the reference (plena_simulator.md §latencies).
TEST(LatencyCycles, EveryClassReadsItsKey) {
  const config::HardwareConfig c = distinct_latencies();
  ASSERT_EQ(c.geometry.vlen, 64u);  // Hadamard: log2(64) = 6 stages
  const std::pair<Latency, uint64_t> want[] = {
      {Latency::MatMul, 1011},      {Latency::MatVec, 13},         {Latency::BatchMatMul, 1012},
      {Latency::BatchMatVec, 1014}, {Latency::MatWriteOut, 15},    {Latency::VecAdd, 21},
      {Latency::VecMul, 22},        {Latency::VecExp, 23},         {Latency::VecReci, 24},
      {Latency::VecSum, 26},        {Latency::VecMax, 25},         {Latency::VecShift, 27},
      {Latency::VecPrefixScan, 28}, {Latency::VecTopK, 25},        {Latency::Hadamard, 6 * 21},
      {Latency::ScalarFpBasic, 31}, {Latency::ScalarFpExp, 32},    {Latency::ScalarFpReci, 34},
      {Latency::ScalarFpSqrt, 33},  {Latency::ScalarFpMem, 35},    {Latency::ScalarIntBasic, 37},
      {Latency::ScalarIntMem, 37},  {Latency::MapVFp, 36},         {Latency::Control, 38},
      {Latency::PrefetchM, 0},      {Latency::PrefetchV, 0},       {Latency::StoreV, 0},
  };
  ASSERT_EQ(std::size(want), static_cast<size_t>(isa::kNumLatencyClasses));
  for (const auto& [cls, cycles] : want) EXPECT_EQ(config::latency_cycles(c, cls), cycles) << isa::to_string(cls);
  for (const isa::OpInfo& o : isa::all_opcodes())
    EXPECT_EQ(config::latency_cycles(c, o.op), config::latency_cycles(c, o.latency)) << o.mnemonic;
}

TEST(LatencyCycles, MaxAndMinWithScalarChargeVectorMax) {
  const config::HardwareConfig c = distinct_latencies();
  EXPECT_EQ(config::latency_cycles(c, Opcode::V_MAX_VF), c.latency.vector_max);
  EXPECT_EQ(config::latency_cycles(c, Opcode::V_MIN_VF), c.latency.vector_max);
  EXPECT_EQ(config::latency_cycles(c, Opcode::V_ADD_VF), c.latency.vector_add);
}

TEST(LatencyCycles, RejectsValuesOutsideTheTables) {
  const config::HardwareConfig c = distinct_latencies();
  EXPECT_THROW(config::latency_cycles(c, static_cast<Opcode>(0)), std::out_of_range);
  EXPECT_THROW(config::latency_cycles(c, static_cast<Opcode>(isa::kMaxOpcode + 1)), std::out_of_range);
  EXPECT_THROW(config::latency_cycles(c, static_cast<Latency>(isa::kNumLatencyClasses)), std::out_of_range);
}

TEST(LatencyCycles, EveryKeyGovernsSomeOpcode) {
  const std::string md = config::latency_keys_markdown();
  EXPECT_EQ(md.find("| —"), std::string::npos) << md;
  EXPECT_NE(md.find("| `vector_max` | `V_RED_MAX`, `V_MAX_VF`, `V_MIN_VF`; `V_TOPK` times"), std::string::npos) << md;
  EXPECT_NE(md.find("| `systolic_overhead` | added to `M_MM`, `M_TMM`, `M_BMM`, `M_BTMM`, `M_BMV`, `M_BTMV` |"),
            std::string::npos)
      << md;
}

// docs/config.md embeds latency_keys_markdown(); PLENA_UPDATE_DOCS=1 rewrites the block.
TEST(LatencyCycles, DocsKeyTableIsCurrent) {
  const std::string begin = "<!-- BEGIN GENERATED: latency keys (plena::config::latency_keys_markdown) -->\n";
  const std::string end = "<!-- END GENERATED -->";
  const std::filesystem::path doc = std::filesystem::path(PLENA_SOURCE_DIR) / "docs" / "config.md";
  std::string text = read_text_file(doc);
  size_t b = text.find(begin);
  ASSERT_NE(b, std::string::npos) << "missing BEGIN marker in " << doc;
  b += begin.size();
  const size_t e = text.find(end, b);
  ASSERT_NE(e, std::string::npos) << "missing END marker in " << doc;
  const std::string want = config::latency_keys_markdown();
  if (const char* u = std::getenv("PLENA_UPDATE_DOCS"); u && std::string(u) == "1" && text.substr(b, e - b) != want) {
    text.replace(b, e - b, want);
    write_text_file(doc, text);
    return;
  }
  EXPECT_EQ(text.substr(b, e - b), want) << "docs/config.md is stale: rerun this test with PLENA_UPDATE_DOCS=1";
}

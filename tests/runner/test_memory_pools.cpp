// Two memory pools on one device (docs/memory.md): weights in LPDDR5X, KV cache and activations in
// HBM3. The tiny fp32 model compiles, runs exactly and reports per-pool traffic; a pool too small
// for its class fails naming it; the estimate agrees with the simulator within 5%.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "analytic/validate/validate.hpp"
#include "config/config.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

std::string two_pools(const std::string& kv_capacity = "512 MiB", const std::string& timing = "") {
  return R"(base = "tiny-fp32"
[memory.weights]
standard = "lpddr5x"
capacity = "512 MiB"
holds = ["weights"]
[memory.fast]
standard = "hbm3"
capacity = ")" + kv_capacity + R"("
holds = ["kv", "activations"]
)" + timing;
}

TEST(MemoryPools, TinyFp32WeightsAndKvInDifferentPoolsRunExactly) {
  RunOptions o;
  o.model = "tiny";
  o.hw = two_pools();
  o.prompt_len = 4;
  o.gen = 3;
  const RunReport r = run_model(o);
  EXPECT_EQ(r.generated, r.ref_generated);
  EXPECT_EQ(r.greedy_match, 1.0);
  EXPECT_LE(r.logits_max_abs, 1e-3);
  ASSERT_EQ(r.pools.size(), 2u);
  EXPECT_EQ(r.pools[0].name, "weights");
  EXPECT_EQ(r.pools[0].dram, "lpddr5x");
  EXPECT_EQ(r.pools[1].dram, "hbm3");
  EXPECT_GT(r.pools[0].read_bytes, 0u);    // the weights stream
  EXPECT_EQ(r.pools[0].write_bytes, 0u);   // nothing writes weights
  EXPECT_GT(r.pools[1].write_bytes, 0u);   // the KV cache stores
  EXPECT_GT(r.pools[1].read_bytes, 0u);
  EXPECT_EQ(r.pools[0].read_bytes + r.pools[1].read_bytes, r.hbm_read_bytes);
  EXPECT_EQ(r.pools[0].write_bytes + r.pools[1].write_bytes, r.hbm_write_bytes);
  const auto j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j.at("pools").size(), 2u);
  EXPECT_EQ(j.at("steps")[0].at("pools")[1].at("name"), "fast");
  EXPECT_NE(r.to_text().find("pool weights"), std::string::npos);

  // The same model on one HBM3 pool: the weights pool's technology is what changed the time.
  RunOptions one = o;
  one.hw = "base = \"tiny-fp32\"\n[memory.all]\nstandard = \"hbm3\"\ncapacity = \"1 GiB\"\n";
  const RunReport h = run_model(one);
  EXPECT_EQ(h.generated, r.generated);
  EXPECT_TRUE(h.pools.empty());  // one pool: its traffic is the totals
  EXPECT_NE(h.ttft_s, r.ttft_s);
}

TEST(MemoryPools, PoolTooSmallForItsClassIsNamed) {
  RunOptions o;
  o.model = "tiny";
  o.hw = two_pools("64 KiB");
  o.prompt_len = 4;
  o.gen = 1;
  try {
    run_model(o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("memory pool 'fast' (hbm3 6400, capacity 65536 bytes, holds kv, activations)"), std::string::npos)
        << m;
  }
}

// The estimate routes each transfer to its class's pool as the simulator routes each DMA by
// address: within 5% on the two-pool point, both timing modes.
TEST(MemoryPools, EstimateAgreesWithTheSimulator) {
  std::vector<analytic::ValidationPoint> points;
  for (const char* mode : {"in-order", "decoupled"}) {
    const std::string spec = two_pools("512 MiB", std::string("[timing]\nmode = \"") + mode + "\"\n");
    for (const char* metric : {"ttft", "tpot"}) {
      analytic::ValidationPoint p;
      p.config = std::string("two-pools/") + mode;
      p.cfg = config::resolve_config(spec);
      p.kernel = "model";
      p.model = "tiny";
      p.hw_spec = spec;
      p.metric = metric;
      p.prompt = 8;
      p.decode = 4;
      points.push_back(p);
    }
  }
  for (const auto& r : analytic::run_validation(points)) {
    EXPECT_EQ(r.analytic_instructions, r.sim_instructions) << r.point.config << " " << r.point.metric;
    EXPECT_LE(std::fabs(r.error), 0.05) << r.point.config << " " << r.point.metric << ": sim " << r.sim_cycles
                                        << " analytic " << r.analytic_cycles;
  }
}

}  // namespace
}  // namespace plena::runner

// Two memory pools on one device (docs/memory.md): weights in LPDDR5X, KV cache and activations in
// HBM3. The tiny fp32 model compiles, runs exactly and reports per-pool traffic; a pool too small
// for its class fails naming it; the estimate agrees with the simulator within 5%.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "analytic/analytic.hpp"
#include "analytic/validate/validate.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace {

std::string two_pools(const std::string& kv_capacity = "512 MiB") {
  return R"(base = "tiny-fp32"
[memory.weights]
standard = "lpddr5x"
capacity = "512 MiB"
holds = ["weights"]
[memory.fast]
standard = "hbm3"
capacity = ")" + kv_capacity + R"("
holds = ["kv", "activations"]
)";
}

TEST(MemoryPoolsRun, TinyFp32WeightsAndKvInDifferentPoolsRunExactly) {
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

TEST(MemoryPoolsRun, PoolTooSmallForItsClassIsNamed) {
  RunOptions o;
  o.model = "tiny";
  o.hw = two_pools("1 KiB");
  o.prompt_len = 4;
  o.gen = 1;
  try {
    run_model(o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("memory pool 'fast' (hbm3 6400, capacity 1024 bytes, holds kv, activations)"), std::string::npos)
        << m;
  }
}

// The estimate checks capacity per pool too, naming the pool.
TEST(MemoryPoolsRun, EstimateChecksCapacityPerPool) {
  std::string spec = two_pools();
  spec.replace(spec.find("512 MiB"), 7, "64 KiB");  // the weights pool
  try {
    analytic::estimate(model::model_preset("tiny"), config::resolve_config(spec), {8, 4, 1, 0}, {});
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("memory pool 'weights' (lpddr5x) holds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("capacity is 65536 bytes"), std::string::npos) << e.what();
  }
}

// The estimate routes each transfer to the pool its tensor was placed in, as the simulator routes
// each DMA by address: within 5% with the weights alone in HBM2 (norm weights are read by vector
// prefetches, so the instruction alone would call them activations) and with the KV cache alone
// in LPDDR5X, both timing modes (analytic::split_pool_validation_points, docs/memory.md).
TEST(MemoryPoolsRun, EstimateAgreesWithTheSimulator) {
  const auto points = analytic::split_pool_validation_points();
  ASSERT_EQ(points.size(), 8u);
  for (const auto& r : analytic::run_validation(points)) {
    std::printf("  %s %s: sim %llu cycles, estimate %.0f (%+.2f%%)\n", r.point.config.c_str(), r.point.metric.c_str(),
                (unsigned long long)r.sim_cycles, r.analytic_cycles, 100.0 * r.error);
    EXPECT_EQ(r.analytic_instructions, r.sim_instructions) << r.point.config << " " << r.point.metric;
    EXPECT_LE(std::fabs(r.error), 0.05) << r.point.config << " " << r.point.metric << ": sim " << r.sim_cycles
                                        << " analytic " << r.analytic_cycles;
  }
}

// The estimate's traffic per pool is the simulator's, step by step (prefill, then one decode
// step), with the weights alone in LPDDR5X: the fast pool sees only KV and activation bytes.
TEST(MemoryPoolsRun, EstimateTrafficPerPoolIsTheSimulators) {
  RunOptions o;
  o.model = "tiny";
  o.hw = two_pools();
  o.prompt_len = 8;
  o.gen = 2;
  o.timing_only = true;
  const RunReport r = run_model(o);
  ASSERT_EQ(r.steps.size(), 2u);
  const auto e = analytic::estimate(model::model_preset("tiny"), config::resolve_config(o.hw), {8, 1, 1, 0}, {});
  ASSERT_EQ(e.prefill.pool_bytes.size(), 2u);
  ASSERT_EQ(e.pools.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& sim_prefill = r.steps[0].pools.at(i);
    const auto& sim_decode = r.steps[1].pools.at(i);
    EXPECT_EQ(e.prefill.pool_bytes[i], sim_prefill.read_bytes + sim_prefill.write_bytes) << "pool " << i;
    // Whole estimate (prefill + one decode step) less its prefill: the decode step's bytes.
    EXPECT_EQ(e.pools[i].traffic_bytes - e.prefill.pool_bytes[i], sim_decode.read_bytes + sim_decode.write_bytes)
        << "pool " << i;
  }
}

}  // namespace
}  // namespace plena::runner

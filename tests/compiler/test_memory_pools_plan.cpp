// The memory planner places HBM tensors by class into their pools' address windows, checks
// capacity per pool, and the manifest records the pools (docs/memory.md).
#include <gtest/gtest.h>

#include <string>

#include "compiler/compiler.hpp"
#include "config/config.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

config::HardwareConfig two_pools() {
  return config::parse_config_toml(R"(base = "tiny-fp32"
[memory.w]
standard = "hbf"
capacity = "1 MiB"
holds = ["weights"]
[memory.k]
standard = "hbm3"
capacity = "64 KiB"
holds = ["kv", "activations"]
)", "hw.toml");
}

TEST(MemoryPoolsPlan, PlacesByClassAndRecordsPools) {
  MemoryPlan plan(two_pools(), "two");
  const auto f32 = numerics::parse_format("fp32");
  const HbmTensor& w = plan.place_hbm("w", TensorClass::Weight, {64, 64}, f32);
  const HbmTensor& k = plan.place_hbm("k", TensorClass::Kv, {16, 64}, f32);
  const HbmTensor& x = plan.place_hbm("x", TensorClass::Activation, {4, 64}, f32);
  EXPECT_LT(w.base + w.bytes(), 1u << 20);
  EXPECT_GE(k.base, 1u << 20);
  EXPECT_GE(x.base, 1u << 20);
  ASSERT_EQ(plan.pool_use().size(), 2u);
  EXPECT_EQ(plan.pool_use()[0].used, 64u * 64 * 4);
  EXPECT_EQ(plan.pool_use()[1].used, (16u + 4) * 64 * 4);
  const HbmManifest m = plan.manifest();
  ASSERT_EQ(m.pools.size(), 2u);
  EXPECT_EQ(m.pools[1].base, 1u << 20);
  EXPECT_EQ(m.pool_of(m.tensor("k")), "k");
  EXPECT_EQ(m.pool_of(m.tensor("w")), "w");
  const std::string json = manifest_to_json(m);
  EXPECT_NE(json.find("\"pool\": \"k\""), std::string::npos);
  EXPECT_EQ(manifest_from_json(json, "m.json"), m);
  // A tensor outside the pool it names is rejected, naming the field.
  std::string bad = json;
  bad.replace(bad.find("\"pool\": \"k\""), 11, "\"pool\": \"w\"");
  try {
    manifest_from_json(bad, "m.json");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("outside its pool 'w'"), std::string::npos) << e.what();
  }
  // Freeing returns the bytes to the pool.
  plan.free_hbm("k");
  EXPECT_EQ(plan.pool_use()[1].used, 4u * 64 * 4);
}

TEST(MemoryPoolsPlan, CapacityIsCheckedPerPool) {
  MemoryPlan plan(two_pools(), "two");
  const auto f32 = numerics::parse_format("fp32");
  // 128 KiB of KV does not fit the 64 KiB pool although the weights pool has room.
  try {
    plan.place_hbm("kv_big", TensorClass::Kv, {512, 64}, f32);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("memory pool 'k' (hbm3 6400, capacity 65536 bytes, holds kv, activations): kv tensor 'kv_big' "
                     "needs 131072 bytes"),
              std::string::npos)
        << m;
  }
  EXPECT_NO_THROW(plan.place_hbm("w_big", TensorClass::Weight, {512, 64}, f32));
}

}  // namespace
}  // namespace plena::compiler

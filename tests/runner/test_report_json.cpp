// Run report JSON comes from each struct's field list (support/json_fields.hpp): the coverage
// check rejects a list that misses a member, and the JSON holds exactly the listed keys.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runner/runner.hpp"

namespace probe {
using plena::report_json::field;

struct Complete {
  double time_s = 0;
  std::string name;
  std::vector<int> ids;
};
constexpr auto json_fields(std::type_identity<Complete>) {
  return std::tuple{field("time_s", &Complete::time_s), field("name", &Complete::name), field("ids", &Complete::ids)};
}

struct MissesOne {  // `ids` added to the struct but not to the list
  double time_s = 0;
  std::string name;
  std::vector<int> ids;
};
constexpr auto json_fields(std::type_identity<MissesOne>) {
  return std::tuple{field("time_s", &MissesOne::time_s), field("name", &MissesOne::name)};
}

struct ListsOneTwice {  // as many entries as members, but `name` twice and `ids` never
  double time_s = 0;
  std::string name;
  std::vector<int> ids;
};
constexpr auto json_fields(std::type_identity<ListsOneTwice>) {
  using S = ListsOneTwice;
  return std::tuple{field("time_s", &S::time_s), field("name", &S::name), field("label", &S::name)};
}

struct RepeatsAKey {
  double time_s = 0, wall_s = 0;
};
constexpr auto json_fields(std::type_identity<RepeatsAKey>) {
  return std::tuple{field("time_s", &RepeatsAKey::time_s), field("time_s", &RepeatsAKey::wall_s)};
}
}  // namespace probe

namespace {
using namespace plena;
using nlohmann::ordered_json;

static_assert(report_json::lists_every_member<probe::Complete>());
static_assert(!report_json::lists_every_member<probe::MissesOne>());
static_assert(!report_json::lists_every_member<probe::ListsOneTwice>());
static_assert(!report_json::lists_every_member<probe::RepeatsAKey>());
static_assert(report_json::detail::member_count<probe::Complete>() == 3);

template <class S>
std::vector<std::string> listed_keys() {
  std::vector<std::string> keys;
  std::apply([&](const auto&... f) { (keys.emplace_back(f.key), ...); }, json_fields(std::type_identity<S>{}));
  return keys;
}

std::vector<std::string> keys_of(const ordered_json& j) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  return keys;
}

runner::RunReport sample_report() {
  runner::RunReport r;
  r.model = "m";
  r.compile_seconds = 0.25;
  r.units = {{.unit = "matrix", .busy_cycles = 30, .utilization = 0.5}, {.unit = "dma", .busy_cycles = 12, .utilization = 0.2}};
  runner::StepReport st;
  st.kind = "prefill";
  // A pooled config's per-pool traffic (omitted without [memory.<pool>] tables).
  st.pools.push_back({.name = "weights", .dram = "lpddr5x", .read_bytes = 64, .write_bytes = 0, .transfers = 1});
  st.compile_seconds = 0.125;
  st.host_seconds = 0.5;
  st.agreement.push_back({.max_abs = 0.5, .mean_abs = 0.25, .cosine = 0.9, .top1 = false, .miss_margin = 0.125});
  r.steps.push_back(st);
  st.kind = "decode";
  st.hidden_layers.push_back({.stage = "embed", .max_abs = 0.5, .cosine = 1.0, .ref_rms = 0.75});
  r.steps.push_back(st);
  // A multi-device run's fields (omitted on one device: split and shards are empty).
  r.devices = 4, r.tp = 2, r.pp = 2;
  r.split = "given";
  r.pools = st.pools;
  r.shards.push_back({.program = "stage 0 of 2", .stages = 1, .layers = 16});
  return r;
}

TEST(ReportJson, RunReportHasExactlyItsListedKeysInListOrder) {
  const ordered_json j = ordered_json::parse(sample_report().to_json());
  EXPECT_EQ(keys_of(j), listed_keys<runner::RunReport>());
  EXPECT_EQ(keys_of(j["formats"]), listed_keys<runner::RunFormats>());
  EXPECT_EQ(keys_of(j["verdict"]), listed_keys<runner::Verdict>());
  EXPECT_EQ(keys_of(j["steps"][1]), listed_keys<runner::StepReport>());
  EXPECT_EQ(keys_of(j["steps"][0]["agreement"][0]), listed_keys<runner::Agreement>());
  EXPECT_EQ(keys_of(j["steps"][1]["hidden_layers"][0]), listed_keys<runner::HiddenAgreement>());
  EXPECT_EQ(keys_of(j["shards"][0]), listed_keys<runner::ShardReport>());
  EXPECT_EQ(keys_of(j["pools"][0]), listed_keys<runner::PoolReport>());
}

TEST(ReportJson, ShardsOnlyOnSeveralDevices) {
  runner::RunReport r = sample_report();
  r.devices = 1, r.tp = 1, r.pp = 1;
  r.split.clear();
  r.shards.clear();
  const ordered_json j = ordered_json::parse(r.to_json());
  EXPECT_FALSE(j.contains("shards"));
  EXPECT_FALSE(j.contains("split"));
  EXPECT_EQ(j["devices"], 1);
}

TEST(ReportJson, CompileTimeIsReportedPerStepAndInTotal) {
  const ordered_json j = ordered_json::parse(sample_report().to_json());
  EXPECT_EQ(j["compile_s"], 0.25);
  EXPECT_EQ(j["steps"][0]["compile_s"], 0.125);
  EXPECT_EQ(j["steps"][0]["host_s"], 0.5);
}

TEST(ReportJson, HiddenLayersOnlyWhenMeasured) {
  const ordered_json j = ordered_json::parse(sample_report().to_json());
  EXPECT_FALSE(j["steps"][0].contains("hidden_layers"));
  ASSERT_TRUE(j["steps"][1].contains("hidden_layers"));
  EXPECT_EQ(j["steps"][1]["hidden_layers"][0]["stage"], "embed");
  EXPECT_EQ(j["steps"][1]["hidden_layers"][0]["ref_rms"], 0.75);
}

TEST(ReportJson, UnitsAreObjectsKeyedByUnitInRunOrder) {
  const ordered_json j = ordered_json::parse(sample_report().to_json());
  EXPECT_EQ(j["utilization"].dump(), R"({"matrix":0.5,"dma":0.2})");
  EXPECT_EQ(j["busy_cycles"].dump(), R"({"matrix":30,"dma":12})");
}

TEST(ReportJson, AgreementValuesRoundTrip) {
  const ordered_json a = ordered_json::parse(sample_report().to_json())["steps"][0]["agreement"][0];
  EXPECT_EQ(a.dump(), R"({"max_abs":0.5,"mean_abs":0.25,"cosine":0.9,"top1":false,"miss_margin":0.125})");
}

}  // namespace

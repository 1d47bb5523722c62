// Shared counts and calibrations never change an estimate: random configs (array shape, VRAM,
// DRAM, formats) estimated in one process one after another, so later ones reuse what earlier ones
// counted, equal each estimated alone in a fresh process (fork: empty caches). The points differ in
// what the caches share across (VRAM, DRAM) as well as in what they must not (shape, formats).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "analytic/analytic.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::analytic {
namespace {

namespace fs = std::filesystem;

std::vector<config::HardwareConfig> random_configs(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const char* formats[] = {"plena-hw-mxfp:fp8_e4m3:b8", "mase-bfp:int4:b16", "mase-bfp:int8:b16"};
  const char* drams[] = {"hbm2", "hbm3"};
  std::vector<config::HardwareConfig> v;
  for (size_t i = 0; i < n; ++i) {
    config::HardwareConfig c = config::preset("reference-small");
    c.geometry.mlen = c.geometry.vlen = 64u << (rng() % 2);
    c.geometry.blen = 4u << (rng() % 2);
    c.geometry.broadcast_amount = c.geometry.mlen / c.geometry.hlen;
    c.hbm.m_prefetch_amount = c.geometry.mlen;
    c.sram.vector_depth = uint64_t(2048) << (rng() % 3);
    c.hbm.dram = drams[rng() % 2];
    c.formats.m_weight = numerics::parse_format(formats[rng() % 3]);
    v.push_back(c);
  }
  return v;
}

std::string estimate_json(const config::HardwareConfig& cfg) {
  try {
    return to_json(estimate(model::model_preset("tiny"), cfg, {96, 6, 1}, {}));
  } catch (const InputError& e) {
    return std::string("error: ") + e.what();
  }
}

// The estimate of cfg in a child process that has counted nothing yet.
std::string fresh_estimate(const config::HardwareConfig& cfg, const fs::path& out) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::ofstream(out) << estimate_json(cfg);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(out);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CountCache, SharedCountsGiveTheFreshEstimate) {
  const auto configs = random_configs(8, 17);
  const fs::path dir = fs::path(PLENA_BINARY_DIR) / "test_count_cache_tmp";
  fs::create_directories(dir);
  // Children first: the parent has not counted anything when it forks.
  std::vector<std::string> fresh;
  for (size_t i = 0; i < configs.size(); ++i)
    fresh.push_back(fresh_estimate(configs[i], dir / ("fresh" + std::to_string(i) + ".json")));
  size_t ok = 0;
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string shared = estimate_json(configs[i]);
    EXPECT_EQ(shared, fresh[i]) << "config " << i << "\n" << config::to_toml(configs[i]);
    ok += shared.rfind("error: ", 0) != 0;
  }
  EXPECT_GE(ok, 6u);  // the comparison is of estimates, not of errors
}

}  // namespace
}  // namespace plena::analytic

// Shared helpers of the executor tests: small configs and a rig that assembles and runs programs.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "isa/isa.hpp"
#include "numerics/numerics.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::sim::test {

// MLEN = VLEN = 16, BLEN = 4, HLEN = 8, BROADCAST = 2 (tiny-fp32), with the given SRAM types.
inline config::HardwareConfig tiny_config(const std::string& sram_type = "fp32", const std::string& fp_type = "") {
  config::HardwareConfig cfg = config::preset("tiny-fp32");
  cfg.sram.vector_depth = 4096;
  cfg.sram.matrix_depth = 256;  // 16 tiles
  cfg.sram.fp_depth = 256;
  cfg.sram.int_depth = 64;
  cfg.hbm.size_bytes = 1ull << 24;
  cfg.sram.vector_type = numerics::parse_format(sram_type);
  cfg.sram.matrix_type = numerics::parse_format(sram_type);
  cfg.sram.fp_type = numerics::parse_format(fp_type.empty() ? sram_type : fp_type);
  cfg.timing.instruction_budget = 1000000;
  cfg.timing.loop_iteration_budget = 100000;
  config::validate_config(cfg);
  return cfg;
}

// MLEN = VLEN = 64, BLEN = 4, HLEN = 16, BROADCAST = 4 (the reference geometry), small SRAMs.
inline config::HardwareConfig ref_config(const std::string& sram_type = "bf16") {
  config::HardwareConfig cfg = config::preset("reference-small");
  cfg.sram.vector_depth = 8192;
  cfg.sram.matrix_depth = 1024;
  cfg.hbm.size_bytes = 1ull << 26;
  cfg.sram.vector_type = numerics::parse_format(sram_type);
  cfg.sram.matrix_type = numerics::parse_format(sram_type);
  cfg.sram.fp_type = numerics::parse_format(sram_type);
  cfg.timing.instruction_budget = 10000000;
  config::validate_config(cfg);
  return cfg;
}

inline uint32_t f2u(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// Bit-exact float vector comparison (NaN payloads included).
inline ::testing::AssertionResult bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "size " << a.size() << " vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (f2u(a[i]) != f2u(b[i]))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

// Runs assembly on a Simulator (no timing model unless asked) and records every Effects.
struct Rig {
  config::HardwareConfig cfg;
  Simulator sim;
  std::vector<Effects> effects;
  std::vector<uint32_t> pcs;

  explicit Rig(const config::HardwareConfig& c, Mode mode = Mode::Functional, bool timing = false)
      : cfg(c), sim(c, make_options(mode, timing)) {}

  SimOptions make_options(Mode mode, bool timing) {
    SimOptions o;
    o.mode = mode;
    o.use_timing_model = timing;
    o.observer = [this](const Effects& e, uint32_t pc) {
      effects.push_back(e);
      pcs.push_back(pc);
    };
    return o;
  }
  Machine& m() { return sim.machine(); }
  SimResult run(const std::string& source) {
    auto prog = isa::assemble(source, "test.asm");
    return sim.run(prog.words);
  }
};

// Expects a SimFault whose message contains every fragment.
template <typename F>
void expect_fault(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "expected a SimFault";
  } catch (const SimFault& e) {
    std::string msg = e.what();
    for (const auto& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "'" << frag << "' not in: " << msg;
  }
}

inline float bf(float x) { return numerics::round_to_bf16(x); }

// Deterministic pseudo-random values in [-1, 1).
inline std::vector<float> randv(size_t n, uint32_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (float((s >> 8) & 0xFFFF) / 32768.0f - 1.0f);
  }
  return v;
}

}  // namespace plena::sim::test

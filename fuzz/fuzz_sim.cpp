// Any word sequence must run to completion or stop with SimFault (never crash, never UB), under
// an instruction budget; timing-only mode must agree with functional mode on the instruction
// count, the fault and the architectural registers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace {

const plena::config::HardwareConfig& fuzz_config() {
  static const plena::config::HardwareConfig cfg = [] {
    auto c = plena::config::preset("tiny-fp32");
    c.sram.vector_depth = 512;
    c.sram.matrix_depth = 64;
    c.sram.fp_depth = 64;
    c.sram.int_depth = 32;
    c.sram.vector_type = plena::numerics::parse_format("bf16");
    c.hbm.size_bytes = 1 << 20;
    c.formats.v_act = plena::numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");
    c.formats.v_kv = plena::numerics::parse_format("mase-bfp:int4:b8");
    c.formats.m_kv = plena::numerics::parse_format("ocp-mx:fp4_e2m1:b8");
    c.timing.instruction_budget = 4000;
    c.timing.loop_iteration_budget = 2000;
    plena::config::validate_config(c);
    return c;
  }();
  return cfg;
}

struct Outcome {
  uint64_t executed = 0;
  std::string fault;
  std::vector<uint32_t> gp;
};

Outcome run(const std::vector<uint32_t>& words, plena::sim::Mode mode) {
  plena::sim::SimOptions o;
  o.mode = mode;
  o.use_timing_model = false;
  uint64_t count = 0;
  o.observer = [&](const plena::sim::Effects&, uint32_t) { ++count; };
  plena::sim::Simulator s(fuzz_config(), o);
  Outcome out;
  try {
    out.executed = s.run(words).executed;
  } catch (const plena::SimFault& e) {
    out.fault = e.what();
    out.executed = count;
  }
  out.gp.assign(s.machine().gp.begin(), s.machine().gp.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint32_t> words(std::min<size_t>(size / 4, 512));
  if (!words.empty()) std::memcpy(words.data(), data, words.size() * 4);
  Outcome f = run(words, plena::sim::Mode::Functional);
  Outcome t = run(words, plena::sim::Mode::TimingOnly);
  // Data-dependent control (S_LD_INT after V_TOPK) may differ; everything else must match.
  bool topk = false;
  for (uint32_t w : words) topk |= (w & 0x3F) == 0x37;
  // A store of a NaN into a format without NaN faults only when there is data.
  if (f.fault.find("cannot be encoded") != std::string::npos) return 0;
  if (!topk && (f.executed != t.executed || f.fault != t.fault || f.gp != t.gp)) std::abort();
  return 0;
}

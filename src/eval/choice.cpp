// Numerics choices: which of a hardware config's formats the quantized reference applies, and
// the named precisions of the command line.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

#include "eval/eval.hpp"
#include "runner/runner_numerics.hpp"
#include "support/support.hpp"

namespace plena::eval {

NumericsChoice NumericsChoice::of(const config::HardwareConfig& hw) {
  return {hw.formats.m_weight, hw.formats.m_kv, hw.formats.v_act, hw.sram.vector_type, hw.sram.matrix_type};
}

config::HardwareConfig NumericsChoice::apply_to(config::HardwareConfig base) const {
  base.formats.m_weight = m_weight;
  base.formats.m_kv = m_kv;
  base.formats.v_act = v_act;
  base.sram.vector_type = vector_type;
  base.sram.matrix_type = matrix_type;
  return base;
}

std::string NumericsChoice::key() const {
  return fmt::format("m_weight={} m_kv={} v_act={} vector_type={} matrix_type={}", m_weight.name(), m_kv.name(),
                     v_act.name(), vector_type.name(), matrix_type.name());
}

std::string NumericsChoice::label() const {
  // The run report's formats label, so `plena run` and `plena eval` name a choice the same way.
  return runner::detail::applied_formats(apply_to(config::HardwareConfig{}), model::ModelConfig{}, false).label;
}

namespace {

struct NamedPrecision {
  const char* name;
  const char* storage;  // weights, KV and vector rows in HBM
  const char* sram;     // vector and matrix SRAM types
};

// MXINT is MASE block int with block 16, as PLENA's software configs use it (Table 5 / 9).
constexpr std::array<NamedPrecision, 6> kPrecisions{{
    {"fp32", "fp32", "fp32"},
    {"bf16", "bf16", "bf16"},
    {"mxfp8", "plena-hw-mxfp:fp8_e4m3:b8", "bf16"},
    {"mxint8", "mase-bfp:int8:b16", "bf16"},
    {"mxint4", "mase-bfp:int4:b16", "bf16"},
    {"mxfp4", "ocp-mx:fp4_e2m1:b32", "bf16"},
}};

}  // namespace

std::vector<std::string> precision_names() {
  std::vector<std::string> out;
  for (const auto& p : kPrecisions) out.emplace_back(p.name);
  return out;
}

NumericsChoice precision(std::string_view name) {
  for (const auto& p : kPrecisions) {
    if (name != p.name) continue;
    const numerics::Format storage = numerics::parse_format(p.storage), sram = numerics::parse_format(p.sram);
    return {storage, storage, storage, sram, sram};
  }
  throw InputError(fmt::format("--precision: error: unknown precision '{}'; expected one of {} (or give a config "
                               "with --hw for any other combination of formats)",
                               name, fmt::join(precision_names(), ", ")));
}

}  // namespace plena::eval

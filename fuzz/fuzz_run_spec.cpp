// Any text must parse into a run spec or throw a located InputError; a spec that parses is then
// validated as `plena sim` does before running (dump paths confined to the output folder, HBM
// preloads planned and checked for overlap) on a simulator no larger than 64 MiB. No program runs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "sim/resources.hpp"
#include "sim/runspec.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace {
constexpr uint64_t kMaxSimBytes = uint64_t{64} << 20;

void validate_like_sim(const plena::sim::RunSpec& spec) {
  const auto paths = plena::sim::dump_paths(spec, "fuzz-out");
  for (const auto& p : paths) {
    // Confinement: every accepted dump path lies inside the output folder.
    if (std::filesystem::relative(p, std::filesystem::weakly_canonical("fuzz-out")).string().rfind("..", 0) == 0)
      std::abort();
  }
  if (plena::sim::simulator_memory(spec.hw, true).total() > kMaxSimBytes) return;
  plena::sim::SimOptions o;
  o.use_timing_model = false;
  plena::sim::Simulator s(spec.hw, o);
  plena::sim::apply_preloads(spec, s, kMaxSimBytes);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;  // bounded inputs: inline arrays stay small
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    // A folder that does not exist: any file the spec names is missing (and must be refused cleanly).
    auto spec = plena::sim::parse_run_spec(text, "fuzz-spec-dir/spec.toml");
    validate_like_sim(spec);
  } catch (const plena::InputError& e) {
    if (std::string_view(e.what()).find("error") == std::string_view::npos) std::abort();
  } catch (const plena::SimFault&) {
    // preload beyond an SRAM: reported as a simulation fault by the machine helpers
  }
  return 0;
}

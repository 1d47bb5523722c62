// Any text must either parse into a config that round-trips through its canonical TOML, or throw
// an InputError located in the file ("fuzz.toml:..."); never crash, hang or throw anything else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "sim/resources.hpp"
#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;  // a config is a few hundred bytes; keep each input cheap
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  plena::config::HardwareConfig cfg;
  try {
    cfg = plena::config::parse_config_toml(text, "fuzz.toml");
  } catch (const plena::InputError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) std::abort();  // every message is located
    return 0;
  }
  if (plena::config::parse_config_toml(plena::config::to_toml(cfg), "rt") != cfg) std::abort();
  // The memory accounting must saturate, never wrap, whatever the sizes.
  const auto need = plena::sim::simulator_memory(cfg, true);
  if (need.total() < plena::sim::simulator_memory(cfg, false).total()) std::abort();
  return 0;
}

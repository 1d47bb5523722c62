// The strict manifest reader must reject any bad input with InputError, never crash; what it
// accepts must write back and re-read to the same manifest.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compiler/compiler.hpp"
#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    plena::compiler::HbmManifest m = plena::compiler::manifest_from_json(text, "fuzz.json");
    plena::compiler::HbmManifest back = plena::compiler::manifest_from_json(plena::compiler::manifest_to_json(m));
    if (!(back == m)) __builtin_trap();
  } catch (const plena::InputError&) {
  }
  return 0;
}

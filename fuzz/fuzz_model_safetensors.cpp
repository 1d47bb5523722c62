// Any byte string must either parse or throw InputError (safetensors image and config.json text).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/model.hpp"
#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    plena::model::parse_safetensors({data, size}, "fuzz.safetensors");
  } catch (const plena::InputError&) {
  }
  try {
    plena::model::parse_hf_config_text({reinterpret_cast<const char*>(data), size}, "fuzz.json");
  } catch (const plena::InputError&) {
  }
  return 0;
}

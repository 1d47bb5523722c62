// Any byte string must either parse as .npy or throw InputError; a parsed array must convert and
// go through the row API (as `plena quant roundtrip` does) without touching memory it does not own.
#include <cstddef>
#include <cstdint>
#include <span>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  plena::NpyArray a;
  try {
    a = plena::npy_parse({data, size}, "fuzz.npy");
  } catch (const plena::InputError&) {
    return 0;
  }
  // The reader's contract: the data holds exactly the elements the shape declares.
  if (a.data.size() != a.size() * a.itemsize()) __builtin_trap();
  std::vector<float> x = a.to_f32();
  try {
    (void)a.to_i64();
  } catch (const plena::InputError&) {  // float dtypes
  }
  if (a.shape.empty() || a.shape.back() == 0) return 0;
  static const auto fmt = plena::numerics::parse_format("ocp-mx:fp8_e4m3:b32:rne");
  const size_t cols = a.shape.back();
  for (size_t r = 0; r < x.size() / cols; ++r) plena::numerics::fake_quantize(fmt, std::span(x).subspan(r * cols, cols));
  // Writing and reading back must give the same array.
  plena::NpyArray b = plena::npy_parse(plena::npy_serialize(a), "again.npy");
  if (b.shape != a.shape || b.data != a.data) __builtin_trap();
  return 0;
}

// Internal: a block codec prepared once per Format (element spec + decode table).
#pragma once
#include <array>
#include <cstdint>
#include <span>

#include "numerics/detail.hpp"
#include "numerics/format.hpp"

namespace plena::numerics {

// floor(log2f(y)) exactly as the plena-hw-mxfp reference takes it (libm only near powers of two).
int floor_log2f_ref(float y);

struct BlockCodec {
  explicit BlockCodec(const Format& fmt);  // InputError unless ocp-mx, mase-bfp or plena-hw-mxfp
  static const BlockCodec& cached(const Format& f);  // per-thread cache; valid until the next call
  Format f;
  detail::ElemSpec es;
  std::array<float, 256> lut{};  // element value of each code, before the shared scale
  std::array<float, 256> scale_lut{};      // scale(b) for every scale byte
  std::array<float, 256> int_scale_lut{};  // int elements: 2^(b-127-int_frac) (exact), NaN for 255

  uint8_t encode(std::span<const float> in, std::span<uint8_t> codes) const;  // in.size() <= block
  void decode(uint8_t scale_byte, std::span<const uint8_t> codes, std::span<float> out) const;
  float element_value(uint32_t code) const;
  float scale(uint8_t b) const;
  bool code_is_zero(uint32_t code) const;
};

}  // namespace plena::numerics

// Block codecs with an E8M0 shared scale: ocp-mx, mase-bfp, plena-hw-mxfp (reference paths).
#include "numerics/block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "numerics/detail.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::numerics {
using detail::f2u;
using detail::u2f;

// floor(log2f(y)) as the plena reference computes it (FP32 log2, then floor). Equal to the exact
// bit exponent except just below a power of two, where log2f rounds up to the integer; only there
// is the libm call needed. y must be positive and finite.
int floor_log2f_ref(float y) {
  uint32_t u = f2u(y);
  if ((u >> 23) != 0 && (u & 0x7FFFFFu) < 0x7FF000u) return int(u >> 23) - 127;
  return int(std::floor(std::log2(y)));
}

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

uint32_t width_mask(int w) { return w >= 32 ? 0xFFFFFFFFu : ((1u << w) - 1); }

// 2^e for e in [-149, 127] built from bits (exact, no libm call).
float pow2f(int e) {
  if (e >= -126) return u2f(uint32_t(e + 127) << 23);
  return u2f(1u << (e + 149));
}

// PLENA hardware_round of a scaled mantissa sm (FP32): truncate to 2 fractional bits, then
// round half to even; result clamped to the 3-bit mantissa range [0, 7].
int plena_hw_mantissa(float sm) {
  float v = sm * 4.0f;  // |v| < 64: int conversion is safe; floor for negatives by correction
  int q = int(v);
  q -= float(q) > v ? 1 : 0;
  int ip = q >> 2;  // floor(q / 4), also for negative q
  int rem = q & 3;
  if (rem == 3 || (rem == 2 && (ip & 1))) ++ip;
  return std::clamp(ip, 0, 7);
}

uint8_t encode_ocp(const BlockCodec& c, std::span<const float> in, std::span<uint8_t> codes) {
  const auto& es = c.es;
  uint32_t amax = 0;
  for (float x : in) amax = std::max(amax, f2u(x) & 0x7FFFFFFFu);
  if (amax >= 0x7F800000u || amax == 0) {
    std::fill(codes.begin(), codes.end(), uint8_t(0));
    return amax == 0 ? 0 : 255;
  }
  int s = std::clamp(detail::floor_log2_bits(amax) - es.emax, -127, 127);
  Rounding r = c.f.rounding;
  uint32_t mask = width_mask(es.width);
  for (size_t i = 0; i < in.size(); ++i) {
    uint32_t u = f2u(in[i]), a = u & 0x7FFFFFFFu;
    bool neg = (u >> 31) != 0;
    if (es.is_int) {
      uint64_t k = std::min<uint64_t>(detail::int_mag_code(a, s, es.int_frac, r), es.max_mag_code);
      codes[i] = uint8_t((neg ? uint32_t(-int64_t(k)) : uint32_t(k)) & mask);
    } else {
      uint64_t mag = std::min<uint64_t>(detail::fp_mag_code(a, s, es.mbits, es.emin, r), es.max_mag_code);
      // The reference keeps the sign of a negative input that rounds to zero unless its scaled
      // FP32 value underflows (and -0.0 gives +0.0); values are unaffected.
      bool sign = neg && (mag != 0 || std::ldexp(in[i], -s) != 0.0f);
      codes[i] = uint8_t(mag | (sign ? es.sign_bit : 0));
    }
  }
  return uint8_t(s + 127);
}

uint8_t encode_mase(const BlockCodec& c, std::span<const float> in, std::span<uint8_t> codes) {
  const auto& es = c.es;
  uint32_t amax = 0;
  for (float x : in) amax = std::max(amax, f2u(x) & 0x7FFFFFFFu);
  std::fill(codes.begin(), codes.end(), uint8_t(0));
  if (amax >= 0x7F800000u) return 255;
  if (amax == 0) return 127;  // the reference uses E = 0 for an all-zero tensor
  int fl = detail::floor_log2_bits(amax);
  bool pow2 = (amax >> 23) ? (amax & 0x7FFFFFu) == 0 : std::has_single_bit(amax);
  int e = std::clamp(pow2 ? fl : fl + 1, -127, 128);
  if (e == 128) return 255;  // 2^128 overflows FP32 in the reference: all NaN
  uint32_t mask = width_mask(es.width);
  for (size_t i = 0; i < in.size(); ++i) {
    float x = in[i];
    if (x == 0.0f) continue;
    // Reference artifact: FP32 1e-9 is added before taking the sign and before rounding.
    float signed_off = x + 1e-9f;
    if (signed_off == 0.0f) continue;
    float mag = std::fabs(x) + 1e-9f;
    uint64_t k = std::min<uint64_t>(detail::int_mag_code(f2u(mag), e, es.int_frac, Rounding::Rne), es.max_mag_code);
    codes[i] = uint8_t((signed_off < 0 ? uint32_t(-int64_t(k)) : uint32_t(k)) & mask);
  }
  return uint8_t(e + 127);
}

uint8_t encode_plena_hw(std::span<const float> in, std::span<uint8_t> codes) {
  float amax = 0.0f;
  bool special = false;
  for (float x : in) {
    if (!std::isfinite(x)) special = true;
    amax = std::max(amax, std::fabs(x));
  }
  if (special) {  // not defined by the reference; we mark the block NaN like the other codecs
    std::fill(codes.begin(), codes.end(), uint8_t(0));
    return 255;
  }
  int e = std::clamp(floor_log2f_ref(amax + 1e-9f), -127, 127);
  const float inv = pow2f(-e);  // x / 2^e == x * 2^-e: both are one rounding of the same real
  for (size_t i = 0; i < in.size(); ++i) {
    float p = in[i] * inv;
    float t = std::fabs(p);
    int k = std::clamp(floor_log2f_ref(t + 1e-9f), -7, 7);
    float sm = k == -7 ? t * 1024.0f : (t * pow2f(-k) - 1.0f) * 8.0f;
    int m = plena_hw_mantissa(sm);
    codes[i] = uint8_t((p < 0.0f ? 0x80 : 0) | ((k + 7) << 3) | m);
  }
  return uint8_t(e + 127);
}

float plena_hw_element(uint32_t code) {
  uint32_t field = (code >> 3) & 15, m = code & 7;
  float v;
  if (field == 15) v = m ? kNaN : std::numeric_limits<float>::infinity();
  else if (field == 0) v = std::ldexp(float(m), -10);
  else v = std::ldexp(float(8 + m), int(field) - 10);
  return (code & 0x80) ? -v : v;
}

}  // namespace

BlockCodec::BlockCodec(const Format& fmt) : f(fmt) {
  if (f.codec != Codec::OcpMx && f.codec != Codec::MaseBfp && f.codec != Codec::PlenaHwMxfp)
    throw InputError(fmt::format("'{}' is not an E8M0 block format (expected ocp-mx, mase-bfp or plena-hw-mxfp)",
                                 f.name()));
  es = detail::elem_spec(f);
  for (uint32_t c = 0; c < 256; ++c) lut[c] = element_value(c);
  for (int b = 0; b < 256; ++b) {
    scale_lut[size_t(b)] = scale(uint8_t(b));
    int_scale_lut[size_t(b)] = b == 255 ? kNaN : std::ldexp(1.0f, b - 127 - es.int_frac);
  }
}

float BlockCodec::element_value(uint32_t code) const {
  code &= width_mask(es.width);
  if (f.codec == Codec::PlenaHwMxfp) return plena_hw_element(code);
  if (es.is_int) {
    int32_t k = int32_t(code << (32 - es.width)) >> (32 - es.width);  // sign-extend
    return std::ldexp(float(k), -es.int_frac);
  }
  return detail::fp_code_value(code, es);
}

float BlockCodec::scale(uint8_t b) const {
  if (b == 255) return kNaN;
  if (b == 0 && f.codec == Codec::PlenaHwMxfp) return 0.0f;  // the plena decoder maps byte 0 to 0.0
  return std::ldexp(1.0f, int(b) - 127);
}

uint8_t BlockCodec::encode(std::span<const float> in, std::span<uint8_t> codes) const {
  switch (f.codec) {
    case Codec::OcpMx: return encode_ocp(*this, in, codes);
    case Codec::MaseBfp: return encode_mase(*this, in, codes);
    default: return encode_plena_hw(in, codes);
  }
}

void BlockCodec::decode(uint8_t scale_byte, std::span<const uint8_t> codes, std::span<float> out) const {
  if (scale_byte == 255) {
    std::fill(out.begin(), out.end(), kNaN);
    return;
  }
  float sv = scale(scale_byte);
  for (size_t i = 0; i < out.size(); ++i) out[i] = lut[codes[i]] * sv;  // exact: power-of-two scaling
}

bool BlockCodec::code_is_zero(uint32_t code) const {
  code &= width_mask(es.width);
  if (es.is_int) return code == 0;
  return (code & ((1u << (es.width - 1)) - 1)) == 0;
}

namespace {
void check_block_args(const Format& f, size_t n_in, size_t n_codes, std::string_view what) {
  if (n_in > size_t(f.block) || n_codes != n_in)
    throw InputError(fmt::format("{}: block of {} values with {} codes for '{}'; expected at most {} values and as "
                                 "many codes",
                                 what, n_in, n_codes, f.name(), f.block));
}
}  // namespace

const BlockCodec& BlockCodec::cached(const Format& f) {
  // Building the decode table costs 256 conversions; block-at-a-time callers reuse it.
  thread_local std::vector<std::unique_ptr<BlockCodec>> cache;
  for (const auto& c : cache)
    if (c->f == f) return *c;
  if (cache.size() >= 16) cache.erase(cache.begin());
  cache.push_back(std::make_unique<BlockCodec>(f));
  return *cache.back();
}

uint8_t encode_block(const Format& f, std::span<const float> in, std::span<uint8_t> codes) {
  check_block_args(f, in.size(), codes.size(), "encode_block");
  return BlockCodec::cached(f).encode(in, codes);
}

void decode_block(const Format& f, uint8_t scale_byte, std::span<const uint8_t> codes, std::span<float> out) {
  check_block_args(f, out.size(), codes.size(), "decode_block");
  BlockCodec::cached(f).decode(scale_byte, codes, out);
}

float decode_element(const Format& f, uint8_t code) { return BlockCodec::cached(f).element_value(code); }
float scale_value(const Format& f, uint8_t scale_byte) { return BlockCodec::cached(f).scale(scale_byte); }
bool code_is_zero(const Format& f, uint8_t code) { return BlockCodec::cached(f).code_is_zero(code); }

}  // namespace plena::numerics

// Scalar formats: element specs, bf16/fp16/minifloat conversions (exact integer rounding).
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "numerics/detail.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::numerics {
using detail::ElemSpec;
using detail::f2u;
using detail::Special;
using detail::u2f;

namespace detail {

ElemSpec elem_spec(const Format& f) {
  ElemSpec es;
  es.width = f.width;
  if (f.is_int) {
    es.is_int = true;
    es.mbits = f.width - 1;
    es.max_mag_code = (1u << (f.width - 1)) - 1;  // symmetric: -2^(w-1) is never produced
    // ocp-mx int8: value k/64; mase-bfp intW: k * 2^-(W-1).
    es.int_frac = f.codec == Codec::OcpMx ? 6 : f.width - 1;
    es.emax = 0;
    return es;
  }
  es.ebits = f.ebits;
  es.mbits = f.mbits;
  es.bias = (1 << (f.ebits - 1)) - 1;
  es.emin = 1 - es.bias;
  es.sign_bit = f.width >= 32 ? 0x80000000u : (1u << (f.width - 1));
  uint32_t all_exp = (1u << f.ebits) - 1, all_mant = (1u << f.mbits) - 1;
  if (f.element == "fp8_e4m3") {
    es.special = Special::NanAllOnes;
    es.max_mag_code = (all_exp << f.mbits) | (all_mant - 1);
    es.emax = int(all_exp) - es.bias;
  } else if (f.finite_only) {
    es.special = Special::AllFinite;
    es.max_mag_code = (all_exp << f.mbits) | all_mant;
    es.emax = int(all_exp) - es.bias;
  } else {
    es.special = Special::Ieee;
    es.max_mag_code = ((all_exp - 1) << f.mbits) | all_mant;
    es.emax = int(all_exp) - 1 - es.bias;
  }
  return es;
}

float fp_code_value(uint32_t code, const ElemSpec& es) {
  bool neg = (code & es.sign_bit) != 0;
  uint32_t mag = code & (es.sign_bit - 1);
  uint32_t field = mag >> es.mbits, mant = mag & ((1u << es.mbits) - 1);
  float v;
  if (es.special == Special::Ieee && field == (1u << es.ebits) - 1) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else if (es.special == Special::NanAllOnes && mag > es.max_mag_code) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (field == 0) {
    v = std::ldexp(float(mant), es.emin - es.mbits);
  } else {
    v = std::ldexp(float(mant + (1u << es.mbits)), int(field) - es.bias - es.mbits);
  }
  return neg ? -v : v;
}

}  // namespace detail

namespace {

// Encodes a plain float element with RNE. NaN into a format without NaN code throws.
uint32_t encode_fp(float x, const ElemSpec& es, const Format& f) {
  uint32_t u = f2u(x), a = u & 0x7FFFFFFFu;
  uint32_t sbit = (u >> 31) ? es.sign_bit : 0;
  uint32_t inf_code = ((1u << es.ebits) - 1) << es.mbits;
  if (a > 0x7F800000u) {
    if (es.special == Special::NanAllOnes) return sbit | (es.max_mag_code + 1);
    if (es.special == Special::Ieee && es.mbits > 0) {
      uint32_t payload = es.mbits >= 23 ? (a & 0x7FFFFFu) : ((a & 0x7FFFFFu) >> (23 - es.mbits));
      return sbit | inf_code | (1u << (es.mbits - 1)) | payload;
    }
    throw InputError(fmt::format("NaN is not representable in number format '{}' (it has no NaN code)", f.name()));
  }
  if (a == 0x7F800000u) return sbit | (es.special == Special::Ieee ? inf_code : es.max_mag_code);
  uint64_t mag = detail::fp_mag_code(a, 0, es.mbits, es.emin, Rounding::Rne);
  if (mag > es.max_mag_code) mag = es.special == Special::Ieee ? inf_code : es.max_mag_code;
  return sbit | uint32_t(mag);
}

const Format& fp16_format() {
  static const Format f = parse_format("fp16");
  return f;
}
const ElemSpec& fp16_spec() {
  static const ElemSpec es = detail::elem_spec(fp16_format());
  return es;
}

void require_plain(const Format& f, std::string_view what) {
  if (f.is_block())
    throw InputError(fmt::format("{}: '{}' is a block format; expected a plain scalar format (use the block/row API)",
                                 what, f.name()));
}

}  // namespace

float bf16_to_f32(uint16_t bits) { return u2f(uint32_t(bits) << 16); }

uint16_t f32_to_bf16(float x) {
  uint32_t u = f2u(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);
  // RNE on the dropped 16 bits; carries into the exponent (and to Inf) naturally.
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float round_to_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

float fp16_to_f32(uint16_t bits) { return detail::fp_code_value(bits, fp16_spec()); }

uint16_t f32_to_fp16(float x) { return uint16_t(encode_fp(x, fp16_spec(), fp16_format())); }

uint16_t f64_to_fp16(double x) {
  if (std::isnan(x)) return std::signbit(x) ? 0xFE00 : 0x7E00;
  uint16_t sbit = std::signbit(x) ? 0x8000 : 0;
  double a = std::fabs(x);
  if (a == 0) return sbit;
  if (std::isinf(a)) return sbit | 0x7C00;
  int e = std::ilogb(a);
  int p = e > -14 ? e : -14;
  if (p > 16) return sbit | 0x7C00;
  double n = std::nearbyint(std::ldexp(a, 10 - p));  // exact scaling, one RNE rounding
  uint32_t code = (uint32_t(p + 14) << 10) + uint32_t(n);
  if (code >= 0x7C00) code = 0x7C00;
  return uint16_t(sbit | code);
}

float round_to_fp16(float x) { return fp16_to_f32(f32_to_fp16(x)); }

uint32_t encode_scalar(float x, const Format& f) {
  require_plain(f, "encode_scalar");
  if (f.ebits == 8 && f.mbits == 23) return f2u(x);
  if (f.ebits == 8 && f.mbits == 7 && !f.finite_only) return f32_to_bf16(x);
  return encode_fp(x, detail::elem_spec(f), f);
}

float decode_scalar(uint32_t code, const Format& f) {
  require_plain(f, "decode_scalar");
  if (f.ebits == 8 && f.mbits == 23) return u2f(code);
  if (f.ebits == 8 && f.mbits == 7 && !f.finite_only) return bf16_to_f32(uint16_t(code));
  return detail::fp_code_value(code, detail::elem_spec(f));
}

float round_to_format(float x, const Format& f) {
  require_plain(f, "round_to_format");
  if (std::isnan(x)) return x;
  return decode_scalar(encode_scalar(x, f), f);
}

}  // namespace plena::numerics

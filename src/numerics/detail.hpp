// Internal helpers shared by the numerics sources (not part of the public API).
#pragma once
#include <bit>
#include <cstdint>

#include "numerics/format.hpp"

namespace plena::numerics::detail {

// How a float element treats its top exponent code.
enum class Special : uint8_t {
  Ieee,        // all-ones exponent = Inf (mantissa 0) / NaN; overflow rounds to Inf
  NanAllOnes,  // OCP E4M3: only S.1111.111 is NaN, no Inf; saturating
  AllFinite,   // OCP FP6/FP4 and minifloat ..fn: every code is a number; saturating
};

struct ElemSpec {
  bool is_int = false;
  int width = 8;
  int ebits = 0, mbits = 0;  // float: stored mantissa bits; int: magnitude bits (width-1)
  int bias = 0, emin = 0;    // float: emin = 1 - bias (smallest normal exponent)
  int emax = 0;              // largest unbiased exponent of a finite value (ints: 0)
  int int_frac = 0;          // int: value = k * 2^-int_frac
  Special special = Special::AllFinite;
  uint32_t max_mag_code = 0;  // largest finite magnitude code (int: largest |k|)
  uint32_t sign_bit = 0;      // float: 1 << (width-1)
};

// Element spec of a Format's element (plain formats: the scalar itself).
ElemSpec elem_spec(const Format& f);

inline uint32_t f2u(float x) { return std::bit_cast<uint32_t>(x); }
inline float u2f(uint32_t u) { return std::bit_cast<float>(u); }

// floor(log2(|x|)) from the bits of a finite nonzero |x| (FP32 subnormals included).
inline int floor_log2_bits(uint32_t abs_bits) {
  uint32_t e = abs_bits >> 23;
  if (e != 0) return int(e) - 127;
  return (31 - std::countl_zero(abs_bits)) - 149;
}

// Round v * 2^-sh to an integer (sh may be <= 0: exact left shift).
inline uint64_t round_shift(uint64_t v, int sh, Rounding r) {
  if (sh <= 0) return -sh >= 38 ? (uint64_t(1) << 62) : v << (-sh);  // v < 2^24; huge -> callers saturate
  if (sh >= 62) return 0;
  uint64_t q = v >> sh;
  uint64_t rem = v & ((uint64_t(1) << sh) - 1);
  uint64_t half = uint64_t(1) << (sh - 1);
  if (rem > half || (rem == half && (r == Rounding::TiesAway || (q & 1)))) ++q;
  return q;
}

// Magnitude code of |x| * 2^-s on a float element grid (exponent >= emin, mbits stored mantissa
// bits), before any saturation: ((p - emin) << mbits) + n, which carries into the exponent field
// naturally. abs_bits must be finite.
inline uint64_t fp_mag_code(uint32_t abs_bits, int s, int mbits, int emin, Rounding r) {
  uint32_t e = abs_bits >> 23, mant = abs_bits & 0x7FFFFFu;
  if (e == 0 && mant == 0) return 0;
  uint32_t sig = e ? (mant | 0x800000u) : mant;
  int e0 = e ? int(e) - 150 : -149;  // |x| = sig * 2^e0
  int fl = (31 - std::countl_zero(sig)) + e0 - s;
  int p = fl > emin ? fl : emin;
  int qe = p - mbits;
  uint64_t n = round_shift(sig, qe - (e0 - s), r);
  return (uint64_t(p - emin) << mbits) + n;
}

// Integer quanta of |x| * 2^-s with quantum 2^-frac.
inline uint64_t int_mag_code(uint32_t abs_bits, int s, int frac, Rounding r) {
  uint32_t e = abs_bits >> 23, mant = abs_bits & 0x7FFFFFu;
  if (e == 0 && mant == 0) return 0;
  uint32_t sig = e ? (mant | 0x800000u) : mant;
  int e0 = e ? int(e) - 150 : -149;
  return round_shift(sig, -frac - (e0 - s), r);
}

// Value of a float element code (unscaled).
float fp_code_value(uint32_t code, const ElemSpec& es);

}  // namespace plena::numerics::detail

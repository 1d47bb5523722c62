// Explicit-SIMD row kernels (Highway, dynamic dispatch to AVX2 / SSE4 / portable emulation).
// Exactness (docs/numerics.md "Fast paths"): the block scale is a power of two, so
// a = |x| * 2^-s is exact unless it underflows FP32, and values that small round to zero on every
// element grid anyway. Rounding a to a multiple of 2^q is (a + 2^(q+23)) - 2^(q+23) under the
// default RNE mode (the sum lies in [2^(q+23), 2^(q+24)), whose ulp is 2^q); ties-away adds one
// quantum back when the RNE result sits exactly half a quantum below a. Decode computes element
// values from the code bits (no table gather); every product with the block scale is exact.
// Vectors are capped at 8 f32 lanes: blocks of 8 fill a vector on AVX2; Highway's AVX-512 target
// would add compile time for little gain. The two rows that need 16 lanes have hand-written
// AVX-512 kernels (fast_avx512.cpp), dispatched below and in fast.cpp.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_AVX3 | HWY_AVX3_DL | HWY_SSSE3)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "numerics/fast_simd.cpp"
#include <type_traits>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "numerics/fast_avx512.hpp"
#include "numerics/fast_simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace plena::numerics::fast::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::CappedTag<float, 8>;
using DU = hn::RebindToUnsigned<DF>;
using DI = hn::RebindToSigned<DF>;
using D8 = hn::Rebind<uint8_t, DF>;
using DS8 = hn::Rebind<int8_t, DF>;

inline float bits_to_f32(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

size_t Lanes() { return hn::Lanes(DF()); }

HWY_INLINE void StoreCodes(hn::Vec<DI> code, uint8_t* HWY_RESTRICT dst) {
  const D8 d8;
  hn::StoreU(hn::U8FromU32(hn::BitCast(DU(), code)), d8, dst);  // codes are in [0, 255]
}

// Four code vectors -> 4N consecutive bytes (AVX2: two packs and one lane permute).
HWY_INLINE void StoreCodes4(const hn::Vec<DI>* c, uint8_t* HWY_RESTRICT dst) {
#if HWY_TARGET == HWY_AVX2
  const __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(c[0].raw, c[1].raw), _mm256_packus_epi32(c[2].raw, c[3].raw));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                      _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
#else
  const size_t N = hn::Lanes(DF());
  for (size_t j = 0; j < 4; ++j) StoreCodes(c[j], dst + j * N);
#endif
}

// Two code vectors -> 2N consecutive bytes.
HWY_INLINE void StoreCodes2(const hn::Vec<DI>* c, uint8_t* HWY_RESTRICT dst) {
#if HWY_TARGET == HWY_AVX2
  const __m256i w = _mm256_packus_epi32(c[0].raw, c[1].raw);  // [c0 lo, c1 lo | c0 hi, c1 hi] as u16
  const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w, w), _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(b));
#else
  const size_t N = hn::Lanes(DF());
  StoreCodes(c[0], dst);
  StoreCodes(c[1], dst + N);
#endif
}

// ocp-mx float elements. Normal element range: RNE of the FP32 mantissa to m bits on the bit
// pattern (a carry moves into the exponent field, which is exactly the next element code; the
// exponent bias is subtracted before the shift, exact for a >= 2^emin, the only lanes that keep
// it). Subnormal element range: adding c_sub = 2^(emin-m+23) rounds a to a multiple of
// 2^(emin-m), and the bit distance to c_sub is the element mantissa.
// NoSub: the caller checked that every nonzero a is >= 2^emin (no element-subnormal results),
// so only the normal-range rounding is computed and zeros are masked to code 0.
// p = x * 2^-s; the magnitude code of a = |p| is returned. The sign survives where p < 0 (not
// where x * 2^-s is 0): FpCode, or the callers that merge it after packing.
template <bool TiesAway, bool NoSub = false>
HWY_INLINE hn::Vec<DU> FpMag(hn::Vec<DF> p, const FpParams& P) {
  const DF df;
  const DU du;
  const auto a = hn::BitCast(df, hn::And(hn::BitCast(du, p), hn::Set(du, 0x7FFFFFFFu)));
  const auto ab = hn::BitCast(du, a);
  const int sh = int(P.sh);
  const uint32_t unbias = P.code_off << sh;
  hn::Vec<DU> bias;
  if constexpr (TiesAway) {
    bias = hn::Set(du, P.half - unbias);
  } else {
    bias = hn::Add(hn::Set(du, P.half - 1 - unbias), hn::And(hn::ShiftRightSame(ab, sh), hn::Set(du, 1u)));
  }
  const auto normal = hn::ShiftRightSame(hn::Add(ab, bias), sh);
  if constexpr (NoSub) {
    const auto is_zero = hn::RebindMask(du, hn::Eq(a, hn::Zero(df)));
    return hn::IfThenZeroElse(is_zero, hn::Min(normal, hn::Set(du, P.max_code)));
  }
  const auto sum = hn::Add(a, hn::Set(df, P.c_sub));
  auto sub = hn::Sub(hn::BitCast(du, sum), hn::Set(du, P.c_sub_bits));
  if constexpr (TiesAway) {
    const auto back = hn::Sub(sum, hn::Set(df, P.c_sub));
    const auto tie = hn::RebindMask(du, hn::Eq(hn::Sub(a, back), hn::Set(df, P.half_sub)));
    sub = hn::Sub(sub, hn::VecFromMask(du, tie));  // mask lanes are all ones: -(-1) = +1
  }
  const auto code = hn::IfThenElse(hn::RebindMask(du, hn::Lt(a, hn::Set(df, P.min_norm))), sub, normal);
  return hn::Min(code, hn::Set(du, P.max_code));
}

// Full code: the sign bit of negative p moved to bit width-1.
template <bool TiesAway, bool NoSub = false>
HWY_INLINE hn::Vec<DI> FpCode(hn::Vec<DF> x, hn::Vec<DF> inv, const FpParams& P) {
  const DF df;
  const DU du;
  const auto p = hn::Mul(x, inv);
  const auto sign = hn::IfThenElseZero(hn::RebindMask(du, hn::Lt(p, hn::Zero(df))), hn::Set(du, 1u << P.sign_shift));
  return hn::BitCast(DI(), hn::Or(FpMag<TiesAway, NoSub>(p, P), sign));
}

#if HWY_TARGET == HWY_AVX2
// Four magnitude-code vectors and their products p -> 32 consecutive code bytes, the sign bit
// (sign_byte) set where p < 0: the sign masks ride through the same packs as the codes.
HWY_INLINE void StoreSignedCodes4(const hn::Vec<DU>* c, const __m256* p, __m256i sign_byte, uint8_t* HWY_RESTRICT dst) {
  __m256i neg[4];
  for (int i = 0; i < 4; ++i) neg[i] = _mm256_castps_si256(_mm256_cmp_ps(p[i], _mm256_setzero_ps(), _CMP_LT_OQ));
  const __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(c[0].raw, c[1].raw), _mm256_packus_epi32(c[2].raw, c[3].raw));
  const __m256i n = _mm256_packs_epi16(_mm256_packs_epi32(neg[0], neg[1]), _mm256_packs_epi32(neg[2], neg[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                      _mm256_permutevar8x32_epi32(_mm256_or_si256(b, _mm256_and_si256(n, sign_byte)),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#endif

// Symmetric two's-complement integer code k = RNE((|x| + offset) * 2^(frac-s)) clamped to kmax
// (ocp-mx int8, mase-bfp intW); Offset adds the mase 1e-9 artifact to magnitude and sign test.
// IntMag is k before the sign; IntSignSource the value whose sign (< 0) negates it.
template <bool TiesAway, bool Offset>
HWY_INLINE hn::Vec<DI> IntMag(hn::Vec<DF> x, hn::Vec<DF> mul, int32_t kmax) {
  const DF df;
  const DI di;
  const auto magic = hn::Set(df, 8388608.0f);  // 2^23: a + 2^23 has ulp 1, its mantissa bits are RNE(a)
  auto ax = hn::Abs(x);
  if constexpr (Offset) ax = hn::Add(ax, hn::Set(df, 1e-9f));
  // Clamping far above kmax keeps the magic-number rounding valid; it cannot change a saturated k.
  const auto a = hn::Min(hn::Mul(ax, mul), hn::Set(df, 4194304.0f));
  const auto sum = hn::Add(a, magic);
  auto k = hn::Sub(hn::BitCast(di, sum), hn::Set(di, 0x4B000000));
  if constexpr (TiesAway) {
    const auto r = hn::Sub(sum, magic);
    k = hn::Sub(k, hn::VecFromMask(di, hn::RebindMask(di, hn::Eq(hn::Sub(a, r), hn::Set(df, 0.5f)))));
  }
  return hn::Min(k, hn::Set(di, kmax));
}

template <bool Offset>
HWY_INLINE hn::Vec<DF> IntSignSource(hn::Vec<DF> x) {
  if constexpr (Offset) return hn::Add(x, hn::Set(DF(), 1e-9f));
  return x;
}

template <bool TiesAway, bool Offset>
HWY_INLINE hn::Vec<DI> IntCode(hn::Vec<DF> x, hn::Vec<DF> mul, int32_t kmax, uint32_t mask) {
  const DF df;
  const DI di;
  auto k = IntMag<TiesAway, Offset>(x, mul, kmax);
  const auto signed_off = IntSignSource<Offset>(x);
  auto zero = hn::Eq(x, hn::Zero(df));
  if constexpr (Offset) zero = hn::Or(zero, hn::Eq(signed_off, hn::Zero(df)));
  k = hn::IfThenZeroElse(hn::RebindMask(di, zero), k);
  const auto v = hn::IfThenElse(hn::RebindMask(di, hn::Lt(signed_off, hn::Zero(df))), hn::Neg(k), k);
  return hn::And(v, hn::Set(di, int32_t(mask)));
}

#if HWY_TARGET == HWY_AVX2
// Four IntMag vectors and their sign sources -> 32 consecutive codes: the negative masks ride
// the same packs, and (k ^ n) - n negates in bytes (k <= 127). Exact where IntCode's zero test
// would only zero a k that is 0 already (the caller checks that).
HWY_INLINE void StoreIntCodes4(const hn::Vec<DI>* k, const hn::Vec<DF>* sgn, __m256i mask_byte, uint8_t* HWY_RESTRICT dst) {
  __m256i neg[4];
  for (int i = 0; i < 4; ++i) neg[i] = _mm256_castps_si256(_mm256_cmp_ps(sgn[i].raw, _mm256_setzero_ps(), _CMP_LT_OQ));
  const __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(k[0].raw, k[1].raw), _mm256_packus_epi32(k[2].raw, k[3].raw));
  const __m256i n = _mm256_packs_epi16(_mm256_packs_epi32(neg[0], neg[1]), _mm256_packs_epi32(neg[2], neg[3]));
  const __m256i c = _mm256_and_si256(_mm256_sub_epi8(_mm256_xor_si256(b, n), n), mask_byte);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#endif

// plena-hw-mxfp element (block.cpp encode_plena_hw) from the bits of t = |x * 2^-e|, no float
// log2. Reference: k = clamp(floor(log2f(t + 1e-9)), -7, 7); field k + 7; mantissa sm = (t*2^-k - 1)*8
// (k > -7) or t*1024 (k = -7), truncated to 2 fraction bits, then rounded half-even, clamp [0, 7].
// With E = t's biased exponent and h = bits >> 18 = E << 5 | top 5 mantissa bits:
// * t + 1e-9 adds at most 2 ulps of t for t >= 2^-7, so unless t's mantissa is within 2 ulps of
//   the log2 band (from where log2f rounds up, measured in fast.cpp; at most 0x7FF000, where the
//   reference starts calling libm; such lanes are flagged in `near`, mantissa > `band`) the log2
//   is exactly E - 127; below 2^-7 it clamps to -7 anyway.
// * k >= -6 (E >= 121): the code is E - 120 in the field and RNE2(h) in the mantissa, i.e.
//   min(RNE2(h), E << 3 | 7) - (120 << 3) with RNE2(h) = (h + 1 + bit 2 of h) >> 2.
// * k = -7: RNE2(q) with q = floor(t * 4096) (t * 1024 * 4 exact); q >= 29 saturates, so
//   q' = min(q, 31) + (120 << 5) runs through the same formula, and max(h, q') picks the path
//   (h <= q' exactly when E <= 120; E = 120 gives 7 either way). Computed with everything
//   offset by -(120 << 5) (arithmetic shift: sub lanes go negative and lose the max).
HWY_INLINE hn::Vec<DI> PlenaCode(hn::Vec<DF> x, hn::Vec<DF> inv, hn::Vec<DI> band, hn::Vec<DU>& near) {
  const DF df;
  const DI di;
  const auto p = hn::Mul(x, inv);
  const auto a = hn::And(hn::BitCast(di, p), hn::Set(di, 0x7FFFFFFF));
  near = hn::Or(near, hn::BitCast(DU(), hn::VecFromMask(di, hn::Gt(hn::And(a, hn::Set(di, 0x7FFFFF)),
                                                                      band))));
  const auto sub_x = hn::Min(hn::Mul(hn::BitCast(df, a), hn::Set(df, 4096.0f)), hn::Set(df, 31.0f));
#if HWY_TARGET == HWY_AVX2
  const hn::Vec<DI> q{_mm256_cvttps_epi32(sub_x.raw)};  // 0 <= sub_x <= 31
#else
  const auto q = hn::ConvertTo(di, sub_x);
#endif
  // Offset by -(120 << 5): the field then needs no final subtraction (120 << 5 is a multiple of 8).
  const auto h = hn::Max(hn::ShiftRight<18>(hn::Sub(a, hn::Set(di, (120 << 5) << 18))), q);
  const auto h4 = hn::ShiftRight<2>(h);
  const auto odd = hn::And(h4, hn::Set(di, 1));
#if HWY_TARGET == HWY_AVX2
  // (h + odd + 1) >> 2 as avg_u16(h, odd) >> 1: h < 2^13, so the upper u16 halves stay zero.
  const hn::Vec<DI> r{_mm256_srli_epi32(_mm256_avg_epu16(h.raw, odd.raw), 1)};
#else
  const auto r = hn::ShiftRight<2>(hn::Add(hn::Add(h, odd), hn::Set(di, 1)));
#endif
  const auto code = hn::Min(r, hn::Or(h4, hn::Set(di, 7)));
  const auto sign = hn::IfThenElseZero(hn::RebindMask(di, hn::Lt(p, hn::Zero(df))), hn::Set(di, 0x80));
  return hn::Or(code, sign);
}

#if HWY_TARGET == HWY_AVX2
// PlenaCode for four vectors (32 codes) without the band test, with the steps after h on
// sixteen 16-bit lanes (h < 2^13): half the instructions for the rounding, clamp and sign.
// Writes 32 code bytes in element order; vector i (of k .. k + 3 in the group) belongs to block
// (k + i) / NV, whose multiplier is muls[(k + i) / NV].
template <size_t NV>
HWY_INLINE void PlenaCodes4(const float* x, const float* muls, size_t k, uint8_t* dst) {
  __m256i h[4], neg[4];
  for (size_t i = 0; i < 4; ++i) {
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), _mm256_broadcast_ss(muls + (k + i) / NV));
    const __m256i a = _mm256_and_si256(_mm256_castps_si256(p), _mm256_set1_epi32(0x7FFFFFFF));
    const __m256 sub_x = _mm256_min_ps(_mm256_mul_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(4096.0f)),
                                       _mm256_set1_ps(31.0f));
    h[i] = _mm256_max_epi32(_mm256_srai_epi32(_mm256_sub_epi32(a, _mm256_set1_epi32((120 << 5) << 18)), 18),
                            _mm256_cvttps_epi32(sub_x));
    neg[i] = _mm256_castps_si256(_mm256_cmp_ps(p, _mm256_setzero_ps(), _CMP_LT_OQ));
  }
  __m256i code[2];
  for (int k = 0; k < 2; ++k) {  // lanes in packus order; the final permute restores element order
    const __m256i w = _mm256_packus_epi32(h[2 * k], h[2 * k + 1]);
    const __m256i w4 = _mm256_srli_epi16(w, 2);
    const __m256i r = _mm256_srli_epi16(_mm256_avg_epu16(w, _mm256_and_si256(w4, _mm256_set1_epi16(1))), 1);
    const __m256i sign = _mm256_and_si256(_mm256_packs_epi32(neg[2 * k], neg[2 * k + 1]), _mm256_set1_epi16(0x80));
    code[k] = _mm256_or_si256(_mm256_min_epu16(r, _mm256_or_si256(w4, _mm256_set1_epi16(7))), sign);
  }
  const __m256i b = _mm256_packus_epi16(code[0], code[1]);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                      _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#endif

// Encodes the blocks [b_begin, b_end) with NV vectors per block (NV = 0: B / lanes at run time).
// The block maximum is reduced across lanes into a broadcast vector, so the element multiplier
// is derived from it without leaving the vector unit; only the scale byte and the slow-path test
// go through a scalar register.
template <EncodeKind K, bool TiesAway, size_t NV>
void EncodeBlocksT(const EncodeArgs& A, const float* HWY_RESTRICT x, uint8_t* HWY_RESTRICT codes,
                   uint8_t* HWY_RESTRICT scales, size_t nblocks, std::vector<size_t>& slow) {
  const DF df;
  const DU du;
  const DI di;
  const size_t N = hn::Lanes(df);
  const size_t nv = NV ? NV : A.block / N, B = nv * N;
  const FpParams P = A.fp;  // local copies: code stores (bytes) may alias anything
  // Element emin recovered from code_off = (126 + emin) << m.
  const int P_emin = int(P.code_off >> (23 - P.sh)) - 126;
  const int32_t kmax = A.kmax;
  const uint32_t mask = A.mask;
  const uint32_t plena_band = A.plena_band;
  const auto abs_mask = hn::Set(du, 0x7FFFFFFFu);
  // ocp-mx: s = E - 127 - emax with E the biased exponent of the block max; multiplier bits
  // (127 - s + frac) << 23 = (mul_base - E) << 23. mase-bfp: s = E - 127 + (mantissa != 0).
  // Blocks outside E in [e_lo, e_hi] (zero, FP32-subnormal max, Inf/NaN, |s| > ~100) go slow.
  const int frac = K == EncodeKind::OcpFp ? 0 : A.int_frac;
  const int emax = K == EncodeKind::Mase ? 0 : A.emax;
  const auto mul_base = hn::Set(di, 254 + emax + frac);
  const uint32_t e_lo = uint32_t(27 + emax), e_span = 199;  // E - 127 - emax in [-100, 99]
  const auto mant_mask = hn::Set(du, 0x7FFFFFu);
  size_t b = 0;
#if HWY_TARGET == HWY_AVX2
  if constexpr (NV == 1 || NV == 2 || NV == 4) {
    // Blocks of one, two or four vectors (B = 8, 16, 32): eight blocks at a time, their maxima
    // reduced by a transpose into one vector whose lane j belongs to block j, so exponents, scale
    // bytes, multipliers and the slow-path test cost a few instructions per eight blocks instead
    // of a serial reduction and scalar work per block.
    constexpr size_t kB = NV * 8;
    const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF), mant = _mm256_set1_epi32(0x7FFFFF);
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                                               12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    // Lane j of the result: op over the eight lanes of v[j].
    auto transpose_reduce = [](__m256i* v, auto op) {
      __m256i p[4], q[2];
      for (int j = 0; j < 4; ++j)  // [a0 b0 a1 b1 | ..] vs [a2 b2 a3 b3 | ..]
        p[j] = op(_mm256_unpacklo_epi32(v[2 * j], v[2 * j + 1]), _mm256_unpackhi_epi32(v[2 * j], v[2 * j + 1]));
      for (int j = 0; j < 2; ++j)
        q[j] = op(_mm256_unpacklo_epi64(p[2 * j], p[2 * j + 1]), _mm256_unpackhi_epi64(p[2 * j], p[2 * j + 1]));
      return op(_mm256_permute2x128_si256(q[0], q[1], 0x20), _mm256_permute2x128_si256(q[0], q[1], 0x31));
    };
    auto umax = [](__m256i u, __m256i v) { return _mm256_max_epu32(u, v); };
    const __m256i sign_byte = _mm256_set1_epi8(char(1u << P.sign_shift));
    const __m256i mask_byte = _mm256_set1_epi8(char(mask));
    for (; b + 8 <= nblocks; b += 8) {
      const float* xg = x + b * kB;
      __m256i a[8], mn[8], band = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        for (size_t v = 0; v < NV; ++v) {
          const __m256i ax = _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(xg + kB * size_t(j) + 8 * v)), absm);
          a[j] = v ? _mm256_max_epu32(a[j], ax) : ax;
          // plena-hw: PlenaCode's band test on x itself (t = |x| * 2^-e has x's mantissa unless it
          // is an FP32 subnormal, and then its code is 0 whatever the log2); largest mantissa of
          // the group here, the blocks only when it is in the band (~3% of Gaussian groups).
          if constexpr (K == EncodeKind::Plena) band = _mm256_max_epi32(band, _mm256_and_si256(ax, mant));
          if constexpr (K == EncodeKind::OcpFp) {  // bits - 1 wraps zeros to the top
            const __m256i am1 = _mm256_sub_epi32(ax, _mm256_set1_epi32(1));
            mn[j] = v ? _mm256_min_epu32(mn[j], am1) : am1;
          }
        }
      }
      const __m256i r = transpose_reduce(a, umax);  // lane j: max of block j
      __m256i sb, mulv, bad;
      bool group_no_sub = false;
      if constexpr (K == EncodeKind::Plena) {
        const __m256i yb = _mm256_castps_si256(_mm256_add_ps(_mm256_castsi256_ps(r), _mm256_set1_ps(1e-9f)));
        const __m256i E = _mm256_srli_epi32(yb, 23);
        bad = _mm256_or_si256(_mm256_cmpgt_epi32(E, _mm256_set1_epi32(253)),
                              _mm256_cmpgt_epi32(_mm256_and_si256(yb, mant), _mm256_set1_epi32(0x7FEFFF)));
        sb = E;
        mulv = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(254), E), 23);
      } else {
        const __m256i E = _mm256_srli_epi32(r, 23);
        const __m256i d = _mm256_sub_epi32(E, _mm256_set1_epi32(int(e_lo)));
        bad = _mm256_or_si256(_mm256_cmpgt_epi32(d, _mm256_set1_epi32(int(e_span))),
                              _mm256_cmpgt_epi32(_mm256_setzero_si256(), d));
        __m256i ev = E;
        if constexpr (K == EncodeKind::Mase) {  // + 1 unless the max is a power of two
          const __m256i pow2 = _mm256_cmpeq_epi32(_mm256_and_si256(r, mant), _mm256_setzero_si256());
          ev = _mm256_add_epi32(E, _mm256_add_epi32(_mm256_set1_epi32(1), pow2));
          sb = ev;
        } else {
          sb = _mm256_sub_epi32(E, _mm256_set1_epi32(emax));
        }
        mulv = _mm256_slli_epi32(_mm256_sub_epi32(mul_base.raw, ev), 23);
        if constexpr (K == EncodeKind::OcpFp) {
          // As the per-block path: nonzero |x| >= 2^(emin + s) in every (good) block -> NoSub.
          // The group's smallest nonzero |x| stands in for each block's (never larger, so the
          // test stays sound; a reduction instead of a transpose).
          const __m256i t_exp = _mm256_add_epi32(E, _mm256_set1_epi32(P_emin - emax));
          const __m256i thr = _mm256_sub_epi32(_mm256_slli_epi32(t_exp, 23), _mm256_set1_epi32(1));
          __m256i m = mn[0];
          for (int j = 1; j < 8; ++j) m = _mm256_min_epu32(m, mn[j]);
          m = _mm256_min_epu32(m, _mm256_permute2x128_si256(m, m, 0x01));
          m = _mm256_min_epu32(m, _mm256_shuffle_epi32(m, 0x4E));
          m = _mm256_min_epu32(m, _mm256_shuffle_epi32(m, 0xB1));
          const __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(t_exp, _mm256_setzero_si256()),
                                              _mm256_cmpeq_epi32(_mm256_max_epu32(m, thr), m));
          group_no_sub = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(ok, bad))) == 0xFF;
        }
      }
      // Low byte of each lane -> 8 scale bytes (slow blocks get overwritten by the caller).
      const __m256i sbytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(sb, low_bytes),
                                                         _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(scales + b), _mm256_castsi256_si128(sbytes));
      unsigned badbits = unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(bad)));
      if constexpr (K == EncodeKind::Plena) {
        const __m256i thr = _mm256_set1_epi32(int32_t(plena_band)), in_band = _mm256_cmpgt_epi32(band, thr);
        if (!_mm256_testz_si256(in_band, in_band)) {
          for (unsigned j = 0; j < 8; ++j) {
            __m256i nv = _mm256_setzero_si256();
            for (size_t v = 0; v < NV; ++v)
              nv = _mm256_or_si256(nv, _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_loadu_si256(
                                                              reinterpret_cast<const __m256i*>(xg + kB * j + 8 * v)), mant), thr));
            badbits |= unsigned(!_mm256_testz_si256(nv, nv)) << j;
          }
        }
      }
      // Integers: IntCode zeroes k for x = 0 (and mase's x + 1e-9 = 0), where |x| + offset is at
      // most 2e-9; with every good block's multiplier <= 2^27 that k is 0 anyway (a <= 0.27).
      bool int_signs_packed = K == EncodeKind::OcpInt;
      if constexpr (K == EncodeKind::Mase) {
        const __m256i big = _mm256_andnot_si256(bad, _mm256_cmpgt_epi32(mulv, _mm256_set1_epi32((127 + 27) << 23)));
        int_signs_packed = _mm256_testz_si256(big, big);
      }
      alignas(32) float muls[8];  // per-block multipliers, broadcast-loaded below
      _mm256_store_si256(reinterpret_cast<__m256i*>(muls), mulv);
      // Every block is encoded (garbage for bad ones, which the caller re-encodes); the inputs
      // are re-read from L1 rather than held in registers. Vector k of the group is vector
      // k % NV of block k / NV; four at a time make 32 consecutive codes.
      if constexpr (K == EncodeKind::Plena) {
        for (size_t k = 0; k < 8 * NV; k += 4) PlenaCodes4<NV>(xg + 8 * k, muls, k, codes + b * kB + 8 * k);
        for (; badbits; badbits &= badbits - 1) slow.push_back(b + size_t(__builtin_ctz(badbits)));
        continue;
      }
      auto encode_group = [&](auto no_sub) {
        for (size_t k = 0; k < 8 * NV; k += 4) {
          const auto mj = [&](size_t i) { return hn::Set(df, muls[(k + i) / NV]); };
          const auto xj = [&](size_t i) { return hn::Vec<DF>{_mm256_loadu_ps(xg + 8 * (k + i))}; };
          if constexpr (K == EncodeKind::OcpFp) {
            hn::Vec<DU> c[4];
            __m256 p[4];
            for (size_t i = 0; i < 4; ++i) {
              const hn::Vec<DF> pi = hn::Mul(xj(i), mj(i));
              p[i] = pi.raw;
              c[i] = FpMag<TiesAway, decltype(no_sub)::value>(pi, P);
            }
            StoreSignedCodes4(c, p, sign_byte, codes + b * kB + 8 * k);
          } else if (int_signs_packed) {
            constexpr bool kOff = K == EncodeKind::Mase;
            hn::Vec<DI> c[4];
            hn::Vec<DF> sgn[4];
            for (size_t i = 0; i < 4; ++i) {
              c[i] = IntMag<TiesAway, kOff>(xj(i), mj(i), kmax);
              sgn[i] = IntSignSource<kOff>(xj(i));
            }
            StoreIntCodes4(c, sgn, mask_byte, codes + b * kB + 8 * k);
          } else {
            hn::Vec<DI> c[4];
            for (size_t i = 0; i < 4; ++i) c[i] = IntCode<TiesAway, K == EncodeKind::Mase>(xj(i), mj(i), kmax, mask);
            StoreCodes4(c, codes + b * kB + 8 * k);
          }
        }
      };
      if (group_no_sub) encode_group(std::true_type());
      else encode_group(std::false_type());
      for (; badbits; badbits &= badbits - 1) slow.push_back(b + size_t(__builtin_ctz(badbits)));
    }
  }
#endif
  for (; b < nblocks; ++b) {
    const float* xb = x + b * B;
    uint8_t* cb = codes + b * B;
    // Float elements also track the smallest nonzero |x| (bits - 1 wraps zeros to the
    // top): a block without element-subnormal results skips that rounding path.
    constexpr bool kSubCheck = K == EncodeKind::OcpFp;
    auto m = hn::Zero(du);
    auto mn = hn::Set(du, 0xFFFFFFFFu);
    for (size_t j = 0; j < nv; ++j) {
      const auto ax = hn::And(hn::BitCast(du, hn::LoadU(df, xb + j * N)), abs_mask);
      m = hn::Max(m, ax);
      if constexpr (kSubCheck) mn = hn::Min(mn, hn::Sub(ax, hn::Set(du, 1u)));
    }
    const auto mb = hn::MaxOfLanes(du, m);  // block max in every lane
    // Re-read from L1 rather than held in registers: the element kernels need most of them.
    auto load = [&](size_t j) { return hn::LoadU(df, xb + j * N); };
    if constexpr (K == EncodeKind::Plena) {
      // e = floor(log2(amax + 1e-9)) from the bits; inverse scale 2^-e = (254 - E) << 23.
      const auto yb = hn::BitCast(du, hn::Add(hn::BitCast(df, mb), hn::Set(df, 1e-9f)));
      const uint32_t y = hn::GetLane(yb), E = y >> 23;
      // Inf/NaN maxima give E = 255; float log2 may round up near a power of two; 2^-e is
      // subnormal for e = 127.
      if (E > 253 || (y & 0x7FFFFFu) >= 0x7FF000u) {
        slow.push_back(b);
        scales[b] = 127;
        continue;
      }
      scales[b] = uint8_t(E);
      const auto inv = hn::BitCast(df, hn::ShiftLeft<23>(hn::Sub(hn::Set(di, 254), hn::BitCast(di, hn::ShiftRight<23>(yb)))));
      auto near = hn::Zero(du);
      const auto band = hn::Set(di, int32_t(plena_band));
      for (size_t j = 0; j < nv; ++j) StoreCodes(PlenaCode(load(j), inv, band, near), cb + j * N);
      if (!hn::AllFalse(du, hn::MaskFromVec(near))) slow.push_back(b);
    } else {
      const uint32_t am = hn::GetLane(mb), E = am >> 23;
      if (E - e_lo > e_span) {
        slow.push_back(b);
        scales[b] = 127;
        continue;
      }
      auto ev = hn::BitCast(di, hn::ShiftRight<23>(mb));
      if constexpr (K == EncodeKind::Mase) {
        const bool pow2 = (am & 0x7FFFFFu) == 0;
        scales[b] = uint8_t(int(E) + (pow2 ? 0 : 1));
        // ceil exponent: one more unless the max is a power of two (mask lanes are -1).
        ev = hn::Sub(ev, hn::VecFromMask(di, hn::RebindMask(di, hn::Ne(hn::And(mb, mant_mask), hn::Zero(du)))));
      } else {
        scales[b] = uint8_t(int(E) - emax);
      }
      const auto mul = hn::BitCast(df, hn::ShiftLeft<23>(hn::Sub(mul_base, ev)));
      auto store_all = [&](auto no_sub) {
        auto code = [&](size_t j) {
          if constexpr (K == EncodeKind::OcpFp) return FpCode<TiesAway, decltype(no_sub)::value>(load(j), mul, P);
          else return IntCode<TiesAway, K == EncodeKind::Mase>(load(j), mul, kmax, mask);
        };
        if constexpr (NV != 0 && NV % 4 == 0) {
          for (size_t j = 0; j < NV; j += 4) {
            const hn::Vec<DI> c[4] = {code(j), code(j + 1), code(j + 2), code(j + 3)};
            StoreCodes4(c, cb + j * N);
          }
        } else if constexpr (NV == 2) {
          const hn::Vec<DI> c[2] = {code(0), code(1)};
          StoreCodes2(c, cb);
        } else {
          for (size_t j = 0; j < nv; ++j) StoreCodes(code(j), cb + j * N);
        }
      };
      bool no_sub = false;
      if constexpr (kSubCheck) {
        // Nonzero |x| >= 2^(emin + s) <=> a >= 2^emin; 2^(emin + s) = bits (emin + E - emax) << 23.
        const int t_exp = P_emin + int(E) - emax;
        no_sub = t_exp >= 1 && hn::GetLane(hn::MinOfLanes(du, mn)) >= (uint32_t(t_exp) << 23) - 1;
      }
      if (no_sub) store_all(std::true_type());
      else store_all(std::false_type());
    }
  }
}

template <EncodeKind K, bool TiesAway>
void EncodeBlocksNV(const EncodeArgs& A, const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks,
                    std::vector<size_t>& slow) {
  switch (A.block / hn::Lanes(DF())) {
    case 1: return EncodeBlocksT<K, TiesAway, 1>(A, x, codes, scales, nblocks, slow);
    case 2: return EncodeBlocksT<K, TiesAway, 2>(A, x, codes, scales, nblocks, slow);
    case 4: return EncodeBlocksT<K, TiesAway, 4>(A, x, codes, scales, nblocks, slow);
    case 8: return EncodeBlocksT<K, TiesAway, 8>(A, x, codes, scales, nblocks, slow);
    default: return EncodeBlocksT<K, TiesAway, 0>(A, x, codes, scales, nblocks, slow);
  }
}

void EncodeBlocks(const EncodeArgs& A, const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks,
                  std::vector<size_t>& slow) {
  switch (A.kind) {
    case EncodeKind::OcpFp:
      if (A.ties_away) return EncodeBlocksNV<EncodeKind::OcpFp, true>(A, x, codes, scales, nblocks, slow);
      return EncodeBlocksNV<EncodeKind::OcpFp, false>(A, x, codes, scales, nblocks, slow);
    case EncodeKind::OcpInt:
      if (A.ties_away) return EncodeBlocksNV<EncodeKind::OcpInt, true>(A, x, codes, scales, nblocks, slow);
      return EncodeBlocksNV<EncodeKind::OcpInt, false>(A, x, codes, scales, nblocks, slow);
    case EncodeKind::Mase: return EncodeBlocksNV<EncodeKind::Mase, false>(A, x, codes, scales, nblocks, slow);
    case EncodeKind::Plena: return EncodeBlocksNV<EncodeKind::Plena, false>(A, x, codes, scales, nblocks, slow);
  }
}

// Loop-invariant vectors of the float decode, built once per call: the output stores could
// otherwise alias the argument struct and force a reload of every parameter per vector.
struct FloatDecodeConsts {
  hn::Vec<DI> mag_mask, sign_mask, inf_bits, nan_bits;
  hn::Vec<DI> first_normal, special_min, last_finite;
  int sh;
};

// Element values of sign-extended codes c: field >= 1 -> bits (mag << sh) + off, field 0 ->
// mant * sub (one exact product), specials -> Inf / quiet NaN; then the sign. With off and sub
// pre-multiplied by the block scale (exponent add) this is the final output.
// Special-code handling of FloatElements: none (the caller checked the codes), NaN only
// (OCP E4M3: S.1111.111), IEEE-like (special_min is the Inf code, above it NaN).
// kNormalOnly: every code is a finite normal (no field 0 either), so no selects at all.
enum Specials : int { kNoSpecials = 0, kNanOnly = 1, kInfNan = 2, kNormalOnly = 3 };

template <int Spec>
HWY_INLINE hn::Vec<DF> FloatElements(hn::Vec<DI> c, hn::Vec<DI> off, hn::Vec<DF> sub_scale,
                                     const FloatDecodeConsts& K) {
  const DF df;
  const DI di;
  const auto mag = hn::And(c, K.mag_mask);
  const auto sign = hn::And(c, K.sign_mask);  // sign-extended code: bit 31 is the code's sign
  const auto normal = hn::Add(hn::ShiftLeftSame(mag, K.sh), off);
  if constexpr (Spec == kNormalOnly) return hn::BitCast(df, hn::Or(normal, sign));
  // Field-0 lanes have mag == mantissa; other lanes' products are discarded by the select.
  const auto sub = hn::BitCast(di, hn::Mul(hn::ConvertTo(df, mag), sub_scale));
  auto v = hn::IfThenElse(hn::Lt(mag, K.first_normal), sub, normal);
  if constexpr (Spec == kInfNan) {
    const auto inf_or_nan = hn::IfThenElse(hn::Eq(mag, K.special_min), K.inf_bits, K.nan_bits);
    v = hn::IfThenElse(hn::Gt(mag, K.last_finite), inf_or_nan, v);
  } else if constexpr (Spec == kNanOnly) {
    v = hn::IfThenElse(hn::Eq(mag, K.special_min), K.nan_bits, v);
  }
  return hn::BitCast(df, hn::Or(v, sign));
}

#if HWY_TARGET == HWY_AVX2
// Classifies code bytes: a special code has a magnitude above last_finite (NaN/Inf codes), an
// odd one is special or field 0 (zero and element subnormals): magnitude - first_normal, wrapped
// to a byte, exceeds last_finite - first_normal. Bytewise maxima of both are accumulated per 32
// codes (two operations) and compared once.
struct CodeClass {
  __m256i last_finite, first_normal, normal_span;
};
struct CodeMax {
  __m256i mag, dist;
};
HWY_INLINE void AddCodes32(CodeMax& cm, const uint8_t* p, const CodeClass& cc) {
  const __m256i m = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi8(0x7F));
  cm.mag = _mm256_max_epu8(cm.mag, m);
  cm.dist = _mm256_max_epu8(cm.dist, _mm256_sub_epi8(m, cc.first_normal));
}
HWY_INLINE bool AnySpecial(const CodeMax& cm, const CodeClass& cc) {  // signed bytes: magnitudes <= 0x7F
  const __m256i sp = _mm256_cmpgt_epi8(cm.mag, cc.last_finite);
  return !_mm256_testz_si256(sp, sp);
}
HWY_INLINE bool AnyOdd(const CodeMax& cm, const CodeClass& cc) {
  return _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(cm.dist, cc.normal_span), cc.normal_span)) != -1;
}
#endif

template <DecodeKind K, bool HasInf>
void DecodeBlocksT(const DecodeArgs& A, const uint8_t* HWY_RESTRICT codes, const uint8_t* HWY_RESTRICT scales,
                   float* HWY_RESTRICT out, size_t nblocks) {
  const DF df;
  const DI di;
  const DS8 ds8;
  const size_t N = hn::Lanes(df), B = A.block;
  const float* HWY_RESTRICT scale_tab = A.scale_tab;
  const FloatDecodeConsts C{hn::Set(di, 0x7F),
                            hn::Set(di, int32_t(0x80000000u)),
                            hn::Set(di, 0x7F800000),
                            hn::Set(di, 0x7FC00000),
                            hn::Set(di, int32_t(1u << A.mbits)),
                            hn::Set(di, int32_t(A.special_min)),
                            hn::Set(di, int32_t(A.special_min) - 1),
                            int(23 - A.mbits)};
  // Scale bytes for which the output exponent field of every finite normal code stays within
  // [1, 254]: there the block scale is an exponent add (exact, same bits as the product).
  const int bias = 127 - int(A.normal_off >> 23);
  const int fmax = int((A.special_min <= 0x7F ? A.special_min - 1 : 0x7Fu) >> A.mbits);
  const uint32_t s_lo = uint32_t(bias), s_span = uint32_t(254 - fmax);
  const auto normal_off = hn::Set(di, int32_t(A.normal_off));
  const auto sub_scale = hn::Set(df, A.sub_scale);
  const auto nan = hn::Set(df, bits_to_f32(0x7FC00000u));
  constexpr int kSpec = HasInf ? kInfNan : kNanOnly;
#if HWY_TARGET == HWY_AVX2
  const int last_finite = A.special_min <= 0x7F ? int(A.special_min) - 1 : 0x7F;
  const CodeClass cc{_mm256_set1_epi8(char(last_finite)), _mm256_set1_epi8(char(1 << A.mbits)),
                     _mm256_set1_epi8(char(last_finite - (1 << A.mbits)))};
#endif
  const bool all_finite = A.special_min > 0x7F;
  const uint32_t normal_off_bits = A.normal_off;  // locals: the float stores may alias A
  const float sub_scale_f = A.sub_scale;
  size_t b = 0;
#if HWY_TARGET == HWY_AVX2
  if (K == DecodeKind::Float && (B == 8 || (all_finite && (B == 16 || B == 32)))) {
    // Blocks of one vector (or 2 and 4 vectors of formats without NaN/Inf codes), eight at a
    // time: offsets and subnormal multipliers of all eight scale bytes in one vector. Groups with
    // a scale byte outside the exponent-add range (or 255) go through the per-block loop below.
    const __m256i lo = _mm256_set1_epi32(int(s_lo)), span = _mm256_set1_epi32(int(s_span));
    size_t stop = 0;
    for (; b + 8 <= nblocks; b += 8) {
      const __m256i S = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales + b)));
      const __m256i d = _mm256_sub_epi32(S, lo);
      const __m256i out_of_range = _mm256_or_si256(_mm256_cmpgt_epi32(d, span), _mm256_cmpgt_epi32(_mm256_setzero_si256(), d));
      if (!_mm256_testz_si256(out_of_range, out_of_range)) {
        stop = b;
        break;
      }
      const __m256i offv = _mm256_add_epi32(normal_off.raw, _mm256_slli_epi32(_mm256_sub_epi32(S, _mm256_set1_epi32(127)), 23));
      const __m256 subv = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(S, 23)), sub_scale.raw);  // S >= 1
      // Per-block values through memory: a broadcast load is one load uop, cheaper than
      // materializing a permute index per block.
      alignas(32) int32_t offs[8];
      alignas(32) float subs[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(offs), offv);
      _mm256_store_ps(subs, subv);
      auto run_nv = [&](auto spec, auto nv) {  // nv: vectors per block, a compile-time constant
        constexpr size_t kNv = decltype(nv)::value;
        for (size_t j = 0; j < 8; ++j) {
          const hn::Vec<DI> offj = hn::Set(di, offs[j]);
          const hn::Vec<DF> subj = hn::Set(df, subs[j]);
          const size_t i0 = (b + j) * 8 * kNv;
          for (size_t v = 0; v < kNv; ++v)
            hn::StoreU(FloatElements<decltype(spec)::value>(
                           hn::PromoteTo(di, hn::LoadU(ds8, reinterpret_cast<const int8_t*>(codes + i0 + 8 * v))),
                           offj, subj, C),
                       df, out + i0 + 8 * v);
        }
      };
      auto run = [&](auto spec) {
        if (B == 8) run_nv(spec, std::integral_constant<size_t, 1>());
        else if (B == 16) run_nv(spec, std::integral_constant<size_t, 2>());
        else run_nv(spec, std::integral_constant<size_t, 4>());
      };
      stop = b + 8;
      if (all_finite) {
        run(std::integral_constant<int, kNoSpecials>());
        continue;
      }
      // NaN/Inf and field-0 codes are rare: one byte-wise test of the 64 codes skips their selects.
      CodeMax cm{_mm256_setzero_si256(), _mm256_setzero_si256()};
      AddCodes32(cm, codes + b * 8, cc);
      AddCodes32(cm, codes + b * 8 + 32, cc);
      if (!AnyOdd(cm, cc)) run(std::integral_constant<int, kNormalOnly>());
      else if (!AnySpecial(cm, cc)) run(std::integral_constant<int, kNoSpecials>());
      else run(std::integral_constant<int, kSpec>());
    }
    b = stop;
  }
#endif
  for (; b < nblocks; ++b) {
    const uint8_t* cb = codes + b * B;
    float* ob = out + b * B;
    const uint8_t sbyte = scales[b];
    if (sbyte == 255) {  // the reference fills a NaN-scale block with the positive quiet NaN
      for (size_t i = 0; i < B; i += N) hn::StoreU(nan, df, ob + i);
      continue;
    }
    const float svf = scale_tab[sbyte];
    const auto sv = hn::Set(df, svf);
    auto load = [&](size_t i) { return hn::PromoteTo(di, hn::LoadU(ds8, reinterpret_cast<const int8_t*>(cb + i))); };
    if constexpr (K == DecodeKind::Int) {
      for (size_t i = 0; i < B; i += N) hn::StoreU(hn::Mul(hn::ConvertTo(df, load(i)), sv), df, ob + i);
    } else if (B >= 2 * N && uint32_t(sbyte) - s_lo <= s_span) {  // one-vector blocks: setup would dominate
      const auto off = hn::Set(di, int32_t(normal_off_bits + (uint32_t(sbyte - 127) << 23)));
      const auto sub = hn::Set(df, sub_scale_f * svf);  // exact power of two (>= 2^-149)
      // Formats without NaN/Inf codes (the 4- and 6-bit ones, remapped to bytes) skip the
      // classification: their mix of field-0 codes is too irregular for the branch to pay off.
      bool special = !all_finite, odd = true;
#if HWY_TARGET == HWY_AVX2
      if (B % 32 == 0 && !all_finite) {
        CodeMax cm{_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (size_t i = 0; i < B; i += 32) AddCodes32(cm, cb + i, cc);
        special = AnySpecial(cm, cc);
        odd = AnyOdd(cm, cc);
      }
#endif
      if (!odd) {
        for (size_t i = 0; i < B; i += N) hn::StoreU(FloatElements<kNormalOnly>(load(i), off, sub, C), df, ob + i);
      } else if (!special) {
        for (size_t i = 0; i < B; i += N) hn::StoreU(FloatElements<kNoSpecials>(load(i), off, sub, C), df, ob + i);
      } else {
        for (size_t i = 0; i < B; i += N) hn::StoreU(FloatElements<kSpec>(load(i), off, sub, C), df, ob + i);
      }
    } else {
      for (size_t i = 0; i < B; i += N)
        hn::StoreU(hn::Mul(FloatElements<kSpec>(load(i), normal_off, sub_scale, C), sv), df, ob + i);
    }
  }
}

void DecodeBlocks(const DecodeArgs& A, const uint8_t* codes, const uint8_t* scales, float* out, size_t nblocks) {
  if (A.kind == DecodeKind::Int) return DecodeBlocksT<DecodeKind::Int, false>(A, codes, scales, out, nblocks);
  if (A.inf_code == A.special_min) return DecodeBlocksT<DecodeKind::Float, true>(A, codes, scales, out, nblocks);
  return DecodeBlocksT<DecodeKind::Float, false>(A, codes, scales, out, nblocks);
}

}  // namespace plena::numerics::fast::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace plena::numerics::fast::simd {

HWY_EXPORT(Lanes);
HWY_EXPORT(EncodeBlocks);
HWY_EXPORT(DecodeBlocks);

size_t lanes() { return HWY_DYNAMIC_DISPATCH(Lanes)(); }

namespace {
bool g_avx512 = avx512::supported();
}

void use_avx512_kernels(bool on) { g_avx512 = on && avx512::supported(); }
bool avx512_kernels() { return g_avx512; }

void encode_blocks(const EncodeArgs& a, const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks,
                   std::vector<size_t>& slow) {
  // The AVX-512 kernel replaces the AVX2 one only (a forced SSE4 / scalar target keeps its own).
  size_t done = 0;
  if (g_avx512 && a.kind == EncodeKind::Plena && a.block == 8 && lanes() == 8)
    done = avx512::plena_encode_b8(x, codes, scales, nblocks, a.plena_band, slow);
  if (g_avx512 && a.kind == EncodeKind::OcpFp && !a.ties_away && lanes() == 8)
    done = avx512::ocp_fp_encode(x, codes, scales, nblocks, a.block, a.emax, a.fp, slow);
  if (done == nblocks) return;
  const size_t s0 = slow.size();
  HWY_DYNAMIC_DISPATCH(EncodeBlocks)(a, x + done * a.block, codes + done * a.block, scales + done, nblocks - done,
                                     slow);
  for (size_t i = s0; i < slow.size(); ++i) slow[i] += done;
}

void decode_blocks(const DecodeArgs& a, const uint8_t* codes, const uint8_t* scales, float* out, size_t nblocks) {
  if (!(g_avx512 && a.kind == DecodeKind::Float && a.block == 8 && lanes() == 8))
    return HWY_DYNAMIC_DISPATCH(DecodeBlocks)(a, codes, scales, out, nblocks);
  // A group the AVX-512 kernel declines (a scale byte outside its range, e.g. a zero padding
  // block) goes to the AVX2 kernel alone; the kernel takes over again after it.
  for (size_t b = 0; b < nblocks;) {
    b += avx512::decode8_b8(a, codes + b * 8, scales + b, out + b * 8, nblocks - b);
    const size_t n = std::min<size_t>(8, nblocks - b);
    if (n) HWY_DYNAMIC_DISPATCH(DecodeBlocks)(a, codes + b * 8, scales + b, out + b * 8, n);
    b += n;
  }
}

}  // namespace plena::numerics::fast::simd
#endif  // HWY_ONCE

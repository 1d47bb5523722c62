// Explicit-SIMD packing, plain 16-bit and asym-int kernels (Highway dynamic dispatch; the AVX2
// bodies use intrinsics, other targets run the portable loops). Exactness (docs/numerics.md
// "Fast paths"): packing is bit shuffling; bf16 is integer RNE on the bit pattern; fp16 uses the
// F16C conversions (IEEE RNE, subnormals, overflow to Inf; NaN outputs fixed up to the
// reference's quiet NaN); asym-int uses the reference's own float operations in the same order.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_AVX3 | HWY_AVX3_DL | HWY_SSSE3)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "numerics/fast_pack.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "numerics/fast_pack.hpp"
#include "numerics/numerics.hpp"

HWY_BEFORE_NAMESPACE();
namespace plena::numerics::fast::simd::HWY_NAMESPACE {

// Bit-stream packing of codes [i0, n) (i0 * width a multiple of 8).
inline void PackTail(const uint8_t* codes, size_t i0, size_t n, int width, uint8_t* out) {
  uint32_t acc = 0;
  int bits = 0;
  size_t o = i0 * size_t(width) / 8;
  for (size_t i = i0; i < n; ++i) {
    acc |= uint32_t(codes[i]) << bits;
    for (bits += width; bits >= 8; bits -= 8, acc >>= 8) out[o++] = uint8_t(acc);
  }
  if (bits > 0) out[o] = uint8_t(acc);
}

inline void UnpackTail(const uint8_t* in, size_t i0, size_t n, int width, const uint8_t* map, uint8_t* codes) {
  uint32_t acc = 0;
  int bits = 0;
  size_t p = i0 * size_t(width) / 8;
  const uint32_t mask = (1u << width) - 1;
  for (size_t i = i0; i < n; ++i) {
    for (; bits < width; bits += 8) acc |= uint32_t(in[p++]) << bits;
    codes[i] = map[acc & mask];
    acc >>= width;
    bits -= width;
  }
}

void PackCodes(const uint8_t* codes, size_t n, int width, uint8_t* out) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX2
  if (width == 4) {
    const __m256i mul = _mm256_set1_epi16(0x1001);  // lo + 16 * hi per byte pair
    for (; i + 32 <= n; i += 32) {
      const __m256i w = _mm256_maddubs_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + i)), mul);
      const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i / 2), _mm256_castsi256_si128(p));
    }
  } else if (width == 6) {
    const __m256i mul8 = _mm256_set1_epi16(0x4001), mul16 = _mm256_set1_epi32(0x10000001);
    const __m256i squeeze = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5,
                                             6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    for (; i + 32 <= n; i += 32) {
      const __m256i w = _mm256_maddubs_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + i)), mul8);
      const __m256i d = _mm256_madd_epi16(w, mul16);  // 24-bit groups of four codes
      const __m256i p = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(d, squeeze), join);
      uint8_t* o = out + i / 4 * 3;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm256_castsi256_si128(p));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(o + 16), _mm256_extracti128_si256(p, 1));
    }
  }
#endif
  PackTail(codes, i, n, width, out);
}

#if HWY_TARGET == HWY_AVX2
// map[c] for 32 byte indices c < 64: four 16-entry shuffles, selected by index bits 4 and 5.
HWY_INLINE __m256i Map64(__m256i c, const __m256i* t) {
  const __m256i b4 = _mm256_slli_epi16(c, 3), b5 = _mm256_slli_epi16(c, 2);  // bit 4 / 5 -> bit 7
  const __m256i lo = _mm256_blendv_epi8(_mm256_shuffle_epi8(t[0], c), _mm256_shuffle_epi8(t[1], c), b4);
  const __m256i hi = _mm256_blendv_epi8(_mm256_shuffle_epi8(t[2], c), _mm256_shuffle_epi8(t[3], c), b4);
  return _mm256_blendv_epi8(lo, hi, b5);
}
HWY_INLINE __m256i Table16(const uint8_t* m) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m)));
}
#endif

void UnpackCodes(const uint8_t* in, size_t n, int width, const uint8_t* map, uint8_t* codes) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX2
  if (width == 4) {
    const __m256i tab = Table16(map), lo = _mm256_set1_epi16(0x0F), hi = _mm256_set1_epi16(0xF0);
    for (; i + 32 <= n; i += 32) {
      const __m256i e = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i / 2)));
      const __m256i c = _mm256_or_si256(_mm256_and_si256(e, lo), _mm256_slli_epi16(_mm256_and_si256(e, hi), 4));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), _mm256_shuffle_epi8(tab, c));
    }
  } else if (width == 6) {
    const __m256i t[4] = {Table16(map), Table16(map + 16), Table16(map + 32), Table16(map + 48)};
    const __m256i spread = _mm256_setr_epi32(0, 1, 2, 2, 3, 4, 5, 5);
    const __m256i widen = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1, 3, 4,
                                           5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    const __m256i m0 = _mm256_set1_epi32(0x3F), m1 = _mm256_set1_epi32(0x3F00), m2 = _mm256_set1_epi32(0x3F0000),
                  m3 = _mm256_set1_epi32(0x3F000000);
    // Float codes whose map only moves the sign from bit 5 to bit 7 (byte_layout_map in fast.cpp)
    // are placed directly: magnitude k from bits 6k..6k+4, sign k from bit 6k+5.
    bool sign_to_bit7 = true;
    for (uint32_t c = 0; c < 64; ++c) sign_to_bit7 &= map[c] == ((c & 0x1F) | ((c & 0x20) << 2));
    const __m256i f0 = _mm256_set1_epi32(0x1F), f1 = _mm256_set1_epi32(0x1F80), f2 = _mm256_set1_epi32(0x1F8000),
                  f3 = _mm256_set1_epi32(0x1F800000), f4 = _mm256_set1_epi32(int32_t(0x80000000u));
    for (; i + 32 <= n; i += 32) {
      const uint8_t* p = in + i / 4 * 3;
      const __m256i raw = _mm256_set_m128i(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      const __m256i v = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(raw, spread), widen);  // 24 bits per lane
      if (sign_to_bit7) {  // the shifts that place code k's magnitude also carry code k-1's sign
        __m256i c = _mm256_or_si256(_mm256_and_si256(v, f0), _mm256_and_si256(_mm256_slli_epi32(v, 2), f1));
        c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 4), f2));
        c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 6), f3));
        c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 8), f4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), c);
        continue;
      }
      __m256i c = _mm256_or_si256(_mm256_and_si256(v, m0), _mm256_and_si256(_mm256_slli_epi32(v, 2), m1));
      c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 4), m2));
      c = _mm256_or_si256(c, _mm256_and_si256(_mm256_slli_epi32(v, 6), m3));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), Map64(c, t));
    }
  }
#endif
  UnpackTail(in, i, n, width, map, codes);
}

void F32ToBf16(const float* in, size_t n, uint8_t* out) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX2
  const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i round = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
  auto conv = [&](__m256i u) {
    const __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, round), _mm256_and_si256(_mm256_srli_epi32(u, 16), one)), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), inf);
    return _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet), nan);
  };
  for (; i + 16 <= n; i += 16) {
    const __m256i a = conv(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)));
    const __m256i b = conv(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i + 8)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * i),
                        _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8));
  }
#endif
  for (; i < n; ++i) {
    const uint16_t h = f32_to_bf16(in[i]);
    out[2 * i] = uint8_t(h), out[2 * i + 1] = uint8_t(h >> 8);
  }
}

void Bf16ToF32(const uint8_t* in, size_t n, float* out) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX2
  for (; i + 8 <= n; i += 8) {
    const __m256i e = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_slli_epi32(e, 16));
  }
#endif
  for (; i < n; ++i) out[i] = bf16_to_f32(uint16_t(in[2 * i] | (in[2 * i + 1] << 8)));
}

void F32ToFp16(const float* in, size_t n, uint8_t* out) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX2
  // F16C keeps the sign and the top 10 payload bits of a NaN and sets the quiet bit, as the
  // reference does (encode_fp, Ieee NaN).
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < n; ++i) {
    const uint16_t h = f32_to_fp16(in[i]);
    out[2 * i] = uint8_t(h), out[2 * i + 1] = uint8_t(h >> 8);
  }
}

void Fp16ToF32(const uint8_t* in, size_t n, float* out) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX2
  // The reference decodes every NaN code to the default quiet NaN with the code's sign.
  const __m256i absm = _mm256_set1_epi32(0x7FFF), inf = _mm256_set1_epi32(0x7C00);
  const __m256i qnan = _mm256_set1_epi32(0x7FC00000), sign = _mm256_set1_epi32(int32_t(0x80000000u));
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    const __m256i e = _mm256_cvtepu16_epi32(h);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(e, absm), inf);
    const __m256i fix = _mm256_or_si256(qnan, _mm256_and_si256(_mm256_slli_epi32(e, 16), sign));
    const __m256i v = _mm256_blendv_epi8(_mm256_castps_si256(_mm256_cvtph_ps(h)), fix, nan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), v);
  }
#endif
  for (; i < n; ++i) out[i] = fp16_to_f32(uint16_t(in[2 * i] | (in[2 * i + 1] << 8)));
}

#if HWY_TARGET == HWY_AVX2
HWY_INLINE float HMin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}
HWY_INLINE float HMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
HWY_INLINE void Store8Codes(__m256i c, uint8_t* dst) {  // lanes hold values 0..255
  const __m256i w = _mm256_packus_epi32(c, c);
  const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w, w), _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(b));
}

// Codes of one group: v = (x - min) * scale_inv >= 0, roundf(v) = trunc(v + 0.49999997f) for every
// float v in [0, 512] (the sum's rounding never crosses an integer the wrong way; checked
// exhaustively, test_fast_pack.cpp), clamped to levels (an integer, so before or after trunc).
HWY_INLINE __m256i AsymCode8(const float* x, __m256 lov, __m256 siv, __m256 lev) {
  const __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x), lov), siv);
  return _mm256_cvttps_epi32(_mm256_min_ps(_mm256_add_ps(v, _mm256_set1_ps(0x1.fffffep-2f)), lev));
}
HWY_INLINE void AsymCodes(const float* x, size_t g, float lo, float scale_inv, float levels, uint8_t* codes) {
  const __m256 lov = _mm256_set1_ps(lo), siv = _mm256_set1_ps(scale_inv), lev = _mm256_set1_ps(levels);
  size_t i = 0;
  for (; i + 32 <= g; i += 32) {  // 32 codes per store: two packs and one lane permute
    const __m256i w0 = _mm256_packus_epi32(AsymCode8(x + i, lov, siv, lev), AsymCode8(x + i + 8, lov, siv, lev));
    const __m256i w1 = _mm256_packus_epi32(AsymCode8(x + i + 16, lov, siv, lev), AsymCode8(x + i + 24, lov, siv, lev));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i),
                        _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w0, w1), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  for (; i < g; i += 8) Store8Codes(AsymCode8(x + i, lov, siv, lev), codes + i);
}

// Lane j of the result: op over the eight lanes of v[j] (transpose-and-reduce).
template <class Op>
HWY_INLINE __m256i TransposeReduce(const __m256i* v, Op op) {
  __m256i p[4], q[2];
  for (int j = 0; j < 4; ++j) p[j] = op(_mm256_unpacklo_epi32(v[2 * j], v[2 * j + 1]), _mm256_unpackhi_epi32(v[2 * j], v[2 * j + 1]));
  for (int j = 0; j < 2; ++j) q[j] = op(_mm256_unpacklo_epi64(p[2 * j], p[2 * j + 1]), _mm256_unpackhi_epi64(p[2 * j], p[2 * j + 1]));
  return op(_mm256_permute2x128_si256(q[0], q[1], 0x20), _mm256_permute2x128_si256(q[0], q[1], 0x31));
}
HWY_INLINE __m128i HalfFromF32(__m256 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
HWY_INLINE __m256 U32ToPs(__m256i v) { return _mm256_castsi256_ps(v); }
HWY_INLINE __m256i PsToU32(__m256 v) { return _mm256_castps_si256(v); }

// Eight full groups of g (multiple of 8) values at once: minima, maxima and the checks of
// AsymEncodeGroup as vectors (lane j = group j). Returns the bit mask of groups written.
HWY_INLINE unsigned AsymEncode8(const float* x, size_t g, float levels, uint8_t* codes, uint16_t* sc, uint16_t* zp) {
  __m256i mn[8], mx[8], am[8];
  const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF);
  for (size_t j = 0; j < 8; ++j) {
    __m256 lo = _mm256_loadu_ps(x + j * g), hi = lo;
    __m256i a = _mm256_and_si256(PsToU32(lo), absm);
    for (size_t i = 8; i < g; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + j * g + i);
      lo = _mm256_min_ps(lo, v), hi = _mm256_max_ps(hi, v);
      a = _mm256_max_epu32(a, _mm256_and_si256(PsToU32(v), absm));
    }
    mn[j] = PsToU32(lo), mx[j] = PsToU32(hi), am[j] = a;
  }
  const __m256 lo = U32ToPs(TransposeReduce(mn, [](__m256i a, __m256i b) { return PsToU32(_mm256_min_ps(U32ToPs(a), U32ToPs(b))); }));
  const __m256 hi = U32ToPs(TransposeReduce(mx, [](__m256i a, __m256i b) { return PsToU32(_mm256_max_ps(U32ToPs(a), U32ToPs(b))); }));
  const __m256i amax = TransposeReduce(am, [](__m256i a, __m256i b) { return _mm256_max_epu32(a, b); });
  const __m256 fmax = _mm256_set1_ps(3.4028235e38f);
  const __m256 range = _mm256_sub_ps(hi, lo), si = _mm256_div_ps(_mm256_set1_ps(levels), range);
  __m256 good = _mm256_and_ps(_mm256_cmp_ps(range, fmax, _CMP_LE_OQ), _mm256_cmp_ps(si, fmax, _CMP_LE_OQ));
  good = _mm256_and_ps(good, _mm256_cmp_ps(range, _mm256_setzero_ps(), _CMP_NEQ_OQ));
  good = _mm256_and_ps(good, _mm256_cmp_ps(lo, _mm256_setzero_ps(), _CMP_NEQ_OQ));
  good = _mm256_andnot_ps(U32ToPs(_mm256_cmpgt_epi32(amax, _mm256_set1_epi32(0x7F7FFFFF))), good);
  alignas(32) float los[8], sis[8];
  alignas(16) uint16_t scs[8], zps[8];
  _mm256_store_ps(los, lo), _mm256_store_ps(sis, si);
  _mm_store_si128(reinterpret_cast<__m128i*>(scs), HalfFromF32(_mm256_div_ps(_mm256_set1_ps(1.0f), si)));
  _mm_store_si128(reinterpret_cast<__m128i*>(zps), HalfFromF32(lo));
  const unsigned mask = unsigned(_mm256_movemask_ps(good));
  for (size_t j = 0; j < 8; ++j) {
    if (!(mask >> j & 1)) continue;
    AsymCodes(x + j * g, g, los[j], sis[j], levels, codes + j * g);
    sc[j] = scs[j], zp[j] = zps[j];
  }
  return mask;
}

// Eight full groups: when qmax*|scale| + |zero| < 2^(23 + min(ulp exponents of scale, zero)),
// every q*scale + zero is a multiple of the smaller ulp below 2^24 of it, so exact in FP32
// (one F16C rounding then equals the reference's). Returns the mask of groups written.
HWY_INLINE unsigned AsymDecode8(const uint8_t* codes, size_t g, float qmax, const uint8_t* rec, float* out) {
  const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec));
  const __m256i low16 = _mm256_set1_epi32(0xFFFF), expm = _mm256_set1_epi32(31);
  const __m256i sb = _mm256_and_si256(r, low16), zb = _mm256_srli_epi32(r, 16);
  auto half8 = [](__m256i u) { return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(u, u), 0x08)); };
  const __m256 s = _mm256_cvtph_ps(half8(sb)), z = _mm256_cvtph_ps(half8(zb));
  const __m256i es = _mm256_and_si256(_mm256_srli_epi32(sb, 10), expm), ez = _mm256_and_si256(_mm256_srli_epi32(zb, 10), expm);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i emin = _mm256_min_epi32(_mm256_max_epi32(es, one), _mm256_max_epi32(ez, one));  // ulp 2^(e - 25)
  const __m256 limit = U32ToPs(_mm256_slli_epi32(_mm256_add_epi32(emin, _mm256_set1_epi32(23 - 25 + 127)), 23));
  const __m256 absf = U32ToPs(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 total = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(qmax), _mm256_and_ps(s, absf)), _mm256_and_ps(z, absf));
  __m256 good = _mm256_cmp_ps(total, limit, _CMP_LT_OQ);  // false for Inf/NaN scale or zero
  const __m256i special = _mm256_or_si256(_mm256_cmpeq_epi32(es, expm), _mm256_cmpeq_epi32(ez, expm));
  good = _mm256_andnot_ps(U32ToPs(special), good);
  alignas(32) float ss[8], zs[8];
  _mm256_store_ps(ss, s), _mm256_store_ps(zs, z);
  const unsigned mask = unsigned(_mm256_movemask_ps(good));
  for (size_t j = 0; j < 8; ++j) {
    if (!(mask >> j & 1)) continue;
    const __m256 sj = _mm256_set1_ps(ss[j]), zj = _mm256_set1_ps(zs[j]);
    for (size_t i = j * g; i < (j + 1) * g; i += 8) {
      const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i))));
      _mm256_storeu_ps(out + i, _mm256_cvtph_ps(HalfFromF32(_mm256_add_ps(_mm256_mul_ps(q, sj), zj))));
    }
  }
  return mask;
}

// One group of g (multiple of 8) values; false when the group needs the reference.
HWY_INLINE bool AsymEncodeGroup(const float* x, size_t g, float levels, uint8_t* codes, uint16_t& sc,
                                uint16_t& zp) {
  __m256 mn = _mm256_loadu_ps(x), mx = mn;
  __m256i amax = _mm256_and_si256(_mm256_castps_si256(mn), _mm256_set1_epi32(0x7FFFFFFF));
  for (size_t i = 8; i < g; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    mn = _mm256_min_ps(mn, v), mx = _mm256_max_ps(mx, v);
    amax = _mm256_max_epu32(amax, _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7FFFFFFF)));
  }
  // Inf/NaN anywhere (the reference throws); a zero minimum: its sign (stored in `zero`)
  // follows the reference's element order, which a lane-wise min does not keep.
  const __m256i big = _mm256_cmpgt_epi32(amax, _mm256_set1_epi32(0x7F7FFFFF));
  if (!_mm256_testz_si256(big, big)) return false;
  const float lo = HMin(mn), range = HMax(mx) - lo;
  if (lo == 0.0f || range == 0.0f || !(range <= 3.4028235e38f)) return false;
  const float scale_inv = levels / range;
  if (!(scale_inv <= 3.4028235e38f)) return false;
  AsymCodes(x, g, lo, scale_inv, levels, codes);
  sc = uint16_t(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(1.0f / scale_inv), _MM_FROUND_TO_NEAREST_INT), 0));
  zp = uint16_t(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(lo), _MM_FROUND_TO_NEAREST_INT), 0));
  return true;
}

HWY_INLINE bool AsymDecodeGroup(const uint8_t* codes, size_t g, uint16_t sc, uint16_t zp, float* out) {
  if ((sc & 0x7C00) == 0x7C00 || (zp & 0x7C00) == 0x7C00) return false;
  const __m256 s = _mm256_cvtph_ps(_mm_set1_epi16(short(sc))), z = _mm256_cvtph_ps(_mm_set1_epi16(short(zp)));
  __m256 err_any = _mm256_setzero_ps();
  for (size_t i = 0; i < g; i += 8) {
    const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i))));
    const __m256 p = _mm256_mul_ps(q, s);  // exact: <= 8 + 11 significant bits
    const __m256 sum = _mm256_add_ps(p, z);
    // TwoSum: the rounding error of p + z (NaN after an overflow); zero <=> the sum is exact.
    const __m256 bz = _mm256_sub_ps(sum, p);
    const __m256 err = _mm256_add_ps(_mm256_sub_ps(p, _mm256_sub_ps(sum, bz)), _mm256_sub_ps(z, bz));
    err_any = _mm256_or_ps(err_any, _mm256_cmp_ps(err, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(sum, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  }
  return _mm256_testz_ps(err_any, err_any) != 0;
}
#endif

size_t AsymEncodeGroups(const float* x, size_t n, size_t g, int bits, uint8_t* codes, uint16_t* scale,
                        uint16_t* zero, size_t* slow) {
  size_t ns = 0;
  const float levels = float((1 << bits) - 1);
  size_t b0 = 0, gi = 0;
#if HWY_TARGET == HWY_AVX2
  for (; g % 8 == 0 && b0 + 8 * g <= n; b0 += 8 * g, gi += 8) {
    const unsigned done = AsymEncode8(x + b0, g, levels, codes + b0, scale + gi, zero + gi);
    for (unsigned j = 0; j < 8; ++j)
      if (!(done >> j & 1)) slow[ns++] = gi + j;
  }
#endif
  for (; b0 < n; b0 += g, ++gi) {
    bool done = false;
#if HWY_TARGET == HWY_AVX2
    if (g % 8 == 0 && b0 + g <= n) done = AsymEncodeGroup(x + b0, g, levels, codes + b0, scale[gi], zero[gi]);
#else
    (void)x, (void)levels, (void)codes, (void)scale, (void)zero;
#endif
    if (!done) slow[ns++] = gi;
  }
  return ns;
}

size_t AsymDecodeGroups(const uint8_t* codes, size_t n, size_t g, int bits, const uint8_t* rec, float* out,
                        size_t* slow) {
  size_t ns = 0, b0 = 0, gi = 0;
#if HWY_TARGET == HWY_AVX2
  for (; g % 8 == 0 && b0 + 8 * g <= n; b0 += 8 * g, gi += 8) {
    const unsigned done = AsymDecode8(codes + b0, g, float((1 << bits) - 1), rec + 4 * gi, out + b0);
    for (unsigned j = 0; j < 8; ++j) {  // the TwoSum check per element decides the rest
      if (done >> j & 1) continue;
      const uint8_t* r = rec + 4 * (gi + j);
      if (!AsymDecodeGroup(codes + b0 + j * g, g, uint16_t(r[0] | (r[1] << 8)), uint16_t(r[2] | (r[3] << 8)),
                           out + b0 + j * g))
        slow[ns++] = gi + j;
    }
  }
#else
  (void)bits;
#endif
  for (; b0 < n; b0 += g, ++gi) {
    bool done = false;
#if HWY_TARGET == HWY_AVX2
    const uint8_t* r = rec + 4 * gi;
    if (g % 8 == 0 && b0 + g <= n)
      done = AsymDecodeGroup(codes + b0, g, uint16_t(r[0] | (r[1] << 8)), uint16_t(r[2] | (r[3] << 8)), out + b0);
#else
    (void)codes, (void)rec, (void)out;
#endif
    if (!done) slow[ns++] = gi;
  }
  return ns;
}

}  // namespace plena::numerics::fast::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace plena::numerics::fast::simd {

HWY_EXPORT(PackCodes);
HWY_EXPORT(UnpackCodes);
HWY_EXPORT(F32ToBf16);
HWY_EXPORT(Bf16ToF32);
HWY_EXPORT(F32ToFp16);
HWY_EXPORT(Fp16ToF32);
HWY_EXPORT(AsymEncodeGroups);
HWY_EXPORT(AsymDecodeGroups);

void pack_codes(const uint8_t* codes, size_t n, int width, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(PackCodes)(codes, n, width, out);
}
void unpack_codes(const uint8_t* in, size_t n, int width, const uint8_t* map, uint8_t* codes) {
  HWY_DYNAMIC_DISPATCH(UnpackCodes)(in, n, width, map, codes);
}
void f32_to_bf16_row(const float* in, size_t n, uint8_t* out) { HWY_DYNAMIC_DISPATCH(F32ToBf16)(in, n, out); }
void bf16_to_f32_row(const uint8_t* in, size_t n, float* out) { HWY_DYNAMIC_DISPATCH(Bf16ToF32)(in, n, out); }
void f32_to_fp16_row(const float* in, size_t n, uint8_t* out) { HWY_DYNAMIC_DISPATCH(F32ToFp16)(in, n, out); }
void fp16_to_f32_row(const uint8_t* in, size_t n, float* out) { HWY_DYNAMIC_DISPATCH(Fp16ToF32)(in, n, out); }
size_t asym_encode_groups(const float* x, size_t n, size_t g, int bits, uint8_t* codes, uint16_t* scale,
                          uint16_t* zero, size_t* slow) {
  return HWY_DYNAMIC_DISPATCH(AsymEncodeGroups)(x, n, g, bits, codes, scale, zero, slow);
}
size_t asym_decode_groups(const uint8_t* codes, size_t n, size_t g, int bits, const uint8_t* scale_records,
                          float* out, size_t* slow) {
  return HWY_DYNAMIC_DISPATCH(AsymDecodeGroups)(codes, n, g, bits, scale_records, out, slow);
}

}  // namespace plena::numerics::fast::simd
#endif  // HWY_ONCE

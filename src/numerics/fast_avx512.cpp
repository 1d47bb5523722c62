// AVX-512 kernels (see fast_avx512.hpp). The arithmetic is the AVX2 kernel's (docs/numerics.md
// section 8), on 16 lanes; only the data movement differs.
#include "numerics/fast_avx512.hpp"

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
// GCC 12 reports the deliberately undefined vectors inside its own AVX-512 intrinsics
// (_mm512_undefined_*) as maybe-uninitialized once they are inlined here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define PLENA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace plena::numerics::fast::simd::avx512 {

bool supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

bool supported_vbmi() {
  __builtin_cpu_init();
  return supported() && __builtin_cpu_supports("avx512vbmi");
}

namespace {

// Per-block maxima of eight vectors (vector j = blocks 2j, 2j + 1) in block order: two transpose
// steps inside 128-bit lanes, one across lanes (which leaves lane order 0,2,4,6 | 1,3,5,7 | 8,..),
// then one permute back.
PLENA_AVX512 inline __m512i block_max16(const __m512i* a) {
  __m512i p[4], q[2];
  for (int j = 0; j < 4; ++j)
    p[j] = _mm512_max_epu32(_mm512_unpacklo_epi32(a[2 * j], a[2 * j + 1]), _mm512_unpackhi_epi32(a[2 * j], a[2 * j + 1]));
  for (int j = 0; j < 2; ++j)
    q[j] = _mm512_max_epu32(_mm512_unpacklo_epi64(p[2 * j], p[2 * j + 1]), _mm512_unpackhi_epi64(p[2 * j], p[2 * j + 1]));
  const __m512i r = _mm512_max_epu32(_mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15), r);
}

// PlenaCode's h (fast_simd.cpp) of 16 elements with the sign at bit 9: h <= 255 and the rounding
// adds at most 2, so the sign rides through the 16-bit steps and lands on bit 7 of the code.
PLENA_AVX512 inline __m512i plena_h(const float* x, __m512 mul) {
  const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(x), mul);
  const __m512i a = _mm512_and_si512(_mm512_castps_si512(p), _mm512_set1_epi32(0x7FFFFFFF));
  const __m512 sub_x = _mm512_min_ps(_mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(4096.0f)),
                                     _mm512_set1_ps(31.0f));
  const __m512i h = _mm512_max_epi32(_mm512_srai_epi32(_mm512_sub_epi32(a, _mm512_set1_epi32((120 << 5) << 18)), 18),
                                     _mm512_cvttps_epi32(sub_x));
  const __mmask16 neg = _mm512_cmp_ps_mask(p, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_or_epi32(h, neg, h, _mm512_set1_epi32(0x200));
}

// Codes of two h vectors as 32 words in packus order: min(RNE2(h), (h >> 2) | 7), sign kept.
PLENA_AVX512 inline __m512i plena_round(__m512i h0, __m512i h1) {
  const __m512i w = _mm512_packus_epi32(h0, h1);
  const __m512i w4 = _mm512_srli_epi16(w, 2);
  const __m512i r = _mm512_srli_epi16(_mm512_avg_epu16(w, _mm512_and_si512(w4, _mm512_set1_epi16(1))), 1);
  return _mm512_min_epu16(r, _mm512_or_si512(w4, _mm512_set1_epi16(7)));
}

// 64 codes of x[0, 64) (blocks 2j .. 2j + 7 of the group, multipliers from `muls` in block order).
PLENA_AVX512 inline void plena_codes64(const float* x, __m512 muls, int j, uint8_t* dst) {
  const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  __m512i h[4];
  for (int i = 0; i < 4; ++i) {
    const __m512i idx = _mm512_add_epi32(half, _mm512_set1_epi32(2 * (j + i)));
    h[i] = plena_h(x + 16 * i, _mm512_permutexvar_ps(idx, muls));
  }
  const __m512i b = _mm512_packus_epi16(plena_round(h[0], h[1]), plena_round(h[2], h[3]));
  // Dword 4k + L of b holds vector k's 128-bit lane L.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_si512(dst, _mm512_permutexvar_epi32(order, b));
}

}  // namespace

PLENA_AVX512 size_t plena_encode_b8(const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks, uint32_t band,
                                    std::vector<size_t>& slow) {
  const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF), mant = _mm512_set1_epi32(0x7FFFFF);
  const __m512i thr = _mm512_set1_epi32(int32_t(band));
  size_t b = 0;
  for (; b + 16 <= nblocks; b += 16) {
    const float* xg = x + b * 8;
    __m512i a[8], mmax = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      a[j] = _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xg + 16 * j)), absm);
      mmax = _mm512_max_epi32(mmax, _mm512_and_si512(a[j], mant));  // the band test reads x's mantissa
    }
    const __m512i r = block_max16(a);
    const __m512i yb = _mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(r), _mm512_set1_ps(1e-9f)));
    const __m512i E = _mm512_srli_epi32(yb, 23);
    unsigned bad = _mm512_cmpgt_epi32_mask(E, _mm512_set1_epi32(253)) |
                   _mm512_cmpgt_epi32_mask(_mm512_and_si512(yb, mant), _mm512_set1_epi32(0x7FEFFF));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(scales + b), _mm512_cvtepi32_epi8(E));
    if (_mm512_cmpgt_epi32_mask(mmax, thr)) {
      for (int j = 0; j < 8; ++j) {
        const unsigned m = _mm512_cmpgt_epi32_mask(_mm512_and_si512(a[j], mant), thr);
        bad |= unsigned((m & 0xFF) != 0) << (2 * j) | unsigned((m >> 8) != 0) << (2 * j + 1);
      }
    }
    const __m512 muls = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(254), E), 23));
    plena_codes64(xg, muls, 0, codes + b * 8);
    plena_codes64(xg + 64, muls, 4, codes + b * 8 + 64);
    for (; bad; bad &= bad - 1) slow.push_back(b + size_t(__builtin_ctz(bad)));
  }
  return b;
}

namespace {

// ---- ocp-mx float elements, RNE (FpMag in fast_simd.cpp on 16 lanes) ----

// Magnitude code of p = x * 2^-s with the sign bit (p < 0) at sign_shift.
PLENA_AVX512 inline __m512i ocp_code(__m512 p, const simd::FpParams& P) {
  const __m512i ab = _mm512_and_si512(_mm512_castps_si512(p), _mm512_set1_epi32(0x7FFFFFFF));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i bias = _mm512_add_epi32(_mm512_set1_epi32(int32_t(P.half - 1 - (P.code_off << P.sh))),
                                        _mm512_and_si512(_mm512_srli_epi32(ab, P.sh), one));
  const __m512i normal = _mm512_srli_epi32(_mm512_add_epi32(ab, bias), P.sh);
  const __m512 a = _mm512_castsi512_ps(ab);
  const __m512i sub = _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(a, _mm512_set1_ps(P.c_sub))),
                                       _mm512_set1_epi32(int32_t(P.c_sub_bits)));
  const __mmask16 is_sub = _mm512_cmp_ps_mask(a, _mm512_set1_ps(P.min_norm), _CMP_LT_OQ);
  const __m512i code = _mm512_min_epu32(_mm512_mask_blend_epi32(is_sub, normal, sub), _mm512_set1_epi32(int32_t(P.max_code)));
  const __mmask16 neg = _mm512_cmp_ps_mask(p, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_or_epi32(code, neg, code, _mm512_set1_epi32(int32_t(1u << P.sign_shift)));
}

// Four code vectors (values < 256) -> 64 bytes in element order.
PLENA_AVX512 inline void store_codes64(const __m512i* c, uint8_t* dst) {
  const __m512i b = _mm512_packus_epi16(_mm512_packus_epi32(c[0], c[1]), _mm512_packus_epi32(c[2], c[3]));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_si512(dst, _mm512_permutexvar_epi32(order, b));
}

// The B = 8 / B = 32 kernel (NV vectors of 16 per two blocks / per block; 16 blocks a group).
template <int B>
PLENA_AVX512 size_t ocp_fp_encode(const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks, int emax,
                                  const simd::FpParams& P, std::vector<size_t>& slow) {
  constexpr int kVecs = B;  // 16 blocks of B elements = B vectors of 16
  const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i e_lo = _mm512_set1_epi32(27 + emax), e_span = _mm512_set1_epi32(199);
  const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  size_t b = 0;
  for (; b + 16 <= nblocks; b += 16) {
    const float* xg = x + b * B;
    __m512i a[8];
    if constexpr (B == 8) {
      for (int j = 0; j < 8; ++j) a[j] = _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xg + 16 * j)), absm);
    } else {  // block j: vectors 2j, 2j + 1; a[i] holds blocks 2i | 2i + 1 folded to 8 lanes each
      for (int i = 0; i < 8; ++i) {
        __m512i m[2];
        for (int h = 0; h < 2; ++h) {
          const float* xb = xg + 32 * (2 * i + h);
          m[h] = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xb)), absm),
                                  _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xb + 16)), absm));
        }
        a[i] = _mm512_max_epu32(_mm512_shuffle_i32x4(m[0], m[1], 0x44), _mm512_shuffle_i32x4(m[0], m[1], 0xEE));
      }
    }
    const __m512i E = _mm512_srli_epi32(block_max16(a), 23);
    unsigned bad = _mm512_cmpgt_epu32_mask(_mm512_sub_epi32(E, e_lo), e_span);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(scales + b), _mm512_cvtepi32_epi8(_mm512_sub_epi32(E, _mm512_set1_epi32(emax))));
    const __m512 muls = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(254 + emax), E), 23));
    alignas(64) float mul_arr[16];
    _mm512_store_ps(mul_arr, muls);
    for (int k = 0; k < kVecs; k += 4) {
      __m512i c[4];
      for (int i = 0; i < 4; ++i) {
        const int v = k + i;
        const __m512 mul = B == 8 ? _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(2 * v)), muls)
                                  : _mm512_set1_ps(mul_arr[v / 2]);
        c[i] = ocp_code(_mm512_mul_ps(_mm512_loadu_ps(xg + 16 * v), mul), P);
      }
      store_codes64(c, codes + b * B + 16 * k);
    }
    for (; bad; bad &= bad - 1) slow.push_back(b + size_t(__builtin_ctz(bad)));
  }
  return b;
}

}  // namespace

size_t ocp_fp_encode(const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks, size_t block, int emax,
                     const simd::FpParams& P, std::vector<size_t>& slow) {
  if (block == 8) return ocp_fp_encode<8>(x, codes, scales, nblocks, emax, P, slow);
  if (block == 32) return ocp_fp_encode<32>(x, codes, scales, nblocks, emax, P, slow);
  return 0;
}

namespace {

// Lanes 0-7 from lane 2v of t, lanes 8-15 from lane 2v + 1 (blocks of 8 in a vector of 16).
PLENA_AVX512 inline __m512i pair_lanes(__m512i t, int v) {
  const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_permutexvar_epi32(_mm512_add_epi32(half, _mm512_set1_epi32(2 * v)), t);
}

}  // namespace

PLENA_AVX512 size_t decode8_b8(const simd::DecodeArgs& A, const uint8_t* codes, const uint8_t* scales, float* out,
                               size_t nblocks) {
  // The AVX2 kernel's group path (fast_simd.cpp DecodeBlocksT): scale bytes in the exponent-add
  // range, the block scale folded into the normal offset and the field-0 multiplier.
  const int bias = 127 - int(A.normal_off >> 23);
  const int fmax = int((A.special_min <= 0x7F ? A.special_min - 1 : 0x7Fu) >> A.mbits);
  const __m512i s_lo = _mm512_set1_epi32(bias), s_span = _mm512_set1_epi32(254 - fmax);
  const __m512i mag_mask = _mm512_set1_epi32(0x7F), sign_mask = _mm512_set1_epi32(int32_t(0x80000000u));
  const __m512i first_normal = _mm512_set1_epi32(int32_t(1u << A.mbits));
  const __m512i special_min = _mm512_set1_epi32(int32_t(A.special_min));
  const __m512i last_finite = _mm512_set1_epi32(int32_t(A.special_min) - 1);
  const __m512i inf = _mm512_set1_epi32(0x7F800000), nan = _mm512_set1_epi32(0x7FC00000);
  const bool specials = A.special_min <= 0x7F, has_inf = A.inf_code == A.special_min;
  const __m512i normal_off = _mm512_set1_epi32(int32_t(A.normal_off));
  const __m512 sub_scale = _mm512_set1_ps(A.sub_scale);
  const unsigned sh = 23 - A.mbits;
  // Groups of 8 blocks (64 codes): an MLEN-64 row is one group.
  size_t b = 0;
  for (; b + 8 <= nblocks; b += 8) {
    const __m512i S = _mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales + b)));
    if (_mm512_cmpgt_epu32_mask(_mm512_sub_epi32(S, s_lo), s_span) & 0xFF) break;
    const __m512i offv = _mm512_add_epi32(normal_off, _mm512_slli_epi32(_mm512_sub_epi32(S, _mm512_set1_epi32(127)), 23));
    const __m512i subv = _mm512_castps_si512(_mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(S, 23)), sub_scale));
    for (int v = 0; v < 4; ++v) {
      const __m512i c = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + b * 8 + 16 * v)));
      const __m512i mag = _mm512_and_si512(c, mag_mask);
      const __m512i normal = _mm512_add_epi32(_mm512_slli_epi32(mag, sh), pair_lanes(offv, v));
      const __m512i sub = _mm512_castps_si512(
          _mm512_mul_ps(_mm512_cvtepi32_ps(mag), _mm512_castsi512_ps(pair_lanes(subv, v))));
      __m512i r = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(mag, first_normal), normal, sub);
      if (specials) {
        if (has_inf) {
          r = _mm512_mask_mov_epi32(r, _mm512_cmpgt_epi32_mask(mag, last_finite), nan);
          r = _mm512_mask_mov_epi32(r, _mm512_cmpeq_epi32_mask(mag, special_min), inf);
        } else {
          r = _mm512_mask_mov_epi32(r, _mm512_cmpeq_epi32_mask(mag, special_min), nan);
        }
      }
      // ternary 0xF8: A | (B & C): the code's sign bit onto the value.
      _mm512_storeu_ps(out + b * 8 + 16 * v, _mm512_castsi512_ps(_mm512_ternarylogic_epi32(r, c, sign_mask, 0xF8)));
    }
  }
  return b;
}

#define PLENA_AVX512_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")))

// vpermb indices for vector k (16 codes) of a 64-code group (48 bytes): code i of the vector
// starts at bit 6i, so lane i takes bytes (6i) / 8 and the next one; a shift right by 6i % 8
// (0, 6, 4, 2) then leaves the code in bits 0-5 (the next code's bits above).
struct Codes6Index {
  alignas(64) uint8_t idx[4][64];
  constexpr Codes6Index() : idx{} {
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 16; ++i) {
        const int byte = 12 * k + (6 * i) / 8;
        idx[k][4 * i] = uint8_t(byte);
        idx[k][4 * i + 1] = idx[k][4 * i + 2] = idx[k][4 * i + 3] = uint8_t(byte + 1);
      }
  }
};
constexpr Codes6Index kCodes6;

PLENA_AVX512_VBMI void decode6(const uint8_t* in, size_t nblocks, size_t B, const float* mag_lut,
                               const uint8_t* scales, const float* scale_tab, float* out) {
  const __m512 lo = _mm512_loadu_ps(mag_lut), hi = _mm512_loadu_ps(mag_lut + 16);
  const __m512i sign = _mm512_set1_epi32(int32_t(0x80000000u));
  const __m512i shifts = _mm512_setr_epi32(0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2);
  const size_t nvec = nblocks * B / 16, vb = B / 16;  // vectors in all, per block
  __m512 scale = _mm512_setzero_ps();
  for (size_t v0 = 0, next_block = 0, blk = 0; v0 < nvec; v0 += 4) {
    const size_t nv = std::min<size_t>(4, nvec - v0);
    const __m512i src = _mm512_maskz_loadu_epi8(~0ull >> (64 - 12 * nv), in + 12 * v0);  // never past the row
    for (size_t k = 0; k < nv; ++k) {
      if (v0 + k == next_block) {
        scale = _mm512_set1_ps(scale_tab[scales[blk++]]);
        next_block += vb;
      }
      const __m512i c = _mm512_srlv_epi32(_mm512_permutexvar_epi8(_mm512_load_si512(kCodes6.idx[k]), src), shifts);
      // Index bits 0-4 pick the magnitude (permutex2var ignores the rest); bit 5, moved to bit
      // 31, is the sign (ternary 0xF8: A | (B & C)).
      const __m512 v = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
          _mm512_castps_si512(_mm512_permutex2var_ps(lo, c, hi)), _mm512_slli_epi32(c, 26), sign, 0xF8));
      _mm512_storeu_ps(out + 16 * (v0 + k), _mm512_mul_ps(v, scale));
    }
  }
}

}  // namespace plena::numerics::fast::simd::avx512

#else  // not x86-64 GCC/Clang: no AVX-512 kernels

namespace plena::numerics::fast::simd::avx512 {
bool supported() { return false; }
bool supported_vbmi() { return false; }
void decode6(const uint8_t*, size_t, size_t, const float*, const uint8_t*, const float*, float*) {}
size_t plena_encode_b8(const float*, uint8_t*, uint8_t*, size_t, uint32_t, std::vector<size_t>&) { return 0; }
size_t ocp_fp_encode(const float*, uint8_t*, uint8_t*, size_t, size_t, int, const FpParams&, std::vector<size_t>&) {
  return 0;
}
size_t decode8_b8(const DecodeArgs&, const uint8_t*, const uint8_t*, float*, size_t) { return 0; }
}  // namespace plena::numerics::fast::simd::avx512

#endif

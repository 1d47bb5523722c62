#include "support/transpose.hpp"

// GCC 12's AVX-512 headers build vectors from an uninitialized dummy (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <bit>

#define PLENA_AVX512 __attribute__((target("avx512f,avx512bw")))

namespace plena {
namespace {

constexpr size_t kTile = 16;

bool have_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return ok;
}

// r[i] holds row i of a 16 x 16 tile; afterwards r[j] holds column j. Three stages: pairs of rows
// interleave, then quads within each 128-bit lane, then lanes across the four quads.
PLENA_AVX512 inline void transpose16(__m512 r[kTile]) {
  __m512 t[kTile], u[kTile];
  for (size_t k = 0; k < kTile; k += 2) {
    t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
  }
  for (size_t g = 0; g < kTile; g += 4) {  // u[g + j], lane L: column 4L + j of rows g..g+3
    u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  for (size_t j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44),
                 v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
    r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + j] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

PLENA_AVX512 void tile_bf16_to_f32(const uint16_t* src, size_t src_stride, float* dst, size_t dst_stride) {
  __m512 r[kTile];
  for (size_t i = 0; i < kTile; ++i) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i * src_stride));
    r[i] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(w), 16));
  }
  transpose16(r);
  for (size_t j = 0; j < kTile; ++j) _mm512_storeu_ps(dst + j * dst_stride, r[j]);
}

PLENA_AVX512 __m512i tile_f32_to_bf16(const float* src, size_t src_stride, uint16_t* dst, size_t dst_stride,
                                      __m512i low) {
  __m512 r[kTile];
  for (size_t i = 0; i < kTile; ++i) r[i] = _mm512_loadu_ps(src + i * src_stride);
  transpose16(r);
  const __m512i mask = _mm512_set1_epi32(0xFFFF);
  for (size_t j = 0; j < kTile; ++j) {
    const __m512i u = _mm512_castps_si512(r[j]);
    low = _mm512_or_si512(low, _mm512_and_si512(u, mask));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j * dst_stride), _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16)));
  }
  return low;
}

// The R x C corner (multiples of 16) tile by tile.
PLENA_AVX512 void tiles_bf16_to_f32(const uint16_t* src, size_t src_stride, size_t R, size_t C, float* dst,
                                    size_t dst_stride) {
  for (size_t i = 0; i < R; i += kTile)
    for (size_t j = 0; j < C; j += kTile) tile_bf16_to_f32(src + i * src_stride + j, src_stride, dst + j * dst_stride + i, dst_stride);
}

PLENA_AVX512 uint32_t tiles_f32_to_bf16(const float* src, size_t src_stride, size_t R, size_t C, uint16_t* dst,
                                        size_t dst_stride) {
  __m512i low = _mm512_setzero_si512();
  for (size_t i = 0; i < R; i += kTile)
    for (size_t j = 0; j < C; j += kTile)
      low = tile_f32_to_bf16(src + i * src_stride + j, src_stride, dst + j * dst_stride + i, dst_stride, low);
  return uint32_t(_mm512_reduce_or_epi32(low));
}

// Whole tiles go to the kernel where the CPU has it; the edges (and everything otherwise) are
// done one element at a time.
size_t full(size_t n) { return have_avx512() ? n / kTile * kTile : 0; }

}  // namespace

void transpose_bf16_to_f32(const uint16_t* src, size_t src_stride, size_t rows, size_t cols, float* dst,
                           size_t dst_stride) {
  const size_t R = full(rows), C = full(cols);
  if (R && C) tiles_bf16_to_f32(src, src_stride, R, C, dst, dst_stride);
  auto one = [&](size_t i, size_t j) { dst[j * dst_stride + i] = std::bit_cast<float>(uint32_t(src[i * src_stride + j]) << 16); };
  for (size_t i = 0; i < rows; ++i)  // the edges the tiles left
    for (size_t j = i < R ? C : 0; j < cols; ++j) one(i, j);
}

uint32_t transpose_f32_to_bf16(const float* src, size_t src_stride, size_t rows, size_t cols, uint16_t* dst,
                               size_t dst_stride) {
  const size_t R = full(rows), C = full(cols);
  uint32_t low = R && C ? tiles_f32_to_bf16(src, src_stride, R, C, dst, dst_stride) : 0;
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = i < R ? C : 0; j < cols; ++j) {
      const uint32_t u = std::bit_cast<uint32_t>(src[i * src_stride + j]);
      low |= u & 0xFFFFu;
      dst[j * dst_stride + i] = uint16_t(u >> 16);
    }
  return low;
}

}  // namespace plena

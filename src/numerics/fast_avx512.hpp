// Internal: hand-written AVX-512 kernels for the codecs whose Highway (AVX2) kernels are
// compute-bound. Compiled with function-level target attributes and used only where the CPU has
// AVX-512 F/BW/VL/DQ (fast_simd.cpp dispatches); every kernel is bit-identical to the AVX2 one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "numerics/fast_simd.hpp"

namespace plena::numerics::fast::simd::avx512 {

// True when the CPU (and OS) support the instructions these kernels use.
bool supported();

// plena-hw-mxfp, block 8: encodes the first floor(nblocks / 16) * 16 blocks (one code per byte,
// one scale byte per block) and returns how many it encoded. Blocks it cannot take (the cases of
// the AVX2 kernel: Inf/NaN, huge maxima, float-log2 band) get arbitrary codes and are appended
// to `slow`; `band` is EncodeArgs::plena_band.
size_t plena_encode_b8(const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks, uint32_t band,
                       std::vector<size_t>& slow);

// ocp-mx float elements, RNE, blocks of 8 or 32 (else 0): encodes the first floor(nblocks / 16)
// * 16 blocks as the AVX2 kernel does (scale byte E - emax, code per byte); blocks it cannot take
// (zero, FP32-subnormal or Inf/NaN maxima, extreme scales) get arbitrary codes and go to `slow`.
size_t ocp_fp_encode(const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks, size_t block, int emax,
                     const FpParams& P, std::vector<size_t>& slow);

// 8-bit float codes in blocks of 8 (DecodeKind::Float): decodes whole groups of 8 blocks while
// every scale byte of the group is in the exponent-add range (the AVX2 kernel's group path) and
// returns the blocks done; the caller decodes the rest.
size_t decode8_b8(const DecodeArgs& A, const uint8_t* codes, const uint8_t* scales, float* out, size_t nblocks);

// ... and AVX-512 VBMI (byte permutes), for decode6.
bool supported_vbmi();

// Width-6 float codes (packed little-endian bit stream, as pack_codes) of `nblocks` full blocks of
// B elements (B % 16 == 0) -> f32: out = (mag_lut[c & 31] with the sign of bit 5) * scale_tab[scale
// byte], the bits of the reference's lut[c] * scale when lut[c | 32] is -lut[c] and no entry is NaN.
// The bit stream is read in place (no code buffer) and not past its last byte.
void decode6(const uint8_t* in, size_t nblocks, size_t B, const float* mag_lut, const uint8_t* scales,
             const float* scale_tab, float* out);

}  // namespace plena::numerics::fast::simd::avx512

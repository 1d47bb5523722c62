// Internal: explicit-SIMD row kernels (Highway, runtime dispatch to SSE4 / AVX2 / portable).
// fast.cpp decides which rows they take; every kernel is bit-identical to the reference block
// codec for the blocks it encodes (the rest are listed in `slow` for the caller).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace plena::numerics::fast::simd {

// Lanes (f32) of the dispatched target's vectors (<= 8). Kernels need block % lanes() == 0.
size_t lanes();

// Hand-written AVX-512 kernels (fast_avx512.cpp) where the CPU has them and the dispatched
// Highway target is AVX2; on by default when supported. Tests switch them off to reach the
// AVX2 kernels they replace.
void use_avx512_kernels(bool on);
bool avx512_kernels();

// Float element rounding parameters (see FpCode in fast_simd.cpp for the derivation).
struct FpParams {
  uint32_t sh;          // 23 - m (m = stored mantissa bits)
  uint32_t half;        // 1 << (sh - 1)
  uint32_t code_off;    // (126 + emin) << m: removes the FP32 exponent bias from a normal code
  uint32_t max_code;    // largest finite magnitude code
  float min_norm;       // 2^emin
  float c_sub;          // 2^(emin - m + 23)
  uint32_t c_sub_bits;  // its bit pattern
  float half_sub;       // 2^(emin - m - 1): half an element-subnormal step
  uint32_t sign_shift;  // width - 1
};

enum class EncodeKind : uint8_t { OcpFp, OcpInt, Mase, Plena };

struct EncodeArgs {
  EncodeKind kind = EncodeKind::OcpFp;
  bool ties_away = false;
  size_t block = 32;
  int emax = 0, int_frac = 0;
  int32_t kmax = 0;
  uint32_t mask = 0;
  // plena-hw-mxfp: elements whose FP32 mantissa exceeds this may need the reference's libm log2
  // (fast.cpp measures it; 0x7FEFFD is the whole band the reference sends to libm).
  uint32_t plena_band = 0x7FEFFD;
  FpParams fp{};
};

// Encodes `nblocks` full blocks: one code per byte, one scale byte per block. Blocks the kernel
// cannot take (zero, Inf/NaN, FP32-subnormal maxima, extreme scales, plena-hw float-log2
// ambiguity) get arbitrary codes and are appended to `slow` in increasing order.
void encode_blocks(const EncodeArgs& a, const float* x, uint8_t* codes, uint8_t* scales, size_t nblocks,
                   std::vector<size_t>& slow);

// Decoding of 8-bit element codes, arithmetically (no table gather).
enum class DecodeKind : uint8_t { Float, Int };

struct DecodeArgs {
  DecodeKind kind = DecodeKind::Float;
  size_t block = 32;
  // Float: field >= 1 -> bits ((c & 0x7F) << (23 - m)) + normal_off; field 0 -> (c & mant_mask) *
  // sub_scale; (c & 0x7F) >= special_min -> Inf when == inf_code, else quiet NaN; sign from bit 7.
  // inf_code is either special_min (IEEE-like) or 0x100 (only special_min itself, a NaN, is special).
  uint32_t mbits = 3;
  uint32_t normal_off = 0;
  float sub_scale = 0;
  uint32_t special_min = 0x100;
  uint32_t inf_code = 0x100;
  // Int: value = int8(c) * 2^-int_frac.
  int int_frac = 0;
  // Scale multiplier per scale byte (NaN for 255). Float: applied after the element value;
  // Int: already includes 2^-int_frac (exact: the product is an exact power of two times k).
  const float* scale_tab = nullptr;
};

// Decodes `nblocks` full blocks of 8-bit codes into f32; identical bits to lut[c] * scale.
void decode_blocks(const DecodeArgs& a, const uint8_t* codes, const uint8_t* scales, float* out, size_t nblocks);

}  // namespace plena::numerics::fast::simd

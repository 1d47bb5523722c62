// Internal: explicit-SIMD kernels for packed storage and the non-E8M0 row formats (Highway,
// runtime dispatch; AVX2 bodies, portable loops elsewhere). Each is bit-identical to the
// reference path it replaces (tests/numerics/test_fast_pack.cpp compares them on random and
// special inputs); kernels that cannot prove exactness for a group hand it back to the caller.
#pragma once
#include <cstddef>
#include <cstdint>

namespace plena::numerics::fast::simd {

// Width 4 or 6 codes (one per byte, < 2^width) -> little-endian bit stream of ceil(n*w/8) bytes.
void pack_codes(const uint8_t* codes, size_t n, int width, uint8_t* out);
// Inverse of pack_codes; every code is then replaced by map[code] (map has 2^width entries).
void unpack_codes(const uint8_t* in, size_t n, int width, const uint8_t* map, uint8_t* codes);

// Plain 16-bit formats, little-endian words; bit-identical to f32_to_bf16 / f32_to_fp16 /
// bf16_to_f32 / fp16_to_f32 element by element (NaN payloads included).
void f32_to_bf16_row(const float* in, size_t n, uint8_t* out);
void bf16_to_f32_row(const uint8_t* in, size_t n, float* out);
void f32_to_fp16_row(const float* in, size_t n, uint8_t* out);
void fp16_to_f32_row(const uint8_t* in, size_t n, float* out);

// asym-int groups of g elements (the last one may be shorter), bits <= 8. Encode writes one code
// per byte and per group fp16 (scale, zero); a group it cannot prove exact (non-finite values,
// constant or overflowing range, a zero minimum whose sign depends on element order) is not
// written and its index is appended to `slow`. Returns the number of slow groups.
size_t asym_encode_groups(const float* x, size_t n, size_t g, int bits, uint8_t* codes, uint16_t* scale,
                          uint16_t* zero, size_t* slow);
// Decode of one code per byte (< 2^bits) with per-group fp16 (scale, zero) from the interleaved 4-byte
// records of the scale region; groups with a non-finite scale or zero, or where q*scale + zero is
// not exact in FP32 (so one FP16 rounding of it might differ from the reference's double), are
// appended to `slow` (not written). Returns the number of slow groups.
size_t asym_decode_groups(const uint8_t* codes, size_t n, size_t g, int bits, const uint8_t* scale_records,
                          float* out, size_t* slow);

}  // namespace plena::numerics::fast::simd

// Public header of the numerics module: scalar formats, block codecs, packed storage, goldens.
// Every codec is defined formula by formula in docs/numerics.md; this header only names the API.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "numerics/format.hpp"

namespace plena::numerics {

// ---------------------------------------------------------------------------------------------
// Scalar conversions (RNE; NaN stays a quiet NaN with its sign; overflow -> Inf for IEEE types).
float bf16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float x);
float round_to_bf16(float x);
float fp16_to_f32(uint16_t bits);
uint16_t f32_to_fp16(float x);
uint16_t f64_to_fp16(double x);  // one rounding from double (used for the asym-int FP16 FMA)
float round_to_fp16(float x);

// Plain (non-block) formats: fp32 (identity), bf16, fp16, fp8_e4m3 (OCP: no Inf, NaN = S.1111.111,
// saturating), fp8_e5m2 and minifloat_eEmM (IEEE-like: Inf/NaN at the all-ones exponent, overflow
// -> Inf), fp6_e3m2, fp6_e2m3, fp4_e2m1 and minifloat_eEmMfn (every code finite, saturating, no NaN).
// round_to_format returns NaN for NaN input; block formats throw InputError (use fake_quantize).
float round_to_format(float x, const Format& f);
// Element code (width bits, sign|exponent|mantissa) of a plain format. NaN into a format without a
// NaN code throws InputError.
uint32_t encode_scalar(float x, const Format& f);
float decode_scalar(uint32_t code, const Format& f);

// ---------------------------------------------------------------------------------------------
// Block codecs with an E8M0 shared scale (ocp-mx, mase-bfp, plena-hw-mxfp). `codes` holds one
// element code per byte (unpacked, element width bits). in.size() <= f.block; a short block is
// treated as zero-padded (zeros never change the block maximum). Returns the scale byte.
uint8_t encode_block(const Format& f, std::span<const float> in, std::span<uint8_t> codes);
void decode_block(const Format& f, uint8_t scale_byte, std::span<const uint8_t> codes, std::span<float> out);
// Value of one element code before the shared scale is applied (NaN for NaN codes).
float decode_element(const Format& f, uint8_t code);
// Shared-scale multiplier of a scale byte: 2^(b-127); 255 -> NaN; plena-hw-mxfp byte 0 -> 0.0.
float scale_value(const Format& f, uint8_t scale_byte);
// True when the code's value is zero (either sign).
bool code_is_zero(const Format& f, uint8_t code);

// ---------------------------------------------------------------------------------------------
// Packed storage (HBM images). Element codes of width w are a little-endian bit stream per row:
// element i occupies stream bits [i*w, (i+1)*w), stream bit j is bit (j % 8) of byte j / 8. So
// fp4/int4: element 0 in the low nibble; int2: element 0 in bits 1:0; fp6: 4 elements per 3 bytes;
// bf16/fp16/fp32: little-endian words. Scales live in a separate region, one entry per block in
// block order: 1 byte (E8M0) for block codecs, 4 bytes (fp16 scale, fp16 zero; little-endian) for
// asym-int groups, none for plain formats. A partial trailing block is zero-padded for the scale
// computation and stores only its real elements; asym-int partial groups use only real elements.
size_t packed_element_bytes(const Format& f, size_t n);
size_t scale_bytes(const Format& f, size_t n);
void pack_codes(std::span<const uint32_t> codes, int width, std::span<uint8_t> out);
void unpack_codes(std::span<const uint8_t> in, int width, std::span<uint32_t> codes);

// Row API over packed storage; works for every Format (plain formats have no scale bytes;
// asym-int treats the row as per-token groups of f.block elements).
void encode_row(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                std::span<uint8_t> scale_bytes_out);
void decode_row(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_bytes_in,
                std::span<float> out);
// Quantize-dequantize in place, row = whole span (blocks start at index 0).
void fake_quantize(const Format& f, std::span<float> data);

// ---------------------------------------------------------------------------------------------
// Asymmetric integer groups (BitDecoding-style low-bit KV cache), matrix [tokens x channels].
enum class AsymAxis : uint8_t {
  PerChannel,  // K: one (scale, zero) per channel per group of `group` consecutive tokens
  PerToken,    // V: one (scale, zero) per token per group of `group` consecutive channels
};
struct AsymIntTensor {
  int bits = 4;
  int group = 32;
  AsymAxis axis = AsymAxis::PerToken;
  size_t tokens = 0, channels = 0;
  std::vector<uint8_t> codes;    // unpacked, row-major [tokens x channels], 0 .. 2^bits-1
  std::vector<uint16_t> scale;   // fp16 bits; PerChannel: [ceil(tokens/group) x channels],
  std::vector<uint16_t> zero;    //            PerToken:   [tokens x ceil(channels/group)]
};
AsymIntTensor asym_quantize(std::span<const float> x, size_t tokens, size_t channels, int bits, int group,
                            AsymAxis axis);
std::vector<float> asym_dequantize(const AsymIntTensor& t);
// One group: fills codes, returns {scale, zero} as fp16 bits. Dequant: fp16(q * scale + zero), one rounding.
void asym_quantize_group(std::span<const float> x, int bits, std::span<uint8_t> codes, uint16_t& scale_fp16,
                         uint16_t& zero_fp16);
float asym_dequant_value(uint32_t q, uint16_t scale_fp16, uint16_t zero_fp16);

// ---------------------------------------------------------------------------------------------
// Golden files (schema plena-golden-quant/1, see ../shared/golden/quant/README.md).
struct GoldenReport {
  std::string file;
  std::string format;               // canonical Format::name() of the file
  size_t cases = 0, passed = 0, failed = 0;
  size_t passthrough = 0;           // artifact cases checked for scale byte only
  std::vector<std::string> mismatches;  // one line per mismatch
};
// Recomputes every case (encode -> scale byte + codes, decode -> dequant; also decodes the golden
// codes). InputError for unreadable files or schema violations.
GoldenReport check_golden_file(const std::filesystem::path& path);

// ---------------------------------------------------------------------------------------------
// Tensor files for `plena quant encode|decode|roundtrip`. The last axis is the row.
// encode writes PREFIX.elems.npy (u1 [rows, packed_element_bytes(cols)]), PREFIX.scales.npy
// (u1 [rows, scale_bytes(cols)]) and PREFIX.json ({"format", "shape"}).
void encode_npy_file(const Format& f, const std::filesystem::path& in, const std::filesystem::path& prefix);
void decode_npy_file(const std::filesystem::path& prefix, const std::filesystem::path& out);
void roundtrip_npy_file(const Format& f, const std::filesystem::path& in, const std::filesystem::path& out);

}  // namespace plena::numerics

// Packed storage and the row API (encode_row / decode_row / fake_quantize) for every Format.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "numerics/block.hpp"
#include "numerics/fast.hpp"
#include "numerics/numerics.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::numerics {
namespace {

void check_size(std::string_view what, std::string_view region, size_t got, size_t want, const Format& f, size_t n) {
  if (got != want)
    throw InputError(fmt::format("{}: {} has {} bytes for {} elements of '{}'; expected {}", what, region, got, n,
                                 f.name(), want));
}

bool is_plain_fp32(const Format& f) { return !f.is_block() && f.ebits == 8 && f.mbits == 23; }

// Scratch for one block of codes (blocks are at most 4096 elements, see parse_format).
struct Scratch {
  std::vector<uint8_t> codes;
  std::vector<uint32_t> wide;
};

}  // namespace

size_t packed_element_bytes(const Format& f, size_t n) { return ceil_div(n * size_t(f.width), size_t{8}); }

size_t scale_bytes(const Format& f, size_t n) {
  if (!f.is_block()) return 0;
  size_t blocks = ceil_div(n, size_t(f.block));
  return blocks * size_t(f.scale_bits / 8);
}

void pack_codes(std::span<const uint32_t> codes, int width, std::span<uint8_t> out) {
  size_t need = ceil_div(codes.size() * size_t(width), size_t{8});
  if (width < 1 || width > 32 || out.size() != need)
    throw InputError(fmt::format("pack_codes: {} codes of {} bits need {} bytes, got {}", codes.size(), width, need,
                                 out.size()));
  uint64_t acc = 0;
  int bits = 0;
  size_t o = 0;
  uint64_t mask = width == 32 ? 0xFFFFFFFFull : ((uint64_t(1) << width) - 1);
  for (uint32_t c : codes) {
    acc |= (uint64_t(c) & mask) << bits;
    bits += width;
    while (bits >= 8) {
      out[o++] = uint8_t(acc);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out[o++] = uint8_t(acc);
}

void unpack_codes(std::span<const uint8_t> in, int width, std::span<uint32_t> codes) {
  size_t need = ceil_div(codes.size() * size_t(width), size_t{8});
  if (width < 1 || width > 32 || in.size() != need)
    throw InputError(fmt::format("unpack_codes: {} codes of {} bits need {} bytes, got {}", codes.size(), width, need,
                                 in.size()));
  uint64_t acc = 0;
  int bits = 0;
  size_t p = 0;
  uint64_t mask = width == 32 ? 0xFFFFFFFFull : ((uint64_t(1) << width) - 1);
  for (auto& c : codes) {
    while (bits < width) {
      acc |= uint64_t(in[p++]) << bits;
      bits += 8;
    }
    c = uint32_t(acc & mask);
    acc >>= width;
    bits -= width;
  }
}

void encode_row(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                std::span<uint8_t> scale_out) {
  const size_t n = in.size();
  check_size("encode_row", "element region", elem_bytes.size(), packed_element_bytes(f, n), f, n);
  check_size("encode_row", "scale region", scale_out.size(), scale_bytes(f, n), f, n);
  if (is_plain_fp32(f)) {
    if (n) std::memcpy(elem_bytes.data(), in.data(), n * 4);
    return;
  }
  if (fast::encode_plain16(f, in, elem_bytes)) return;
  if (f.width == 16 && (f.element == "bf16" || f.element == "fp16")) {  // little-endian words, no packing
    const bool bf = f.element == "bf16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = bf ? f32_to_bf16(in[i]) : f32_to_fp16(in[i]);
      elem_bytes[2 * i] = uint8_t(h);
      elem_bytes[2 * i + 1] = uint8_t(h >> 8);
    }
    return;
  }
  if (!f.is_block()) {
    std::vector<uint32_t> codes(n);
    for (size_t i = 0; i < n; ++i) codes[i] = encode_scalar(in[i], f);
    pack_codes(codes, f.width, elem_bytes);
    return;
  }
  const size_t B = size_t(f.block);
  if (fast::encode_asym(f, in, elem_bytes, scale_out)) return;
  if (f.codec == Codec::AsymInt) {
    std::vector<uint8_t> codes(n);
    for (size_t b0 = 0, g = 0; b0 < n; b0 += B, ++g) {
      size_t len = std::min(B, n - b0);
      uint16_t sc = 0, zp = 0;
      asym_quantize_group(in.subspan(b0, len), f.width, std::span(codes).subspan(b0, len), sc, zp);
      uint8_t* s = scale_out.data() + 4 * g;
      s[0] = uint8_t(sc), s[1] = uint8_t(sc >> 8), s[2] = uint8_t(zp), s[3] = uint8_t(zp >> 8);
    }
    std::vector<uint32_t> wide(codes.begin(), codes.end());
    pack_codes(wide, f.width, elem_bytes);
    return;
  }
  if (fast::encode_row(f, in, elem_bytes, scale_out)) return;
  const BlockCodec& codec = BlockCodec::cached(f);
  std::vector<uint8_t> codes(f.width == 8 ? 0 : n);
  std::span<uint8_t> dst = f.width == 8 ? elem_bytes : std::span<uint8_t>(codes);
  for (size_t b0 = 0, g = 0; b0 < n; b0 += B, ++g) {
    size_t len = std::min(B, n - b0);
    scale_out[g] = codec.encode(in.subspan(b0, len), dst.subspan(b0, len));
  }
  if (f.width != 8) {
    std::vector<uint32_t> wide(codes.begin(), codes.end());
    pack_codes(wide, f.width, elem_bytes);
  }
}

void decode_row(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                std::span<float> out) {
  const size_t n = out.size();
  check_size("decode_row", "element region", elem_bytes.size(), packed_element_bytes(f, n), f, n);
  check_size("decode_row", "scale region", scale_in.size(), scale_bytes(f, n), f, n);
  if (is_plain_fp32(f)) {
    if (n) std::memcpy(out.data(), elem_bytes.data(), n * 4);
    return;
  }
  if (fast::decode_plain16(f, elem_bytes, out)) return;
  if (f.width == 16 && (f.element == "bf16" || f.element == "fp16")) {
    const bool bf = f.element == "bf16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = uint16_t(elem_bytes[2 * i] | (elem_bytes[2 * i + 1] << 8));
      out[i] = bf ? bf16_to_f32(h) : fp16_to_f32(h);
    }
    return;
  }
  std::vector<uint32_t> wide;
  auto unpack = [&] {
    wide.resize(n);
    unpack_codes(elem_bytes, f.width, wide);
  };
  if (!f.is_block()) {
    unpack();
    for (size_t i = 0; i < n; ++i) out[i] = decode_scalar(wide[i], f);
    return;
  }
  const size_t B = size_t(f.block);
  if (fast::decode_asym(f, elem_bytes, scale_in, out)) return;
  if (f.codec == Codec::AsymInt) {
    unpack();
    for (size_t b0 = 0, g = 0; b0 < n; b0 += B, ++g) {
      const uint8_t* s = scale_in.data() + 4 * g;
      uint16_t sc = uint16_t(s[0] | (s[1] << 8)), zp = uint16_t(s[2] | (s[3] << 8));
      for (size_t i = b0; i < std::min(n, b0 + B); ++i) out[i] = asym_dequant_value(wide[i], sc, zp);
    }
    return;
  }
  if (fast::decode_row(f, elem_bytes, scale_in, out)) return;
  const BlockCodec& codec = BlockCodec::cached(f);
  std::vector<uint8_t> codes;
  std::span<const uint8_t> src = elem_bytes;
  if (f.width != 8) {
    unpack();
    codes.assign(wide.begin(), wide.end());
    src = codes;
  }
  for (size_t b0 = 0, g = 0; b0 < n; b0 += B, ++g) {
    size_t len = std::min(B, n - b0);
    codec.decode(scale_in[g], src.subspan(b0, len), out.subspan(b0, len));
  }
}

void fake_quantize(const Format& f, std::span<float> data) {
  const size_t n = data.size();
  if (is_plain_fp32(f)) return;
  if (!f.is_block()) {
    for (float& x : data) x = round_to_format(x, f);
    return;
  }
  std::vector<uint8_t> elems(packed_element_bytes(f, n)), scales(scale_bytes(f, n));
  encode_row(f, data, elems, scales);
  decode_row(f, elems, scales, data);
}

}  // namespace plena::numerics

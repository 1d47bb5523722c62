// Internal: vectorizable fast paths of the row API for the hot formats. Each returns false when
// it does not handle the format; results are bit-identical to the reference block codecs
// (tests/numerics checks this on millions of random blocks).
#pragma once
#include <array>
#include <cstdint>
#include <span>

#include "numerics/fast_simd.hpp"
#include "numerics/format.hpp"

namespace plena::numerics::fast {

bool encode_row(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                std::span<uint8_t> scale_out);
bool decode_row(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                std::span<float> out);
// bf16 / fp16 rows (little-endian words); false for other formats.
bool encode_plain16(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes);
bool decode_plain16(const Format& f, std::span<const uint8_t> elem_bytes, std::span<float> out);
// asym-int rows (groups of f.block, 4-byte scale records); false for other formats or widths.
bool encode_asym(const Format& f, std::span<const float> in, std::span<uint8_t> elem_bytes,
                 std::span<uint8_t> scale_out);
bool decode_asym(const Format& f, std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in,
                 std::span<float> out);

// numerics::decode_row for many rows of one format, its dispatch done once (a DMA moving tiles
// row by row). Rows are whole: sizes as decode_row requires them. Must not outlive `f`.
class RowDecoder {
 public:
  explicit RowDecoder(const Format& f);
  RowDecoder(const RowDecoder&) = delete;  // args_ points into scales_
  RowDecoder& operator=(const RowDecoder&) = delete;
  void operator()(std::span<const uint8_t> elem_bytes, std::span<const uint8_t> scale_in, std::span<float> out) const;

 private:
  const Format& f_;
  bool blocks8_ = false;  // 8-bit block codes the SIMD kernel takes whole blocks of
  simd::DecodeArgs args_;
  std::array<float, 256> scales_{};  // own copy: the codec cache may drop the codec meanwhile
};

}  // namespace plena::numerics::fast

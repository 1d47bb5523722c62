// The HBM layout of one formatted tensor: the single type the compiler places, the manifest
// records and the simulator's DMA, loader and dump helpers read. It lives in numerics because
// the layout is defined by the format's packed sizes and both modules depend on numerics.
// Layout ABI: docs/compiler.md and docs/isa.md ("HBM layout").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "numerics/format.hpp"

namespace plena::numerics {

enum class TensorClass : uint8_t { Weight, Activation, Kv, Logits, Scratch };
std::string_view tensor_class_name(TensorClass c);  // "weight" "activation" "kv" "logits" "scratch"
TensorClass parse_tensor_class(std::string_view s);  // InputError listing the names

// One tensor in HBM. A tensor of shape [..., cols] is `rows` = product of the leading dims rows
// of `cols` elements; rows are `row_stride` elements apart (cols padded, see docs/compiler.md).
// Element e (e = row*row_stride + col) lives at byte base + packed_element_bytes(format, e);
// its block scale at base + packed_element_bytes(format, scale_reg) + scale_bytes(format, e).
// hbm_layout fills every field; a tensor built by hand (simulator run specs, tests) may leave
// row_stride 0 (meaning cols) and scale_reg 0 (meaning rows*stride()).
struct HbmTensor {
  std::string name;
  TensorClass cls = TensorClass::Weight;
  std::vector<uint64_t> shape;
  Format format;                                // default: fp32
  uint64_t rows = 0, cols = 0, row_stride = 0;  // elements
  uint64_t base = 0;                            // byte address
  uint64_t elem_offset = 0, elem_bytes = 0;     // element region, bytes relative to base
  uint64_t scale_offset = 0, scale_bytes = 0;   // scale region, bytes relative to base
  uint64_t scale_reg = 0;                       // SCALE_REG value = elements in the element region

  uint64_t stride() const { return row_stride ? row_stride : cols; }                // STRIDE_REG value
  uint64_t scale_elems() const { return scale_reg ? scale_reg : rows * stride(); }  // SCALE_REG value
  uint64_t stride_reg() const { return stride(); }
  uint64_t bytes() const { return scale_offset + scale_bytes; }  // both regions (hbm_layout tensors)
  int element_bits() const { return format.width; }
  int block() const { return format.block; }
  uint64_t element_index(uint64_t row, uint64_t col) const { return row * stride() + col; }  // gp offset
  uint64_t element_address(uint64_t e) const;
  uint64_t scale_address(uint64_t e) const;  // e must start a block
  friend bool operator==(const HbmTensor&, const HbmTensor&) = default;
};

// Row stride for `cols` elements: the smallest multiple of lcm(block, 8/gcd(width, 8),
// row_multiple) >= cols, so every row starts on a byte and on a scale-block boundary.
uint64_t hbm_row_stride(const Format& f, uint64_t cols, uint64_t row_multiple = 1);
// Fills rows/cols/row_stride/regions of a tensor at base 0 (no allocation). InputError for an
// empty shape or a zero dimension.
HbmTensor hbm_layout(std::string name, TensorClass cls, std::vector<uint64_t> shape, const Format& f,
                     uint64_t row_multiple = 1);

}  // namespace plena::numerics

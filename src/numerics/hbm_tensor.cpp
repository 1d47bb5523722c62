// The HBM tensor layout rule (row padding, element and scale regions) and tensor class names.
#include "numerics/hbm_tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "numerics/numerics.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::numerics {

std::string_view tensor_class_name(TensorClass c) {
  switch (c) {
    case TensorClass::Weight: return "weight";
    case TensorClass::Activation: return "activation";
    case TensorClass::Kv: return "kv";
    case TensorClass::Logits: return "logits";
    case TensorClass::Scratch: return "scratch";
  }
  return "?";
}

TensorClass parse_tensor_class(std::string_view s) {
  for (auto c : {TensorClass::Weight, TensorClass::Activation, TensorClass::Kv, TensorClass::Logits,
                 TensorClass::Scratch})
    if (tensor_class_name(c) == s) return c;
  throw InputError(fmt::format("unknown tensor class '{}', expected weight, activation, kv, logits or scratch", s));
}

uint64_t HbmTensor::element_address(uint64_t e) const { return base + packed_element_bytes(format, e); }
uint64_t HbmTensor::scale_address(uint64_t e) const {
  return base + packed_element_bytes(format, scale_elems()) + numerics::scale_bytes(format, e);
}

uint64_t hbm_row_stride(const Format& f, uint64_t cols, uint64_t row_multiple) {
  // Elements per whole byte: 8/gcd(width, 8) elements always end on a byte boundary.
  uint64_t byte_granule = 8 / std::gcd<uint64_t>(uint64_t(f.width), 8);
  uint64_t g = std::lcm<uint64_t>(std::lcm<uint64_t>(uint64_t(std::max(f.block, 1)), byte_granule),
                                  std::max<uint64_t>(row_multiple, 1));
  return round_up(cols, g);
}

HbmTensor hbm_layout(std::string name, TensorClass cls, std::vector<uint64_t> shape, const Format& f,
                     uint64_t row_multiple) {
  if (shape.empty()) throw InputError(fmt::format("HBM tensor '{}': shape is empty, expected at least one dimension", name));
  HbmTensor t;
  t.rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) t.rows *= shape[i];
  t.cols = shape.back();
  if (t.rows == 0 || t.cols == 0)
    throw InputError(fmt::format("HBM tensor '{}': shape has a zero dimension", name));
  t.name = std::move(name);
  t.cls = cls;
  t.shape = std::move(shape);
  t.format = f;
  t.row_stride = hbm_row_stride(f, t.cols, row_multiple);
  t.scale_reg = t.rows * t.row_stride;
  t.elem_offset = 0;
  t.elem_bytes = packed_element_bytes(f, t.scale_reg);
  t.scale_offset = t.elem_bytes;
  t.scale_bytes = numerics::scale_bytes(f, t.scale_reg);
  return t;
}

}  // namespace plena::numerics

// The pieces of `plena quant decode` that work on bytes in memory (shared with the fuzzer).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "numerics/format.hpp"
#include "support/support.hpp"

namespace plena::numerics {

// PREFIX.json written by `plena quant encode` (schema plena-quant-encoded/1).
struct QuantMeta {
  Format format;
  std::vector<size_t> shape;  // of the original tensor; the last axis is the row
  std::string elems, scales;  // file names in the JSON's folder
};

// Validates the JSON text; InputError naming `source` and the JSON path of the bad field.
QuantMeta parse_quant_meta(std::string_view text, std::string_view source);

// Decodes the element/scale arrays (u1 [rows, bytes per row]) into f32 values of meta.shape;
// InputError naming elems_name/scales_name when an array does not match the format and shape.
std::vector<float> decode_quant(const QuantMeta& meta, const NpyArray& elems, std::string_view elems_name,
                                const NpyArray& scales, std::string_view scales_name);

}  // namespace plena::numerics

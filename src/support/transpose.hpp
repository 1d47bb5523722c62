// Tile transposes for laying large tables out (the LM head is [vocab, hidden] in a checkpoint and
// [hidden, vocab] in HBM). AVX-512 where the CPU has it (16 x 16 tiles in registers), else plain
// loops; both give the same values, so the caller never needs to know which ran.
#pragma once
#include <cstddef>
#include <cstdint>

namespace plena {

// dst[j * dst_stride + i] = the f32 value of bf16 word src[i * src_stride + j], for i < rows,
// j < cols (src is rows x cols, dst cols x rows).
void transpose_bf16_to_f32(const uint16_t* src, size_t src_stride, size_t rows, size_t cols, float* dst,
                           size_t dst_stride);

// dst[j * dst_stride + i] = the high 16 bits of src[i * src_stride + j] (a bf16 word); returns the
// OR of the low 16 bits of every value read, zero exactly when each value is a bf16 value.
uint32_t transpose_f32_to_bf16(const float* src, size_t src_stride, size_t rows, size_t cols, uint16_t* dst,
                               size_t dst_stride);

}  // namespace plena

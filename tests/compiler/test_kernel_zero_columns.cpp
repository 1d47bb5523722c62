// zero_columns through the simulator: the padding columns become +0 whatever they held (NaN and
// infinities included: o_proj's zero rows would turn those into NaN), the real columns and rows
// stay bit for bit.
#include <cmath>
#include <limits>

#include "kernel_harness_vector.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using namespace plena::test::kv;

namespace {

void check_zero_columns(const Geo& g, size_t rows, size_t cols, uint64_t first_col) {
  SCOPED_TRACE(tag(g, rows, cols));
  Rig r(make_config(g));
  std::vector<float> data = randv(rows * cols, 31, 2.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < rows; ++i)
    for (size_t c = first_col; c < cols; ++c) data[i * cols + c] = (i + c) % 3 == 0 ? nan : (i + c) % 3 == 1 ? inf : 5.f;
  const std::vector<float> stored = r.put_vram("attn", rows, cols, data, g.blen, nan);
  emit_zero_columns(r.b, r.plan, {"zero_columns", "attn", first_col});
  r.run();
  const std::vector<float> got = r.get_vram("attn", true);
  const size_t w = r.plan.vram("attn").col_blocks * r.vlen();
  for (size_t i = 0; i < rows; ++i)
    for (size_t c = 0; c < w; ++c) {
      const float v = got[i * w + c];
      if (c >= cols) continue;  // past the tensor: nobody reads it
      const uint32_t want = c < first_col ? bits(stored[i * cols + c]) : 0u;  // +0 on the padding
      ASSERT_EQ(bits(v), want) << i << " " << c;
    }
}

}  // namespace

TEST(KernelZeroColumns, PaddingBecomesZeroRealColumnsKeepTheirBits) {
  check_zero_columns({16, 4, "fp32", "fp32"}, 6, 48, 20);   // tiny-fp32: two partial blocks
  check_zero_columns({64, 4, "bf16", "fp32"}, 9, 128, 72);  // reference-small geometry
  check_zero_columns({16, 4, "fp32", "fp32"}, 5, 32, 32);   // nothing to zero: no instruction
}

TEST(KernelZeroColumns, RejectsColumnsOffTheBlenGrid) {
  Rig r(make_config({16, 4, "fp32", "fp32"}));
  r.alloc_vram("attn", 4, 32, 4);
  EXPECT_THROW(emit_zero_columns(r.b, r.plan, {"zero_columns", "attn", 6}), InputError);
  EXPECT_THROW(emit_zero_columns(r.b, r.plan, {"zero_columns", "attn", 36}), InputError);
}

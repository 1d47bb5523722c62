// Packed storage layout and the row API (partial blocks, plain formats, sizes).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

using namespace plena::numerics;

TEST(Packing, DocumentedLayout) {
  std::vector<uint8_t> out(2);
  pack_codes(std::vector<uint32_t>{1, 2, 3}, 4, out);  // fp4/int4: element 0 in the low nibble
  EXPECT_EQ(out, (std::vector<uint8_t>{0x21, 0x03}));
  out.assign(1, 0);
  pack_codes(std::vector<uint32_t>{1, 2, 3, 0}, 2, out);  // int2: element 0 in bits 1:0
  EXPECT_EQ(out[0], 0x39);
  out.assign(3, 0);
  pack_codes(std::vector<uint32_t>{0x3F, 0x00, 0x15, 0x2A}, 6, out);  // fp6: 4 elements in 3 bytes
  EXPECT_EQ(out, (std::vector<uint8_t>{0x3F, 0x50, 0xA9}));
  EXPECT_THROW(pack_codes(std::vector<uint32_t>{1, 2, 3}, 4, std::span<uint8_t>(out)), plena::InputError);
}

TEST(Packing, RoundTripAllWidths) {
  std::mt19937 rng(7);
  for (int w : {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32}) {
    for (size_t n : {0u, 1u, 7u, 33u, 1000u}) {
      std::vector<uint32_t> codes(n), back(n);
      for (auto& c : codes) c = w == 32 ? rng() : rng() & ((1u << w) - 1);
      std::vector<uint8_t> bytes((n * size_t(w) + 7) / 8);
      pack_codes(codes, w, bytes);
      unpack_codes(bytes, w, back);
      EXPECT_EQ(codes, back) << "width " << w << " n " << n;
    }
  }
}

TEST(Row, SizesAndPartialBlocks) {
  Format fp4 = parse_format("ocp-mx:fp4_e2m1:b32");
  EXPECT_EQ(packed_element_bytes(fp4, 37), 19u);
  EXPECT_EQ(scale_bytes(fp4, 37), 2u);
  Format e6 = parse_format("ocp-mx:fp6_e3m2:b32");
  EXPECT_EQ(packed_element_bytes(e6, 64), 48u);
  Format asym = parse_format("asym-int:uint4:g32");
  EXPECT_EQ(packed_element_bytes(asym, 128), 64u);
  EXPECT_EQ(scale_bytes(asym, 128), 16u);  // fp16 scale + fp16 zero per group
  Format bf = parse_format("bf16");
  EXPECT_EQ(packed_element_bytes(bf, 5), 10u);
  EXPECT_EQ(scale_bytes(bf, 5), 0u);
  EXPECT_DOUBLE_EQ(fp4.bits_per_element(), 4.25);

  // A partial trailing block equals the zero-padded block with the padding dropped.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (const char* name : {"ocp-mx:fp4_e2m1:b32", "ocp-mx:fp6_e2m3:b16:ties-away", "mase-bfp:int2:b8",
                           "mase-bfp:int5:b16", "plena-hw-mxfp:fp8_e4m3:b8", "ocp-mx:fp8_e5m2:b32"}) {
    Format f = parse_format(name);
    size_t B = size_t(f.block), n = 3 * B + 5;
    std::vector<float> x(n), y(n), padded(B, 0.0f), pq(B);
    for (auto& v : x) v = nd(rng);
    std::vector<uint8_t> e(packed_element_bytes(f, n)), s(scale_bytes(f, n));
    encode_row(f, x, e, s);
    decode_row(f, e, s, y);
    std::copy(x.begin() + long(3 * B), x.end(), padded.begin());
    std::vector<uint8_t> codes(B);
    uint8_t sb = encode_block(f, padded, codes);
    decode_block(f, sb, codes, pq);
    EXPECT_EQ(s.back(), sb) << name;
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(y[3 * B + i], pq[i]) << name;
    std::vector<float> fq = x;
    fake_quantize(f, fq);
    EXPECT_EQ(fq, y) << name;
    size_t nonzero = 0;
    for (float v : y) nonzero += v != 0;
    EXPECT_GT(nonzero, n / 3) << name;
    EXPECT_THROW(encode_row(f, x, std::span<uint8_t>(e).subspan(1), s), plena::InputError);
  }
}

TEST(Row, PlainFormats) {
  std::vector<float> x = {1.0f, -2.5f, 3.14159265f, 1e-30f, 65519.0f, -0.0f, 1e9f};
  const size_t n = x.size();
  for (const char* name : {"fp32", "bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1", "minifloat_e3m4"}) {
    Format f = parse_format(name);
    std::vector<uint8_t> e(packed_element_bytes(f, n));
    std::vector<float> y(n);
    encode_row(f, x, e, {});
    decode_row(f, e, {}, y);
    for (size_t i = 0; i < n; ++i) {
      float want = round_to_format(x[i], f);
      EXPECT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(want)) << name << " " << x[i];
    }
    std::vector<float> fq = x;
    fake_quantize(f, fq);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(std::bit_cast<uint32_t>(fq[i]), std::bit_cast<uint32_t>(y[i])) << name;
  }
  Format fp32 = parse_format("fp32");
  std::vector<uint8_t> e(4 * n);
  encode_row(fp32, x, e, {});
  uint32_t first = uint32_t(e[0]) | uint32_t(e[1]) << 8 | uint32_t(e[2]) << 16 | uint32_t(e[3]) << 24;
  EXPECT_EQ(first, 0x3F800000u);  // little-endian fp32 words
  Format bf = parse_format("bf16");
  std::vector<uint8_t> eb(2 * n);
  encode_row(bf, x, eb, {});
  EXPECT_EQ(eb[0], 0x80);
  EXPECT_EQ(eb[1], 0x3F);
}

TEST(Row, NpyFilesRoundTrip) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(PLENA_BINARY_DIR) / "numerics_npy_test";
  fs::create_directories(dir);
  std::vector<float> x(3 * 37);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  plena::npy_save(dir / "x.npy", plena::npy_from_f32(x, {3, 37}));
  Format f = parse_format("ocp-mx:fp4_e2m1:b32");
  encode_npy_file(f, dir / "x.npy", dir / "enc");
  decode_npy_file(dir / "enc", dir / "y.npy");
  roundtrip_npy_file(f, dir / "x.npy", dir / "z.npy");
  auto y = plena::npy_load(dir / "y.npy"), z = plena::npy_load(dir / "z.npy");
  EXPECT_EQ(y.shape, (std::vector<size_t>{3, 37}));
  EXPECT_EQ(y.data, z.data);
  auto e = plena::npy_load(dir / "enc.elems.npy"), s = plena::npy_load(dir / "enc.scales.npy");
  EXPECT_EQ(e.shape, (std::vector<size_t>{3, 19}));
  EXPECT_EQ(s.shape, (std::vector<size_t>{3, 2}));
  EXPECT_NE(y.data, plena::npy_from_f32(x, {3, 37}).data);
  fs::remove_all(dir);
}

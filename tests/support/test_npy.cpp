#include <gtest/gtest.h>

#include <cstring>

#include "support/support.hpp"

using namespace plena;

TEST(Npy, RoundTripF32) {
  std::vector<float> v = {1.0f, -2.5f, 3.25f, 0.0f, 1e-30f, -7.0f};
  auto a = npy_from_f32(v, {2, 3});
  auto bytes = npy_serialize(a);
  auto b = npy_parse(bytes, "mem");
  EXPECT_EQ(b.dtype, "f4");
  EXPECT_EQ(b.shape, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(b.to_f32(), v);
  EXPECT_EQ((bytes.size() - b.data.size()) % 64, 0u);
}

TEST(Npy, FortranOrderIsTransposed) {
  // Hand-built header: 2x3 int32 in Fortran order holding C matrix [[0,1,2],[3,4,5]].
  std::string hdr = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }";
  while ((10 + hdr.size() + 1) % 64) hdr += ' ';
  hdr += '\n';
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(hdr.size()), 0};
  b.insert(b.end(), hdr.begin(), hdr.end());
  int32_t fdata[6] = {0, 3, 1, 4, 2, 5};
  b.insert(b.end(), reinterpret_cast<uint8_t*>(fdata), reinterpret_cast<uint8_t*>(fdata) + 24);
  auto a = npy_parse(b, "f.npy");
  EXPECT_EQ(a.to_i64(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, HalfToFloat) {
  std::string hdr = "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }";
  while ((10 + hdr.size() + 1) % 64) hdr += ' ';
  hdr += '\n';
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(hdr.size()), 0};
  b.insert(b.end(), hdr.begin(), hdr.end());
  uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, 2^-24, 65504
  b.insert(b.end(), reinterpret_cast<uint8_t*>(h), reinterpret_cast<uint8_t*>(h) + 8);
  auto f = npy_parse(b, "h.npy").to_f32();
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], -2.0f);
  EXPECT_EQ(f[2], 0x1p-24f);
  EXPECT_EQ(f[3], 65504.0f);
}

TEST(Npy, MalformedInputsAreLocatedErrors) {
  std::vector<uint8_t> junk = {1, 2, 3};
  try {
    npy_parse(junk, "bad.npy");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.npy"), std::string::npos);
  }
  auto a = npy_serialize(npy_from_f32(std::vector<float>{1, 2, 3, 4}, {4}));
  a.resize(a.size() - 4);  // truncate the data
  EXPECT_THROW(npy_parse(a, "trunc.npy"), InputError);
}

TEST(Hash, Fnv1aKnownValues) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(hex64(0xabcull), "0000000000000abc");
}

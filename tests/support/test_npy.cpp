#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "npy_craft.hpp"
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

namespace {

using plena::test::craft_npy;
using plena::test::npy_dict;

// npy_parse must throw InputError naming the file and containing `needle`.
void expect_npy_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    npy_parse(bytes, "crafted.npy");
    ADD_FAILURE() << "accepted; expected an error containing: " << needle;
  } catch (const InputError& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind("crafted.npy: error: ", 0), 0u) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << m << "\n  expected: " << needle;
  }
}

}  // namespace

TEST(NpyStrict, PreambleAndVersion) {
  expect_npy_error({0x93, 'N', 'U', 'M', 'P', 'X', 1, 0, 0, 0}, "magic bytes");
  expect_npy_error({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}, "preamble (10 bytes)");
  expect_npy_error({0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0}, "preamble (12 bytes)");
  auto v = craft_npy(npy_dict("<f4", "(1,)"), 4);
  v[6] = 4;
  expect_npy_error(v, "byte 6: unsupported .npy format version 4.0");
  v[6] = 1, v[7] = 1;
  expect_npy_error(v, "version 1.1");
  v = craft_npy(npy_dict("<f4", "(1,)"), 4);
  v[9] = 0x7f;  // header length far beyond the file
  expect_npy_error(v, "byte 8: header length 32630 runs past the end of the file (122 bytes after byte 10)");
}

TEST(NpyStrict, HeaderDictSyntax) {
  expect_npy_error(craft_npy("'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4), "byte 10: expected '{'");
  expect_npy_error(craft_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4), "expected ',' or '}'");
  expect_npy_error(craft_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'junk': 1}", 4),
                   "unknown key 'junk'");
  expect_npy_error(craft_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}", 4),
                   "duplicate key 'shape'");
  expect_npy_error(craft_npy("{'descr': '<f4', 'shape': (1,)}", 4), "missing key 'fortran_order'");
  expect_npy_error(craft_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4), "True or False");
  expect_npy_error(craft_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4),
                   "'x' after the header dict");
  expect_npy_error(craft_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\xc3\xa9", 4),
                   "byte 0xc3 is not printable ASCII");
  expect_npy_error(craft_npy("{'descr': '<f4\\n', 'fortran_order': False, 'shape': (1,)}", 4), "escape sequences");
  expect_npy_error(craft_npy("{descr: '<f4', 'fortran_order': False, 'shape': (1,)}", 4), "expected a quoted key");
  expect_npy_error(craft_npy("{'descr' '<f4'}", 4), "expected ':' after key 'descr', got");
}

TEST(NpyStrict, DescrAndShapeValues) {
  expect_npy_error(craft_npy(npy_dict("<c8", "(1,)"), 8), "unsupported dtype '<c8'");
  expect_npy_error(craft_npy(npy_dict(">f4", "(1,)"), 4), "big-endian dtype '>f4'");
  expect_npy_error(craft_npy(npy_dict("|f4", "(1,)"), 4), "only valid for 1-byte types");
  expect_npy_error(craft_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4), "structured");
  expect_npy_error(craft_npy(npy_dict("<f4", "(2, -1)"), 4), "'shape' entry 1 is negative");
  expect_npy_error(craft_npy(npy_dict("<f4", "(01,)"), 4), "leading zero");
  expect_npy_error(craft_npy(npy_dict("<f4", "(1.5,)"), 4), "expected ',' or ')' in 'shape'");
  expect_npy_error(craft_npy(npy_dict("<f4", "(x,)"), 4), "'shape' entry 0: expected a non-negative integer");
  expect_npy_error(craft_npy(npy_dict("<f4", "(3)"), 12), "'shape' (3) is not a tuple; expected (3,)");
  expect_npy_error(craft_npy(npy_dict("<f4", "[3]"), 12), "expected a tuple for 'shape'");
  expect_npy_error(craft_npy(npy_dict("<f4", "(99999999999999999999999,)"), 4), "larger than 2^63-1");
  std::string many = "(";
  for (int i = 0; i < 65; ++i) many += "1, ";
  expect_npy_error(craft_npy(npy_dict("<f4", many + ")"), 4), "65 dimensions; expected at most 64");
}

TEST(NpyStrict, SizesAreCheckedBeforeAnythingIsAllocated) {
  // 2^62 x 4 floats wraps size_t to 0 bytes; 2^62 x 64 to 0 as well: both must be refused.
  expect_npy_error(craft_npy(npy_dict("<f4", "(4611686018427387904, 4)"), 0), "needs more than 2^63 bytes");
  expect_npy_error(craft_npy(npy_dict("<f4", "(4611686018427387904, 64)"), 64), "needs more than 2^63 bytes");
  // As numpy does, a zero dim does not excuse an overflowing product of the others.
  expect_npy_error(craft_npy(npy_dict("<f4", "(1099511627776, 1099511627776, 0)"), 0), "more than 2^63 bytes");
  expect_npy_error(craft_npy(npy_dict("<f4", "(2, 3)"), 20), "declares 24 data bytes, the file has 20 (truncated)");
  expect_npy_error(craft_npy(npy_dict("<f4", "(2, 3)"), 28), "the file has 28; expected the file to end after the data");
  expect_npy_error(craft_npy(npy_dict("<f4", "(2, 3)"), 28), "byte 128: shape (2, 3) of 'f4'");
}

TEST(NpyStrict, AcceptedForms) {
  // Zero-sized arrays, Python 2 'L' suffixes, double quotes, any key order, format 2.0 and 3.0.
  EXPECT_EQ(npy_parse(craft_npy(npy_dict("<f4", "(0, 4)"), 0), "z.npy").size(), 0u);
  EXPECT_EQ(npy_parse(craft_npy(npy_dict("|u1", "(4611686018427387904, 0)"), 0), "z.npy").shape[0], size_t{1} << 62);
  EXPECT_EQ(npy_parse(craft_npy(npy_dict("<f4", "()"), 4), "s.npy").size(), 1u);
  EXPECT_EQ(npy_parse(craft_npy(npy_dict("<i2", "(3L,)"), 6), "l.npy").shape, (std::vector<size_t>{3}));
  auto a = npy_parse(craft_npy("{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"|u1\"}", 6, 2), "v2.npy");
  EXPECT_EQ(a.shape, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(a.dtype, "u1");
  EXPECT_EQ(npy_parse(craft_npy(npy_dict("f8", "(1,)"), 8, 3), "v3.npy").dtype, "f8");
}

TEST(FileReaders, OsReasonAndDirectories) {
  const std::filesystem::path dir = std::filesystem::path(PLENA_BINARY_DIR) / "test_support_readers_dir";
  std::filesystem::create_directories(dir);
  for (int binary = 0; binary < 2; ++binary) {
    auto read = [&](const std::filesystem::path& p) {
      if (binary) read_binary_file(p);
      else read_text_file(p);
    };
    try {
      read(dir);
      ADD_FAILURE() << "a directory was read as a file";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("test_support_readers_dir: error: cannot read file: Is a directory"),
                std::string::npos) << e.what();
    }
    try {
      read(dir / "missing.bin");
      ADD_FAILURE() << "a missing file was read";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("missing.bin: error: cannot open file for reading: No such file or directory"),
                std::string::npos) << e.what();
    }
  }
  write_text_file(dir / "t.txt", std::string(200000, 'x'));
  EXPECT_EQ(read_text_file(dir / "t.txt").size(), 200000u);
}

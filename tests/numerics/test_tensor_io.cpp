// `plena quant encode|decode|roundtrip` readers: the quant JSON and its arrays are validated with
// overflow-checked sizes before anything is allocated; zero-sized axes never divide or spin.
#include <gtest/gtest.h>

#include <filesystem>

#include "../support/npy_craft.hpp"
#include "numerics/numerics.hpp"
#include "numerics/tensor_io.hpp"
#include "support/support.hpp"

namespace plena::numerics {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_tensor_io" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Runs f, which must throw InputError whose message contains every needle.
template <class F>
void expect_error(F f, std::initializer_list<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << *needles.begin();
  } catch (const InputError& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " / " << n;
  }
}

std::string meta(const std::string& shape, const std::string& extra = "") {
  return R"({"schema": "plena-quant-encoded/1", "format": "ocp-mx:fp8_e4m3:b32:rne", "shape": )" + shape +
         R"(, "elems": "q.elems.npy", "scales": "q.scales.npy")" + extra + "}";
}

TEST(QuantMeta, EachMalformedFieldIsNamed) {
  const std::string base = R"("format": "fp32", "shape": [2], "elems": "e.npy", "scales": "s.npy")";
  auto bad = [](const std::string& text, std::initializer_list<std::string> needles) {
    expect_error([&] { parse_quant_meta(text, "q.json"); }, needles);
  };
  bad("{\"schema\": ", {"q.json:1:", "malformed JSON"});
  bad("[1]", {"q.json: error: expected a JSON object"});
  bad(R"({"schema": "plena-quant-encoded/1", )" + base + R"(, "shape": [3]})", {"q.json", "duplicate key 'shape' in $"});
  bad(R"({"schema": "plena-quant-encoded/1", )" + base + R"(, "extra": 1})", {"q.json", "$.extra: unknown key"});
  bad(R"({"schema": "plena-quant-encoded/1", "format": "fp32", "shape": [2], "elems": "e.npy"})",
      {"q.json", "missing key 'scales'"});
  bad(R"({"schema": "plena-quant-encoded/2", )" + base + "}", {"q.json", "$.schema = \"plena-quant-encoded/2\""});
  bad(R"({"schema": "plena-quant-encoded/1", "format": "fp99", "shape": [2], "elems": "e.npy", "scales": "s.npy"})",
      {"q.json", "$.format: invalid number format 'fp99'"});
  bad(R"({"schema": "plena-quant-encoded/1", "format": 7, "shape": [2], "elems": "e.npy", "scales": "s.npy"})",
      {"q.json", "$.format = 7"});
  for (const char* shape : {"[2, -1]", "[2, 1.5]", "[2, \"3\"]", "[2, 1e30]"})
    bad(meta(shape), {"q.json", "$.shape[1] = ", "expected a non-negative integer"});
  bad(meta("[]"), {"q.json", "$.shape = []: expected a non-empty list"});
  bad(meta("7"), {"q.json", "$.shape = 7"});
  bad(meta("[4611686018427387904, 4611686018427387904]"), {"q.json", "would need more than 2^63 bytes"});
  for (const char* name : {"../x.npy", "/etc/passwd", "..", "", "a\\\\b"})
    bad(R"({"schema": "plena-quant-encoded/1", "format": "fp32", "shape": [2], "elems": ")" + std::string(name) +
            R"(", "scales": "s.npy"})",
        {"q.json", "$.elems = ", "expected a file name in the same folder"});
}

TEST(QuantDecode, ArraysMustMatchTheJsonShape) {
  fs::path d = fresh_dir("mismatch");
  npy_save(d / "q.elems.npy", npy_from_u8(std::vector<uint8_t>(64), {2, 32}));
  npy_save(d / "q.scales.npy", npy_from_u8(std::vector<uint8_t>(2), {2, 1}));
  write_text_file(d / "q.json", meta("[2, 32]"));
  decode_npy_file(d / "q", d / "ok.npy");
  EXPECT_EQ(npy_load(d / "ok.npy").shape, (std::vector<size_t>{2, 32}));
  // Shapes whose byte counts wrap size_t, or that disagree with the arrays, name the array file.
  for (const char* shape : {"[4611686018427387904, 4]", "[4611686018427387904, 64]"}) {
    write_text_file(d / "q.json", meta(shape));
    expect_error([&] { decode_npy_file(d / "q.json", d / "out.npy"); }, {"q.json", "$.shape = ", "more than 2^63 bytes"});
  }
  for (const char* shape : {"[288230376151711744, 4]", "[1, 64]", "[2, 33]", "[64]", "[4, 16]"}) {
    write_text_file(d / "q.json", meta(shape));
    expect_error([&] { decode_npy_file(d / "q.json", d / "out.npy"); }, {"q.elems.npy", "expected uint8 ["});
    EXPECT_FALSE(fs::exists(d / "out.npy"));
  }
  write_text_file(d / "q.json", meta("[2, 2305843009213693952]"));
  expect_error([&] { decode_npy_file(d / "q", d / "out.npy"); }, {"q.json", "would need more than 2^63 bytes"});
  npy_save(d / "q.elems.npy", npy_from_f32(std::vector<float>(64), {2, 32}));
  write_text_file(d / "q.json", meta("[2, 32]"));
  expect_error([&] { decode_npy_file(d / "q", d / "out.npy"); }, {"q.elems.npy", "element array is 'f4' [2, 32]"});
  fs::remove(d / "q.scales.npy");
  expect_error([&] { decode_npy_file(d / "q", d / "out.npy"); }, {"q.scales.npy", "No such file or directory"});
}

TEST(QuantDecode, ZeroSizedAxesNeitherDivideNorSpin) {
  fs::path d = fresh_dir("zero");
  // 2^60 rows of nothing: valid, and decoded without visiting the rows.
  write_binary_file(d / "q.elems.npy", test::craft_npy(test::npy_dict("|u1", "(1152921504606846976, 0)"), 0));
  write_binary_file(d / "q.scales.npy", test::craft_npy(test::npy_dict("|u1", "(1152921504606846976, 0)"), 0));
  write_text_file(d / "q.json", meta("[1152921504606846976, 0]"));
  decode_npy_file(d / "q", d / "out.npy");
  EXPECT_EQ(npy_load(d / "out.npy").shape, (std::vector<size_t>{size_t{1} << 60, 0}));
  // 2^62 rows of nothing as f32 would exceed numpy's 2^63-byte limit: refused, not written.
  write_text_file(d / "q.json", meta("[4611686018427387904, 0]"));
  expect_error([&] { decode_npy_file(d / "q", d / "big.npy"); }, {"q.json", "$.shape", "more than 2^63 bytes"});
  write_binary_file(d / "x.npy", test::craft_npy(test::npy_dict("|u1", "(4611686018427387904, 0)"), 0));
  expect_error([&] { roundtrip_npy_file(parse_format("fp32"), d / "x.npy", d / "big.npy"); }, {"x.npy", "as f32"});
  EXPECT_FALSE(fs::exists(d / "big.npy"));
  Format f = parse_format("ocp-mx:fp4_e2m1:b32");
  for (const char* shape : {"(1152921504606846976, 0)", "(0, 1099511627776)", "(0,)", "(3, 0, 5)"}) {
    write_binary_file(d / "x.npy", test::craft_npy(test::npy_dict("|u1", shape), 0));
    roundtrip_npy_file(f, d / "x.npy", d / "rt.npy");
    encode_npy_file(f, d / "x.npy", d / "enc");
    decode_npy_file(d / "enc", d / "dec.npy");
    EXPECT_EQ(npy_load(d / "dec.npy").shape, npy_load(d / "x.npy").shape) << shape;
    EXPECT_EQ(npy_load(d / "rt.npy").shape, npy_load(d / "x.npy").shape) << shape;
  }
}

TEST(QuantEncode, CraftedHeadersAreRefusedBeforeAllocation) {
  fs::path d = fresh_dir("crafted");
  Format f = parse_format("ocp-mx:fp8_e4m3:b32");
  for (const char* shape : {"(4611686018427387904, 4)", "(4611686018427387904, 64)"}) {
    write_binary_file(d / "x.npy", test::craft_npy(test::npy_dict("<f4", shape), 64));
    expect_error([&] { roundtrip_npy_file(f, d / "x.npy", d / "rt.npy"); }, {"x.npy", "more than 2^63 bytes"});
    expect_error([&] { encode_npy_file(f, d / "x.npy", d / "enc"); }, {"x.npy", "more than 2^63 bytes"});
  }
  write_binary_file(d / "s.npy", test::craft_npy(test::npy_dict("<f4", "()"), 4));
  expect_error([&] { roundtrip_npy_file(f, d / "s.npy", d / "rt.npy"); }, {"s.npy", "got a scalar"});
  EXPECT_FALSE(fs::exists(d / "rt.npy"));
  EXPECT_FALSE(fs::exists(d / "enc.json"));
}

}  // namespace
}  // namespace plena::numerics

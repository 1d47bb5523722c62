// Malformed safetensors files, sharded indexes and config.json files: each class of bad input ends
// in InputError naming the file, the place (tensor, key, byte) and what was expected.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/model.hpp"
#include "support/support.hpp"
#include "test_util.hpp"

namespace plena::model {
namespace {
using testing::expect_input_error;
using testing::fresh_dir;

std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data_bytes, 0);
  return out;
}

void bad_image(const std::string& header, size_t data_bytes, std::initializer_list<std::string> needles) {
  std::vector<std::string> n(needles);
  n.push_back("w.safetensors: error: ");
  auto img = image(header, data_bytes);
  try {
    parse_safetensors(img, "w.safetensors");
    ADD_FAILURE() << "accepted: " << header;
  } catch (const InputError& e) {
    for (const auto& s : n) EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " / " << s;
  }
}

TEST(SafetensorsStrict, HeaderEntries) {
  const std::string a = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string b = R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]})";
  EXPECT_EQ(parse_safetensors(image("{" + a + "," + b + "}", 8), "ok").size(), 2u);
  bad_image("{" + a + "," + a + "}", 4, {"duplicate key 'a' in $"});
  bad_image("{" + a + "," + b + "}", 12, {"data bytes [8, 12) after the last tensor belong to no tensor"});
  bad_image("{" + b + "}", 8, {"data bytes [0, 4) before tensor 'b' belong to no tensor"});
  bad_image(R"({"__metadata__":{"format":1},)" + a + "}", 4, {"__metadata__['format'] = 1: expected a string"});
  bad_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":0}})", 4, {"tensor 'a'", "unknown field 'extra'"});
  bad_image(R"({"a":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", 4, {"tensor 'a'", "dtype 5 must be a string"});
  bad_image(R"({"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", 4, {"tensor 'a'", "non-negative integers"});
  bad_image(R"({"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", 4, {"tensor 'a'", "shape must be a list"});
  bad_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, {"tensor 'a'", "data_offsets [0] must be"});
  bad_image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", 4, {"tensor 'a'", "data_offsets [0,-4]"});
  // Shape products that wrap 64 bits (2^32 * 2^32 = 0 mod 2^64) must not pass as 0 bytes.
  bad_image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0,
            {"tensor 'a'", "(more than the file holds)"});
  bad_image(R"({"a":{"dtype":"BF16","shape":[9223372036854775808],"data_offsets":[0,0]}})", 0,
            {"tensor 'a'", "(more than the file holds)"});
  bad_image("{\"a\": ", 0, {"byte 14: malformed JSON"});
  bad_image("{\"\xff\": 1}", 0, {"malformed JSON"});
}

TEST(SafetensorsStrict, ShardedIndex) {
  auto dir = fresh_dir("readers_index");
  std::map<std::string, Tensor> one = {{"t", Tensor{{2}, {1.0f, 2.0f}}}}, two = {{"u", Tensor{{1}, {3.0f}}}};
  save_safetensors(dir / "s1.safetensors", one, DType::F32);
  save_safetensors(dir / "s2.safetensors", two, DType::F32);
  const auto index = dir / "model.safetensors.index.json";
  auto with_map = [&](const std::string& map) { write_text_file(index, R"({"metadata": {}, "weight_map": {)" + map + "}}"); };
  with_map(R"("t": "s1.safetensors", "u": "s2.safetensors")");
  EXPECT_EQ(load_safetensors_index(index).size(), 2u);
  for (const char* f : {"../s1.safetensors", "/etc/passwd", ".", "..", "", "sub/s1.safetensors", "a\\\\b"}) {
    with_map(std::string(R"("t": "s1.safetensors", "u": ")") + f + "\"");
    expect_input_error([&] { load_safetensors_index(index); },
                       {"model.safetensors.index.json: error: ", "weight_map['u']", "expected a file name in the same folder"});
  }
  with_map(R"("t": "s1.safetensors", "u": "s3.safetensors")");
  expect_input_error([&] { load_safetensors_index(index); },
                     {"s3.safetensors: error: cannot open file for reading: No such file or directory",
                      "model.safetensors.index.json: note: shard 's3.safetensors' is named in weight_map (tensor 'u')"});
  with_map(R"("t": "s1.safetensors", "t": "s2.safetensors")");
  expect_input_error([&] { load_safetensors_index(index); }, {"model.safetensors.index.json", "duplicate key 't' in $.weight_map"});
  with_map(R"("t": "s1.safetensors")");
  save_safetensors(dir / "s1.safetensors", {{"t", one["t"]}, {"x", two["u"]}}, DType::F32);
  expect_input_error([&] { load_safetensors_index(index); },
                     {"model.safetensors.index.json", "shard 's1.safetensors' holds tensor 'x', which weight_map maps to no shard"});
  with_map(R"("t": 5)");
  expect_input_error([&] { load_safetensors_index(index); }, {"weight_map['t'] = 5: expected a file name string"});
  write_text_file(index, R"({"weight_map": [1]})");
  expect_input_error([&] { load_safetensors_index(index); }, {"model.safetensors.index.json", "'weight_map'"});
  std::filesystem::create_directories(dir / "d.safetensors");
  with_map(R"("t": "d.safetensors")");
  expect_input_error([&] { load_safetensors_index(index); }, {"d.safetensors: error: cannot read file: Is a directory"});
}

TEST(ConfigStrict, IntegerKeysAreIntegersInRange) {
  const std::string arch = R"("architectures": ["LlamaForCausalLM"])";
  auto cfg = [&](const std::string& hidden, const std::string& heads, const std::string& extra = "") {
    return "{" + arch + R"(, "vocab_size": 128, "hidden_size": )" + hidden + R"(, "intermediate_size": 256,
      "num_attention_heads": )" + heads + R"(, "num_hidden_layers": 2)" + extra + "}";
  };
  EXPECT_EQ(parse_hf_config_text(cfg("64", "4"), "c.json").head_dim, 16);
  auto bad = [](const std::string& text, std::initializer_list<std::string> needles) {
    expect_input_error([&] { parse_hf_config_text(text, "c.json"); }, needles);
  };
  bad(cfg("64.0", "4"), {"c.json:1:", "key 'hidden_size': expected an integer, got 64.0"});
  bad(cfg("1099511627776", "4"), {"c.json:1:", "'hidden_size'", "expected an integer in [1, 16777216]"});
  bad(cfg("-64", "4"), {"'hidden_size'", "got -64"});
  bad(cfg("64", "0"), {"c.json:2:", "'num_attention_heads'", "[1, 16777216], got 0"});
  bad(cfg("64", "5"), {"'num_attention_heads'", "hidden_size 64 is not divisible by 5"});
  bad(cfg("64", "4", R"(, "vocab_size": 0)"), {"duplicate key 'vocab_size'"});
  bad("{" + arch + R"(, "vocab_size": 0, "hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 4,
      "num_hidden_layers": 2})", {"'vocab_size'", "got 0"});
  bad(cfg("64", "4", R"(, "num_key_value_heads": 8)"), {"'num_key_value_heads'", "must divide"});
  bad(cfg("64", "4", R"(, "head_dim": 3)"), {"'head_dim'", "even head_dim"});
  bad(cfg("64", "4", R"(, "max_position_embeddings": 1e9)"), {"'max_position_embeddings'", "expected an integer"});
  bad(cfg("64", "4", R"(, "max_position_embeddings": 9223372036854775807)"), {"'max_position_embeddings'", "2147483647"});
  bad(cfg("64", "4", R"(, "max_position_embeddings": 18446744073709551615)"), {"'max_position_embeddings'", "2147483647"});
  bad("{" + arch + R"(, "vocab_size": 16777216, "hidden_size": 16777216, "intermediate_size": 16777216,
      "num_attention_heads": 8388608, "num_hidden_layers": 65536})", {"c.json", "parameters; expected at most 2^50"});
}

}  // namespace
}  // namespace plena::model

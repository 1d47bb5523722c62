// safetensors I/O, sharded checkpoints, config.json parsing, presets.
#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.hpp"

namespace plena::model {
namespace {
using testing::expect_input_error;
using testing::fresh_dir;

std::vector<uint8_t> raw_safetensors(const std::string& header, const std::vector<uint8_t>& data,
                                     uint64_t header_len_override = UINT64_MAX) {
  std::vector<uint8_t> out;
  uint64_t len = header_len_override == UINT64_MAX ? header.size() : header_len_override;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

float bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Values exactly representable in bf16 and fp16 (incl. fp16 subnormals and signed zero).
std::vector<float> shared_exact_values() {
  return {0.0f, -0.0f, 1.0f, -2.5f, 0.15625f, 1024.0f, -3.0f, 0x1p-14f, 0.375f,
          std::numeric_limits<float>::infinity()};
}

TEST(ModelSafetensors, RoundTripAllDtypesExact) {
  auto dir = fresh_dir("roundtrip");
  std::map<std::string, Tensor> f32_in = {
      {"a", Tensor{{2, 3}, {1.0f, -2.0f, 3.14159274f, 1e-30f, bits(0x00000001u), -0.0f}}},
      {"b.weight", Tensor{{4}, {7.0f, 8.0f, 9.0f, -1e30f}}},
      {"scalar", Tensor{{}, {42.0f}}},
      {"empty", Tensor{{0, 5}, {}}},
  };
  save_safetensors(dir / "f32.safetensors", f32_in, DType::F32, {{"format", "pt"}});
  auto f32_out = load_safetensors(dir / "f32.safetensors");
  ASSERT_EQ(f32_out.size(), f32_in.size());
  for (const auto& [n, t] : f32_in) {
    ASSERT_TRUE(f32_out.count(n)) << n;
    EXPECT_EQ(f32_out[n].shape, t.shape) << n;
    ASSERT_EQ(f32_out[n].data.size(), t.data.size());
    for (size_t i = 0; i < t.data.size(); ++i)
      EXPECT_EQ(std::memcmp(&f32_out[n].data[i], &t.data[i], 4), 0) << n << "[" << i << "]";
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    std::map<std::string, Tensor> in = {{"x", Tensor{{10}, shared_exact_values()}}};
    auto bytes = serialize_safetensors(in, dt);
    auto out = parse_safetensors(bytes, "mem");
    ASSERT_EQ(out["x"].data.size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(std::memcmp(&out["x"].data[i], &in["x"].data[i], 4), 0) << dtype_name(dt) << " " << i;
    }
    // Header is 8-byte aligned and the data section has exactly 2 bytes per value.
    uint64_t hl = 0;
    for (int i = 7; i >= 0; --i) hl = (hl << 8) | bytes[static_cast<size_t>(i)];
    EXPECT_EQ(hl % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + hl + 20);
  }
}

TEST(ModelSafetensors, ConversionsRoundToNearestEven) {
  // bf16: 1 + 2^-8 is a tie between 1 and 1+2^-7 -> even (1); 1 + 3*2^-8 -> 1 + 2^-6 (even).
  EXPECT_EQ(f32_to_bf16_bits(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(f32_to_bf16_bits(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(f32_to_bf16_bits(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
  // fp16
  EXPECT_EQ(f32_to_f16_bits(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7c00);  // tie above max rounds to inf
  EXPECT_EQ(f32_to_f16_bits(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(0x1p-24f), 0x0001);
  EXPECT_EQ(f32_to_f16_bits(0x1p-25f), 0x0000);  // tie to even (0)
  EXPECT_EQ(f32_to_f16_bits(0x1.8p-24f), 0x0002);  // 1.5 units -> 2 (even)
  EXPECT_EQ(f32_to_f16_bits(-0x1p-14f), 0x8400);
  EXPECT_EQ(f32_to_f16_bits(1.0f + 0x1p-11f), 0x3c00);  // tie -> even
  EXPECT_EQ(f32_to_f16_bits(1.0f + 3 * 0x1p-11f), 0x3c02);
  // Every fp16 bit pattern converts to f32 and back unchanged (NaNs stay NaN).
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16_bits_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
      continue;
    }
    ASSERT_EQ(f32_to_f16_bits(f), h) << std::hex << h;
  }
  EXPECT_EQ(f16_bits_to_f32(0x0001), 0x1p-24f);
  EXPECT_EQ(f16_bits_to_f32(0x03ff), 1023 * 0x1p-24f);
  for (uint32_t b = 0; b < 0x10000; b += 7) {
    float f = bf16_bits_to_f32(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16_bits(f), b);
    }
  }
}

TEST(ModelSafetensors, MalformedFilesNameTheFile) {
  auto dir = fresh_dir("malformed");
  auto check = [&](const std::string& file, const std::vector<uint8_t>& bytes,
                   std::initializer_list<std::string> needles) {
    auto p = dir / file;
    write_binary_file(p, bytes);
    std::vector<std::string> n(needles);
    n.push_back(file);
    expect_input_error([&] { load_safetensors(p); }, {n[0], n.back()});
    for (const auto& s : n) {
      try {
        load_safetensors(p);
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " / " << s;
      }
    }
  };
  std::vector<uint8_t> four(4, 0);
  std::string ok_hdr = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  check("short.safetensors", {1, 2, 3}, {"at least the 8-byte header"});
  check("hdrlen.safetensors", raw_safetensors(ok_hdr, std::vector<uint8_t>(8), 1u << 20), {"header length"});
  check("badjson.safetensors", raw_safetensors(R"({"t": {"dtype": )", {}), {"malformed JSON", "safetensors JSON header"});
  check("notobj.safetensors", raw_safetensors("[1,2]", {}), {"JSON object"});
  check("dtype.safetensors",
        raw_safetensors(R"({"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", four), {"unknown dtype 'Q7'", "'t'"});
  check("i8.safetensors", raw_safetensors(R"({"t":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})", four),
        {"unsupported dtype 'I8'"});
  check("range.safetensors",
        raw_safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four), {"out of range", "'w'"});
  check("size.safetensors",
        raw_safetensors(R"({"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}})", four), {"6 in all", "'w'"});
  check("huge.safetensors",
        raw_safetensors(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", {}),
        {"more than the file holds", "'w'"});
  check("order.safetensors",
        raw_safetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", four), {"begin > end"});
  check("overlap.safetensors",
        raw_safetensors(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            std::vector<uint8_t>(8)),
        {"overlaps"});
  check("shape.safetensors",
        raw_safetensors(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four), {"non-negative"});
  check("fields.safetensors", raw_safetensors(R"({"w":{"dtype":"F32"}})", {}), {"data_offsets"});
  expect_input_error([&] { load_safetensors(dir / "does_not_exist.safetensors"); }, {"does_not_exist"});
}

ModelConfig tiny_variant(Architecture a) {
  ModelConfig c = model_preset("tiny");
  c.num_hidden_layers = 1;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.architecture = a;
  c.attention_bias = a == Architecture::Qwen2;
  c.qk_norm = a == Architecture::Qwen3;
  return c;
}

TEST(ModelSafetensors, HfModelDirSingleAndSharded) {
  for (Architecture a : {Architecture::Llama, Architecture::Qwen2, Architecture::Qwen3}) {
    ModelConfig c = tiny_variant(a);
    ModelWeights w = make_random_weights(c, 7);
    for (uint64_t shard : {uint64_t{0}, uint64_t{4096}}) {
      auto dir = fresh_dir(fmt::format("hfdir_{}_{}", static_cast<int>(a), shard));
      save_hf_model(dir, c, w, DType::F32, shard);
      EXPECT_EQ(std::filesystem::exists(dir / "model.safetensors.index.json"), shard != 0);
      LoadedModel m = load_hf_model(dir);
      EXPECT_EQ(m.config.architecture, a);
      EXPECT_EQ(m.config.head_dim, 16);
      EXPECT_EQ(m.config.attention_bias, a == Architecture::Qwen2);
      EXPECT_EQ(m.config.qk_norm, a == Architecture::Qwen3);
      EXPECT_EQ(m.weights.all(), w.all());
    }
  }
}

TEST(ModelSafetensors, ShardedIndexErrorsAndMissingTensors) {
  ModelConfig c = tiny_variant(Architecture::Llama);
  ModelWeights w = make_random_weights(c, 1);
  auto dir = fresh_dir("sharded_err");
  std::map<std::string, Tensor> part1, part2;
  for (const auto& [n, t] : w.all()) (n < "model.layers.0.self" ? part1 : part2).emplace(n, t);
  save_safetensors(dir / "s1.safetensors", part1, DType::F16);
  save_safetensors(dir / "s2.safetensors", part2, DType::F16);
  write_text_file(dir / "config.json", hf_config_json(c));
  auto write_index = [&](const std::string& extra) {
    std::string map;
    for (const auto& [n, t] : part1) map += fmt::format("\"{}\": \"s1.safetensors\",", n);
    for (const auto& [n, t] : part2) map += fmt::format("\"{}\": \"s2.safetensors\",", n);
    map += extra;
    map.pop_back();
    write_text_file(dir / "model.safetensors.index.json",
                    "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {" + map + "}}");
  };
  write_index("");
  LoadedModel m = load_hf_model(dir);
  EXPECT_EQ(m.weights.size(), w.size());
  // fp16 storage rounds the random values; the loader returns the rounded values exactly.
  const Tensor& q = m.weights.get("model.layers.0.self_attn.q_proj.weight");
  const Tensor& q0 = w.get("model.layers.0.self_attn.q_proj.weight");
  for (size_t i = 0; i < q.data.size(); ++i) ASSERT_EQ(q.data[i], f16_bits_to_f32(f32_to_f16_bits(q0.data[i])));

  write_index("\"model.extra\": \"s1.safetensors\",");
  expect_input_error([&] { load_hf_model(dir); }, {"model.safetensors.index.json", "model.extra", "s1.safetensors"});
  write_index("\"model.extra\": \"../evil.safetensors\",");
  expect_input_error([&] { load_hf_model(dir); }, {"same folder"});
  write_index("\"model.extra\": \"s3.safetensors\",");
  expect_input_error([&] { load_hf_model(dir); }, {"s3.safetensors"});

  // Missing and misshaped tensors are named with the expected shape.
  std::filesystem::remove(dir / "model.safetensors.index.json");
  auto p1 = part1;
  p1.insert(part2.begin(), part2.end());
  p1.erase("model.layers.0.mlp.up_proj.weight");
  save_safetensors(dir / "model.safetensors", p1, DType::F32);
  expect_input_error([&] { load_hf_model(dir); },
                     {"model.safetensors", "missing tensor 'model.layers.0.mlp.up_proj.weight'", "[48, 32]"});
  p1["model.layers.0.mlp.up_proj.weight"] = Tensor{{32, 48}, std::vector<float>(32 * 48)};
  save_safetensors(dir / "model.safetensors", p1, DType::F32);
  expect_input_error([&] { load_hf_model(dir); }, {"'model.layers.0.mlp.up_proj.weight' has shape [32, 48]", "[48, 32]"});
  std::filesystem::remove(dir / "model.safetensors");
  expect_input_error([&] { load_hf_model(dir); }, {"no model.safetensors"});
}

// ---- config.json ----

const char* kLlama32 = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "vocab_size": 128256
})";

TEST(ModelConfig, ParsesLlamaWithLlama3Scaling) {
  ModelConfig c = parse_hf_config_text(kLlama32, "llama.json");
  EXPECT_EQ(c.architecture, Architecture::Llama);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.intermediate_size, 8192);
  EXPECT_EQ(c.num_hidden_layers, 16);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::Llama3);
  EXPECT_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  // Identical to the preset with the same published dimensions.
  ModelConfig p = model_preset("llama-3.2-1b");
  EXPECT_EQ(hf_config_json(c), hf_config_json(p));
}

TEST(ModelConfig, ParsesQwen2Qwen3Mistral) {
  ModelConfig q2 = parse_hf_config_text(R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":151936,
    "hidden_size":3584,"intermediate_size":18944,"num_hidden_layers":28,"num_attention_heads":28,
    "num_key_value_heads":4,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"sliding_window":131072,
    "use_sliding_window":false,"tie_word_embeddings":false,"max_position_embeddings":32768})");
  EXPECT_EQ(q2.architecture, Architecture::Qwen2);
  EXPECT_EQ(q2.head_dim, 128);  // hidden / heads
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_FALSE(q2.o_proj_bias);
  EXPECT_FALSE(q2.qk_norm);
  EXPECT_EQ(q2.sliding_window, 0);

  ModelConfig q3 = parse_hf_config_text(R"({"architectures":["Qwen3ForCausalLM"],"attention_bias":false,
    "head_dim":128,"hidden_size":4096,"intermediate_size":12288,"max_position_embeddings":40960,
    "num_attention_heads":32,"num_hidden_layers":36,"num_key_value_heads":8,"rms_norm_eps":1e-06,
    "rope_scaling":null,"rope_theta":1000000,"sliding_window":null,"tie_word_embeddings":false,
    "use_sliding_window":false,"vocab_size":151936,"torch_dtype":"bfloat16"})");
  EXPECT_EQ(q3.architecture, Architecture::Qwen3);
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.attention_bias);
  EXPECT_EQ(q3.rope_scaling.type, RopeScalingType::None);
  EXPECT_EQ(hf_config_json(q3), hf_config_json(model_preset("qwen3-8b")));

  ModelConfig m = parse_hf_config_text(R"({"architectures":["MistralForCausalLM"],"hidden_size":4096,
    "intermediate_size":14336,"num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,
    "rms_norm_eps":1e-05,"rope_theta":10000.0,"sliding_window":4096,"vocab_size":32000})");
  EXPECT_EQ(m.architecture, Architecture::Mistral);
  EXPECT_EQ(m.sliding_window, 4096);
  EXPECT_FALSE(m.tie_word_embeddings);

  // Explicit head_dim different from hidden/heads is honoured.
  ModelConfig hd = parse_hf_config_text(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
    "intermediate_size":128,"num_attention_heads":4,"num_hidden_layers":1,"head_dim":32,"vocab_size":10})");
  EXPECT_EQ(hd.head_dim, 32);
  EXPECT_EQ(hd.q_dim(), 128);
  EXPECT_EQ(hd.num_key_value_heads, 4);

  // Newer transformers put RoPE settings in rope_parameters.
  ModelConfig rp = parse_hf_config_text(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
    "intermediate_size":128,"num_attention_heads":4,"num_hidden_layers":1,"vocab_size":10,
    "rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,"low_freq_factor":1.0,
    "high_freq_factor":4.0,"original_max_position_embeddings":8192}})");
  EXPECT_EQ(rp.rope_theta, 500000.0);
  EXPECT_EQ(rp.rope_scaling.type, RopeScalingType::Llama3);
  EXPECT_EQ(rp.rope_scaling.factor, 8.0);
}

TEST(ModelConfig, ErrorsAreLocated) {
  expect_input_error([] { parse_hf_config_text(R"({
  "architectures": ["GPT2LMHeadModel"], "vocab_size": 10})", "c.json"); },
                     {"c.json:2:3: error", "unsupported architecture 'GPT2LMHeadModel'", "LlamaForCausalLM",
                      "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM"});
  const std::string base = R"("architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_attention_heads": 4, "num_hidden_layers": 1)";
  expect_input_error([&] { parse_hf_config_text("{" + base + "}", "c.json"); }, {"c.json", "vocab_size"});
  expect_input_error([&] { parse_hf_config_text("{" + base + R"(, "vocab_size": "big"})", "c.json"); },
                     {"c.json:2:", "'vocab_size'", "expected an integer"});
  expect_input_error([&] { parse_hf_config_text("{" + base + R"(, "vocab_size": 10, "hidden_act": "gelu"})", "c.json"); },
                     {"'hidden_act'", "gelu", "silu"});
  expect_input_error(
      [&] { parse_hf_config_text("{" + base + R"(, "vocab_size": 10, "num_key_value_heads": 3})", "c.json"); },
      {"'num_key_value_heads'", "must divide"});
  expect_input_error(
      [&] { parse_hf_config_text("{" + base + R"(, "vocab_size": 10, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})", "c.json"); },
      {"'rope_scaling'", "yarn", "llama3"});
  expect_input_error(
      [&] { parse_hf_config_text("{" + base + R"(, "vocab_size": 10, "rope_scaling": {"rope_type": "llama3", "factor": 4.0}})", "c.json"); },
      {"low_freq_factor"});
  expect_input_error([&] { parse_hf_config_text("{" + base + R"(, "vocab_size": 10, "rms_norm_eps": -1})", "c.json"); },
                     {"'rms_norm_eps'", "positive"});
  expect_input_error([&] { parse_hf_config_text("{" + base + R"(, "vocab_size": 10, "tie_word_embeddings": 1})", "c.json"); },
                     {"'tie_word_embeddings'", "true or false"});
  expect_input_error([] { parse_hf_config_text("{\n  \"vocab_size\": 10,,\n}", "bad.json"); },
                     {"bad.json:2:", "malformed JSON"});
  expect_input_error([] { parse_hf_config_text("[1]", "arr.json"); }, {"arr.json", "object"});
  expect_input_error([] { parse_hf_config(std::filesystem::path("/nonexistent/config.json")); }, {"/nonexistent/config.json"});
}

TEST(ModelConfig, HfJsonRoundTrip) {
  for (const auto& n : model_preset_names()) {
    ModelConfig p = model_preset(n);
    ModelConfig back = parse_hf_config_text(hf_config_json(p), n);
    EXPECT_EQ(hf_config_json(back), hf_config_json(p)) << n;
    back.name = p.name;
    EXPECT_EQ(back, p) << n;
    EXPECT_EQ(back.param_count(), p.param_count()) << n;
  }
  expect_input_error([] { model_preset("gpt-5"); }, {"gpt-5", "tiny", "qwen3-8b"});
}

TEST(ModelConfig, PresetsHaveThePublishedSizes) {
  // Parameter counts of the published checkpoints (HF model cards / safetensors totals).
  EXPECT_EQ(model_preset("smollm2-135m").param_count(), 134515008u);
  EXPECT_EQ(model_preset("llama-3.2-1b").param_count(), 1235814400u);
  EXPECT_EQ(model_preset("llama-3.1-8b").param_count(), 8030261248u);
  EXPECT_EQ(model_preset("llama-3.3-70b").param_count(), 70553706496u);
  // Hand-counted in docs/models.md (the tiny architecture variants).
  EXPECT_EQ(model_preset("tiny").param_count(), 1377536u);
  EXPECT_EQ(model_preset("tiny-qwen2").param_count(), 1247232u);
  EXPECT_EQ(model_preset("tiny-qwen3").param_count(), 1705344u);
  EXPECT_EQ(model_preset("qwen3-8b").param_count(), 8190735360u);
  ModelConfig t = model_preset("tiny");
  EXPECT_EQ(t.num_hidden_layers, 2);
  EXPECT_EQ(t.hidden_size, 256);
  EXPECT_EQ(t.num_attention_heads, 8);
  EXPECT_EQ(t.num_key_value_heads, 2);
  EXPECT_EQ(t.head_dim, 32);
  EXPECT_EQ(t.weight_bytes(16), t.param_count() * 2);
  EXPECT_EQ(t.weight_bytes(4.25), (t.param_count() * 17 + 31) / 32);
  // 8B: 32 layers * 8 kv heads * 128 * 2 (K and V) * 2 bytes = 128 KiB per token.
  EXPECT_EQ(model_preset("llama-3.1-8b").kv_cache_bytes(1, 1, 16), 131072u);
  EXPECT_EQ(model_preset("llama-3.1-8b").kv_cache_bytes(1000, 2, 4), 131072u * 1000 * 2 / 4);
  uint64_t lin = model_preset("llama-3.1-8b").linear_param_count();
  EXPECT_EQ(lin, 8030261248u - 128256u * 4096u - (32u * 2 + 1) * 4096u);
}

}  // namespace
}  // namespace plena::model

namespace plena::model {
namespace {
// Fuzzer findings: JSON that nlohmann rejects with exceptions other than parse_error (number
// overflow, invalid UTF-8 echoed in messages) must still be InputError.
TEST(ModelConfigFuzzRegressions, OverflowAndBadUtf8AreInputErrors) {
  EXPECT_THROW(parse_hf_config_text("18e648", "c.json"), InputError);
  EXPECT_THROW(parse_hf_config_text("{\"architectures\": 1e999}", "c.json"), InputError);
  EXPECT_THROW(parse_hf_config_text("{\"architectures\": [\"\xff\xfe\"]}", "c.json"), InputError);
  std::string hdr = "{\"x\": 1e999}";
  std::vector<uint8_t> img(8, 0);
  img[0] = uint8_t(hdr.size());
  img.insert(img.end(), hdr.begin(), hdr.end());
  EXPECT_THROW(parse_safetensors(img, "x.safetensors"), InputError);
}
}  // namespace
}  // namespace plena::model

// Lazy weights: a checkpoint is mapped, validated at once, and each tensor decoded on first use.
#include <algorithm>
#include <cstring>

#include "test_util.hpp"

namespace plena::model {
namespace {
using testing::expect_input_error;
using testing::fresh_dir;

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(ModelWeightsLazy, FillsOnceOnFirstUse) {
  ModelWeights w;
  int fills = 0;
  w.set_lazy("t", {2, 3}, [&](std::span<float> out) {
    ++fills;
    ASSERT_EQ(out.size(), 6u);
    for (size_t i = 0; i < out.size(); ++i) out[i] = float(i) + 0.5f;
  });
  EXPECT_TRUE(w.has("t"));
  EXPECT_FALSE(w.converted("t"));
  EXPECT_EQ(w.shape("t"), (std::vector<size_t>{2, 3}));
  EXPECT_EQ(fills, 0);
  EXPECT_EQ(w.get("t").data, (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f}));
  EXPECT_EQ(w.get("t").data[5], 5.5f);
  EXPECT_TRUE(w.converted("t"));
  EXPECT_EQ(fills, 1);
  // set() replaces a pending tensor; its fill never runs.
  w.set_lazy("u", {1}, [&](std::span<float>) { ++fills; });
  w.set("u", Tensor{{1}, {7.0f}});
  EXPECT_EQ(w.get("u").data[0], 7.0f);
  EXPECT_EQ(fills, 1);
  expect_input_error([&] { w.shape("missing"); }, {"missing tensor 'missing'"});
}

// Every bf16 and fp16 code decodes from a file exactly as the numerics conversions (NaN bits too).
TEST(ModelWeightsLazy, EveryHalfCodeDecodesExactly) {
  std::vector<uint8_t> data;
  for (int rep = 0; rep < 2; ++rep)
    for (uint32_t c = 0; c < 65536; ++c) data.push_back(uint8_t(c)), data.push_back(uint8_t(c >> 8));
  const std::string hdr = R"({"b":{"dtype":"BF16","shape":[65536],"data_offsets":[0,131072]},)"
                          R"("h":{"dtype":"F16","shape":[256,256],"data_offsets":[131072,262144]}})";
  std::vector<uint8_t> img;
  for (int i = 0; i < 8; ++i) img.push_back(uint8_t(hdr.size() >> (8 * i)));
  img.insert(img.end(), hdr.begin(), hdr.end());
  img.insert(img.end(), data.begin(), data.end());
  const auto p = fresh_dir("half_codes") / "codes.safetensors";
  write_binary_file(p, img);
  const auto t = load_safetensors(p);
  for (uint32_t c = 0; c < 65536; ++c) {
    ASSERT_EQ(bits_of(t.at("b").data[c]), bits_of(bf16_bits_to_f32(uint16_t(c)))) << c;
    ASSERT_EQ(bits_of(t.at("h").data[c]), bits_of(f16_bits_to_f32(uint16_t(c)))) << c;
  }
}

ModelConfig small_config() {
  ModelConfig c = model_preset("tiny");
  c.num_hidden_layers = 1;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  return c;
}

TEST(ModelWeightsLazy, CheckpointTensorsConvertOnlyWhenUsed) {
  const ModelConfig c = small_config();
  ModelWeights w = make_random_weights(c, 3);
  w.set("unused.extra", Tensor{{4}, {1, 2, 3, 4}});
  for (uint64_t shard : {uint64_t{0}, uint64_t{8192}}) {
    const auto dir = fresh_dir(fmt::format("lazy_{}", shard));
    save_hf_model(dir, c, w, DType::BF16, shard);
    const LoadedModel m = load_hf_model(dir);
    for (const auto& n : m.weights.names()) EXPECT_FALSE(m.weights.converted(n)) << n;
    EXPECT_EQ(m.weights.shape("model.embed_tokens.weight"), (std::vector<size_t>{64, 32}));
    const HostReference ref(m.config, m.weights);  // uses every tensor the config needs
    EXPECT_FALSE(m.weights.converted("unused.extra"));
    EXPECT_TRUE(m.weights.converted("model.layers.0.input_layernorm.weight"));
    EXPECT_FALSE(m.weights.converted("model.layers.0.mlp.down_proj.weight"));  // bf16: read in place
    // Same values as the eager reader of the same bytes.
    const auto eager = shard ? load_safetensors_index(dir / "model.safetensors.index.json")
                             : load_safetensors(dir / "model.safetensors");
    EXPECT_EQ(m.weights.all(), eager);
    EXPECT_TRUE(m.weights.converted("unused.extra"));
  }
}

// The same model with every tensor already f32 (the eager reader of the same file).
ModelWeights eager_weights(const std::filesystem::path& file) {
  ModelWeights e;
  for (auto& [name, t] : load_safetensors(file)) e.set(name, std::move(t));
  return e;
}

// A bf16 checkpoint's embedding, LM head and layer matrices are read in place: the reference and
// row reads never convert them, and give bit-identical logits to the converted tables (with and
// without projection biases).
TEST(ModelWeightsLazy, Bf16TablesAreReadInPlaceBitExactly) {
  for (bool tied : {true, false}) {
    ModelConfig c = small_config();
    c.tie_word_embeddings = tied;
    c.attention_bias = c.o_proj_bias = !tied;  // Llama's attention_bias covers o_proj too
    const auto dir = fresh_dir(fmt::format("bf16_in_place_{}", tied));
    save_hf_model(dir, c, make_random_weights(c, 5), DType::BF16);
    const LoadedModel m = load_hf_model(dir);
    const ModelWeights eager = eager_weights(dir / "model.safetensors");
    const std::string embed = "model.embed_tokens.weight", head = tied ? embed : "lm_head.weight";
    ASSERT_EQ(m.weights.bf16_values(embed).size(), 64u * 32u);
    const HostReference lazy_ref(m.config, m.weights), eager_ref(m.config, eager);
    KVCache lc = lazy_ref.new_cache(), ec = eager_ref.new_cache();
    const std::vector<TokenId> toks = {3, 63, 0, 17};
    const Tensor a = lazy_ref.forward(lc, toks), b = eager_ref.forward(ec, toks);
    ASSERT_EQ(a.data.size(), b.data.size());
    for (size_t i = 0; i < a.data.size(); ++i) ASSERT_EQ(bits_of(a.data[i]), bits_of(b.data[i])) << i;
    EXPECT_FALSE(m.weights.converted(embed));
    EXPECT_FALSE(m.weights.converted(head));
    for (const char* mat : {"self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj"})
      EXPECT_FALSE(m.weights.converted(fmt::format("model.layers.0.{}.weight", mat))) << mat;
    EXPECT_EQ(m.weights.converted("model.layers.0.self_attn.q_proj.bias"), c.attention_bias);
    std::vector<float> row(32);
    m.weights.read(embed, 5 * 32, row);
    EXPECT_TRUE(std::equal(row.begin(), row.end(), eager.get(embed).data.begin() + 5 * 32));
    EXPECT_FALSE(m.weights.converted(embed));
    expect_input_error([&] { m.weights.read(embed, 63 * 32 + 1, row); }, {embed, "2048 elements"});
  }
}

TEST(ModelWeightsLazy, Bf16SourceOnlyForBf16AndDroppedWhenReplaced) {
  const ModelConfig c = small_config();
  const auto dir = fresh_dir("bf16_source");
  save_hf_model(dir, c, make_random_weights(c, 2), DType::F32);
  const std::string embed = "model.embed_tokens.weight";
  EXPECT_TRUE(load_hf_model(dir).weights.bf16_values(embed).empty());
  save_hf_model(dir, c, make_random_weights(c, 2), DType::BF16);
  LoadedModel m = load_hf_model(dir);
  ASSERT_FALSE(m.weights.bf16_values(embed).empty());
  m.weights.get_mut(embed).data[0] = 1e9f;  // the words would no longer be its values
  EXPECT_TRUE(m.weights.bf16_values(embed).empty());
  std::vector<float> one(1);
  m.weights.read(embed, 0, one);
  EXPECT_EQ(one[0], 1e9f);
}

// dot_bf16 is dot_f32 on the widened words, bit for bit (lengths with and without a tail).
TEST(ModelReference, DotBf16IsDotF32OfTheWords) {
  uint64_t s = 7;
  for (size_t n : {1u, 7u, 8u, 13u, 64u, 577u}) {
    std::vector<float> a(n), b(n);
    std::vector<uint16_t> w(n);
    for (size_t i = 0; i < n; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      a[i] = float(int32_t(s >> 40) - (1 << 23)) * 0x1p-20f;
      w[i] = uint16_t(s >> 16);
      if ((w[i] & 0x7F80) == 0x7F80) w[i] &= 0xBFFF;  // finite words: NaN payloads are not compared
      b[i] = bf16_bits_to_f32(w[i]);
    }
    EXPECT_EQ(bits_of(dot_bf16(a.data(), w.data(), n)), bits_of(dot_f32(a.data(), b.data(), n))) << n;
  }
}

// The mapped loader applies every check of the reader before anything is converted, naming the file.
TEST(ModelWeightsLazy, MappedCheckpointErrorsNameTheFile) {
  const ModelConfig c = small_config();
  const auto dir = fresh_dir("lazy_errors");
  save_hf_model(dir, c, make_random_weights(c, 1), DType::F32);
  const auto file = dir / "model.safetensors";
  std::vector<uint8_t> bytes = read_binary_file(file);
  bytes.push_back(0);  // a trailing byte that belongs to no tensor
  write_binary_file(file, bytes);
  expect_input_error([&] { load_hf_model(dir); }, {file.string(), "after the last tensor"});
  bytes.resize(bytes.size() - 5);  // the last tensor now runs past the end of the file
  write_binary_file(file, bytes);
  expect_input_error([&] { load_hf_model(dir); }, {file.string(), "out of range"});
  // A shape the config does not expect is refused before conversion.
  ModelConfig wider = c;
  wider.intermediate_size = 64;
  save_hf_model(dir, c, make_random_weights(c, 1), DType::F32);
  write_text_file(dir / "config.json", hf_config_json(wider));
  expect_input_error([&] { load_hf_model(dir); }, {file.string(), "gate_proj.weight", "expected [64, 32]"});
  std::filesystem::remove(file);
  std::filesystem::create_directory(file);  // a folder where the file should be
  expect_input_error([&] { load_hf_model(dir); }, {file.string()});
}

}  // namespace
}  // namespace plena::model

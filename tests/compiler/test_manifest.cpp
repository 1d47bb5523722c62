// HBM layout manifest: writer/reader round trip, determinism, and strict errors naming the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "compiler/compiler.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using numerics::parse_format;
using json = nlohmann::json;

namespace {

MemoryPlan sample_plan() {
  MemoryPlan plan(config::HardwareConfig{}, "default");
  plan.place_hbm("layer0.q_proj", TensorClass::Weight, {128, 128}, parse_format("plena-hw-mxfp:fp8_e4m3:b8"));
  plan.place_hbm("x", TensorClass::Activation, {4, 128}, parse_format("ocp-mx:fp8_e5m2:b32"));
  plan.place_hbm("k_cache", TensorClass::Kv, {2, 16, 64}, parse_format("ocp-mx:fp4_e2m1:b32"));
  plan.place_hbm("v_cache", TensorClass::Kv, {16, 64}, parse_format("asym-int:uint4:g32"));
  plan.place_hbm("logits", TensorClass::Logits, {4, 100}, parse_format("fp32"));
  define_standard_constants(plan, model::model_preset("tiny"));
  plan.int_preload("routing", {1, 2, 0xFFFFFFFFu});
  return plan;
}

std::string error_of(std::string_view text) {
  try {
    manifest_from_json(text, "m.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

// Applies `edit` to the sample manifest's JSON and returns the reader's error.
std::string error_after(const std::function<void(json&)>& edit) {
  json j = json::parse(manifest_to_json(sample_plan().manifest()));
  edit(j);
  return error_of(j.dump());
}

}  // namespace

TEST(Manifest, RoundTripIsExactAndDeterministic) {
  HbmManifest m = sample_plan().manifest();
  EXPECT_EQ(m.config_hash, config::canonical_hash(config::HardwareConfig{}));
  ASSERT_EQ(m.tensors.size(), 5u);
  for (size_t i = 1; i < m.tensors.size(); ++i) EXPECT_LT(m.tensors[i - 1].base, m.tensors[i].base);
  std::string text = manifest_to_json(m);
  HbmManifest back = manifest_from_json(text, "m.json");
  EXPECT_EQ(back, m);
  EXPECT_EQ(manifest_to_json(back), text);
  EXPECT_EQ(manifest_to_json(sample_plan().manifest()), text);  // same inputs, same bytes
  EXPECT_NE(text.find("\"schema\": \"plena-hbm-manifest/1\""), std::string::npos);

  const HbmTensor& k = back.tensor("k_cache");
  EXPECT_EQ(k.rows, 32u);
  EXPECT_EQ(k.element_bits(), 4);
  EXPECT_EQ(k.elem_bytes, 32u * 64 / 2);
  EXPECT_EQ(k.scale_bytes, 64u);
  EXPECT_EQ(back.tensor("v_cache").scale_bytes, 16u * 2 * 4);  // asym-int: fp16 scale + zero per group
  EXPECT_THROW(back.tensor("nope"), InputError);

  auto path = std::filesystem::path(PLENA_BINARY_DIR) / "test_manifest_roundtrip.json";
  save_manifest(path, m);
  EXPECT_EQ(load_manifest(path), m);
  std::filesystem::remove(path);
}

TEST(Manifest, MalformedDocumentsNameTheKey) {
  auto has = [](const std::string& err, std::string_view what) {
    EXPECT_NE(err.find(what), std::string::npos) << "expected '" << what << "' in: " << err;
  };
  has(error_of("{\"schema\": "), "m.json:1:");
  has(error_of("[]"), "expected an object");
  has(error_after([](json& j) { j["schema"] = "plena-hbm-manifest/2"; }), "schema: is 'plena-hbm-manifest/2'");
  has(error_after([](json& j) { j["extra"] = 1; }), "extra: unknown key");
  has(error_after([](json& j) { j.erase("hbm_size"); }), "hbm_size: missing key");
  has(error_after([](json& j) { j["config_hash"] = "XYZ"; }), "config_hash: is 'XYZ'");
  has(error_after([](json& j) { j["tensors"][1].erase("scales"); }), "tensors[1].scales: missing key");
  has(error_after([](json& j) { j["tensors"][0]["base"] = -64; }), "tensors[0].base: expected a non-negative integer");
  has(error_after([](json& j) { j["tensors"][0]["base"] = "0"; }), "tensors[0].base: expected a non-negative integer");
  has(error_after([](json& j) { j["tensors"][0]["class"] = "bias"; }), "tensors[0].class: unknown tensor class 'bias'");
  has(error_after([](json& j) { j["tensors"][0]["format"] = "mxfp9"; }), "tensors[0].format:");
  has(error_after([](json& j) { j["tensors"][0]["element_bits"] = 4; }), "tensors[0].element_bits: is 4, expected 8");
  has(error_after([](json& j) { j["tensors"][0]["scales"]["offset"] = 0; }), "tensors[0].scales.offset: is 0");
  has(error_after([](json& j) { j["tensors"][0]["elements"]["bytes"] = 1; }), "tensors[0].elements.bytes: is 1");
  has(error_after([](json& j) { j["tensors"][0]["row_stride"] = 129; }), "tensors[0].row_stride: is 129");
  has(error_after([](json& j) { j["tensors"][0]["rows"] = 3; }), "tensors[0].rows: is 3");
  has(error_after([](json& j) { j["tensors"][0]["shape"] = json::array({128, 0}); }), "tensors[0].shape[1]");
  has(error_after([](json& j) { j["tensors"][1]["base"] = 32; }), "tensors[1].base: is 32, expected a multiple of 64");
  has(error_after([](json& j) { j["tensors"][1]["base"] = 64; }), "overlaps 'layer0.q_proj'");
  has(error_after([](json& j) { j["tensors"][1]["name"] = "layer0.q_proj"; }), "duplicate tensor name");
  has(error_after([](json& j) { j["hbm_size"] = 1024; }), "hbm_high_water: is");
  has(error_after([](json& j) { j["fp_sram"]["constants"][1]["slot"] = 0; }), "fp_sram.constants[1].slot: slot 0 is also 'zero'");
  has(error_after([](json& j) { j["fp_sram"]["constants"][0]["slot"] = 5000; }), "fp_sram.constants[0].slot: is 5000");
  has(error_after([](json& j) { j["fp_sram"]["constants"][0]["value"] = "x"; }), "fp_sram.constants[0].value: expected a number");
  has(error_after([](json& j) { j["fp_sram"]["constants"][0]["value"] = 1e300; }), "is not a finite f32");
  has(error_after([](json& j) { j["int_sram"]["preloads"][0]["values"][0] = 4294967296ull; }),
      "int_sram.preloads[0].values[0]: expected a u32");
  has(error_after([](json& j) { j["int_sram"]["preloads"][0]["offset"] = 1023; }), "int_sram.preloads[0].offset");
}

TEST(Program, FinishPairsProgramAndManifestOfOneConfig) {
  config::HardwareConfig cfg;
  MemoryPlan plan = sample_plan();
  ProgramBuilder b(cfg, "default");
  auto r = b.regs().gp("x");
  b.load_imm(r, plan.hbm("x").base);
  CompiledProgram p = finish_program(b, plan);
  EXPECT_EQ(p.config_hash, p.manifest.config_hash);
  EXPECT_EQ(program_config_hash(p.assembly), p.manifest.config_hash);
  EXPECT_EQ(p.words, b.words());

  auto dir = std::filesystem::path(PLENA_BINARY_DIR) / "test_compiler_program";
  write_program(p, dir, "prog");
  EXPECT_EQ(load_manifest(dir / "prog.manifest.json"), p.manifest);
  EXPECT_EQ(isa::parse_mem_text(read_text_file(dir / "prog.mem")), p.words);
  EXPECT_EQ(isa::assemble(read_text_file(dir / "prog.asm")).words, p.words);
  std::filesystem::remove_all(dir);

  config::HardwareConfig other = cfg;
  other.geometry.blen = 8;
  ProgramBuilder wrong(other, "blen8");
  try {
    finish_program(wrong, plan);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("config 'blen8'"), std::string::npos) << e.what();
  }
}

// Fuzzer finding: nlohmann's number-overflow (not a parse_error) must still be an InputError.
TEST(Manifest, NumberOverflowIsAnInputError) {
  EXPECT_THROW(plena::compiler::manifest_from_json("7e1159", "m.json"), plena::InputError);
  EXPECT_THROW(plena::compiler::manifest_from_json("{\"schema\": 1e999}", "m.json"), plena::InputError);
}

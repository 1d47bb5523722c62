// The `plena` binary on crafted inputs for every file reader: exit 1, a message naming the file,
// the place and what was expected, and no output file. Each command runs under `timeout` so a
// hang fails the test instead of stalling it.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "npy_craft.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;
using plena::test::craft_npy;
using plena::test::npy_dict;

namespace {

fs::path work_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_readers_cli" / info->name();
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Runs `plena args` in dir; expects exit code 1 and every needle in stderr.
void expect_refused(const fs::path& dir, const std::string& args, std::initializer_list<std::string> needles) {
  const fs::path exe = fs::path(PLENA_BINARY_DIR) / "plena", err = dir / "stderr.txt";
  const std::string cmd =
      fmt::format("cd '{}' && timeout 60 '{}' {} >/dev/null 2>'{}'", dir.string(), exe.string(), args, err.string());
  const int st = std::system(cmd.c_str());
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  const std::string msg = plena::read_text_file(err);
  EXPECT_EQ(code, 1) << args << "\n" << msg;
  for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << args << "\n" << msg << "\nmissing: " << n;
  EXPECT_EQ(msg.find("internal error"), std::string::npos) << msg;
}

}  // namespace

TEST(ReadersCli, QuantRefusesCraftedNpyHeaders) {
  fs::path d = work_dir();
  const char* fmt = "--format ocp-mx:fp8_e4m3:b32";
  for (const char* shape : {"(4611686018427387904, 4)", "(4611686018427387904, 64)"}) {
    plena::write_binary_file(d / "x.npy", craft_npy(npy_dict("<f4", shape), 64));
    expect_refused(d, fmt::format("quant roundtrip {} x.npy -o out.npy", fmt), {"x.npy: error: ", "needs more than 2^63 bytes"});
    expect_refused(d, fmt::format("quant encode {} x.npy -o enc", fmt), {"x.npy: error: ", "needs more than 2^63 bytes"});
  }
  plena::write_binary_file(d / "x.npy", craft_npy(npy_dict("<f4", "(2, 3)") + "}", 24));
  expect_refused(d, fmt::format("quant roundtrip {} x.npy -o out.npy", fmt), {"x.npy: error: .npy header, byte", "after the header dict"});
  plena::write_binary_file(d / "x.npy", craft_npy(npy_dict("<f4", "(2, 3)"), 25));
  expect_refused(d, fmt::format("quant roundtrip {} x.npy -o out.npy", fmt), {"x.npy: error: byte 128:", "declares 24 data bytes, the file has 25"});
  EXPECT_FALSE(fs::exists(d / "out.npy"));
  EXPECT_FALSE(fs::exists(d / "enc.json"));
  EXPECT_FALSE(fs::exists(d / "enc.elems.npy"));
}

TEST(ReadersCli, QuantDecodeRefusesCraftedJson) {
  fs::path d = work_dir();
  plena::npy_save(d / "q.elems.npy", plena::npy_from_u8(std::vector<uint8_t>(64), {2, 32}));
  plena::npy_save(d / "q.scales.npy", plena::npy_from_u8(std::vector<uint8_t>(2), {2, 1}));
  auto json = [&](const std::string& shape, const std::string& elems = "q.elems.npy") {
    plena::write_text_file(d / "q.json", R"({"schema": "plena-quant-encoded/1", "format": "ocp-mx:fp8_e4m3:b32",
      "shape": )" + shape + R"(, "elems": ")" + elems + R"(", "scales": "q.scales.npy"})");
  };
  json("[4611686018427387904, 4]");
  expect_refused(d, "quant decode q -o out.npy", {"q.json: error: $.shape = [4611686018427387904,4]", "more than 2^63 bytes"});
  json("[288230376151711744, 4]");
  expect_refused(d, "quant decode q -o out.npy", {"q.elems.npy: error: ", "expected uint8 [288230376151711744, 4]"});
  json("[4611686018427387904, 4611686018427387904]");
  expect_refused(d, "quant decode q.json -o out.npy", {"q.json: error: $.shape", "more than 2^63 bytes"});
  json("[2, -32]");
  expect_refused(d, "quant decode q -o out.npy", {"q.json: error: $.shape[1] = -32: expected a non-negative integer"});
  json("[2, 32]", "../q.elems.npy");
  expect_refused(d, "quant decode q -o out.npy", {"q.json: error: $.elems = \"../q.elems.npy\"", "same folder"});
  expect_refused(d, "quant decode nothere -o out.npy", {"nothere.json: error: cannot open file for reading: No such file"});
  EXPECT_FALSE(fs::exists(d / "out.npy"));
}

TEST(ReadersCli, ProgramReadersRefuseDirectoriesAndPartialWords) {
  fs::path d = work_dir();
  fs::create_directories(d / "progdir");
  expect_refused(d, "asm progdir -o x.mem", {"progdir: error: cannot read file: Is a directory"});
  expect_refused(d, "disasm progdir", {"progdir: error: cannot read file: Is a directory"});
  EXPECT_FALSE(fs::exists(d / "x.mem"));
  plena::write_binary_file(d / "p.bin", std::vector<uint8_t>(5, 0));
  expect_refused(d, "disasm --format bin p.bin -o p.asm", {"p.bin: error: ", "partial word at byte offset 4 (1 of 4 bytes)"});
  plena::write_text_file(d / "p.mem", "0x00000000\n0x\xff\x01\n");
  expect_refused(d, "disasm p.mem -o p.asm", {"p.mem:2:1: error: malformed instruction word '0x\\xff\\x01'"});
  EXPECT_FALSE(fs::exists(d / "p.asm"));
}

TEST(ReadersCli, SimPreloadsRefuseBadNpy) {
  fs::path d = work_dir();
  const fs::path ex = fs::path(PLENA_SOURCE_DIR) / "examples" / "sim";
  fs::copy_file(ex / "scale_shift.asm", d / "scale_shift.asm");
  std::string spec = plena::read_text_file(ex / "scale_shift.toml");
  const std::string from = "file = \"x.npy\"";
  spec.replace(spec.find(from), from.size(), "file = \"bad.npy\"");
  plena::write_text_file(d / "s.toml", spec);
  plena::write_binary_file(d / "bad.npy", craft_npy(npy_dict("<f4", "(4611686018427387904, 4)"), 0));
  expect_refused(d, "sim s.toml --stats st.json", {"bad.npy: error: ", "more than 2^63 bytes", "s.toml:", "note: preload declared here"});
  plena::write_binary_file(d / "bad.npy", craft_npy(npy_dict("<f4", "(4, 64)"), 100));
  expect_refused(d, "sim s.toml --stats st.json", {"bad.npy: error: byte 128: shape (4, 64)", "(truncated)"});
  plena::write_binary_file(d / "bad.npy", craft_npy(npy_dict("<f4", "(0, 64)"), 0));
  expect_refused(d, "sim s.toml --stats st.json", {"bad.npy: error: shape [0, 64] has no elements"});
  fs::create_directories(d / "dir.npy");
  spec.replace(spec.find("bad.npy"), 7, "dir.npy");
  plena::write_text_file(d / "s.toml", spec);
  expect_refused(d, "sim s.toml --stats st.json", {"dir.npy: error: cannot read file: Is a directory"});
  EXPECT_FALSE(fs::exists(d / "st.json"));
}

TEST(ReadersCli, ModelFoldersRefuseBadConfigAndIndex) {
  fs::path d = work_dir();
  fs::create_directories(d / "m");
  const std::string cfg = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": HIDDEN,
  "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1})";
  auto with_hidden = [&](const std::string& h) {
    std::string c = cfg;
    c.replace(c.find("HIDDEN"), 6, h);
    plena::write_text_file(d / "m" / "config.json", c);
  };
  with_hidden("1099511627776");
  expect_refused(d, "estimate --model m", {"config.json:1:", "key 'hidden_size': expected an integer in [1, 16777216]"});
  with_hidden("32.5");
  expect_refused(d, "compile --model m -o out", {"config.json:1:", "key 'hidden_size': expected an integer, got 32.5"});
  with_hidden("32");
  plena::write_text_file(d / "m" / "model.safetensors.index.json", R"({"weight_map": {"x": "../../etc/passwd"}})");
  expect_refused(d, "compile --model m -o out", {"model.safetensors.index.json: error: weight_map['x']", "same folder"});
  plena::write_text_file(d / "m" / "model.safetensors.index.json", R"({"weight_map": {"x": "gone.safetensors"}})");
  expect_refused(d, "compile --model m -o out", {"gone.safetensors: error: cannot open file for reading: No such file"});
  EXPECT_FALSE(fs::exists(d / "out"));
}

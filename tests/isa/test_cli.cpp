// plena asm / plena disasm end to end: exit codes, located messages, .mem/.bin outputs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

#include "isa/isa.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;

namespace {

struct CliResult {
  int code;
  std::string err;
};

fs::path temp_dir() {
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_isa_cli_tmp";
  fs::create_directories(d);
  return d;
}

CliResult run_plena(const std::string& args) {
  fs::path exe = fs::path(PLENA_BINARY_DIR) / "plena";
  // ctest runs tests as parallel processes: one stderr file per test.
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path err = temp_dir() / (std::string(info ? info->name() : "none") + ".stderr.txt");
  std::string cmd = fmt::format("'{}' {} 2>'{}' >/dev/null", exe.string(), args, err.string());
  int st = std::system(cmd.c_str());
  CliResult r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, ""};
  r.err = plena::read_text_file(err);
  return r;
}

}  // namespace

TEST(IsaCli, AsmDisasmRoundTripMemAndBin) {
  fs::path d = temp_dir();
  std::string src =
      "H_PREFETCH_V gp3, gp2, a0, 1, 0, 0\nM_MM 0, gp4, gp5\nM_MV_WO gp1, gp0, 5\nV_RED_SUM f1, gp2, 1, 0\n"
      ".word 0xFFFFFFFF\n";
  plena::write_text_file(d / "k.asm", src);
  ASSERT_EQ(run_plena("asm " + (d / "k.asm").string() + " -o " + (d / "k.mem").string() + " --listing " +
                  (d / "k.lst").string()).code, 0);
  EXPECT_EQ(plena::read_text_file(d / "k.mem"), "0x000408E9\n0x00015001\n0x0000144B\n0x00000855\n0xFFFFFFFF\n");
  EXPECT_NE(plena::read_text_file(d / "k.lst").find("0x0001  0x00015001  M_MM 0, gp4, gp5"), std::string::npos);
  ASSERT_EQ(run_plena("disasm " + (d / "k.mem").string() + " -o " + (d / "k2.asm").string()).code, 0);
  ASSERT_EQ(run_plena("asm " + (d / "k2.asm").string() + " -o " + (d / "k2.mem").string()).code, 0);
  EXPECT_EQ(plena::read_text_file(d / "k2.mem"), plena::read_text_file(d / "k.mem"));
  ASSERT_EQ(run_plena("asm " + (d / "k.asm").string() + " --format bin -o " + (d / "k.bin").string()).code, 0);
  auto bin = plena::read_binary_file(d / "k.bin");
  ASSERT_EQ(bin.size(), 20u);
  EXPECT_EQ(bin[0], 0xE9);
  ASSERT_EQ(run_plena("disasm --format bin " + (d / "k.bin").string() + " -o " + (d / "k3.asm").string()).code, 0);
  EXPECT_EQ(plena::read_text_file(d / "k3.asm"), plena::read_text_file(d / "k2.asm"));
}

TEST(IsaCli, BadInputsExitOneWithLocatedMessage) {
  fs::path d = temp_dir();
  const char* bad[] = {"S_ADD_INT gp1, f3, gp2", "S_ADDI_INT gp1, gp2, -1", "NOPE", "S_ADD_INT gp16, gp1, gp2",
                       "S_ADD_FP f8, f1, f2", "H_STORE_V gp1, gp2, a8", "V_ADD_VV gp1, gp2, gp3, 16", "\x01\x02garbage"};
  for (const char* b : bad) {
    plena::write_text_file(d / "bad.asm", fmt::format("; ok\n{}\n", b));
    CliResult r = run_plena("asm " + (d / "bad.asm").string() + " -o " + (d / "bad.mem").string());
    EXPECT_EQ(r.code, 1) << b;
    EXPECT_NE(r.err.find("bad.asm:2:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(": error: "), std::string::npos) << r.err;
  }
  plena::write_text_file(d / "bad.mem", "0x00000001\nzzz\n");
  CliResult r = run_plena("disasm " + (d / "bad.mem").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.mem:2:1: error:"), std::string::npos) << r.err;
  r = run_plena("asm " + (d / "missing.asm").string() + " -o " + (d / "x.mem").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.asm: error: cannot open"), std::string::npos) << r.err;
}

// --prefill-chunk (plena run and plena estimate): a chunk that is not a whole number of prefill
// granules is a user error naming the option, exit 1.
TEST(IsaCli, PrefillChunkNotAMultipleOfTheGranuleExitsOne) {
  CliResult r = run_plena("run --hw tiny-fp32 --prompt-len 20 --gen 1 --timing-only --prefill-chunk 6");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--prefill-chunk: error: 6 is not a multiple of 4"), std::string::npos) << r.err;
  r = run_plena("estimate --prefill 4096 --prefill-chunk 1000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--prefill-chunk: error: 1000 is not a multiple of 128"), std::string::npos) << r.err;
}

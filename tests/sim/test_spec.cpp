// Run specs and the `plena sim` command: parsing errors are located, the example runs and is
// deterministic, dumps hold the right values, and config-hash mismatches are simulation faults.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;
using namespace plena;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_spec_tmp" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string error_of(const std::string& text, const fs::path& path) {
  try {
    sim::parse_run_spec(text, path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const char* kProgram =
    "S_ADDI_INT gp1, gp0, 0\n"
    "H_PREFETCH_V gp1, gp0, a0, 0, 0\n"
    "S_LD_FP f1, gp0, 0\n"
    "V_MUL_VF gp1, gp1, f1, 0\n"
    "H_STORE_V gp1, gp0, a1, 0, 0\n";

std::string spec_text(const std::string& extra = "") {
  return "[hardware]\npreset = \"tiny-fp32\"\n[program]\npath = \"k.asm\"\n" + extra;
}

// ctest runs each test in its own process, possibly in parallel: one log file per test.
int run_cli(const std::string& args, std::string* out = nullptr) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path log = fs::path(PLENA_BINARY_DIR) / "test_spec_tmp" / (std::string(info->name()) + ".log");
  std::string cmd = std::string(PLENA_BINARY_DIR) + "/plena " + args + " > " + log.string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  if (out) *out = read_text_file(log);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST(RunSpec, ErrorsAreLocated) {
  const fs::path p = "dir/spec.toml";
  EXPECT_NE(error_of("[program]\npath = \"k.asm\"\n", p).find("missing [hardware]"), std::string::npos);
  std::string e = error_of(spec_text("[run]\nmode = \"fast\"\n"), p);
  EXPECT_NE(e.find("dir/spec.toml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("timing-only"), std::string::npos) << e;
  e = error_of(spec_text("[[hbm]]\nbase = 0\nformat = \"fp32\"\nvalues = [1.0]\nbogus = 3\n"), p);
  EXPECT_NE(e.find("spec.toml:9:1"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'hbm[0].bogus'"), std::string::npos) << e;
  e = error_of(spec_text("[[hbm]]\nbase = 0\nformat = \"fp33\"\nvalues = [1.0]\n"), p);
  EXPECT_NE(e.find("spec.toml:7:"), std::string::npos) << e;
  EXPECT_NE(e.find("fp33"), std::string::npos) << e;
  e = error_of(spec_text("[[hbm]]\nbase = -4\nformat = \"fp32\"\nvalues = [1.0]\n"), p);
  EXPECT_NE(e.find("non-negative"), std::string::npos) << e;
  e = error_of(spec_text("[[hbm]]\nbase = 0\nformat = \"fp32\"\n"), p);
  EXPECT_NE(e.find("missing 'file'"), std::string::npos) << e;
  e = error_of(spec_text("[[dump]]\nkind = \"vram\"\n"), p);
  EXPECT_NE(e.find("missing required key 'file'"), std::string::npos) << e;
  e = error_of("[hardware]\npreset = \"tiny-fp32\"\nfile = \"x.toml\"\n[program]\npath = \"k.asm\"\n", p);
  EXPECT_NE(e.find("exactly one of"), std::string::npos) << e;
  e = error_of("[hardware\n", p);
  EXPECT_NE(e.find("spec.toml:1:"), std::string::npos) << e;
  // Class-named formats resolve from the config (one source of truth).
  auto s = sim::parse_run_spec(spec_text("[[hbm]]\nbase = 0\nformat = \"activation\"\nvalues = [1.0]\n"), p);
  EXPECT_EQ(s.hbm.at(0).format, s.hw.formats.v_act);
}

TEST(RunSpec, PreloadRunDumpMatchesHandComputation) {
  fs::path d = fresh_dir("run");
  write_text_file(d / "k.asm", kProgram);
  const auto hw = config::preset("tiny-fp32");
  const size_t vlen = hw.geometry.vlen, rows = hw.hbm.v_prefetch_amount;
  std::ostringstream vals;
  std::vector<float> x(rows * vlen);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * float(i) - 3.0f;
  npy_save(d / "x.npy", npy_from_f32(x, {rows, vlen}));
  write_text_file(d / "spec.toml",
                  spec_text("[[hbm]]\nbase = 0\nformat = \"fp32\"\naddr_reg = 0\nfile = \"x.npy\"\n"
                            "[registers]\nhbm_addr = [0, 65536]\n"
                            "[[fpsram]]\nindex = 0\nvalues = [-1.5]\n"
                            "[[dump]]\nkind = \"hbm\"\nbase = 65536\nrows = " + std::to_string(rows) +
                            "\ncols = " + std::to_string(vlen) + "\nformat = \"fp32\"\nfile = \"out/y.npy\"\n"));
  auto spec = sim::load_run_spec(d / "spec.toml");
  sim::Simulator s(spec.hw);
  sim::apply_preloads(spec, s);
  auto r = s.run(sim::load_program(spec.program));
  EXPECT_EQ(r.executed, 5u);
  auto files = sim::write_dumps(spec, s, d);
  ASSERT_EQ(files.size(), 1u);
  auto y = npy_load(files[0]).to_f32();
  ASSERT_EQ(y.size(), x.size());
  // Only the first VRAM row is scaled; fp32 everywhere, so the product is exact.
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], i < vlen ? x[i] * -1.5f : x[i]) << i;
}

TEST(RunSpec, CliExampleIsDeterministicAndWritesStatsAndTraces) {
  fs::path d = fresh_dir("cli");
  const fs::path ex = fs::path(PLENA_SOURCE_DIR) / "examples" / "sim" / "scale_shift.toml";
  std::string out;
  for (int i = 0; i < 2; ++i) {
    fs::path o = d / std::to_string(i);
    ASSERT_EQ(run_cli("sim " + ex.string() + " --out-dir " + o.string() + " --stats " + (o / "s.json").string() +
                          " --trace " + (o / "t.json").string() + " --dram-trace " + (o / "d.trace").string(),
                      &out),
              0)
        << out;
    EXPECT_NE(out.find("executed     24 instructions"), std::string::npos) << out;
  }
  for (const char* f : {"s.json", "t.json", "d.trace", "out/y_vram.npy", "out/y_hbm.npy"}) {
    std::string a = read_text_file(d / "0" / f), b = read_text_file(d / "1" / f);
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_EQ(a, b) << f << " differs between two identical runs";
  }
  // y = 2x + 1 on MXFP8-decoded x: not all zeros, and consistent with the HBM copy.
  auto y = npy_load(d / "0" / "out/y_vram.npy").to_f32();
  double energy = 0;
  for (float v : y) energy += double(v) * v;
  EXPECT_GT(energy, 100.0);
  EXPECT_NE(read_text_file(d / "0" / "d.trace").find("LD 0x"), std::string::npos);
}

TEST(RunSpec, ConfigHashMismatchIsASimulationFault) {
  fs::path d = fresh_dir("hash");
  write_text_file(d / "k.asm", std::string("; plena-config-hash: 0123456789abcdef\n") + kProgram);
  write_text_file(d / "spec.toml", spec_text());
  std::string out;
  EXPECT_EQ(run_cli("sim " + (d / "spec.toml").string(), &out), 2) << out;
  EXPECT_NE(out.find("0123456789abcdef"), std::string::npos) << out;
  // A bare program needs --hw; bad flags and files are input errors (exit 1).
  EXPECT_EQ(run_cli("sim " + (d / "k.asm").string(), &out), 1) << out;
  EXPECT_EQ(run_cli("sim " + (d / "missing.toml").string(), &out), 1) << out;
  EXPECT_NE(out.find("missing.toml"), std::string::npos) << out;
  // Out-of-range access: exit 2 with the PC and the instruction.
  write_text_file(d / "bad.asm", "S_LUI_INT gp1, 4194303\nV_ADD_VV gp1, gp1, gp1, 0\n");
  EXPECT_EQ(run_cli("sim " + (d / "bad.asm").string() + " --hw tiny-fp32", &out), 2) << out;
  EXPECT_NE(out.find("pc 0x0001"), std::string::npos) << out;
  EXPECT_NE(out.find("V_ADD_VV"), std::string::npos) << out;
}

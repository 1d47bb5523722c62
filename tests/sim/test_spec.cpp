// Run specs and the `plena sim` command: parsing errors are located, the example runs and is
// deterministic, dumps hold the right values, and config-hash mismatches are simulation faults.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

TEST(RunSpec, ConfigHashMismatchIsAnInputErrorNamingBothHashes) {
  fs::path d = fresh_dir("hash");
  write_text_file(d / "k.asm", std::string("; plena-config-hash: 0123456789abcdef\n") + kProgram);
  write_text_file(d / "spec.toml", spec_text());
  const std::string here = config::canonical_hash(config::preset("tiny-fp32"));
  std::string out;
  EXPECT_EQ(run_cli("sim " + (d / "spec.toml").string(), &out), 1) << out;
  EXPECT_NE(out.find("0123456789abcdef"), std::string::npos) << out;
  EXPECT_NE(out.find(here), std::string::npos) << out;
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

// ---------------------------------------------------------------- validation and confinement

namespace {
std::string first_error_line(const std::string& e) { return e.substr(0, e.find('\n')); }
}  // namespace

TEST(RunSpec, ConfigHashInTheSpecMustBeWellFormedAndMatchHardware) {
  const fs::path p = "dir/spec.toml";
  const std::string here = config::canonical_hash(config::preset("tiny-fp32"));
  auto with_hash = [](const std::string& h) {
    return "[hardware]\npreset = \"tiny-fp32\"\n[program]\npath = \"k.asm\"\nconfig_hash = \"" + h + "\"\n";
  };
  std::string e = error_of(with_hash("XYZ"), p);
  EXPECT_EQ(e.rfind("dir/spec.toml:5:15: error: program.config_hash = \"XYZ\": expected 16 lowercase hex", 0), 0u) << e;
  e = error_of(with_hash("0123456789abcdef"), p);
  EXPECT_EQ(e.rfind("dir/spec.toml:5:15: error:", 0), 0u) << e;
  EXPECT_NE(e.find("built for config hash 0123456789abcdef"), std::string::npos) << e;
  EXPECT_NE(e.find("has hash " + here), std::string::npos) << e;
  EXPECT_EQ(sim::parse_run_spec(with_hash(here), p).expected_config_hash, here);
}

TEST(RunSpec, IntSramValuesMustBeUnsigned32BitIntegers) {
  const fs::path p = "dir/spec.toml";
  for (const char* v : {"1.5", "-1", "4294967296", "\"7\""}) {
    std::string e = error_of(spec_text(std::string("[[intsram]]\nindex = 0\nvalues = [3, ") + v + "]\n"), p);
    EXPECT_EQ(e.rfind("dir/spec.toml:7:14: error: intsram[0].values: expected unsigned 32-bit integers", 0), 0u)
        << v << ": " << e;
  }
  EXPECT_NO_THROW(sim::parse_run_spec(spec_text("[[intsram]]\nindex = 0\nvalues = [0, 4294967295]\n"), p));
  // FP SRAM takes floats.
  EXPECT_NO_THROW(sim::parse_run_spec(spec_text("[[fpsram]]\nindex = 0\nvalues = [1.5, 2]\n"), p));
}

TEST(RunSpec, HbmTensorsMayNotOverlapOrHaveRowsShorterThanTheirStride) {
  fs::path d = fresh_dir("overlap");
  auto apply = [&](const std::string& extra) -> std::string {
    write_text_file(d / "spec.toml", spec_text(extra));
    try {
      auto spec = sim::load_run_spec(d / "spec.toml");
      sim::Simulator s(spec.hw);
      sim::apply_preloads(spec, s);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  const std::string spec_file = (d / "spec.toml").string();
  // b's bytes [8, 16) fall inside a's [0, 16).
  std::string e = apply("[[hbm]]\nname = \"a\"\nbase = 0\nformat = \"fp32\"\nvalues = [1, 2, 3, 4]\n"
                        "[[hbm]]\nname = \"b\"\nbase = 8\nformat = \"fp32\"\nvalues = [5.0]\n");
  EXPECT_EQ(e.rfind(spec_file + ":10: error: [[hbm]] 'b' row 0 elements [0x8, 0xc) overlaps [[hbm]] 'a' (line 5)", 0), 0u) << e;
  // A scale region placed on top of the elements of the same tensor.
  e = apply("[[hbm]]\nname = \"m\"\nbase = 0\nformat = \"plena-hw-mxfp:fp8_e4m3:b8\"\nscale_offset = 4\n"
            "values = [1, 2, 3, 4, 5, 6, 7, 8]\n");
  EXPECT_NE(e.find("[[hbm]] 'm'"), std::string::npos) << e;
  EXPECT_NE(e.find("scales"), std::string::npos) << e;
  // row_stride shorter than a row.
  e = apply("[[hbm]]\nname = \"s\"\nbase = 0\nformat = \"fp32\"\nrow_stride = 2\nvalues = [1, 2, 3, 4]\n");
  EXPECT_NE(e.find(spec_file + ":5: error: [[hbm]] 's': row_stride = 2 is smaller than a row (4 elements)"), std::string::npos) << e;
  // Two tensors interleaving rows through row_stride share no byte: accepted.
  npy_save(d / "l.npy", npy_from_f32(std::vector<float>{1, 2, 3, 4}, {2, 2}));
  npy_save(d / "r.npy", npy_from_f32(std::vector<float>{5, 6, 7, 8}, {2, 2}));
  EXPECT_EQ(apply("[[hbm]]\nname = \"l\"\nbase = 0\nformat = \"fp32\"\nrow_stride = 4\nfile = \"l.npy\"\n"
                  "[[hbm]]\nname = \"r\"\nbase = 8\nformat = \"fp32\"\nrow_stride = 4\nfile = \"r.npy\"\n"),
            "");
  // Memory for the HBM image beyond the limit is refused with both numbers.
  write_text_file(d / "spec.toml", spec_text("[[hbm]]\nbase = 0\nformat = \"fp32\"\nvalues = [1.0]\n"));
  auto spec = sim::load_run_spec(d / "spec.toml");
  sim::Simulator s(spec.hw);
  try {
    sim::apply_preloads(spec, s, 1000);
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& x) {
    EXPECT_NE(std::string(x.what()).find("need 64.0 KiB of host memory, but only 1000 B"), std::string::npos) << x.what();
  }
}

TEST(RunSpec, DumpsAreSizeCheckedAtParse) {
  const fs::path p = "dir/spec.toml";
  std::string e = error_of(spec_text("[[dump]]\nkind = \"vram\"\nfile = \"v.npy\"\nrows = 4611686018427387904\n"), p);
  EXPECT_EQ(e.rfind("dir/spec.toml:5:1: error: [dump[0]]: dump of 4611686018427387904 x 16 at 0 exceeds", 0), 0u) << e;
  e = error_of(spec_text("[[dump]]\nkind = \"hbm\"\nfile = \"h.npy\"\nbase = 0\nrows = 2\ncols = 8\nrow_stride = 4\nformat = \"fp32\"\n"), p);
  EXPECT_NE(e.find("row_stride = 4 is smaller than a row (cols = 8)"), std::string::npos) << e;
  e = error_of(spec_text("[[dump]]\nkind = \"hbm\"\nfile = \"h.npy\"\nbase = 1073741820\nrows = 1\ncols = 8\nformat = \"fp32\"\n"), p);
  EXPECT_NE(e.find("beyond hbm.size_bytes"), std::string::npos) << e;
}

TEST(RunSpec, InputPathsStayInsideTheSpecFolder) {
  fs::path root = fresh_dir("confine_in");
  fs::path d = root / "spec";
  fs::create_directories(d / "sub");
  write_text_file(root / "outside.asm", kProgram);
  write_text_file(d / "sub" / "k.asm", kProgram);
  const fs::path sp = d / "spec.toml";
  auto prog = [](const std::string& path) { return "[hardware]\npreset = \"tiny-fp32\"\n[program]\npath = \"" + path + "\"\n"; };
  for (const std::string& bad : std::vector<std::string>{"../outside.asm", "sub/../../outside.asm", (root / "outside.asm").string(), "/etc/passwd"}) {
    std::string e = error_of(prog(bad), sp);
    EXPECT_EQ(e.rfind(sp.string() + ":4:8: error: program.path = \"" + bad + "\":", 0), 0u) << e;
    EXPECT_NE(e.find("outside the folder"), std::string::npos) << e;
  }
  // Inside: relative, through '..' that stays inside, or absolute within the folder.
  EXPECT_NO_THROW(sim::parse_run_spec(prog("sub/k.asm"), sp));
  EXPECT_NO_THROW(sim::parse_run_spec(prog("sub/../sub/k.asm"), sp));
  EXPECT_NO_THROW(sim::parse_run_spec(prog((d / "sub" / "k.asm").string()), sp));
  // A symlink inside the folder that leads out is refused (symlinks are resolved first).
  fs::create_symlink(root / "outside.asm", d / "link.asm");
  std::string e = error_of(prog("link.asm"), sp);
  EXPECT_NE(e.find("outside the folder"), std::string::npos) << e;
  // Preload files and hardware files follow the same rule.
  e = error_of(spec_text("[[vram]]\naddr = 0\nfile = \"../x.npy\"\n"), sp);
  EXPECT_EQ(e.rfind(sp.string() + ":7:8: error: vram[0].file = \"../x.npy\":", 0), 0u) << e;
  e = error_of("[hardware]\nfile = \"/etc/hw.toml\"\n[program]\npath = \"k.asm\"\n", sp);
  EXPECT_EQ(e.rfind(sp.string() + ":2:8: error: hardware.file", 0), 0u) << e;
}

TEST(RunSpec, DumpPathsStayInsideTheOutputFolder) {
  fs::path root = fresh_dir("confine_out");
  fs::path d = root / "work";
  fs::create_directories(d / "out");
  write_text_file(d / "k.asm", kProgram);
  const fs::path sp = d / "spec.toml";
  auto dump = [](const std::string& f) { return spec_text("[[dump]]\nkind = \"fpsram\"\ncount = 1\nfile = \"" + f + "\"\n"); };
  // '..' above the output folder: refused at parse time, located at the file key.
  std::string e = error_of(dump("../escape.npy"), sp);
  EXPECT_EQ(e.rfind(sp.string() + ":8:8: error: dump[0].file = \"../escape.npy\": climbs out of the output folder", 0), 0u) << e;
  // Absolute paths and symlinks: refused by dump_paths once the output folder is known.
  fs::create_symlink(root, d / "out" / "up");
  for (const std::string& bad : std::vector<std::string>{(root / "new" / "escape.npy").string(), "up/escape.npy"}) {
    write_text_file(sp, dump(bad));
    auto spec = sim::load_run_spec(sp);
    try {
      sim::dump_paths(spec, d / "out");
      ADD_FAILURE() << bad;
    } catch (const InputError& x) {
      EXPECT_EQ(std::string(x.what()).rfind(sp.string() + ":8:8: error: dump file = \"" + bad + "\":", 0), 0u) << x.what();
    }
    // Through the CLI: exit 1, the located message, and nothing created outside.
    std::string out;
    EXPECT_EQ(run_cli("sim " + sp.string() + " --out-dir " + (d / "out").string(), &out), 1) << out;
    EXPECT_NE(first_error_line(out).find(sp.string() + ":8:8: error: dump file"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(root / "new")) << out;
    EXPECT_FALSE(fs::exists(root / "escape.npy")) << out;
  }
  // Inside (a new subfolder is created inside the output folder).
  write_text_file(sp, dump("deep/er/f.npy"));
  std::string out;
  EXPECT_EQ(run_cli("sim -q " + sp.string() + " --out-dir " + (d / "out").string(), &out), 0) << out;
  EXPECT_TRUE(fs::exists(d / "out" / "deep" / "er" / "f.npy")) << out;
}

TEST(SimCli, ConfigsTooBigForThisMachineAreRefusedBeforeAllocating) {
  fs::path d = fresh_dir("toobig");
  write_text_file(d / "k.asm", "S_ADDI_INT gp1, gp0, 1\n");
  // 1 PiB of HBM needs a 128 GiB page table in functional mode: refused (unless this machine has it).
  const std::string hw = "'base = \"tiny-fp32\"\n[hbm]\nsize_bytes = 1_125_899_906_842_624\n'";
  std::string out;
  const int rc = run_cli("sim " + (d / "k.asm").string() + " --hw " + hw, &out);
  if (rc != 0) {
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("HBM page table 128.0 GiB (hbm.size_bytes)"), std::string::npos) << out;
    EXPECT_NE(out.find("--timing-only"), std::string::npos) << out;
  }
  // Timing-only needs no data arrays: it runs.
  EXPECT_EQ(run_cli("sim -q --timing-only " + (d / "k.asm").string() + " --hw " + hw, &out), 0) << out;
  // config check reports the same limit as a warning, and an unknown DRAM as a located error.
  EXPECT_EQ(run_cli("config check " + hw, &out), 0) << out;
  write_text_file(d / "hw.toml", "base = \"tiny-fp32\"\n[hbm]\ndram = \"hbm9\"\n");
  EXPECT_EQ(run_cli("config check " + (d / "hw.toml").string(), &out), 1) << out;
  EXPECT_NE(out.find("hw.toml:3:8: error: hbm.dram = \"hbm9\": unknown DRAM preset"), std::string::npos) << out;
}

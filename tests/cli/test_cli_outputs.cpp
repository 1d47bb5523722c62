// Output handling of the plena binary: failed commands leave no new or changed files, a full
// disk or a full stdout is an error (exit 1, OS reason), a simulation fault keeps its stats/trace.
#include <nlohmann/json.hpp>

#include "cli_run.hpp"

using namespace plena_cli_test;

namespace {

const char* kGoodAsm = "S_ADDI_INT gp1, gp0, 5\nS_ADDI_INT gp2, gp1, 7\n";

}  // namespace

TEST(CliOutputs, FailedAssemblyLeavesExistingOutputUnchanged) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "bad.asm", "S_ADDI_INT gp1, gp0, 5\nNOPE\n");
  plena::write_text_file(d / "out.mem", "KEEP\n");
  CliResult r = run_plena(fmt::format("asm '{}' -o '{}' --listing '{}'", (d / "bad.asm").string(),
                                  (d / "out.mem").string(), (d / "out.lst").string()));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(plena::read_text_file(d / "out.mem"), "KEEP\n");
  EXPECT_EQ(entries(d), (std::vector<std::string>{"bad.asm", "out.mem"}));
}

TEST(CliOutputs, ListingFailureKeepsTheProgramUnwritten) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "k.asm", kGoodAsm);
  CliResult r = run_plena(fmt::format("asm '{}' -o '{}' --listing '{}'", (d / "k.asm").string(), (d / "k.mem").string(),
                                  (d / "no" / "k.lst").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "k.lst: error: cannot create file: No such file or directory")) << r.err;
  EXPECT_FALSE(fs::exists(d / "k.mem")) << "one command, one transaction";
  EXPECT_EQ(entries(d), std::vector<std::string>{"k.asm"});
}

TEST(CliOutputs, QuantEncodeFailingOnItsSecondFileWritesNone) {
  const fs::path d = test_dir();
  plena::npy_save(d / "x.npy", plena::npy_from_f32(std::vector<float>(64, 1.5f), {2, 32}));
  fs::create_directory(d / "p.scales.npy");  // the second of the three outputs cannot be written
  CliResult r = run_plena(fmt::format("quant encode --format ocp-mx:fp8_e4m3:b32:rne '{}' -o '{}'",
                                  (d / "x.npy").string(), (d / "p").string()));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "p.scales.npy: error: cannot write file: Is a directory")) << r.err;
  EXPECT_EQ(entries(d), (std::vector<std::string>{"p.scales.npy", "x.npy"}));
  EXPECT_EQ(run_plena(fmt::format("quant encode --format ocp-mx:fp8_e4m3:b32:rne '{}' -o -", (d / "x.npy").string())).code,
            1);
}

TEST(CliOutputs, FullDiskIsAnErrorForEveryWriter) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "k.asm", kGoodAsm);
  const std::string k = (d / "k.asm").string();
  ASSERT_EQ(run_plena(fmt::format("asm '{}' -o '{}'", k, (d / "k.mem").string())).code, 0);
  const std::string mem = (d / "k.mem").string();
  const std::vector<std::string> to_full_file = {
      "asm '" + k + "' -o /dev/full",
      "asm '" + k + "' -o '" + (d / "k2.mem").string() + "' --listing /dev/full",
      "disasm '" + mem + "' -o /dev/full",
      "sim '" + k + "' --hw reference-small --stats /dev/full",
      "sim '" + k + "' --hw reference-small --trace /dev/full",
  };
  for (const auto& args : to_full_file) {
    CliResult r = run_plena(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "/dev/full: error: cannot write file: No space left on device")) << args << r.err;
  }
  EXPECT_FALSE(fs::exists(d / "k2.mem"));
  const std::vector<std::string> to_full_stdout = {
      "disasm '" + mem + "'", "config show", "config show --json", "config list", "asm '" + k + "' -o -",
      "sim '" + k + "' --hw reference-small", "estimate", "--help", "--version"};
  for (const auto& args : to_full_stdout) {
    CliResult r = run_plena(args, ">/dev/full");
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "cannot write to standard output: No space left on device")) << args << r.err;
  }
}

TEST(CliOutputs, DashMeansStdout) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "k.asm", kGoodAsm);
  CliResult r = run_plena(fmt::format("asm '{}' -o -", (d / "k.asm").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(entries(d), std::vector<std::string>{"k.asm"});
  ASSERT_EQ(run_plena(fmt::format("asm '{}' -o '{}'", (d / "k.asm").string(), (d / "k.mem").string())).code, 0);
  EXPECT_EQ(r.out, plena::read_text_file(d / "k.mem"));
  EXPECT_EQ(r.out.size(), 22u) << r.out;
  r = run_plena(fmt::format("sim '{}' --hw reference-small -q --stats -", (d / "k.asm").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["instructions"], 2);
}

TEST(CliOutputs, SimulationFaultWritesMarkedStatsAndTrace) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "f.asm", "S_ADDI_INT gp1, gp0, 5\nS_ADDI_INT gp2, gp1, 7\n.word 0xFFFFFFFF\n");
  plena::write_text_file(d / "old.json", "old");
  CliResult r = run_plena(fmt::format("sim '{}' --hw reference-small --stats '{}' --trace '{}' --dram-trace '{}'",
                                  (d / "f.asm").string(), (d / "old.json").string(), (d / "t.json").string(),
                                  (d / "d.trace").string()));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "pc 0x0002")) << r.err;
  const auto stats = nlohmann::json::parse(plena::read_text_file(d / "old.json"));
  EXPECT_EQ(stats["completed"], false);
  EXPECT_EQ(stats["fault"]["pc"], 2);
  EXPECT_TRUE(contains(stats["fault"]["message"].get<std::string>(), "invalid instruction word 0xFFFFFFFF"));
  EXPECT_EQ(stats["instructions"], 2) << "stats up to the fault";
  const auto trace = nlohmann::json::parse(plena::read_text_file(d / "t.json"));
  EXPECT_EQ(trace["traceEvents"].back()["name"], "FAULT");
  EXPECT_TRUE(fs::exists(d / "d.trace"));
  EXPECT_EQ(entries(d), (std::vector<std::string>{"d.trace", "f.asm", "old.json", "t.json"}));
}

// --trace-window START:END traces executed instructions START..END-1 only; a malformed window is
// an InputError naming the flag and the expected form, before anything runs.
TEST(CliOutputs, TraceWindowTracesOnlyItsInstructions) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "w.asm", "S_ADDI_INT gp1, gp0, 5\nS_ADDI_INT gp2, gp1, 7\nS_ADDI_INT gp3, gp2, 1\n"
                                      "S_ADDI_INT gp4, gp3, 1\n");
  const std::string w = (d / "w.asm").string();
  CliResult r = run_plena(fmt::format("sim '{}' --hw reference-small -q --trace '{}' --trace-window 1:3", w,
                                      (d / "t.json").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<uint64_t> seqs;
  const auto trace = nlohmann::json::parse(plena::read_text_file(d / "t.json"));
  for (const auto& ev : trace["traceEvents"])
    if (ev["ph"] == "X") seqs.push_back(ev["args"]["seq"].get<uint64_t>());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2}));
  r = run_plena(fmt::format("sim '{}' --hw reference-small -q --trace '{}' --trace-window 2:", w, (d / "u.json").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(plena::read_text_file(d / "u.json"))["traceEvents"].size(), 1u + 2 + 2 * 1);
  for (const char* bad : {"5", "3:1", "a:4", "1:-2", "2:2"}) {
    r = run_plena(fmt::format("sim '{}' --hw reference-small -q --trace '{}' --trace-window '{}'", w,
                              (d / "x.json").string(), bad));
    EXPECT_EQ(r.code, 1) << bad;
    EXPECT_TRUE(contains(r.err, std::string("--trace-window ") + bad + ": error:")) << r.err;
  }
  EXPECT_FALSE(fs::exists(d / "x.json"));
}

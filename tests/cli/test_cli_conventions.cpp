// CLI conventions: subcommand errors, --version, numeric option ranges, JSON unit suffixes.
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <set>
#include <sstream>

#include "cli_run.hpp"

using namespace plena_cli_test;

TEST(CliConventions, UnknownOrMissingSubcommandListsTheKnownOnes) {
  CliResult r = run_plena("bogus");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "plena: error: unknown subcommand 'bogus'")) << r.err;
  for (const char* name : {"asm", "disasm", "config", "quant", "sim", "compile", "run", "estimate"})
    EXPECT_TRUE(contains(r.err, name)) << name << r.err;
  r = run_plena("");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "a subcommand is required")) << r.err;
  EXPECT_TRUE(contains(r.err, "estimate")) << r.err;
  EXPECT_EQ(r.out, "");
  r = run_plena("config bogus");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "plena config: error: unknown subcommand 'bogus' (available: show, check, hash, list"))
      << r.err;
  r = run_plena("quant");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "roundtrip")) << r.err;
  EXPECT_EQ(run_plena("--help").code, 0);
}

TEST(CliConventions, VersionIsTheCMakeProjectVersion) {
  CliResult r = run_plena("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, std::string("plena-cpp ") + PLENA_PROJECT_VERSION + "\n");
}

TEST(CliConventions, EstimateNumericOptionsAreRangeChecked) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--batch 1e13", "--batch"},         {"--batch 0", "--batch"},           {"--batch -1", "--batch"},
      {"--batch 2.5", "--batch"},          {"--prefill 0", "--prefill"},       {"--prefill 1e30", "--prefill"},
      {"--decode nan", "--decode"},        {"--devices 0", "--devices"},       {"--tp 1e9", "--tp"},
      {"--link-gbps 0", "--link-gbps"},    {"--link-gbps nan", "--link-gbps"}, {"--link-gbps -1", "--link-gbps"},
      {"--link-gbps inf", "--link-gbps"},  {"--link-gbps 1x", "--link-gbps"},  {"--link-latency-us -1", "--link-latency-us"},
      {"--link-latency-us nan", "--link-latency-us"}};
  for (const auto& [args, flag] : bad) {
    CliResult r = run_plena("estimate " + args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_TRUE(contains(r.err, flag + ": ")) << args << ": " << r.err;
    EXPECT_TRUE(contains(r.err, " from ") || contains(r.err, "finite number")) << args << ": " << r.err;
  }
  CliResult r = run_plena("estimate --model smollm2-135m --json --batch 1e1 --link-latency-us 0 --prefill 64 --decode 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["batch"], 10);
}

TEST(CliConventions, EstimateRooflineAndCompareHardware) {
  CliResult r = run_plena("estimate --model tiny --hw reference-small --prefill 16 --decode 2 --roofline");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "step roofs")) << r.out;
  EXPECT_TRUE(contains(r.out, "(prefill; + first decode step")) << r.out;
  // --compare runs PLENA on the paper-equivalent preset unless --hw names another config.
  r = run_plena("estimate --compare a100 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "DRAM 'hbm2e-a100'")) << r.out;
  r = run_plena("estimate --compare a100 --json --hw reference-analytic");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "DRAM 'hbm2'")) << r.out;
}

namespace {

// Unit convention of every JSON output (docs/cli.md "Units in JSON output"): a quantity's key
// ends in its unit, from one small set; no other unit spelling appears as a key token (in any case).
const std::set<std::string> kUnits = {"s", "ps", "cycles", "bytes", "gbps", "j", "ghz"};
const std::set<std::string> kForeignUnits = {"ms", "us", "ns", "sec", "secs", "seconds", "msec", "kb", "mb", "gb",
                                             "kib", "mib", "gib", "mbps", "tbps", "hz", "mhz", "pj", "nj", "mj"};

void check_units(const nlohmann::json& j, const std::string& path, std::vector<std::string>& bad) {
  if (j.is_array()) {
    for (const auto& x : j) check_units(x, path + "[]", bad);
    return;
  }
  if (!j.is_object()) return;
  for (const auto& [key, value] : j.items()) {
    std::vector<std::string> tokens;
    std::string lower, tok;
    for (char c : key) lower += char(std::tolower(static_cast<unsigned char>(c)));
    std::stringstream ss(lower);
    while (std::getline(ss, tok, '_')) tokens.push_back(tok);
    for (size_t i = 0; i < tokens.size(); ++i) {
      const bool unit = kUnits.count(tokens[i]) > 0 && (i > 0 || tokens.size() == 1);
      const bool last_or_per = i + 1 == tokens.size() || tokens[i + 1] == "per";
      if (kForeignUnits.count(tokens[i]) || (unit && !last_or_per))
        bad.push_back(path + "." + key);
    }
    if (key != "instruction_mix") check_units(value, path + "." + key, bad);  // keys are mnemonics
  }
}

}  // namespace

TEST(CliConventions, EveryJsonOutputUsesTheUnitSuffixes) {
  const fs::path d = test_dir();
  plena::write_text_file(d / "k.asm", "S_ADDI_INT gp1, gp0, 5\n");
  const std::string k = (d / "k.asm").string();
  const std::vector<std::string> commands = {
      "estimate --json",
      "estimate --json --model smollm2-135m --devices 2",
      "estimate --json --compare a100,h100",
      "config show --json",
      "config show --json reference-analytic",
      "sim '" + k + "' --hw reference-small -q --stats -",
      "run -q --gen 1 --json -",
      "run -q --gen 2 --timing-only --devices 2 --tp 2 --json -",
      "eval --json --timings --prompt-len 4 --precision bf16",
  };
  for (const auto& c : commands) {
    CliResult r = run_plena(c);
    ASSERT_EQ(r.code, 0) << c << "\n" << r.err;
    std::vector<std::string> bad;
    check_units(nlohmann::json::parse(r.out), "", bad);
    EXPECT_TRUE(bad.empty()) << c << ": " << fmt::format("{}", fmt::join(bad, ", "));
  }
}

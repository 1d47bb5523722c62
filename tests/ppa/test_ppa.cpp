// PPA model: the anchors of docs/ppa.md (read from the document, so every documented anchor is
// checked), the PE rule, node scaling, energy per event and from activity, the CLI.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dram/dram.hpp"
#include "dram/standards.hpp"
#include "isa/isa.hpp"
#include "ppa/model.hpp"
#include "ppa/ppa.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;
using namespace plena;

namespace {

constexpr double kDcTo7nm = 0.5999;  // data/ppa/area.toml reference.dc_to_7nm

// Rows "| kind | ... |" of docs/ppa.md whose first cell is `kind`, split into trimmed cells.
std::vector<std::vector<std::string>> doc_rows(const std::string& kind) {
  std::ifstream in(fs::path(PLENA_SOURCE_DIR) / "docs" / "ppa.md");
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("| " + kind + " |")) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) {
      const auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      if (b != std::string::npos) cells.push_back(cell.substr(b, e - b + 1));
    }
    rows.push_back(cells);
  }
  return rows;
}

std::string format_of(const std::string& name) {
  if (name == "mxint4") return "mase-bfp:int4:b8";
  if (name == "mxint8") return "mase-bfp:int8:b8";
  if (name == "mxfp8") return "plena-hw-mxfp:fp8_e4m3:b8";
  throw std::runtime_error("docs/ppa.md: unknown format " + name);
}

config::HardwareConfig anchor_config(uint32_t mlen, uint32_t blen, const std::string& formats) {
  config::HardwareConfig cfg = config::preset("reference-small");
  cfg.geometry.mlen = cfg.geometry.vlen = mlen;
  cfg.geometry.blen = blen;
  const numerics::Format f = numerics::parse_format(format_of(formats));
  cfg.formats.m_weight = cfg.formats.m_kv = cfg.formats.v_act = cfg.formats.v_kv = f;
  return cfg;
}

double rel(double model, double anchor) { return std::abs(model / anchor - 1.0); }

}  // namespace

TEST(PpaArea, FullChipAnchorsOfTheDocWithinTenPercent) {
  const auto rows = doc_rows("anchor");
  ASSERT_EQ(rows.size(), 7u) << "docs/ppa.md lists the seven full-chip anchors";
  for (const auto& r : rows) {
    const auto cfg = anchor_config(uint32_t(std::stoul(r[1])), uint32_t(std::stoul(r[2])), r[3]);
    const ppa::AreaSummary a = ppa::area(cfg);
    const double to_dc = 1e6 / kDcTo7nm;
    const std::string what = fmt::format("{}/{} {}", r[1], r[2], r[3]);
    fmt::print("{:<14} matrix {:+.1f}%  vector {:+.1f}%  logic {:+.1f}%\n", what,
               100 * (a.matrix_mm2 * to_dc / std::stod(r[5]) - 1), 100 * (a.vector_mm2 * to_dc / std::stod(r[6]) - 1),
               100 * (a.logic_mm2() * to_dc / std::stod(r[4]) - 1));
    EXPECT_LT(rel(a.logic_mm2() * to_dc, std::stod(r[4])), 0.10) << what << " logic " << a.logic_mm2() * to_dc;
    EXPECT_LT(rel(a.matrix_mm2 * to_dc, std::stod(r[5])), 0.10) << what << " matrix " << a.matrix_mm2 * to_dc;
    EXPECT_LT(rel(a.vector_mm2 * to_dc, std::stod(r[6])), 0.10) << what << " vector " << a.vector_mm2 * to_dc;
  }
}

TEST(PpaArea, FlattenedArrayReferenceWithinFifteenPercent) {
  const auto rows = doc_rows("array");
  ASSERT_EQ(rows.size(), 1u);
  for (const auto& r : rows) {
    const auto cfg = anchor_config(uint32_t(std::stoul(r[1])), uint32_t(std::stoul(r[2])), r[3]);
    const double mm2 = ppa::area(cfg).matrix_mm2;
    fmt::print("{}x{} {} array {:.4f} mm2 ({:+.1f}%)\n", r[2], r[1], r[3], mm2, 100 * (mm2 / std::stod(r[4]) - 1));
    EXPECT_LT(rel(mm2, std::stod(r[4])), 0.15) << mm2;
  }
}

TEST(PpaArea, PeRuleReproducesTheSynthesisedPes) {
  const auto rows = doc_rows("pe");
  ASSERT_EQ(rows.size(), 7u);
  auto operand = [](const std::string& s) {
    if (s.starts_with("int")) return ppa::detail::Operand{true, std::stoi(s.substr(3)), 0, 0};
    const int e = s[1] - '0', m = s[3] - '0';
    return ppa::detail::Operand{false, 1 + e + m, e, m};
  };
  for (const auto& r : rows)
    EXPECT_LT(rel(ppa::detail::pe_um2(ppa::detail::tables(), operand(r[1]), operand(r[2])), std::stod(r[3])), 0.05)
        << r[1] << " x " << r[2];
}

TEST(PpaArea, GrowsWithTheArrayAndThePrecision) {
  const auto small = ppa::area(anchor_config(64, 4, "mxint4"));
  const auto wide = ppa::area(anchor_config(64, 16, "mxint4"));
  const auto int8 = ppa::area(anchor_config(64, 16, "mxint8"));
  const auto fp8 = ppa::area(anchor_config(64, 16, "mxfp8"));
  EXPECT_LT(small.matrix_mm2, wide.matrix_mm2);
  EXPECT_LT(wide.matrix_mm2, int8.matrix_mm2);
  EXPECT_LT(int8.matrix_mm2, fp8.matrix_mm2);
  // Doubling the VRAM depth doubles its bits: SRAM area grows, logic does not.
  auto deep = anchor_config(64, 16, "mxint4");
  deep.sram.vector_depth *= 2;
  const auto d = ppa::area(deep);
  EXPECT_GT(d.sram_mm2, wide.sram_mm2);
  EXPECT_DOUBLE_EQ(d.logic_mm2(), wide.logic_mm2());
  EXPECT_GT(wide.leakage_w, 0.0);
  EXPECT_NEAR(wide.total_mm2(),
              wide.logic_mm2() + wide.sram_mm2 + wide.dram_io_mm2 + wide.link_mm2, 1e-12);
}

TEST(PpaArea, NodeScalingFollowsStillmakerBaas) {
  const auto cfg = config::preset("reference-analytic");
  ppa::Options o45;
  o45.node_nm = 45;
  const auto a7 = ppa::area(cfg), a45 = ppa::area(cfg, o45);
  EXPECT_NEAR(a45.matrix_mm2 / a7.matrix_mm2, 17.0, 1e-9);       // AREA_SCALING[7 nm][45 nm]
  EXPECT_NEAR(a45.dram_io_mm2 > 0 ? 1.0 : 0.0, 1.0, 0.0);
  const auto& t = ppa::detail::tables();
  EXPECT_NEAR(ppa::detail::energy_scale(t, 45, 7), 0.0943, 0.0005);  // ppa_dse_memory_mcp.md §1.3
  // A node between two rows interpolates monotonically.
  ppa::Options o28;
  o28.node_nm = 28;
  const double m28 = ppa::area(cfg, o28).matrix_mm2;
  EXPECT_GT(m28, ppa::area(cfg, ppa::Options{20}).matrix_mm2);
  EXPECT_LT(m28, ppa::area(cfg, ppa::Options{32}).matrix_mm2);
}

TEST(PpaArea, NodeOutsideTheTableIsAnInputError) {
  const auto cfg = config::preset("reference-small");
  for (double node : {5.0, 3.0, 180.0, 0.0, -7.0}) {
    try {
      ppa::area(cfg, ppa::Options{node});
      ADD_FAILURE() << node;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("7 .. 130 nm"), std::string::npos) << e.what();
    }
  }
}

TEST(PpaArea, FastEnoughForSweeps) {
  auto cfg = config::preset("reference-analytic");
  const auto t0 = std::chrono::steady_clock::now();
  double sum = 0;
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i) {
    cfg.geometry.blen = (i % 2) ? 64 : 128;
    sum += ppa::area(cfg).total_mm2();
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kN;
  EXPECT_GT(sum, 0);
  EXPECT_LT(us, 100.0) << "area() per config: " << us << " us";
}

TEST(PpaTables, EveryDramPresetHasAnEnergyAndEveryNumberASource) {
  const auto& t = ppa::detail::tables();
  for (const auto& name : dram::preset_names()) EXPECT_TRUE(t.dram_pj_per_bit.count(name)) << name;
  for (const auto* m : {&t.area, &t.energy})
    for (const auto& [key, n] : *m) EXPECT_FALSE(n.source.empty()) << key;
}

TEST(PpaTables, MalformedEntryNamesFileAndKey) {
  const auto& e = ppa::detail::embedded_energy_toml();
  const auto& tech = ppa::detail::embedded_technology_toml();
  try {
    ppa::detail::parse_tables("[matrix]\nslice = 3.0\n", e, tech);
    ADD_FAILURE();
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("data/ppa/area.toml: matrix.slice"), std::string::npos) << err.what();
  }
  try {
    ppa::detail::parse_tables("[matrix]\nslice = { value = 1.0 }\n", e, tech);
    ADD_FAILURE();
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("source"), std::string::npos) << err.what();
  }
  EXPECT_THROW(ppa::detail::parse_tables("[matrix\n", e, tech), InputError);
}

TEST(PpaEnergy, MacEnergyOrdersThePrecisions) {
  auto mac = [](const std::string& f) {
    return ppa::EnergyModel(anchor_config(64, 16, f)).events().mac_pj;
  };
  EXPECT_LT(mac("mxint4"), mac("mxint8"));
  EXPECT_LT(mac("mxint8"), mac("mxfp8"));
  auto bf16 = anchor_config(64, 16, "mxint4");
  bf16.formats.m_weight = bf16.formats.m_kv = bf16.formats.v_act = numerics::parse_format("bf16");
  EXPECT_LT(mac("mxfp8"), ppa::EnergyModel(bf16).events().mac_pj);
  // INT4 multiply ~0.005 pJ at 7 nm (ppa_dse_memory_mcp.md §1.3, Horowitz scaled).
  EXPECT_GT(mac("mxint4"), 0.005);
  EXPECT_LT(mac("mxint4"), 0.05);
}

TEST(PpaEnergy, FromActivityIsEventsTimesTable) {
  const auto cfg = config::preset("reference-small");
  const ppa::EnergyModel m(cfg);
  const auto& g = cfg.geometry;
  ppa::Activity a;
  a.per_opcode[isa::info(isa::Opcode::M_MM).code] = 10;
  a.hbm_read_bytes = 1000;
  a.hbm_write_bytes = 24;
  a.seconds = 2.0;
  const ppa::Energy e = m(a);
  EXPECT_NEAR(e.matrix_j, 10.0 * g.blen * g.mlen * g.blen * m.events().mac_pj * 1e-12, 1e-20);
  EXPECT_NEAR(e.dram_j, 1024 * 8 * m.events().dram_bit_pj * 1e-12, 1e-20);
  EXPECT_NEAR(e.leakage_j, 2.0 * m.leakage_w(), 1e-15);
  EXPECT_GT(e.sram_j, 0);
  EXPECT_GT(e.control_j, 0);
  EXPECT_NEAR(e.total_j(), e.dynamic_j() + e.leakage_j, 1e-18);
  // Linear in the activity.
  ppa::Activity twice;
  twice.add(a, 2.0);
  EXPECT_NEAR(m(twice).total_j(), 2 * e.total_j(), 1e-15);
  EXPECT_EQ(m.events().dram_bit_pj, 3.9);  // reference-small: hbm2, Accelergy table
}

namespace {

struct Cli {
  int code;
  std::string out, err;
};

Cli run_plena(const std::string& args) {
  const fs::path dir = fs::path(PLENA_BINARY_DIR) / "test_ppa_tmp";
  fs::create_directories(dir);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path out = dir / (std::string(info->name()) + ".out"), err = dir / (std::string(info->name()) + ".err");
  const std::string cmd = fmt::format("'{}' {} >'{}' 2>'{}'", (fs::path(PLENA_BINARY_DIR) / "plena").string(), args,
                                      out.string(), err.string());
  const int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_text_file(out), read_text_file(err)};
}

}  // namespace

// Memory pools (docs/memory.md "Energy"): each pool's bytes cost its own technology's pJ/bit,
// and each pool brings its own PHY and controller area.
namespace {
config::HardwareConfig pooled(const std::string& pools) {
  return config::resolve_config("base = \"tiny-fp32\"\n" + pools);
}
const std::string kSlowPool = "[memory.slow]\nstandard = \"ddr4\"\ncapacity = \"512 MiB\"\n";
const std::string kFastPool = "[memory.fast]\nstandard = \"hbm3\"\ncapacity = \"512 MiB\"\n";
}  // namespace

TEST(PpaEnergy, EachPoolsTrafficAtItsOwnTechnology) {
  const auto cfg = pooled(kSlowPool + "holds = [\"weights\"]\n" + kFastPool + "holds = [\"kv\", \"activations\"]\n");
  const ppa::EnergyModel m(cfg);
  const double lp = m.events().pool_bit_pj[0], hbm = m.events().pool_bit_pj[1];
  EXPECT_DOUBLE_EQ(lp, dram::standard_info("ddr4").tech.pj_per_bit);
  EXPECT_DOUBLE_EQ(hbm, dram::standard_info("hbm3").tech.pj_per_bit);
  ASSERT_NE(lp, hbm);
  ppa::Activity a;
  a.hbm_read_bytes = 3000, a.hbm_write_bytes = 1000;
  a.pool_bytes[0] = 2500, a.pool_bytes[1] = 1500;
  EXPECT_NEAR(m(a).dram_j, (2500 * lp + 1500 * hbm) * 8e-12, 1e-18);
  // Bytes given without a pool split fall back to the weights pool's technology.
  ppa::Activity b;
  b.hbm_read_bytes = 4000;
  EXPECT_NEAR(m(b).dram_j, 4000 * lp * 8e-12, 1e-18);
}

TEST(PpaArea, EachPoolHasItsOwnPhyAndController) {
  const std::string all = "holds = [\"weights\", \"kv\", \"activations\"]\n";
  const auto both = pooled(kSlowPool + "holds = [\"weights\"]\n" + kFastPool + "holds = [\"kv\", \"activations\"]\n");
  const double slow = ppa::area(pooled(kSlowPool + all)).dram_io_mm2, fast = ppa::area(pooled(kFastPool + all)).dram_io_mm2;
  EXPECT_GT(slow, 0);
  EXPECT_GT(fast, 0);
  EXPECT_NEAR(ppa::area(both).dram_io_mm2, slow + fast, 1e-9);
  const auto r = ppa::report(both, "two pools");
  auto has = [&](const std::string& name) {
    return std::any_of(r.components.begin(), r.components.end(), [&](const auto& c) { return c.name == name; });
  };
  EXPECT_TRUE(has("dram_phy (slow)") && has("dram_ctrl (slow)") && has("dram_phy (fast)") && has("dram_ctrl (fast)"));
}

TEST(PpaCli, JsonBreakdownWithSources) {
  const Cli r = run_plena("ppa --hw reference-analytic --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  std::vector<std::string> names;
  for (const auto& c : j["components"]) {
    names.push_back(c["name"]);
    EXPECT_FALSE(c["source"].get<std::string>().empty()) << c["name"];
    EXPECT_GT(c["area_mm2"].get<double>(), 0) << c["name"];
  }
  for (const char* want : {"matrix", "vector", "scalar", "dma", "glue", "vram", "mram", "fp_sram", "int_sram", "imem",
                           "dram_phy", "dram_ctrl", "link"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  for (const auto& e : j["events"]) EXPECT_FALSE(e["source"].get<std::string>().empty()) << e["event"];
  EXPECT_NEAR(j["area_mm2"]["total"].get<double>(), ppa::area(config::preset("reference-analytic")).total_mm2(), 1e-9);
}

TEST(PpaCli, BadInputsExitOneWithAMessage) {
  Cli r = run_plena("ppa --hw reference-analytic --node 3");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--node"), std::string::npos) << r.err;
  r = run_plena("ppa --hw no-such-preset");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no-such-preset"), std::string::npos) << r.err;
  r = run_plena("ppa --hw reference-analytic --node abc");
  EXPECT_NE(r.code, 0);
  r = run_plena("ppa --hw reference-analytic");
  EXPECT_EQ(r.code, 0);
}

TEST(PpaCli, SimStatsCarryTheEnergyOfTheirActivity) {
  const fs::path dir = fs::path(PLENA_BINARY_DIR) / "test_ppa_tmp";
  fs::create_directories(dir);
  write_text_file(dir / "k.asm", "S_ADDI_INT gp1, gp0, 5\nS_ADDI_INT gp2, gp1, 5\nM_MM 0, gp0, gp0\n");
  const Cli r = run_plena("sim '" + (dir / "k.asm").string() + "' --hw reference-small -q --stats -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& e = j.at("energy");
  // Rebuild the energy from the reported activity with the same tables.
  const auto cfg = config::preset("reference-small");
  const ppa::EnergyModel m(cfg);
  ppa::Activity a;
  for (const auto& [name, n] : j.at("instruction_mix").items())
    a.per_opcode[isa::find_mnemonic(name)->code] = n.get<double>();
  a.hbm_read_bytes = j["hbm"]["read_bytes"].get<double>();
  a.hbm_write_bytes = j["hbm"]["write_bytes"].get<double>();
  a.seconds = j["time_ps"].get<double>() * 1e-12;
  const ppa::Energy want = m(a);
  EXPECT_NEAR(e["total_j"].get<double>(), want.total_j(), 1e-18);
  EXPECT_NEAR(e["matrix_j"].get<double>(), want.matrix_j, 1e-20);
  EXPECT_GT(e["matrix_j"].get<double>(), 0);
  EXPECT_NEAR(e["average_power_w"].get<double>(), want.total_j() / a.seconds, 1e-9);
}

TEST(PpaCli, RunReportsEnergyTokensPerJouleAndPower) {
  const Cli r = run_plena("run -q --gen 2 --timing-only --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  double steps_j = 0, seconds = 0;
  for (const auto& st : j.at("steps")) {
    steps_j += st.at("energy").at("total_j").get<double>();
    seconds += st.at("time_ps").get<double>() * 1e-12;
    EXPECT_GT(st["energy"]["dram_j"].get<double>(), 0);
  }
  const double total = j.at("energy").at("total_j").get<double>();
  EXPECT_GT(total, 0);
  EXPECT_NEAR(total, steps_j, 1e-12 * total + 1e-18);
  EXPECT_NEAR(j.at("tokens_per_j").get<double>(), j["batch"].get<double>() * j["gen"].get<double>() / total, 1e-6);
  EXPECT_NEAR(j.at("average_power_w").get<double>(), total / seconds, 1e-9);
  double parts = 0;
  for (const auto& [k, v] : j["energy"].items())
    if (k != "total_j") parts += v.get<double>();
  EXPECT_NEAR(parts, total, 1e-12);
}

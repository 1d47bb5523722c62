// Config module: every validation rule fails with a located message; presets valid; canonical
// text round-trips; the hash is stable under formatting and sensitive to values.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>

#include "config/config.hpp"
#include "support/support.hpp"

namespace pc = plena::config;
using plena::InputError;

namespace {

// Canonical reference-small text: line numbers below refer to this layout
// ([geometry] on line 1, mlen 2, blen 3, vlen 4, hlen 5, broadcast_amount 6, blank 7, [sram] 8, ...).
std::string base_text() { return pc::to_toml(pc::preset("reference-small")); }

// Replaces the first line that starts with `key = ` (after the header `[table]`).
std::string with_value(std::string text, std::string_view table, std::string_view key, std::string_view value) {
  size_t t = text.find(std::string("[").append(table).append("]"));
  EXPECT_NE(t, std::string::npos) << table;
  size_t k = text.find(std::string("\n").append(key).append(" = "), t);
  EXPECT_NE(k, std::string::npos) << key;
  size_t eol = text.find('\n', k + 1);
  return text.substr(0, k + 1) + std::string(key) + " = " + std::string(value) + text.substr(eol);
}

std::string without_line(std::string text, std::string_view line) {
  size_t k = text.find(std::string("\n").append(line).append("\n"));
  EXPECT_NE(k, std::string::npos) << line;
  return text.substr(0, k + 1) + text.substr(k + line.size() + 2);
}

std::string error_of(std::string_view text, std::string_view name = "hw.toml") {
  try {
    pc::parse_config_toml(text, name);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return {};
}

// One bad value in the canonical reference-small text and the text its error must contain
// (messages that start with "hw.toml:L:C: error:" also pin the location).
struct BadValue {
  const char* table;
  const char* key;
  const char* value;
  const char* expected;
};

void expect_bad_values(std::span<const BadValue> cases) {
  for (const auto& c : cases) {
    std::string err = error_of(with_value(base_text(), c.table, c.key, c.value));
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.table << "." << c.key << " = " << c.value << "\n" << err;
  }
}

#define EXPECT_ERROR_HAS(text, needle) EXPECT_NE(error_of(text).find(needle), std::string::npos) << error_of(text)
#define EXPECT_ERROR_STARTS(text, prefix) EXPECT_EQ(error_of(text).rfind(prefix, 0), 0u) << error_of(text)

}  // namespace

// ---------------------------------------------------------------- presets, round trip, hash

TEST(ConfigPresets, EveryPresetValidRoundTripsAndHashes) {
  auto names = pc::preset_names();
  ASSERT_EQ(names.size(), 4u);
  for (const auto& n : names) {
    SCOPED_TRACE(n);
    pc::HardwareConfig c = pc::preset(n);
    EXPECT_EQ(pc::parse_config_toml(pc::to_toml(c), "rt"), c);
    EXPECT_NO_THROW(pc::validate_config(c));
    std::string h = pc::canonical_hash(c);
    EXPECT_EQ(h.size(), 16u);
    EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(h, plena::hex64(plena::fnv1a64(pc::to_toml(c))));
    EXPECT_FALSE(pc::preset_summary(n).empty());
    // The embedded source parses to the same thing as the preset.
    EXPECT_EQ(pc::parse_config_toml(pc::preset_source(n), "src"), c);
  }
  EXPECT_NE(pc::canonical_hash(pc::preset("reference-small")), pc::canonical_hash(pc::preset("tiny-fp32")));
}

TEST(ConfigPresets, PinnedCanonicalHashes) {
  // Artefacts carry these; a change here means every stored program/manifest is invalidated.
  EXPECT_EQ(pc::canonical_hash(pc::preset("reference-small")), "19a03d8ae313a247");
  EXPECT_EQ(pc::canonical_hash(pc::preset("reference-analytic")), "056d1636cf15b418");
  EXPECT_EQ(pc::canonical_hash(pc::preset("tiny-fp32")), "e46a19e97da5a228");
}

TEST(ConfigPresets, ReferenceSmallValues) {
  auto c = pc::preset("reference-small");
  EXPECT_EQ(c, pc::HardwareConfig{});  // the struct defaults are this preset
  EXPECT_EQ(c.geometry.mlen, 64u);
  EXPECT_EQ(c.geometry.blen, 4u);
  EXPECT_EQ(c.geometry.vlen, 64u);
  EXPECT_EQ(c.geometry.hlen, 16u);
  EXPECT_EQ(c.geometry.broadcast_amount, 4u);
  EXPECT_EQ(c.sram.matrix_depth, 4096u);
  EXPECT_EQ(c.matrix_tiles(), 64u);
  EXPECT_EQ(c.hbm.size_bytes, 17179869184ull);
  EXPECT_EQ(c.hbm.m_prefetch_amount, 64u);
  EXPECT_EQ(c.hbm.v_prefetch_amount, 4u);
  EXPECT_EQ(c.hbm.v_writeback_amount, 4u);
  EXPECT_EQ(c.hbm.addr_regs, 8u);
  EXPECT_EQ(c.hbm.dram, "hbm2");
  EXPECT_EQ(c.formats.m_weight.name(), "plena-hw-mxfp:fp8_e4m3:b8");
  EXPECT_EQ(c.sram.vector_type.name(), "bf16");
  EXPECT_EQ(c.compute.bmm_scale, 1.0);
  EXPECT_EQ(c.timing.mode, pc::TimingMode::InOrder);
  EXPECT_EQ(c.timing.latency_profile, pc::LatencyProfile::ReferenceEmulator);
  // dc_lib_en column of the reference TOML.
  EXPECT_EQ(c.latency.vector_add, 1u);
  EXPECT_EQ(c.latency.vector_reci, 2u);
  EXPECT_EQ(c.latency.vector_max, 4u);
  EXPECT_EQ(c.latency.vector_sum, 8u);
  EXPECT_EQ(c.latency.vector_prefix_scan, 9u);
  EXPECT_EQ(c.latency.matrix_mm, 64u);
  EXPECT_EQ(c.latency.scalar_map_v_fp, 128u);
}

TEST(ConfigPresets, ReferenceAnalyticAndTinyValues) {
  auto a = pc::preset("reference-analytic");
  EXPECT_EQ(a.geometry.mlen, 2048u);
  EXPECT_EQ(a.geometry.blen, 128u);
  EXPECT_EQ(a.geometry.vlen, 2048u);
  EXPECT_EQ(a.geometry.hlen, 128u);
  EXPECT_EQ(a.geometry.broadcast_amount, 16u);
  EXPECT_EQ(a.hbm.size_bytes, 137438953472ull);
  EXPECT_EQ(a.timing.latency_profile, pc::LatencyProfile::Analytic);
  EXPECT_EQ(a.latency.matrix_mm, 128u);               // BLEN
  EXPECT_EQ(a.latency.matrix_bmm, 16u * 16u * 128u);  // (MLEN/BLEN)^2 * BLEN
  auto t = pc::preset("tiny-fp32");
  for (const auto* f : {&t.formats.m_weight, &t.formats.m_kv, &t.formats.v_act, &t.formats.v_kv,
                        &t.sram.vector_type, &t.sram.matrix_type, &t.sram.fp_type}) {
    EXPECT_EQ(f->name(), "fp32");
  }
}

TEST(ConfigPresets, UnknownPresetListsAvailable) {
  try {
    pc::preset("reference-big");
    FAIL();
  } catch (const InputError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown hardware preset 'reference-big'"), std::string::npos) << m;
    EXPECT_NE(m.find("reference-small, reference-analytic, tiny-fp32"), std::string::npos) << m;
  }
}

TEST(ConfigHash, StableUnderOrderWhitespaceCommentsAndSpelling) {
  std::string canonical = base_text();
  // Tables and keys in another order, odd whitespace, comments, underscores, integer floats,
  // and the latency table left to the profile.
  std::string shuffled = R"(
# comment
[timing]
loop_iteration_budget=1_000_000_000
latency_profile   =   "reference-emulator"   # trailing comment
mode = "in-order"
instruction_budget = 1000000000

[compute]
clock_ghz = 1
bmm_scale = 1.0e0

[formats]
v_kv = "plena-hw-mxfp:fp8_e4m3:b8"
v_act = "plena-hw-mxfp:fp8_e4m3:b8:rne"
m_kv = "plena-hw-mxfp:fp8_e4m3:b8"
m_weight = "plena-hw-mxfp:fp8_e4m3:b8"

[hbm]
dram = "hbm2"
addr_regs = 8
v_writeback_amount = 4
v_prefetch_amount = 4
m_prefetch_amount = 64
size_bytes = 0x4_0000_0000

[sram]
fp_type = "bf16"
matrix_type = "bf16"
vector_type = "bf16"
int_depth = 1024
fp_depth = 1024
matrix_depth = 4096
vector_depth = 262_144

[latency]
vector_sum = 8   # same as the profile

[geometry]
broadcast_amount = 4
hlen = 16
vlen = 64
blen = 4
mlen = 64
)";
  auto a = pc::parse_config_toml(canonical, "a");
  auto b = pc::parse_config_toml(shuffled, "b");
  EXPECT_EQ(a, b);
  EXPECT_EQ(pc::canonical_hash(a), pc::canonical_hash(b));
  EXPECT_EQ(pc::to_toml(a), pc::to_toml(b));
  // Same config through the `base` mechanism.
  EXPECT_EQ(pc::canonical_hash(pc::parse_config_toml("base = \"reference-small\"\n", "c")), pc::canonical_hash(a));
}

TEST(ConfigHash, EveryValueChangeChangesTheHash) {
  auto ref = pc::preset("reference-small");
  std::string h0 = pc::canonical_hash(ref);
  std::vector<pc::HardwareConfig> variants(12, ref);
  variants[0].hbm.size_bytes += 64;
  variants[1].sram.fp_depth = 512;
  variants[2].compute.bmm_scale = 0.25;
  variants[3].compute.clock_ghz = 1.5;
  variants[4].timing.mode = pc::TimingMode::Decoupled;
  variants[5].latency.vector_add = 2;
  variants[6].hbm.dram = "hbm3";
  variants[7].formats.v_kv = plena::numerics::parse_format("asym-int:uint4:g64");
  variants[8].sram.vector_type = plena::numerics::parse_format("fp16");
  variants[9].timing.instruction_budget = 5;
  variants[10].hbm.addr_regs = 16;
  variants[11].timing.latency_profile = pc::LatencyProfile::Custom;
  std::set<std::string> seen{h0};
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_NO_THROW(pc::validate_config(variants[i]));
    EXPECT_EQ(pc::parse_config_toml(pc::to_toml(variants[i]), "v"), variants[i]);
    EXPECT_TRUE(seen.insert(pc::canonical_hash(variants[i])).second);
  }
}

TEST(ConfigHash, FloatsRoundTripExactly) {
  auto c = pc::preset("reference-small");
  for (double v : {0.25, 0.1, 1.0 / 3.0, 1e-7, 123456789.125, 1e20}) {
    c.compute.bmm_scale = v;
    auto back = pc::parse_config_toml(pc::to_toml(c), "f");
    EXPECT_EQ(back.compute.bmm_scale, v);
  }
}

TEST(ConfigOutput, DeterministicTomlAndJson) {
  auto c = pc::preset("reference-analytic");
  EXPECT_EQ(pc::to_toml(c), pc::to_toml(pc::preset("reference-analytic")));
  auto j = nlohmann::json::parse(pc::to_json(c));
  EXPECT_EQ(j["canonical_hash"], pc::canonical_hash(c));
  EXPECT_EQ(j["geometry"]["mlen"], 2048);
  EXPECT_EQ(j["formats"]["v_act"], "plena-hw-mxfp:fp8_e4m3:b8");
  EXPECT_EQ(j["timing"]["mode"], "decoupled");
  EXPECT_EQ(j["latency"]["matrix_bmm"], 32768);
  EXPECT_EQ(j["compute"]["bmm_scale"], 1.0);
  EXPECT_EQ(pc::to_json(c), pc::to_json(pc::preset("reference-analytic")));
}

// ---------------------------------------------------------------- unknown / missing / types

TEST(ConfigErrors, UnknownKeyInTableWithSuggestion) {
  std::string t = base_text();
  t.insert(t.find("blen = 4\n"), "mlenn = 64\n");  // line 3
  EXPECT_ERROR_STARTS(t, "hw.toml:3:1: error: unknown key geometry.mlenn (did you mean 'mlen'?); known keys in [geometry]: mlen, blen, vlen, hlen, broadcast_amount");
}

TEST(ConfigErrors, UnknownTableAndMisplacedKeys) {
  EXPECT_ERROR_STARTS("base = \"reference-small\"\n[geometery]\nmlen = 64\n",
                      "hw.toml:2:2: error: unknown key 'geometery' (did you mean [geometry]?)");
  EXPECT_ERROR_STARTS("base = \"reference-small\"\nmlen = 64\n",
                      "hw.toml:2:1: error: unknown key 'mlen' (did you mean geometry.mlen? it belongs in [geometry])");
  EXPECT_ERROR_STARTS("base = \"reference-small\"\n[geometry]\nmatrix_depth = 64\n",
                      "hw.toml:3:1: error: unknown key geometry.matrix_depth (did you mean sram.matrix_depth? it belongs in [sram])");
  // Reference (plena_settings.toml) spellings point at our keys.
  EXPECT_ERROR_HAS("base = \"reference-small\"\n[hbm]\nHBM_M_Prefetch_Amount = 64\n", "(did you mean hbm.m_prefetch_amount?)");
  EXPECT_ERROR_HAS("base = \"reference-small\"\n[latency]\nVECTOR_ADD_CYCLES = 2\n", "(did you mean 'vector_add'?)");
  // Sub-tables inside a known table are unknown keys too.
  EXPECT_ERROR_STARTS("base = \"reference-small\"\n[geometry.extra]\nx = 1\n", "hw.toml:2:11: error: unknown key geometry.extra");
  // The earliest unknown key in the file is reported.
  EXPECT_ERROR_STARTS("base = \"reference-small\"\n[sram]\nzzz = 1\n[compute]\naaa = 2\n", "hw.toml:3:1: error: unknown key sram.zzz");
}

TEST(ConfigErrors, MissingKeyAndTable) {
  EXPECT_ERROR_STARTS(without_line(base_text(), "hlen = 16"),
                      "hw.toml:1:1: error: missing key geometry.hlen (elements) in [geometry]; required keys: mlen, blen, vlen, hlen, broadcast_amount");
  std::string t = base_text();
  // Drop the whole [hbm] table.
  size_t a = t.find("[hbm]"), b = t.find("[formats]");
  t.erase(a, b - a);
  EXPECT_ERROR_STARTS(t, "hw.toml: error: missing table [hbm] (required keys: size_bytes, m_prefetch_amount, v_prefetch_amount, v_writeback_amount, addr_regs, dram)");
  EXPECT_ERROR_STARTS("", "hw.toml: error: missing table [geometry]");
}

TEST(ConfigErrors, TypeErrors) {
  const BadValue cases[] = {
      {"geometry", "mlen", "\"64\"",
       "hw.toml:2:8: error: geometry.mlen = \"64\": expected an integer (elements), got a string"},
      {"timing", "instruction_budget", "1e9",
       "timing.instruction_budget = 1000000000: expected an integer (instructions), got a float (write large integers as 1_000_000, not 1e6)"},
      {"compute", "bmm_scale", "\"0.25\"",
       "compute.bmm_scale = \"0.25\": expected a number (factor), got a string"},
      {"timing", "mode", "3",
       "timing.mode = 3: expected a string, one of \"in-order\", \"decoupled\"; got an integer"},
      {"formats", "v_act", "8",
       "formats.v_act = 8: expected a number-format string, got an integer"},
      {"hbm", "dram", "true",
       "hbm.dram = true: expected a string (DRAM preset name), got a boolean"},
  };
  expect_bad_values(cases);
  EXPECT_ERROR_STARTS("geometry = 5\n", "hw.toml:1:12: error: geometry = 5: expected a table [geometry], got an integer");
  EXPECT_ERROR_STARTS("base = 5\n", "hw.toml:1:8: error: base = 5: expected a preset name string, one of: reference-small, reference-analytic, tiny-fp32");
}

TEST(ConfigErrors, TomlSyntaxErrorIsLocated) {
  EXPECT_ERROR_STARTS("[geometry]\nmlen = = 3\n", "hw.toml:2:8: error: invalid TOML:");
  EXPECT_ERROR_STARTS("[geometry]\nmlen = 1\nmlen = 2\n", "hw.toml:3:");  // duplicate key
}

// ---------------------------------------------------------------- ranges

TEST(ConfigErrors, OutOfRange) {
  const BadValue cases[] = {
      {"geometry", "mlen", "0",
       "hw.toml:2:8: error: geometry.mlen = 0: out of range: expected an integer in [1, 65536] (elements)"},
      {"geometry", "mlen", "-64",
       "geometry.mlen = -64: out of range"},
      {"hbm", "addr_regs", "17",
       "hbm.addr_regs = 17: out of range: expected an integer in [1, 16] (registers)"},
      {"sram", "fp_depth", "0",
       "sram.fp_depth = 0: out of range"},
      {"timing", "loop_iteration_budget", "0",
       "timing.loop_iteration_budget = 0: out of range"},
      {"compute", "clock_ghz", "0.0",
       "compute.clock_ghz = 0: out of range: expected a finite number > 0 and <= 1000 (GHz)"},
      {"compute", "bmm_scale", "nan",
       "compute.bmm_scale = nan: out of range"},
      {"compute", "bmm_scale", "inf",
       "compute.bmm_scale = inf: out of range"},
      {"compute", "bmm_scale", "-0.25",
       "compute.bmm_scale = -0.25: out of range"},
      {"hbm", "dram", "\"HBM 2\"",
       "hbm.dram = \"HBM 2\": invalid DRAM preset name: expected 1-64 characters of [a-z0-9_.-]"},
      {"timing", "latency_profile", "\"fast\"",
       "timing.latency_profile = \"fast\": unknown latency profile; expected one of \"reference-emulator\", \"rtl-aligned\", \"analytic\", \"custom\""},
  };
  expect_bad_values(cases);
}

// ---------------------------------------------------------------- cross-key invariants

TEST(ConfigErrors, GeometryInvariants) {
  const BadValue cases[] = {
      {"geometry", "mlen", "48",
       "hw.toml:2:8: error: geometry.mlen = 48: MLEN must be a power of two"},
      {"geometry", "blen", "128",
       "hw.toml:3:8: error: geometry.blen = 128: MLEN (64) must be a multiple of BLEN"},
      {"geometry", "vlen", "128",
       "hw.toml:4:8: error: geometry.vlen = 128: VLEN must equal MLEN (64)"},
      {"geometry", "hlen", "2",
       "hw.toml:5:8: error: geometry.hlen = 2: expected MLEN (64) >= HLEN >= BLEN (4)"},
      {"geometry", "hlen", "128",
       "hw.toml:5:8: error: geometry.hlen = 128: expected MLEN (64) >= HLEN >= BLEN (4)"},
      {"geometry", "hlen", "24",
       "hw.toml:5:8: error: geometry.hlen = 24: HLEN must divide MLEN (64)"},
  };
  expect_bad_values(cases);
  // The issue's example message, byte for byte.
  EXPECT_EQ(error_of(with_value(base_text(), "geometry", "blen", "6")),
            "hw.toml:3:8: error: geometry.blen = 6: MLEN (64) must be a multiple of BLEN");
  EXPECT_EQ(error_of(with_value(base_text(), "geometry", "broadcast_amount", "2")),
            "hw.toml:6:20: error: geometry.broadcast_amount = 2: BROADCAST_AMOUNT * HLEN (2 * 16 = 32) must equal "
            "MLEN (64); expected broadcast_amount = 4");
}

TEST(ConfigErrors, SramAndHbmInvariants) {
  const BadValue cases[] = {
      {"sram", "matrix_depth", "100",
       "hw.toml:10:16: error: sram.matrix_depth = 100: must be a multiple of MLEN (64)"},
      {"sram", "vector_depth", "4294967295",
       "hw.toml:9:16: error: sram.vector_depth = 4294967295: vector_depth * VLEN exceeds the 32-bit element address space; expected at most 67108864 rows"},
      {"sram", "matrix_depth", "67108928",
       "hw.toml:10:16: error: sram.matrix_depth = 67108928: matrix_depth * MLEN exceeds"},
      {"hbm", "size_bytes", "1000",
       "hw.toml:18:14: error: hbm.size_bytes = 1000: must be a multiple of 64 bytes"},
      {"hbm", "m_prefetch_amount", "96",
       "hw.toml:19:21: error: hbm.m_prefetch_amount = 96: must be a multiple of MLEN (64): one H_PREFETCH_M fills whole MLEN x MLEN tiles"},
      {"hbm", "m_prefetch_amount", "8192",
       "hw.toml:19:21: error: hbm.m_prefetch_amount = 8192: exceeds sram.matrix_depth (4096 rows)"},
      {"hbm", "v_prefetch_amount", "262145",
       "hw.toml:20:21: error: hbm.v_prefetch_amount = 262145: exceeds sram.vector_depth (262144 rows)"},
      {"hbm", "v_writeback_amount", "262145",
       "hw.toml:21:22: error: hbm.v_writeback_amount = 262145: exceeds sram.vector_depth"},
  };
  expect_bad_values(cases);
  // Canonical layout: [sram] line 8 (vector_depth 9, matrix_depth 10), [hbm] line 17 (size_bytes 18,
  // m_prefetch 19, v_prefetch 20, v_writeback 21).
}

TEST(ConfigErrors, FormatRules) {
  // Rethrown numerics errors carry the location and the key.
  EXPECT_ERROR_STARTS(with_value(base_text(), "formats", "v_act", "\"mxfp9\""),
                      "hw.toml:28:9: error: formats.v_act = \"mxfp9\": invalid number format 'mxfp9'");
  EXPECT_ERROR_STARTS(with_value(base_text(), "sram", "vector_type", "\"ocp-mx:fp8_e4m3:b32\""),
                      "hw.toml:13:15: error: sram.vector_type = \"ocp-mx:fp8_e4m3:b32\": SRAM element types must be plain scalar formats");
  EXPECT_ERROR_STARTS(with_value(base_text(), "formats", "m_weight", "\"ocp-mx:fp8_e4m3:b128\""),
                      "hw.toml:26:12: error: formats.m_weight = \"ocp-mx:fp8_e4m3:b128\": block size 128 must divide MLEN (64)");
  // Sub-byte rows must still be whole bytes (MLEN = 1, fp4 elements).
  std::string one = "[geometry]\nmlen = 1\nblen = 1\nvlen = 1\nhlen = 1\nbroadcast_amount = 1\n" +
                    base_text().substr(base_text().find("[sram]"));
  one = with_value(one, "hbm", "m_prefetch_amount", "1");
  for (auto k : {"m_weight", "m_kv", "v_act", "v_kv"}) one = with_value(one, "formats", k, "\"fp8_e4m3\"");
  EXPECT_NO_THROW(pc::parse_config_toml(one, "one"));
  EXPECT_ERROR_HAS(with_value(one, "formats", "v_kv", "\"fp4_e2m1\""),
                   "formats.v_kv = \"fp4_e2m1\": a row of VLEN (1) 4-bit elements is not a whole number of bytes");
  // Asymmetric precision is accepted: sub-byte KV with fp8 weights.
  auto c = pc::parse_config_toml(with_value(base_text(), "formats", "v_kv", "\"asym-int:uint4:g64\""), "kv");
  EXPECT_EQ(c.formats.v_kv.width, 4);
}

// ---------------------------------------------------------------- latency profiles

TEST(ConfigLatency, OverrideReplacesOnlyThatEntry) {
  std::string t = "base = \"reference-small\"\n[latency]\nvector_add = 7\n";
  auto c = pc::parse_config_toml(t, "o");
  auto ref = pc::preset("reference-small");
  EXPECT_EQ(c.latency.vector_add, 7u);
  auto expect = ref.latency;
  expect.vector_add = 7;
  EXPECT_EQ(c.latency, expect);
  EXPECT_EQ(c.timing.latency_profile, pc::LatencyProfile::ReferenceEmulator);
  EXPECT_NE(pc::canonical_hash(c), pc::canonical_hash(ref));
}

TEST(ConfigLatency, ProfilesFollowGeometry) {
  pc::Geometry g{256, 16, 256, 64, 4};
  auto e = pc::profile_latency(pc::LatencyProfile::ReferenceEmulator, g);
  EXPECT_EQ(e.matrix_mm, 256u);
  EXPECT_EQ(e.scalar_map_v_fp, 512u);
  auto a = pc::profile_latency(pc::LatencyProfile::Analytic, g);
  EXPECT_EQ(a.matrix_mm, 16u);
  EXPECT_EQ(a.matrix_bmm, 16u * 16u * 16u);
  auto r = pc::profile_latency(pc::LatencyProfile::RtlAligned, g);
  EXPECT_EQ(r.matrix_mm, 3u * 16u + 11u);
  EXPECT_EQ(r.vector_add, 11u);
  EXPECT_EQ(r.scalar_fp_exp, 18u);
  EXPECT_THROW(pc::profile_latency(pc::LatencyProfile::Custom, g), InputError);
  // Changing MLEN through `base` re-resolves the profile for the new geometry.
  auto c = pc::parse_config_toml(
      "base = \"reference-small\"\n[geometry]\nmlen = 256\nvlen = 256\nhlen = 64\nblen = 16\n"
      "[hbm]\nm_prefetch_amount = 256\n",
      "g");
  EXPECT_EQ(c.latency, e);
}

TEST(ConfigLatency, CustomNeedsEveryKey) {
  auto ref = pc::preset("reference-small");
  std::string t = with_value(pc::to_toml(ref), "timing", "latency_profile", "\"custom\"");
  auto c = pc::parse_config_toml(t, "custom");  // canonical text lists every latency key
  EXPECT_EQ(c.timing.latency_profile, pc::LatencyProfile::Custom);
  EXPECT_EQ(c.latency, ref.latency);
  EXPECT_ERROR_STARTS(without_line(t, "vector_sum = 8"),
                      "hw.toml:41:1: error: missing key latency.vector_sum (cycles) in [latency]; timing.latency_profile = \"custom\" requires every [latency] key");
  EXPECT_ERROR_STARTS("base = \"reference-small\"\n[timing]\nlatency_profile = \"custom\"\n",
                      "hw.toml:3:19: error: missing key latency.systolic_overhead (cycles); timing.latency_profile = \"custom\" requires every [latency] key");
  EXPECT_ERROR_HAS(with_value(t, "latency", "vector_exp", "-1"), "latency.vector_exp = -1: out of range: expected an integer in [0, 281474976710656] (cycles)");
}

// ---------------------------------------------------------------- base presets

TEST(ConfigBase, InheritsAndOverrides) {
  auto c = pc::parse_config_toml("base = \"tiny-fp32\"\n[compute]\nbmm_scale = 0.25\n", "b");
  auto t = pc::preset("tiny-fp32");
  EXPECT_EQ(c.compute.bmm_scale, 0.25);
  c.compute.bmm_scale = t.compute.bmm_scale;
  EXPECT_EQ(c, t);
  EXPECT_ERROR_STARTS("base = \"reference-smal\"\n",
                      "hw.toml:1:8: error: base = \"reference-smal\": unknown preset; expected one of: reference-small, reference-analytic, tiny-fp32");
  // An inherited value that no longer fits names its origin and points at `base`.
  EXPECT_ERROR_STARTS("base = \"reference-small\"\n[geometry]\nmlen = 128\nvlen = 128\nhlen = 32\n",
                      "hw.toml:1:8: error: hbm.m_prefetch_amount = 64 (inherited from base preset 'reference-small'): must be a multiple of MLEN (128)");
}

// ---------------------------------------------------------------- in-code configs, resolve, files

TEST(ConfigValidate, InCodeConfigIsCheckedByTheSameRules) {
  pc::HardwareConfig c;
  c.geometry.blen = 6;
  try {
    pc::validate_config(c);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "<config>:3:8: error: geometry.blen = 6: MLEN (64) must be a multiple of BLEN");
  }
}

TEST(ConfigResolve, PresetFileInlineAndErrors) {
  EXPECT_EQ(pc::resolve_config("tiny-fp32"), pc::preset("tiny-fp32"));
  auto dir = std::filesystem::path(PLENA_BINARY_DIR) / "config_test_tmp";
  std::filesystem::create_directories(dir);
  auto file = dir / "hw.toml";
  plena::write_text_file(file, "base = \"reference-analytic\"\n[compute]\nclock_ghz = 1.5\n");
  auto f = pc::resolve_config(file.string());
  EXPECT_EQ(f.compute.clock_ghz, 1.5);
  EXPECT_EQ(pc::load_config_file(file), f);
  auto inl = pc::resolve_config("base = \"reference-analytic\"\ncompute.clock_ghz = 1.5");
  EXPECT_EQ(inl, f);
  plena::write_text_file(file, "[geometry]\nmlen = \"x\"\n");
  try {
    pc::resolve_config(file.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file.string() + ":2:8: error: geometry.mlen = \"x\"", 0), 0u) << e.what();
  }
  EXPECT_THROW(pc::load_config_file(dir / "missing.toml"), InputError);
  try {
    pc::resolve_config("no-such-thing");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a preset (reference-small, reference-analytic, tiny-fp32, paper-equivalent)"), std::string::npos);
  }
  try {
    pc::resolve_config("[geometry]\nmlen = 3");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("<inline>:", 0), 0u) << e.what();
  }
}

TEST(ConfigExamples, AllExampleConfigsValidAndFullExampleIsReferenceSmall) {
  auto dir = std::filesystem::path(PLENA_SOURCE_DIR) / "examples" / "configs";
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".toml") continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(pc::load_config_file(e.path()));
    ++n;
  }
  EXPECT_GE(n, 3);
  EXPECT_EQ(pc::canonical_hash(pc::load_config_file(dir / "reference-small-full.toml")),
            pc::canonical_hash(pc::preset("reference-small")));
}

TEST(ConfigHash, ExtremeGeometryRoundTrips) {
  // Largest legal tile with the analytic profile: M_BMM costs (65536/1)^2 * 1 = 2^32 cycles.
  // HLEN 2048: at most 32 heads (one V_MASK bit each).
  auto c = pc::parse_config_toml(
      "base = \"reference-analytic\"\n"
      "[geometry]\nmlen = 65536\nvlen = 65536\nblen = 1\nhlen = 2048\nbroadcast_amount = 32\n"
      "[sram]\nvector_depth = 65536\nmatrix_depth = 65536\n[hbm]\nm_prefetch_amount = 65536\n",
      "x");
  EXPECT_EQ(c.latency.matrix_bmm, uint64_t{1} << 32);
  EXPECT_EQ(pc::parse_config_toml(pc::to_toml(c), "rt"), c);
  EXPECT_ERROR_HAS(with_value(pc::to_toml(c), "sram", "vector_depth", "65537"), "exceeds the 32-bit element address space");
}

TEST(ConfigRobustness, RandomEditsOnlyEverThrowInputError) {
  // Deterministic byte-level mutations of a valid file: each must parse or throw a located
  // InputError naming the file, never anything else (and never crash under ASan/UBSan).
  const std::string base = pc::to_toml(pc::preset("reference-small"));
  const std::string alphabet = "0123456789abcxyz_-.=[]\"'#\n \t{},";
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string t = base;
    int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t pos = next() % t.size();
      char c = alphabet[next() % alphabet.size()];
      switch (next() % 3) {
        case 0: t[pos] = c; break;
        case 1: t.insert(t.begin() + static_cast<std::ptrdiff_t>(pos), c); break;
        default: t.erase(pos, 1); break;
      }
    }
    try {
      auto c = pc::parse_config_toml(t, "m.toml");
      EXPECT_EQ(pc::parse_config_toml(pc::to_toml(c), "rt"), c);
      ++ok;
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("m.toml", 0), 0u) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
}

// ---------------------------------------------------------------- limits shared with the simulator

TEST(ConfigLimits, UnknownDramIsRejectedWhereItIsWritten) {
  // One validation path: config check refuses what sim would refuse, with the location.
  std::string text = with_value(base_text(), "hbm", "dram", "\"hbm9\"");
  std::string err = error_of(text);
  size_t line = 1 + size_t(std::count(text.begin(), text.begin() + ptrdiff_t(text.find("dram = \"hbm9\"")), '\n'));
  EXPECT_EQ(err.rfind(fmt::format("hw.toml:{}:8: error: hbm.dram = \"hbm9\": unknown DRAM preset", line), 0), 0u) << err;
  EXPECT_NE(err.find("hbm2"), std::string::npos) << err;
  EXPECT_NO_THROW(pc::parse_config_toml(with_value(base_text(), "hbm", "dram", "\"hbm3\""), "hw.toml"));
  // A config built in code goes through the same check.
  auto c = pc::preset("tiny-fp32");
  c.hbm.dram = "nope";
  EXPECT_THROW(pc::validate_config(c), InputError);
}

TEST(ConfigLimits, AtMost32HeadsBecauseTheMaskIsOneGpRegister) {
  EXPECT_ERROR_HAS("base = \"reference-small\"\n[geometry]\nblen = 1\nhlen = 1\nbroadcast_amount = 64\n",
                   "geometry.broadcast_amount = 64: out of range: expected an integer in [1, 32]");
  EXPECT_NO_THROW(pc::parse_config_toml("base = \"reference-small\"\n[geometry]\nblen = 2\nhlen = 2\nbroadcast_amount = 32\n", "x"));
}

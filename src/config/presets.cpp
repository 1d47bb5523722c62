// Built-in presets (embedded TOML, parsed by the same validator as user files) and the
// named latency profiles. docs/config.md explains every number chosen here.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/config.hpp"
#include "support/support.hpp"

namespace plena::config {
namespace {

struct PresetDef {
  std::string_view name;
  std::string_view summary;
  std::string_view text;
};

constexpr PresetDef kPresets[] = {
    {"reference-small",
     "reference emulator defaults: MLEN 64, BLEN 4, VLEN 64, HLEN 16, MXFP8 HBM, BF16 SRAMs, in-order",
     R"toml(# reference-small: the reference emulator's TRANSACTIONAL section (plena_settings.toml).
[geometry]
mlen = 64
blen = 4
vlen = 64
hlen = 16
broadcast_amount = 4

[sram]
vector_depth = 262_144  # reference: 4_194_304 rows (512 MiB of BF16); 16 Mi elements suffice
matrix_depth = 4096     # 64 tiles of 64 x 64
fp_depth = 1024
int_depth = 1024
vector_type = "bf16"
matrix_type = "bf16"
fp_type = "bf16"

[hbm]
size_bytes = 17_179_869_184  # 16 GiB
m_prefetch_amount = 64
v_prefetch_amount = 4
v_writeback_amount = 4
addr_regs = 8
dram = "hbm2"

[formats]
m_weight = "plena-hw-mxfp:fp8_e4m3:b8"
m_kv = "plena-hw-mxfp:fp8_e4m3:b8"
v_act = "plena-hw-mxfp:fp8_e4m3:b8"
v_kv = "plena-hw-mxfp:fp8_e4m3:b8"

[compute]
bmm_scale = 1.0  # the reference emulator silently used 0.25
clock_ghz = 1.0

[timing]
mode = "in-order"  # the reference emulator serialises everything
latency_profile = "reference-emulator"
instruction_budget = 1_000_000_000
loop_iteration_budget = 1_000_000_000
)toml"},
    {"reference-analytic",
     "reference analytic-model section: MLEN 2048, BLEN 128, VLEN 2048, HLEN 128, 128 GiB HBM, decoupled",
     R"toml(# reference-analytic: the reference ANALYTIC section (plena_settings.toml).
[geometry]
mlen = 2048
blen = 128
vlen = 2048
hlen = 128
broadcast_amount = 16

[sram]
vector_depth = 65_536
matrix_depth = 4096  # reference: 256, less than one 2048 x 2048 tile; two tiles here
fp_depth = 1024
int_depth = 1024
vector_type = "bf16"
matrix_type = "bf16"
fp_type = "bf16"

[hbm]
size_bytes = 137_438_953_472  # 128 GiB
m_prefetch_amount = 2048
v_prefetch_amount = 16
v_writeback_amount = 16
addr_regs = 8
dram = "hbm2"

[formats]
m_weight = "plena-hw-mxfp:fp8_e4m3:b8"
m_kv = "plena-hw-mxfp:fp8_e4m3:b8"
v_act = "plena-hw-mxfp:fp8_e4m3:b8"
v_kv = "plena-hw-mxfp:fp8_e4m3:b8"

[compute]
bmm_scale = 1.0
clock_ghz = 1.0

[timing]
mode = "decoupled"
latency_profile = "analytic"
instruction_budget = 1_000_000_000
loop_iteration_budget = 1_000_000_000
)toml"},
    {"tiny-fp32",
     "exactness testing: MLEN 16, BLEN 4, VLEN 16, HLEN 8, fp32 everywhere (no quantisation)",
     R"toml(# tiny-fp32: small tiles and fp32 storage everywhere, so kernels can be checked exactly.
[geometry]
mlen = 16
blen = 4
vlen = 16
hlen = 8
broadcast_amount = 2

[sram]
vector_depth = 65_536
matrix_depth = 1024  # 64 tiles of 16 x 16
fp_depth = 1024
int_depth = 1024
vector_type = "fp32"
matrix_type = "fp32"
fp_type = "fp32"

[hbm]
size_bytes = 1_073_741_824  # 1 GiB
m_prefetch_amount = 16
v_prefetch_amount = 4
v_writeback_amount = 4
addr_regs = 8
dram = "hbm2"

[formats]
m_weight = "fp32"
m_kv = "fp32"
v_act = "fp32"
v_kv = "fp32"

[compute]
bmm_scale = 1.0
clock_ghz = 1.0

[timing]
mode = "in-order"
latency_profile = "reference-emulator"
instruction_budget = 1_000_000_000
loop_iteration_budget = 1_000_000_000
)toml"},
    {"paper-equivalent",
     "one of the paper's 16 PLENA devices with 4 x A100's multiply rate and HBM: MLEN 2048, BLEN 16, 1.19 GHz, "
     "509.75 GB/s, 20 GiB",
     R"toml(# paper-equivalent: one of 16 PLENA devices that together match 4 x A100-80GB (the paper's
# "identical multiplier counts and memory configurations"; derivation: docs/config.md).
# 4 x A100: 4 x 108 SMs x 4 tensor cores x 256 BF16 FMA/clock = 442,368 multipliers at 1.41 GHz
# (4 x 312 dense TFLOPS = 624 T MAC/s), 4 x 2,039 GB/s HBM2e, 4 x 80 GiB.
[geometry]
mlen = 2048  # the paper's MLEN; 2048 x 16 = 32,768 multipliers (16 x = 524,288 = 1.185 x 4 x A100:
blen = 16    # MLEN and BLEN must be powers of two, so the clock below equalises the multiply rate)
vlen = 2048
hlen = 128
broadcast_amount = 16

[sram]
vector_depth = 65_536
matrix_depth = 4096  # two 2048 x 2048 tiles, as reference-analytic
fp_depth = 1024
int_depth = 1024
vector_type = "bf16"
matrix_type = "bf16"
fp_type = "bf16"

[hbm]
size_bytes = 21_474_836_480  # 20 GiB = 4 x 80 GiB / 16
m_prefetch_amount = 2048
v_prefetch_amount = 16
v_writeback_amount = 16
addr_regs = 8
dram = "hbm2e-a100"  # 4 x 2,039 GB/s / 16 = 509.75 GB/s (one HBM2E stack at 3.982 Gbps/pin)

[formats]
m_weight = "plena-hw-mxfp:fp8_e4m3:b8"
m_kv = "plena-hw-mxfp:fp8_e4m3:b8"
v_act = "plena-hw-mxfp:fp8_e4m3:b8"
v_kv = "plena-hw-mxfp:fp8_e4m3:b8"

[compute]
bmm_scale = 1.0
clock_ghz = 1.190185546875  # 624e12 MAC/s / 16 devices / 32,768 multipliers

[timing]
mode = "decoupled"
latency_profile = "analytic"
instruction_budget = 1_000_000_000
loop_iteration_budget = 1_000_000_000
)toml"},
};

const PresetDef& find_preset(std::string_view name) {
  for (const auto& p : kPresets) {
    if (p.name == name) return p;
  }
  throw InputError(fmt::format("error: unknown hardware preset '{}'; available presets: {}", name,
                               fmt::join(preset_names(), ", ")));
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> r;
  for (const auto& p : kPresets) r.emplace_back(p.name);
  return r;
}

HardwareConfig preset(std::string_view name) {
  const PresetDef& p = find_preset(name);
  return parse_config_toml(p.text, fmt::format("preset:{}", p.name));
}

std::string_view preset_summary(std::string_view name) { return find_preset(name).summary; }
std::string_view preset_source(std::string_view name) { return find_preset(name).text; }

Latency profile_latency(LatencyProfile profile, const Geometry& g) {
  // The reference emulator's dc_lib_en column (plena_settings.toml) and its dispatch rules:
  // M_MM/M_BMM/M_MV cost MLEN, S_MAP_V_FP 2*VLEN (charged once here; the emulator charges it twice).
  Latency l;
  l.systolic_overhead = 0;
  l.matrix_mm = g.mlen;
  l.matrix_bmm = g.mlen;
  l.matrix_mv = g.mlen;
  l.matrix_bmv = 1;
  l.matrix_writeout = 1;
  l.vector_add = 1;
  l.vector_mul = 1;
  l.vector_exp = 1;
  l.vector_reci = 2;
  l.vector_max = 4;
  l.vector_sum = 8;
  l.vector_shift = 1;
  l.vector_prefix_scan = 9;
  l.scalar_fp_basic = 1;
  l.scalar_fp_exp = 1;
  l.scalar_fp_sqrt = 1;
  l.scalar_fp_reci = 1;
  l.scalar_fp_load_store = 1;
  l.scalar_map_v_fp = 2ull * g.vlen;
  l.scalar_int_basic = 1;
  l.control = 1;
  switch (profile) {
    case LatencyProfile::ReferenceEmulator: break;
    case LatencyProfile::Analytic: {
      // customISA_lib.json: M_MM = BLEN (pipelined), M_BMM = (MLEN/BLEN)^2 * BLEN.
      uint64_t r = g.mlen / g.blen;
      l.matrix_mm = g.blen;
      l.matrix_bmm = r * r * g.blen;
      break;
    }
    case LatencyProfile::RtlAligned:
      // dc_lib_dis column, with the RTL audit (nexys_a7) numbers and the "3*BLEN+11, serialized"
      // matrix cost where those exist. Provisional until calibrated against RTL.
      l.matrix_mm = 3ull * g.blen + 11;
      l.matrix_bmm = 3ull * g.blen + 11;
      l.vector_add = 11;
      l.vector_mul = 5;
      l.vector_exp = 18;
      l.vector_reci = 7;
      l.vector_sum = 20;
      l.scalar_fp_exp = 18;
      l.scalar_fp_sqrt = 2;
      l.scalar_fp_reci = 6;
      break;
    case LatencyProfile::Custom:
      throw InputError("error: latency profile 'custom' has no built-in values; every [latency] key must be given");
  }
  return l;
}

}  // namespace plena::config

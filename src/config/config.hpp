// Public header of the config module: the one hardware configuration schema (TOML), its
// validation, the built-in presets and the canonical hash that artefacts carry.
// Every key of docs/config.md maps to exactly one field below; the TOML text form is
// [geometry] [sram] [hbm] [formats] [compute] [timing] [latency].
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "dram/standards.hpp"
#include "numerics/numerics.hpp"

namespace plena::isa {
enum class Opcode : uint8_t;   // isa/isa.hpp
enum class Latency : uint8_t;  // isa/isa.hpp
}  // namespace plena::isa

namespace plena::numerics {
enum class TensorClass : uint8_t;  // numerics/hbm_tensor.hpp
}  // namespace plena::numerics

namespace plena::config {

enum class TimingMode : uint8_t {
  InOrder,    // every instruction blocks until done (the reference emulator)
  Decoupled,  // DMA / matrix / vector / scalar overlap where the scoreboard allows
};
enum class LatencyProfile : uint8_t { ReferenceEmulator, RtlAligned, Analytic, Custom };

std::string_view timing_mode_name(TimingMode m);          // "in-order" | "decoupled"
std::string_view latency_profile_name(LatencyProfile p);  // "reference-emulator" | ...

// Lengths are in elements. Invariants (checked on load): MLEN, BLEN, VLEN powers of two,
// VLEN == MLEN, MLEN % BLEN == 0, MLEN >= HLEN >= BLEN, BROADCAST_AMOUNT * HLEN == MLEN.
struct Geometry {
  uint32_t mlen = 64;             // matrix tile edge, K depth of one matmul step
  uint32_t blen = 4;              // output block edge of one M_MM
  uint32_t vlen = 64;             // vector width = one Vector SRAM row
  uint32_t hlen = 16;             // head slice width (also one vector-mask bit)
  uint32_t broadcast_amount = 4;  // heads processed in parallel by M_B* ops
  bool operator==(const Geometry&) const = default;
};

struct Sram {
  uint64_t vector_depth = 262144;  // rows of VLEN elements
  uint64_t matrix_depth = 4096;    // rows of MLEN elements (a multiple of MLEN: whole tiles)
  uint64_t fp_depth = 1024;        // scalar FP SRAM entries
  uint64_t int_depth = 1024;       // scalar INT SRAM entries (u32)
  numerics::Format vector_type = numerics::parse_format("bf16");  // plain formats only
  numerics::Format matrix_type = numerics::parse_format("bf16");
  numerics::Format fp_type = numerics::parse_format("bf16");
  bool operator==(const Sram&) const = default;
};

struct Hbm {
  uint64_t size_bytes = 17179869184ull;  // capacity (multiple of 64 B)
  uint64_t m_prefetch_amount = 64;       // MLEN-wide rows per H_PREFETCH_M (multiple of MLEN)
  uint64_t v_prefetch_amount = 4;        // VLEN rows per H_PREFETCH_V
  uint64_t v_writeback_amount = 4;       // VLEN rows per H_STORE_V
  uint32_t addr_regs = 8;                // HBM address registers a0..a(n-1)
  std::string dram = "hbm2";             // DRAM timing preset name (one of dram::preset_names())
  bool operator==(const Hbm&) const = default;
};

// HBM storage format per transfer class; `precision` is the funct1 bit of H_* instructions.
struct Formats {
  numerics::Format m_weight = numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");  // H_PREFETCH_M p=0
  numerics::Format m_kv = numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");      // H_PREFETCH_M p=1
  numerics::Format v_act = numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");     // H_PREFETCH_V/H_STORE_V p=0
  numerics::Format v_kv = numerics::parse_format("plena-hw-mxfp:fp8_e4m3:b8");      // H_PREFETCH_V/H_STORE_V p=1
  bool operator==(const Formats&) const = default;
};

struct Compute {
  double bmm_scale = 1.0;  // factor applied by M_BMM/M_BTMM (the reference emulator hid 0.25)
  double clock_ghz = 1.0;  // core clock; one cycle = 1/clock_ghz ns
  bool operator==(const Compute&) const = default;
};

struct Timing {
  TimingMode mode = TimingMode::InOrder;
  LatencyProfile latency_profile = LatencyProfile::ReferenceEmulator;
  uint64_t instruction_budget = 1000000000;     // SimFault after this many executed instructions
  uint64_t loop_iteration_budget = 1000000000;  // SimFault after this many loop back-edges in total
  bool operator==(const Timing&) const = default;
};

// Cycles per instruction class, fully resolved (profile values, then [latency] overrides).
// Which opcodes each key governs, and how (systolic_overhead is added to some): the latency
// classes table, isa/latency_classes.def, read through latency_cycles below.
// Defaults: the reference-emulator profile at MLEN=VLEN=64.
struct Latency {
  uint64_t systolic_overhead = 0;
  uint64_t matrix_mm = 64;        // M_MM, M_TMM
  uint64_t matrix_bmm = 64;       // M_BMM, M_BTMM
  uint64_t matrix_mv = 64;        // M_MV, M_TMV
  uint64_t matrix_bmv = 1;        // M_BMV, M_BTMV
  uint64_t matrix_writeout = 1;   // every *_WO
  uint64_t vector_add = 1;        // V_ADD_*, V_SUB_*
  uint64_t vector_mul = 1;        // V_MUL_*
  uint64_t vector_exp = 1;        // V_EXP_V
  uint64_t vector_reci = 2;       // V_RECI_V
  uint64_t vector_max = 4;        // V_RED_MAX, V_MAX_VF, V_MIN_VF (V_TOPK: times k)
  uint64_t vector_sum = 8;        // V_RED_SUM
  uint64_t vector_shift = 1;      // V_SHFT_V
  uint64_t vector_prefix_scan = 9;  // V_PS_V
  uint64_t scalar_fp_basic = 1;   // S_ADD/SUB/MAX/MUL_FP
  uint64_t scalar_fp_exp = 1;
  uint64_t scalar_fp_sqrt = 1;
  uint64_t scalar_fp_reci = 1;
  uint64_t scalar_fp_load_store = 1;  // S_LD_FP, S_ST_FP
  uint64_t scalar_map_v_fp = 128;     // S_MAP_V_FP (2*VLEN)
  uint64_t scalar_int_basic = 1;      // every S_*_INT including loads/stores
  uint64_t control = 1;               // C_* (loops, set-register ops, break)
  bool operator==(const Latency&) const = default;
};

// Tensor classes a memory pool can hold. Weights = TensorClass::Weight, kv = TensorClass::Kv,
// activations = everything else (activations, logits, scratch / spill).
enum class MemoryClass : uint8_t { Weights, Kv, Activations };
inline constexpr MemoryClass kMemoryClasses[] = {MemoryClass::Weights, MemoryClass::Kv, MemoryClass::Activations};
std::string_view memory_class_name(MemoryClass c);  // "weights" | "kv" | "activations"

inline constexpr size_t kMaxPools = 8;  // [memory.<pool>] tables per config at most

// One memory pool of the device, [memory.<name>] (docs/memory.md). Pools occupy consecutive
// ranges of the device's HBM address space in declaration order (pool i starts at the sum of
// the earlier capacities); each DMA is timed by the pool its address falls in.
struct MemoryPool {
  std::string name;                // [a-z0-9][a-z0-9_-]*
  std::string standard;            // data/memory/<standard>.toml
  std::string speed;               // speed grade of that standard (the parser fills the default)
  uint32_t channels = 0;           // 0: the standard's organisation
  uint64_t capacity_bytes = 0;     // > 0, a multiple of 64
  std::vector<MemoryClass> holds;  // the classes placed here; each class in exactly one pool
  std::vector<dram::FieldOverride> overrides;  // [memory.<name>.overrides], in file order
  bool operator==(const MemoryPool&) const = default;
};

struct HardwareConfig {
  Geometry geometry;
  Sram sram;
  Hbm hbm;
  Formats formats;
  Compute compute;
  Timing timing;
  Latency latency;
  // [memory.<pool>] tables. Empty: one implicit pool "hbm" (hbm.dram, hbm.size_bytes) holds
  // everything, exactly as before pools existed.
  std::vector<MemoryPool> memory;
  bool operator==(const HardwareConfig&) const = default;

  uint64_t matrix_tiles() const { return sram.matrix_depth / geometry.mlen; }
};

// The device's pools: cfg.memory, or the implicit "hbm" pool (standard/speed of the hbm.dram
// preset, capacity hbm.size_bytes, every class). Never empty.
std::vector<MemoryPool> memory_pools(const HardwareConfig& cfg);
// Index into memory_pools(cfg) of the pool holding class c.
size_t pool_index(const HardwareConfig& cfg, MemoryClass c);
MemoryClass memory_class_of(numerics::TensorClass c);
// First byte address of pool i (the sum of the earlier capacities).
uint64_t pool_base(const HardwareConfig& cfg, size_t i);
// The pool whose address range holds byte `addr`; addresses past the last pool belong to it.
size_t pool_at(const HardwareConfig& cfg, uint64_t addr);
// The DRAM timing parameters of pool i (the hbm.dram preset for the implicit pool).
dram::Params pool_params(const HardwareConfig& cfg, size_t i);

// Parsing and validation. Every failure throws plena::InputError located at the offending TOML
// node: "<name>:<line>:<col>: error: <table>.<key> = <value>: <what was wrong, what was expected>".
HardwareConfig parse_config_toml(std::string_view text, std::string_view name);
HardwareConfig load_config_file(const std::filesystem::path& path);
// Re-validates a config built in code (errors are located in its canonical text, "<config>").
void validate_config(const HardwareConfig& cfg);

// Built-in presets, defined once as embedded TOML and parsed by the same validator.
std::vector<std::string> preset_names();
HardwareConfig preset(std::string_view name);  // InputError listing the presets if unknown
std::string_view preset_summary(std::string_view name);
std::string_view preset_source(std::string_view name);  // the embedded TOML text
// A preset name, an inline TOML document (text containing '=' or '['), or a file path.
HardwareConfig resolve_config(std::string_view spec);

// The values a named profile gives for this geometry (InputError for Custom: it has none).
Latency profile_latency(LatencyProfile profile, const Geometry& geometry);

// Cycles of one execution of an instruction under cfg.latency, by the rule of its latency class
// (isa/latency_classes.def; the one mapping the simulator and the cost models share). HBM
// transfers (H_*) give 0: the DRAM model times them. V_TOPK gives the cycles per scanned logit.
// std::out_of_range for a value that is not a table opcode or class.
uint64_t latency_cycles(const HardwareConfig& cfg, isa::Opcode op);
uint64_t latency_cycles(const HardwareConfig& cfg, isa::Latency cls);
// Markdown table: each [latency] key and the opcodes it governs (embedded in docs/config.md).
std::string latency_keys_markdown();

// Canonical text: every key, fixed order, fixed number spelling. parse(to_toml(c)) == c.
std::string to_toml(const HardwareConfig& cfg);
// Same content as JSON (same order), plus "canonical_hash".
std::string to_json(const HardwareConfig& cfg);
// fnv1a64 of to_toml(cfg), 16 lowercase hex digits.
std::string canonical_hash(const HardwareConfig& cfg);

}  // namespace plena::config

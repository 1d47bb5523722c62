// Run specs for `plena sim SPEC.toml`: which program to run, on which hardware config, what to
// load into HBM and the SRAMs before the run, and what to dump afterwards. Format in
// docs/run-spec.md; a complete example in examples/sim/.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "numerics/format.hpp"

namespace plena::sim {

class Simulator;

// Values for a preload: either read from an .npy file (any numeric dtype, converted to f32 or
// u32) or given inline in the spec.
struct PreloadData {
  std::filesystem::path file;  // empty: use `values`
  std::vector<double> values;
  std::vector<size_t> shape;   // shape of the data once loaded
};

struct HbmPreload {
  std::string name;
  uint64_t base = 0;                 // byte address
  numerics::Format format;           // storage format in HBM
  uint64_t row_stride = 0;           // elements (0: cols)
  uint64_t scale_offset = 0;         // elements (0: rows*row_stride)
  std::optional<uint32_t> addr_reg;  // set a<addr_reg> = base before the run
  PreloadData data;                  // 2-D [rows, cols]; 1-D = one row
  int line = 0;                      // spec location for messages
};

enum class SramKind : uint8_t { Vram, Mram, FpSram, IntSram };

struct SramPreload {
  SramKind kind = SramKind::Vram;
  uint64_t addr = 0;  // element address (VRAM/MRAM) or entry index (FP/INT SRAM)
  PreloadData data;
  int line = 0;
};

enum class DumpKind : uint8_t { Vram, Mram, FpSram, IntSram, Hbm };

struct Dump {
  DumpKind kind = DumpKind::Vram;
  std::filesystem::path file;  // .npy output, as written (resolved inside the output folder)
  uint64_t addr = 0;           // VRAM/MRAM element address, FP/INT entry index, HBM byte base
  uint64_t rows = 1, cols = 0; // VRAM: rows of VLEN (cols = VLEN); MRAM: rows of MLEN; FP/INT: cols entries
  numerics::Format format;     // HBM dumps: stored format, decoded to f32
  uint64_t row_stride = 0, scale_offset = 0;
  int line = 0;
  int file_line = 0, file_col = 0;  // where `file` is written, for confinement errors
};

struct RunSpec {
  std::filesystem::path spec_path;   // for messages and relative paths
  std::filesystem::path program;     // .asm or .mem (or .bin)
  std::string config_name;           // preset name, file, or "<inline>"
  config::HardwareConfig hw;
  std::string expected_config_hash;  // from [program].config_hash or the program's header comment
  bool timing_only = false;
  std::vector<uint32_t> gp_init;     // optional initial gp registers (index = register)
  std::vector<uint64_t> addr_init;   // optional initial HBM address registers
  std::vector<HbmPreload> hbm;
  std::vector<SramPreload> sram;
  std::vector<Dump> dumps;
};

// Parses and validates a spec (InputError "spec.toml:line:col: error: ..." for every problem).
RunSpec load_run_spec(const std::filesystem::path& path);
RunSpec parse_run_spec(std::string_view text, const std::filesystem::path& path);

// Loads the program words (.asm assembled, .mem text, .bin little-endian words). For .asm text a
// header comment "; plena-config-hash: HEX" sets *hash_out when non-null.
std::vector<uint32_t> load_program(const std::filesystem::path& path, std::string* hash_out = nullptr);

// Applies registers and preloads to the simulator's machine (functional mode only for data).
// HBM tensors must not overlap one another (checked row by row); the host memory their pages
// take must not exceed `memory_limit` bytes (InputError stating both otherwise).
void apply_preloads(const RunSpec& spec, Simulator& sim, uint64_t memory_limit = UINT64_MAX);
// Every dump path resolved inside out_dir (InputError at the dump's `file` key when it escapes:
// '..' above it, an absolute path elsewhere, or a symlink leading out).
std::vector<std::filesystem::path> dump_paths(const RunSpec& spec, const std::filesystem::path& out_dir);
// Writes every dump as .npy under out_dir (parent folders inside it are created); returns the paths.
std::vector<std::filesystem::path> write_dumps(const RunSpec& spec, const Simulator& sim,
                                               const std::filesystem::path& out_dir);

}  // namespace plena::sim

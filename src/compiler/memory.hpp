// Memory planner (HBM placement per format, Vector/Matrix/FP/INT SRAM allocation, spill
// decisions) and the HBM layout manifest it emits. Included through compiler/compiler.hpp.
// The layout ABI is documented in docs/compiler.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "numerics/hbm_tensor.hpp"
#include "numerics/numerics.hpp"

namespace plena::model {
struct ModelConfig;
}

namespace plena::compiler {

// ---- a best-fit range allocator (units are whatever the space counts: bytes, rows, tiles, entries)
class RangeAllocator {
 public:
  struct Block {
    uint64_t offset = 0, size = 0;
  };
  // `space` and `unit` only label error messages ("VRAM", "rows").
  RangeAllocator(std::string space, std::string unit, uint64_t capacity);

  // Best fit: the smallest free range that holds `size` at a multiple of `align` (lowest offset
  // on ties), within [lo, hi) (a memory pool's window of the space). InputError naming the
  // allocation, its size and the space's free capacity when it does not fit, or when the name is
  // already allocated; size 0 is an InputError too.
  uint64_t allocate(std::string_view name, uint64_t size, uint64_t align = 1, uint64_t lo = 0,
                    uint64_t hi = UINT64_MAX);
  uint64_t largest_free_in(uint64_t lo, uint64_t hi, uint64_t align = 1) const;
  void free(std::string_view name);  // InputError if not allocated
  bool contains(std::string_view name) const { return blocks_.count(std::string(name)) != 0; }
  const Block& block(std::string_view name) const;  // InputError if not allocated
  bool fits(uint64_t size, uint64_t align = 1) const;
  uint64_t largest_free(uint64_t align = 1) const;  // the biggest size allocate() would accept

  const std::string& space() const { return space_; }
  uint64_t capacity() const { return capacity_; }
  uint64_t used() const { return used_; }
  uint64_t peak_used() const { return peak_used_; }
  uint64_t high_water() const { return high_water_; }  // highest end offset ever allocated
  const std::map<std::string, Block>& blocks() const { return blocks_; }

 private:
  std::string space_, unit_;
  uint64_t capacity_;
  std::map<uint64_t, uint64_t> free_;  // offset -> length, coalesced
  std::map<std::string, Block> blocks_;
  uint64_t used_ = 0, peak_used_ = 0, high_water_ = 0;
};

// The HBM tensor type and its layout rule are shared with the simulator (numerics/hbm_tensor.hpp).
using numerics::HbmTensor;
using numerics::TensorClass;
using numerics::hbm_layout;
using numerics::hbm_row_stride;
using numerics::parse_tensor_class;
using numerics::tensor_class_name;

struct HbmPlaceOptions {
  uint64_t align = 64;        // base alignment in bytes (rounded up to a multiple of 64)
  bool tile_align = false;    // also align to the bytes of one MLEN x MLEN tile of this format
  uint64_t row_multiple = 1;  // pad the row stride to a multiple of this many elements
};

// A tensor in Vector SRAM, VRAM activation layout [ceil(cols/VLEN), rows_alloc, VLEN]
// (column-block-major): column block b starts at base + b*rows_alloc*VLEN, row r of it at
// + r*VLEN. Addresses are VRAM element addresses.
struct VramTensor {
  std::string name;
  uint64_t rows = 0, cols = 0;
  uint64_t rows_alloc = 0;  // physical height per column block (rows padded)
  uint64_t col_blocks = 0;
  uint64_t base_row = 0;    // first VLEN row
  uint64_t vlen = 0;
  uint64_t base() const { return base_row * vlen; }
  uint64_t vram_rows() const { return col_blocks * rows_alloc; }
  uint64_t block_address(uint64_t b) const { return base() + b * rows_alloc * vlen; }
  uint64_t address(uint64_t r, uint64_t c) const { return block_address(c / vlen) + r * vlen + c % vlen; }
};
struct VramPlaceOptions {
  uint64_t row_multiple = 1;  // pad rows (e.g. to BLEN or the V prefetch amount, which overwrite whole groups)
  uint64_t align_rows = 1;    // base alignment in VLEN rows
};

struct MramBlock {
  std::string name;
  uint64_t first_tile = 0, tiles = 0, mlen = 0;
  uint64_t address() const { return first_tile * mlen * mlen; }  // MRAM element address
  uint64_t tile_address(uint64_t t) const { return (first_tile + t) * mlen * mlen; }
};

struct FpConstant {
  std::string name;
  uint64_t slot = 0;
  float value = 0;
  friend bool operator==(const FpConstant&, const FpConstant&) = default;
};
struct IntPreload {
  std::string name;
  uint64_t offset = 0;
  std::vector<uint32_t> values;
  friend bool operator==(const IntPreload&, const IntPreload&) = default;
};

enum class Residency : uint8_t { Vram, HbmStream };
struct SpillDecision {
  Residency where = Residency::Vram;
  uint64_t rows_needed = 0;     // VLEN rows the tensor needs in VRAM
  uint64_t largest_free = 0;    // largest free VRAM range in rows
  std::string reason;
};

// The HBM layout manifest (schema plena-hbm-manifest/1): what the loader writes and the
// simulator reads. No layout is inferred anywhere else.
inline constexpr std::string_view kManifestSchema = "plena-hbm-manifest/1";
// A memory pool's address range as the manifest records it (docs/memory.md); empty list: one
// implicit pool.
struct ManifestPool {
  std::string name, standard, speed;
  uint64_t base = 0, capacity = 0;
  std::vector<std::string> holds;  // "weights" | "kv" | "activations"
  friend bool operator==(const ManifestPool&, const ManifestPool&) = default;
};
struct HbmManifest {
  std::string config_hash;
  std::string config_name;
  uint64_t hbm_size = 0;
  uint64_t hbm_high_water = 0;
  uint64_t fp_sram_depth = 0;
  uint64_t int_sram_depth = 0;
  std::vector<HbmTensor> tensors;         // ascending base
  std::vector<FpConstant> fp_constants;   // ascending slot
  std::vector<IntPreload> int_preloads;   // ascending offset
  std::vector<ManifestPool> pools;        // ascending base; tensors carry "pool" when non-empty
  const HbmTensor& tensor(std::string_view name) const;  // InputError if absent
  std::string_view pool_of(const HbmTensor& t) const;    // "" without pools
  friend bool operator==(const HbmManifest&, const HbmManifest&) = default;
};
std::string manifest_to_json(const HbmManifest& m);  // pretty, deterministic
// Strict reader: unknown/missing keys, wrong types, inconsistent regions, overlaps, duplicate
// names or slots are InputError "file: error: tensors[2].scales.offset: ...".
HbmManifest manifest_from_json(std::string_view text, std::string_view filename = "<manifest>");
HbmManifest load_manifest(const std::filesystem::path& p);
void save_manifest(const std::filesystem::path& p, const HbmManifest& m);
// The FP SRAM preload image: `fp_sram_depth` values, constants at their slots, 0 elsewhere.
std::vector<float> fp_sram_image(const HbmManifest& m);
std::vector<uint32_t> int_sram_image(const HbmManifest& m);

// Everything a compiled program places in memory.
class MemoryPlan {
 public:
  MemoryPlan(const config::HardwareConfig& cfg, std::string config_name);
  const config::HardwareConfig& config() const { return cfg_; }

  // ---- HBM ----
  const HbmTensor& place_hbm(std::string_view name, TensorClass cls, std::vector<uint64_t> shape,
                             const numerics::Format& format, const HbmPlaceOptions& opt = {});
  const HbmTensor& hbm(std::string_view name) const;  // InputError if absent
  // Class of the placed tensor whose bytes hold `addr`; empty if none does.
  std::optional<TensorClass> hbm_class_at(uint64_t addr) const;
  void free_hbm(std::string_view name);
  const RangeAllocator& hbm_space() const { return hbm_; }
  // Per memory pool (config::memory_pools order): bytes in use now and at most.
  struct PoolUse {
    std::string name;
    uint64_t base = 0, capacity = 0, used = 0, peak = 0;
  };
  const std::vector<PoolUse>& pool_use() const { return pool_use_; }

  // ---- Vector SRAM (rows of VLEN) ----
  const VramTensor& alloc_vram(std::string_view name, uint64_t rows, uint64_t cols, const VramPlaceOptions& opt = {});
  const VramTensor& vram(std::string_view name) const;
  void free_vram(std::string_view name);
  const RangeAllocator& vram_space() const { return vram_; }
  // Keep a [rows, cols] tensor in VRAM if it fits the largest free range now, else stream it
  // from HBM.
  SpillDecision decide_residency(uint64_t rows, uint64_t cols, const VramPlaceOptions& opt = {}) const;

  // ---- Matrix SRAM (whole MLEN x MLEN tiles) ----
  const MramBlock& alloc_mram(std::string_view name, uint64_t tiles);
  const MramBlock& mram(std::string_view name) const;
  void free_mram(std::string_view name);
  const RangeAllocator& mram_space() const { return mram_; }

  // ---- FP SRAM: THE table of named constants (preloaded) and named scratch ranges ----
  // Defines a constant (or returns the slot of an existing one with the identical value;
  // a different value for the same name is an InputError). Values must be finite.
  uint64_t fp_constant(std::string_view name, float value);
  uint64_t fp_slot(std::string_view name) const;  // InputError naming the defined constants
  float fp_value(std::string_view name) const;
  uint64_t alloc_fp_scratch(std::string_view name, uint64_t entries);
  void free_fp_scratch(std::string_view name);
  const std::vector<FpConstant>& fp_constants() const { return fp_constants_; }
  const RangeAllocator& fp_space() const { return fp_; }

  // ---- INT SRAM ----
  uint64_t int_preload(std::string_view name, std::vector<uint32_t> values);
  uint64_t alloc_int_scratch(std::string_view name, uint64_t entries);
  void free_int_scratch(std::string_view name);
  const RangeAllocator& int_space() const { return int_; }

  HbmManifest manifest() const;

 private:
  uint64_t allocate_in_pool(std::string_view name, TensorClass cls, uint64_t bytes, uint64_t align);
  std::string pool_holds_text(size_t i) const;
  config::HardwareConfig cfg_;
  std::string config_name_, config_hash_;
  RangeAllocator hbm_, vram_, mram_, fp_, int_;
  std::map<std::string, HbmTensor> hbm_tensors_;
  std::vector<PoolUse> pool_use_;
  std::map<std::string, size_t, std::less<>> hbm_pool_;  // tensor -> pool index
  std::map<std::string, VramTensor> vram_tensors_;
  std::map<std::string, MramBlock> mram_blocks_;
  std::vector<FpConstant> fp_constants_;
  // FP SRAM slots ever handed out as scratch: a constant never takes one, because code emitted
  // earlier may still write that slot at run time, after the constant was preloaded.
  std::vector<bool> fp_scratch_touched_;
  std::vector<IntPreload> int_preloads_;
};

// The standard constants every model kernel may use: zero 0, one 1, neg_large -1e30 (a finite
// "minus infinity": -inf * 0 would be NaN on padding rows), eps = rms_norm_eps,
// inv_hidden = 1/hidden_size, attn_scale = 1/sqrt(head_dim).
void define_standard_constants(MemoryPlan& plan, const model::ModelConfig& m);

}  // namespace plena::compiler

// Public header of the analytic module: closed-form time, traffic and energy of the compiler's
// kernel schedule on a PLENA hardware config, composed into a whole-model estimate (TTFT, time
// per output token, tokens/s) over D devices, plus roofline baselines for A100 / H100 / TPU v6e.
// Every formula and assumption: docs/analytic.md. No simulation of instructions happens here;
// the only "simulation" is a DRAM micro-calibration of each distinct DMA access pattern.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "model/model.hpp"
#include "ppa/ppa.hpp"

namespace plena::compiler {
struct KernelCost;
struct CostDma;
struct KernelEntry;
struct KernelShape;
}  // namespace plena::compiler

namespace plena::analytic {

// ---------------------------------------------------------------- memory model
// One DMA transfer's HBM access pattern as the simulator's DMA engine issues it: `rows` element
// rows of `elem_row_bytes` each, `elem_stride` bytes apart, and (block formats) as many scale
// rows of `scale_row_bytes`, `scale_stride` apart, starting `scale_offset` bytes after the elements.
struct DmaPattern {
  uint64_t rows = 0;
  uint64_t elem_row_bytes = 0, elem_stride = 0;
  uint64_t scale_row_bytes = 0, scale_stride = 0, scale_offset = 0;
  bool write = false;
  uint8_t pool = 0;  // memory pool timing it (config::pool_index of the transfer's class)
  uint64_t bytes() const { return rows * (elem_row_bytes + scale_row_bytes); }
  auto operator<=>(const DmaPattern&) const = default;
};

// Streaming time of back-to-back transfers of one pattern (cycles of the core clock):
// transfer j (0-based) of a burst completes at first_cycles + j * per_transfer_cycles.
struct DmaTiming {
  double first_cycles = 0;
  double per_transfer_cycles = 0;
  double alone_cycles = 0;  // one transfer with nothing else in flight (in-order mode)
};

// Calibrated from the config's DRAM preset (dram::DramModel) once per distinct pattern and cached.
class MemoryModel {
 public:
  explicit MemoryModel(const config::HardwareConfig& cfg);
  ~MemoryModel();
  MemoryModel(MemoryModel&&) noexcept;
  MemoryModel& operator=(MemoryModel&&) noexcept;
  DmaTiming timing(const DmaPattern& p);
  double peak_GBps() const;
  double ps_per_cycle() const;
  // Achieved / peak bandwidth of a long sequential read stream (reported, documented).
  double sequential_efficiency();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Identity of pool i's DRAM timing (calibration cache key): hbm.dram for the implicit pool.
std::string pool_key(const config::HardwareConfig& cfg, size_t pool);

// Pattern of one H_PREFETCH_M of a weight/KV tensor with `cols` columns stored in format f.
DmaPattern prefetch_m_pattern(const config::HardwareConfig& cfg, const numerics::Format& f, uint64_t cols);

// ---------------------------------------------------------------- per-op estimates
enum class Bound : uint8_t { Compute, Memory, Issue };
std::string_view bound_name(Bound b);  // "compute" | "memory" | "issue"

struct OpEstimate {
  std::string name;
  double cycles = 0;         // modelled wall cycles of the op on one device
  double matrix_cycles = 0;  // busy time of each resource (sums, no overlap)
  double vector_cycles = 0;
  double dma_cycles = 0;
  double issue_cycles = 0;   // dynamic instructions (front end issues one per cycle)
  uint64_t instructions = 0;
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  std::array<double, config::kMaxPools> pool_bytes{};  // read + write bytes per memory pool
  uint64_t macs = 0;
  std::array<double, 64> per_opcode{};  // dynamic instructions by opcode value (energy: ppa::Activity)
  double link_bytes = 0;                // sent over chip-to-chip links (collectives)
  Bound bound = Bound::Compute;
  bool exact_schedule = true;  // false: approximate counts (documented), not cross-validated
  double calls = 1;            // multiplicity in the enclosing pass (layers, tokens)
};

// Any registered kernel (compiler::find_kernel) on a shape: its counted cost
// (compiler::count_kernel: the emitter run on the counting back-end, instruction counts exact)
// composed into time by the kernel's schedule class (docs/analytic.md §2).
OpEstimate estimate_op(const config::HardwareConfig& cfg, MemoryModel& mem, std::string_view kernel,
                       const compiler::KernelShape& shape);
OpEstimate estimate_counted(const config::HardwareConfig& cfg, MemoryModel& mem, const compiler::KernelEntry& kernel,
                            const compiler::KernelCost& cost);
// Shorthands: emit_linear on [rows_alloc, k] x [k, n] (chunk_tiles 0: the whole MRAM) and
// emit_flash_attention (causal, a sliding window when > 0).
OpEstimate estimate_linear(const config::HardwareConfig& cfg, MemoryModel& mem, uint64_t rows_alloc, uint64_t k,
                           uint64_t n, uint64_t chunk_tiles = 0);
OpEstimate estimate_attention(const config::HardwareConfig& cfg, MemoryModel& mem, uint64_t batch, uint64_t q_len,
                              uint64_t kv_len, uint64_t heads, uint64_t kv_heads, uint64_t head_dim,
                              uint64_t sliding_window = 0);
// What an op does for the energy model: its counted instructions, HBM and link bytes, and
// `seconds` of wall time (ppa::EnergyModel turns it into joules).
ppa::Activity op_activity(const OpEstimate& e, double seconds);
// The HBM pattern of one counted transfer.
DmaPattern cost_dma_pattern(const config::HardwareConfig& cfg, const compiler::CostDma& d);

// ---------------------------------------------------------------- model level
struct Workload {
  uint64_t prefill = 0;  // prompt tokens per sequence
  uint64_t decode = 0;   // generated tokens per sequence
  uint64_t batch = 1;
  // Prompt tokens per prefill step at most (the model compiler's max_prefill_chunk; 0: automatic).
  uint64_t prefill_chunk = 0;
};

struct Parallelism {
  uint32_t devices = 1;
  uint32_t tp = 0, pp = 0;      // both 0: the fastest tp x pp = devices split; one 0: devices / the other
  double link_GBps = 100.0;     // per-device interconnect bandwidth (assumption, configurable)
  double link_latency_us = 1.0; // per message
};

struct PhaseEstimate {
  double seconds = 0;
  uint64_t hbm_bytes = 0;  // per device
  std::vector<uint64_t> pool_bytes;  // per device, per memory pool (config::memory_pools order)
  uint64_t macs = 0;       // all devices
  // The counted events x the PPA tables (ppa::EnergyModel, docs/ppa.md), all devices.
  ppa::Energy energy;
  double energy_j = 0;     // energy.total_j()
  std::vector<OpEstimate> ops;  // one layer's ops (calls = multiplicity in the phase, per device)
};

// One step's roofs on the whole system (every device ideal and perfectly split):
//   compute roof = the model's own multiply-adds / (devices x MLEN x BLEN x clock)
//   memory roof  = bytes that must cross the HBM interface once / (devices x peak bandwidth)
// Prefill moves the weights once (the embedding table only as the prompt's gathered rows) and
// writes the prompt's K/V; decode reads the weights it uses (no embedding table) and the K/V of
// its context. docs/analytic.md §Roofline.
struct StepRoof {
  uint64_t linear_macs = 0, attention_macs = 0;  // all devices
  uint64_t weight_bytes = 0, kv_bytes = 0, embedding_bytes = 0;  // moved once, all devices
  double compute_roof_s = 0, memory_roof_s = 0;
  double achieved_s = 0;  // the estimate's step time
  uint64_t macs() const { return linear_macs + attention_macs; }
  uint64_t bytes() const { return weight_bytes + kv_bytes + embedding_bytes; }
  double roof_s() const { return compute_roof_s > memory_roof_s ? compute_roof_s : memory_roof_s; }
};
// The roofs of one step of `batch` sequences, q_len new tokens each at context kv_len (keys seen
// by the last query; the K/V of kv_len tokens is written or read once) on `devices` devices of cfg.
StepRoof step_roof(const model::ModelConfig& m, const config::HardwareConfig& cfg, uint32_t devices, uint64_t batch,
                   uint64_t q_len, uint64_t kv_len);
// Bits per element of a format in HBM, block scales included.
double hbm_format_bits(const numerics::Format& f);

struct Estimate {
  std::string model, hw;
  Workload work;
  uint32_t devices = 1, tp = 1, pp = 1;
  double link_GBps = 0, link_latency_us = 0;
  PhaseEstimate prefill;          // whole prompt (all sequences of the batch): every prefill step
  // Prompt tokens per sequence of each prefill step: the model compiler's chunk schedule
  // (compiler::ModelCompiler::prefill_schedule), one entry when the prompt fits in one step.
  std::vector<uint64_t> prefill_steps;
  PhaseEstimate decode_first;     // the first decode step (context = prefill)
  double ttft_s = 0;              // time to first token: the prefill step(s) that yield it
  double prefill_plus_first_decode_s = 0;  // the former TTFT (prefill + first decode step)
  double tpot_s = 0;              // mean over the generated tokens
  double decode_s = 0;            // all decode steps
  double tokens_per_s = 0;        // batch * decode / (prefill + decode time)
  ppa::Energy energy;             // whole request, all devices (docs/ppa.md)
  double energy_j = 0;            // energy.total_j()
  double tokens_per_j = 0;        // batch * decode / energy_j
  double average_power_w = 0;     // energy_j / (prefill + decode time)
  uint64_t hbm_bytes = 0;         // per device, whole request
  uint64_t weight_bytes_per_device = 0, kv_bytes_per_device = 0, hbm_capacity = 0;
  // Per memory pool (config::memory_pools order), one device: capacity, what lives there
  // (weights / KV by placement), HBM traffic of the whole run.
  struct Pool {
    std::string name, dram;
    uint64_t capacity = 0, resident_bytes = 0, traffic_bytes = 0;
    double peak_GBps = 0;
  };
  std::vector<Pool> pools;
  double dram_efficiency = 0;     // sequential-stream efficiency of the DRAM preset
  double peak_GBps = 0;
  StepRoof prefill_roof, decode_roof;  // decode: the first decode step
  std::vector<std::string> assumptions;
};

// InputError when weights + KV do not fit one device's HBM (message names the devices needed).
Estimate estimate(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Workload& w,
                  const Parallelism& par);
// The same on an explicit split (par.tp or par.pp set) and a memory model shared across calls
// (each DMA pattern calibrated once): what a serving simulation calls many times.
Estimate estimate(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Workload& w,
                  const Parallelism& par, MemoryModel& mem);
// One decode step (one new token) of `batch` sequences at context kv_len on the split of par,
// the KV cache sized for max_context tokens per sequence; no capacity check (footprint()).
PhaseEstimate decode_step(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Parallelism& par,
                          MemoryModel& mem, uint64_t batch, uint64_t kv_len, uint64_t max_context);
// Per-device HBM bytes: the weights, and the KV cache of `batch` sequences of ctx tokens.
struct Footprint {
  uint64_t weight_bytes = 0, kv_bytes = 0;
};
Footprint footprint(const model::ModelConfig& m, const config::HardwareConfig& cfg, const Parallelism& par,
                    uint64_t ctx, uint64_t batch);
std::string to_text(const Estimate& e);
std::string to_json(const Estimate& e);
// Per-step roofs (StepRoof) and the roofline per op for the config: arithmetic intensity (MAC per
// HBM byte), attained vs peak.
std::string roofline_text(const Estimate& e, const config::HardwareConfig& cfg);

// ---------------------------------------------------------------- baselines
// One efficiency of a baseline device: the fraction of its peak at which the baseline model
// reproduces a published measurement (or a labelled assumption where none was found).
struct Calibration {
  double efficiency = 0;
  std::string source;  // the measurement, its number and where it is published
};

struct DeviceSpec {
  std::string name;
  double peak_tflops = 0;      // dense bf16
  double hbm_GBps = 0;
  double hbm_GB = 0;
  double link_GBps = 0;        // per-device interconnect
  uint32_t default_count = 1;  // the paper's system size
  std::string source;
  Calibration compute;  // matrix work (prefill), fraction of peak_tflops
  Calibration memory;   // HBM streaming (decode), fraction of hbm_GBps
};
// Fraction of HBM a serving framework may fill with weights and KV cache (vLLM's default
// gpu_memory_utilization); the rest holds activations, workspace and the runtime.
inline constexpr double kBaselineUsableHbm = 0.9;
std::vector<DeviceSpec> baseline_devices();      // a100, h100, tpu-v6e
DeviceSpec baseline_device(std::string_view name);  // InputError listing names

struct BaselineEstimate {
  std::string name;
  uint32_t count = 1;
  bool fits = true;
  double need_GB = 0, usable_GB = 0;  // weights + KV cache (bf16) vs usable HBM of all devices
  double ttft_s = 0, tpot_s = 0, tokens_per_s = 0;  // ttft: the prefill
  double prefill_s = 0, decode_s = 0;
};
// Roofline of the same op list (bf16 weights and KV, tensor parallel over `count`).
BaselineEstimate baseline_estimate(const model::ModelConfig& m, const DeviceSpec& d, uint32_t count,
                                   const Workload& w);

// The paper's table: each (model, workload) row, throughput relative to A100 for the named
// baselines and PLENA (the config on `plena_devices` devices), the paper's number beside each,
// and per row the ops that set PLENA's prefill and decode times against their roofs.
std::string compare_table(const std::vector<std::string>& baselines, const config::HardwareConfig& cfg,
                          uint32_t plena_devices, uint64_t batch, bool json);

}  // namespace plena::analytic

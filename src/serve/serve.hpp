// Public header of the serve module: a disaggregated deployment (a prefill pool and a decode pool,
// each its own hardware config and device count, a KV hand-off link) serving a stream of requests
// (prompt / output length distributions, arrival rate). The analytic model (src/analytic) gives
// each pool's service times and energy; a deterministic event simulation of the seeded request
// stream gives queueing, TTFT, TPOT, throughput, utilisation, energy, power and cost per pool and
// for the system. File format, formulas and assumptions: docs/serving.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "model/model.hpp"

namespace plena::serve {

// A length distribution of prompt or output tokens.
struct LengthDist {
  enum class Kind { Fixed, Uniform, Points } kind = Kind::Fixed;
  uint64_t lo = 1, hi = 1;                          // fixed: lo == hi; uniform: integers in [lo, hi]
  std::vector<std::pair<uint64_t, double>> points;  // points: (tokens, weight), weights > 0
  uint64_t min() const;
  uint64_t max() const;
  double mean() const;
  // Distinct values when there are few (fixed, points), empty for uniform.
  std::vector<uint64_t> support() const;
  std::string text() const;  // "fixed 1024", "uniform [512, 2048]", "points 128 (w 3), 4096 (w 1)"
};

enum class HandoffMode { Bulk, Streamed };

struct Pool {
  std::string name;          // "prefill" | "decode"
  std::string hw;            // as written: preset name or file (+ overrides)
  config::HardwareConfig cfg;
  uint32_t devices = 1;      // per instance: one tensor x pipeline parallel group
  uint32_t tp = 0, pp = 0;   // both 0: tp = devices
  uint32_t instances = 1;    // independent replicas fed from one queue
  uint64_t max_batch = 1;    // decode: sequences per instance at most (continuous batching); prefill: 1
  double link_GBps = 100, link_latency_us = 1;  // interconnect inside an instance (all-reduces)
  double memory_usd_per_gb = -1;  // capacity price replacing the technologies' (< 0: by technology)
  uint32_t total_devices() const { return devices * instances; }
};

struct Cost {
  double usd_per_kwh = 0.10;       // electricity price
  double amortization_years = 4;   // capex written off linearly over this life, used or idle
  double pue = 1.0;                // facility overhead on the devices' energy
};

struct Deployment {
  std::string file;
  std::string model_spec;
  model::ModelConfig model;
  Pool prefill, decode;
  double handoff_GBps = 64, handoff_latency_us = 10;  // per prefill instance (one link each)
  HandoffMode handoff = HandoffMode::Bulk;
  LengthDist prompt, output;
  double arrival_rate = 1;          // requests per second
  bool poisson = true;              // exponential inter-arrival times; false: evenly spaced
  uint64_t requests = 200, seed = 1;
  Cost cost;
};

// Reads and checks a deployment file: every problem is an InputError naming the file, the line and
// what was expected. Relative hardware file paths resolve against `dir`.
Deployment load_deployment(const std::filesystem::path& file);
Deployment parse_deployment(const std::string& text, const std::string& file_name, const std::filesystem::path& dir);

struct Stats {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

struct PoolReport {
  std::string name;
  uint32_t devices = 0;          // all instances
  uint64_t max_batch = 0;        // decode: the effective bound (configured, or the HBM capacity)
  double offered_load = 0;       // arrival rate x mean work / capacity (>= 1: saturated)
  double utilisation = 0;        // busy time / (instances x span) in the simulation
  bool saturated = false;
  Stats queue_s;                 // wait before service starts
  double mean_batch = 0;         // decode: sequences per step, time-weighted
  uint64_t tokens = 0;           // prefill: prompt tokens; decode: generated tokens
  double tokens_per_s = 0;       // tokens / span
  double energy_j = 0, busy_energy_j = 0;  // all of it; while serving (idle: leakage only)
  double background_j = 0;       // DRAM background (standby + refresh) over the span, in energy_j
  double energy_per_token_j = 0, average_power_w = 0, busy_power_w = 0;
  double capex_usd = 0, usd = 0, usd_per_token = 0;  // usd: amortised capex + energy over the span
};

struct Report {
  std::string model, file;
  PoolReport prefill, decode;
  Stats ttft_s, tpot_s, e2e_s, handoff_s;
  uint64_t requests = 0, prompt_tokens = 0, output_tokens = 0;
  double span_s = 0;               // first arrival to last token
  double tokens_per_s = 0;         // output tokens / span
  double handoff_energy_j = 0;
  double energy_j = 0, energy_per_token_j = 0, tokens_per_j = 0, average_power_w = 0;
  double capex_usd = 0, usd_per_token = 0, usd_per_million_tokens = 0;
  bool saturated = false;
  std::string bottleneck;          // the pool with the larger offered load
  std::vector<std::string> assumptions;
};

// InputError when a pool cannot hold the model (names the pool and what to change).
Report simulate(const Deployment& d);
std::string to_text(const Report& r);
std::string to_json(const Report& r);

// Die cost of one device (7 nm wafer over good dies, LLMCompass constants) plus its DRAM capacity.
double device_cost_usd(double area_mm2, double memory_bytes, double usd_per_gb);
double die_cost_usd(double area_mm2);
// A device's DRAM capacity cost: every memory pool at its standard's cost per GB
// (data/memory, docs/memory.md), or at `usd_per_gb_override` when >= 0.
double memory_cost_usd(const config::HardwareConfig& cfg, double usd_per_gb_override = -1);
// A device's DRAM background power (standby + refresh): capacity x the standard's mW per GB.
double memory_background_w(const config::HardwareConfig& cfg);

}  // namespace plena::serve

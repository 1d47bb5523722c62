// Cross-validation glue (header-only on purpose): builds kernel programs with the compiler, runs
// them timing-only through the simulator and compares with the analytic estimate. plena_analytic
// itself never depends on the simulator; only consumers that link plena_sim (the CLI's
// `plena estimate --validate` and tests/analytic) include this header.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "sim/sim.hpp"

namespace plena::analytic {

struct ValidationPoint {
  std::string config;  // config preset name (plus a mode suffix)
  config::HardwareConfig cfg;
  std::string kernel = "linear";  // "linear" | "attention"
  // linear: rows, k, n, max_k_tiles; attention: batch, q_len, kv_len, heads, kv_heads, head_dim
  uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
  bool gated = true;  // counts toward the <= 5% target
};

struct ValidationResult {
  ValidationPoint point;
  std::string shape;
  uint64_t sim_cycles = 0;
  double analytic_cycles = 0;
  double error = 0;  // (analytic - sim) / sim
  uint64_t sim_instructions = 0, analytic_instructions = 0;
  double sim_seconds = 0;
};

inline config::HardwareConfig validation_config(std::string_view preset, config::TimingMode mode) {
  config::HardwareConfig c = config::preset(preset);
  c.timing.mode = mode;
  return c;
}

// The test set: linear (the exact schedule) over two geometries, both timing modes, K-split and
// multi-block shapes; attention points are reported but not gated (approximate softmax cost).
inline std::vector<ValidationPoint> default_validation_points() {
  using config::TimingMode;
  std::vector<ValidationPoint> v;
  for (TimingMode mode : {TimingMode::InOrder, TimingMode::Decoupled}) {
    const std::string suffix = mode == TimingMode::InOrder ? "/in-order" : "/decoupled";
    const auto small = validation_config("reference-small", mode);
    for (auto [r, k, n, kt] : std::vector<std::array<uint64_t, 4>>{
             {4, 256, 256, 0}, {16, 1024, 512, 0}, {64, 512, 1024, 0}, {8, 2048, 256, 8}, {32, 4096, 128, 0}})
      v.push_back({"reference-small" + suffix, small, "linear", r, k, n, kt});
    const auto big = validation_config("reference-analytic", mode);
    for (auto [r, k, n, kt] : std::vector<std::array<uint64_t, 4>>{{128, 4096, 4096, 0}, {256, 8192, 2048, 0}})
      v.push_back({"reference-analytic" + suffix, big, "linear", r, k, n, kt});
    v.push_back({"reference-small" + suffix, small, "attention", 1, 64, 256, 4, 2, 64, false});
    v.push_back({"reference-small" + suffix, small, "attention", 2, 1, 512, 8, 2, 64, false});
  }
  return v;
}

inline ValidationResult run_validation_point(const ValidationPoint& p) {
  using namespace plena::compiler;
  ValidationResult r;
  r.point = p;
  const auto& cfg = p.cfg;
  MemoryPlan plan(cfg, p.config);
  ProgramBuilder b(cfg, p.config);
  MemoryModel mem(cfg);
  OpEstimate est;
  if (p.kernel == "linear") {
    plan.place_hbm("w", TensorClass::Weight, {p.b, p.c}, cfg.formats.m_weight);
    VramPlaceOptions vo;
    vo.row_multiple = cfg.geometry.blen;
    plan.alloc_vram("x", p.a, p.b, vo);
    plan.alloc_vram("y", p.a, p.c, vo);
    LinearArgs la{.name = "linear", .weight = "w", .input = "x", .output = "y", .max_k_tiles = p.d};
    emit_linear(b, plan, la);
    const uint64_t rows_alloc = plan.vram("x").rows_alloc;
    est = estimate_linear(cfg, mem, rows_alloc, p.b, p.c, p.d);
    r.shape = fmt::format("[{}x{}]@[{}x{}]{}", p.a, p.b, p.b, p.c, p.d ? fmt::format(" k-chunk {}", p.d) : "");
  } else {
    const KvCacheLayout lay = kv_cache_layout(cfg, p.a, p.e, p.c, p.f);
    place_kv_cache(plan, "k_cache", lay);
    place_kv_cache(plan, "v_cache", lay);
    const uint64_t rows = attention_rows_alloc(cfg, p.a, p.b);
    plan.alloc_vram("q", rows, p.d * p.f);
    plan.alloc_vram("o", rows, p.d * p.f);
    AttentionArgs aa;
    aa.q = "q";
    aa.out = "o";
    aa.k_cache = "k_cache";
    aa.v_cache = "v_cache";
    aa.batch = p.a;
    aa.q_len = p.b;
    aa.kv_len = p.c;
    aa.num_heads = p.d;
    aa.num_kv_heads = p.e;
    aa.head_dim = p.f;
    emit_flash_attention(b, plan, aa);
    est = estimate_attention(cfg, mem, p.a, p.b, p.c, p.d, p.e, p.f);
    r.shape = fmt::format("b{} q{} kv{} h{}/{} d{}", p.a, p.b, p.c, p.d, p.e, p.f);
  }
  sim::SimOptions so;
  so.mode = sim::Mode::TimingOnly;
  sim::Simulator s(cfg, so);
  const auto words = b.words();
  const auto t0 = std::chrono::steady_clock::now();
  const sim::SimResult res = s.run(words);
  r.sim_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.sim_cycles = res.timing.cycles;
  r.sim_instructions = res.executed;
  r.analytic_cycles = est.cycles;
  r.analytic_instructions = est.instructions;
  r.error = (est.cycles - double(res.timing.cycles)) / double(std::max<uint64_t>(1, res.timing.cycles));
  return r;
}

inline std::string validation_report(const std::vector<ValidationResult>& rs) {
  std::string s = fmt::format("{:<30} {:<10} {:<30} {:>14} {:>14} {:>8} {:>6}\n", "config", "kernel", "shape",
                              "sim cycles", "analytic", "error", "gated");
  double worst = 0;
  for (const auto& r : rs) {
    s += fmt::format("{:<30} {:<10} {:<30} {:>14} {:>14.0f} {:>7.2f}% {:>6}\n", r.point.config, r.point.kernel, r.shape,
                     r.sim_cycles, r.analytic_cycles, 100 * r.error, r.point.gated ? "yes" : "no");
    if (r.point.gated) worst = std::max(worst, std::fabs(r.error));
  }
  s += fmt::format("worst gated |error| {:.2f}% (target <= 5%)\n", 100 * worst);
  return s;
}

}  // namespace plena::analytic

// The checker: assemble, preload fresh-seed inputs at the task's placement, run on the
// functional + timing simulator under the instruction / wall budgets while watching every write,
// compare the outputs with the host golden, and the baselines it measures against.
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "bench/ops.hpp"
#include "isa/isa.hpp"
#include "sim/sim.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::bench {

using detail::Tensors;

std::string_view status_name(Status s) {
  switch (s) {
    case Status::Pass: return "pass";
    case Status::Mismatch: return "mismatch";
    case Status::SyntaxError: return "syntax_error";
    case Status::Fault: return "fault";
    case Status::BudgetExceeded: return "budget_exceeded";
    case Status::OutOfRegionWrite: return "out_of_region_write";
  }
  return "?";
}

uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

uint64_t instruction_size(std::string_view asm_text, std::string_view asm_name) {
  return isa::assemble(asm_text, asm_name).words.size();
}

namespace {

// Stopped runs: raised from the observer, caught by run_kernel.
struct Stop {
  Status status;
  std::string message;
};

// Uniform values in [-range, range] from (seed, tensor name): splitmix64.
std::vector<float> draw(uint64_t seed, const std::string& name, size_t n, double range) {
  uint64_t s = seed ^ fnv1a64(name);
  std::vector<float> v(n);
  for (auto& x : v) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x = float(range * (double(z >> 11) / double(1ull << 53) * 2.0 - 1.0));
  }
  return v;
}

// A placed cell: the plan (HBM tensor layouts) and the recorded specs.
struct Placed {
  compiler::MemoryPlan plan;
  std::vector<TensorSpec> specs;
};
Placed place(const Task& task, const TaskConfig& cfg) {
  if (cfg.tensors.empty())
    throw InputError(fmt::format("bench: {} {}: the task's placement is not yet available", task.id, cfg.id));
  Placed p{compiler::MemoryPlan(cfg.hardware, "bench"), {}};
  detail::Placer placer(p.plan);
  detail::find_op(task.op)->place(placer, cfg);
  p.specs = std::move(placer.specs());
  return p;
}

uint64_t vram_extent(const TensorSpec& t, uint64_t vlen) { return ceil_div(t.cols, vlen) * t.rows_alloc * vlen; }

void write_vram_tensor(sim::Machine& m, const TensorSpec& t, const std::vector<float>& data) {
  const uint64_t vlen = m.config().geometry.vlen;
  std::vector<float> row(vlen);
  for (uint64_t blk = 0; blk * vlen < t.cols; ++blk)
    for (uint64_t r = 0; r < t.rows_alloc; ++r) {
      for (uint64_t c = 0; c < vlen; ++c) {
        const uint64_t col = blk * vlen + c;
        row[c] = (r < t.rows && col < t.cols) ? data[r * t.cols + col] : 0.f;
      }
      m.write_vram(t.address + (blk * t.rows_alloc + r) * vlen, row);
    }
}
std::vector<float> read_vram_tensor(const sim::Machine& m, const TensorSpec& t) {
  const uint64_t vlen = m.config().geometry.vlen;
  std::vector<float> out(t.rows * t.cols);
  for (uint64_t blk = 0; blk * vlen < t.cols; ++blk)
    for (uint64_t r = 0; r < t.rows; ++r) {
      const auto row = m.read_vram(t.address + (blk * t.rows_alloc + r) * vlen, vlen);
      for (uint64_t c = 0; c < vlen && blk * vlen + c < t.cols; ++c) out[r * t.cols + blk * vlen + c] = row[c];
    }
  return out;
}
// Writes whole padded rows (zeros past cols, so MX blocks see defined values); returns the values
// as decoded back from HBM [rows, cols].
std::vector<float> write_hbm(sim::Machine& m, const numerics::HbmTensor& h, const std::vector<float>& data) {
  numerics::HbmTensor full = h;
  full.cols = h.stride();
  std::vector<float> padded(h.rows * full.cols, 0.f);
  for (uint64_t r = 0; r < h.rows; ++r)
    std::copy_n(data.begin() + long(r * h.cols), h.cols, padded.begin() + long(r * full.cols));
  sim::write_hbm_tensor(m.hbm(), full, padded);
  const auto back = sim::read_hbm_tensor(m.hbm(), full);
  std::vector<float> out(h.rows * h.cols);
  for (uint64_t r = 0; r < h.rows; ++r)
    std::copy_n(back.begin() + long(r * full.cols), h.cols, out.begin() + long(r * h.cols));
  return out;
}

// Preloads FP constants, inputs and constants; returns them as stored (what the golden reads).
Tensors preload(sim::Machine& m, const TaskConfig& cfg, const Placed& p, uint64_t seed) {
  for (const auto& k : cfg.fp_constants) m.write_fpsram(k.slot, std::vector<float>{k.value});
  Tensors io;
  for (const auto& t : p.specs) {
    if (t.role == Role::Output) continue;
    const auto data = t.role == Role::Input ? draw(seed, t.name, t.rows * t.cols, t.value_range)
                                            : detail::constant_data(cfg, t);
    if (t.region == Region::Vram) {
      write_vram_tensor(m, t, data);
      io[t.name] = read_vram_tensor(m, t);
    } else {
      io[t.name] = write_hbm(m, p.plan.hbm(t.name), data);
    }
  }
  return io;
}

// Watches every write: inputs and constants are read-only, HBM writable only inside outputs;
// also enforces the wall-clock budget.
struct Watch {
  struct Span {
    std::string name;
    uint64_t lo, hi;
  };
  std::vector<Span> vram_ro, hbm_rw;
  double wall_seconds = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  uint64_t executed = 0;

  void operator()(const sim::Effects& e, uint32_t pc) {
    ++executed;
    for (uint8_t i = 0; i < e.n_writes; ++i) {
      const auto& w = e.writes[i];
      if (w.space != sim::Space::Vram) continue;
      for (const auto& s : vram_ro)
        if (w.lo < s.hi && s.lo < w.hi)
          throw Stop{Status::OutOfRegionWrite,
                     fmt::format("pc {}: {} writes VRAM [{}, {}) inside read-only tensor '{}' [{}, {})", pc,
                                 isa::mnemonic(e.op), w.lo, w.hi, s.name, s.lo, s.hi)};
    }
    for (uint8_t i = 0; i < e.n_hbm; ++i) {
      const auto& h = e.hbm[i];
      if (!h.write || h.rows == 0) continue;
      const uint64_t lo = h.base, hi = h.base + (h.rows - 1) * h.stride + h.bytes;
      bool inside = false;
      for (const auto& s : hbm_rw) inside |= lo >= s.lo && hi <= s.hi;
      if (!inside)
        throw Stop{Status::OutOfRegionWrite, fmt::format("pc {}: {} writes HBM bytes [{}, {}) outside every output tensor",
                                                         pc, isa::mnemonic(e.op), lo, hi)};
    }
    if (wall_seconds > 0 && (executed & 4095) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > wall_seconds)
      throw Stop{Status::BudgetExceeded, fmt::format("wall-time budget of {:g} s exceeded after {} instructions (pc {})",
                                                     wall_seconds, executed, pc)};
  }
};

Watch make_watch(const TaskConfig& cfg, const Placed& p, double wall) {
  Watch w;
  w.wall_seconds = wall;
  for (const auto& t : p.specs) {
    if (t.region == Region::Vram && t.role != Role::Output)
      w.vram_ro.push_back({t.name, t.address, t.address + vram_extent(t, cfg.hardware.geometry.vlen)});
    if (t.region == Region::Hbm && t.role == Role::Output)
      w.hbm_rw.push_back({t.name, t.address, t.address + p.plan.hbm(t.name).bytes()});
  }
  return w;
}

struct RunOutcome {
  Status status = Status::Pass;
  std::string message;
  uint64_t executed = 0, cycles = 0;
  Tensors io;  // inputs/constants as stored, then outputs as read back
};

RunOutcome run_kernel(const Task& task, const TaskConfig& cfg, std::span<const uint32_t> words, uint64_t seed,
                      uint64_t budget, double wall) {
  const Placed p = place(task, cfg);
  config::HardwareConfig hw = cfg.hardware;
  hw.timing.instruction_budget = budget;
  hw.timing.loop_iteration_budget = budget;
  auto watch = std::make_shared<Watch>(make_watch(cfg, p, wall));
  sim::SimOptions so;
  so.observer = [watch](const sim::Effects& e, uint32_t pc) { (*watch)(e, pc); };
  sim::Simulator sim(hw, so);
  RunOutcome out;
  out.io = preload(sim.machine(), cfg, p, seed);
  try {
    const sim::SimResult r = sim.run(words);
    out.executed = r.executed;
    out.cycles = r.timing.cycles;
  } catch (const Stop& s) {
    out.status = s.status;
    out.message = s.message;
  } catch (const SimFault& e) {
    const std::string what = e.what();
    out.status = what.find("budget") != std::string::npos ? Status::BudgetExceeded : Status::Fault;
    out.message = what;
  }
  if (out.status != Status::Pass) {
    out.executed = watch->executed;
    return out;
  }
  for (const auto& t : p.specs)
    if (t.role == Role::Output)
      out.io[t.name + "@got"] = t.region == Region::Vram ? read_vram_tensor(sim.machine(), t)
                                                         : sim::read_hbm_tensor(sim.machine().hbm(), p.plan.hbm(t.name));
  return out;
}

bool element_ok(const Tolerance& tol, float got, float want) {
  if (tol.exact) {
    uint32_t a, b;
    std::memcpy(&a, &got, 4);
    std::memcpy(&b, &want, 4);
    return a == b || (std::isnan(got) && std::isnan(want));
  }
  const double d = std::fabs(double(got) - double(want));
  return d <= tol.abs + tol.rel * std::fabs(double(want));  // NaN fails
}

void compare(CheckResult& r, const TaskConfig& cfg, const std::string& name, const std::vector<float>& got,
             const std::vector<float>& want, uint64_t rows, uint64_t cols) {
  for (uint64_t row = 0; row < rows; ++row) {
    RowError e{.tensor = name, .row = row, .elements = cols};
    double sum_sq = 0, sum = 0;
    for (uint64_t c = 0; c < cols; ++c) {
      const float g = got[row * cols + c], w = want[row * cols + c];
      const double d = double(g) - double(w);
      e.mismatches += !element_ok(cfg.tolerance, g, w);
      sum_sq += d * d;
      sum += d;
      e.max_abs = std::max(e.max_abs, std::isnan(d) ? INFINITY : std::fabs(d));
    }
    e.mse = cols ? sum_sq / double(cols) : 0;
    e.mean_diff = cols ? sum / double(cols) : 0;
    r.elements += e.elements;
    r.mismatches += e.mismatches;
    r.max_abs = std::max(r.max_abs, e.max_abs);
    r.rows.push_back(e);
  }
}

}  // namespace

CheckResult check(const Task& task, const TaskConfig& cfg, std::string_view asm_text, uint64_t seed,
                  const CheckOptions& opts, std::string_view asm_name) {
  CheckResult r;
  r.task = task.id;
  r.config = cfg.id;
  r.task_version = task.version;
  r.seed = seed;
  isa::Program prog;
  try {
    prog = isa::assemble(asm_text, asm_name);
  } catch (const InputError& e) {
    r.status = Status::SyntaxError;
    r.message = e.what();
    return r;
  }
  r.static_instructions = prog.words.size();
  RunOutcome run = run_kernel(task, cfg, prog.words, seed, opts.instruction_budget ? opts.instruction_budget : cfg.instruction_budget,
                              opts.wall_seconds);
  r.dynamic_instructions = run.executed;
  r.cycles = run.cycles;
  if (run.status != Status::Pass) {
    r.status = run.status;
    r.message = run.message;
    return r;
  }
  Tensors want = run.io;
  detail::find_op(task.op)->golden(cfg, want);
  for (const auto& t : cfg.tensors)
    if (t.role == Role::Output) compare(r, cfg, t.name, run.io.at(t.name + "@got"), want.at(t.name), t.rows, t.cols);
  r.mismatch_share = r.elements ? double(r.mismatches) / double(r.elements) : 0;
  r.status = r.mismatches ? Status::Mismatch : Status::Pass;
  r.message = r.mismatches ? fmt::format("{:.1f}% of elements do not match ({} of {}; tolerance {})", 100 * r.mismatch_share,
                                         r.mismatches, r.elements, cfg.tolerance.text())
                           : fmt::format("All elements match the reference. 100% of {} elements match ({})", r.elements,
                                         cfg.tolerance.text());
  if (opts.with_baseline) {
    try {
      r.baseline_cycles = baseline_cycles(task, cfg);
    } catch (const InputError&) {
      r.baseline_cycles = 0;  // no baseline for this cell (yet)
    }
    if (r.passed() && r.baseline_cycles && r.cycles) r.speedup = double(r.baseline_cycles) / double(r.cycles);
  }
  return r;
}

// ---- baselines ----

namespace {
compiler::ProgramBuilder emit_baseline(const Task& task, const TaskConfig& cfg) {
  TaskConfig copy = cfg;
  compiler::ProgramBuilder b(cfg.hardware, "bench");
  detail::layout_and_emit(*detail::find_op(task.op), copy, b, false);
  return b;
}
}  // namespace

std::string baseline(const Task& task, const TaskConfig& cfg) {
  const std::string head = fmt::format("; plena bench baseline: task {} (v{}) configuration {} — the compiler's kernel\n",
                                       task.id, task.version, cfg.id);
  return head + emit_baseline(task, cfg).assembly();
}

uint64_t baseline_cycles(const Task& task, const TaskConfig& cfg) {
  static std::mutex mu;
  static std::map<std::string, uint64_t> memo;
  const std::string key = fmt::format("{}/v{}/{}/{}", task.id, task.version, cfg.id, config::canonical_hash(cfg.hardware));
  {
    std::lock_guard lock(mu);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
  }
  const auto words = emit_baseline(task, cfg).words();
  sim::SimOptions so;
  so.mode = sim::Mode::TimingOnly;  // timing does not depend on data
  sim::Simulator sim(cfg.hardware, so);
  const uint64_t cycles = sim.run(words).timing.cycles;
  std::lock_guard lock(mu);
  memo[key] = cycles;
  return cycles;
}

}  // namespace plena::bench

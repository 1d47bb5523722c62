// M_MM/M_TMM/M_MM_WO: whatever kernel the host gets (exec_matrix.cpp: AVX-512, AVX2 or portable
// clones, 4-, 8- or 16-lane tiles), every preset must give the bits of the defined order (each
// M_MM's dot products summed from 0 over k ascending, then added to acc_m; M_MM_WO rounds to the
// vector SRAM type), checked against a scalar model on randomized programs.
#include <fmt/format.h>

#include "test_exec_util.hpp"

namespace plena::sim::test {
namespace {

struct MmOp {
  bool wo = false, transposed = false;
  uint64_t maddr = 0, vaddr = 0;  // M_MM/M_TMM
  uint64_t out = 0, stride = 1;   // M_MM_WO
};

// Small SRAMs in the preset's geometry: 4 MRAM tiles (1 above MLEN 256), 16*BLEN VRAM rows (at least 64).
config::HardwareConfig small_srams(config::HardwareConfig cfg) {
  cfg.sram.matrix_depth = (cfg.geometry.mlen > 256 ? 1 : 4) * cfg.geometry.mlen;
  cfg.sram.vector_depth = std::max<uint64_t>(64, 16 * cfg.geometry.blen);
  cfg.timing.instruction_budget = 1u << 20;
  return cfg;
}

struct Lcg {
  uint32_t s;
  uint32_t next(uint32_t n) {
    s = s * 1664525u + 1013904223u;
    return (s >> 8) % n;
  }
};

// Runs of 1..max_run M_MM/M_TMM, each closed by an M_MM_WO; all within 8*BLEN VRAM rows, so
// write-outs often overwrite the activations of later runs.
std::vector<MmOp> random_ops(const config::HardwareConfig& cfg, uint32_t seed, int runs, int max_run) {
  const config::Geometry& g = cfg.geometry;
  const uint32_t tiles = uint32_t(cfg.sram.matrix_depth / g.mlen);
  uint64_t vram_rows = cfg.sram.vector_depth;
  Lcg r{seed};
  const uint64_t L = g.mlen, B = g.blen;
  vram_rows = std::min<uint64_t>(vram_rows, 8 * B);
  std::vector<MmOp> ops;
  for (int run = 0; run < runs; ++run) {
    int n = 1 + int(r.next(uint32_t(max_run)));
    for (int i = 0; i < n; ++i) {
      MmOp o;
      o.transposed = r.next(4) == 0;
      o.maddr = r.next(tiles) * L * L + r.next(uint32_t(L / B)) * B * L;
      o.vaddr = r.next(uint32_t(vram_rows - B + 1)) * L;
      ops.push_back(o);
    }
    MmOp wo;
    wo.wo = true;
    wo.stride = 1 + r.next(2);
    wo.out = r.next(uint32_t(vram_rows - (B - 1) * wo.stride)) * L + r.next(uint32_t(L / B)) * B;
    ops.push_back(wo);
  }
  return ops;
}

// gp1 = matrix address, gp2 = activation address (S_LUI_INT + S_ADDI_INT), with a scalar op on
// another register in between so the look-ahead has to replay it.
std::string to_asm(const std::vector<MmOp>& ops) {
  std::string p;
  auto load = [&](unsigned reg, uint64_t v) {
    p += fmt::format("S_LUI_INT gp{0}, {1}\nS_ADDI_INT gp{0}, gp{0}, {2}\nS_MUL_INT gp5, gp{0}, gp{0}\n", reg, v >> 12,
                     v & 0xFFF);
  };
  for (const MmOp& o : ops) {
    if (o.wo) {
      load(3, o.out);
      load(4, o.stride);
      p += "M_MM_WO gp3, gp4, 0\n";
      continue;
    }
    load(1, o.maddr);
    load(2, o.vaddr);
    p += o.transposed ? "M_TMM 0, gp2, gp1\n" : "M_MM 0, gp1, gp2\n";
  }
  return p;
}

// The defined semantics, one output at a time in plain scalar code.
void model(const config::Geometry& g, const Rounder& round, std::vector<float>& vram, const std::vector<float>& mram,
           const std::vector<MmOp>& ops, std::vector<float>& acc) {
  const uint64_t L = g.mlen, B = g.blen, V = g.vlen;
  for (const MmOp& o : ops) {
    if (o.wo) {
      for (uint64_t i = 0; i < B; ++i)
        for (uint64_t j = 0; j < B; ++j) vram[o.out + i * V * o.stride + j] = round(acc[i * B + j]);
      std::fill(acc.begin(), acc.end(), 0.f);
      continue;
    }
    const uint64_t base = o.maddr - o.maddr % (L * L), col = o.maddr % (L * L) / L;
    for (uint64_t i = 0; i < B; ++i)
      for (uint64_t j = 0; j < B; ++j) {
        float s = 0.f;
        for (uint64_t k = 0; k < L; ++k) {
          const float w = o.transposed ? mram[base + (col + j) * L + k] : mram[base + k * L + col + j];
          const float prod = vram[o.vaddr + i * L + k] * w;
          s += prod;
        }
        acc[i * B + j] += s;
      }
  }
}

void preload(Machine& m, uint32_t seed) {
  // Mixed magnitudes, so a reordered or fused sum would round differently.
  auto v = randv(m.vram_elems(), seed), w = randv(m.mram_elems(), seed + 1);
  for (size_t i = 0; i < v.size(); i += 7) v[i] *= 1024.f;
  for (size_t i = 0; i < w.size(); i += 5) w[i] *= 1.0f / 4096.f;
  m.write_vram(0, v);
  m.write_mram(0, w);
}

SimOptions functional_only() {
  SimOptions o;
  o.use_timing_model = false;
  return o;
}

// Every preset, and MLEN 256 / BLEN 16 (the 16-lane tiles without the cost of MLEN 2048).
std::vector<std::pair<std::string, config::HardwareConfig>> geometries() {
  std::vector<std::pair<std::string, config::HardwareConfig>> out;
  for (const std::string& name : config::preset_names()) out.emplace_back(name, config::preset(name));
  auto mid = config::preset("reference-small");
  mid.geometry.mlen = mid.geometry.vlen = 256;
  mid.geometry.blen = mid.geometry.hlen = 16;
  mid.geometry.broadcast_amount = 16;
  mid.hbm.m_prefetch_amount = 256;
  out.emplace_back("mlen 256 blen 16", mid);
  return out;
}

TEST(ExecMatrixRuns, EveryGeometryMatchesTheScalarModelBitForBit) {
  for (auto& [name, preset] : geometries()) {
    SCOPED_TRACE(name);
    auto cfg = small_srams(preset);
    config::validate_config(cfg);
    const auto& g = cfg.geometry;
    const bool big = g.mlen > 256;  // the scalar model is slow at MLEN 2048
    auto ops = random_ops(cfg, 7, big ? 2 : 24, big ? 2 : 12);
    Simulator sim(cfg, functional_only());
    preload(sim.machine(), 3);
    auto vram = sim.machine().read_vram(0, sim.machine().vram_elems());
    auto mram = sim.machine().read_mram(0, sim.machine().mram_elems());
    std::vector<float> acc(size_t(g.blen) * g.blen, 0.f);
    model(g, sim.machine().vector_round(), vram, mram, ops, acc);
    sim.run(isa::assemble(to_asm(ops), "runs.asm").words);
    EXPECT_TRUE(bits_equal(sim.machine().read_vram(0, vram.size()), vram));
  }
}

}  // namespace
}  // namespace plena::sim::test

// ---- deferred M_MM/M_TMM runs (MatrixQueue) against one-instruction-at-a-time execution ----
namespace plena::sim::test {
namespace {

// A random straight-line program: runs of M_MM/M_TMM (longer than the queue, broken by scalar
// ops, by V_ADD_VV rewriting activation rows later products read, by M_MV/M_MV_WO on the other
// accumulator), M_MM_WO that land on activation rows, and a trailing run without M_MM_WO.
std::string mixed_program(const config::HardwareConfig& cfg, uint32_t seed, int segments) {
  const config::Geometry& g = cfg.geometry;
  const uint64_t L = g.mlen, B = g.blen, tiles = cfg.sram.matrix_depth / g.mlen;
  const uint64_t rows = std::min<uint64_t>(cfg.sram.vector_depth, 8 * B);
  Lcg r{seed};
  std::string p;
  auto load = [&](unsigned reg, uint64_t v) {
    p += fmt::format("S_LUI_INT gp{0}, {1}\nS_ADDI_INT gp{0}, gp{0}, {2}\n", reg, v >> 12, v & 0xFFF);
  };
  auto mm = [&] {
    load(1, r.next(uint32_t(tiles)) * L * L + r.next(uint32_t(L / B)) * B * L);
    load(2, r.next(uint32_t(rows - B + 1)) * L);
    p += r.next(4) == 0 ? "M_TMM 0, gp2, gp1\n" : "M_MM 0, gp1, gp2\n";
  };
  for (int s = 0; s < segments; ++s) {
    const int n = 1 + int(r.next(s % 5 == 0 ? 40 : 9));  // sometimes past MatrixQueue::kCap
    for (int i = 0; i < n; ++i) {
      mm();
      switch (r.next(8)) {
        case 0:  // rewrites a VRAM row that later products may read
          load(6, r.next(uint32_t(rows)) * L);
          p += "V_ADD_VV gp6, gp6, gp2, 0\n";
          break;
        case 1:  // the vector accumulator in the middle of a run
          load(7, r.next(uint32_t(rows)) * L + r.next(uint32_t(L / B)) * B);
          p += "M_MV 0, gp1, gp2\nM_MV_WO gp7, 0\n";
          break;
        case 2: p += "S_MUL_INT gp5, gp1, gp2\nS_ADD_FP f1, f1, f2\n"; break;
        default: break;
      }
    }
    if (s + 1 == segments) break;  // the last run stays in acc_m
    load(3, r.next(uint32_t(rows - B + 1)) * L + r.next(uint32_t(L / B)) * B);
    p += "M_MM_WO gp3, gp0, 0\n";
  }
  return p;
}

// One execute() per instruction: no run loop, so nothing is deferred.
void step_through(Machine& m, std::span<const uint32_t> words) {
  std::vector<isa::Instr> prog;
  for (uint32_t w : words) prog.push_back(*isa::try_decode(w));
  m.set_program(prog);
  for (uint32_t pc = 0; pc < prog.size(); pc = m.next_pc) execute(m, prog[pc], pc);
}

struct Outcome {
  std::vector<float> vram, acc_m, acc_v;
};
Outcome outcome(const Machine& m) { return {m.read_vram(0, m.vram_elems()), m.acc_m, m.acc_v}; }

TEST(ExecMatrixRuns, DeferredRunsMatchSteppedExecutionInEveryGeometry) {
  for (auto& [name, preset] : geometries()) {
    SCOPED_TRACE(name);
    auto cfg = small_srams(preset);
    config::validate_config(cfg);
    const bool big = cfg.geometry.mlen > 256;
    const auto words = isa::assemble(mixed_program(cfg, 11, big ? 3 : 30), "mixed.asm").words;

    Machine stepped(cfg);
    preload(stepped, 5);
    step_through(stepped, words);
    const Outcome want = outcome(stepped);

    Simulator lean(cfg, functional_only());  // deferred products, integer ops without execute()
    preload(lean.machine(), 5);
    const uint64_t executed = lean.run(words).executed;
    const Outcome got = outcome(lean.machine());
    EXPECT_TRUE(bits_equal(got.vram, want.vram));
    EXPECT_TRUE(bits_equal(got.acc_m, want.acc_m));  // the trailing run was flushed at the end
    EXPECT_TRUE(bits_equal(got.acc_v, want.acc_v));

    SimOptions observed;  // timing model and observer: every instruction through execute()
    uint64_t seen = 0;
    observed.observer = [&](const Effects&, uint32_t) { ++seen; };
    Simulator timed(cfg, observed);
    preload(timed.machine(), 5);
    timed.run(words);
    EXPECT_EQ(seen, executed);
    EXPECT_TRUE(bits_equal(timed.machine().read_vram(0, want.vram.size()), want.vram));
    EXPECT_TRUE(bits_equal(timed.machine().acc_m, want.acc_m));
  }
}

// A second run of the same words reuses the decoded program; new words are decoded afresh.
TEST(ExecMatrixRuns, RerunAndChangedProgramGiveTheSteppedResults) {
  auto cfg = small_srams(config::preset("reference-small"));
  const auto a = isa::assemble(mixed_program(cfg, 21, 6), "a.asm").words;
  auto b = a;
  b.resize(b.size() / 2);  // a different program of the same prefix
  Machine stepped(cfg);
  preload(stepped, 9);
  step_through(stepped, a);
  step_through(stepped, a);
  step_through(stepped, b);
  Simulator sim(cfg, functional_only());
  preload(sim.machine(), 9);
  sim.run(a);
  sim.run(a);
  sim.run(b);
  EXPECT_TRUE(bits_equal(sim.machine().read_vram(0, sim.machine().vram_elems()),
                         stepped.read_vram(0, stepped.vram_elems())));
  EXPECT_TRUE(bits_equal(sim.machine().acc_m, stepped.acc_m));
}

// Weights packed for an MRAM address are not reused after H_PREFETCH_M rewrites the tile, nor in
// the next run after the host rewrites MRAM.
TEST(ExecMatrixRuns, RewrittenWeightsAreReadAgain) {
  for (auto& [name, preset] : geometries()) {
    SCOPED_TRACE(name);
    auto cfg = small_srams(preset);
    if (cfg.geometry.mlen > 256) continue;
    const uint64_t L = cfg.geometry.mlen, B = cfg.geometry.blen;
    const std::string p = fmt::format(R"(
      S_ADDI_INT gp1, gp0, {0}
      S_ADDI_INT gp2, gp0, {1}
      S_ADDI_INT gp3, gp0, {2}
      M_MM 0, gp1, gp0
      M_TMM 0, gp0, gp1
      M_MM_WO gp2, gp0, 0
      H_PREFETCH_M gp0, gp0, a0, 0, 0
      M_MM 0, gp1, gp0
      M_TMM 0, gp0, gp1
      M_MM_WO gp3, gp0, 0
    )", B * L, 4 * B * L, 4 * B * L + B);
    const auto words = isa::assemble(p, "rewrite.asm").words;
    std::vector<uint8_t> hbm(1 << 16);
    Lcg r{17};
    for (uint8_t& b : hbm) b = uint8_t(r.next(256));
    Machine stepped(cfg);
    Simulator sim(cfg, functional_only());
    for (Machine* m : {&stepped, &sim.machine()}) {
      preload(*m, 6);
      m->hbm().write(0, hbm);
    }
    step_through(stepped, words);
    sim.run(words);
    stepped.write_mram(0, randv(L * L, 8));
    sim.machine().write_mram(0, randv(L * L, 8));
    step_through(stepped, words);
    sim.run(words);
    EXPECT_TRUE(bits_equal(sim.machine().read_vram(0, sim.machine().vram_elems()),
                           stepped.read_vram(0, stepped.vram_elems())));
  }
}

// A fault leaves acc_m with every product before the faulting instruction.
TEST(ExecMatrixRuns, FaultAfterDeferredProductsLeavesThemInTheAccumulator) {
  for (auto& [name, preset] : geometries()) {
    SCOPED_TRACE(name);
    auto cfg = small_srams(preset);
    if (cfg.geometry.mlen > 256) continue;
    const std::string ok = "M_MM 0, gp0, gp0\nS_ADDI_INT gp2, gp0, " + std::to_string(cfg.geometry.mlen) +
                           "\nM_MM 0, gp0, gp2\nM_TMM 0, gp2, gp0\n";
    const auto words = isa::assemble(ok + "S_LUI_INT gp1, 200000\nM_MM 0, gp1, gp0\n", "fault.asm").words;
    Machine stepped(cfg);
    preload(stepped, 4);
    step_through(stepped, isa::assemble(ok, "ok.asm").words);
    Simulator sim(cfg, functional_only());
    preload(sim.machine(), 4);
    EXPECT_THROW(sim.run(words), SimFault);
    EXPECT_TRUE(bits_equal(sim.machine().acc_m, stepped.acc_m));
  }
}

// The lean run loop (no timing model, no observer) queues and drains M_MM/M_TMM/M_MM_WO without
// execute(); whatever one of its checks rejects must still fault as execute() does, after the
// products before it.
TEST(ExecMatrixRuns, LeanRunsFaultWithTheSteppedMessage) {
  auto cfg = small_srams(config::preset("reference-small"));
  const uint64_t L = cfg.geometry.mlen, B = cfg.geometry.blen, V = cfg.geometry.vlen;
  const uint64_t vram = cfg.sram.vector_depth * V, mram = cfg.sram.matrix_depth * L;
  const std::string ok = fmt::format("S_ADDI_INT gp2, gp0, {}\nM_MM 0, gp0, gp2\nM_TMM 0, gp2, gp0\n", L);
  auto set = [](unsigned reg, uint64_t v) {
    return fmt::format("S_LUI_INT gp{0}, {1}\nS_ADDI_INT gp{0}, gp{0}, {2}\n", reg, v >> 12, v & 0xFFF);
  };
  const std::vector<std::string> bad = {
      set(1, L + 1) + "M_MM 0, gp1, gp0\n",                // not col*MLEN
      set(1, L * (B + 1)) + "M_MM 0, gp1, gp0\n",          // col not a multiple of BLEN
      set(1, mram) + "M_TMM 0, gp0, gp1\n",                // past the Matrix SRAM
      set(1, L / 2) + "M_MM 0, gp0, gp1\n",                // activation not row-aligned
      set(1, vram - L) + "M_MM 0, gp0, gp1\n",             // activation rows past VRAM
      set(3, V - B + 1) + "M_MM_WO gp3, gp0, 0\n",         // BLEN values past the row
      set(3, vram - 2 * V) + "M_MM_WO gp3, gp0, 0\n",      // rows past VRAM
      set(3, 0) + set(4, 32) + "M_MM_WO gp3, gp4, 0\n",    // stride past VRAM
  };
  for (const std::string& tail : bad) {
    SCOPED_TRACE(tail);
    const auto words = isa::assemble(ok + tail, "fault.asm").words;
    Machine stepped(cfg);
    preload(stepped, 4);
    std::string want;
    try {
      step_through(stepped, words);
    } catch (const SimFault& f) {
      want = f.what();
    }
    ASSERT_FALSE(want.empty());
    Simulator sim(cfg, functional_only());
    preload(sim.machine(), 4);
    try {
      sim.run(words);
      ADD_FAILURE() << "no fault";
    } catch (const SimFault& f) {
      EXPECT_EQ(std::string(f.what()), want);
    }
    EXPECT_TRUE(bits_equal(sim.machine().acc_m, stepped.acc_m));
  }
}

}  // namespace
}  // namespace plena::sim::test

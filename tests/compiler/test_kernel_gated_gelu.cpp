// The gated-GELU kernel (T5 v1.1 feed-forward, gelu_tanh(gate) * up) through the simulator:
// bit for bit against the staged golden (the GELU activation's staged sequence, then `* up`
// rounded to the vector type), close to the double-based host reference, padding rows and
// columns handled; and its registry entry, counted exactly by the counting back-end.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernel_harness_vector.hpp"
#include "compiler/kernel_registry.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;
using namespace plena::test::kv;

namespace {

const Geo kTinyF32{16, 4, "fp32", "fp32"};
const Geo kTinyBf16{16, 4, "bf16", "fp32"};
const Geo kRefBf16{64, 4, "bf16", "plena-hw-mxfp:fp8_e4m3:b8"};
constexpr float kGarbage = 7.5f;

// Same op order and rounding as emit_gated_gelu: the GELU activation's staged value, then * up.
std::vector<float> staged_gated_gelu(const golden::Rounding& r, const std::vector<float>& gate,
                                     const std::vector<float>& up) {
  std::vector<float> y = golden::staged_activation(r, Activation::Gelu, gate);
  for (size_t i = 0; i < y.size(); ++i) y[i] = r.v(y[i] * up[i]);
  return y;
}

// Host reference: gelu_tanh(gate) (in double, golden::gelu_tanh_ref) * up, in double.
std::vector<float> host_gated_gelu(const std::vector<float>& gate, const std::vector<float>& up) {
  std::vector<float> y(gate.size());
  for (size_t i = 0; i < y.size(); ++i) y[i] = float(double(golden::gelu_tanh_ref(gate[i])) * double(up[i]));
  return y;
}

// Fills every padding row and padding column of a placed VRAM tensor with kGarbage.
void garbage_padding(Rig& r, const std::string& name) {
  const VramTensor t = r.plan.vram(name);
  r.preloads.push_back([t](sim::Machine& m) {
    for (uint64_t blk = 0; blk < t.col_blocks; ++blk)
      for (uint64_t row = 0; row < t.rows_alloc; ++row) {
        std::vector<float> v = m.read_vram(t.block_address(blk) + row * t.vlen, t.vlen);
        for (uint64_t c = 0; c < t.vlen; ++c)
          if (row >= t.rows || blk * t.vlen + c >= t.cols) v[c] = kGarbage;
        m.write_vram(t.block_address(blk) + row * t.vlen, v);
      }
  });
}

struct Outcome {
  size_t mismatches = 0;  // elements not bit-equal to the staged golden
  double max_abs = 0, max_rel = 0;
};

// gate, up and the output with different rows_alloc (the row walk must skip each one's own
// padding rows); output padding columns start as garbage and must end 0, padding rows untouched.
Outcome check_gated_gelu(const Geo& g, size_t rows, size_t cols, bool in_place) {
  SCOPED_TRACE(tag(g, rows, cols) + (in_place ? " in place" : ""));
  Rig r(make_config(g));
  auto gate = r.put_vram("gate", rows, cols, randv(rows * cols, 61 + cols, 5.0f), 4);
  auto up = r.put_vram("up", rows, cols, randv(rows * cols, 62 + rows, 2.0f, 0.25f), 8);
  const std::string out = in_place ? "gate" : "y";
  if (!in_place) r.put_vram("y", rows, cols, randv(rows * cols, 63, 3.0f), 2);
  garbage_padding(r, out);
  emit_gated_gelu(r.b, r.plan, {.gate = "gate", .up = "up", .output = out});
  EXPECT_EQ(r.b.regs().live_gp(), 0);
  EXPECT_EQ(r.b.regs().live_fp(), 0);
  r.run();
  const auto got = r.get_vram(out);

  Outcome o;
  const auto staged = staged_gated_gelu(r.rnd, gate, up);
  EXPECT_TRUE(bits_equal(got, staged));
  for (size_t i = 0; i < got.size(); ++i) o.mismatches += bits(got[i]) != bits(staged[i]);
  const auto ref = host_gated_gelu(gate, up);
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(ref[i]));
    o.max_abs = std::max(o.max_abs, d);
    o.max_rel = std::max(o.max_rel, d / (std::fabs(double(ref[i])) + 0.02));
  }
  // The GELU activation's bound (2e-6 relative, floor 0.01; bf16 floor 0.1) scaled by |up| <= 2.25,
  // plus the rounding of the product.
  const bool f32 = g.sram == "fp32";
  expect_close(got, ref, f32 ? 3e-6 : 3.0 / 128, f32 ? 0.02 : 0.25, "gated gelu vs host reference");
  // gelu(up) * gate is clearly different: guards the operand order.
  EXPECT_LT(compare(got, host_gated_gelu(up, gate)).cosine, 0.99);

  const VramTensor t = r.plan.vram(out);
  for (uint64_t blk = 0; blk < t.col_blocks; ++blk)
    for (uint64_t row = 0; row < t.rows_alloc; ++row) {
      const auto v = r.sim->machine().read_vram(t.block_address(blk) + row * t.vlen, t.vlen);
      for (uint64_t c = 0; c < t.vlen; ++c) {
        if (row >= t.rows) {
          EXPECT_EQ(v[c], kGarbage) << "padding row " << row << " written";
        } else if (blk * t.vlen + c >= t.cols) {
          EXPECT_EQ(v[c], 0.f) << "padding column " << blk * t.vlen + c;
        }
      }
    }
  return o;
}

}  // namespace

TEST(KernelGatedGelu, TinyFp32BitExactAndClose) {
  // cols: partial last block (40, 7), whole blocks (16, 48); rows below, at and past rows_alloc steps.
  const std::vector<std::array<size_t, 2>> shapes{{3, 40}, {5, 16}, {1, 7}, {6, 48}, {9, 33}};
  Outcome worst;
  for (auto [rows, cols] : shapes)
    for (bool in_place : {false, true}) {
      const Outcome o = check_gated_gelu(kTinyF32, rows, cols, in_place);
      worst.mismatches += o.mismatches;
      worst.max_abs = std::max(worst.max_abs, o.max_abs);
      worst.max_rel = std::max(worst.max_rel, o.max_rel);
    }
  EXPECT_EQ(worst.mismatches, 0u);
  RecordProperty("max_abs_vs_host", fmt::format("{:.3g}", worst.max_abs));
  RecordProperty("max_rel_vs_host", fmt::format("{:.3g}", worst.max_rel));
  std::printf("gated_gelu tiny-fp32 vs host: max abs %.3g, max rel (floor 0.02) %.3g\n", worst.max_abs,
              worst.max_rel);
}

TEST(KernelGatedGelu, Bf16BitExactStaged) {
  check_gated_gelu(kTinyBf16, 4, 40, false);
  check_gated_gelu(kRefBf16, 3, 100, true);
}

// Differs from the plain GELU activation exactly by the `* up`: with up = 1 the kernel gives
// emit_activation's GELU bit for bit.
TEST(KernelGatedGelu, WithUpOneEqualsGeluActivation) {
  const size_t rows = 3, cols = 40;
  auto x = randv(rows * cols, 71, 6.0f);
  Rig a(make_config(kTinyF32)), g(make_config(kTinyF32));
  a.put_vram("x", rows, cols, x);
  a.alloc_vram("y", rows, cols);
  emit_activation(a.b, a.plan, {.kind = Activation::Gelu, .input = "x", .output = "y"});
  a.run();
  g.put_vram("gate", rows, cols, x);
  g.put_vram("up", rows, cols, std::vector<float>(rows * cols, 1.0f));
  emit_gated_gelu(g.b, g.plan, {.gate = "gate", .up = "up", .output = "gate"});
  g.run();
  EXPECT_TRUE(bits_equal(g.get_vram("gate"), a.get_vram("y")));
}

TEST(KernelGatedGelu, ShapeMismatchNamesKernelAndRole) {
  Rig r(make_config(kTinyF32));
  r.alloc_vram("gate", 3, 40);
  r.alloc_vram("up", 3, 48);
  try {
    emit_gated_gelu(r.b, r.plan, {.name = "ffn.gated_gelu", .gate = "gate", .up = "up", .output = "gate"});
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("ffn.gated_gelu"), std::string::npos) << m;
    EXPECT_NE(m.find("up 'up' is [3, 48], expected [3, 40]"), std::string::npos) << m;
  }
}

// Hardware loops: the static program does not grow with rows; unrolled gives the same values.
TEST(KernelGatedGelu, HardwareLoopsMatchUnrolled) {
  std::vector<float> outs[2];
  size_t sizes[2];
  for (int u = 0; u < 2; ++u) {
    Rig r(make_config(kTinyF32));
    r.b.set_loop_policy(u ? LoopPolicy::unroll() : LoopPolicy::hardware());
    // 24 rows: the row loop's body holds four rows (vk::for_rows unrolls them).
    r.put_vram("gate", 24, 40, randv(24 * 40, 81, 4.0f), 4);
    r.put_vram("up", 24, 40, randv(24 * 40, 82, 2.0f), 4);
    emit_gated_gelu(r.b, r.plan, {.gate = "gate", .up = "up", .output = "up"});
    r.run();
    outs[u] = r.get_vram("up");
    sizes[u] = r.b.size();
  }
  EXPECT_TRUE(bits_equal(outs[1], outs[0]));
  EXPECT_LT(sizes[0] * 3, sizes[1]);
}

// The registry entry: the analytic model's count of the kernel (its emitter run on the counting
// back-end) equals what the simulator executes for the emitted program.
TEST(KernelGatedGelu, RegistryEntryCountedExactly) {
  const KernelEntry& e = find_kernel("gated_gelu");
  EXPECT_EQ(e.name, "gated_gelu");
  for (const char* preset : {"reference-small", "tiny-fp32"}) {
    const config::HardwareConfig cfg = config::preset(preset);
    const uint64_t blen = cfg.geometry.blen;
    for (auto [rows, cols] : std::vector<std::array<uint64_t, 2>>{{5, 520}, {32, 2048}, {1, 7}}) {
      SCOPED_TRACE(fmt::format("{} rows {} cols {}", preset, rows, cols));
      KernelShape s;
      s.set("rows", rows).set("rows_alloc", (rows + blen - 1) / blen * blen).set("cols", cols);
      MemoryPlan p1(cfg, "t"), p2(cfg, "t");
      ProgramBuilder real(cfg, "t");
      e.emit_standalone(real, p1, s);
      ProgramBuilder counting = ProgramBuilder::counting(cfg, "t");
      e.emit_standalone(counting, p2, s);
      sim::SimOptions so;
      so.mode = sim::Mode::TimingOnly;
      sim::Simulator sim(cfg, so);
      const sim::SimResult r = sim.run(real.words());
      EXPECT_EQ(counting.cost().instructions(), r.executed);
      // 10 vector ops per row and column block, plus setup.
      EXPECT_GE(r.executed, 10 * rows * ((cols + cfg.geometry.vlen - 1) / cfg.geometry.vlen));
    }
  }
}

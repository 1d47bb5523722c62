// Shared rig of the vector-kernel tests: configs for a geometry, a plan + builder, preloads in
// the VRAM activation layout / HBM manifest layout, a functional simulator run, read-back and
// error metrics.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compiler/compiler.hpp"
#include "compiler/kernels_vector.hpp"
#include "staged_golden_vector.hpp"
#include "config/config.hpp"
#include "numerics/numerics.hpp"
#include "model/model.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::test::kv {

using namespace plena::compiler;

struct Geo {
  uint32_t mlen = 16, blen = 4;
  std::string sram = "fp32";               // vector/matrix/fp SRAM type
  std::string hbm = "fp32";                // all four HBM formats
  uint64_t v_prefetch = 4, m_prefetch = 0;  // m_prefetch 0: MLEN
};

inline config::HardwareConfig make_config(const Geo& g) {
  const uint32_t hlen = std::max<uint32_t>(g.blen, std::min<uint32_t>(g.mlen, 16));
  const uint64_t vdepth = std::max<uint64_t>(2048, (uint64_t(1) << 24) / g.mlen);  // calloc: untouched pages stay virtual
  const uint64_t mdepth = uint64_t(g.mlen) * 8;
  const uint64_t mpf = g.m_prefetch ? g.m_prefetch : g.mlen;
  std::string toml = fmt::format(
      "base = \"tiny-fp32\"\n[geometry]\nmlen = {0}\nvlen = {0}\nblen = {1}\nhlen = {2}\nbroadcast_amount = {3}\n"
      "[sram]\nvector_depth = {4}\nmatrix_depth = {5}\nfp_depth = 1024\nint_depth = 64\n"
      "vector_type = \"{6}\"\nmatrix_type = \"{6}\"\nfp_type = \"{6}\"\n"
      "[hbm]\nsize_bytes = 268435456\nm_prefetch_amount = {7}\nv_prefetch_amount = {8}\nv_writeback_amount = 4\n"
      "[formats]\nm_weight = \"{9}\"\nm_kv = \"{9}\"\nv_act = \"{9}\"\nv_kv = \"{9}\"\n",
      g.mlen, g.blen, hlen, g.mlen / hlen, vdepth, mdepth, g.sram, mpf, g.v_prefetch, g.hbm);
  return config::parse_config_toml(toml, "kernel-test");
}

inline std::string geo_name(const Geo& g) {
  return fmt::format("m{}b{}_{}_{}_pf{}", g.mlen, g.blen, g.sram, g.hbm, g.v_prefetch);
}

// Deterministic pseudo-random values in [-scale, scale] (splitmix64).
inline std::vector<float> randv(size_t n, uint64_t seed, float scale = 1.0f, float offset = 0.0f) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : v) {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x = offset + scale * float(double(z >> 11) / double(1ull << 53) * 2.0 - 1.0);
  }
  return v;
}

inline uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

inline ::testing::AssertionResult bits_equal(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  size_t diffs = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (bits(got[i]) != bits(want[i]) && !(std::isnan(got[i]) && std::isnan(want[i]))) {
      if (!diffs) first = i;
      ++diffs;
    }
  if (!diffs) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diffs << " of " << got.size() << " differ; first at " << first << ": got "
                                       << got[first] << " want " << want[first];
}

struct Metrics {
  double max_abs = 0, mean_abs = 0, max_rel = 0, cosine = 0, energy_ratio = 0, ref_energy = 0;
  size_t nonzero = 0;
};
// `rel_floor` keeps the relative error of tiny reference values meaningful.
inline Metrics compare(const std::vector<float>& got, const std::vector<float>& ref, double rel_floor = 1e-3) {
  Metrics m;
  double dot = 0, eg = 0, er = 0, sum = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = ref[i], d = std::fabs(a - b);
    m.max_abs = std::max(m.max_abs, d);
    m.max_rel = std::max(m.max_rel, d / std::max(std::fabs(b), rel_floor));
    sum += d;
    dot += a * b;
    eg += a * a;
    er += b * b;
    if (a != 0) ++m.nonzero;
  }
  m.mean_abs = got.empty() ? 0 : sum / double(got.size());
  m.cosine = (eg > 0 && er > 0) ? dot / std::sqrt(eg * er) : 0;
  m.energy_ratio = er > 0 ? eg / er : 0;
  m.ref_energy = er;
  return m;
}

// Non-triviality: output not all zeros, energy within `tol` of the reference's, cosine ~ 1.
inline void expect_nontrivial(const Metrics& m, double tol = 0.03) {
  EXPECT_GT(m.nonzero, 0u);
  EXPECT_GT(m.ref_energy, 0.0);
  EXPECT_NEAR(m.energy_ratio, 1.0, tol);
}

inline bool large_tests() {
  const char* e = std::getenv("PLENA_LARGE_TESTS");
  return e && std::string(e) == "1";
}

// A plan + builder + simulator preloads for one kernel test.
struct Rig {
  config::HardwareConfig cfg;
  MemoryPlan plan;
  ProgramBuilder b;
  golden::Rounding rnd;
  std::vector<std::function<void(sim::Machine&)>> preloads;
  std::unique_ptr<sim::Simulator> sim;
  sim::SimResult result;

  explicit Rig(const config::HardwareConfig& c) : cfg(c), plan(c, "kernel-test"), b(c, "kernel-test"), rnd(c) {}
  uint64_t vlen() const { return cfg.geometry.vlen; }

  // Allocates a VRAM tensor [rows, cols] and preloads row-major data (rounded to the VRAM type
  // by the machine); padding columns get `pad`, padded rows 0. Returns the values as stored.
  std::vector<float> put_vram(const std::string& name, size_t rows, size_t cols, const std::vector<float>& data,
                              uint64_t row_multiple = 1, float pad = 0.f) {
    VramPlaceOptions o;
    o.row_multiple = row_multiple;
    plan.alloc_vram(name, rows, cols, o);
    return load_vram(name, data, pad);
  }
  // Preloads an already placed VRAM tensor (row-major [rows, cols]); returns the stored values.
  std::vector<float> load_vram(const std::string& name, const std::vector<float>& data, float pad = 0.f) {
    const VramTensor t = plan.vram(name);
    std::vector<float> stored(data.size());
    for (size_t i = 0; i < data.size(); ++i) stored[i] = rnd.v(data[i]);
    preloads.push_back([t, data, pad](sim::Machine& m) {
      const uint64_t v = t.vlen;
      for (uint64_t blk = 0; blk < t.col_blocks; ++blk)
        for (uint64_t r = 0; r < t.rows_alloc; ++r) {
          std::vector<float> row(v, 0.f);
          for (uint64_t c = 0; c < v; ++c) {
            const uint64_t col = blk * v + c;
            if (r < t.rows) row[c] = col < t.cols ? data[r * t.cols + col] : pad;
          }
          m.write_vram(t.block_address(blk) + r * v, row);
        }
    });
    return stored;
  }
  // Allocates an output tensor without data.
  void alloc_vram(const std::string& name, size_t rows, size_t cols, uint64_t row_multiple = 1) {
    VramPlaceOptions o;
    o.row_multiple = row_multiple;
    plan.alloc_vram(name, rows, cols, o);
  }
  // Places an HBM tensor [rows, cols] (row stride padded to `row_multiple`, padding 0) and
  // preloads it. Returns the values as decoded from HBM (what a DMA delivers before SRAM rounding).
  std::vector<float> put_hbm(const std::string& name, size_t rows, size_t cols, const std::vector<float>& data,
                             const numerics::Format& f, uint64_t row_multiple = 1, TensorClass cls = TensorClass::Activation) {
    HbmPlaceOptions o;
    o.row_multiple = row_multiple;
    plan.place_hbm(name, cls, {rows, cols}, f, o);
    return load_hbm(name, data);
  }
  // Preloads an already placed HBM tensor; returns the decoded values [rows, cols].
  std::vector<float> load_hbm(const std::string& name, const std::vector<float>& data) {
    const HbmTensor& h = plan.hbm(name);
    const size_t rows = h.rows, cols = h.cols;
    HbmTensor st = h;  // whole padded rows
    st.cols = h.row_stride;
    std::vector<float> padded(rows * h.row_stride, 0.f);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) padded[r * h.row_stride + c] = data[r * cols + c];
    // Decode through a scratch store to learn the quantised values.
    sim::HbmStore scratch((h.base + h.bytes() + 127) / 64 * 64);
    sim::write_hbm_tensor(scratch, st, padded);
    std::vector<float> dec = sim::read_hbm_tensor(scratch, st);
    std::vector<float> out(rows * cols);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) out[r * cols + c] = dec[r * h.row_stride + c];
    preloads.push_back([st, padded](sim::Machine& m) { sim::write_hbm_tensor(m.hbm(), st, padded); });
    return out;
  }

  void run() {
    sim::SimOptions o;
    o.use_timing_model = false;
    o.expected_config_hash = b.config_hash();
    sim = std::make_unique<sim::Simulator>(cfg, o);
    sim::Machine& m = sim->machine();
    auto img = fp_sram_image(plan.manifest());
    m.write_fpsram(0, img);
    for (auto& p : preloads) p(m);
    auto words = b.words();
    result = sim->run(words);
    // The listing must assemble to the same words (one source of truth for the program).
    isa::Program p = isa::assemble(b.assembly(), "kernel.asm");
    EXPECT_EQ(p.words, words);
  }

  // Real rows x cols of a VRAM tensor, row-major.
  std::vector<float> get_vram(const std::string& name) const { return get_vram(name, false); }
  // With pad = true: every column block's full VLEN width for the real rows ([rows, blocks*VLEN]).
  std::vector<float> get_vram(const std::string& name, bool pad) const {
    const VramTensor t = plan.vram(name);
    const uint64_t v = t.vlen, w = pad ? t.col_blocks * v : t.cols;
    std::vector<float> out(t.rows * w);
    for (uint64_t r = 0; r < t.rows; ++r)
      for (uint64_t blk = 0; blk < t.col_blocks; ++blk) {
        auto row = sim->machine().read_vram(t.block_address(blk) + r * v, v);
        for (uint64_t c = 0; c < v; ++c)
          if (blk * v + c < w) out[r * w + blk * v + c] = row[c];
      }
    return out;
  }
};

}  // namespace plena::test::kv

// ================= parameterised checks (shared by the fast tests and the large matrix) =================

namespace plena::test::kv {

// Tolerance of the hardware result against the fp32 host reference: near-exact for fp32 SRAMs
// (a few f32 ulps: summation order and sqrt/reci vs 1/sqrt differ), a few bf16 ulps otherwise.
inline double ref_rtol(const Geo& g) { return g.sram == "fp32" ? 1e-5 : 3.0 / 128; }

// |got - ref| <= rtol * (|ref| + atol_scale) for every element, plus non-triviality.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& ref, double rtol, double atol_scale,
                         const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(double(got[i]) - ref[i]) <= rtol * (std::fabs(double(ref[i])) + atol_scale))) {
      if (!bad) first = i;
      ++bad;
    }
  Metrics m = compare(got, ref);
  EXPECT_EQ(bad, 0u) << what << ": first bad element " << first << " got " << got[first] << " ref " << ref[first]
                     << " (max abs " << m.max_abs << ", mean abs " << m.mean_abs << ", cosine " << m.cosine << ")";
  expect_nontrivial(m);
  EXPECT_GT(m.cosine, rtol < 1e-4 ? 0.9999999 : 0.999) << what;
}

inline std::string tag(const Geo& g, size_t rows, size_t cols) { return fmt::format("{} rows {} cols {}", geo_name(g), rows, cols); }

// ---- RMSNorm ----
inline void check_rmsnorm(const Geo& g, size_t rows, size_t cols, bool weight_in_hbm, bool in_place = false) {
  SCOPED_TRACE(tag(g, rows, cols));
  Rig r(make_config(g));
  r.plan.fp_constant("eps", 1e-5f);
  auto x = r.put_vram("x", rows, cols, randv(rows * cols, 11 + cols, 2.0f, 0.3f), 4);
  std::vector<float> w;
  if (weight_in_hbm) {
    auto raw = randv(cols, 12, 0.2f, 1.0f);
    w = r.put_hbm("w", 1, cols, raw, r.cfg.formats.v_act, r.vlen());
    for (auto& v : w) v = r.rnd.v(v);  // DMA rounds to the VRAM type
  } else {
    w = r.put_vram("w", 1, cols, randv(cols, 12, 0.2f, 1.0f));
  }
  if (!in_place) r.alloc_vram("y", rows, cols);
  emit_rmsnorm(r.b, r.plan, {.input = "x", .output = in_place ? "x" : "y", .weight = "w"});
  EXPECT_EQ(r.b.regs().live_gp(), 0);
  EXPECT_EQ(r.b.regs().live_fp(), 0);
  r.run();
  auto got = r.get_vram(in_place ? "x" : "y");
  auto staged = golden::staged_rmsnorm(r.rnd, x, rows, cols, w, 1e-5f);
  EXPECT_TRUE(bits_equal(got, staged));
  std::vector<float> ref(rows * cols);
  model::rmsnorm(x.data(), rows, cols, w.data(), 1e-5, ref.data());
  expect_close(got, ref, ref_rtol(g), 0.05, "rmsnorm vs model::rmsnorm");
  // Padding columns of the output stay 0.
  auto padded = r.get_vram(in_place ? "x" : "y", true);
  const size_t wdt = padded.size() / rows;
  for (size_t row = 0; row < rows; ++row)
    for (size_t c = cols; c < wdt; ++c) EXPECT_EQ(padded[row * wdt + c], 0.f);
}

// ---- residual add ----
inline void check_residual(const Geo& g, size_t rows, size_t cols) {
  SCOPED_TRACE(tag(g, rows, cols));
  Rig r(make_config(g));
  auto a = r.put_vram("a", rows, cols, randv(rows * cols, 21, 3.0f));
  auto bb = r.put_vram("b", rows, cols, randv(rows * cols, 22, 3.0f), 8);  // different rows_alloc
  emit_residual_add(r.b, r.plan, {.a = "a", .b = "b", .output = "a"});
  r.run();
  auto got = r.get_vram("a");
  EXPECT_TRUE(bits_equal(got, golden::staged_residual_add(r.rnd, a, bb)));
  std::vector<float> ref(a.size());
  for (size_t i = 0; i < a.size(); ++i) ref[i] = a[i] + bb[i];
  expect_close(got, ref, g.sram == "fp32" ? 0 : 1.0 / 256, 0, "residual add");
}

// ---- activations ----
inline float act_ref(Activation k, float x) {
  switch (k) {
    case Activation::Silu: return model::silu(x);
    case Activation::Gelu: return golden::gelu_tanh_ref(x);
    case Activation::Relu: return golden::relu_ref(x);
  }
  return 0;
}

inline void check_activation(const Geo& g, Activation kind, size_t rows, size_t cols) {
  SCOPED_TRACE(tag(g, rows, cols) + fmt::format(" act {}", int(kind)));
  Rig r(make_config(g));
  auto x = r.put_vram("x", rows, cols, randv(rows * cols, 31, 6.0f));
  r.alloc_vram("y", rows, cols);
  emit_activation(r.b, r.plan, {.kind = kind, .input = "x", .output = "y"});
  r.run();
  auto got = r.get_vram("y");
  EXPECT_TRUE(bits_equal(got, golden::staged_activation(r.rnd, kind, x)));
  std::vector<float> ref(x.size());
  for (size_t i = 0; i < x.size(); ++i) ref[i] = act_ref(kind, x[i]);
  // SiLU/GELU: exp/reci chain in f32 vs the double-based reference: a few f32 ulps. With bf16
  // SRAMs the GELU exp argument (|t| up to ~10) is itself rounded to bf16, so small outputs carry
  // an absolute error of ~|t| 2^-9 |x| sigmoid: hence the larger absolute floor there.
  const double floor = (g.sram != "fp32" && kind == Activation::Gelu) ? 0.1 : 0.01;
  expect_close(got, ref, g.sram == "fp32" ? 2e-6 : 3.0 / 128, floor, "activation vs host reference");
  auto padded = r.get_vram("y", true);
  const size_t wdt = padded.size() / rows;
  for (size_t row = 0; row < rows; ++row)
    for (size_t c = cols; c < wdt; ++c) EXPECT_EQ(padded[row * wdt + c], 0.f);
}

inline void check_swiglu(const Geo& g, size_t rows, size_t cols) {
  SCOPED_TRACE(tag(g, rows, cols));
  Rig r(make_config(g));
  auto gate = r.put_vram("gate", rows, cols, randv(rows * cols, 41, 5.0f));
  auto up = r.put_vram("up", rows, cols, randv(rows * cols, 42, 2.0f));
  r.alloc_vram("y", rows, cols);
  emit_swiglu(r.b, r.plan, {.gate = "gate", .up = "up", .output = "y"});
  r.run();
  auto got = r.get_vram("y");
  EXPECT_TRUE(bits_equal(got, golden::staged_swiglu(r.rnd, gate, up)));
  std::vector<float> ref(gate.size()), wrong(gate.size());
  model::swiglu(gate.data(), up.data(), gate.size(), ref.data());
  expect_close(got, ref, g.sram == "fp32" ? 3e-6 : 3.0 / 128, 0.01, "swiglu vs model::swiglu");
  // The reference compiler's order (silu(up) * gate) is clearly different: guards the HF order.
  model::swiglu(up.data(), gate.data(), gate.size(), wrong.data());
  EXPECT_LT(compare(got, wrong).cosine, 0.99);
}

inline void check_gelu_erf_bound() {
  // The tanh form against the exact erf GELU: documented bound 5e-4 absolute over [-8, 8]
  // (the maximum difference is 4.7e-4, at x = -2.7).
  double worst = 0;
  for (int i = -8000; i <= 8000; ++i) {
    const float x = float(i) / 1000.f;
    worst = std::max(worst, std::fabs(double(golden::gelu_tanh_ref(x)) - golden::gelu_erf_ref(x)));
  }
  EXPECT_LT(worst, 5e-4);
  EXPECT_GT(worst, 1e-5);  // they really are different functions
  // And the kernel (fp32 SRAMs) against the erf GELU on the same grid.
  Geo g{16, 4, "fp32", "fp32"};
  Rig r(make_config(g));
  std::vector<float> xs;
  for (int i = -4000; i < 4000; i += 5) xs.push_back(float(i) / 500.f);
  const size_t cols = 16, rows = xs.size() / cols;
  auto x = r.put_vram("x", rows, cols, xs);
  r.alloc_vram("y", rows, cols);
  emit_activation(r.b, r.plan, {.kind = Activation::Gelu, .input = "x", .output = "y"});
  r.run();
  auto got = r.get_vram("y");
  double kworst = 0;
  for (size_t i = 0; i < got.size(); ++i) kworst = std::max(kworst, std::fabs(double(got[i]) - golden::gelu_erf_ref(x[i])));
  EXPECT_LT(kworst, 5e-4);
}

// ---- softmax ----
inline void check_softmax(const Geo& g, size_t rows, size_t cols, float scale = 4.0f) {
  SCOPED_TRACE(tag(g, rows, cols));
  Rig r(make_config(g));
  auto x = r.put_vram("x", rows, cols, randv(rows * cols, 51 + cols, scale));
  r.alloc_vram("y", rows, cols);
  emit_softmax(r.b, r.plan, {.input = "x", .output = "y"});
  r.run();
  auto got = r.get_vram("y");
  EXPECT_TRUE(bits_equal(got, golden::staged_softmax(r.rnd, x, rows, cols)));
  std::vector<float> ref = x;
  for (size_t row = 0; row < rows; ++row) model::softmax(ref.data() + row * cols, cols);
  expect_close(got, ref, g.sram == "fp32" ? 1e-5 : 3.0 / 128, 1e-3, "softmax vs model::softmax");
  for (size_t row = 0; row < rows; ++row) {
    double s = 0;
    for (size_t c = 0; c < cols; ++c) s += got[row * cols + c];
    EXPECT_NEAR(s, 1.0, g.sram == "fp32" ? 1e-5 : 0.03);
  }
  auto padded = r.get_vram("y", true);
  const size_t wdt = padded.size() / rows;
  for (size_t row = 0; row < rows; ++row)
    for (size_t c = cols; c < wdt; ++c) EXPECT_EQ(padded[row * wdt + c], 0.f);
}

// Logits far beyond exp's range and very negative rows: finite, no NaN (no -inf * 0).
inline void check_softmax_extreme(const Geo& g) {
  Rig r(make_config(g));
  const size_t rows = 3, cols = 20;
  std::vector<float> data(rows * cols);
  for (size_t c = 0; c < cols; ++c) {
    data[c] = c == 3 ? 1000.f : -1000.f;         // one dominant logit
    data[cols + c] = -5000.f + float(c);          // all very negative
    data[2 * cols + c] = c % 2 ? 1e4f : -1e4f;    // huge spread
  }
  auto x = r.put_vram("x", rows, cols, data);
  r.alloc_vram("y", rows, cols);
  emit_softmax(r.b, r.plan, {.input = "x", .output = "y"});
  r.run();
  auto got = r.get_vram("y");
  EXPECT_TRUE(bits_equal(got, golden::staged_softmax(r.rnd, x, rows, cols)));
  for (float v : got) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(got[3], 1.0f, 1e-6);
  double s = 0;
  for (size_t c = 0; c < cols; ++c) s += got[cols + c];
  EXPECT_NEAR(s, 1.0, 0.03);
}

// ---- LayerNorm ----
inline void check_layernorm(const Geo& g, size_t rows, size_t cols, bool with_bias, bool params_in_hbm) {
  SCOPED_TRACE(tag(g, rows, cols));
  Rig r(make_config(g));
  r.plan.fp_constant("eps", 1e-5f);
  auto x = r.put_vram("x", rows, cols, randv(rows * cols, 61, 2.0f, 0.7f));
  std::vector<float> w, bias;
  auto put_param = [&](const std::string& name, uint64_t seed, float sc, float off) {
    if (params_in_hbm) {
      auto v = r.put_hbm(name, 1, cols, randv(cols, seed, sc, off), r.cfg.formats.v_act, r.vlen());
      for (auto& e : v) e = r.rnd.v(e);
      return v;
    }
    return r.put_vram(name, 1, cols, randv(cols, seed, sc, off));
  };
  w = put_param("w", 62, 0.3f, 1.0f);
  if (with_bias) bias = put_param("bias", 63, 0.5f, 0.0f);
  r.alloc_vram("y", rows, cols);
  emit_layernorm(r.b, r.plan, {.input = "x", .output = "y", .weight = "w", .bias = with_bias ? "bias" : ""});
  r.run();
  auto got = r.get_vram("y");
  EXPECT_TRUE(bits_equal(got, golden::staged_layernorm(r.rnd, x, rows, cols, w, bias, 1e-5f)));
  std::vector<float> ref(rows * cols);
  golden::layernorm_ref(x.data(), rows, cols, w.data(), with_bias ? bias.data() : nullptr, 1e-5, ref.data());
  // bf16: the FP registers are bf16 too, so 1/std carries three roundings (~0.6%) and x - mean is
  // rounded at the magnitude of x; both scale the normalised values (|.| up to ~3) before the
  // bias is added, so outputs near 0 get an absolute floor of rtol x 2.
  expect_close(got, ref, g.sram == "fp32" ? 2e-5 : 4.0 / 128, g.sram == "fp32" ? 0.1 : 2.0, "layernorm vs host reference");
}

// Padding columns holding garbage (finite) change nothing in the real columns.
inline void check_padding_invariance(const Geo& g, const std::string& kernel) {
  const size_t rows = 3, cols = 37;
  std::vector<float> outs[2];
  for (int k = 0; k < 2; ++k) {
    Rig r(make_config(g));
    r.plan.fp_constant("eps", 1e-5f);
    r.put_vram("x", rows, cols, randv(rows * cols, 71, 3.0f), 1, k ? 1234.5f : 0.f);
    r.put_vram("w", 1, cols, randv(cols, 72, 0.2f, 1.0f), 1, k ? -77.f : 0.f);
    r.alloc_vram("y", rows, cols);
    if (kernel == "rmsnorm") emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "y", .weight = "w"});
    if (kernel == "softmax") emit_softmax(r.b, r.plan, {.input = "x", .output = "y"});
    if (kernel == "layernorm") emit_layernorm(r.b, r.plan, {.input = "x", .output = "y", .weight = "w", .bias = "w"});
    r.run();
    outs[k] = r.get_vram("y");
  }
  EXPECT_TRUE(bits_equal(outs[1], outs[0]));
  EXPECT_GT(compare(outs[0], outs[0]).ref_energy, 0.0);
}

inline void check_errors() {
  Rig r(make_config({16, 4, "fp32", "fp32"}));
  r.alloc_vram("x", 4, 40);
  r.alloc_vram("y", 4, 32);
  r.alloc_vram("w", 1, 40);
  EXPECT_THROW(emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "w"}), InputError);  // no eps
  r.plan.fp_constant("eps", 1e-6f);
  EXPECT_THROW(emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "y", .weight = "w"}), InputError);  // shape
  EXPECT_THROW(emit_rmsnorm(r.b, r.plan, {.input = "nope", .output = "x", .weight = "w"}), InputError);
  EXPECT_THROW(emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "missing"}), InputError);
  EXPECT_THROW(emit_softmax(r.b, r.plan, {.input = "x", .output = "y"}), InputError);
  EXPECT_THROW(emit_residual_add(r.b, r.plan, {.a = "x", .b = "y", .output = "x"}), InputError);
  // An HBM weight whose row stride does not cover the last VLEN block.
  r.plan.place_hbm("wh", TensorClass::Weight, {1, 40}, r.cfg.formats.v_act);
  try {
    emit_rmsnorm(r.b, r.plan, {.input = "x", .output = "x", .weight = "wh"});
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("row stride"), std::string::npos) << e.what();
  }
}

// ---- RoPE ----
struct RopeCase {
  size_t rows = 3, heads = 2, head_dim = 8;
  int64_t pos0 = 0, pos_step = 1;  // positions pos0 + r*pos_step (decode: a large pos0)
  bool llama3 = false, in_place = false;
  size_t rotate_heads = 0;  // RopeArgs::rotate_cols = rotate_heads * head_dim (in place; 0: all heads)
  bool swapped = false;     // RopeArgs::swapped_output: each head's halves swapped, same bits
};

inline void check_rope(const Geo& g, const RopeCase& c) {
  SCOPED_TRACE(tag(g, c.rows, c.heads * c.head_dim) + fmt::format(" head_dim {} pos0 {} llama3 {}", c.head_dim, c.pos0, c.llama3));
  Rig r(make_config(g));
  const size_t cols = c.heads * c.head_dim;
  model::RopeScaling sc;
  if (c.llama3) sc = {model::RopeScalingType::Llama3, 32.0, 1.0, 4.0, 8192};
  const std::vector<float> inv = model::rope_inv_freq(int64_t(c.head_dim), c.llama3 ? 500000.0 : 10000.0, sc);
  std::vector<int64_t> pos(c.rows);
  for (size_t i = 0; i < c.rows; ++i) pos[i] = c.pos0 + int64_t(i) * c.pos_step;
  auto x = r.put_vram("x", c.rows, cols, randv(c.rows * cols, 81 + c.head_dim, 2.0f), g.blen);
  if (!c.in_place) r.alloc_vram("y", c.rows, cols, g.blen);
  RopePlacement p = place_rope_tables(r.plan, "rope", c.rows, c.head_dim);
  RopeTables tab = rope_tables(inv, c.head_dim, r.vlen(), pos);
  r.load_vram(p.cos, tab.cos);
  r.load_vram(p.sin, tab.sin);
  if (!p.swap.empty()) {
    std::vector<float> sw = rope_swap_matrix(c.head_dim, g.mlen);
    sw.resize(r.plan.hbm(p.swap).rows * g.mlen, 0.f);
    auto dec = r.load_hbm(p.swap, sw);
    EXPECT_EQ(dec, sw);  // 0/1 exact in the weight format
  }
  const bool in_place = c.in_place || c.rotate_heads > 0;
  const size_t rotated = c.rotate_heads ? c.rotate_heads : c.heads;
  RopeArgs ra{.input = "x", .output = in_place ? "x" : "y", .head_dim = c.head_dim, .tables = p};
  ra.rotate_cols = c.rotate_heads * c.head_dim;
  ra.swapped_output = c.swapped;
  emit_rope(r.b, r.plan, ra);
  EXPECT_EQ(r.b.regs().live_gp(), 0);
  r.run();
  auto got = r.get_vram(in_place ? "x" : "y");
  if (c.swapped) {  // undo the swap: the rest of the checks see rope(x)
    const size_t half = c.head_dim / 2;
    for (size_t i = 0; i < got.size(); i += c.head_dim) std::rotate(got.begin() + long(i), got.begin() + long(i + half),
                                                                     got.begin() + long(i + c.head_dim));
  }
  std::vector<float> want = golden::staged_rope(r.rnd, x, c.rows, cols, c.head_dim, tab);
  for (size_t row = 0; row < c.rows; ++row)  // heads past rotate_heads keep their bits
    std::copy_n(x.begin() + long(row * cols + rotated * c.head_dim), cols - rotated * c.head_dim,
                want.begin() + long(row * cols + rotated * c.head_dim));
  EXPECT_TRUE(bits_equal(got, want));
  std::vector<float> ref = x;
  for (size_t row = 0; row < c.rows; ++row)
    for (size_t h = 0; h < rotated; ++h) model::rope_apply(ref.data() + row * cols + h * c.head_dim, c.head_dim, pos[row], inv);
  if (g.sram == "fp32") {
    EXPECT_TRUE(bits_equal(got, ref)) << "fp32 SRAMs: same products and sums as model::rope_apply";
  } else {
    // bf16: x*cos and swap*sin are each rounded at the magnitude of x (|x| <= 2) before the sum, so
    // outputs near 0 (cancellation) carry an absolute error of ~2^-8 |x|: floor 0.5.
    expect_close(got, ref, 3.0 / 128, 0.5, "rope vs model::rope_apply");
  }
  expect_nontrivial(compare(got, ref));
  // Not the identity: rotation changed the values (unless every position is 0).
  if (c.pos0 != 0 || c.pos_step != 0) {
    EXPECT_LT(compare(got, x).cosine, 0.9999);
  }
}

// ---- embedding ----
inline void check_embedding(const Geo& g, size_t vocab, size_t hidden, const std::vector<int64_t>& ids,
                            uint64_t row_multiple = 1, config::TimingMode mode = config::TimingMode::InOrder) {
  SCOPED_TRACE(tag(g, ids.size(), hidden) + fmt::format(" vocab {} rows_alloc multiple {} {}", vocab, row_multiple,
                                                        config::timing_mode_name(mode)));
  config::HardwareConfig cfg = make_config(g);
  cfg.timing.mode = mode;  // in order: direct lookups; decoupled: windows through a landing ring
  Rig r(cfg);
  r.put_vram("resident", 2, 16, std::vector<float>(32, 1.f));  // the output does not start at VRAM 0
  auto table = r.put_hbm("embed", vocab, hidden, randv(vocab * hidden, 91, 1.5f), r.cfg.formats.v_act, r.vlen(),
                         TensorClass::Weight);
  r.alloc_vram("y", ids.size(), hidden, row_multiple);
  // A sentinel tensor right after the output: the prefetch spill must not touch it.
  auto sentinel = r.put_vram("sentinel", 4, r.vlen(), randv(4 * r.vlen(), 92, 3.0f));
  emit_embedding(r.b, r.plan, {.table = "embed", .output = "y", .token_ids = ids});
  r.run();
  auto got = r.get_vram("y");
  std::vector<float> want(ids.size() * hidden);
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t c = 0; c < hidden; ++c) want[i * hidden + c] = r.rnd.v(table[size_t(ids[i]) * hidden + c]);
  EXPECT_TRUE(bits_equal(got, want));
  EXPECT_TRUE(bits_equal(r.get_vram("sentinel"), sentinel));
  EXPECT_GT(compare(want, want).ref_energy, 0.0);
  auto padded = r.get_vram("y", true);
  const size_t wdt = padded.size() / ids.size();
  for (size_t row = 0; row < ids.size(); ++row)
    for (size_t c = hidden; c < wdt; ++c) EXPECT_EQ(padded[row * wdt + c], 0.f);
}

}  // namespace plena::test::kv

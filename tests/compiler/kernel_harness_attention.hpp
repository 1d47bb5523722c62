// Test harness of the FlashAttention kernel: plans and emits one attention call, preloads the
// simulator (KV caches in HBM, Q in VRAM, FP SRAM constants), runs it, and computes
//  - the host fp32 truth (model::attention on the same dequantized K/V and the stored Q), and
//  - a staged golden that replays the kernel's op sequence with the simulator's rounding points
//    (docs/kernels-attention.md §5), expected to match bit for bit.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "compiler/compiler.hpp"
#include "compiler/kernels_attention.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"
#include "../sim/test_exec_util.hpp"

namespace plena::attn_test {

struct Case {
  uint64_t batch = 1, q_len = 1, kv_len = 1, capacity = 0;  // capacity 0: kv_len + 5 (stale tail)
  uint64_t heads = 1, kv_heads = 1, head_dim = 16;
  bool causal = true;
  uint32_t seed = 1;
  uint64_t max_q_chunk = 0;
  uint64_t window = 0;  // sliding window (0: none)
  uint64_t stats_vram = 0;  // AttentionArgs::stats_vram_rows
  bool kv_combined = false;  // one K|V cache tensor (kv_cache_layout(..., true))
  std::string label() const {
    return fmt::format("b{} q{} kv{} h{}/{} d{} {}{}", batch, q_len, kv_len, heads, kv_heads, head_dim,
                       causal ? "causal" : "full", window ? fmt::format(" w{}", window) : std::string());
  }
};

struct Result {
  std::vector<float> out, golden, host;  // [batch * q_len, heads * head_dim]
  compiler::AttentionSchedule schedule;
  compiler::KernelCost cost;  // the same emission on the counting back-end
  uint64_t executed = 0;
  std::map<isa::Opcode, uint64_t> ops;  // executed instructions per opcode
};

struct Metrics {
  double max_abs = 0, mean_abs = 0, cosine = 0, ref_max = 0, energy_ratio = 0;
};

inline Metrics compare(const std::vector<float>& got, const std::vector<float>& ref) {
  Metrics m;
  double dot = 0, ng = 0, nr = 0, sum_abs = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(ref[i]));
    m.max_abs = std::max(m.max_abs, d);
    sum_abs += d;
    m.ref_max = std::max(m.ref_max, std::fabs(double(ref[i])));
    dot += double(got[i]) * ref[i];
    ng += double(got[i]) * got[i];
    nr += double(ref[i]) * ref[i];
  }
  m.mean_abs = got.empty() ? 0 : sum_abs / double(got.size());
  m.cosine = (ng > 0 && nr > 0) ? dot / std::sqrt(ng * nr) : 0;
  m.energy_ratio = nr > 0 ? ng / nr : 0;
  return m;
}

// Bit-exact comparison shared with the simulator tests.
using sim::test::bits_equal;

// fp32 everywhere, MLEN = VLEN = 64, BLEN 4, HLEN 16 (heads narrower than a VLEN block).
inline config::HardwareConfig fp32_mlen64() {
  return config::parse_config_toml(
      "base = \"tiny-fp32\"\n[geometry]\nmlen = 64\nvlen = 64\nblen = 4\nhlen = 16\nbroadcast_amount = 4\n"
      "[hbm]\nm_prefetch_amount = 64\n",
      "fp32-mlen64");
}

// Staged golden: the kernel's op sequence on the host with the simulator's rounding points.
// Inputs are the values as they sit in the machine: q_vram [rows_alloc, width] (VRAM type),
// kflat / vflat the decoded cache tensors [rows, width] (HBM format, before MRAM rounding).
// head_dim < MLEN: S multiplies the head's Q copied next to its kv head's columns (zeros elsewhere)
// with the whole MLEN-wide K tile block holding that kv head; head_dim >= MLEN: the head's blocks.
inline std::vector<float> staged_golden(const config::HardwareConfig& cfg, const Case& c,
                                        const compiler::KvCacheLayout& kv, uint64_t rows_alloc,
                                        const std::vector<float>& q_vram, const std::vector<float>& kflat,
                                        const std::vector<float>& vflat) {
  const sim::Rounder rv(cfg.sram.vector_type), rf(cfg.sram.fp_type), rm(cfg.sram.matrix_type);
  const uint64_t L = cfg.geometry.mlen, B = cfg.geometry.blen, V = cfg.geometry.vlen, H = cfg.geometry.hlen;
  const uint64_t hd = c.head_dim, kb = hd < L ? 1 : hd / L, dpad = kb * L, width = c.heads * hd;
  const uint64_t sub = std::min(hd, L) / B, tpp = (cfg.hbm.m_prefetch_amount + L - 1) / L;
  (void)tpp;
  (void)H;
  (void)V;
  auto exp_clamped = [](float x) { return std::exp(x < -88.f ? -88.f : (x > 88.f ? 88.f : x)); };
  const float scale_f = rf(float(1.0 / std::sqrt(double(hd))));
  const float neg_f = rf(-1.0e30f);
  const float negv = rv(rv(q_vram[0] * 0.f) + neg_f);
  std::vector<float> O(rows_alloc * width, 0.f);  // VRAM starts zeroed (calloc)
  auto Q = [&](uint64_t r, uint64_t col) { return q_vram[r * width + col]; };
  const uint64_t tiles = (c.kv_len + L - 1) / L;
  const uint64_t groups = (c.q_len + B - 1) / B;
  std::vector<float> S(B * L), PV(B * dpad), Kt(kb * L * L), Vt(kb * L * L), m(c.q_len), l(c.q_len);
  std::vector<char> started(c.q_len);
  // Lowest key of query i's sliding window.
  auto lowest = [&](uint64_t i) -> uint64_t {
    const uint64_t pos = c.kv_len - c.q_len + i;
    return c.window && pos + 1 > c.window ? pos + 1 - c.window : 0;
  };
  for (uint64_t bi = 0; bi < c.batch; ++bi)
    for (uint64_t h = 0; h < c.heads; ++h) {
      const uint64_t kvh = h / (c.heads / c.kv_heads), col0 = h * hd;
      const uint64_t blk0 = kv.col(kvh) / L, v_col = hd < L ? kv.col(kvh) % L : 0;
      // Q of head h as the S product reads it: column k of block cb.
      auto Qs = [&](uint64_t r, uint64_t cb, uint64_t k) -> float {
        if (hd >= L) return Q(r, col0 + cb * L + k);
        return k >= v_col && k < v_col + hd ? Q(r, col0 + k - v_col) : 0.f;
      };
      std::fill(started.begin(), started.end(), 0);
      for (uint64_t t = 0; t < tiles; ++t) {
        const uint64_t t0 = t * L;
        // Keys [from(i), visible(i)) of the tile; visible = 0 when none. A row's first visible
        // tile starts its state (the kernel's first-tile path, or the bit-identical update from
        // m = -1e30, l = 0, O = 0).
        auto visible = [&](uint64_t i) -> uint64_t {
          const uint64_t last = c.causal ? c.kv_len - c.q_len + i : c.kv_len - 1;
          if (last < t0 || lowest(i) >= t0 + L) return 0;
          return std::min<uint64_t>(last - t0 + 1, L);
        };
        auto from = [&](uint64_t i) -> uint64_t { return lowest(i) > t0 ? lowest(i) - t0 : 0; };
        for (uint64_t cb = 0; cb < kb; ++cb)
          for (uint64_t r = 0; r < L; ++r)
            for (uint64_t col = 0; col < L; ++col) {
              const uint64_t e = kv.row(bi, t0 + r) * kv.width + (blk0 + cb) * L + col;
              Kt[(cb * L + r) * L + col] = rm(kflat[e]);
              Vt[(cb * L + r) * L + col] = rm(vflat[e]);
            }
        for (uint64_t g = 0; g < groups; ++g) {
          const uint64_t i0 = g * B, i1 = std::min(c.q_len, i0 + B);
          bool any = false;
          for (uint64_t i = i0; i < i1; ++i) any = any || visible(i) > 0;
          if (!any) continue;
          const uint64_t r0 = bi * c.q_len + i0;
          for (uint64_t i = 0; i < B; ++i)
            for (uint64_t j = 0; j < L; ++j) {
              float acc = 0.f;
              for (uint64_t cb = 0; cb < kb; ++cb) {
                float part = 0.f;
                for (uint64_t k = 0; k < L; ++k) part += Qs(r0 + i, cb, k) * Kt[(cb * L + j) * L + k];
                acc += part;
              }
              S[i * L + j] = rv(acc);
            }
          for (uint64_t i = i0; i < i1; ++i) {
            const uint64_t s = visible(i);
            if (s == 0) continue;
            float* row = &S[(i - i0) * L];
            for (uint64_t j = 0; j < L; ++j) row[j] = rv(row[j] * scale_f);
            if (s < L)
              for (uint64_t j = 0; j < L; ++j) row[j] = rv(row[j] + (j >= s ? negv : 0.f));
            if (const uint64_t a = from(i); a > 0)
              for (uint64_t j = 0; j < L; ++j) row[j] = rv(row[j] + (j < a ? negv : 0.f));
            const bool first = !started[i];
            float fm, fl, fa = 1.f;
            const float fmold = first ? neg_f : m[i];
            fm = first ? neg_f : rf(fmold + 0.f);
            float mx = -INFINITY;
            for (uint64_t j = 0; j < L; ++j)
              if (row[j] > mx) mx = row[j];
            fm = rf(mx > fm ? mx : fm);
            if (!first) fa = rf(exp_clamped(rf(fmold - fm)));
            for (uint64_t j = 0; j < L; ++j) row[j] = rv(row[j] - fm);
            for (uint64_t j = 0; j < L; ++j) row[j] = rv(exp_clamped(row[j]));
            fl = first ? 0.f : rf(l[i] * fa);
            float sum = 0.f;
            for (uint64_t j = 0; j < L; ++j) sum += row[j];
            fl = rf(sum + fl);
            if (!first)
              for (uint64_t d = 0; d < hd; ++d) {
                float& y = O[(bi * c.q_len + i) * width + col0 + d];
                y = rv(y * fa);
              }
            m[i] = fm;
            l[i] = fl;
          }
          for (uint64_t cb = 0; cb < kb; ++cb)
            for (uint64_t cc = 0; cc < sub; ++cc)
              for (uint64_t i = 0; i < B; ++i)
                for (uint64_t j = 0; j < B; ++j) {
                  float part = 0.f;
                  for (uint64_t k = 0; k < L; ++k) part += S[i * L + k] * Vt[(cb * L + k) * L + v_col + cc * B + j];
                  float acc = 0.f;
                  acc += part;
                  const uint64_t d = cb * L + cc * B + j;
                  PV[i * dpad + d] = rv(acc);
                }
          for (uint64_t i = i0; i < i1; ++i) {
            if (visible(i) == 0) continue;
            for (uint64_t d = 0; d < hd; ++d) {
              float& y = O[(bi * c.q_len + i) * width + col0 + d];
              y = started[i] ? rv(y + PV[(i - i0) * dpad + d]) : PV[(i - i0) * dpad + d];
            }
            started[i] = 1;
          }
        }
      }
      for (uint64_t i = 0; i < c.q_len; ++i) {
        const float fr = rf(1.0f / l[i]);
        for (uint64_t d = 0; d < hd; ++d) {
          float& y = O[(bi * c.q_len + i) * width + col0 + d];
          y = rv(y * fr);
        }
      }
    }
  O.resize(c.batch * c.q_len * width);
  return O;
}

inline Result run_case(const config::HardwareConfig& cfg, const Case& c) {
  using namespace plena::compiler;
  const uint64_t V = cfg.geometry.vlen;
  const uint64_t width = c.heads * c.head_dim, rows = c.batch * c.q_len;
  const uint64_t capacity = c.capacity ? c.capacity : c.kv_len + 5;
  ProgramBuilder b(cfg, "attn-test");
  MemoryPlan plan(cfg, "attn-test");
  const uint64_t rows_alloc = attention_rows_alloc(cfg, c.batch, c.q_len);
  const VramTensor q = plan.alloc_vram("q", rows_alloc, width);
  const VramTensor o = plan.alloc_vram("o", rows_alloc, width);
  const KvCacheLayout kv = kv_cache_layout(cfg, c.batch, c.kv_heads, capacity, c.head_dim, c.kv_combined);
  const HbmTensor kt = place_kv_cache(plan, "k_cache", kv);
  const HbmTensor vt = c.kv_combined ? kt : place_kv_cache(plan, "v_cache", kv);
  EXPECT_EQ(kt.row_stride, kt.cols);
  const bool needs_identity = attention_needs_identity(cfg, c.head_dim);
  const HbmTensor idt = needs_identity ? place_attention_identity(plan, "identity") : HbmTensor{};

  AttentionArgs args;
  args.q = "q";
  args.out = "o";
  args.k_cache = "k_cache";
  args.v_cache = c.kv_combined ? "k_cache" : "v_cache";
  args.kv_combined = c.kv_combined;
  if (needs_identity) args.identity = "identity";
  args.batch = c.batch;
  args.q_len = c.q_len;
  args.kv_len = c.kv_len;
  args.capacity = capacity;
  args.num_heads = c.heads;
  args.num_kv_heads = c.kv_heads;
  args.head_dim = c.head_dim;
  args.causal = c.causal;
  args.max_q_chunk = c.max_q_chunk;
  args.sliding_window = c.window;
  args.stats_vram_rows = c.stats_vram;
  Result res;
  {
    compiler::MemoryPlan copy = plan;
    compiler::ProgramBuilder counting = compiler::ProgramBuilder::counting(cfg, b.config_name());
    emit_flash_attention(counting, copy, args);
    res.cost = counting.cost();
  }
  res.schedule = emit_flash_attention(b, plan, args);

  sim::SimOptions opts;
  opts.use_timing_model = false;
  opts.observer = [&res](const sim::Effects& e, uint32_t) { ++res.ops[e.op]; };
  sim::Simulator simu(cfg, opts);
  sim::Machine& m = simu.machine();

  // Inputs: Q in [-1.5, 1.5], K/V in [-1, 1]; stale cache positions >= kv_len are non-zero too.
  std::mt19937 rng(c.seed);
  std::uniform_real_distribution<float> uq(-1.5f, 1.5f), ukv(-1.f, 1.f);
  std::vector<float> qh(rows_alloc * width, 0.f);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t col = 0; col < width; ++col) qh[r * width + col] = uq(rng);
  std::vector<float> kd(kv.rows() * kv.width, 0.f), vd(kd.size(), 0.f);
  for (uint64_t bi = 0; bi < c.batch; ++bi)
    for (uint64_t h = 0; h < c.kv_heads; ++h)
      for (uint64_t p = 0; p < capacity; ++p)
        for (uint64_t d = 0; d < c.head_dim; ++d) {
          kd[kv.row(bi, p) * kv.width + kv.col(h) + d] = ukv(rng);
          vd[kv.row(bi, p) * kv.width + kv.col(h) + d] = ukv(rng);
        }
  if (c.kv_combined) {  // V next to K in the same rows
    for (uint64_t r = 0; r < kv.rows(); ++r)
      for (uint64_t j = 0; j < kv.v_col0; ++j) kd[r * kv.width + kv.v_col0 + j] = vd[r * kv.width + j];
    sim::write_hbm_tensor(m.hbm(), kt, kd);
  } else {
    sim::write_hbm_tensor(m.hbm(), kt, kd);
    sim::write_hbm_tensor(m.hbm(), vt, vd);
  }
  if (needs_identity) sim::write_hbm_tensor(m.hbm(), idt, attention_identity_data(cfg));
  // Dequantized K and V, both in the separate layout (columns kv.col(h)) for the references.
  const std::vector<float> kq = sim::read_hbm_tensor(m.hbm(), kt);
  std::vector<float> vq = sim::read_hbm_tensor(m.hbm(), vt);
  if (c.kv_combined)
    for (uint64_t r = 0; r < kv.rows(); ++r)
      for (uint64_t j = 0; j < kv.width; ++j) vq[r * kv.width + j] = j < kv.v_col0 ? kq[r * kv.width + kv.v_col0 + j] : 0.f;
  for (uint64_t r = 0; r < rows_alloc; ++r)
    for (uint64_t cb = 0; cb * V < width; ++cb)
      m.write_vram(q.address(r, cb * V), std::span<const float>(&qh[r * width + cb * V], V));
  std::vector<float> q_vram(rows_alloc * width);
  for (uint64_t r = 0; r < rows_alloc; ++r)
    for (uint64_t cb = 0; cb * V < width; ++cb) {
      auto row = m.read_vram(q.address(r, cb * V), V);
      std::copy(row.begin(), row.end(), q_vram.begin() + r * width + cb * V);
    }
  const std::vector<float> fp = fp_sram_image(plan.manifest());
  m.write_fpsram(0, fp);

  res.executed = simu.run(b.words()).executed;
  res.out.resize(rows * width);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t cb = 0; cb * V < width; ++cb) {
      auto row = m.read_vram(o.address(r, cb * V), V);
      std::copy(row.begin(), row.end(), res.out.begin() + r * width + cb * V);
    }

  // Host truth per sequence on the dequantized cache and the stored Q.
  res.host.assign(rows * width, 0.f);
  const float scale = float(1.0 / std::sqrt(double(c.head_dim)));
  for (uint64_t bi = 0; bi < c.batch; ++bi) {
    std::vector<float> kk(c.kv_len * c.kv_heads * c.head_dim), vv(kk.size());
    for (uint64_t p = 0; p < c.kv_len; ++p)
      for (uint64_t h = 0; h < c.kv_heads; ++h)
        for (uint64_t d = 0; d < c.head_dim; ++d) {
          kk[(p * c.kv_heads + h) * c.head_dim + d] = kq[kv.row(bi, p) * kv.width + kv.col(h) + d];
          vv[(p * c.kv_heads + h) * c.head_dim + d] = vq[kv.row(bi, p) * kv.width + kv.col(h) + d];
        }
    const int64_t q_pos0 = c.causal ? int64_t(c.kv_len - c.q_len) : int64_t(c.kv_len - 1);
    model::attention(&q_vram[bi * c.q_len * width], c.q_len, q_pos0, kk.data(), vv.data(), c.kv_len, c.heads,
                     c.kv_heads, c.head_dim, scale, int64_t(c.window), &res.host[bi * c.q_len * width]);
  }
  res.golden = staged_golden(cfg, c, kv, rows_alloc, q_vram, kq, vq);
  return res;
}

}  // namespace plena::attn_test

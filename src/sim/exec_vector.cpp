// Vector unit: element-wise ops on one VLEN row (f32 compute, rounded to the VRAM type on write),
// per-head masking, reductions into FP registers, V_SHFT_V, V_PS_V, C_HADAMARD_TRANSFORM, V_TOPK.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "sim/exec_detail.hpp"

namespace plena::sim::detail {
namespace {

// rmask operand value of a maskable op (0 = whole row).
bool masked(const Ctx& c) {
  switch (mask_field(c.in.op)) {  // from the ISA table: Rs3, or Imm for the upstream I18 ops
    case isa::Field::Rs3: return c.in.rs3 != 0;
    case isa::Field::Imm: return c.in.imm != 0;
    case isa::Field::None:
    case isa::Field::Rd:
    case isa::Field::Rs1:
    case isa::Field::Rs2:
    case isa::Field::Funct1: return false;
  }
  return false;
}

inline bool head_active(uint32_t mask, uint32_t h) { return h < 32 && ((mask >> h) & 1u); }

uint64_t src_row(const Ctx& c, unsigned reg, std::string_view role) {
  uint64_t a = read_gp(c, reg);
  check_vram_rows(c, a, 1, role);
  c.e.add_read(Space::Vram, a, a + c.g.vlen);
  return a;
}
uint64_t dst_row(const Ctx& c, unsigned reg) {
  uint64_t a = read_gp(c, reg);
  check_vram_rows(c, a, 1, "destination");
  c.e.add_write(Space::Vram, a, a + c.g.vlen);
  return a;
}

float clamp_exp_input(float x) { return x < -88.f ? -88.f : (x > 88.f ? 88.f : x); }

// Element-wise op with per-head masking: inactive heads keep the first source's values.
template <typename F>
void elementwise(const Ctx& c, float* d, const float* a, F&& f) {
  Machine& m = c.m;
  const uint32_t V = c.g.vlen, H = c.g.hlen;
  const Rounder& rnd = m.vector_round();
  // Element-wise, so computing in place (d may alias a source) then rounding is safe.
  auto compute = [&](uint32_t i0, uint32_t i1) {
    for (uint32_t i = i0; i < i1; ++i) d[i] = f(i);
    rnd.round_row(d + i0, i1 - i0);
  };
  if (!masked(c)) return compute(0, V);
  for (uint32_t h = 0, i0 = 0; i0 < V; ++h, i0 += H) {
    const uint32_t i1 = std::min(V, i0 + H);
    if (head_active(m.v_mask, h))
      compute(i0, i1);
    else
      for (uint32_t i = i0; i < i1; ++i) d[i] = a[i];
  }
}

}  // namespace

void exec_vec_vec(const Ctx& c, VecVecOp op) {
  Machine& m = c.m;
  uint64_t s1 = src_row(c, c.in.rs1, "first source");
  uint64_t s2 = src_row(c, c.in.rs2, "second source");
  uint64_t d = dst_row(c, c.in.rd);
  if (masked(c)) c.e.add_read(Space::Ctrl, 2, 3);
  if (!m.functional()) return;
  const float* a = m.vram() + s1;
  const float* b = m.vram() + s2;
  float* o = m.vram() + d;
  switch (op) {
    case VecVecOp::Add: elementwise(c, o, a, [&](uint32_t i) { return a[i] + b[i]; }); break;
    case VecVecOp::Sub: elementwise(c, o, a, [&](uint32_t i) { return a[i] - b[i]; }); break;
    case VecVecOp::Mul: elementwise(c, o, a, [&](uint32_t i) { return a[i] * b[i]; }); break;
  }
}

void exec_vec_scalar(const Ctx& c, VecScalarOp op) {
  Machine& m = c.m;
  uint64_t s1 = src_row(c, c.in.rs1, "source");
  float f = read_fp(c, c.in.rs2);
  uint64_t d = dst_row(c, c.in.rd);
  if (masked(c)) c.e.add_read(Space::Ctrl, 2, 3);
  bool reversed = false;
  if (op == VecScalarOp::Sub) {
    if (c.in.funct1 > 1) faultf(c, "rorder must be 0 (v - f) or 1 (f - v), got {}", c.in.funct1);
    reversed = c.in.funct1 == 1;
  }
  if (!m.functional()) return;
  const float* a = m.vram() + s1;
  float* o = m.vram() + d;
  switch (op) {
    case VecScalarOp::Add: elementwise(c, o, a, [&](uint32_t i) { return a[i] + f; }); break;
    case VecScalarOp::Sub:
      if (reversed)
        elementwise(c, o, a, [&](uint32_t i) { return f - a[i]; });
      else
        elementwise(c, o, a, [&](uint32_t i) { return a[i] - f; });
      break;
    case VecScalarOp::Mul: elementwise(c, o, a, [&](uint32_t i) { return a[i] * f; }); break;
    // NaN in the vector propagates (the comparison is false); a NaN scalar leaves v unchanged.
    case VecScalarOp::Max: elementwise(c, o, a, [&](uint32_t i) { return a[i] < f ? f : a[i]; }); break;
    case VecScalarOp::Min: elementwise(c, o, a, [&](uint32_t i) { return a[i] > f ? f : a[i]; }); break;
  }
}

void exec_vec_unary(const Ctx& c, VecUnaryOp op) {
  Machine& m = c.m;
  uint64_t s1 = src_row(c, c.in.rs1, "source");
  uint64_t d = dst_row(c, c.in.rd);
  if (masked(c)) c.e.add_read(Space::Ctrl, 2, 3);
  if (!m.functional()) return;
  const float* a = m.vram() + s1;
  float* o = m.vram() + d;
  switch (op) {
    case VecUnaryOp::Exp: elementwise(c, o, a, [&](uint32_t i) { return std::exp(clamp_exp_input(a[i])); }); break;
    case VecUnaryOp::Reci: elementwise(c, o, a, [&](uint32_t i) { return 1.0f / a[i]; }); break;
  }
}

void exec_vec_reduce(const Ctx& c, VecReduceOp op) {
  Machine& m = c.m;
  fp_index(c, c.in.rd);
  if (c.in.rd == 0) {  // the reference skips reductions into f0 entirely
    c.e.zero_latency = true;
    return;
  }
  uint64_t s = src_row(c, c.in.rs1, "source");
  const bool is_max = op == VecReduceOp::Max;
  const bool msk = is_max && masked(c);
  if (msk) c.e.add_read(Space::Ctrl, 2, 3);
  float acc = read_fp(c, c.in.rd);
  c.e.add_write(Space::FpReg, c.in.rd, c.in.rd + 1u);
  if (!m.functional()) return;
  const float* a = m.vram() + s;
  const uint32_t V = c.g.vlen, H = c.g.hlen;
  if (!is_max) {
    float sum = 0.f;
    for (uint32_t i = 0; i < V; ++i) sum += a[i];
    m.set_fp(c.in.rd, sum + acc);
    return;
  }
  // Only active heads take part (the reference's masked reduction double-counts; see the docs).
  float mx = -std::numeric_limits<float>::infinity();
  for (uint32_t i = 0; i < V; ++i) {
    if (msk && !head_active(m.v_mask, i / H)) continue;
    if (a[i] > mx) mx = a[i];
  }
  m.set_fp(c.in.rd, mx > acc ? mx : acc);
}

void exec_shift(const Ctx& c) {
  Machine& m = c.m;
  uint64_t s1 = src_row(c, c.in.rs1, "source");
  uint64_t shift = read_gp(c, c.in.rs2);
  uint64_t d = dst_row(c, c.in.rd);
  if (!m.functional()) return;
  const uint32_t V = c.g.vlen;
  float* tmp = m.scratch_f.data();
  const float* a = m.vram() + s1;
  for (uint32_t i = 0; i < V; ++i) tmp[i] = i >= shift ? a[i - shift] : 0.f;
  std::copy(tmp, tmp + V, m.vram() + d);
}

void exec_prefix(const Ctx& c) {
  Machine& m = c.m;
  uint64_t s1 = src_row(c, c.in.rs1, "source");
  uint64_t d = dst_row(c, c.in.rd);
  if (!m.functional()) return;
  const Rounder& rnd = m.vector_round();
  const float* a = m.vram() + s1;
  float* o = m.vram() + d;
  float sum = 0.f;  // running sum kept in f32, each output rounded once
  for (uint32_t i = 0; i < c.g.vlen; ++i) {
    sum += a[i];
    o[i] = rnd(sum);
  }
}

void exec_hadamard(const Ctx& c) {
  Machine& m = c.m;
  const uint32_t V = c.g.vlen, H = c.g.hlen;
  if (H == 0 || (H & (H - 1)) != 0) faultf(c, "the Hadamard transform needs a power-of-two HLEN, got {}", H);
  uint64_t s1 = src_row(c, c.in.rs1, "source");
  uint64_t d = dst_row(c, c.in.rd);
  if (!m.functional()) return;
  const Rounder& rnd = m.vector_round();
  float* x = m.scratch_f.data();
  std::copy(m.vram() + s1, m.vram() + s1 + V, x);
  const float norm = float(1.0 / std::sqrt(double(H)));
  for (uint32_t i0 = 0; i0 + H <= V; i0 += H) {
    float* seg = x + i0;
    for (uint32_t len = 1; len < H; len <<= 1)
      for (uint32_t i = 0; i < H; i += 2 * len)
        for (uint32_t j = i; j < i + len; ++j) {
          float u = seg[j], v = seg[j + len];
          seg[j] = u + v;
          seg[j + len] = u - v;
        }
  }
  float* o = m.vram() + d;
  for (uint32_t i = 0; i < V; ++i) o[i] = rnd(x[i] * norm);
}

void exec_topk(const Ctx& c) {
  Machine& m = c.m;
  if (c.in.rs3 > 1) faultf(c, "V_TOPK policy must be 0 (top-4 of 32) or 1 (top-8 of 128), got {}", c.in.rs3);
  const uint32_t n = c.in.rs3 == 0 ? 32 : 128, k = c.in.rs3 == 0 ? 4 : 8;
  c.e.repeat = n;
  uint64_t fpb = read_gp(c, c.in.rd);
  uint64_t src = read_gp(c, c.in.rs1);
  uint64_t intb = read_gp(c, c.in.rs2);
  if (src % c.g.vlen != 0) faultf(c, "source VRAM address {} is not a multiple of VLEN ({})", src, c.g.vlen);
  check_vram(c, src, n, "source");
  check_fpsram(c, fpb, k, "weights");
  check_intsram(c, intb, k, "indices");
  c.e.add_read(Space::Vram, src, src + n);
  c.e.add_write(Space::FpSram, fpb, fpb + k);
  c.e.add_write(Space::IntSram, intb, intb + k);
  if (!m.functional()) return;
  const float* a = m.vram() + src;
  std::array<float, 128> key{};
  std::array<uint32_t, 128> idx{};
  for (uint32_t i = 0; i < n; ++i) {
    key[i] = std::isnan(a[i]) ? -std::numeric_limits<float>::infinity() : a[i];
    idx[i] = i;
  }
  std::partial_sort(idx.begin(), idx.begin() + k, idx.begin() + n, [&](uint32_t x, uint32_t y) {
    return key[x] > key[y] || (key[x] == key[y] && x < y);
  });
  const float top = key[idx[0]];
  std::array<float, 8> e{};
  float sum = 0.f;
  for (uint32_t j = 0; j < k; ++j) {
    e[j] = std::exp(key[idx[j]] - top);
    sum += e[j];
  }
  const Rounder& rnd = m.fp_round();
  for (uint32_t j = 0; j < k; ++j) {
    m.fpsram()[fpb + j] = rnd(e[j] / sum);
    m.intsram()[intb + j] = idx[j];
  }
}

}  // namespace plena::sim::detail

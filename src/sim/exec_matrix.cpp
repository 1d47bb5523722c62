// Matrix unit: M_MM/M_TMM/M_MV/M_TMV into m/v accumulators, M_BMM/M_BTMM/M_BMV/M_BTMV into the
// per-head hm/hv accumulators, and the *_WO drains. Every dot product is an f32 sum over k in
// ascending order starting from 0, added to the accumulator afterwards (docs/isa.md ("Simulator semantics and deviations"));
// loops are ordered so the compiler vectorises across output columns without reassociating k.
#include <algorithm>
#include <array>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "sim/exec_detail.hpp"

namespace plena::sim::detail {
namespace {

struct TileRef {
  uint64_t base = 0;  // element address of the tile
  uint64_t col = 0;   // M_MM family: column (or transposed row) offset; batched: head offset
};

uint64_t mlen2(const Ctx& c) { return uint64_t(c.g.mlen) * c.g.mlen; }
size_t hm_size(const Ctx& c) { return size_t(c.g.broadcast_amount) * c.g.mlen * c.g.mlen; }

// M_MM/M_TMM/M_MV/M_TMV: row-granular MRAM ABI: address = tile base + col*MLEN, col % BLEN == 0.
// M_MV/M_TMV (element_col) also take the reference's element offset, tile base + col with
// col < MLEN, which upstream's GEMV template emits; the two forms coincide only at col 0.
TileRef block_tile(const Ctx& c, uint64_t addr, bool element_col = false) {
  const uint64_t t2 = mlen2(c);
  const uint64_t rem = mod_geom(addr, t2);
  TileRef t{addr - rem, 0};
  if (element_col && rem < c.g.mlen) {
    if (mod_geom(rem, c.g.blen) != 0)
      faultf(c, "MRAM address {} is tile {} + column {}, which is not a multiple of BLEN ({})", addr, addr / t2, rem,
             c.g.blen);
    t.col = rem;
  } else if (mod_geom(rem, c.g.mlen) != 0 || mod_geom(div_geom(rem, c.g.mlen), c.g.blen) != 0) {
    faultf(c, "MRAM address {} is tile {} + offset {}, which is not col*MLEN{} with col a multiple of BLEN ({}, MLEN {})",
           addr, addr / t2, rem, element_col ? " or col < MLEN" : "", c.g.blen, c.g.mlen);
  } else {
    t.col = div_geom(rem, c.g.mlen);
  }
  check_mram(c, t.base, t2, "matrix");
  c.e.add_read(Space::Mram, t.base, t.base + t2);
  return t;
}

// Batched ops: address = tile base + head_offset, head_offset a multiple of HLEN below MLEN.
TileRef head_tile(const Ctx& c, uint64_t addr) {
  const uint64_t t2 = mlen2(c);
  TileRef t{addr - addr % t2, addr % t2};
  if (t.col % c.g.hlen != 0 || t.col + c.g.hlen > c.g.mlen)
    faultf(c, "MRAM address {} is tile {} + offset {}; the head offset must be a multiple of HLEN ({}) below MLEN ({})",
           addr, addr / t2, t.col, c.g.hlen, c.g.mlen);
  check_mram(c, t.base, t2, "matrix");
  c.e.add_read(Space::Mram, t.base, t.base + t2);
  return t;
}

void read_vram_rows(const Ctx& c, uint64_t addr, uint64_t rows, std::string_view role) {
  check_vram_rows(c, addr, rows, role);
  c.e.add_read(Space::Vram, addr, addr + rows * c.g.vlen);
}

// out[j] = sum_k x[k] * w[k*ld + j]  (j < n, k < K), k ascending.
inline void dot_rows(const float* x, const float* w, uint64_t ld, uint32_t K, uint32_t n, float* out) {
  std::fill(out, out + n, 0.f);
  for (uint32_t k = 0; k < K; ++k) {
    const float a = x[k];
    const float* wr = w + k * ld;
    for (uint32_t j = 0; j < n; ++j) out[j] += a * wr[j];
  }
}
// out[j] = sum_k x[k] * w[j*ld + k], k ascending (transposed operand).
inline void dot_cols(const float* x, const float* w, uint64_t ld, uint32_t K, uint32_t n, float* out) {
  std::fill(out, out + n, 0.f);
  for (uint32_t k = 0; k < K; ++k) {
    const float a = x[k];
    for (uint32_t j = 0; j < n; ++j) out[j] += a * w[j * ld + k];
  }
}

// acc[i][j] += sum_k x[i*x_ld + k] * w[k*w_ld + j] for i, j < B (k ascending from 0 per (i, j)).
// B fixed at compile time keeps the B x B partial sums in registers.
template <uint32_t B>
void mm_block_fixed(const float* x, uint64_t x_ld, const float* w, uint64_t w_ld, uint32_t K, float* acc) {
  // GCC/Clang vector extension: one B-wide row of partial sums per register (group), plain
  // multiply then add per element, so results equal the scalar loop bit for bit.
  typedef float row_t __attribute__((vector_size(B * sizeof(float))));
  row_t part[B] = {};
  for (uint32_t k = 0; k < K; ++k) {
    row_t wr;
    std::memcpy(&wr, w + k * w_ld, sizeof(row_t));
    for (uint32_t i = 0; i < B; ++i) {
      const float a = x[i * x_ld + k];
      part[i] += a * wr;
    }
  }
  for (uint32_t i = 0; i < B; ++i) {
    row_t cur;
    std::memcpy(&cur, acc + i * B, sizeof(row_t));
    cur += part[i];
    std::memcpy(acc + i * B, &cur, sizeof(row_t));
  }
}

// acc[i][j] += sum_k x[i*x_ld + k] * w[k*w_ld + j] for an R x (8*CV) block (row stride acc_ld of acc):
// R*CV independent 8-wide partial-sum chains, enough to hide the add latency, while each output still
// sums k in ascending order with a separate multiply and add (bit-identical to the scalar loop).
template <uint32_t R, uint32_t CV>
[[gnu::always_inline]] inline void mm_tile(const float* x, uint64_t x_ld, const float* w, uint64_t w_ld, uint32_t K,
                                           float* acc, uint64_t acc_ld) {
  typedef float v8f __attribute__((vector_size(32)));
  v8f part[R][CV] = {};
  for (uint32_t k = 0; k < K; ++k) {
    v8f wr[CV];
    for (uint32_t c = 0; c < CV; ++c) std::memcpy(&wr[c], w + k * w_ld + 8 * c, sizeof(v8f));
    for (uint32_t i = 0; i < R; ++i) {
      const float a = x[i * x_ld + k];
      for (uint32_t c = 0; c < CV; ++c) part[i][c] += a * wr[c];
    }
  }
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t c = 0; c < CV; ++c) {
      v8f cur;
      float* dst = acc + i * acc_ld + 8 * c;
      std::memcpy(&cur, dst, sizeof(v8f));
      cur += part[i][c];
      std::memcpy(dst, &cur, sizeof(v8f));
    }
}

// GCC picks the AVX2 clone at load time where the host has it. AVX2 alone (no FMA) so nothing can
// be contracted into a fused multiply-add, which would change the rounding.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PLENA_MM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PLENA_MM_CLONES
#endif

PLENA_MM_CLONES void mm_block(const float* x, uint64_t x_ld, const float* w, uint64_t w_ld, uint32_t K, uint32_t B,
                              float* acc, float* part) {
  if (B == 4) return mm_block_fixed<4>(x, x_ld, w, w_ld, K, acc);
  if (B == 8) return mm_tile<8, 1>(x, x_ld, w, w_ld, K, acc, 8);
  if (B % 16 == 0) {
    // Column blocks outermost: each K x 16 weight panel is packed contiguously once (rows MLEN
    // apart would cost a page per k) and stays in cache across all row blocks. `part` holds
    // MLEN*MLEN floats, at least K*16.
    for (uint32_t j0 = 0; j0 < B; j0 += 16) {
      const float* panel = w + j0;
      uint64_t panel_ld = w_ld;
      if (w_ld != 16) {
        for (uint32_t k = 0; k < K; ++k) std::memcpy(part + size_t(k) * 16, w + k * w_ld + j0, 16 * sizeof(float));
        panel = part;
        panel_ld = 16;
      }
      for (uint32_t i0 = 0; i0 < B; i0 += 4)
        mm_tile<4, 2>(x + i0 * x_ld, x_ld, panel, panel_ld, K, acc + size_t(i0) * B + j0, B);
    }
    return;
  }
  for (uint32_t i = 0; i < B; ++i) {
    dot_rows(x + i * x_ld, w, w_ld, K, B, part);
    for (uint32_t j = 0; j < B; ++j) acc[size_t(i) * B + j] += part[j];
  }
}

// ---- Look-ahead (BLEN 4): one M_MM's 16 dot products are too few independent add chains to keep
// the FP units busy, so a straight-line run of M_MM/M_TMM is read ahead and computed together.
// Each entry is still summed from 0 over k ascending and added to acc_m by its own instruction.

constexpr size_t kMaxAhead = 64;  // entries per look-ahead (64 x 16 floats of results)

struct MmOperand {
  const float* x;  // BLEN activation rows, MLEN apart
  const float* w;  // [K x BLEN] weight block, rows w_ld apart
  uint64_t w_ld;
};

// The operands pass every check exec_mm makes (block_tile, read_vram_rows), and the activation
// rows it reads at stride MLEN stay inside the Vector SRAM.
bool mm_operands_ok(const Ctx& c, uint64_t maddr, uint64_t vaddr) {
  const uint64_t t2 = mlen2(c), rem = mod_geom(maddr, t2), base = maddr - rem;
  const uint64_t mram = c.m.mram_elems(), vram = c.m.vram_elems();
  const uint64_t rows = uint64_t(c.g.blen) * std::max(c.g.vlen, c.g.mlen);
  return mod_geom(rem, c.g.mlen) == 0 && mod_geom(div_geom(rem, c.g.mlen), c.g.blen) == 0 && base <= mram &&
         t2 <= mram - base && mod_geom(vaddr, c.g.vlen) == 0 && vaddr <= vram && rows <= vram - vaddr;
}

// Replays a scalar integer ALU instruction on `gp` (as exec.cpp's dispatch does); false for any
// other instruction, which ends the look-ahead.
bool replay_int_alu(const isa::Instr& in, std::array<uint32_t, 16>& gp) {
  using isa::Opcode;
  const uint32_t a = gp[in.rs1 & 15], b = gp[in.rs2 & 15];
  uint32_t v;
  switch (in.op) {
    case Opcode::S_ADD_INT: v = a + b; break;
    case Opcode::S_ADDI_INT: v = a + in.imm; break;
    case Opcode::S_SUB_INT: v = a - b; break;
    case Opcode::S_MUL_INT: v = a * b; break;
    case Opcode::S_LUI_INT: v = uint32_t(uint64_t(in.imm) << 12); break;
    default: return false;
  }
  if (in.rd != 0) gp[in.rd & 15] = v;
  return true;
}

// The VRAM elements an M_MM_WO with these registers writes: [addr, addr + (BLEN-1)*VLEN*stride + BLEN).
struct Span {
  uint64_t lo = UINT64_MAX, hi = 0;
  void add(uint64_t l, uint64_t h) { lo = std::min(lo, l), hi = std::max(hi, h); }
  bool meets(uint64_t l, uint64_t h) const { return l < hi && lo < h; }
};

// Entries for the M_MM/M_TMM at c.pc and every one after it on the straight line, up to the first
// instruction that is none of M_MM/M_TMM, M_MM_WO or a scalar integer ALU op, operands that would
// fault, or activation rows that an M_MM_WO passed on the way has written.
void plan_ahead(const Ctx& c, uint64_t maddr, uint64_t vaddr) {
  MatrixAhead& a = c.m.mm_ahead;
  a.drop();
  a.entries.push_back({c.pc, maddr, vaddr});
  a.expect_pc = c.pc + 1;
  const auto prog = c.m.program();
  const uint64_t B = c.g.blen, V = c.g.vlen, x_span = B * std::max(c.g.vlen, c.g.mlen);
  std::array<uint32_t, 16> gp = c.m.gp;
  Span written;  // hull of the M_MM_WO outputs passed so far
  for (size_t q = size_t(c.pc) + 1; q < prog.size() && a.entries.size() < kMaxAhead; ++q) {
    const isa::Instr& in = prog[q];
    if (in.op == isa::Opcode::M_MM || in.op == isa::Opcode::M_TMM) {
      const bool t = in.op == isa::Opcode::M_TMM;
      const uint64_t ma = gp[(t ? in.rs2 : in.rs1) & 15], va = gp[(t ? in.rs1 : in.rs2) & 15];
      if (!mm_operands_ok(c, ma, va) || written.meets(va, va + x_span)) break;
      a.entries.push_back({uint32_t(q), ma, va});
    } else if (in.op == isa::Opcode::M_MM_WO) {
      const uint64_t addr = uint64_t(gp[in.rd & 15]) + in.imm;
      const uint64_t stride = in.rs1 == 0 ? 1 : gp[in.rs1 & 15];
      written.add(addr, addr + (B - 1) * V * stride + B);
    } else if (!replay_int_alu(in, gp)) {
      break;
    }
  }
}

// parts[e] = x_e @ w_e for E entries together: 4*E independent 4-wide add chains, each output a
// sum over k ascending from 0 with a separate multiply and add (bit-identical to mm_block).
template <uint32_t E>
[[gnu::always_inline]] inline void mm4_group(const MmOperand* op, uint64_t x_ld, uint32_t K, float* parts) {
  typedef float v4f __attribute__((vector_size(16)));
  v4f part[E][4] = {};
  for (uint32_t k = 0; k < K; ++k)
    for (uint32_t e = 0; e < E; ++e) {
      v4f w;
      std::memcpy(&w, op[e].w + k * op[e].w_ld, sizeof(v4f));
      for (uint32_t i = 0; i < 4; ++i) part[e][i] += op[e].x[i * x_ld + k] * w;
    }
  for (uint32_t e = 0; e < E; ++e)
    for (uint32_t i = 0; i < 4; ++i) std::memcpy(parts + (e * 4 + i) * 4, &part[e][i], sizeof(v4f));
}

PLENA_MM_CLONES void mm4_run(const MmOperand* ops, size_t n, uint64_t x_ld, uint32_t K, float* parts) {
  // Groups of 3 (12 chains: 14 of 16 registers) or 2 (8 chains, still enough to fill the FP
  // pipes); a lone entry only at n == 1, it runs at the add latency.
  size_t e = 0;
  for (; n - e >= 3 && n - e != 4; e += 3) mm4_group<3>(ops + e, x_ld, K, parts + e * 16);
  for (; n - e >= 2; e += 2) mm4_group<2>(ops + e, x_ld, K, parts + e * 16);
  if (n - e == 1) mm4_group<1>(ops + e, x_ld, K, parts + e * 16);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PLENA_MM_AVX512 1
// One 16-lane register holds a whole 4 x 4 block (lane 4i+j = part[i][j]): per k one multiply and
// one add instead of four of each. a repeats x[i][k] over j (from xt, the activations transposed
// to [K x 4]), w repeats w[k][j] over i. E registers in flight cover the add latency. The file is
// built with -ffp-contract=off, so AVX-512's FMA cannot fuse the multiply and the add.
// GCC 12 warns about the undefined upper lanes inside its own broadcast intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <uint32_t E>
[[gnu::always_inline]] __attribute__((target("avx512f"))) inline void mm4_group16(const MmOperand* op,
                                                                                 const float* const* xt, uint32_t K,
                                                                                 float* parts) {
  // Every 128-bit lane holds x[0..3][k]; lane i keeps x[i][k].
  const __m512i spread = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512 part[E];
  for (uint32_t e = 0; e < E; ++e) part[e] = _mm512_setzero_ps();
  for (uint32_t k = 0; k < K; ++k)
    for (uint32_t e = 0; e < E; ++e) {
      const __m512 a = _mm512_permutevar_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(xt[e] + 4 * k)), spread);
      const __m512 w = _mm512_broadcast_f32x4(_mm_loadu_ps(op[e].w + k * op[e].w_ld));
      part[e] = _mm512_add_ps(part[e], _mm512_mul_ps(a, w));
    }
  for (uint32_t e = 0; e < E; ++e) _mm512_storeu_ps(parts + e * 16, part[e]);
}

__attribute__((target("avx512f"))) void mm4_run16(const MmOperand* ops, const float* const* xt, size_t n, uint32_t K,
                                                  float* parts) {
  size_t e = 0;
  for (; n - e >= 6; e += 6) mm4_group16<6>(ops + e, xt + e, K, parts + e * 16);
  switch (n - e) {
    case 5: return mm4_group16<5>(ops + e, xt + e, K, parts + e * 16);
    case 4: return mm4_group16<4>(ops + e, xt + e, K, parts + e * 16);
    case 3: return mm4_group16<3>(ops + e, xt + e, K, parts + e * 16);
    case 2: return mm4_group16<2>(ops + e, xt + e, K, parts + e * 16);
    case 1: return mm4_group16<1>(ops + e, xt + e, K, parts + e * 16);
    default: return;
  }
}

#pragma GCC diagnostic pop

// Transposes each distinct activation block to [MLEN x 4] once, then runs the AVX-512 kernel.
void mm4_run_avx512(MatrixAhead& a, const MmOperand* ops, size_t n, uint32_t L, float* parts) {
  std::array<const float*, kMaxAhead> xt;
  a.xt.resize(n * L * 4);
  size_t distinct = 0;
  for (size_t e = 0; e < n; ++e) {
    size_t f = 0;
    while (f < e && ops[f].x != ops[e].x) ++f;
    if (f < e) {
      xt[e] = xt[f];
      continue;
    }
    float* t = a.xt.data() + distinct++ * L * 4;
    const float* x = ops[e].x;
    for (uint32_t k = 0; k < L; k += 4) {  // MLEN is a multiple of BLEN = 4
      __m128 r0 = _mm_loadu_ps(x + k), r1 = _mm_loadu_ps(x + L + k);
      __m128 r2 = _mm_loadu_ps(x + 2 * L + k), r3 = _mm_loadu_ps(x + 3 * L + k);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(t + 4 * k, r0);
      _mm_storeu_ps(t + 4 * k + 4, r1);
      _mm_storeu_ps(t + 4 * k + 8, r2);
      _mm_storeu_ps(t + 4 * k + 12, r3);
    }
    xt[e] = t;
  }
  mm4_run16(ops, xt.data(), n, L, parts);
}
#endif

// Computes every planned entry (BLEN 4); M_TMM weights are packed as exec_mm packs them.
void compute_ahead(const Ctx& c) {
  MatrixAhead& a = c.m.mm_ahead;
  const uint32_t L = c.g.mlen, B = c.g.blen;
  const size_t n = a.entries.size();
  std::array<MmOperand, kMaxAhead> ops;
  a.parts.resize(n * B * B);
  a.panels.resize(n * L * B);
  for (size_t e = 0; e < n; ++e) {
    const auto& en = a.entries[e];
    const uint64_t rem = mod_geom(en.maddr, mlen2(c));
    const float* tile = c.m.mram() + (en.maddr - rem);
    ops[e].x = c.m.vram() + en.vaddr;
    if (c.m.program()[en.pc].op == isa::Opcode::M_MM) {
      ops[e].w = tile + rem / L;
      ops[e].w_ld = L;
      continue;
    }
    float* panel = a.panels.data() + e * L * B;
    for (uint32_t j = 0; j < B; ++j)
      for (uint32_t k = 0; k < L; ++k) panel[size_t(k) * B + j] = tile[(rem / L + j) * L + k];
    ops[e].w = panel;
    ops[e].w_ld = B;
  }
#ifdef PLENA_MM_AVX512
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return mm4_run_avx512(a, ops.data(), n, L, a.parts.data());
#endif
  mm4_run(ops.data(), n, L, L, a.parts.data());
}

// acc_m += the entry computed ahead for this instruction; false when there is none.
bool take_ahead(const Ctx& c, uint64_t maddr, uint64_t vaddr) {
  MatrixAhead& a = c.m.mm_ahead;
  if (!a.pending()) return false;
  const MatrixAhead::Entry& en = a.entries[a.next];
  if (en.pc != c.pc || en.maddr != maddr || en.vaddr != vaddr) {
    a.drop();
    return false;
  }
  const size_t bb = size_t(c.g.blen) * c.g.blen;
  const float* part = a.parts.data() + a.next * bb;
  float* acc = c.m.acc_m.data();
  for (size_t i = 0; i < bb; ++i) acc[i] += part[i];
  ++a.next;
  return true;
}

// Plans and computes a run starting at this instruction; false (nothing planned) when the
// instruction is not the program's own or no other M_MM/M_TMM follows it.
bool start_ahead(const Ctx& c, uint64_t maddr, uint64_t vaddr) {
  const auto prog = c.m.program();
  if (c.g.blen != 4 || c.pc >= prog.size() || &prog[c.pc] != &c.in) return false;
  plan_ahead(c, maddr, vaddr);
  if (c.m.mm_ahead.entries.size() < 2) {
    c.m.mm_ahead.drop();
    return false;
  }
  compute_ahead(c);
  return take_ahead(c, maddr, vaddr);
}

}  // namespace

void exec_mm(const Ctx& c, bool transposed) {
  Machine& m = c.m;
  const uint32_t B = c.g.blen, L = c.g.mlen;
  uint64_t maddr, vaddr;
  if (!transposed) {
    maddr = read_gp(c, c.in.rs1);
    vaddr = read_gp(c, c.in.rs2);
  } else {
    vaddr = read_gp(c, c.in.rs1);
    maddr = read_gp(c, c.in.rs2);
  }
  TileRef t = block_tile(c, maddr);
  read_vram_rows(c, vaddr, B, "activation");
  c.e.add_read(Space::AccM, 0, 1);
  c.e.add_write(Space::AccM, 0, 1);
  if (!m.functional()) return;
  if (take_ahead(c, maddr, vaddr) || start_ahead(c, maddr, vaddr)) return;
  const float* tile = m.mram() + t.base;
  const float* x = m.vram() + vaddr;
  if (!transposed) {
    mm_block(x, L, tile + t.col, L, L, B, m.acc_m.data(), m.scratch_f.data());
    return;
  }
  // Transposed operand: copy tile rows [col, col+B) as a [K x B] panel first.
  float* panel = m.scratch_f2.data();
  for (uint32_t j = 0; j < B; ++j)
    for (uint32_t k = 0; k < L; ++k) panel[size_t(k) * B + j] = tile[(t.col + j) * L + k];
  mm_block(x, L, panel, B, L, B, m.acc_m.data(), m.scratch_f.data());
}

void exec_mv(const Ctx& c, bool transposed) {
  Machine& m = c.m;
  const uint32_t B = c.g.blen, L = c.g.mlen;
  uint64_t maddr = read_gp(c, c.in.rs1);
  uint64_t vaddr = read_gp(c, c.in.rs2);
  TileRef t = block_tile(c, maddr, true);
  read_vram_rows(c, vaddr, 1, "activation");
  c.e.add_read(Space::AccV, 0, 1);
  c.e.add_write(Space::AccV, 0, 1);
  if (!m.functional()) return;
  float* part = m.scratch_f.data();
  const float* tile = m.mram() + t.base;
  const float* x = m.vram() + vaddr;
  if (!transposed)
    dot_rows(x, tile + t.col, L, L, B, part);
  else
    dot_cols(x, tile + t.col * L, L, L, B, part);
  for (uint32_t j = 0; j < B; ++j) m.acc_v[j] += part[j];
}

namespace {

// One query/score row of head h as HLEN contiguous values (gathered for the BMM view).
inline const float* head_row(const float* row, uint32_t h, uint32_t H, uint32_t Bc, bool head_fastest, float* buf) {
  if (!head_fastest) return row + size_t(h) * H;  // [BROADCAST, HLEN]
  for (uint32_t k = 0; k < H; ++k) buf[k] = row[size_t(k) * Bc + h];  // [HLEN, BROADCAST]
  return buf;
}

// M_BMM (head_fastest view, tile rows [ho, +HLEN)) and M_BTMM ([BROADCAST, HLEN] view, tile
// columns [ho, +HLEN) transposed); `rows` = MLEN (M_BMM/M_BTMM) or 1 (M_BMV/M_BTMV).
void batched(const Ctx& c, uint64_t maddr, uint64_t vaddr, uint32_t rows, bool transposed, float* acc) {
  Machine& m = c.m;
  const uint32_t L = c.g.mlen, H = c.g.hlen, Bc = c.g.broadcast_amount;
  TileRef t = head_tile(c, maddr);
  read_vram_rows(c, vaddr, rows, rows == 1 ? "query" : "activation");
  if (!m.functional()) return;
  const float* tile = m.mram() + t.base;
  const float scale = float(m.config().compute.bmm_scale);
  // Operand as [HLEN x MLEN], rows contiguous: BMM uses tile rows directly, BTMM a transposed copy.
  const float* w;
  if (!transposed) {
    w = tile + t.col * L;
  } else {
    float* kt = m.scratch_f2.data();
    for (uint32_t cidx = 0; cidx < L; ++cidx)
      for (uint32_t k = 0; k < H; ++k) kt[size_t(k) * L + cidx] = tile[size_t(cidx) * L + t.col + k];
    w = kt;
  }
  float* part = m.scratch_f.data();
  float* qbuf = part + L;
  for (uint32_t h = 0; h < Bc; ++h) {
    for (uint32_t r = 0; r < rows; ++r) {
      const float* row = m.vram() + vaddr + uint64_t(r) * L;
      const float* q = head_row(row, h, H, Bc, !transposed, qbuf);
      dot_rows(q, w, L, H, L, part);
      float* a = acc + (size_t(h) * rows + r) * L;
      for (uint32_t j = 0; j < L; ++j) a[j] += part[j] * scale;
    }
  }
}

// Writes BLEN values of an accumulator row at VRAM element address `addr` (column = addr % VLEN).
uint64_t wo_column(const Ctx& c, uint64_t addr) {
  uint64_t col = mod_geom(addr, c.g.vlen);
  if (col + c.g.blen > c.g.vlen)
    faultf(c, "VRAM address {} is column {} of its row; {} values do not fit in VLEN ({})", addr, col, c.g.blen,
           c.g.vlen);
  return col;
}

}  // namespace

void exec_mm_wo(const Ctx& c) {
  Machine& m = c.m;
  const uint32_t B = c.g.blen, V = c.g.vlen;
  uint64_t addr = uint64_t(read_gp(c, c.in.rd)) + c.in.imm;
  uint64_t stride = c.in.rs1 == 0 ? 1 : read_gp(c, c.in.rs1);
  uint64_t col = wo_column(c, addr);
  uint64_t row0 = addr - col;
  uint64_t last = row0 + uint64_t(B - 1) * V * stride;
  check_vram(c, last, V, "output");
  c.e.add_read(Space::AccM, 0, 1);
  c.e.add_write(Space::Vram, row0 + col, last + col + B);
  c.e.add_write(Space::AccM, 0, 1);
  if (!m.functional()) return;
  const Rounder& rnd = m.vector_round();
  for (uint32_t i = 0; i < B; ++i) {
    float* d = m.vram() + row0 + uint64_t(i) * V * stride + col;
    const float* s = m.acc_m.data() + size_t(i) * B;
    for (uint32_t j = 0; j < B; ++j) d[j] = rnd(s[j]);
  }
  std::fill(m.acc_m.begin(), m.acc_m.end(), 0.f);
}

void exec_mv_wo(const Ctx& c) {
  Machine& m = c.m;
  const uint32_t B = c.g.blen;
  uint64_t addr = uint64_t(read_gp(c, c.in.rd)) + c.in.imm;
  wo_column(c, addr);
  check_vram(c, addr, B, "output");
  c.e.add_read(Space::AccV, 0, 1);
  c.e.add_write(Space::Vram, addr, addr + B);
  c.e.add_write(Space::AccV, 0, 1);
  if (!m.functional()) return;
  const Rounder& rnd = m.vector_round();
  for (uint32_t j = 0; j < B; ++j) m.vram()[addr + j] = rnd(m.acc_v[j]);
  std::fill(m.acc_v.begin(), m.acc_v.end(), 0.f);
}

namespace {

// M_BMM_WO / M_BMV_WO: rows*VLEN accumulator values to consecutive VRAM rows.
void exec_batched_wo(const Ctx& c, uint64_t rows, Space acc_space, std::vector<float>& acc) {
  Machine& m = c.m;
  uint64_t addr = uint64_t(read_gp(c, c.in.rd)) + c.in.imm;
  check_vram_rows(c, addr, rows, "output");
  c.e.add_read(acc_space, 0, 1);
  c.e.add_write(Space::Vram, addr, addr + rows * c.g.vlen);
  c.e.add_write(acc_space, 0, 1);
  if (!m.functional()) return;
  const Rounder& rnd = m.vector_round();
  float* d = m.vram() + addr;
  for (size_t i = 0; i < acc.size(); ++i) d[i] = rnd(acc[i]);
  std::fill(acc.begin(), acc.end(), 0.f);
}

}  // namespace

void exec_bmm(const Ctx& c, bool transposed) {
  const auto& in = c.in;
  Machine& m = c.m;
  if (in.rd != 0) faultf(c, "rd must be 0 (batched matmuls take no offset register; got gp{})", in.rd);
  uint64_t maddr = read_gp(c, in.rs1), vaddr = read_gp(c, in.rs2);
  c.e.add_read(Space::AccHm, 0, 1);
  c.e.add_write(Space::AccHm, 0, 1);
  if (m.functional() && m.acc_hm.empty()) m.acc_hm.assign(hm_size(c), 0.f);
  batched(c, maddr, vaddr, c.g.mlen, transposed, m.acc_hm.data());
}

void exec_bmv(const Ctx& c, bool transposed) {
  const auto& in = c.in;
  uint64_t maddr = uint64_t(read_gp(c, in.rs1)) + read_gp(c, in.rd);
  uint64_t vaddr = read_gp(c, in.rs2);
  c.e.add_read(Space::AccHv, 0, 1);
  c.e.add_write(Space::AccHv, 0, 1);
  batched(c, maddr, vaddr, 1, transposed, c.m.acc_hv.data());
}

void exec_bmm_wo(const Ctx& c) {
  Machine& m = c.m;
  if (m.functional() && m.acc_hm.empty()) m.acc_hm.assign(hm_size(c), 0.f);
  exec_batched_wo(c, uint64_t(c.g.broadcast_amount) * c.g.mlen, Space::AccHm, m.acc_hm);
}

void exec_bmv_wo(const Ctx& c) { exec_batched_wo(c, c.g.broadcast_amount, Space::AccHv, c.m.acc_hv); }

}  // namespace plena::sim::detail

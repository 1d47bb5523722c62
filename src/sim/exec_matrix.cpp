// Matrix unit: M_MM/M_TMM/M_MV/M_TMV into m/v accumulators, M_BMM/M_BTMM/M_BMV/M_BTMV into the
// per-head hm/hv accumulators, and the *_WO drains. Every dot product is an f32 sum over k in
// ascending order starting from 0, added to the accumulator afterwards (docs/isa.md ("Simulator semantics and deviations"));
// loops are ordered so the compiler vectorises across output columns without reassociating k.
#include <algorithm>
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

// acc[i][j] += sum_k x[i*x_ld + k] * w[k*w_ld + j] for an R x (W*CV) block (row stride acc_ld of acc):
// R*CV independent W-wide partial-sum chains, enough to hide the add latency, while each output still
// sums k in ascending order with a separate multiply and add (bit-identical to the scalar loop).
template <uint32_t R, uint32_t CV, uint32_t W = 8>
[[gnu::always_inline]] inline void mm_tile(const float* x, uint64_t x_ld, const float* w, uint64_t w_ld, uint32_t K,
                                           float* acc, uint64_t acc_ld) {
  typedef float vec __attribute__((vector_size(W * sizeof(float))));
  vec part[R][CV] = {};
  for (uint32_t k = 0; k < K; ++k) {
    vec wr[CV];
    for (uint32_t c = 0; c < CV; ++c) std::memcpy(&wr[c], w + k * w_ld + W * c, sizeof(vec));
    for (uint32_t i = 0; i < R; ++i) {
      const float a = x[i * x_ld + k];
      for (uint32_t c = 0; c < CV; ++c) part[i][c] += a * wr[c];
    }
  }
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t c = 0; c < CV; ++c) {
      vec cur;
      float* dst = acc + i * acc_ld + W * c;
      std::memcpy(&cur, dst, sizeof(vec));
      cur += part[i][c];
      std::memcpy(dst, &cur, sizeof(vec));
    }
}

// GCC picks the AVX-512 or AVX2 clone at load time where the host has it. AVX-512 brings FMA: the
// file is built with -ffp-contract=off (src/sim/CMakeLists.txt) so no multiply and add are fused,
// which would change the rounding. The 16-lane tiles run only on AVX-512 hosts (in other clones a
// 16-lane vector would be split into narrower registers).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PLENA_MM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
bool wide_tiles() {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
}
#else
#define PLENA_MM_CLONES
bool wide_tiles() { return false; }
#endif

PLENA_MM_CLONES void mm_block(const float* x, uint64_t x_ld, const float* w, uint64_t w_ld, uint32_t K, uint32_t B,
                              float* acc, float* part) {
  if (B == 4) return mm_block_fixed<4>(x, x_ld, w, w_ld, K, acc);
  if (B == 8) return mm_tile<8, 1>(x, x_ld, w, w_ld, K, acc, 8);
  if (B % 16 == 0) {
    // Column blocks outermost: each K x 16 weight panel is packed contiguously once (rows MLEN
    // apart would cost a page per k) and stays in cache across all row blocks. `part` holds
    // MLEN*MLEN floats, at least K*16.
    const bool wide = wide_tiles();
    for (uint32_t j0 = 0; j0 < B; j0 += 16) {
      const float* panel = w + j0;
      uint64_t panel_ld = w_ld;
      if (w_ld != 16) {
        for (uint32_t k = 0; k < K; ++k) std::memcpy(part + size_t(k) * 16, w + k * w_ld + j0, 16 * sizeof(float));
        panel = part;
        panel_ld = 16;
      }
      if (wide)  // 8 chains of 16 lanes (one register per panel row)
        for (uint32_t i0 = 0; i0 < B; i0 += 8)
          mm_tile<8, 1, 16>(x + i0 * x_ld, x_ld, panel, panel_ld, K, acc + size_t(i0) * B + j0, B);
      else
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

// M_TMM: tile rows [col, col+B) (`rows`, MLEN apart) as a [K x B] panel.
void pack_transposed(const float* rows, uint32_t L, uint32_t B, float* panel) {
  for (uint32_t j = 0; j < B; ++j)
    for (uint32_t k = 0; k < L; ++k) panel[size_t(k) * B + j] = rows[size_t(j) * L + k];
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PLENA_MM4_AVX512 1
// E queued 4x4 products at once, one 16-lane register each (lane 4i+j = part[i][j]): per k one
// multiply and one add of separately rounded floats (the file is built with -ffp-contract=off), E
// independent chains to cover the add latency. For 8 k at a time, rows 0-1 and 2-3 of the
// activations fill two registers; one two-source permute spreads x[i][k] over lanes 4i..4i+3.
// GCC 12 warns about the undefined upper half inside its own cast intrinsic.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
[[gnu::always_inline]] __attribute__((target("avx512f"))) inline __m512 rows8(const float* lo, const float* hi) {
  const __m512d l = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(lo)));
  return _mm512_castpd_ps(_mm512_insertf64x4(l, _mm256_castps_pd(_mm256_loadu_ps(hi)), 1));
}

// Not inlined into the dispatcher: inlined (or with the d loop unrolled) GCC hoists the permutes
// and broadcasts and spills registers, a third more time on the Zen 5 host.
template <uint32_t E>
[[gnu::noinline]] __attribute__((target("avx512f"))) void mm4_group(const float* const* xs, const float* const* ws,
                                                                   uint64_t x_ld, uint64_t w_ld, uint32_t K,
                                                                   float* parts) {
  const __m512i rows = _mm512_set_epi32(24, 24, 24, 24, 16, 16, 16, 16, 8, 8, 8, 8, 0, 0, 0, 0);
  __m512i spread[8];
  for (int d = 0; d < 8; ++d) spread[d] = _mm512_add_epi32(rows, _mm512_set1_epi32(d));
  __m512 part[E];
  const float* xp[E];
  const float* wp[E];
  for (uint32_t e = 0; e < E; ++e) {
    part[e] = _mm512_setzero_ps();
    xp[e] = xs[e];
    wp[e] = ws[e];
  }
  // Entries innermost: the E chains interleave in program order, so the scheduler is not filled
  // with the stalled adds of one chain.
  for (uint32_t k = 0; k < K; k += 8) {
    __m512 x01[E], x23[E];
    for (uint32_t e = 0; e < E; ++e) {
      const float* x = xp[e];
      x01[e] = rows8(x, x + x_ld);
      x23[e] = rows8(x + 2 * x_ld, x + 3 * x_ld);
      xp[e] = x + 8;
    }
#pragma GCC unroll 1
    for (uint32_t d = 0; d < 8; ++d)
      for (uint32_t e = 0; e < E; ++e) {
        const __m512 a = _mm512_permutex2var_ps(x01[e], spread[d], x23[e]);
        const __m512 b = _mm512_broadcast_f32x4(_mm_loadu_ps(wp[e] + d * w_ld));
        part[e] = _mm512_add_ps(part[e], _mm512_mul_ps(a, b));
      }
    for (uint32_t e = 0; e < E; ++e) wp[e] += 8 * w_ld;
  }
  for (uint32_t e = 0; e < E; ++e) _mm512_storeu_ps(parts + e * 16, part[e]);
}
#pragma GCC diagnostic pop

// Every queued product into `parts`, up to 4 entries at a time.
__attribute__((target("avx512f"))) void mm4_queue_avx512(const MatrixQueue& q, uint32_t K, float* parts) {
  for (size_t e = 0; e < q.n; e += 4) {
    const float* ws[4];
    const size_t n = std::min<size_t>(4, q.n - e);
    for (size_t i = 0; i < n; ++i) ws[i] = q.panels.data() + size_t(q.panel[e + i]) * K * 4;
    const float* const* xs = q.x.data() + e;
    switch (n) {
      case 4: mm4_group<4>(xs, ws, K, 4, K, parts + e * 16); break;
      case 3: mm4_group<3>(xs, ws, K, 4, K, parts + e * 16); break;
      case 2: mm4_group<2>(xs, ws, K, 4, K, parts + e * 16); break;
      default: mm4_group<1>(xs, ws, K, 4, K, parts + e * 16); break;
    }
  }
}
#endif

// Deferral pays where the 16-lane kernel exists: BLEN 4, MLEN a multiple of 8.
bool queue_pays(const Machine& m) {
#ifdef PLENA_MM4_AVX512
  const auto& g = m.config().geometry;
  return m.functional() && g.blen == 4 && g.mlen % 8 == 0 && wide_tiles();
#else
  (void)m;
  return false;
#endif
}

// The panel slot of the M_MM/M_TMM operand at MRAM `maddr`: w points at its B columns (rows MLEN
// apart) or, transposed, its B rows. Packed now unless cached; a slot a queued entry still reads
// is computed out of the queue before it is refilled.
uint32_t panel_slot(Machine& m, uint64_t maddr, const float* w, bool transposed) {
  MatrixQueue& q = *m.mm_queue;
  const uint32_t L = m.config().geometry.mlen, B = m.config().geometry.blen;
  const uint64_t key = maddr * 2 + transposed;
  // Fibonacci hash reduced by its high bits: GEMM operands sit at regular strides.
  const uint32_t slot = uint32_t(((key * 0x9E3779B97F4A7C15ull) >> 32) * q.panel_tags.size() >> 32);
  MatrixQueue::PanelTag& tag = q.panel_tags[slot];
  if (tag.gen == q.gen && tag.key == key) return slot;
  for (size_t e = 0; e < q.n; ++e)
    if (q.panel[e] == slot) {
      flush_matrix_queue(m);
      break;
    }
  float* p = q.panels.data() + size_t(slot) * L * B;
  if (transposed)
    pack_transposed(w, L, B, p);
  else
    for (uint32_t k = 0; k < L; ++k)
      for (uint32_t j = 0; j < B; ++j) p[size_t(k) * B + j] = w[size_t(k) * L + j];
  tag = MatrixQueue::PanelTag{key, q.gen};
  return slot;
}

void enqueue_mm(Machine& m, const float* x, uint64_t maddr, const float* w, bool transposed) {
  MatrixQueue& q = *m.mm_queue;
  if (q.n == MatrixQueue::kCap) flush_matrix_queue(m);
  const uint32_t slot = panel_slot(m, maddr, w, transposed);  // may compute the queue too
  q.x[q.n] = x;
  q.panel[q.n] = slot;
  ++q.n;
}

}  // namespace

void set_matrix_queue(Machine& m, bool on) {
  if (!m.mm_queue) {
    if (!on || !queue_pays(m)) return;
    m.mm_queue = std::make_unique<MatrixQueue>();
    const auto& g = m.config().geometry;
    MatrixQueue& q = *m.mm_queue;
    q.parts.resize(MatrixQueue::kCap * g.blen * g.blen);
    // About 1 MiB of panels (1024 at MLEN 64), at least 2 * kCap.
    const size_t floats = size_t(g.mlen) * g.blen;
    const size_t slots = std::max<size_t>((size_t(1) << 18) / floats, 2 * MatrixQueue::kCap);
    q.panel_tags.assign(slots, MatrixQueue::PanelTag{});
    q.panels.resize(slots * floats);
  }
  flush_matrix_queue(m);
  ++m.mm_queue->gen;  // MRAM may change between runs
  m.mm_queue->enabled = on;
}

void flush_matrix_queue(Machine& m) {
  MatrixQueue& q = *m.mm_queue;
  if (q.n == 0) return;
#ifdef PLENA_MM4_AVX512
  mm4_queue_avx512(q, m.config().geometry.mlen, q.parts.data());
  // A local copy: acc_m and parts could alias as far as the compiler knows, which keeps the
  // 16-wide adds scalar.
  float acc[16];
  std::memcpy(acc, m.acc_m.data(), sizeof(acc));
  for (size_t e = 0; e < q.n; ++e)  // program order
    for (uint32_t j = 0; j < 16; ++j) acc[j] += q.parts[e * 16 + j];
  std::memcpy(m.acc_m.data(), acc, sizeof(acc));
#endif
  q.n = 0;
}

void leave_matrix_queue(Machine& m, isa::Opcode op) {
  flush_matrix_queue(m);
  if (op != isa::Opcode::M_MM_WO) ++m.mm_queue->gen;
}

namespace {

// M_MM/M_TMM operands that pass every check of exec_mm (block_tile, read_vram_rows), else false.
bool lean_mm(Machine& m, const isa::Instr& in, bool transposed) {
  const auto& g = m.config().geometry;
  const uint64_t L = g.mlen, B = g.blen, t2 = L * L;
  const uint64_t maddr = m.gp[(transposed ? in.rs2 : in.rs1) & 15];
  const uint64_t vaddr = m.gp[(transposed ? in.rs1 : in.rs2) & 15];
  const uint64_t rem = mod_geom(maddr, t2), base = maddr - rem;
  if (mod_geom(rem, L) != 0 || mod_geom(div_geom(rem, L), B) != 0) return false;
  if (base > m.mram_elems() || t2 > m.mram_elems() - base) return false;
  if (mod_geom(vaddr, g.vlen) != 0 || vaddr > m.vram_elems() || B * g.vlen > m.vram_elems() - vaddr) return false;
  const float* tile = m.mram() + base;
  const uint64_t col = div_geom(rem, L);
  enqueue_mm(m, m.vram() + vaddr, maddr, transposed ? tile + col * L : tile + col, transposed);
  return true;
}

// M_MM_WO that passes every check of exec_mm_wo: the queue drained, acc_m rounded out and cleared.
// BLEN is 4 wherever the queue runs (queue_pays): fixed-size copies instead of library calls.
bool lean_mm_wo(Machine& m, const isa::Instr& in) {
  constexpr uint64_t B = 4;
  const uint64_t V = m.config().geometry.vlen;
  const uint64_t addr = uint64_t(m.gp[in.rd & 15]) + in.imm;
  const uint64_t stride = in.rs1 == 0 ? 1 : m.gp[in.rs1 & 15];
  const uint64_t col = mod_geom(addr, V), row0 = addr - col;
  if (col + B > V) return false;
  const uint64_t last = row0 + (B - 1) * V * stride;
  if (last > m.vram_elems() || V > m.vram_elems() - last) return false;
  flush_matrix_queue(m);
  // The whole block rounded in one pass (a vectorised loop for bf16), then copied row by row.
  float block[B * B];
  float* acc = m.acc_m.data();
  std::memcpy(block, acc, sizeof(block));
  m.vector_round().round_row(block, B * B);
  for (uint64_t i = 0; i < B; ++i)
    std::memcpy(m.vram() + row0 + i * V * stride + col, block + i * B, B * sizeof(float));
  std::memset(acc, 0, sizeof(block));
  return true;
}

}  // namespace

void execute_lean_run(Machine& m, std::span<const isa::Instr> program, uint32_t& pc, uint64_t& executed,
                      uint64_t budget) {
  using isa::Opcode;
  const bool matrix = m.mm_queue && m.mm_queue->enabled;
  const uint32_t n = uint32_t(program.size());
  uint32_t p = pc;
  uint64_t done = executed;
  for (; p < n && done < budget; ++p, ++done) {
    const isa::Instr& in = program[p];
    if (execute_lean_int_alu(m, in)) continue;
    if (!matrix) break;
    if (in.op == Opcode::M_MM) {
      if (!lean_mm(m, in, false)) break;
    } else if (in.op == Opcode::M_TMM) {
      if (!lean_mm(m, in, true)) break;
    } else if (in.op != Opcode::M_MM_WO || !lean_mm_wo(m, in)) {
      break;
    }
  }
  pc = p;
  executed = done;
}

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
  const float* tile = m.mram() + t.base;
  const float* x = m.vram() + vaddr;
  if (m.mm_queue && m.mm_queue->enabled)
    return enqueue_mm(m, x, maddr, transposed ? tile + t.col * L : tile + t.col, transposed);
  if (!transposed) {
    mm_block(x, L, tile + t.col, L, L, B, m.acc_m.data(), m.scratch_f.data());
    return;
  }
  // Transposed operand: tile rows [col, col+B) as a [K x B] panel first.
  float* panel = m.scratch_f2.data();
  pack_transposed(tile + t.col * L, L, B, panel);
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

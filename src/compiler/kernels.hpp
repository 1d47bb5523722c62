// Kernel generators. Each emits through a ProgramBuilder into memory laid out by a MemoryPlan.
// Included through compiler/compiler.hpp.
#pragma once
#include <cstdint>
#include <string>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

struct RmsNormArgs;  // kernels_vector.hpp

// Y[rows, N] = X[rows, K] @ W[K, N] with W in HBM ([in, out] row-major, any format), X and Y in
// VRAM (activation layout). Requirements (InputError otherwise): K and N multiples of MLEN,
// X.cols == W rows == K, Y.cols == N, X.rows_alloc == Y.rows_alloc, a multiple of BLEN.
// K is split into chunks of at most `max_k_tiles` MLEN x MLEN tiles (0: as many as the free
// MRAM holds); chunk 0 writes Y, later chunks write a VRAM scratch [rows, MLEN] that V_ADD_VV adds
// into Y. MRAM and scratch are allocated from the plan and freed before returning.
struct LinearArgs {
  std::string name = "linear";  // kernel name (register attribution, comments, allocation names)
  std::string weight;           // HBM tensor name
  std::string input;            // VRAM tensor name
  std::string output;           // VRAM tensor name
  uint64_t max_k_tiles = 0;
  uint32_t precision = 0;       // H_PREFETCH_M precision bit (0 weight, 1 KV)
  // Chained linears (emitted back to back, nothing between them using MRAM; max_k_tiles 0): with
  // `next_weight` set, this call prefetches the next call's first K chunk during its own last
  // step and leaves its two chunk buffers allocated (MRAM "linear.chain"); the next call has
  // `chained` and starts multiplying without a fill. `chain_half` is which buffer holds the
  // chained call's first chunk (0 or 1): written by the call with next_weight, read by the
  // chained one (the caller keeps it between them).
  std::string next_weight = "";
  bool chained = false;
  uint64_t* chain_half = nullptr;
  // With next_weight: set to the MRAM element address its first chunk went to (inside MRAM
  // "linear.chain"), for a next kernel that is not a linear (RopeArgs::tile_block).
  uint64_t* handoff_address = nullptr;
  // Fused SwiGLU (the up projection): each finished output column block u becomes silu(g) * u in
  // this VRAM tensor's rows (g: its values; same shape as the output), under the next block's
  // multiplies: the bits of emit_swiglu(gate, up -> gate).
  std::string swiglu_gate = "";
  // Fused residual add (o_proj, down_proj): each finished output column block o becomes x + o in
  // this VRAM tensor's rows (same shape as the output), under the next block's multiplies: the
  // bits of emit_residual_add(x, o -> x). Not with swiglu_gate.
  std::string residual = "";
  // Fused RMSNorm (q_proj, gate_proj): the input is written as RMSNorm(norm->input) during the
  // first column block's multiplies, each row group one group ahead: emit_rmsnorm's bits.
  const RmsNormArgs* norm = nullptr;
};

// Returns the K tiles per chunk it chose.
uint64_t emit_linear(ProgramBuilder& b, MemoryPlan& plan, const LinearArgs& args);

// Batched matmul: C[i] = A[i] @ W[i] for i < batch, on emit_linear's loop nest (one pass per
// matrix, unrolled). A: VRAM [batch*rows, K] in the activation layout, matrix i's rows at i*rows;
// W: HBM tensor holding `batch` [K, N] matrices back to back (rows = batch*K, e.g. shape
// [batch, K, N], any format); C: VRAM [batch*rows, N]. Requirements (InputError otherwise): K and
// N multiples of MLEN, A.rows == C.rows a multiple of batch, rows a multiple of BLEN (a row group
// never spans two matrices). K-split as emit_linear (scratch [rows, MLEN]). Padding rows past
// batch*rows are left untouched.
struct BatchedMatmulArgs {
  std::string name = "bmm";
  std::string weight;  // HBM tensor name
  std::string input;   // VRAM tensor name
  std::string output;  // VRAM tensor name
  uint64_t batch = 1;
  uint64_t max_k_tiles = 0;
  uint32_t precision = 0;  // H_PREFETCH_M precision bit (0 weight, 1 KV)
};
uint64_t emit_batched_matmul(ProgramBuilder& b, MemoryPlan& plan, const BatchedMatmulArgs& args);

}  // namespace plena::compiler

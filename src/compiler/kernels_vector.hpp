// Vector-side kernels: RMSNorm (with weight), per-head RMSNorm, bias add, LayerNorm (affine),
// softmax, SiLU, GELU (tanh form), ReLU, SwiGLU, residual add, RoPE (rotate-half, llama3 scaling
// via model::rope_inv_freq) and embedding lookup. Each emits through a ProgramBuilder into
// memory laid out by a MemoryPlan. Layouts, constants and padding rules: docs/kernels-vector.md.
// Included through compiler.hpp.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

// Common rules (InputError when violated):
// - Activations are VRAM tensors in the activation layout. The kernels process the `rows` real
//   rows of the input; padded rows (rows_alloc > rows) are don't-care and left untouched.
// - Columns: `cols` real columns; the last column block may be partial. Reductions never see the
//   padding columns (they are masked, whatever finite values they hold); every kernel writes
//   0 to the output's padding columns when the input's padding columns are 0 (the loader's and
//   every kernel's invariant), so a following GEMM over the padded K is unaffected.
// - `output` may alias an input (same VRAM tensor name); otherwise it must have the input's
//   rows and cols.
// - Scratch VRAM rows / FP SRAM entries are allocated from the plan and freed before returning.
// - FP constants come from the plan's single constant table by name.

// Where a row vector parameter (norm weight/bias) comes from: a VRAM tensor [1, cols] or an HBM
// tensor [1, cols] (format = formats.v_act or v_kv, row stride >= ceil(cols/VLEN)*VLEN so a
// whole last block is read; loaded into scratch VRAM with H_PREFETCH_V). Auto: VRAM when a VRAM
// tensor of that name exists, else HBM.
enum class ParamSource : uint8_t { Auto, Vram, Hbm };

// y = x / sqrt(mean(x^2) + eps) * weight, mean over the REAL cols.
struct RmsNormArgs {
  std::string name = "rmsnorm";
  std::string input, output, weight;
  std::string eps = "eps";  // FP constant name (define_standard_constants defines "eps")
  ParamSource weight_source = ParamSource::Auto;
  // The mean's divisor when x is zero-padded past the model's width (hidden_size padded to MLEN):
  // the zero columns add nothing to the sum of squares. 0: cols.
  uint64_t mean_cols = 0;
};
void emit_rmsnorm(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a);

// Per-head RMSNorm (Qwen3 q_norm / k_norm): the row is cols / head_dim heads of head_dim columns;
// each head gets y = x / sqrt(mean over ITS head_dim columns of x^2 + eps) * weight[head_dim],
// the same weight for every head. `weight` is a [1, head_dim] parameter row (as RmsNormArgs).
// Geometry (InputError otherwise): cols % head_dim == 0 and either head_dim % VLEN == 0 (each head
// is head_dim/VLEN whole column blocks) or VLEN % head_dim == 0 (VLEN/head_dim heads share a
// block: each head's squares are isolated with a 0/1 mask row before V_RED_SUM, the per-head
// scales are combined through the masks and the weight is tiled across the block with V_SHFT_V).
// All-zero heads (e.g. zero padding columns up to a whole MLEN) stay exactly zero.
struct HeadRmsNormArgs {
  std::string name = "head_rmsnorm";
  std::string input, output, weight;
  uint64_t head_dim = 0;
  uint64_t mean_dim = 0;  // zero-padded heads (placed_head_dim): the model's head_dim; 0: head_dim
  std::string eps = "eps";
  ParamSource weight_source = ParamSource::Auto;
};
void emit_head_rmsnorm(ProgramBuilder& b, MemoryPlan& plan, const HeadRmsNormArgs& a);

// out = x + bias, the [1, cols] bias row (VRAM or HBM, as a norm weight) broadcast over the real
// rows. The bias's padding columns are masked to 0, so the output's padding columns stay 0.
struct BiasAddArgs {
  std::string name = "bias_add";
  std::string input, output, bias;
  ParamSource bias_source = ParamSource::Auto;
};
void emit_bias_add(ProgramBuilder& b, MemoryPlan& plan, const BiasAddArgs& a);

// y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance over the REAL cols, two-pass).
struct LayerNormArgs {
  std::string name = "layernorm";
  std::string input, output, weight, bias;  // bias "" = no bias
  std::string eps = "eps";
  ParamSource param_source = ParamSource::Auto;
};
void emit_layernorm(ProgramBuilder& b, MemoryPlan& plan, const LayerNormArgs& a);

// Row softmax over the REAL cols: y = exp(x - max) / sum. Padding columns are masked with a finite
// large negative value before the max and multiplied by 0 after exp (never -inf * 0).
struct SoftmaxArgs {
  std::string name = "softmax";
  std::string input, output;
};
void emit_softmax(ProgramBuilder& b, MemoryPlan& plan, const SoftmaxArgs& a);

// Element-wise activations.
//   SiLU: x * 1/(1 + exp(-x)).
//   GELU: the tanh form, torch gelu(approximate="tanh") = HF "gelu_pytorch_tanh"/"gelu_new":
//         0.5x(1 + tanh(k(x + 0.044715x^3))), k = sqrt(2/pi), computed exactly as
//         x * 1/(1 + exp(-2k(x + 0.044715x^3))). Not the erf GELU (bound in the docs).
//   ReLU: max(x, 0).
enum class Activation : uint8_t { Silu, Gelu, Relu };
struct ActivationArgs {
  std::string name = "activation";
  Activation kind = Activation::Silu;
  std::string input, output;
};
void emit_activation(ProgramBuilder& b, MemoryPlan& plan, const ActivationArgs& a);

// out = silu(gate) * up (HF LLaMA order).
struct SwiGluArgs {
  std::string name = "swiglu";
  std::string gate, up, output;
};
void emit_swiglu(ProgramBuilder& b, MemoryPlan& plan, const SwiGluArgs& a);

// out = gelu_tanh(gate) * up: the gated-GELU feed-forward of T5 v1.1 (gate = x·Wi0, up = x·Wi1),
// GELU in the tanh form computed exactly as emit_activation's.
struct GatedGeluArgs {
  std::string name = "gated_gelu";
  std::string gate, up, output;
};
void emit_gated_gelu(ProgramBuilder& b, MemoryPlan& plan, const GatedGeluArgs& a);

// out = a + b (residual add).
struct ResidualAddArgs {
  std::string name = "residual_add";
  std::string a, b, output;
};
void emit_residual_add(ProgramBuilder& b, MemoryPlan& plan, const ResidualAddArgs& a);

// ---- RoPE (rotate-half, HF LLaMA: pairs (i, i + d/2) within each head of head_dim) ----
// out = x * COS + swap(x) * SIN, where per row r (position p_r) and head-relative column j,
// i = j mod d/2: COS[r][j] = cos(p_r * inv_freq[i]), SIN[r][j] = -sin(..) for j < d/2 and
// +sin(..) for j >= d/2 (the rotate-half sign folded into the table), and swap exchanges the two
// halves of each head. Tables: VRAM [rows_alloc, W], W = max(VLEN, head_dim) (for head_dim <=
// VLEN the head pattern repeats across the row), one table row per activation row (so arbitrary
// per-row positions, e.g. decode offsets, cost nothing). Geometry:
//   head_dim <= VLEN (VLEN % head_dim == 0): swap is a 0/1 permutation matrix applied on the
//     matrix unit (M_MM with the swap tile in MRAM, exact: one non-zero product per output).
//     The swap matrix is an HBM weight tensor [round_up(MLEN, m_prefetch_amount), MLEN] in
//     formats.m_weight (0 and 1 are exact in every supported format).
//   head_dim > VLEN: head_dim/2 must be a multiple of VLEN; swap pairs whole column blocks.
struct RopeTables {
  uint64_t rows = 0, width = 0;  // host tables, row-major [rows, width]
  std::vector<float> cos, sin;   // sin carries the rotate-half sign
};
// Angles as model::rope_apply: angle = float(pos) * inv_freq[i] (f32), cos/sin in double, to f32.
RopeTables rope_tables(std::span<const float> inv_freq, uint64_t head_dim, uint64_t vlen,
                       std::span<const int64_t> positions);
// The [MLEN, MLEN] swap permutation (row-major, tile[k][n] = 1 when input k feeds output n).
std::vector<float> rope_swap_matrix(uint64_t head_dim, uint64_t mlen);
// Names of the placed tables: VRAM "<name>.cos" / "<name>.sin" [rows, W] (rows_alloc a multiple
// of BLEN) and, for head_dim <= VLEN, HBM "<name>.swap" (otherwise swap is "").
struct RopePlacement {
  std::string cos, sin, swap;
};
RopePlacement place_rope_tables(MemoryPlan& plan, const std::string& name, uint64_t rows, uint64_t head_dim);
// Rows of the HBM swap matrix: one H_PREFETCH_M (at least MLEN).
uint64_t rope_swap_rows(const config::HardwareConfig& cfg);

struct RopeArgs {
  std::string name = "rope";
  std::string input, output;  // VRAM [rows, heads*head_dim]; rows_alloc a multiple of BLEN when head_dim <= VLEN
  uint64_t head_dim = 0;
  RopePlacement tables;       // from place_rope_tables (rows_alloc >= the input's rows_alloc)
  // head_dim <= VLEN: consecutive calls share the swap tile (MRAM "<swap>.tile"). keep_swap leaves
  // it loaded after this call; swap_loaded uses the one left loaded (no prefetch).
  bool keep_swap = false, swap_loaded = false;
  // With swap_loaded: the tile is at MRAM element address tile_address inside MRAM block
  // tile_block (a chained linear's buffers, where the linear before prefetched it under its last
  // step: LinearArgs::next_weight = the swap matrix); "" is "<swap>.tile". The last call (no
  // keep_swap) frees the block.
  std::string tile_block = "";
  uint64_t tile_address = 0;
  // Columns [0, rotate_cols) rotate, the rest keep their values (in place only; 0 = every column).
  // A boundary inside a VLEN block must lie on an HLEN segment (V_MASK keeps the rest).
  uint64_t rotate_cols = 0;
  // head_dim <= VLEN: write each head with its halves swapped, swap(rope(x)) = swap(x)*COS - x*SIN
  // (exact: the same products and sum as rope then swap). Attention's Q copy undoes it with the
  // swap tile (AttentionArgs::copy_tile).
  bool swapped_output = false;
};
void emit_rope(ProgramBuilder& b, MemoryPlan& plan, const RopeArgs& a);

// ---- Embedding lookup: out[r] = table[token_ids[r]] (ids known at compile time) ----
// table: HBM [vocab, hidden] in formats.v_act (precision 0) or v_kv (1), row stride >=
// ceil(hidden/VLEN)*VLEN. H_PREFETCH_V moves v_prefetch_amount VLEN rows at once: with
// STRIDE_REG = 0 every one of them is the same table row chunk, so row r is DMA'd straight into
// out rows r..r+amount-1 in ascending row order (later rows overwrite the spill); the spill of
// block b lands in block b+1, which is written afterwards. Only the spill past the last block's
// rows_alloc goes to a scratch of `amount` rows, from which the wanted row is copied (x * 1.0).
struct EmbeddingArgs {
  std::string name = "embedding";
  std::string table;   // HBM tensor
  std::string output;  // VRAM tensor [token_ids.size(), hidden]
  std::vector<int64_t> token_ids;
};
void emit_embedding(ProgramBuilder& b, MemoryPlan& plan, const EmbeddingArgs& a);

// ---- Gather each sequence's last row (the final norm of a prefill step only needs those) ----
// output[b] = input[b * q_len + q_len - 1] for b < batch, every column (x + 0.0: exact).
// input: VRAM [>= batch * q_len, cols]; output: VRAM [>= batch, cols] (allocated by the caller).
struct GatherLastArgs {
  std::string name = "gather_last";
  std::string input, output;
  uint64_t batch = 1, q_len = 1;
};
void emit_gather_last(ProgramBuilder& b, MemoryPlan& plan, const GatherLastArgs& a);

// ---- Zero a tensor's padding columns [first_col, cols) on every allocated row ----
// (attention writes only num_heads * head_dim columns of an output padded to MLEN.)
// first_col and the tensor's rows_alloc must be multiples of BLEN.
struct ZeroColumnsArgs {
  std::string name = "zero_columns";
  std::string tensor;
  uint64_t first_col = 0;
};
void emit_zero_columns(ProgramBuilder& b, MemoryPlan& plan, const ZeroColumnsArgs& a);

}  // namespace plena::compiler

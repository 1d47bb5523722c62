// The linear kernel's GEMM passes, shared by linear.cpp and batched_matmul.cpp (not public API).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/kernels.hpp"
#include "compiler/kernels_vector.hpp"
#include "support/math.hpp"

namespace plena::compiler {


// One GEMM over explicit addresses: the rows [0, rows) of an input whose column blocks are
// x_block_stride apart, times the weight rows starting at HBM element offset w_offset, into an
// output whose column blocks are y_block_stride apart. The MRAM chunk and the K-split scratch
// ([rows, MLEN], rows consecutive) are the caller's.
// Row-wise vector work fused after a pass's output (an epilogue, e.g. SwiGLU on up_proj): once
// output column block n is complete, its rows are processed during block n+1's first K chunk, a
// few rows after each BLEN-wide sub-column's multiplies, so the vector unit works under the matrix
// unit; the last block's rows follow the pass.
class LinearEpilogue {
 public:
  virtual ~LinearEpilogue() = default;
  // Points the row registers at row 0 of the output block that starts `back` elements before the
  // address in `y_block`.
  virtual void begin(ProgramBuilder& b, GpReg y_block, uint64_t back) = 0;
  // The next `n` rows (the row registers advance past them).
  virtual void rows(ProgramBuilder& b, uint64_t n) = 0;
};

// Row-wise vector work that produces a pass's input (a prologue, e.g. RMSNorm before q_proj): the
// rows of row group g+1 run under row group g's multiplies in the first column block's first K
// chunk (row group 0's before them), so the vector unit works under the matrix unit.
class LinearPrologue {
 public:
  virtual ~LinearPrologue() = default;
  virtual uint64_t total_rows() const = 0;  // the real rows it writes (the pass may pad more)
  virtual uint64_t gp_registers() const = 0;  // what open() takes
  virtual void run_all(ProgramBuilder& b) = 0;  // every row now (where the linear cannot host it)
  // Takes the registers, pointing at row 0, and gives them back.
  virtual void open(ProgramBuilder& b) = 0;
  virtual void close() = 0;
  // The next `n` rows (the row registers advance past them).
  virtual void rows(ProgramBuilder& b, uint64_t n) = 0;
};

struct LinearPass {
  uint64_t x_base = 0, x_block_stride = 0;
  uint64_t y_base = 0, y_block_stride = 0;
  uint64_t rows = 0;  // a multiple of BLEN
  uint64_t w_offset = 0;
  LinearEpilogue* epilogue = nullptr;
  LinearPrologue* prologue = nullptr;
};

// RMSNorm as the prologue of the linear that reads its output (emit_rmsnorm's instructions, so the
// same bits). The caller emits nothing for it but the constructor's setup until open().
std::unique_ptr<LinearPrologue> rmsnorm_prologue(ProgramBuilder& b, MemoryPlan& plan, const RmsNormArgs& a);

// SwiGLU as an epilogue of the up projection: output block rows u become silu(g) * u in the gate
// tensor's matching rows (emit_swiglu's instructions, so the same bits).
std::unique_ptr<LinearEpilogue> swiglu_epilogue(ProgramBuilder& b, MemoryPlan& plan, const std::string& name,
                                                const VramTensor& gate, const VramTensor& up);

// The residual add as an epilogue of o_proj / down_proj: output block rows o become x + o in the
// residual tensor's matching rows (emit_residual_add's instruction, so the same bits).
std::unique_ptr<LinearEpilogue> residual_epilogue(ProgramBuilder& b, const VramTensor& residual, const VramTensor& out);

// Chained linears (LinearArgs::next_weight / chained): the two chunk buffers stay allocated as
// MRAM kChainMram from the call with `next` to the chained one.
inline constexpr const char* kChainMram = "linear.chain";
struct LinearChain {
  const HbmTensor* next = nullptr;  // prefetch its first chunk during the last step
  bool in = false;                  // the first chunk is already in half `in_half` of kChainMram
  uint64_t in_half = 0;
  uint64_t* out_half = nullptr;     // with next: which half the next kernel's first chunk is in
  uint64_t* out_address = nullptr;  // with next: that half's MRAM element address
};

// Runs linear passes sharing one K-chunk MRAM buffer (whole prefetches of m_prefetch_amount rows
// that fit the free MRAM, capped by max_k_tiles when non-zero) and, when K is split, one scratch
// [scratch_rows, MLEN]; both are freed afterwards. Returns the chunk size in MLEN tiles.
uint64_t emit_linear_passes(ProgramBuilder& b, MemoryPlan& plan, const std::string& name, const HbmTensor& w, uint64_t k,
                            uint64_t n, uint64_t scratch_rows, uint64_t max_k_tiles, uint32_t precision,
                            const std::string& what, const std::vector<LinearPass>& passes,
                            const LinearChain& chain = {});

}  // namespace plena::compiler

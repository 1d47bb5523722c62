// Batched matmul C[i] = A[i] @ W[i] on the linear kernel's passes (kernels.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels/linear_pass.hpp"
#include "support/support.hpp"

namespace plena::compiler {

uint64_t emit_batched_matmul(ProgramBuilder& b, MemoryPlan& plan, const BatchedMatmulArgs& a) {
  const config::HardwareConfig& cfg = b.config();
  const uint64_t mlen = cfg.geometry.mlen, blen = cfg.geometry.blen, vlen = cfg.geometry.vlen;
  auto fail = [&](std::string_view what) {
    throw InputError(fmt::format("kernel '{}': {}", a.name, what));
  };
  if (!plan.hbm_space().contains(a.weight)) fail(fmt::format("weight '{}' is not an HBM tensor", a.weight));
  for (const std::string* t : {&a.input, &a.output})
    if (!plan.vram_space().contains(*t)) fail(fmt::format("'{}' is not a VRAM tensor", *t));
  const HbmTensor& w = plan.hbm(a.weight);
  const VramTensor& x = plan.vram(a.input);
  const VramTensor& y = plan.vram(a.output);
  const uint64_t B = a.batch, K = x.cols, N = y.cols;
  if (B == 0) fail("batch must be at least 1");
  if (K % mlen || N % mlen)
    fail(fmt::format("K = {} and N = {} must be multiples of MLEN = {} (pad the graph)", K, N, mlen));
  if (x.rows != y.rows || x.rows % B)
    fail(fmt::format("input and output have {} and {} rows, expected equal and a multiple of batch {}", x.rows, y.rows,
                     B));
  const uint64_t rows = x.rows / B;
  if (rows % blen)
    fail(fmt::format("{} rows per matrix must be a multiple of BLEN = {} (a row group never spans two matrices)", rows,
                     blen));
  if (w.rows != B * K || w.cols != N)
    fail(fmt::format("weight '{}' is [{}, {}], expected {} matrices [K = {}, N = {}] back to back ([{}, {}])", w.name,
                     w.rows, w.cols, B, K, N, B * K, N));
  if (vlen != mlen) fail("VLEN must equal MLEN");

  // One linear pass per matrix (unrolled: the pass is already register-bound): matrix i's rows
  // start i*rows rows into every column block, its weight i*K HBM rows into the tensor.
  std::vector<LinearPass> passes;
  for (uint64_t i = 0; i < B; ++i)
    passes.push_back({x.base() + i * rows * vlen, x.rows_alloc * vlen, y.base() + i * rows * vlen, y.rows_alloc * vlen,
                      rows, i * K * w.row_stride});
  return std::min<uint64_t>(K / mlen,
      emit_linear_passes(b, plan, a.name, w, K, N, rows, a.max_k_tiles, a.precision,
                     fmt::format("{} x [{}, {}] @ {} [{}, {}] -> {}", B, rows, K, w.name, K, N, y.name), passes));
}

namespace {

void batched_matmul_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const auto& cfg = plan.config();
  const uint64_t batch = s.get("batch"), rows = s.get("rows"), k = s.get("k"), n = s.get("n");
  plan.place_hbm("w", TensorClass::Weight, {batch * k, n}, cfg.formats.m_weight);
  VramPlaceOptions vo;
  vo.row_multiple = cfg.geometry.blen;
  plan.alloc_vram("a", batch * rows, k, vo);
  plan.alloc_vram("c", batch * rows, n, vo);
  emit_batched_matmul(b, plan,
                      {.name = "bmm", .weight = "w", .input = "a", .output = "c", .batch = batch,
                       .max_k_tiles = s.get("max_k_tiles")});
}

}  // namespace

extern const KernelEntry kBatchedMatmulKernel;
const KernelEntry kBatchedMatmulKernel{"batched_matmul", "C[i] = A[i] @ W[i]",
                                       {"batch", "rows", "k", "n", "max_k_tiles"},
                                       batched_matmul_standalone, KernelSchedule::StreamedWeights,
    {{2, 16, 512, 256, 0}, {4, 8, 1024, 128, 4}}};

}  // namespace plena::compiler

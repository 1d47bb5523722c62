// The one description of a model step: which kernels run, in which order, on which shapes. The model
// compiler emits from it (each call bound to the step's tensors), the analytic model costs each
// call (compiler::count_kernel on the call's shape) and the validation set can enumerate it.
// Adding an architecture feature (a bias, a norm, a window) changes this plan and nothing else.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels_attention.hpp"
#include "compiler/kernels_vector.hpp"
#include "model/model.hpp"

namespace plena::compiler {

// One device's share of the model: compiler::tensor_shard(m, tp) (shard.hpp), widths zero-padded
// to whole MLEN tiles, heads zero-padded to placed_head_dim (docs/compiler.md, "Padding").
// model_hidden and model_head_dim are the model's own widths: the norms' means and the softmax
// scale use them.
struct ModelDims {
  uint64_t hidden = 0, q_cols = 0, kv_cols = 0, inter = 0, vocab = 0;
  uint64_t heads = 0, kv_heads = 0, head_dim = 0, window = 0;
  uint64_t model_hidden = 0, model_head_dim = 0;
  bool attention_bias = false, qk_norm = false, o_proj_bias = false;
  // One K|V projection (weights [W_k | W_v], output = the combined cache row) when K and V share an
  // MLEN row and nothing but RoPE touches k or v before the store (no biases, no q/k norms).
  bool fused_kv = false;
  // The residual adds run as epilogues of o_proj / down_proj (LinearArgs::residual); not when the
  // partial sums of a tensor-parallel split are reduced after the projection.
  bool fused_residual = true;
};
ModelDims model_dims(const model::ModelConfig& m, const config::HardwareConfig& cfg, uint32_t tp = 1);

// One step: batch sequences of q_len new tokens after `past` cached ones, caches of `capacity` rows.
// logits: the step ends with the final norm and LM head; a chunked prefill's earlier chunks
// (prefill_schedule) only fill the KV caches and have no tail.
struct StepDims {
  uint64_t batch = 1, q_len = 1, past = 0, capacity = 0;
  bool logits = true;
};
// Physical rows of every activation of a step: attention and the KV store move whole row groups
// from each sequence's first row, so the last sequence's group may run past batch * q_len.
uint64_t step_rows_alloc(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len);

// What binds a plan to a model program's tensors (ModelCompiler::compile_step provides it).
struct StepBinding {
  const KvCacheLayout* kv = nullptr;
  const RopePlacement* rope = nullptr;
  const std::vector<int64_t>* token_ids = nullptr;
  std::string identity;                                              // attention identity tensor, "" none
  std::function<void(const std::string& name, uint64_t cols)> alloc;  // an activation of the step's height
  std::function<void(const std::string& name)> free;
};

struct PlannedCall {
  std::string kernel;  // registry name: what the cost model counts
  std::string name;    // "q_proj"; a layer's calls are "layers.<i>.<name>" in the program
  KernelShape shape;
  bool all_reduce_after = false;  // tensor parallel: partial sums are reduced after this call
  // Set when the plan is bound: allocates, emits with the layer prefix, frees.
  std::function<void(ProgramBuilder&, MemoryPlan&, const std::string& prefix)> emit;
};

struct StepPlan {
  std::vector<PlannedCall> head;   // once per step, before the layers
  std::vector<PlannedCall> layer;  // once per layer
  std::vector<PlannedCall> tail;   // once per step, after the layers (final norm, LM head); empty without logits
  std::shared_ptr<const void> owner;  // what the bound calls refer to
};
StepPlan step_plan(const ModelDims& m, const config::HardwareConfig& cfg, const StepDims& s,
                   const StepBinding* bind = nullptr);

}  // namespace plena::compiler

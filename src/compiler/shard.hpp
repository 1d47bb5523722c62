// The tensor- and pipeline-parallel split of a model over several PLENA devices: the one rule
// that `plena estimate` costs and `plena run --devices` compiles (docs/run.md "Multi-device runs").
#pragma once
#include <cstdint>
#include <vector>

#include "model/model.hpp"

namespace plena::compiler {

// One tensor-parallel shard of `m` over tp devices: attention heads, FFN columns (intermediate
// size) and the vocabulary (LM head and embedding rows) divided by tp, rounded up; kv heads
// divided too, replicated (one per shard) when tp exceeds them. Layers and widths unchanged.
model::ModelConfig tensor_shard(const model::ModelConfig& m, uint32_t tp);

// Stage `index` of a pipeline over pp devices: consecutive layers, the first layers % pp stages
// one layer more. The first stage also embeds the tokens, the last runs the final norm and LM head.
struct PipelineStage {
  uint32_t index = 0;
  uint64_t first_layer = 0, layers = 0;
  bool first = true, last = true;
};
std::vector<PipelineStage> pipeline_stages(uint64_t layers, uint32_t pp);

// An explicit split: tp x pp devices. A zero degree is devices / the other; InputError when the
// product is not `devices`, tp exceeds the attention heads or pp the layers.
struct Split {
  uint32_t tp = 1, pp = 1;
};
Split explicit_split(const model::ModelConfig& m, uint32_t devices, uint32_t tp, uint32_t pp);

}  // namespace plena::compiler

// Tensor- and pipeline-parallel split rule (shard.hpp).
#include "compiler/shard.hpp"

#include <fmt/format.h>

#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::compiler {

model::ModelConfig tensor_shard(const model::ModelConfig& m, uint32_t tp) {
  model::ModelConfig s = m;
  if (tp <= 1) return s;
  const auto split = [tp](int64_t v) { return int64_t(ceil_div(uint64_t(v), uint64_t(tp))); };
  s.head_dim = m.head_dim;  // stays explicit: hidden / heads no longer gives it
  s.num_attention_heads = split(m.num_attention_heads);
  s.num_key_value_heads = split(m.num_key_value_heads);  // 1 (replicated) when tp > kv heads
  s.intermediate_size = split(m.intermediate_size);
  s.vocab_size = split(m.vocab_size);
  s.name = fmt::format("{} (tensor shard 1/{})", m.name, tp);
  return s;
}

std::vector<PipelineStage> pipeline_stages(uint64_t layers, uint32_t pp) {
  std::vector<PipelineStage> out;
  uint64_t next = 0;
  for (uint32_t s = 0; s < pp; ++s) {
    PipelineStage st;
    st.index = s;
    st.first_layer = next;
    st.layers = layers / pp + (s < layers % pp ? 1 : 0);
    st.first = s == 0;
    st.last = s + 1 == pp;
    next += st.layers;
    out.push_back(st);
  }
  return out;
}

Split explicit_split(const model::ModelConfig& m, uint32_t devices, uint32_t tp, uint32_t pp) {
  if (devices == 0) throw InputError("--devices: error: must be at least 1");
  if (tp == 0 && pp == 0) throw std::logic_error("explicit_split: tp or pp must be given");
  if (tp == 0) tp = pp <= devices ? devices / pp : 0;
  if (pp == 0) pp = tp <= devices ? devices / tp : 0;
  if (tp == 0 || pp == 0 || uint64_t(tp) * pp != devices)
    throw InputError(fmt::format("--tp/--pp: error: --tp {} x --pp {} must equal --devices {}", tp, pp, devices));
  if (tp > uint64_t(m.num_attention_heads))
    throw InputError(fmt::format("--tp: error: {} exceeds the model's {} attention heads (a shard needs at least one)",
                                 tp, m.num_attention_heads));
  if (pp > uint64_t(m.num_hidden_layers))
    throw InputError(fmt::format("--pp: error: {} exceeds the model's {} layers (a stage needs at least one)", pp,
                                 m.num_hidden_layers));
  return {tp, pp};
}

}  // namespace plena::compiler

// Memory estimate of run/compile (docs/run.md "Memory check").
#include "runner/resources.hpp"

#include <algorithm>

#include "compiler/layer_plan.hpp"
#include "numerics/numerics.hpp"
#include "sim/resources.hpp"
#include "sim/sim.hpp"

namespace plena::runner::detail {
namespace {

constexpr uint64_t kWorkingSet = uint64_t(64) << 20;  // compiler, programs, simulator bookkeeping

uint64_t u(int64_t v) { return v > 0 ? uint64_t(v) : 0; }

uint64_t format_bytes(const numerics::Format& f, uint64_t elems) {
  const double b = double(elems) * f.bits_per_element() / 8.0;
  return b >= 1.8e19 ? kSaturatedBytes : uint64_t(b) + 1;
}

uint64_t checkpoint_dtype_bytes(const model::ModelConfig& cfg) {
  return cfg.torch_dtype == "float32" ? 4 : 2;
}

uint64_t vocab_table(const model::ModelConfig& cfg) { return sat_mul({u(cfg.vocab_size), u(cfg.hidden_size)}); }

// A bf16 checkpoint's vocabulary-sized tables (embedding, untied head) are read in place from the
// mapped file, never converted to f32.
uint64_t in_place_elements(const model::ModelConfig& cfg, bool checkpoint) {
  if (!checkpoint || cfg.torch_dtype != "bfloat16") return 0;
  return sat_mul({vocab_table(cfg), cfg.tie_word_embeddings ? 1u : 2u});
}

// The model as the compiler places it: widths zero-padded to the tiles (compiler::model_dims).
model::ModelConfig placed_config(const model::ModelConfig& cfg, const config::HardwareConfig& hw) {
  const compiler::ModelDims d = compiler::model_dims(cfg, hw);
  model::ModelConfig p = cfg;
  p.hidden_size = int64_t(d.hidden), p.intermediate_size = int64_t(d.inter), p.vocab_size = int64_t(d.vocab);
  p.head_dim = int64_t(d.head_dim);
  return p;
}

// HBM pages the weights and KV caches occupy in their formats, at the placed widths. A run writes
// only the embedding rows it looks up (`lookups`, each at most an element page and a scale page);
// compile all of them.
uint64_t hbm_image_bytes(const model::ModelConfig& model, const config::HardwareConfig& hw, uint64_t batch,
                         uint64_t positions, uint64_t lookups = ~uint64_t(0)) {
  const model::ModelConfig cfg = placed_config(model, hw);
  const uint64_t linear = cfg.linear_param_count() + (cfg.tie_word_embeddings ? vocab_table(cfg) : 0);
  const uint64_t rest = cfg.param_count() > cfg.linear_param_count() ? cfg.param_count() - cfg.linear_param_count() : 0;
  const uint64_t table = format_bytes(hw.formats.v_act, vocab_table(cfg));
  const uint64_t kv = sat_mul({2, u(cfg.num_hidden_layers), compiler::model_dims(model, hw).kv_cols, positions, batch});
  const uint64_t rows = std::min(table, sat_mul({lookups, 2, sim::HbmStore::kPageBytes}));
  return sat_add(sat_add(format_bytes(hw.formats.m_weight, linear),
                         sat_add(format_bytes(hw.formats.v_act, rest) - table, rows)),
                 format_bytes(hw.formats.m_kv, kv));
}

// The quantized reference: linear weights and norms in f32, its LM head in bf16 words where the
// matrix SRAM type's values are bf16 values; its embedding table is never converted (rows are
// quantized as looked up).
uint64_t quantized_reference_bytes(const model::ModelConfig& cfg, const config::HardwareConfig& hw) {
  const numerics::Format& m = hw.sram.matrix_type;
  const uint64_t head_bytes = m.width <= 16 && m.ebits <= 8 && m.mbits <= 7 ? 2 : 4;
  const uint64_t head = vocab_table(cfg), all = cfg.param_count();
  const uint64_t tables = cfg.tie_word_embeddings ? head : sat_mul({head, 2});  // the embedding, an untied head
  const uint64_t f32 = all > tables ? all - tables : 0;
  return sat_add(sat_mul({f32, 4}), sat_mul({head, head_bytes}));
}

// One forward pass of `tokens` tokens: the reference's working vectors (f32) and one logits row.
uint64_t forward_bytes(const model::ModelConfig& cfg, uint64_t tokens) {
  const uint64_t per_token = 6 * u(cfg.hidden_size) + 3 * u(cfg.q_dim()) + 2 * u(cfg.kv_dim()) +
                             4 * u(cfg.intermediate_size);
  return sat_add(sat_mul({tokens, per_token, 4}), sat_mul({u(cfg.vocab_size), 4}));
}

uint64_t largest_tensor_bytes(const model::ModelConfig& cfg) {
  const uint64_t h = u(cfg.hidden_size);
  return sat_mul({4, std::max({sat_mul({u(cfg.vocab_size), h}), sat_mul({u(cfg.intermediate_size), h}),
                              sat_mul({u(cfg.q_dim()), h})})});
}

}  // namespace

MemoryNeed run_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                           uint64_t positions, bool data, bool checkpoint) {
  MemoryNeed n;
  n.add("toolchain working set", kWorkingSet);
  n.add(sim::simulator_memory(hw, data));
  if (!data) return n;  // timing-only: no weights, no HBM data, only the INT SRAM
  n.add("host weights (f32)", sat_mul({cfg.param_count() - in_place_elements(cfg, checkpoint), 4}));
  if (checkpoint) n.add("checkpoint file bytes while converting", sat_mul({cfg.param_count(), checkpoint_dtype_bytes(cfg)}));
  n.add("quantized reference weights", quantized_reference_bytes(cfg, hw));
  n.add("HBM image", hbm_image_bytes(cfg, hw, batch, positions, sat_mul({batch, positions})));
  const uint64_t widest = std::max({u(cfg.vocab_size), u(cfg.intermediate_size), u(cfg.q_dim()), u(cfg.hidden_size)});
  n.add("staging of weight rows", sat_mul({std::max(kImageChunkElems, sat_mul({kImageChunkRows, widest})), 4}));
  // Three references (fp32, quantized, quantized without activation rounding) keep an f32 KV
  // cache per sequence; a greedy continuation copies one sequence's cache of one of them.
  const uint64_t kv_seq = sat_mul({2, u(cfg.num_hidden_layers), u(cfg.kv_dim()), positions, 4});
  n.add("reference KV caches (f32)", sat_add(sat_mul({kv_seq, batch, 3}), kv_seq));
  n.add("reference activations", forward_bytes(cfg, positions));
  return n;
}

MemoryNeed compile_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                               uint64_t positions, bool weights, bool checkpoint) {
  MemoryNeed n;
  n.add("toolchain working set", kWorkingSet);
  if (!weights) return n;
  n.add("host weights (f32)", sat_mul({cfg.param_count(), 4}));
  if (checkpoint) n.add("checkpoint file bytes while converting", sat_mul({cfg.param_count(), checkpoint_dtype_bytes(cfg)}));
  n.add("staging of one weight tensor", sat_mul({largest_tensor_bytes(cfg), 2}));
  // hbm.bin is built in memory (an HBM store + a byte copy) when the image is at most 1 GiB.
  const uint64_t image = hbm_image_bytes(cfg, hw, batch, positions);
  if (image <= (uint64_t(1) << 30)) {
    n.add("dense HBM image (hbm.bin)", sat_mul({image, 2}));
    n.add("HBM page table", sim::hbm_page_table_bytes(hw), "hbm.size_bytes");
  }
  return n;
}

}  // namespace plena::runner::detail

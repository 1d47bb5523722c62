// The run report's numerics: which formats a run applies, a host reference quantized the same way,
// and the verdict that judges the simulator's agreement against it (docs/run.md "Verdict").
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"
#include "sim/sim.hpp"

namespace plena::runner::detail {

RunFormats applied_formats(const config::HardwareConfig& hw, const model::ModelConfig& cfg, bool from_checkpoint);

// The checkpoint as the hardware holds it: linear weights and the LM head through m_weight (blocks
// along a row of the [in, out] HBM layout) then the matrix SRAM type; embedding, norms and biases
// through v_act then the vector SRAM type. A tied LM head becomes its own tensor (it is stored in
// m_weight, the embedding in v_act), so the returned config is untied. Its embedding table is lazy
// (quantized as a whole only when read) and reads `w` and `hw`, which must outlive it.
struct QuantizedModel {
  model::ModelConfig config;
  model::ModelWeights weights;
};
// The LM head as an HBM image holds it ([in, out] rows encoded in m_weight). Where its rows are
// exactly the HF columns (no padding) and m_weight is a block format, decoding them gives what
// quantizing the checkpoint's head again would, so quantize_like_hardware decodes instead.
struct EncodedHead {
  const sim::HbmStore& hbm;
  numerics::HbmTensor tensor;
};
QuantizedModel quantize_like_hardware(const model::ModelConfig& cfg, const model::ModelWeights& w,
                                      const config::HardwareConfig& hw, const EncodedHead* head = nullptr);
// Activations rounded to the vector SRAM type; K/V rows through m_kv then the matrix SRAM type.
model::ReferenceRounding hardware_rounding(const config::HardwareConfig& hw);
// Token t's embedding row as HBM holds it (v_act, then the vector SRAM type), looked up in `w`:
// what the quantized model's table holds at that row, without quantizing the whole table.
// `w` and `hw` must outlive it.
std::function<void(model::TokenId, std::span<float>)> stored_embedding(const model::ModelWeights& w,
                                                                        const config::HardwareConfig& hw);

// Largest error, smallest cosine, top-1 agreement and largest miss margin over many comparisons.
struct AgreementTotals {
  double max_abs = 0, min_cosine = 1, max_miss_margin = 0;
  uint64_t compared = 0, top1 = 0;
  void add(const Agreement& a);
  double top1_rate() const { return compared ? double(top1) / double(compared) : 1.0; }
};

struct VerdictInputs {
  AgreementTotals sim_vs_fp32, quant_vs_fp32, sim_vs_quant;
  // Quantized reference vs the same without activation rounding: the on-chip rounding's effect.
  AgreementTotals quant_vs_stored;
  double ref_logit_max = 0;  // largest |fp32 reference logit|: the scale of the fp32 noise floor
  double quant_greedy_match = 1;
  std::string formats_label;  // short, e.g. "MXFP8 weights/KV, bf16 on chip"
};
Verdict judge(const VerdictInputs& in);

// Fraction of positions where two per-sequence token lists agree (1 when there is none).
double token_match(const std::vector<std::vector<int64_t>>& a, const std::vector<std::vector<int64_t>>& b);

}  // namespace plena::runner::detail

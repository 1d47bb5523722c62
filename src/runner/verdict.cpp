// Formats a run applies, the host reference quantized like the hardware, and the verdict
// (docs/run.md "Verdict").
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <memory>
#include <cmath>
#include <functional>

#include "numerics/numerics.hpp"
#include "runner/runner_numerics.hpp"
#include "sim/sim.hpp"
#include "support/big_buffer.hpp"
#include "support/transpose.hpp"

namespace plena::runner::detail {
namespace {

bool is_matrix_weight(const std::string& name) {
  return name == "lm_head.weight" || name.ends_with("_proj.weight");
}

void round_elements(const numerics::Format& f, std::span<float> v) {
  const bool plain = f.codec == numerics::Codec::Plain;
  if (plain && f.mbits >= 23 && f.ebits == 8) return;  // fp32: identity
  if (plain && f.ebits == 8 && f.mbits == 7 && !f.finite_only) {
    // bf16, the common SRAM type: round_to_format's own rule without its per-element dispatch.
    for (float& x : v) x = std::isnan(x) ? x : sim::Rounder::bf16(x);  // inline: the loop vectorizes
    return;
  }
  for (float& x : v) x = numerics::round_to_format(x, f);
}

// Columns [i0, i0 + n) of the HF [out, in] matrix `name` as the rows of block [n, out] (a bf16
// source is read in place), each quantized as its HBM row: m_weight, then the matrix SRAM type.
// Reading kCols columns at a time gets each HF row a cache line at a time.
void quantized_columns(const model::ModelWeights& w, const std::string& name, size_t i0, size_t n,
                       const config::HardwareConfig& hw, std::vector<float>& block) {
  const size_t out = w.shape(name).at(0), in = w.shape(name).at(1);
  const std::span<const uint16_t> b16 = w.bf16_values(name);
  const float* f32 = b16.empty() ? w.get(name).data.data() : nullptr;
  resize_staging(block, n * out);
  for (size_t o = 0; o < out; ++o)
    for (size_t c = 0; c < n; ++c)
      block[c * out + o] = f32 ? f32[o * in + i0 + c] : std::bit_cast<float>(uint32_t(b16[o * in + i0 + c]) << 16);
  for (size_t c = 0; c < n; ++c) {
    std::span<float> row(block.data() + c * out, out);
    numerics::fake_quantize(hw.formats.m_weight, row);
    round_elements(hw.sram.matrix_type, row);
  }
}

constexpr size_t kCols = 32;  // a bf16 table's row gets a whole cache line per block

model::Tensor quantize_matrix(const model::ModelWeights& w, const std::string& name, const config::HardwareConfig& hw) {
  const std::vector<size_t>& shape = w.shape(name);
  const size_t out = shape.at(0), in = shape.at(1);
  model::Tensor t{shape, zeroed_floats(out * in)};  // each element written once below
  std::vector<float> block;
  for (size_t i0 = 0; i0 < in; i0 += kCols) {
    const size_t n = std::min(kCols, in - i0);
    quantized_columns(w, name, i0, n, hw, block);
    for (size_t o = 0; o < out; ++o)
      for (size_t c = 0; c < n; ++c) t.data[o * in + i0 + c] = block[c * out + o];
  }
  return t;
}

// Columns [i0, i0 + n) of the head, quantized, as the rows of `block` (`out` floats apart).
using QuantizedColumns = std::function<void(size_t i0, size_t n, std::vector<float>& block)>;

// The HBM rows [i0, i0 + n) of `head` decoded (each an HF column), then the matrix SRAM type.
QuantizedColumns decoded_columns(const EncodedHead& head, const config::HardwareConfig& hw) {
  return [&head, &hw](size_t i0, size_t n, std::vector<float>& block) {
    const numerics::HbmTensor& t = head.tensor;
    const numerics::Format& f = t.format;
    std::vector<uint8_t> elems(numerics::packed_element_bytes(f, t.cols)), scales(numerics::scale_bytes(f, t.cols));
    resize_staging(block, n * t.cols);
    for (size_t c = 0; c < n; ++c) {
      const uint64_t e = (i0 + c) * t.stride();
      head.hbm.read(t.element_address(e), elems);
      head.hbm.read(t.scale_address(e), scales);
      std::span<float> row(block.data() + c * t.cols, t.cols);
      numerics::decode_row(f, elems, scales, row);
      round_elements(hw.sram.matrix_type, row);
    }
  };
}

// The head [out, in] as bf16 words (out * in of them), half the memory for a vocabulary-sized
// head; null when some value is not a bf16 value (a matrix SRAM type wider than bf16), and the
// caller keeps f32. The words are not zeroed first: every one is written below.
std::shared_ptr<uint16_t[]> quantize_matrix_bf16(size_t out, size_t in, const QuantizedColumns& columns) {
  std::shared_ptr<uint16_t[]> table(new uint16_t[out * in]);
  advise_huge_pages(table.get(), out * in * sizeof(uint16_t));
  prefault(table.get(), out * in * sizeof(uint16_t));
  std::vector<float> block;
  for (size_t i0 = 0; i0 < in; i0 += kCols) {
    const size_t n = std::min(kCols, in - i0);
    columns(i0, n, block);
    if (transpose_f32_to_bf16(block.data(), out, n, out, table.get() + i0, in) != 0) return nullptr;
  }
  return table;
}

// Whether `head` holds exactly the quantized HF head `name` (see EncodedHead).
bool head_decodes(const EncodedHead* head, const model::ModelWeights& w, const std::string& name,
                  const config::HardwareConfig& hw) {
  if (!head || head->tensor.format != hw.formats.m_weight || !hw.formats.m_weight.is_block()) return false;
  const std::vector<size_t>& shape = w.shape(name);
  return head->tensor.cols == shape.at(0) && head->tensor.rows == shape.at(1);
}

// The matrix `name` quantized, as bf16 words (null as quantize_matrix_bf16); a head the HBM image
// holds exactly is decoded from there.
std::shared_ptr<uint16_t[]> quantize_bf16(const model::ModelWeights& w, const std::string& name,
                                          const config::HardwareConfig& hw, const EncodedHead* head) {
  const std::vector<size_t>& shape = w.shape(name);
  if (head_decodes(head, w, name, hw)) return quantize_matrix_bf16(shape.at(0), shape.at(1), decoded_columns(*head, hw));
  return quantize_matrix_bf16(shape.at(0), shape.at(1), [&](size_t i0, size_t n, std::vector<float>& block) {
    quantized_columns(w, name, i0, n, hw, block);
  });
}

// One HBM row of a vector tensor (embedding row, norm weight, bias): v_act, then the vector SRAM type.
void quantize_row(std::span<float> row, const config::HardwareConfig& hw) {
  numerics::fake_quantize(hw.formats.v_act, row);
  round_elements(hw.sram.vector_type, row);
}

// Embedding rows, norm weights and biases: each row of the HF layout is an HBM row.
void quantize_rows(model::Tensor& t, const config::HardwareConfig& hw) {
  const size_t width = t.shape.back(), rows = width ? t.data.size() / width : 0;
  for (size_t r = 0; r < rows; ++r) quantize_row(std::span<float>(t.data.data() + r * width, width), hw);
}

// "MXFP8" / "MXINT8" / "BFP int4" / the format's name: the short form of the verdict line.
std::string short_format(const numerics::Format& f) {
  using numerics::Codec;
  if (f.codec == Codec::PlenaHwMxfp || f.codec == Codec::OcpMx)
    return f.is_int ? fmt::format("MXINT{}", f.width) : fmt::format("MXFP{}", f.width);
  if (f.codec == Codec::MaseBfp) return fmt::format("BFP {}", f.element);
  return f.name();
}

}  // namespace

RunFormats applied_formats(const config::HardwareConfig& hw, const model::ModelConfig& cfg, bool from_checkpoint) {
  RunFormats r;
  r.weights = hw.formats.m_weight.name();
  r.vectors = hw.formats.v_act.name();
  r.kv = hw.formats.m_kv.name();
  r.activations = hw.sram.vector_type.name();
  r.matrix_sram = hw.sram.matrix_type.name();
  r.fp_sram = hw.sram.fp_type.name();
  r.checkpoint = from_checkpoint ? fmt::format("checkpoint torch_dtype {}", cfg.torch_dtype)
                                 : std::string("preset: random float32 weights");
  r.label = fmt::format("{} weights, {} KV, {} activations", short_format(hw.formats.m_weight),
                        short_format(hw.formats.m_kv), short_format(hw.sram.vector_type));
  return r;
}

QuantizedModel quantize_like_hardware(const model::ModelConfig& cfg, const model::ModelWeights& w,
                                      const config::HardwareConfig& hw, const EncodedHead* head) {
  QuantizedModel q;
  q.config = cfg;
  q.config.tie_word_embeddings = false;
  // The tensors the model uses, each copied once (a checkpoint's other tensors stay unconverted).
  // The embedding table is quantized only if asked for: the references look rows up through
  // stored_embedding instead.
  const std::string embed = "model.embed_tokens.weight";
  q.weights.set_lazy(embed, w.shape(embed), [&w, embed, &hw](std::span<float> out) {
    w.read(embed, 0, out);
    const size_t width = w.shape(embed).back();
    for (size_t r = 0; width && r < out.size() / width; ++r) quantize_row(out.subspan(r * width, width), hw);
  });
  for (const auto& [name, shape] : model::expected_tensors(q.config)) {
    if (name == embed) continue;
    const bool tied_head = cfg.tie_word_embeddings && name == "lm_head.weight";
    const std::string& src = tied_head ? embed : name;
    if (is_matrix_weight(name)) {
      // bf16 words where every value is one: the references read them in place (HostReference::Matrix).
      if (auto table = quantize_bf16(w, src, hw, name == "lm_head.weight" ? head : nullptr)) {
        const std::span<const uint16_t> words(table.get(), shape.at(0) * shape.at(1));
        q.weights.set_lazy(name, shape, [words](std::span<float> out) {
          for (size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(uint32_t(words[i]) << 16);
        }, {words, table});
        continue;
      }
      q.weights.set(name, quantize_matrix(w, src, hw));
      continue;
    }
    model::Tensor t = w.get(src);
    quantize_rows(t, hw);
    q.weights.set(name, std::move(t));
  }
  return q;
}

std::function<void(model::TokenId, std::span<float>)> stored_embedding(const model::ModelWeights& w,
                                                                        const config::HardwareConfig& hw) {
  return [&w, &hw](model::TokenId t, std::span<float> row) {
    w.read("model.embed_tokens.weight", size_t(t) * row.size(), row);
    quantize_row(row, hw);
  };
}

model::ReferenceRounding hardware_rounding(const config::HardwareConfig& hw) {
  model::ReferenceRounding r;
  const numerics::Format act = hw.sram.vector_type, kv = hw.formats.m_kv, mat = hw.sram.matrix_type;
  r.activation = [act](std::span<float> row) { round_elements(act, row); };
  r.kv_row = [kv, mat](std::span<float> row) {
    numerics::fake_quantize(kv, row);
    round_elements(mat, row);
  };
  return r;
}

void AgreementTotals::add(const Agreement& a) {
  max_abs = std::max(max_abs, a.max_abs);
  min_cosine = std::min(min_cosine, a.cosine);
  max_miss_margin = std::max(max_miss_margin, a.miss_margin);
  ++compared;
  top1 += a.top1;
}

double token_match(const std::vector<std::vector<int64_t>>& a, const std::vector<std::vector<int64_t>>& b) {
  uint64_t same = 0, total = 0;
  for (size_t s = 0; s < a.size(); ++s)
    for (size_t i = 0; i < a[s].size(); ++i) {
      ++total;
      same += s < b.size() && i < b[s].size() && a[s][i] == b[s][i];
    }
  return total ? double(same) / double(total) : 1.0;
}

Verdict judge(const VerdictInputs& in) {
  Verdict v;
  v.quant_max_abs = in.quant_vs_fp32.max_abs;
  v.quant_min_cosine = in.quant_vs_fp32.min_cosine;
  v.quant_top1 = in.quant_vs_fp32.top1_rate();
  v.quant_greedy_match = in.quant_greedy_match;
  v.sim_vs_quant_max_abs = in.sim_vs_quant.max_abs;
  v.sim_vs_quant_min_cosine = in.sim_vs_quant.min_cosine;
  v.sim_vs_quant_top1 = in.sim_vs_quant.top1_rate();
  v.sim_vs_quant_miss_margin = in.sim_vs_quant.max_miss_margin;
  // Weights and KV are quantized exactly as stored; activations are rounded at stage boundaries
  // while the kernels also round inside them (partial sums, softmax, RMS in the SRAM types). That
  // rounding is independent of the emulation's and happens at up to twice as many places, so the
  // simulator may sit up to three times the on-chip effect from the quantized reference (1 for
  // the emulation's own rounding, 2 for the simulator's), plus the fp32 summation-order floor.
  v.onchip_max_abs = in.quant_vs_stored.max_abs;
  const double floor = 1e-5 * std::max(1.0, in.ref_logit_max);
  v.bound = 3 * in.quant_vs_stored.max_abs + floor;
  const bool close = in.sim_vs_quant.max_abs <= v.bound;
  // A top-1 miss against the quantized reference must be a near tie: within the residual error.
  const bool ties = in.sim_vs_quant.max_miss_margin <= 2 * in.sim_vs_quant.max_abs + floor;
  if (close && ties && in.quant_vs_fp32.max_abs == 0) {
    v.status = "consistent";
    v.reason = fmt::format("every format is exact for these values (no quantization); the simulator matches the fp32 "
                           "reference within {:.3g} (expected <= {:.3g}, the summation-order floor)",
                           in.sim_vs_quant.max_abs, v.bound);
  } else if (close && ties) {
    v.status = "consistent";
    v.reason = fmt::format("the simulator is within {:.3g} of a host reference quantized the same way (expected "
                           "<= {:.3g}, 3x the on-chip rounding's effect); the difference from fp32 is the effect of {}",
                           in.sim_vs_quant.max_abs, v.bound, in.formats_label);
  } else {
    v.status = "inconsistent";
    v.reason = close ? fmt::format("a top-1 miss against the quantized host reference is {:.3g} below its top-1, "
                                   "more than twice the logit error {:.3g}: not a near tie",
                                   in.sim_vs_quant.max_miss_margin, in.sim_vs_quant.max_abs)
                     : fmt::format("the simulator is {:.3g} from a host reference quantized the same way, more than "
                                   "the {:.3g} the formats ({}) explain: a simulator or compiler bug, or a format "
                                   "the emulation does not model",
                                   in.sim_vs_quant.max_abs, v.bound, in.formats_label);
  }
  return v;
}

}  // namespace plena::runner::detail

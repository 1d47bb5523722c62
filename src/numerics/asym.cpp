// Asymmetric min-max integer groups (BitDecoding-style low-bit KV cache).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "numerics/numerics.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::numerics {

void asym_quantize_group(std::span<const float> x, int bits, std::span<uint8_t> codes, uint16_t& scale_fp16,
                         uint16_t& zero_fp16) {
  if (bits < 1 || bits > 8 || codes.size() != x.size() || x.empty())
    throw InputError(fmt::format("asym_quantize_group: {} values, {} codes, {} bits; expected a non-empty group, "
                                 "one code per value and 1..8 bits",
                                 x.size(), codes.size(), bits));
  float mn = x[0], mx = x[0];
  for (float v : x) {
    if (!std::isfinite(v)) throw InputError("asym-int quantization: input contains Inf or NaN (no encoding exists)");
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  const float levels = float((1 << bits) - 1);
  float range = mx - mn;
  // The reference computes scale_inv = levels / range (0 for a constant group) and stores 1/scale_inv;
  // for a constant group that would be Inf and dequantize to NaN, so we store scale 0 instead.
  float scale_inv = range == 0.0f ? 0.0f : levels / range;
  for (size_t i = 0; i < x.size(); ++i) {
    float q = std::round((x[i] - mn) * scale_inv);  // C roundf: ties away from zero
    codes[i] = uint8_t(std::clamp(q, 0.0f, levels));
  }
  scale_fp16 = scale_inv == 0.0f ? uint16_t(0) : f32_to_fp16(1.0f / scale_inv);
  zero_fp16 = f32_to_fp16(mn);
}

float asym_dequant_value(uint32_t q, uint16_t scale_fp16, uint16_t zero_fp16) {
  // FP16 FMA: q * scale + zero with a single rounding. The double holds the exact sum (at most
  // 8 + 11 bits of product and an FP16 addend within 2^-24 .. 2^16), so rounding it once is exact.
  double exact = double(q) * double(fp16_to_f32(scale_fp16)) + double(fp16_to_f32(zero_fp16));
  return fp16_to_f32(f64_to_fp16(exact));
}

AsymIntTensor asym_quantize(std::span<const float> x, size_t tokens, size_t channels, int bits, int group,
                            AsymAxis axis) {
  if (x.size() != tokens * channels)
    throw InputError(fmt::format("asym_quantize: {} values for a [{} x {}] matrix", x.size(), tokens, channels));
  if ((bits != 2 && bits != 4 && bits != 8) || group < 1)
    throw InputError(fmt::format("asym_quantize: bits {} group {}; expected bits 2, 4 or 8 and group >= 1", bits, group));
  AsymIntTensor t;
  t.bits = bits, t.group = group, t.axis = axis, t.tokens = tokens, t.channels = channels;
  t.codes.assign(x.size(), 0);
  const size_t G = size_t(group);
  std::vector<float> buf;
  std::vector<uint8_t> cbuf;
  if (axis == AsymAxis::PerToken) {
    size_t ng = ceil_div(channels, G);
    t.scale.resize(tokens * ng), t.zero.resize(tokens * ng);
    for (size_t tok = 0; tok < tokens; ++tok)
      for (size_t g = 0; g < ng; ++g) {
        size_t c0 = g * G, len = std::min(G, channels - c0);
        asym_quantize_group(x.subspan(tok * channels + c0, len), bits,
                            std::span(t.codes).subspan(tok * channels + c0, len), t.scale[tok * ng + g],
                            t.zero[tok * ng + g]);
      }
  } else {
    size_t ng = ceil_div(tokens, G);
    t.scale.resize(ng * channels), t.zero.resize(ng * channels);
    for (size_t g = 0; g < ng; ++g)
      for (size_t ch = 0; ch < channels; ++ch) {
        size_t t0 = g * G, len = std::min(G, tokens - t0);
        buf.resize(len), cbuf.resize(len);
        for (size_t i = 0; i < len; ++i) buf[i] = x[(t0 + i) * channels + ch];
        asym_quantize_group(buf, bits, cbuf, t.scale[g * channels + ch], t.zero[g * channels + ch]);
        for (size_t i = 0; i < len; ++i) t.codes[(t0 + i) * channels + ch] = cbuf[i];
      }
  }
  return t;
}

std::vector<float> asym_dequantize(const AsymIntTensor& t) {
  std::vector<float> out(t.tokens * t.channels);
  const size_t G = size_t(t.group);
  for (size_t tok = 0; tok < t.tokens; ++tok)
    for (size_t ch = 0; ch < t.channels; ++ch) {
      size_t p = t.axis == AsymAxis::PerToken ? tok * ceil_div(t.channels, G) + ch / G
                                              : (tok / G) * t.channels + ch;
      out[tok * t.channels + ch] = asym_dequant_value(t.codes[tok * t.channels + ch], t.scale[p], t.zero[p]);
    }
  return out;
}

}  // namespace plena::numerics

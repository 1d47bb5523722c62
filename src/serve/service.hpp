// Internal to src/serve: each pool's service time and energy from the analytic model, sampled at a
// few points and interpolated (docs/serving.md "Service models").
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "serve/serve.hpp"

namespace plena::serve::detail {

struct Cost1 {
  double seconds = 0, joules = 0;
};

// Piecewise linear in x over sorted nodes (clamped outside).
struct Curve {
  std::vector<double> x;
  std::vector<Cost1> y;
  Cost1 at(double v) const;
};

// The prefill of one prompt on one instance: the analytic estimate at each distinct prompt length
// (fixed / points) or at 5 lengths across a uniform range.
struct PrefillModel {
  Curve by_prompt;
  double leakage_w = 0;  // one instance (all its devices)
  double link_pj_per_bit = 0;
  Cost1 at(uint64_t prompt) const { return by_prompt.at(double(prompt)); }
};
PrefillModel prefill_model(const Deployment& d);

// One decode step of an instance: bilinear in the batch (1 .. max_batch) and the mean context
// (shortest to longest), from four analytic steps.
struct DecodeModel {
  uint64_t max_batch = 1;   // the configured bound, lowered to what the HBM holds
  bool capacity_limited = false;
  double b_lo = 1, b_hi = 1, c_lo = 1, c_hi = 1;
  Cost1 t[2][2];            // [batch lo/hi][context lo/hi]
  double leakage_w = 0;
  Cost1 at(double batch, double context) const;
};
DecodeModel decode_model(const Deployment& d);

// KV cache bytes of one prompt as the prefill pool stores it (all layers, all KV heads).
double kv_bytes(const Deployment& d, uint64_t prompt);

}  // namespace plena::serve::detail

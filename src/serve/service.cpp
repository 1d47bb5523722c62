// Pool service models from the analytic estimate (src/analytic): the prefill of one prompt, one
// decode step of a batch. Each DMA pattern is calibrated once per pool (one MemoryModel).
#include "serve/service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "analytic/analytic.hpp"
#include "ppa/ppa.hpp"
#include "support/support.hpp"

namespace plena::serve::detail {
namespace {

analytic::Parallelism parallelism(const Pool& p) {
  analytic::Parallelism par;
  par.devices = p.devices;
  par.tp = p.tp;
  par.pp = p.pp;
  par.link_GBps = p.link_GBps;
  par.link_latency_us = p.link_latency_us;
  return par;
}

Cost1 cost_of(const analytic::PhaseEstimate& ph) { return {ph.seconds, ph.energy.total_j()}; }

Cost1 lerp(const Cost1& a, const Cost1& b, double f) {
  return {a.seconds + (b.seconds - a.seconds) * f, a.joules + (b.joules - a.joules) * f};
}

// Reraises an estimate's capacity error with the pool and the deployment file named.
[[noreturn]] void pool_error(const Deployment& d, const Pool& p, const InputError& e) {
  std::string msg = e.what();
  if (msg.rfind("error: ", 0) == 0) msg = msg.substr(7);
  throw InputError(fmt::format("{}: error: [{}] pool ({} x {} devices of {}): {}", d.file, p.name, p.instances,
                               p.devices, p.hw, msg));
}

}  // namespace

Cost1 Curve::at(double v) const {
  if (v <= x.front()) return y.front();
  if (v >= x.back()) return y.back();
  const size_t i = size_t(std::upper_bound(x.begin(), x.end(), v) - x.begin());
  return lerp(y[i - 1], y[i], (v - x[i - 1]) / (x[i] - x[i - 1]));
}

PrefillModel prefill_model(const Deployment& d) {
  const Pool& p = d.prefill;
  std::vector<uint64_t> nodes = d.prompt.support();
  if (nodes.empty())
    for (int i = 0; i < 5; ++i)
      nodes.push_back(d.prompt.lo + uint64_t(std::llround(double(d.prompt.hi - d.prompt.lo) * i / 4.0)));
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  PrefillModel pm;
  analytic::MemoryModel mem(p.cfg);
  for (uint64_t n : nodes) {
    try {
      // The prompt and its first token: decode 1 sizes the KV cache as the runner does.
      const analytic::Estimate e = analytic::estimate(d.model, p.cfg, {n, 1, 1, 0}, parallelism(p), mem);
      pm.by_prompt.x.push_back(double(n));
      pm.by_prompt.y.push_back(cost_of(e.prefill));
    } catch (const InputError& e) {
      pool_error(d, p, e);
    }
  }
  const ppa::EnergyModel energy(p.cfg);
  pm.leakage_w = energy.leakage_w() * p.devices;
  pm.link_pj_per_bit = energy.events().link_bit_pj;
  return pm;
}

DecodeModel decode_model(const Deployment& d) {
  const Pool& p = d.decode;
  const analytic::Parallelism par = parallelism(p);
  DecodeModel dm;
  const uint64_t max_ctx = d.prompt.max() + d.output.max();
  try {
    const analytic::Footprint one = analytic::footprint(d.model, p.cfg, par, max_ctx, 1);
    if (one.weight_bytes + one.kv_bytes > p.cfg.hbm.size_bytes)
      throw InputError(fmt::format(
          "error: one sequence of {} tokens needs {:.1f} GiB per device ({:.1f} GiB weights + {:.1f} GiB KV) but "
          "hbm.size_bytes is {:.1f} GiB: use more devices per instance or a larger memory",
          max_ctx, double(one.weight_bytes + one.kv_bytes) / 1073741824.0, double(one.weight_bytes) / 1073741824.0,
          double(one.kv_bytes) / 1073741824.0, double(p.cfg.hbm.size_bytes) / 1073741824.0));
    const uint64_t fits = (p.cfg.hbm.size_bytes - one.weight_bytes) / std::max<uint64_t>(one.kv_bytes, 1);
    dm.max_batch = std::min(p.max_batch, fits);
    dm.capacity_limited = fits < p.max_batch;
    dm.b_hi = double(dm.max_batch);
    dm.c_lo = double(d.prompt.min() + 1);
    dm.c_hi = double(max_ctx);
    analytic::MemoryModel mem(p.cfg);
    const uint64_t bs[2] = {1, dm.max_batch}, cs[2] = {d.prompt.min() + 1, max_ctx};
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        dm.t[i][j] = cost_of(analytic::decode_step(d.model, p.cfg, par, mem, bs[i], cs[j], max_ctx));
  } catch (const InputError& e) {
    pool_error(d, p, e);
  }
  dm.leakage_w = ppa::EnergyModel(p.cfg).leakage_w() * p.devices;
  return dm;
}

Cost1 DecodeModel::at(double batch, double context) const {
  const double fb = b_hi > b_lo ? std::clamp((batch - b_lo) / (b_hi - b_lo), 0.0, 1.0) : 0.0;
  const double fc = c_hi > c_lo ? std::clamp((context - c_lo) / (c_hi - c_lo), 0.0, 1.0) : 0.0;
  return lerp(lerp(t[0][0], t[0][1], fc), lerp(t[1][0], t[1][1], fc), fb);
}

double kv_bytes(const Deployment& d, uint64_t prompt) {
  return double(d.model.kv_cache_bytes(prompt, 1, analytic::hbm_format_bits(d.prefill.cfg.formats.m_kv)));
}

}  // namespace plena::serve::detail

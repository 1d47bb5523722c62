// The request stream through the two pools: a deterministic event simulation (docs/serving.md
// "Simulation"). Seeded arrivals and lengths; prefill instances serve one prompt at a time from a
// FIFO queue; each prefill instance hands the KV over its own link (bulk or streamed per layer);
// decode instances batch continuously (a step advances every active sequence by one token, new
// sequences join at step boundaries up to max_batch).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <random>

#include "ppa/ppa.hpp"
#include "serve/service.hpp"
#include "serve/serve.hpp"
#include "support/support.hpp"

namespace plena::serve {
namespace {

using detail::Cost1;

struct Request {
  double arrival = 0;
  uint64_t prompt = 0, output = 0;
  double prefill_start = 0, prefill_end = 0, ready = 0;  // ready: KV at the decode pool
  double decode_start = 0, done = 0;
  uint64_t generated = 0;  // by the decode pool (the first token comes from the prefill)
};

// Uniform double in [0, 1) from the 53 high bits (mt19937_64 is specified bit for bit).
double unit(std::mt19937_64& g) { return double(g() >> 11) * 0x1.0p-53; }

uint64_t sample(const LengthDist& d, std::mt19937_64& g) {
  if (d.kind == LengthDist::Kind::Fixed) return d.lo;
  if (d.kind == LengthDist::Kind::Uniform)
    return d.lo + std::min<uint64_t>(d.hi - d.lo, uint64_t(unit(g) * double(d.hi - d.lo + 1)));
  double total = 0;
  for (const auto& p : d.points) total += p.second;
  double u = unit(g) * total;
  for (const auto& p : d.points) {
    if (u < p.second) return p.first;
    u -= p.second;
  }
  return d.points.back().first;
}

std::vector<Request> requests(const Deployment& d) {
  std::mt19937_64 g(d.seed);
  std::vector<Request> rs(d.requests);
  double t = 0;
  for (auto& r : rs) {
    r.arrival = t;
    r.prompt = sample(d.prompt, g);
    r.output = sample(d.output, g);
    t += d.poisson ? -std::log1p(-unit(g)) / d.arrival_rate : 1.0 / d.arrival_rate;
  }
  return rs;
}

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  auto q = [&](double f) { return v[std::min(v.size() - 1, size_t(std::ceil(f * double(v.size()))) - (f > 0 ? 1 : 0))]; };
  s.p50 = q(0.5);
  s.p90 = q(0.9);
  s.p99 = q(0.99);
  s.max = v.back();
  return s;
}

struct PoolTotals {
  double busy_s = 0, busy_j = 0, batch_time = 0;  // batch_time: sum of batch x step seconds
};

// Prefill FIFO over the instances (the earliest free one, the lowest index on ties), then the
// hand-off over the instance's link.
PoolTotals run_prefill(const Deployment& d, const detail::PrefillModel& pm, std::vector<Request>& rs, double& link_j) {
  const Pool& p = d.prefill;
  std::vector<double> free_at(p.instances, 0.0), link_free(p.instances, 0.0);
  const double layers = double(d.model.num_hidden_layers), lat = d.handoff_latency_us * 1e-6;
  PoolTotals t;
  for (auto& r : rs) {
    const size_t i = size_t(std::min_element(free_at.begin(), free_at.end()) - free_at.begin());
    const Cost1 c = pm.at(r.prompt);
    r.prefill_start = std::max(r.arrival, free_at[i]);
    r.prefill_end = r.prefill_start + c.seconds;
    free_at[i] = r.prefill_end;
    t.busy_s += c.seconds;
    t.busy_j += c.joules;
    const double bytes = detail::kv_bytes(d, r.prompt), wire = bytes / (d.handoff_GBps * 1e9);
    if (d.handoff == HandoffMode::Bulk) {
      r.ready = std::max(r.prefill_end, link_free[i]) + wire + lat;
    } else {  // each layer's K/V leaves as it is written: the link runs beside the prefill
      const double start = std::max(r.prefill_start, link_free[i]);
      r.ready = std::max(r.prefill_end + wire / layers, start + wire) + lat;
    }
    link_free[i] = r.ready - lat;
    link_j += bytes * 8 * pm.link_pj_per_bit * 1e-12;
  }
  return t;
}

struct Instance {
  std::vector<size_t> active;
  double step_end = std::numeric_limits<double>::infinity();
};

// Continuous batching over the decode instances, in time order.
PoolTotals run_decode(const Deployment& d, const detail::DecodeModel& dm, std::vector<Request>& rs) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<size_t> order;
  for (size_t i = 0; i < rs.size(); ++i) {
    rs[i].generated = 0;
    if (rs[i].output <= 1) rs[i].done = rs[i].decode_start = rs[i].ready;  // the prefill's token is the last
    else order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rs[a].ready < rs[b].ready; });
  std::vector<Instance> inst(d.decode.instances);
  std::deque<size_t> queue;
  PoolTotals t;
  size_t next = 0;
  auto start_step = [&](Instance& in, double now) {
    while (!queue.empty() && in.active.size() < dm.max_batch) {
      rs[queue.front()].decode_start = now;
      in.active.push_back(queue.front());
      queue.pop_front();
    }
    if (in.active.empty()) {
      in.step_end = inf;
      return;
    }
    double ctx = 0;
    for (size_t r : in.active) ctx += double(rs[r].prompt + rs[r].generated + 1);
    const Cost1 c = dm.at(double(in.active.size()), ctx / double(in.active.size()));
    in.step_end = now + c.seconds;
    t.busy_s += c.seconds;
    t.busy_j += c.joules;
    t.batch_time += c.seconds * double(in.active.size());
  };
  while (true) {
    size_t k = 0;
    for (size_t i = 1; i < inst.size(); ++i)
      if (inst[i].step_end < inst[k].step_end) k = i;
    const double arrival = next < order.size() ? rs[order[next]].ready : inf;
    if (arrival == inf && inst[k].step_end == inf) break;
    if (arrival <= inst[k].step_end) {  // a KV arrives: queue it, wake idle instances
      queue.push_back(order[next++]);
      for (auto& in : inst)
        if (in.active.empty()) start_step(in, arrival);
      continue;
    }
    Instance& in = inst[k];
    const double now = in.step_end;
    std::vector<size_t> still;
    for (size_t r : in.active)
      if (++rs[r].generated + 1 >= rs[r].output) rs[r].done = now;
      else still.push_back(r);
    in.active = std::move(still);
    start_step(in, now);
  }
  return t;
}

std::vector<std::string> assumptions(const Deployment& d, const detail::DecodeModel& dm) {
  std::vector<std::string> a = {
      fmt::format("{} requests, {} arrivals at {:g} requests/s (seed {}); prompt {}, output {} tokens (the first "
                  "output token comes from the prefill's logits)",
                  d.requests, d.poisson ? "Poisson" : "evenly spaced", d.arrival_rate, d.seed, d.prompt.text(),
                  d.output.text()),
      fmt::format("prefill: {} instance(s) x {} device(s) of {} (tp {} x pp {}), one prompt at a time per instance, "
                  "FIFO; service time and energy from the analytic estimate at {} prompt length(s), linear between",
                  d.prefill.instances, d.prefill.devices, d.prefill.hw, d.prefill.tp ? d.prefill.tp : d.prefill.devices / d.prefill.pp,
                  d.prefill.pp ? d.prefill.pp : d.prefill.devices / d.prefill.tp,
                  d.prompt.support().empty() ? size_t(5) : d.prompt.support().size()),
      fmt::format("decode: {} instance(s) x {} device(s) of {}, continuous batching up to {} sequences{}; step time and "
                  "energy bilinear in batch (1..{}) and mean context ({}..{}) from four analytic decode steps",
                  d.decode.instances, d.decode.devices, d.decode.hw, dm.max_batch,
                  dm.capacity_limited ? fmt::format(" (lowered from {} by the HBM capacity)", d.decode.max_batch) : "",
                  dm.max_batch, dm.c_lo, dm.c_hi),
      fmt::format("KV hand-off: {} over {:g} GB/s + {:g} us per request, one link per prefill instance; TTFT counts it "
                  "(the reference disagg_serve convention: the first token is served with its KV at the decode pool)",
                  d.handoff == HandoffMode::Bulk ? "bulk after the prefill" : "streamed per layer beside the prefill",
                  d.handoff_GBps, d.handoff_latency_us),
      fmt::format("energy: the analytic energy of the work (counted events x the PPA tables, leakage while busy) + "
                  "idle leakage + DRAM background (capacity x the standard's mW/GB: prefill {:.2f} W, decode {:.2f} W "
                  "per device) over the span",
                  memory_background_w(d.prefill.cfg), memory_background_w(d.decode.cfg)),
      fmt::format("cost: die (7 nm wafer over good dies) + DRAM capacity (prefill ${:.0f}, decode ${:.0f} per device: "
                  "each pool at its standard's $/GB, data/memory) amortised over {:g} years used or idle; electricity "
                  "${:g}/kWh x PUE {:g}",
                  memory_cost_usd(d.prefill.cfg, d.prefill.memory_usd_per_gb),
                  memory_cost_usd(d.decode.cfg, d.decode.memory_usd_per_gb), d.cost.amortization_years,
                  d.cost.usd_per_kwh, d.cost.pue),
      "saturated: a pool's offered load (arrival rate x mean work / capacity) >= 1; its queue then grows without "
      "bound and the simulated numbers depend on the request count",
  };
  return a;
}

double energy_usd(const Cost& c, double joules) { return joules * c.pue / 3.6e6 * c.usd_per_kwh; }

// Energy, power and cost of one pool over the span: busy (the analytic energy of its work, leakage
// included) plus idle leakage; capex amortised linearly whether busy or idle.
void pool_money(const Deployment& d, const Pool& p, double leakage_w, const PoolTotals& t, double span,
                PoolReport& out) {
  out.name = p.name;
  out.devices = p.total_devices();
  out.utilisation = span > 0 ? t.busy_s / (double(p.instances) * span) : 0;
  out.busy_energy_j = t.busy_j;
  out.background_j = memory_background_w(p.cfg) * double(out.devices) * span;
  out.energy_j = t.busy_j + leakage_w * std::max(0.0, double(p.instances) * span - t.busy_s) + out.background_j;
  out.average_power_w = span > 0 ? out.energy_j / span : 0;
  out.busy_power_w = t.busy_s > 0 ? t.busy_j / t.busy_s : 0;
  out.tokens_per_s = span > 0 ? double(out.tokens) / span : 0;
  out.energy_per_token_j = out.tokens ? out.energy_j / double(out.tokens) : 0;
  const double device = die_cost_usd(ppa::area(p.cfg).total_mm2()) + memory_cost_usd(p.cfg, p.memory_usd_per_gb);
  out.capex_usd = device * double(out.devices);
  const double life_s = d.cost.amortization_years * 365.25 * 86400;
  out.usd = out.capex_usd * span / life_s + energy_usd(d.cost, out.energy_j);
  out.usd_per_token = out.tokens ? out.usd / double(out.tokens) : 0;
}

void finish_report(const Deployment& d, const detail::PrefillModel& pm, const detail::DecodeModel& dm,
                   const std::vector<Request>& rs, const PoolTotals& pt, const PoolTotals& dt, Report& r) {
  std::vector<double> ttft, tpot, e2e, hand, pq, dq;
  double span = 0, mean_out = 0, mean_ctx = 0;
  for (const auto& q : rs) {
    span = std::max(span, q.done);
    ttft.push_back(q.ready - q.arrival);
    if (q.output > 1) tpot.push_back((q.done - q.ready) / double(q.output - 1)), dq.push_back(q.decode_start - q.ready);
    e2e.push_back(q.done - q.arrival);
    hand.push_back(q.ready - q.prefill_end);
    pq.push_back(q.prefill_start - q.arrival);
    r.prompt_tokens += q.prompt;
    r.output_tokens += q.output;
    r.decode.tokens += q.output - 1;
    mean_out += double(q.output - 1) / double(rs.size());
    mean_ctx += (double(q.prompt) + double(q.output) / 2) / double(rs.size());
  }
  r.requests = rs.size();
  r.span_s = span;
  r.ttft_s = stats(ttft), r.tpot_s = stats(tpot), r.e2e_s = stats(e2e), r.handoff_s = stats(hand);
  r.prefill.tokens = r.prompt_tokens;
  r.prefill.queue_s = stats(pq), r.decode.queue_s = stats(dq);
  r.prefill.max_batch = 1;
  r.decode.max_batch = dm.max_batch;
  r.decode.mean_batch = dt.busy_s > 0 ? dt.batch_time / dt.busy_s : 0;
  // Offered load: arrival rate x mean work per request / what the pool serves per second.
  r.prefill.offered_load = d.arrival_rate * (pt.busy_s / double(rs.size())) / double(d.prefill.instances);
  const double full_step = dm.at(double(dm.max_batch), mean_ctx).seconds;
  r.decode.offered_load = d.arrival_rate * mean_out * full_step / (double(dm.max_batch) * double(d.decode.instances));
  r.prefill.saturated = r.prefill.offered_load >= 1;
  r.decode.saturated = r.decode.offered_load >= 1;
  r.saturated = r.prefill.saturated || r.decode.saturated;
  r.bottleneck = r.prefill.offered_load >= r.decode.offered_load ? "prefill" : "decode";
  pool_money(d, d.prefill, pm.leakage_w, pt, span, r.prefill);
  pool_money(d, d.decode, dm.leakage_w, dt, span, r.decode);
  r.energy_j = r.prefill.energy_j + r.decode.energy_j + r.handoff_energy_j;
  r.tokens_per_s = span > 0 ? double(r.output_tokens) / span : 0;
  r.energy_per_token_j = r.energy_j / double(r.output_tokens);
  r.tokens_per_j = double(r.output_tokens) / r.energy_j;
  r.average_power_w = span > 0 ? r.energy_j / span : 0;
  r.capex_usd = r.prefill.capex_usd + r.decode.capex_usd;
  r.usd_per_token = (r.prefill.usd + r.decode.usd + energy_usd(d.cost, r.handoff_energy_j)) / double(r.output_tokens);
  r.usd_per_million_tokens = r.usd_per_token * 1e6;
  r.assumptions = assumptions(d, dm);
}

}  // namespace

Report simulate(const Deployment& d) {
  const detail::PrefillModel pm = detail::prefill_model(d);
  const detail::DecodeModel dm = detail::decode_model(d);
  std::vector<Request> rs = requests(d);
  Report r;
  r.model = d.model.name;
  r.file = d.file;
  const PoolTotals pt = run_prefill(d, pm, rs, r.handoff_energy_j);
  const PoolTotals dt = run_decode(d, dm, rs);
  finish_report(d, pm, dm, rs, pt, dt, r);
  return r;
}

}  // namespace plena::serve

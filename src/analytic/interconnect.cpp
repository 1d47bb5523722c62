// Collective costs of the multi-device model (interconnect.hpp).
#include "analytic/interconnect.hpp"

namespace plena::analytic {

uint64_t activation_bytes(uint64_t rows, uint64_t hidden) { return rows * hidden * 2; }

double all_reduce_seconds(double bytes, uint32_t tp, const Link& link) {
  if (tp <= 1) return 0;
  const double steps = 2.0 * double(tp - 1);
  return steps / double(tp) * bytes / (link.GBps * 1e9) + steps * link.latency_us * 1e-6;
}

double all_reduce_link_bytes(double bytes, uint32_t tp) { return tp <= 1 ? 0 : 2.0 * double(tp - 1) * bytes; }

double handoff_seconds(double bytes, const Link& link) { return bytes / (link.GBps * 1e9) + link.latency_us * 1e-6; }

StepCollectives step_collectives(const compiler::StepPlan& plan, uint64_t layers, uint64_t batch, uint64_t q_len,
                                 uint64_t hidden, uint32_t tp, uint32_t pp, const Link& link) {
  const double rows_bytes = double(activation_bytes(batch * q_len, hidden));
  StepCollectives c;
  if (tp > 1) {
    const auto marked = [](const std::vector<compiler::PlannedCall>& calls) {
      uint64_t n = 0;
      for (const auto& call : calls) n += call.all_reduce_after;
      return n;
    };
    // The tail works on each sequence's last row only.
    const uint64_t body = marked(plan.head) + layers * marked(plan.layer), tail = marked(plan.tail);
    c.all_reduces = body + tail;
    const double tail_bytes = double(activation_bytes(batch, hidden));
    c.all_reduce_s = double(body) * all_reduce_seconds(rows_bytes, tp, link) +
                     double(tail) * all_reduce_seconds(tail_bytes, tp, link);
    c.link_bytes += double(body) * all_reduce_link_bytes(rows_bytes, tp) +
                    double(tail) * all_reduce_link_bytes(tail_bytes, tp);
  }
  if (pp > 1) {
    c.handoffs = pp - 1;
    c.handoff_s = double(c.handoffs) * handoff_seconds(rows_bytes, link);
    c.link_bytes += double(c.handoffs) * rows_bytes * tp;  // every tensor rank hands its copy on
  }
  return c;
}

}  // namespace plena::analytic

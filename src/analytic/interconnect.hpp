// The interconnect model of a multi-device PLENA system: the one formula for the collectives that
// `plena estimate` adds as ops and `plena run --devices` charges between the simulated shard
// programs (docs/analytic.md §5, docs/run.md "Multi-device runs").
#pragma once
#include <cstdint>

#include "compiler/layer_plan.hpp"

namespace plena::analytic {

struct Link {
  double GBps = 100.0;      // per-device interconnect bandwidth
  double latency_us = 1.0;  // per message
};

// Bytes of `rows` activation rows of width `hidden` as they cross the link (bf16).
uint64_t activation_bytes(uint64_t rows, uint64_t hidden);
// Ring all-reduce of `bytes` over tp devices: 2 (tp - 1) / tp of the data over each link in
// 2 (tp - 1) messages. 0 for tp <= 1.
double all_reduce_seconds(double bytes, uint32_t tp, const Link& link);
// Bytes all tp devices send in that ring all-reduce: 2 (tp - 1) / tp of the data each.
double all_reduce_link_bytes(double bytes, uint32_t tp);
// Pipeline hand-off of `bytes` from one stage to the next: one message.
double handoff_seconds(double bytes, const Link& link);

// The collectives of one step of batch sequences of q_len new tokens: an all-reduce after every
// plan call marked all_reduce_after (head and tail once, on batch x q_len and batch rows; the
// layer's for each of `layers`), a hand-off of batch x q_len rows between consecutive stages.
struct StepCollectives {
  uint64_t all_reduces = 0, handoffs = 0;
  double all_reduce_s = 0, handoff_s = 0;
  double link_bytes = 0;  // sent over the links by all devices (energy)
  double seconds() const { return all_reduce_s + handoff_s; }
};
StepCollectives step_collectives(const compiler::StepPlan& plan, uint64_t layers, uint64_t batch, uint64_t q_len,
                                 uint64_t hidden, uint32_t tp, uint32_t pp, const Link& link);

}  // namespace plena::analytic

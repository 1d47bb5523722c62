// The multi-device flags `plena estimate` and `plena run` share: one definition of their names,
// ranges and help (docs/analytic.md §5, docs/run.md "Multi-device runs").
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>

#include "cli/numeric_options.hpp"

namespace plena::cli {

struct ParallelFlags {
  uint32_t devices = 1, tp = 0, pp = 0;
  double link_gbps = 100, link_latency_us = 1;
};

// Far beyond any deployment; keeps every product of devices and sizes within 64 bits.
constexpr uint64_t kMaxDevices = 1 << 16;

inline void add_parallel_options(CLI::App* sub, ParallelFlags& f) {
  sub->add_option("--devices", f.devices, "PLENA devices (tensor x pipeline parallel)")
      ->transform(integer_in(1, kMaxDevices))
      ->capture_default_str();
  sub->add_option("--tp", f.tp,
                  "tensor-parallel degree (0: devices / pp; with --pp 0 too, the fastest split the estimate finds)")
      ->transform(integer_in(0, kMaxDevices));
  sub->add_option("--pp", f.pp, "pipeline-parallel degree (0: devices / tp)")->transform(integer_in(0, kMaxDevices));
  sub->add_option("--link-gbps", f.link_gbps, "interconnect bandwidth per device, GB/s")
      ->check(real_in(0, false, 1e9))
      ->capture_default_str();
  sub->add_option("--link-latency-us", f.link_latency_us, "interconnect latency per message, us")
      ->check(real_in(0, true, 1e9))
      ->capture_default_str();
}

}  // namespace plena::cli

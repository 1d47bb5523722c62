// Transfer calibration: replays DMA transfers through a fresh bank-level model (docs/dram.md).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>

#include "dram/dram.hpp"
#include "support/math.hpp"

namespace plena::dram {

uint64_t TransferShape::bytes() const {
  uint64_t b = 0;
  for (uint8_t i = 0; i < n; ++i) b += streams[i].rows * streams[i].row_bytes;
  return b;
}

std::vector<uint64_t> simulate_burst(const Params& p, const TransferShape& shape, uint64_t count, const BurstOptions& o) {
  DramModel d(p);
  std::vector<uint64_t> done(count, 0), remaining(count, 0);
  std::map<uint64_t, uint64_t> owner;  // first request id -> transfer
  auto wait_for = [&](uint64_t j) {
    while (remaining[j] != 0)
      for (const Completion& c : d.advance_to_next_completion()) {
        const uint64_t t = std::prev(owner.upper_bound(c.id))->second;
        if (--remaining[t] == 0) done[t] = c.time_ps;
      }
  };
  const uint64_t depth = std::max<uint32_t>(1, o.queue_depth);
  for (uint64_t j = 0; j < count; ++j) {
    uint64_t arrival = j * o.issue_gap_ps;
    if (j >= depth) {
      wait_for(j - depth);
      const uint64_t freed = done[j - depth];
      arrival = std::max(arrival, round_up(freed, o.period_ps));
    }
    arrival = std::max(arrival, d.now_ps());
    uint64_t first = kNever, n = 0;
    for (uint8_t i = 0; i < shape.n; ++i) {
      const TransferStream& s = shape.streams[i];
      const uint64_t base = o.base + s.offset + j * s.rows * s.stride;
      for_each_request(base, s.row_bytes, s.rows, s.stride, o.request_bytes, [&](uint64_t a, uint64_t bytes) {
        const uint64_t id = d.submit(Request{a, bytes, shape.write, arrival});
        if (first == kNever) first = id;
        ++n;
      });
    }
    if (n == 0) {
      done[j] = arrival;
      continue;
    }
    owner[first] = j;
    remaining[j] = n;
  }
  for (uint64_t j = 0; j < count; ++j) wait_for(j);
  return done;
}

namespace {

TransferTiming calibrate_uncached(const Params& p, const TransferShape& shape, const BurstOptions& o) {
  constexpr uint64_t kRows = 128, kBurst = 10, kSerial = 4;
  TransferTiming t;
  uint64_t rows = 0;
  for (uint8_t i = 0; i < shape.n; ++i) rows = std::max(rows, shape.streams[i].rows);
  if (rows == 0 || shape.bytes() == 0) return t;
  TransferShape small = shape;
  for (uint8_t i = 0; i < small.n; ++i) small.streams[i].rows = std::min(small.streams[i].rows, kRows);
  const double scale = double(rows) / double(std::min(rows, kRows));
  BurstOptions serial = o;
  serial.queue_depth = 1;
  const auto alone = simulate_burst(p, small, kSerial, serial);
  const auto many = simulate_burst(p, small, kBurst, o);
  const double first = double(many.front());
  const double inc = (double(many.back()) - first) / double(kBurst - 1);
  t.per_transfer_ps = inc * scale;
  t.first_ps = first + (scale - 1.0) * inc;
  t.alone_ps = double(alone.back()) / double(kSerial) + (scale - 1.0) * inc;
  // Serial transfers j >= 1 arrive on the clock edge after j - 1 completed (or j * gap).
  double warm = 0;
  for (uint64_t j = 1; j < kSerial; ++j) {
    const uint64_t edge = round_up(alone[j - 1], o.period_ps);
    warm += double(alone[j] - std::max(edge, j * o.issue_gap_ps));
  }
  t.warm_ps = warm / double(kSerial - 1) + (scale - 1.0) * inc;
  return t;
}

// Entries by (shape, options); the parameters (few distinct per process) compared in full.
struct CalibrationCache {
  static constexpr size_t kMaxEntries = size_t(1) << 20;  // a bound on a long process's memory
  std::mutex mu;
  std::map<std::pair<TransferShape, BurstOptions>, std::vector<std::pair<Params, TransferTiming>>> entries;
  size_t size = 0;
  uint64_t computed = 0;
};

CalibrationCache& calibration_cache() {
  static CalibrationCache c;
  return c;
}

}  // namespace

TransferTiming calibrate_transfer(const Params& p, const TransferShape& shape, const BurstOptions& o) {
  CalibrationCache& c = calibration_cache();
  const auto key = std::make_pair(shape, o);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (auto it = c.entries.find(key); it != c.entries.end())
      for (const auto& [params, timing] : it->second)
        if (params == p) return timing;
  }
  const TransferTiming t = calibrate_uncached(p, shape, o);  // outside the lock: it takes a while
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.size >= CalibrationCache::kMaxEntries) {
    c.entries.clear();
    c.size = 0;
  }
  c.entries[key].emplace_back(p, t);
  ++c.size;
  ++c.computed;
  return t;
}

uint64_t calibrations_computed() {
  CalibrationCache& c = calibration_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.computed;
}

}  // namespace plena::dram

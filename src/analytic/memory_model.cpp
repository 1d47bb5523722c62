// DMA timing from a DRAM micro-calibration: each distinct transfer pattern is replayed once through
// dram::calibrate_transfer with the simulator DMA engine's discipline (64 B requests cut at aligned
// boundaries, all requests of a transfer arriving together, at most 8 transfers in flight,
// transfers issued a few cycles apart) and the result is cached.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "dram/dram.hpp"

#include <fmt/format.h>
#include "numerics/numerics.hpp"

namespace plena::analytic {
namespace {

constexpr uint32_t kQueueDepth = 8;  // TimingOptions::dma_queue_depth default
constexpr uint64_t kIssueGap = 3;    // cycles between prefetches of one burst (3-instruction loop body)

dram::TransferShape shape_of(const DmaPattern& p) {
  dram::TransferShape s;
  s.write = p.write;
  s.streams[s.n++] = {0, p.elem_row_bytes, p.rows, p.elem_stride};
  if (p.scale_row_bytes) s.streams[s.n++] = {p.scale_offset, p.scale_row_bytes, p.rows, p.scale_stride};
  return s;
}

// Calibrations shared by every MemoryModel of the process (a design-space sweep builds one per
// point): a pattern's timing depends only on the DRAM preset, the core clock and the pattern.
// Thread-safe; a calibration runs outside the lock (two threads may both run it: same result).
struct SharedCalibrations {
  using Key = std::tuple<std::string, double, DmaPattern>;
  std::mutex mutex;
  std::map<Key, DmaTiming> timings;
  std::map<std::pair<std::string, double>, double> seq_eff;
  static SharedCalibrations& get() {
    static SharedCalibrations s;
    return s;
  }
};

}  // namespace

struct MemoryModel::Impl {
  dram::Params params;  // pool 0's (the implicit pool without [memory])
  std::string dram;
  std::vector<dram::Params> pools;  // per memory pool
  std::vector<std::string> keys;    // pool_key of each
  double period_ps = 1000;
  std::map<DmaPattern, DmaTiming> cache;  // this model's lookups (no lock)
  double seq_eff = -1;
  DmaTiming calibrate(const DmaPattern& p) const;

  // The simulator DMA engine's discipline (64 B requests, 8 transfers in flight, a few cycles apart).
  dram::BurstOptions burst_options() const {
    dram::BurstOptions o;
    o.request_bytes = 64;  // TimingOptions::dma_request_bytes default
    o.queue_depth = kQueueDepth;
    o.period_ps = uint64_t(period_ps);
    o.issue_gap_ps = kIssueGap * uint64_t(period_ps);
    return o;
  }
};

std::string pool_key(const config::HardwareConfig& cfg, size_t pool) {
  if (cfg.memory.empty()) return cfg.hbm.dram;
  const config::MemoryPool& p = cfg.memory.at(pool);
  std::string key = fmt::format("{}/{}/{}", p.standard, p.speed, p.channels);
  for (const auto& o : p.overrides) key += fmt::format("/{}={}", o.field, dram::field_value_text(o.value));
  return key;
}

MemoryModel::MemoryModel(const config::HardwareConfig& cfg) : impl_(std::make_unique<Impl>()) {
  for (size_t i = 0; i < std::max<size_t>(1, cfg.memory.size()); ++i) {
    impl_->pools.push_back(config::pool_params(cfg, i));
    impl_->keys.push_back(pool_key(cfg, i));
  }
  impl_->params = impl_->pools[0];
  impl_->dram = impl_->keys[0];
  impl_->period_ps = std::round(1000.0 / cfg.compute.clock_ghz);
}
MemoryModel::~MemoryModel() = default;
MemoryModel::MemoryModel(MemoryModel&&) noexcept = default;
MemoryModel& MemoryModel::operator=(MemoryModel&&) noexcept = default;

double MemoryModel::peak_GBps() const { return impl_->params.peak_bandwidth_GBps(); }
double MemoryModel::ps_per_cycle() const { return impl_->period_ps; }

DmaTiming MemoryModel::timing(const DmaPattern& p) {
  auto it = impl_->cache.find(p);
  if (it != impl_->cache.end()) return it->second;
  SharedCalibrations& shared = SharedCalibrations::get();
  const SharedCalibrations::Key key{impl_->keys.at(p.pool), impl_->period_ps, p};
  {
    std::lock_guard lock(shared.mutex);
    if (auto s = shared.timings.find(key); s != shared.timings.end()) return impl_->cache[p] = s->second;
  }
  const DmaTiming t = impl_->calibrate(p);
  {
    std::lock_guard lock(shared.mutex);
    shared.timings.emplace(key, t);
  }
  return impl_->cache[p] = t;
}

DmaTiming MemoryModel::Impl::calibrate(const DmaPattern& p) const {
  DmaTiming t;
  if (p.rows == 0 || p.bytes() == 0) return t;
  const dram::Params& params = pools.at(p.pool);
  const dram::TransferTiming c = dram::calibrate_transfer(params, shape_of(p), burst_options());
  const double per = period_ps;
  t.first_cycles = std::ceil(c.first_ps / per);
  t.per_transfer_cycles = c.per_transfer_ps / per;
  t.alone_cycles = c.alone_ps / per;
  // In-order mode issues blocking transfers back to back for as long as the program runs, so
  // they meet refresh (the banks unavailable tRFC of every tREFI). The serial calibration
  // (dram::calibrate_transfer: 4 transfers of at most 128 rows, longer ones extended at the
  // burst rate, which includes refresh) is too short to see it when its span is under tREFI:
  // stretch that short part by 1 + tRFC/tREFI.
  const auto& dp = params;
  if (dp.tREFI > 0) {
    const double scale = double(p.rows) / double(std::min<uint64_t>(p.rows, 128));
    const double extended = (scale - 1.0) * c.per_transfer_ps / scale;
    const double short_part = c.alone_ps - extended;
    if (4.0 * short_part < double(dp.tREFI))
      t.alone_cycles = (short_part * (1.0 + double(dp.tRFC) / double(dp.tREFI)) + extended) / per;
  }
  return t;
}

double MemoryModel::sequential_efficiency() {
  if (impl_->seq_eff >= 0) return impl_->seq_eff;
  SharedCalibrations& shared = SharedCalibrations::get();
  const std::pair<std::string, double> key{impl_->dram, impl_->period_ps};
  {
    std::lock_guard lock(shared.mutex);
    if (auto s = shared.seq_eff.find(key); s != shared.seq_eff.end()) return impl_->seq_eff = s->second;
  }
  DmaPattern p;
  p.rows = 1;
  p.elem_row_bytes = 64 * 1024;
  p.elem_stride = p.elem_row_bytes;
  const auto done = dram::simulate_burst(impl_->params, shape_of(p), 16, impl_->burst_options());
  const double seconds = double(done.back()) * 1e-12;
  impl_->seq_eff = double(16 * p.elem_row_bytes) / seconds / 1e9 / peak_GBps();
  std::lock_guard lock(shared.mutex);
  shared.seq_eff.emplace(key, impl_->seq_eff);
  return impl_->seq_eff;
}

DmaPattern prefetch_m_pattern(const config::HardwareConfig& cfg, const numerics::Format& f, uint64_t cols) {
  const uint64_t mlen = cfg.geometry.mlen;
  DmaPattern p;
  p.rows = (cfg.hbm.m_prefetch_amount + mlen - 1) / mlen * mlen;
  // Row stride as the compiler lays out tensors (compiler::hbm_row_stride): whole bytes and blocks.
  const uint64_t stride_elems = compiler::hbm_row_stride(f, cols);
  p.elem_row_bytes = numerics::packed_element_bytes(f, mlen);
  p.elem_stride = numerics::packed_element_bytes(f, stride_elems);
  p.scale_row_bytes = numerics::scale_bytes(f, mlen);
  p.scale_stride = numerics::scale_bytes(f, stride_elems);
  // Scales follow the element region of a tensor of a few thousand rows (64 B aligned).
  p.scale_offset = (p.elem_stride * 4096 + 63) / 64 * 64;
  return p;
}

}  // namespace plena::analytic

// DMA timing from a DRAM micro-calibration: each distinct transfer pattern is replayed once through
// dram::DramModel with the simulator DMA engine's discipline (64 B requests cut at aligned
// boundaries, all requests of a transfer arriving together, at most 8 transfers in flight,
// transfers issued a few cycles apart) and the result is cached.
#include <algorithm>
#include <cmath>
#include <map>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "dram/dram.hpp"
#include "numerics/numerics.hpp"

namespace plena::analytic {
namespace {

constexpr uint64_t kRequestBytes = 64;  // TimingOptions::dma_request_bytes default
constexpr uint64_t kQueueDepth = 8;     // TimingOptions::dma_queue_depth default
constexpr uint64_t kIssueGap = 3;       // cycles between prefetches of one burst (3-instruction loop body)
constexpr uint64_t kCalibTransfers = 10;
constexpr uint64_t kCalibRows = 128;  // larger transfers are scaled from this many rows

// Submits one transfer's requests at `arrival`; returns their ids' range [first, first + n).
std::pair<uint64_t, uint64_t> submit_transfer(dram::DramModel& d, const DmaPattern& p, uint64_t elem_base,
                                              uint64_t scale_base, uint64_t arrival) {
  uint64_t first = UINT64_MAX, n = 0;
  auto stream = [&](uint64_t base, uint64_t bytes, uint64_t stride) {
    if (bytes == 0 || p.rows == 0) return;
    const bool contiguous = stride == bytes;
    const uint64_t rows = contiguous ? 1 : p.rows;
    const uint64_t row_bytes = contiguous ? bytes * p.rows : bytes;
    for (uint64_t r = 0; r < rows; ++r) {
      uint64_t a = base + r * stride;
      const uint64_t end = a + row_bytes;
      while (a < end) {
        const uint64_t next = std::min(end, (a & ~(kRequestBytes - 1)) + kRequestBytes);
        const uint64_t id = d.submit(dram::Request{a, next - a, p.write, arrival});
        if (first == UINT64_MAX) first = id;
        ++n;
        a = next;
      }
    }
  };
  stream(elem_base, p.elem_row_bytes, p.elem_stride);
  stream(scale_base, p.scale_row_bytes, p.scale_stride);
  return {first, n};
}

}  // namespace

struct MemoryModel::Impl {
  dram::Params params;
  double period_ps = 1000;
  std::map<DmaPattern, DmaTiming> cache;
  double seq_eff = -1;

  // Completion times (ps) of `count` back-to-back transfers of p on a fresh DRAM.
  std::vector<uint64_t> burst(const DmaPattern& p, uint64_t count, uint64_t depth = kQueueDepth) {
    dram::DramModel d(params);
    std::vector<uint64_t> done(count, 0);
    std::vector<uint64_t> remaining(count, 0);
    std::vector<std::pair<uint64_t, uint64_t>> ids(count);
    std::map<uint64_t, uint64_t> owner;  // first id -> transfer
    uint64_t resolved = 0;
    auto owner_of = [&](uint64_t id) {
      auto it = owner.upper_bound(id);
      return std::prev(it)->second;
    };
    auto wait_for = [&](uint64_t j) {
      while (remaining[j] != 0) {
        auto comps = d.advance_to_next_completion();
        for (const auto& c : comps) {
          const uint64_t t = owner_of(c.id);
          if (--remaining[t] == 0) {
            done[t] = c.time_ps;
            ++resolved;
          }
        }
      }
    };
    for (uint64_t j = 0; j < count; ++j) {
      uint64_t arrival = uint64_t(double(j * kIssueGap) * period_ps);
      if (j >= depth) {
        wait_for(j - depth);
        // The DMA engine starts on a cycle edge after the slot frees.
        arrival = std::max(arrival, uint64_t(std::ceil(double(done[j - depth]) / period_ps) * period_ps));
      }
      arrival = std::max(arrival, d.now_ps());
      const uint64_t eb = j * p.rows * p.elem_stride;
      const uint64_t sb = p.scale_offset + j * p.rows * p.scale_stride;
      ids[j] = submit_transfer(d, p, eb, sb, arrival);
      owner[ids[j].first] = j;
      remaining[j] = ids[j].second;
    }
    for (uint64_t j = 0; j < count; ++j) wait_for(j);
    return done;
  }
};

MemoryModel::MemoryModel(const config::HardwareConfig& cfg) : impl_(std::make_unique<Impl>()) {
  impl_->params = dram::preset(cfg.hbm.dram);
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
  DmaTiming t;
  if (p.rows == 0 || p.bytes() == 0) return impl_->cache[p] = t;
  DmaPattern small = p;
  small.rows = std::min<uint64_t>(p.rows, kCalibRows);
  const double scale = double(p.rows) / double(small.rows);
  const double per = impl_->period_ps;
  // In-order: each transfer starts when the previous one is done; the mean over a short run
  // includes the row-buffer hits neighbouring tiles get.
  constexpr uint64_t kSerial = 4;
  auto alone = impl_->burst(small, kSerial, 1);
  auto many = impl_->burst(small, kCalibTransfers);
  const double first = std::ceil(double(many[0]) / per);
  const double inc = (std::ceil(double(many.back()) / per) - first) / double(kCalibTransfers - 1);
  const double alone_c = std::ceil(double(alone.back()) / per) / double(kSerial);
  // Larger transfers: the extra rows stream at the burst's steady rate.
  t.per_transfer_cycles = inc * scale;
  t.first_cycles = first + (scale - 1.0) * inc;
  t.alone_cycles = alone_c + (scale - 1.0) * inc;
  return impl_->cache[p] = t;
}

double MemoryModel::sequential_efficiency() {
  if (impl_->seq_eff >= 0) return impl_->seq_eff;
  DmaPattern p;
  p.rows = 1;
  p.elem_row_bytes = 64 * 1024;
  p.elem_stride = p.elem_row_bytes;
  auto done = impl_->burst(p, 16);
  const double seconds = double(done.back()) * 1e-12;
  impl_->seq_eff = double(16 * p.elem_row_bytes) / seconds / 1e9 / peak_GBps();
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

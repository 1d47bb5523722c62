// DRAM timing model: channels, pseudo-channels, bank groups, banks, open-row buffers,
// FR-FCFS read/write queues with write-drain watermarks, all-bank refresh, bit-sliced address
// mapping, technology presets (HBM2..HBM3e, LPDDR5X, GDDR6/7, DDR5, high-bandwidth flash,
// ideal), statistics and Ramulator 2 load/store traces. Time is in picoseconds. See docs/dram.md.
#pragma once
#include <cstdint>
#include <algorithm>
#include <array>
#include <compare>
#include <functional>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace plena::dram {

inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

enum class Kind {
  Dram,   // banked device with row buffers (also used for high-bandwidth flash)
  Ideal,  // peak-bandwidth serialisation plus a fixed latency, no banks
};

// Everything a technology needs. Counts of channels, pseudo-channels, bank groups, banks,
// row bytes and atom bytes must be powers of two (the address mapping slices bits).
struct Params {
  std::string name;
  std::string description;
  std::string source;  // standard / datasheet class the numbers come from
  Kind kind = Kind::Dram;

  // Organisation. A scheduling unit is one pseudo-channel: its own banks, queues and data bus.
  uint32_t channels = 1;
  uint32_t pseudo_channels = 1;  // per channel (HBM pseudo-channels, DDR5 sub-channels)
  uint32_t bank_groups = 1;      // per pseudo-channel
  uint32_t banks_per_group = 1;
  uint32_t row_bytes = 1024;     // row (page) size seen by one pseudo-channel
  uint32_t atom_bytes = 32;      // bytes moved by one column command (bus width x burst length)
  uint32_t data_rate_mbps = 2000;  // per data pin
  uint32_t bus_width_bits = 64;    // data pins of one pseudo-channel
  double published_peak_GBps = 0;  // the vendor/standard figure for this configuration

  // Timings in picoseconds.
  uint64_t tCK = 1000;
  uint64_t tRCD = 0, tCL = 0, tRP = 0, tRAS = 0, tRC = 0;
  uint64_t tCCD_S = 0, tCCD_L = 0, tRRD_S = 0, tRRD_L = 0, tFAW = 0;
  uint64_t tWR = 0, tWTR = 0, tRTP = 0, tRTW = 0;  // tRTW: read-data to write-data bus bubble
  uint64_t tRFC = 0, tREFI = 0;                    // tREFI == 0: no refresh (flash)
  uint64_t tCWL = 0;                               // write latency (CAS to write data)
  uint64_t tBL = 0;                                // burst (data bus) time of one atom
  uint64_t controller_latency_ps = 0;              // added to every completion (PHY/front end)

  // Controller.
  uint32_t read_queue_depth = 32;   // per pseudo-channel
  uint32_t write_queue_depth = 32;
  uint32_t write_high_watermark = 24;  // arrived writes >= this: switch to write drain
  uint32_t write_low_watermark = 8;    // drain until <= this (when reads are waiting)
  std::string mapping = "mop4clxor";   // or a field order such as "RoBaBgCoPcCh" (MSB..LSB)

  // Ideal model only.
  uint64_t ideal_latency_ps = 0;

  uint32_t units() const { return channels * pseudo_channels; }
  uint32_t banks() const { return bank_groups * banks_per_group; }
  // Pins x rate: the bandwidth the data buses can carry, in GB/s (1e9 bytes/s).
  double peak_bandwidth_GBps() const;
  // atom bits / (pins x rate), rounded to the nearest ps: the tBL a preset uses.
  uint64_t burst_time_from_rate_ps() const;
  // Closed-form figures for analytic models: an isolated one-atom read to a closed bank
  // (tRCD + tCL + tBL, or the ideal latency plus one atom's transfer), plus controller latency;
  // and the peak less the share of time refresh blocks the banks (1 - tRFC/tREFI).
  uint64_t idle_read_latency_ps() const;
  double refresh_limited_bandwidth_GBps() const;
  // Throws plena::InputError naming the field when the parameters are inconsistent.
  void validate() const;
  bool operator==(const Params&) const = default;
};

// Built-in technologies: hbm2 (the reference's: 8 ch, 2 Gbps), hbm2e, hbm3, hbm3e, lpddr5x,
// gddr6, gddr7, ddr5, hbf (high-bandwidth flash, an approximation), ideal.
// Unknown names throw plena::InputError listing the known ones.
Params preset(std::string_view name);
std::vector<std::string> preset_names();

struct Request {
  uint64_t addr = 0;        // byte address
  uint64_t size = 0;        // bytes, > 0; split into atoms by the model
  bool is_write = false;
  uint64_t arrival_ps = 0;  // must be >= the time the model has already advanced to
};

struct Completion {
  uint64_t id = 0;
  uint64_t time_ps = 0;
  bool operator==(const Completion&) const = default;
};

struct ChannelStats {
  uint64_t busy_ps = 0;       // data-bus time summed over the channel's pseudo-channels
  uint64_t atoms = 0;
  double utilization = 0;     // busy / (pseudo-channels x active window)
};

struct Stats {
  std::string preset;
  double peak_bandwidth_GBps = 0;
  uint64_t read_requests = 0, write_requests = 0;
  uint64_t read_atoms = 0, write_atoms = 0;
  uint64_t bytes_read = 0, bytes_written = 0;  // as requested (atoms may move more)
  uint64_t row_hits = 0, row_misses = 0, row_conflicts = 0;  // per atom; miss = bank was closed
  uint64_t refreshes = 0;                                    // all-bank refreshes, all units
  uint64_t first_arrival_ps = 0, last_completion_ps = 0;     // active window (completed requests)
  uint64_t first_read_arrival_ps = 0, last_read_completion_ps = 0;
  uint64_t first_write_arrival_ps = 0, last_write_completion_ps = 0;
  double read_bandwidth_GBps = 0;   // bytes_read over the read active window
  double write_bandwidth_GBps = 0;  // bytes_written over the write active window
  double bandwidth_GBps = 0;        // all bytes over the whole active window
  double row_hit_rate = 0;
  double avg_latency_ps = 0;  // per request, arrival -> completion
  uint64_t max_latency_ps = 0;
  uint64_t completed_requests = 0;
  std::vector<ChannelStats> channels;
};
std::string to_json(const Stats& s);  // pretty JSON object

// One trace line: one access atom.
struct TraceEntry {
  bool is_write = false;
  uint64_t addr = 0;
  bool operator==(const TraceEntry&) const = default;
};
using TraceSink = std::function<void(const TraceEntry&)>;
// Writes Ramulator 2 LoadStoreTrace lines ("LD 0x1f40" / "ST 0x1f40") to `out`.
TraceSink ramulator_trace_writer(std::ostream& out);
std::string format_trace_line(const TraceEntry& e);  // without the newline
// Parses that format; InputError "file:line:col: error: ..." on malformed lines.
std::vector<TraceEntry> parse_ramulator_trace(std::string_view text, std::string_view file_name);

// Decoded location of a byte address under a Params' mapping.
struct Location {
  uint32_t channel = 0, pseudo_channel = 0, bank_group = 0, bank = 0;
  uint64_t row = 0;
  uint32_t column = 0;  // atom index within the row
  bool operator==(const Location&) const = default;
};

class DramModel {
 public:
  explicit DramModel(Params p);  // validates
  ~DramModel();
  DramModel(DramModel&&) noexcept;
  DramModel& operator=(DramModel&&) noexcept;

  const Params& params() const;
  Location locate(uint64_t addr) const;

  // Returns the request id (0, 1, 2, ... in submission order). Throws plena::SimFault if the
  // size is 0 or the arrival precedes now_ps().
  uint64_t submit(const Request& r);

  // Schedules everything decidable up to t and returns the requests that completed at or
  // before t, ordered by (time, id). Later submissions must arrive at or after t.
  std::vector<Completion> advance_to(uint64_t t);
  // Earliest time at which advance_to can produce a completion or make a decision; kNever idle.
  // Nothing may complete then: call advance_to(next_event_time()) until completions come back,
  // or use advance_to_next_completion.
  uint64_t next_event_time() const;
  // Advances event by event (never past `limit`) until some request completes, and returns the
  // completions at that time; empty if none by `limit` (then now_ps() == min(limit, last event)).
  std::vector<Completion> advance_to_next_completion(uint64_t limit = kNever);
  // Schedules every queued request (as if nothing else arrives before they finish).
  // Completions stay available to advance_to / complete_time_ps.
  void drain();
  // Completion time of a scheduled request; throws plena::SimFault if not yet known.
  uint64_t complete_time_ps(uint64_t id) const;
  bool is_scheduled(uint64_t id) const;
  uint64_t now_ps() const;  // the horizon already scheduled; submissions must not precede it

  void set_trace_sink(TraceSink sink);  // called once per atom, in submission order
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};


// ---------------------------------------------------------------------------------------------
// DMA transfers and their calibration (shared by the simulator's DMA engine and the analytic
// model, so both cut and time transfers the same way). See docs/dram.md "Transfer calibration".
// ---------------------------------------------------------------------------------------------

// Calls f(addr, bytes) for every request of `rows` rows of `row_bytes` bytes, `stride` bytes
// apart from `base`, cut at `request_bytes`-aligned boundaries (a power of two). Back-to-back rows
// (stride == row_bytes) form one contiguous range.
template <class F>
void for_each_request(uint64_t base, uint64_t row_bytes, uint64_t rows, uint64_t stride, uint64_t request_bytes, F&& f) {
  if (row_bytes == 0 || rows == 0) return;
  const bool contiguous = stride == row_bytes;
  const uint64_t n = contiguous ? 1 : rows;
  const uint64_t len = contiguous ? row_bytes * rows : row_bytes;
  for (uint64_t r = 0; r < n; ++r) {
    uint64_t a = base + r * stride;
    const uint64_t end = a + len;
    while (a < end) {
      const uint64_t next = std::min(end, (a & ~(request_bytes - 1)) + request_bytes);
      f(a, next - a);
      a = next;
    }
  }
}

// One DMA transfer: up to two streams (e.g. a block format's elements and its scale rows), each
// `rows` rows of `row_bytes`, `stride` apart, starting `offset` bytes after the transfer's base.
struct TransferStream {
  uint64_t offset = 0, row_bytes = 0, rows = 0, stride = 0;
  auto operator<=>(const TransferStream&) const = default;
};
struct TransferShape {
  std::array<TransferStream, 2> streams{};
  uint8_t n = 0;
  bool write = false;
  uint64_t bytes() const;
  auto operator<=>(const TransferShape&) const = default;
};

struct BurstOptions {
  uint64_t base = 0;            // byte address of the first transfer
  uint64_t request_bytes = 64;  // the DMA engine's request size (power of two)
  uint32_t queue_depth = 8;     // transfers in flight; the next starts when the oldest completes
  uint64_t issue_gap_ps = 0;    // earliest start of transfer j is j * issue_gap_ps
  uint64_t period_ps = 1000;    // a transfer waiting for a slot starts on the next core-clock edge
  auto operator<=>(const BurstOptions&) const = default;
};
// Completion time (ps, from 0) of each of `count` transfers of `shape` on a fresh model, all of a
// transfer's requests arriving together. Transfer j continues where j-1 ended: every stream's
// start advances by rows * stride per transfer (a tensor streamed tile after tile).
std::vector<uint64_t> simulate_burst(const Params& p, const TransferShape& shape, uint64_t count, const BurstOptions& o);

// Steady-state timing of a shape, from simulate_burst on a copy with at most 128 rows per stream
// (larger transfers scale linearly in rows): transfer j of a back-to-back burst completes at
// first_ps + j * per_transfer_ps (a fresh DRAM); alone_ps is the mean time of one transfer when each
// waits for the previous one (in-order, the first one cold); warm_ps is arrival to completion of
// one transfer issued alone right after the previous one (its rows left open, refresh running).
struct TransferTiming {
  double first_ps = 0, per_transfer_ps = 0, alone_ps = 0, warm_ps = 0;
};
// Memoized for the process (thread-safe): a calibration is a pure function of its three
// arguments, so every simulated step and every estimate point shares them.
TransferTiming calibrate_transfer(const Params& p, const TransferShape& shape, const BurstOptions& o);
// Calibrations computed (cache misses) so far in this process; for tests and reports.
uint64_t calibrations_computed();

}  // namespace plena::dram

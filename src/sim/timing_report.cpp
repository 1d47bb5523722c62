// Stats JSON and the Perfetto trace writer of the timing model.
#include <algorithm>
#include <bit>
#include <cmath>
#include <ostream>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/timing.hpp"
#include "sim/timing_internal.hpp"
#include "support/support.hpp"

namespace plena::sim {
namespace timing_detail {

uint64_t cycle_period_ps(double clock_ghz) {
  if (!(clock_ghz > 0) || !std::isfinite(clock_ghz))
    throw InputError(located("<config>", 0, 0, fmt::format("compute.clock_ghz = {}: expected a positive number", clock_ghz)));
  const double ps = std::round(1000.0 / clock_ghz);
  if (ps < 1) throw InputError(located("<config>", 0, 0, fmt::format("compute.clock_ghz = {}: above 1000 GHz", clock_ghz)));
  return static_cast<uint64_t>(ps);
}

std::string_view unit_name(int unit) {
  static constexpr std::string_view kNames[kUnits] = {"matrix", "vector", "scalar_int", "scalar_fp", "control", "dma"};
  return unit >= 0 && unit < kUnits ? kNames[unit] : "unknown";
}

namespace {

// Microseconds with picosecond resolution, exact (no floating point).
std::string us_from_ps(uint64_t ps) { return fmt::format("{}.{:06}", ps / 1000000, ps % 1000000); }

std::string json_escape(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

uint64_t tid_of(int unit, uint64_t lane) { return 1 + uint64_t(unit) * TraceWriter::kMaxLanes + lane; }

}  // namespace

TraceWriter::TraceWriter(std::ostream& out, uint64_t ps_per_cycle, std::string_view title)
    : out_(out), period_(ps_per_cycle), lane_end_(kUnits) {
  out_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  out_ << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":" << json_escape(title)
       << "}}";
}

void TraceWriter::add(const TraceEvent& e) {
  // Each unit's events arrive in start order, so a greedy first-free lane keeps every lane's
  // slices disjoint.
  auto& ends = lane_end_[e.unit];
  uint64_t lane = 0;
  while (lane < ends.size() && ends[lane] > e.start) ++lane;
  if (lane == ends.size()) {
    if (ends.size() < kMaxLanes)
      ends.push_back(0);
    else
      lane = kMaxLanes - 1;  // more overlap than lanes: share the last one
  }
  ends[lane] = std::max(ends[lane], e.finish);
  write(e, lane);
}

void TraceWriter::add_overflow(const TraceEvent& e) {
  auto& ends = lane_end_[e.unit];
  while (ends.size() < kMaxLanes) ends.push_back(0);
  ends.back() = std::max(ends.back(), e.finish);
  write(e, kMaxLanes - 1);
}

void TraceWriter::write(const TraceEvent& ev, uint64_t lane) {
  TraceEvent e = ev;
  e.finish = std::max(e.finish, e.start);
  fmt::memory_buffer b;
  fmt::format_to(std::back_inserter(b),
                 ",\n{{\"name\":\"{}\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{},"
                 "\"args\":{{\"pc\":{},\"seq\":{},\"issue_cycle\":{},\"start_cycle\":{},\"cycles\":{}",
                 isa::mnemonic(e.op), us_from_ps(e.start * period_), us_from_ps((e.finish - e.start) * period_),
                 tid_of(e.unit, lane), e.pc, e.seq, e.issue, e.start, e.finish - e.start);
  if (e.unit == kDmaUnit) fmt::format_to(std::back_inserter(b), ",\"bytes\":{}", e.bytes);
  b.append(std::string_view("}}"));
  out_.write(b.data(), std::streamsize(b.size()));
}

void TraceWriter::close(std::ostream& to, std::string_view extra) const {
  for (int u = 0; u < kUnits; ++u) {
    for (uint64_t lane = 0; lane < lane_end_[u].size(); ++lane) {
      const std::string name = lane == 0 ? std::string(unit_name(u)) : fmt::format("{}.{}", unit_name(u), lane);
      to << fmt::format(",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":\"{}\"}}}}",
                          tid_of(u, lane), name);
      to << fmt::format(
          ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"sort_index\":{}}}}}",
          tid_of(u, lane), tid_of(u, lane));
    }
  }
  to << extra << "\n]}\n";
}

std::string fault_event(uint64_t ps, std::string_view message) {
  return fmt::format(",\n{{\"name\":\"FAULT\",\"ph\":\"i\",\"s\":\"g\",\"ts\":{},\"pid\":1,\"tid\":0,\"args\":{}}}",
                     us_from_ps(ps), nlohmann::json({{"message", std::string(message)}}).dump());
}

}  // namespace timing_detail

std::string TimingStats::to_json() const {
  using timing_detail::unit_name;
  nlohmann::ordered_json j;
  j["config_hash"] = config_hash;
  j["timing_mode"] = timing_mode;
  j["latency_profile"] = latency_profile;
  j["ps_per_cycle"] = ps_per_cycle;
  j["cycles"] = cycles;
  j["time_ps"] = time_ps;
  j["instructions"] = instructions;
  j["issue_stall_cycles"] = issue_stall_cycles;
  nlohmann::ordered_json units = nlohmann::ordered_json::object();
  const UnitStats* all[] = {&matrix, &vector, &scalar_int, &scalar_fp, &control, &dma};
  for (int u = 0; u < timing_detail::kUnits; ++u) {
    nlohmann::ordered_json x;
    x["busy_cycles"] = all[u]->busy_cycles;
    x["stall_cycles"] = all[u]->stall_cycles;
    x["instructions"] = all[u]->instructions;
    x["utilization"] = cycles ? double(all[u]->busy_cycles) / double(cycles) : 0.0;
    units[std::string(unit_name(u))] = x;
  }
  j["units"] = units;
  nlohmann::ordered_json mix = nlohmann::ordered_json::object();
  for (int op = 0; op < 64; ++op) {
    if (instr_count[op] == 0) continue;
    const std::string name = isa::is_valid_opcode(static_cast<uint32_t>(op))
                                 ? std::string(isa::mnemonic(static_cast<isa::Opcode>(op)))
                                 : fmt::format("op_0x{:02X}", op);
    mix[name] = instr_count[op];
  }
  j["instruction_mix"] = mix;
  nlohmann::ordered_json h;
  h["read_bytes"] = hbm_read_bytes;
  h["write_bytes"] = hbm_write_bytes;
  h["achieved_read_gbps"] = achieved_read_gbps;
  h["achieved_write_gbps"] = achieved_write_gbps;
  h["dma_transfers"] = dma_transfers;
  h["dram_requests"] = dram_requests;
  if (pools.size() > 1) {  // a single pool's traffic is the totals above
    nlohmann::ordered_json ps = nlohmann::ordered_json::array();
    for (const PoolTraffic& p : pools)
      ps.push_back({{"name", p.name}, {"dram", p.dram}, {"read_bytes", p.read_bytes}, {"write_bytes", p.write_bytes},
                    {"transfers", p.transfers}});
    h["pools"] = std::move(ps);
  }
  j["hbm"] = h;
  nlohmann::ordered_json d;
  d["preset"] = dram_preset;
  d["fidelity"] = dram_fidelity;
  d["calibrations"] = dram_calibrations;
  d["peak_gbps"] = dram_peak_gbps;
  d["row_hit_rate"] = dram_row_hit_rate;
  d["row_hits"] = dram_row_hits;
  d["row_misses"] = dram_row_misses;
  d["row_conflicts"] = dram_row_conflicts;
  d["avg_latency_ps"] = dram_avg_latency_ns * 1000.0;
  j["dram"] = d;
  nlohmann::ordered_json en;
  en["total_j"] = energy.total_j();
  en["dynamic_j"] = energy.dynamic_j();
  const double s = double(time_ps) * 1e-12;
  en["average_power_w"] = s > 0 ? energy.total_j() / s : 0.0;
  for (const auto& [part, joules] : ppa::breakdown(energy)) en[std::string(part) + "_j"] = joules;
  j["energy"] = en;
  return j.dump(2) + "\n";
}

ppa::Activity TimingStats::activity() const {
  ppa::Activity a;
  for (size_t i = 0; i < a.per_opcode.size(); ++i) a.per_opcode[i] = double(instr_count[i]);
  a.hbm_read_bytes = double(hbm_read_bytes);
  a.hbm_write_bytes = double(hbm_write_bytes);
  for (size_t i = 0; i < pools.size() && i < a.pool_bytes.size(); ++i)
    a.pool_bytes[i] = double(pools[i].read_bytes + pools[i].write_bytes);
  a.seconds = double(time_ps) * 1e-12;
  return a;
}

}  // namespace plena::sim

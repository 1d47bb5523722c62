// Stats JSON and Ramulator 2 LoadStoreTrace text ("LD 0x<hex>" / "ST 0x<hex>", one per line).
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "dram/dram.hpp"
#include "support/support.hpp"

namespace plena::dram {

std::string to_json(const Stats& s) {
  nlohmann::ordered_json j;
  j["preset"] = s.preset;
  j["peak_gbps"] = s.peak_bandwidth_GBps;
  j["read_requests"] = s.read_requests;
  j["write_requests"] = s.write_requests;
  j["completed_requests"] = s.completed_requests;
  j["read_atoms"] = s.read_atoms;
  j["write_atoms"] = s.write_atoms;
  j["read_bytes"] = s.bytes_read;
  j["write_bytes"] = s.bytes_written;
  j["row_hits"] = s.row_hits;
  j["row_misses"] = s.row_misses;
  j["row_conflicts"] = s.row_conflicts;
  j["row_hit_rate"] = s.row_hit_rate;
  j["refreshes"] = s.refreshes;
  j["first_arrival_ps"] = s.first_arrival_ps;
  j["last_completion_ps"] = s.last_completion_ps;
  j["read_gbps"] = s.read_bandwidth_GBps;
  j["write_gbps"] = s.write_bandwidth_GBps;
  j["bandwidth_gbps"] = s.bandwidth_GBps;
  j["avg_latency_ps"] = s.avg_latency_ps;
  j["max_latency_ps"] = s.max_latency_ps;
  auto& ch = j["channels"] = nlohmann::ordered_json::array();
  for (const ChannelStats& c : s.channels)
    ch.push_back({{"busy_ps", c.busy_ps}, {"atoms", c.atoms}, {"utilization", c.utilization}});
  return j.dump(2);
}

std::string format_trace_line(const TraceEntry& e) {
  static const char* hex = "0123456789abcdef";
  char buf[24];
  int n = 0;
  uint64_t v = e.addr;
  do {
    buf[n++] = hex[v & 15];
    v >>= 4;
  } while (v);
  std::string line = e.is_write ? "ST 0x" : "LD 0x";
  while (n) line.push_back(buf[--n]);
  return line;
}

TraceSink ramulator_trace_writer(std::ostream& out) {
  return [&out](const TraceEntry& e) { out << format_trace_line(e) << '\n'; };
}

std::vector<TraceEntry> parse_ramulator_trace(std::string_view text, std::string_view file_name) {
  std::vector<TraceEntry> out;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto err = [&](int col, const std::string& what) { throw_input(file_name, line_no, col, what); };
    // Ramulator splits on single spaces and wants exactly two tokens.
    if (line.size() < 4 || line[2] != ' ')
      err(1, "malformed trace line '" + std::string(line) + "', expected 'LD 0x<hex>' or 'ST 0x<hex>'");
    TraceEntry e;
    const std::string_view op = line.substr(0, 2);
    if (op == "ST")
      e.is_write = true;
    else if (op != "LD")
      err(1, "unknown operation '" + std::string(op) + "', expected LD or ST");
    std::string_view num = line.substr(3);
    int base = 10;
    int col = 4;
    if (num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X')) {
      num.remove_prefix(2);
      base = 16;
      col += 2;
    }
    if (num.empty()) err(col, "missing address");
    uint64_t v = 0;
    for (size_t i = 0; i < num.size(); ++i) {
      const char c = num[i];
      int d = 0;  // every branch assigns it or err() throws
      if (c >= '0' && c <= '9') d = c - '0';
      else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else err(col + int(i), std::string("unexpected character '") + c + "' in address");
      if (v > (UINT64_MAX - uint64_t(d)) / uint64_t(base)) err(col, "address does not fit in 64 bits");
      v = v * uint64_t(base) + uint64_t(d);
    }
    e.addr = v;
    out.push_back(e);
  }
  return out;
}

}  // namespace plena::dram

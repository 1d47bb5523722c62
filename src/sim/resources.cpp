// Up-front host-memory accounting for the simulator (see resources.hpp).
#include "sim/resources.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "sim/sim.hpp"
#include "sim/timing_internal.hpp"
#include "support/checked.hpp"
#include "support/support.hpp"

namespace plena::sim {
namespace {

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();

uint64_t sat_mul(std::initializer_list<uint64_t> factors) {
  return checked_product(factors).value_or(kSaturated);
}

uint64_t sat_add(uint64_t a, uint64_t b) { return checked_add(a, b).value_or(kSaturated); }

}  // namespace

void MemoryNeed::add(std::string what, uint64_t bytes, std::string knob) {
  parts.push_back({std::move(what), bytes, std::move(knob)});
}

uint64_t MemoryNeed::total() const {
  uint64_t t = 0;
  for (const auto& p : parts) t = sat_add(t, p.bytes);
  return t;
}

MemoryNeed simulator_memory(const config::HardwareConfig& cfg, bool functional) {
  const auto& g = cfg.geometry;
  const auto& s = cfg.sram;
  constexpr uint64_t f32 = sizeof(float);
  MemoryNeed n;
  n.add("INT SRAM", sat_mul({s.int_depth, sizeof(uint32_t)}), "sram.int_depth");
  if (!functional) return n;
  n.add("Vector SRAM", sat_mul({s.vector_depth, g.vlen, f32}), "sram.vector_depth");
  n.add("Matrix SRAM", sat_mul({s.matrix_depth, g.mlen, f32}), "sram.matrix_depth");
  n.add("FP SRAM", sat_mul({s.fp_depth, f32}), "sram.fp_depth");
  // Two MLEN x MLEN scratch tiles for every matmul, and the batched accumulator that the first
  // M_BMM/M_BTMM allocates (BROADCAST_AMOUNT tiles).
  n.add("matmul scratch", sat_mul({2, g.mlen, g.mlen, f32}), "geometry.mlen");
  n.add("batched accumulator", sat_mul({g.broadcast_amount, g.mlen, g.mlen, f32}), "geometry.mlen");
  const uint64_t pages = cfg.hbm.size_bytes / HbmStore::kPageBytes + 1;
  n.add("HBM page table", sat_mul({pages, sizeof(void*)}), "hbm.size_bytes");
  return n;
}

uint64_t hbm_pages_bytes(uint64_t begin, uint64_t end) {
  if (end <= begin) return 0;
  const uint64_t first = begin / HbmStore::kPageBytes, last = (end - 1) / HbmStore::kPageBytes;
  return sat_mul({last - first + 1, HbmStore::kPageBytes});
}

uint64_t trace_bytes(uint64_t instructions) {
  // The event vector may hold up to twice its size while it grows.
  return sat_mul({instructions, sizeof(timing_detail::TraceEvent), 2});
}

std::optional<uint64_t> parse_mem_available(std::string_view meminfo) {
  constexpr std::string_view key = "MemAvailable:";
  size_t p = meminfo.find(key);
  if (p == std::string_view::npos || (p != 0 && meminfo[p - 1] != '\n')) return std::nullopt;
  p = meminfo.find_first_not_of(" \t", p + key.size());
  if (p == std::string_view::npos) return std::nullopt;
  uint64_t kib = 0;
  auto [end, ec] = std::from_chars(meminfo.data() + p, meminfo.data() + meminfo.size(), kib);
  if (ec != std::errc() || end == meminfo.data() + p) return std::nullopt;
  std::string_view rest = meminfo.substr(size_t(end - meminfo.data()));
  if (!rest.starts_with(" kB")) return std::nullopt;
  return checked_mul(kib, 1024);
}

std::optional<uint64_t> host_memory_available() {
  try {
    return parse_mem_available(read_text_file("/proc/meminfo"));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string human_bytes(uint64_t bytes) {
  if (bytes == kSaturated) return "more than 16 EiB";
  constexpr std::string_view units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(bytes);
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) v /= 1024.0, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void require_memory(const MemoryNeed& need, uint64_t available, std::string_view who, std::string_view advice) {
  const uint64_t total = need.total();
  if (total <= available) return;
  std::vector<MemoryPart> parts = need.parts;
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  std::string list;
  for (const auto& p : parts) {
    if (p.bytes == 0) continue;
    list += fmt::format("{}{} {} ({})", list.empty() ? "" : ", ", p.what, human_bytes(p.bytes), p.knob);
  }
  throw InputError(fmt::format(
      "{}: error: the simulator needs {} of host memory ({}), but this machine has {} available (MemAvailable "
      "in /proc/meminfo); {}",
      who, human_bytes(total), list, human_bytes(available), advice));
}

}  // namespace plena::sim

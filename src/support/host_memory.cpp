// Host memory accounting shared by sim, run and compile (see host_memory.hpp).
#include "support/host_memory.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "support/support.hpp"

namespace plena {
namespace {

// A decimal number at the start of `s` (after blanks); `rest` is what follows it.
std::optional<uint64_t> leading_number(std::string_view s, std::string_view* rest) {
  const size_t p = s.find_first_not_of(" \t");
  if (p == std::string_view::npos) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data() + p, s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data() + p) return std::nullopt;
  *rest = s.substr(size_t(end - s.data()));
  return v;
}

// The value of the line "<key><number>..." (key at a line start); `rest` is what follows.
std::optional<uint64_t> keyed_number(std::string_view text, std::string_view key, std::string_view* rest) {
  for (size_t p = text.find(key); p != std::string_view::npos; p = text.find(key, p + 1))
    if (p == 0 || text[p - 1] == '\n') return leading_number(text.substr(p + key.size()), rest);
  return std::nullopt;
}

// A file holding one number and a newline (cgroup's memory.max, memory.current).
std::optional<uint64_t> sole_number(std::string_view text) {
  std::string_view rest;
  auto v = leading_number(text, &rest);
  if (!v || rest.find_first_not_of(" \n") != std::string_view::npos) return std::nullopt;
  return v;
}

std::optional<std::string> read_optional(const std::string& path) {
  try {
    return read_text_file(path);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// This process's cgroup v2 directory ("0::/path" in /proc/self/cgroup).
std::string cgroup_dir() {
  std::string dir = "/sys/fs/cgroup";
  if (auto self = read_optional("/proc/self/cgroup"); self && self->starts_with("0::/")) {
    const std::string_view line = std::string_view(*self).substr(3);
    dir += line.substr(0, line.find('\n'));
  }
  return dir;
}

std::optional<uint64_t> cgroup_room() {
  const std::string dir = cgroup_dir();
  auto max = read_optional(dir + "/memory.max"), current = read_optional(dir + "/memory.current");
  if (!max || !current) return std::nullopt;
  return parse_cgroup_room(*max, *current, read_optional(dir + "/memory.stat").value_or(""));
}

}  // namespace

void MemoryNeed::add(std::string what, uint64_t bytes, std::string knob) {
  parts.push_back({std::move(what), bytes, std::move(knob)});
}

void MemoryNeed::add(const MemoryNeed& more) { parts.insert(parts.end(), more.parts.begin(), more.parts.end()); }

uint64_t MemoryNeed::total() const {
  uint64_t t = 0;
  for (const auto& p : parts) t = sat_add(t, p.bytes);
  return t;
}

std::string human_bytes(uint64_t bytes) {
  if (bytes == kSaturatedBytes) return "more than 16 EiB";
  constexpr std::string_view units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(bytes);
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) v /= 1024.0, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::optional<uint64_t> parse_mem_available(std::string_view meminfo) {
  std::string_view rest;
  const auto kib = keyed_number(meminfo, "MemAvailable:", &rest);
  if (!kib || !rest.starts_with(" kB")) return std::nullopt;
  return checked_mul(*kib, 1024);
}

std::optional<uint64_t> parse_cgroup_room(std::string_view max, std::string_view current, std::string_view stat) {
  const auto limit = sole_number(max), used = sole_number(current);
  if (!limit || !used) return std::nullopt;  // "max": no limit
  std::string_view rest;
  const uint64_t cache = keyed_number(stat, "inactive_file ", &rest).value_or(0);
  const uint64_t held = *used > cache ? *used - cache : 0;
  return *limit > held ? *limit - held : 0;
}

std::optional<uint64_t> host_memory_available() {
  std::optional<uint64_t> avail;
  if (auto meminfo = read_optional("/proc/meminfo")) avail = parse_mem_available(*meminfo);
  if (!avail) {
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) avail = sat_mul({uint64_t(pages), uint64_t(page)});
  }
  if (auto room = cgroup_room()) avail = avail ? std::min(*avail, *room) : *room;
  return avail;
}

void require_memory(const MemoryNeed& need, std::optional<uint64_t> available, std::string_view who,
                    std::string_view advice) {
  const uint64_t total = need.total();
  if (!available || total <= *available) return;
  std::vector<MemoryPart> parts = need.parts;
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  // The few largest parts say what to change; the rest are summed.
  constexpr size_t kListed = 4;
  std::string list;
  uint64_t others = 0;
  for (size_t i = 0; i < parts.size() && parts[i].bytes > 0; ++i) {
    const auto& p = parts[i];
    if (i >= kListed) {
      others = sat_add(others, p.bytes);
      continue;
    }
    list += fmt::format("{}{} {}", list.empty() ? "" : ", ", p.what, human_bytes(p.bytes));
    if (!p.knob.empty()) list += fmt::format(" ({})", p.knob);
  }
  if (others > 0) list += fmt::format(", others {}", human_bytes(others));
  throw InputError(fmt::format("{}: error: needs about {} of host memory ({}), but this machine has {} available; {}",
                               who, human_bytes(total), list, human_bytes(*available), advice));
}

}  // namespace plena

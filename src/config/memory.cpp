// [memory.<pool>] tables: parsing, validation, canonical emission and the pool address map
// (docs/memory.md).
#include "config/memory_detail.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "dram/dram.hpp"
#include "numerics/hbm_tensor.hpp"
#include "support/support.hpp"

namespace plena::config {

std::string_view memory_class_name(MemoryClass c) {
  switch (c) {
    case MemoryClass::Weights: return "weights";
    case MemoryClass::Kv: return "kv";
    case MemoryClass::Activations: return "activations";
  }
  return "activations";
}

MemoryClass memory_class_of(numerics::TensorClass c) {
  if (c == numerics::TensorClass::Weight) return MemoryClass::Weights;
  if (c == numerics::TensorClass::Kv) return MemoryClass::Kv;
  return MemoryClass::Activations;  // activations, logits, scratch / spill
}

std::vector<MemoryPool> memory_pools(const HardwareConfig& cfg) {
  if (!cfg.memory.empty()) return cfg.memory;
  MemoryPool p;
  p.name = "hbm";
  if (!dram::preset_grade(cfg.hbm.dram, p.standard, p.speed)) p.standard = cfg.hbm.dram;
  p.capacity_bytes = cfg.hbm.size_bytes;
  p.holds.assign(std::begin(kMemoryClasses), std::end(kMemoryClasses));
  return {p};
}

size_t pool_index(const HardwareConfig& cfg, MemoryClass c) {
  for (size_t i = 0; i < cfg.memory.size(); ++i)
    if (std::find(cfg.memory[i].holds.begin(), cfg.memory[i].holds.end(), c) != cfg.memory[i].holds.end()) return i;
  return 0;  // the implicit pool (validated configs place every class)
}

uint64_t pool_base(const HardwareConfig& cfg, size_t i) {
  uint64_t base = 0;
  for (size_t k = 0; k < i && k < cfg.memory.size(); ++k) base += cfg.memory[k].capacity_bytes;
  return base;
}

size_t pool_at(const HardwareConfig& cfg, uint64_t addr) {
  uint64_t end = 0;
  for (size_t i = 0; i < cfg.memory.size(); ++i) {
    end += cfg.memory[i].capacity_bytes;
    if (addr < end) return i;
  }
  return cfg.memory.empty() ? 0 : cfg.memory.size() - 1;
}

dram::Params pool_params(const HardwareConfig& cfg, size_t i) {
  if (cfg.memory.empty()) return dram::preset(cfg.hbm.dram);
  const MemoryPool& p = cfg.memory.at(i);
  return dram::standard_params(p.standard, p.speed, p.overrides, p.channels, "memory." + p.name);
}

namespace detail {
namespace {

struct Ctx {
  std::string_view file;
  [[noreturn]] void fail(const toml::node* n, std::string_view msg) const {
    throw_input(file, n ? int(n->source().begin.line) : 0, n ? int(n->source().begin.column) : 0, msg);
  }
};

bool valid_name(std::string_view v) {
  if (v.empty() || v.size() > 64 || !(std::islower(uint8_t(v[0])) || std::isdigit(uint8_t(v[0])))) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return std::islower(uint8_t(c)) || std::isdigit(uint8_t(c)) || c == '_' || c == '-';
  });
}

// Integer bytes, or a string "<number> <unit>" with B, KiB, MiB, GiB, TiB, KB, MB, GB, TB.
uint64_t read_capacity(const Ctx& c, const toml::node& n, const std::string& path) {
  const std::string expect = "expected bytes as an integer or a string such as \"24 GiB\" / \"512GB\"";
  if (auto i = n.as_integer()) {
    if (i->get() <= 0) c.fail(&n, fmt::format("{} = {}: {} (> 0)", path, i->get(), expect));
    return uint64_t(i->get());
  }
  auto s = n.as_string();
  if (!s) c.fail(&n, fmt::format("{}: {}", path, expect));
  const std::string& t = s->get();
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(t, &pos);
  } catch (const std::exception&) {
    c.fail(&n, fmt::format("{} = \"{}\": {}", path, t, expect));
  }
  std::string unit = t.substr(pos);
  unit.erase(0, unit.find_first_not_of(' '));
  constexpr std::pair<std::string_view, double> kUnits[] = {
      {"B", 1.0}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}};
  for (const auto& [u, f] : kUnits)
    if (unit == u) {
      const double bytes = v * f;
      if (!(bytes > 0) || bytes > 1.1e18 || bytes != std::floor(bytes))
        c.fail(&n, fmt::format("{} = \"{}\": {} (a whole number of bytes > 0)", path, t, expect));
      return uint64_t(bytes);
    }
  c.fail(&n, fmt::format("{} = \"{}\": unknown unit '{}'; {}", path, t, unit, expect));
}

std::vector<MemoryClass> read_holds(const Ctx& c, const toml::node& n, const std::string& path) {
  const toml::array* a = n.as_array();
  const std::string expect = "expected an array of \"weights\", \"kv\", \"activations\"";
  if (!a) c.fail(&n, fmt::format("{}: {}", path, expect));
  std::vector<MemoryClass> out;
  for (const auto& e : *a) {
    auto s = e.as_string();
    auto it = s ? std::find_if(std::begin(kMemoryClasses), std::end(kMemoryClasses),
                               [&](MemoryClass m) { return memory_class_name(m) == s->get(); })
                : std::end(kMemoryClasses);
    if (it == std::end(kMemoryClasses)) c.fail(&e, fmt::format("{}: {}", path, expect));
    if (std::find(out.begin(), out.end(), *it) != out.end())
      c.fail(&e, fmt::format("{}: \"{}\" listed twice", path, s->get()));
    out.push_back(*it);
  }
  return out;
}

std::vector<dram::FieldOverride> read_overrides(const Ctx& c, const toml::node& n, const std::string& path) {
  const toml::table* t = n.as_table();
  if (!t) c.fail(&n, fmt::format("{}: expected a table of DRAM parameter overrides", path));
  std::vector<dram::FieldOverride> out;
  for (const auto& [k, v] : *t) {
    dram::FieldOverride o;
    o.field = std::string(k.str());
    const std::string where = fmt::format("{}.{}", path, k.str());
    if (auto i = v.as_integer()) o.value.value = double(i->get());
    else if (auto d = v.as_floating_point()) o.value.value = d->get();
    else if (const toml::table* u = v.as_table(); u && u->size() == 1 && (u->get("ck") || u->get("ps"))) {
      const toml::node* x = u->get("ck") ? u->get("ck") : u->get("ps");
      o.value.unit = u->get("ck") ? dram::FieldValue::Unit::Clocks : dram::FieldValue::Unit::Ps;
      if (!x->is_number()) c.fail(x, fmt::format("{}: expected a number", where));
      o.value.value = x->value<double>().value_or(0);
    } else {
      c.fail(&v, fmt::format("{}: expected a number (ns for timings), {{ ck = N }} or {{ ps = N }}", where));
    }
    const bool timing = !o.field.empty() && o.field[0] == 't';
    if (o.value.unit == dram::FieldValue::Unit::Number && timing) o.value.unit = dram::FieldValue::Unit::Ns;
    try {
      dram::check_override(o, path);
    } catch (const InputError& e) {
      c.fail(&v, e.what());
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::string read_string(const Ctx& c, const toml::table& t, std::string_view key, const std::string& path) {
  const toml::node* n = t.get(key);
  if (!n->is_string()) c.fail(n, fmt::format("{}.{}: expected a string", path, key));
  return n->as_string()->get();
}

MemoryPool read_pool(const Ctx& c, std::string_view name, const toml::node& n) {
  const std::string path = fmt::format("memory.{}", name);
  const toml::table* t = n.as_table();
  if (!t) c.fail(&n, fmt::format("{}: expected a table [{}]", path, path));
  if (!valid_name(name)) c.fail(&n, fmt::format("[{}]: invalid pool name: expected 1-64 characters of [a-z0-9_-]", path));
  MemoryPool p;
  p.name = std::string(name);
  constexpr std::string_view kKeys[] = {"standard", "speed", "channels", "capacity", "holds", "overrides"};
  for (const auto& [k, v] : *t)
    if (std::find(std::begin(kKeys), std::end(kKeys), k.str()) == std::end(kKeys))
      c.fail(&v, fmt::format("unknown key {}.{}; known keys: {}", path, k.str(), fmt::join(kKeys, ", ")));
  if (!t->get("standard"))
    c.fail(&n, fmt::format("[{}]: missing key standard (one of: {})", path, fmt::join(dram::standard_names(), ", ")));
  p.standard = read_string(c, *t, "standard", path);
  const auto names = dram::standard_names();
  if (std::find(names.begin(), names.end(), p.standard) == names.end())
    c.fail(t->get("standard"), fmt::format("{}.standard = \"{}\": unknown memory standard; expected one of: {}", path,
                                           p.standard, fmt::join(names, ", ")));
  const dram::StandardInfo& info = dram::standard_info(p.standard);
  p.speed = t->get("speed") ? read_string(c, *t, "speed", path) : info.default_speed;
  if (std::find(info.speeds.begin(), info.speeds.end(), p.speed) == info.speeds.end())
    c.fail(t->get("speed"), fmt::format("{}.speed = \"{}\": unknown speed grade of {}; expected one of: {}", path,
                                        p.speed, p.standard, fmt::join(info.speeds, ", ")));
  if (const toml::node* ch = t->get("channels")) {
    auto i = ch->as_integer();
    if (!i || i->get() < 1 || i->get() > 4096 || (i->get() & (i->get() - 1)) != 0)
      c.fail(ch, fmt::format("{}.channels: expected a power of two in [1, 4096]", path));
    p.channels = uint32_t(i->get());
  }
  if (!t->get("capacity")) c.fail(&n, fmt::format("[{}]: missing key capacity (bytes, e.g. \"24 GiB\")", path));
  p.capacity_bytes = read_capacity(c, *t->get("capacity"), path + ".capacity");
  if (p.capacity_bytes % 64 != 0) c.fail(t->get("capacity"), fmt::format("{}.capacity: must be a multiple of 64 bytes", path));
  if (const toml::node* h = t->get("holds")) p.holds = read_holds(c, *h, path + ".holds");
  if (const toml::node* o = t->get("overrides")) p.overrides = read_overrides(c, *o, path + ".overrides");
  try {
    (void)dram::standard_params(p.standard, p.speed, p.overrides, p.channels, path);
  } catch (const InputError& e) {
    c.fail(&n, e.what());
  }
  return p;
}

}  // namespace

void read_memory(const toml::node* memory, std::string_view file, HardwareConfig& cfg) {
  if (!memory) return;
  const Ctx c{file};
  const toml::table* t = memory->as_table();
  if (!t || t->empty()) c.fail(memory, "memory: expected [memory.<pool>] tables");
  for (const auto& [k, v] : *t) cfg.memory.push_back(read_pool(c, k.str(), v));
  if (cfg.memory.size() > kMaxPools)
    c.fail(memory, fmt::format("memory: {} pools; expected at most {}", cfg.memory.size(), kMaxPools));
  if (cfg.memory.size() == 1 && cfg.memory[0].holds.empty())
    cfg.memory[0].holds.assign(std::begin(kMemoryClasses), std::end(kMemoryClasses));
  for (MemoryClass m : kMemoryClasses) {
    size_t n = 0;
    for (const auto& p : cfg.memory) n += size_t(std::count(p.holds.begin(), p.holds.end(), m));
    if (n != 1)
      c.fail(memory, fmt::format("memory: class \"{}\" is held by {} pools; expected exactly one pool to list it in holds",
                                 memory_class_name(m), n));
  }
  uint64_t total = 0;
  for (const auto& p : cfg.memory) total += p.capacity_bytes;
  if (total > cfg.hbm.size_bytes)
    c.fail(memory, fmt::format("memory: the pools' capacities add up to {} bytes, more than hbm.size_bytes ({}): the pools "
                               "share the device's HBM address space; expected hbm.size_bytes >= {}",
                               total, cfg.hbm.size_bytes, total));
}

std::string memory_toml(const HardwareConfig& cfg) {
  std::string out;
  for (const MemoryPool& p : cfg.memory) {
    out += fmt::format("\n[memory.{}]\nstandard = \"{}\"\nspeed = \"{}\"\n", p.name, p.standard, p.speed);
    if (p.channels) out += fmt::format("channels = {}\n", p.channels);
    out += fmt::format("capacity = {}\n", p.capacity_bytes);
    std::vector<std::string> holds;
    for (MemoryClass m : p.holds) holds.push_back(fmt::format("\"{}\"", memory_class_name(m)));
    out += fmt::format("holds = [{}]\n", fmt::join(holds, ", "));
    if (p.overrides.empty()) continue;
    out += fmt::format("\n[memory.{}.overrides]\n", p.name);
    for (const auto& o : p.overrides) out += fmt::format("{} = {}\n", o.field, dram::field_value_text(o.value));
  }
  return out;
}

nlohmann::ordered_json memory_json(const HardwareConfig& cfg) {
  nlohmann::ordered_json pools = nlohmann::ordered_json::array();
  for (size_t i = 0; i < cfg.memory.size(); ++i) {
    const MemoryPool& p = cfg.memory[i];
    nlohmann::ordered_json j;
    j["name"] = p.name;
    j["standard"] = p.standard;
    j["speed"] = p.speed;
    j["channels"] = p.channels;
    j["capacity_bytes"] = p.capacity_bytes;
    j["base"] = pool_base(cfg, i);
    for (MemoryClass m : p.holds) j["holds"].push_back(memory_class_name(m));
    nlohmann::ordered_json& o = j["overrides"] = nlohmann::ordered_json::object();
    for (const auto& x : p.overrides) o[x.field] = dram::field_value_text(x.value);
    pools.push_back(std::move(j));
  }
  return pools;
}

}  // namespace detail
}  // namespace plena::config

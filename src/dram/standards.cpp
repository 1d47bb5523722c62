// data/memory/<standard>.toml -> StandardInfo and resolved Params (docs/memory.md).
#include "dram/standards.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <toml++/toml.h>
#include <utility>

#include "dram/dram.hpp"
#include "support/support.hpp"

namespace plena::dram {
namespace detail {
std::span<const std::pair<std::string_view, std::string_view>> embedded_standards();  // generated
}  // namespace detail

namespace {

enum class FieldKind : uint8_t { Count, Real, Time };
struct FieldDef {
  std::string_view name;
  FieldKind kind;
  uint32_t Params::*u = nullptr;
  double Params::*d = nullptr;
  uint64_t Params::*t = nullptr;
};

constexpr FieldDef count(std::string_view n, uint32_t Params::*m) { return {n, FieldKind::Count, m, nullptr, nullptr}; }
constexpr FieldDef time(std::string_view n, uint64_t Params::*m) { return {n, FieldKind::Time, nullptr, nullptr, m}; }

// Every Params number a data file or an override may set. tCK is applied first (clock-valued
// timings are multiples of the final tCK).
const FieldDef kFields[] = {
    time("tCK", &Params::tCK),
    count("channels", &Params::channels), count("pseudo_channels", &Params::pseudo_channels),
    count("bank_groups", &Params::bank_groups), count("banks_per_group", &Params::banks_per_group),
    count("row_bytes", &Params::row_bytes), count("atom_bytes", &Params::atom_bytes),
    count("data_rate_mbps", &Params::data_rate_mbps), count("bus_width_bits", &Params::bus_width_bits),
    {"published_peak_GBps", FieldKind::Real, nullptr, &Params::published_peak_GBps, nullptr},
    time("tRCD", &Params::tRCD), time("tCL", &Params::tCL), time("tRP", &Params::tRP),
    time("tRAS", &Params::tRAS), time("tRC", &Params::tRC), time("tCCD_S", &Params::tCCD_S),
    time("tCCD_L", &Params::tCCD_L), time("tRRD_S", &Params::tRRD_S), time("tRRD_L", &Params::tRRD_L),
    time("tFAW", &Params::tFAW), time("tWR", &Params::tWR), time("tWTR", &Params::tWTR),
    time("tRTP", &Params::tRTP), time("tRTW", &Params::tRTW), time("tRFC", &Params::tRFC),
    time("tREFI", &Params::tREFI), time("tCWL", &Params::tCWL), time("tBL", &Params::tBL),
    time("controller_latency", &Params::controller_latency_ps), time("ideal_latency", &Params::ideal_latency_ps),
    count("read_queue_depth", &Params::read_queue_depth), count("write_queue_depth", &Params::write_queue_depth),
    count("write_high_watermark", &Params::write_high_watermark),
    count("write_low_watermark", &Params::write_low_watermark),
};

const FieldDef* find_field(std::string_view name) {
  for (const FieldDef& f : kFields)
    if (f.name == name) return &f;
  return nullptr;
}

using Entries = std::vector<FieldOverride>;

struct SpeedGrade {
  std::string name, description, source, preset;
  Entries entries;
};
struct Standard {
  StandardInfo info;
  Entries params;
  std::vector<SpeedGrade> speeds;
};

[[noreturn]] void bad(std::string_view file, const toml::node* n, std::string_view msg) {
  const int line = n ? int(n->source().begin.line) : 0, col = n ? int(n->source().begin.column) : 0;
  throw_input(file, line, col, msg);
}

// A value: a number (ns for timings), { ck = N } or { ps = N } (timings only).
FieldValue read_value(const FieldDef& f, const toml::node& n, std::string_view file, std::string_view path) {
  auto number = [](const toml::node& x) -> std::optional<double> {
    if (auto i = x.as_integer()) return double(i->get());
    if (auto d = x.as_floating_point()) return d->get();
    return std::nullopt;
  };
  FieldValue v;
  if (auto x = number(n)) {
    v.unit = f.kind == FieldKind::Time ? FieldValue::Unit::Ns : FieldValue::Unit::Number;
    v.value = *x;
  } else if (const toml::table* t = n.as_table(); t && f.kind == FieldKind::Time && t->size() == 1) {
    const toml::node* ck = t->get("ck");
    const toml::node* ps = t->get("ps");
    const auto num = ck ? number(*ck) : ps ? number(*ps) : std::nullopt;
    if (!num) bad(file, &n, fmt::format("{}: expected {{ ck = <clocks> }} or {{ ps = <picoseconds> }}", path));
    v.unit = ck ? FieldValue::Unit::Clocks : FieldValue::Unit::Ps;
    v.value = *num;
  } else {
    bad(file, &n, fmt::format("{}: expected {}", path,
                              f.kind == FieldKind::Time ? "a time in ns, { ck = N } or { ps = N }" : "a number"));
  }
  if (!std::isfinite(v.value) || v.value < 0) bad(file, &n, fmt::format("{}: expected a finite value >= 0", path));
  return v;
}

Entries read_entries(const toml::table& t, std::string_view file, std::string_view table,
                     std::span<const std::string_view> skip) {
  Entries out;
  for (const auto& [k, n] : t) {
    if (std::find(skip.begin(), skip.end(), k.str()) != skip.end()) continue;
    const std::string path = fmt::format("{}.{}", table, k.str());
    const FieldDef* f = find_field(k.str());
    if (!f) bad(file, &n, fmt::format("unknown key {}; expected one of: {}", path, fmt::join(override_field_names(), ", ")));
    out.push_back({std::string(k.str()), read_value(*f, n, file, path)});
  }
  return out;
}

std::string required_string(const toml::table& t, std::string_view key, std::string_view file, std::string_view where) {
  const toml::node* n = t.get(key);
  if (!n || !n->is_string()) bad(file, n ? n : nullptr, fmt::format("{}{}: expected a string", where, key));
  return n->as_string()->get();
}

double tech_value(const toml::table& tech, std::string_view key, std::string_view file, std::string& source,
                  bool required = true) {
  const toml::table* e = tech[key].as_table();
  if (!e) {
    if (!required) return 0;
    bad(file, tech.get(key), fmt::format("tech.{}: expected {{ value = <number>, source = \"...\" }}", key));
  }
  const auto v = (*e)["value"].value<double>();
  const auto s = (*e)["source"].value<std::string>();
  if (!v || !s || s->empty() || *v < 0)
    bad(file, e, fmt::format("tech.{}: expected {{ value = <number >= 0>, source = \"...\" }}", key));
  source = *s;
  return *v;
}

TechInfo read_tech(const toml::table& root, std::string_view file) {
  const toml::table* tech = root["tech"].as_table();
  if (!tech) bad(file, nullptr, "missing table [tech]");
  TechInfo t;
  std::string unused;
  t.pj_per_bit = tech_value(*tech, "pj_per_bit", file, t.pj_source);
  t.background_mw_per_gb = tech_value(*tech, "background_mw_per_gb", file, t.background_source);
  t.cost_usd_per_gb = tech_value(*tech, "cost_usd_per_gb", file, t.cost_source);
  t.device_capacity_gb = tech_value(*tech, "device_capacity_gb", file, t.capacity_source);
  t.write_endurance_cycles = tech_value(*tech, "write_endurance_cycles", file, unused, false);
  return t;
}

Standard parse_standard(std::string_view stem, std::string_view text) {
  const std::string file = fmt::format("data/memory/{}.toml", stem);
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    throw_input(file, int(e.source().begin.line), int(e.source().begin.column), e.description());
  }
  Standard s;
  s.info.name = required_string(root, "name", file, "");
  if (s.info.name != stem) bad(file, root.get("name"), fmt::format("name = \"{}\": must equal the file name '{}'", s.info.name, stem));
  s.info.description = required_string(root, "description", file, "");
  s.info.source = required_string(root, "source", file, "");
  s.info.kind = required_string(root, "kind", file, "");
  if (s.info.kind != "dram" && s.info.kind != "flash" && s.info.kind != "ideal")
    bad(file, root.get("kind"), "kind: expected \"dram\", \"flash\" or \"ideal\"");
  s.info.default_speed = required_string(root, "default_speed", file, "");
  const toml::table* params = root["params"].as_table();
  if (!params) bad(file, nullptr, "missing table [params]");
  s.params = read_entries(*params, file, "params", {});
  s.info.tech = read_tech(root, file);
  const toml::table* speeds = root["speed"].as_table();
  if (!speeds || speeds->empty()) bad(file, nullptr, "missing [speed.<grade>] tables");
  constexpr std::string_view kMeta[] = {"description", "source", "preset"};
  for (const auto& [k, n] : *speeds) {
    const toml::table* t = n.as_table();
    const std::string table = fmt::format("speed.{}", k.str());
    if (!t) bad(file, &n, table + ": expected a table");
    SpeedGrade g;
    g.name = std::string(k.str());
    g.description = required_string(*t, "description", file, table + ".");
    g.source = required_string(*t, "source", file, table + ".");
    g.preset = (*t)["preset"].value_or(std::string{});
    g.entries = read_entries(*t, file, table, kMeta);
    s.info.speeds.push_back(g.name);
    s.speeds.push_back(std::move(g));
  }
  if (std::find(s.info.speeds.begin(), s.info.speeds.end(), s.info.default_speed) == s.info.speeds.end())
    bad(file, root.get("default_speed"), fmt::format("default_speed = \"{}\": no such [speed.*] table", s.info.default_speed));
  return s;
}

const std::map<std::string, Standard, std::less<>>& standards() {
  static const auto all = [] {
    std::map<std::string, Standard, std::less<>> m;
    for (const auto& [stem, text] : detail::embedded_standards()) m.emplace(std::string(stem), parse_standard(stem, text));
    return m;
  }();
  return all;
}

const Standard& find_standard(std::string_view name) {
  const auto& all = standards();
  auto it = all.find(name);
  if (it == all.end())
    throw InputError(fmt::format("unknown memory standard '{}', expected one of: {} (data/memory/*.toml)", name,
                                 fmt::join(standard_names(), ", ")));
  return it->second;
}

uint64_t to_ps(const FieldValue& v, uint64_t tck, std::string_view what) {
  switch (v.unit) {
    case FieldValue::Unit::Ns: return static_cast<uint64_t>(v.value * 1000.0 + 0.5);
    case FieldValue::Unit::Clocks: return static_cast<uint64_t>(std::llround(v.value * double(tck)));
    case FieldValue::Unit::Ps:
    case FieldValue::Unit::Number:
      if (v.value != std::floor(v.value)) throw InputError(fmt::format("{}: expected whole picoseconds", what));
      return static_cast<uint64_t>(v.value);
  }
  return 0;
}

void apply(Params& p, const FieldOverride& o, std::string_view where) {
  const FieldDef* f = find_field(o.field);
  const std::string what = fmt::format("{}.{} = {}", where, o.field, field_value_text(o.value));
  switch (f->kind) {
    case FieldKind::Time: p.*(f->t) = to_ps(o.value, p.tCK, what); break;
    case FieldKind::Real: p.*(f->d) = o.value.value; break;
    case FieldKind::Count:
      if (o.value.value != std::floor(o.value.value) || o.value.value > 4294967295.0)
        throw InputError(fmt::format("{}: expected a whole number", what));
      p.*(f->u) = static_cast<uint32_t>(o.value.value);
      break;
  }
}

}  // namespace

std::vector<std::string> standard_names() {
  std::vector<std::string> v;
  for (const auto& [name, s] : standards()) v.push_back(name);
  return v;
}

const StandardInfo& standard_info(std::string_view standard) { return find_standard(standard).info; }

std::vector<std::string> override_field_names() {
  std::vector<std::string> v;
  for (const FieldDef& f : kFields) v.emplace_back(f.name);
  return v;
}

void check_override(const FieldOverride& o, std::string_view where) {
  const FieldDef* f = find_field(o.field);
  if (!f)
    throw InputError(fmt::format("{}: unknown field '{}', expected one of: {}", where, o.field,
                                 fmt::join(override_field_names(), ", ")));
  if (f->kind != FieldKind::Time && o.value.unit != FieldValue::Unit::Number)
    throw InputError(fmt::format("{}.{}: {{ ck = }} / {{ ps = }} apply to timings only; expected a number", where, o.field));
  if (!std::isfinite(o.value.value) || o.value.value < 0)
    throw InputError(fmt::format("{}.{}: expected a finite value >= 0", where, o.field));
}

std::string field_value_text(const FieldValue& v) {
  auto num = [](double x) {
    std::string t = fmt::format("{}", x);
    return t;
  };
  switch (v.unit) {
    case FieldValue::Unit::Clocks: return fmt::format("{{ ck = {} }}", num(v.value));
    case FieldValue::Unit::Ps: return fmt::format("{{ ps = {} }}", num(v.value));
    case FieldValue::Unit::Ns: {
      std::string t = num(v.value);
      if (t.find_first_of(".e") == std::string::npos) t += ".0";
      return t;
    }
    case FieldValue::Unit::Number: return num(v.value);
  }
  return {};
}

Params standard_params(std::string_view standard, std::string_view speed, std::span<const FieldOverride> overrides,
                       uint32_t channels, std::string_view where) {
  const Standard& s = find_standard(standard);
  const std::string_view sp = speed.empty() ? std::string_view(s.info.default_speed) : speed;
  auto g = std::find_if(s.speeds.begin(), s.speeds.end(), [&](const SpeedGrade& x) { return x.name == sp; });
  if (g == s.speeds.end())
    throw InputError(fmt::format("{}: unknown speed grade '{}' of memory standard '{}', expected one of: {}", where, sp,
                                 standard, fmt::join(s.info.speeds, ", ")));
  // Last value per field wins: [params], then the speed grade, then the overrides.
  std::map<std::string, FieldValue, std::less<>> merged;
  for (const auto& e : s.params) merged[e.field] = e.value;
  for (const auto& e : g->entries) merged[e.field] = e.value;
  for (const auto& e : overrides) {
    check_override(e, where);
    merged[e.field] = e.value;
  }
  if (channels) merged["channels"] = FieldValue{FieldValue::Unit::Number, double(channels)};
  Params p;
  p.name = g->preset.empty() ? fmt::format("{}-{}", s.info.name, g->name) : g->preset;
  p.description = g->description;
  p.source = g->source;
  p.kind = s.info.kind == "ideal" ? Kind::Ideal : Kind::Dram;
  if (auto it = merged.find("tCK"); it != merged.end()) apply(p, {"tCK", it->second}, where);
  for (const auto& [field, value] : merged)
    if (field != "tCK" && field != "tBL") apply(p, {field, value}, where);
  if (p.kind == Kind::Dram) p.tBL = p.burst_time_from_rate_ps();
  if (auto it = merged.find("tBL"); it != merged.end()) apply(p, {"tBL", it->second}, where);
  try {
    p.validate();
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", where, e.what()));
  }
  return p;
}

bool preset_grade(std::string_view preset, std::string& standard, std::string& speed) {
  for (const auto& [name, s] : standards())
    for (const SpeedGrade& g : s.speeds)
      if (g.preset == preset) {
        standard = name;
        speed = g.name;
        return true;
      }
  return false;
}

}  // namespace plena::dram

// TOML -> HardwareConfig: every key checked (unknown, missing, type, range), then the
// cross-key invariants, then latency resolution (profile values, then [latency] overrides).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <toml++/toml.h>

#include "config/memory_detail.hpp"
#include "config/schema.hpp"
#include "dram/dram.hpp"
#include "support/support.hpp"

namespace plena::config {
namespace {

using detail::Field;
using detail::Kind;

struct Loc {
  int line = 0;
  int col = 0;
  bool inherited = false;  // value came from the `base` preset
};

Loc loc_of(const toml::source_region& r) {
  return {static_cast<int>(r.begin.line), static_cast<int>(r.begin.column), false};
}
Loc loc_of(const toml::node& n) { return loc_of(n.source()); }
Loc loc_of(const toml::key& k) { return loc_of(k.source()); }

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "nothing";
  }
}

// How a raw TOML value is echoed in messages.
std::string node_text(const toml::node& n) {
  if (auto s = n.as_string()) return fmt::format("\"{}\"", s->get());
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto f = n.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (n.is_table()) return "{...}";
  if (n.is_array()) return "[...]";
  return "<value>";
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Reference (plena_settings.toml) spellings that do not reduce to our key by lowercasing.
constexpr std::pair<std::string_view, std::string_view> kReferenceAliases[] = {
    {"matrix_sram_size", "sram.matrix_depth"},
    {"vector_sram_size", "sram.vector_depth"},
    {"hbm_size", "hbm.size_bytes"},
    {"hbm_m_prefetch_amount", "hbm.m_prefetch_amount"},
    {"hbm_v_prefetch_amount", "hbm.v_prefetch_amount"},
    {"hbm_v_writeback_amount", "hbm.v_writeback_amount"},
    {"systolic_processing_overhead", "latency.systolic_overhead"},
    {"dc_en", "timing.latency_profile"},
    {"max_loop_instructions", "timing.loop_iteration_budget"},
    {"matrix_sram_type", "sram.matrix_type"},
    {"vector_sram_type", "sram.vector_type"},
    {"hbm_m_weight_type", "formats.m_weight"},
    {"hbm_m_kv_type", "formats.m_kv"},
    {"hbm_v_act_type", "formats.v_act"},
    {"hbm_v_kv_type", "formats.v_kv"},
};

// " (did you mean ...?)" for an unknown key `key` found in table `table` ("" = top level).
std::string suggestion(std::string_view table, std::string_view key) {
  std::string k = lower(key);
  if (k.ends_with("_cycles")) k.resize(k.size() - 7);
  for (const auto& [alias, path] : kReferenceAliases) {
    if (k == alias) return fmt::format(" (did you mean {}?)", path);
  }
  // Same key in another table: the user put it in the wrong place.
  for (const auto& f : detail::schema()) {
    if (f.key == k && f.table != table) return fmt::format(" (did you mean {}? it belongs in [{}])", f.path(), f.table);
  }
  if (table.empty()) {
    for (auto t : detail::table_names()) {
      if (edit_distance(k, t) <= std::max<size_t>(2, t.size() / 3)) return fmt::format(" (did you mean [{}]?)", t);
    }
  }
  const Field* best = nullptr;
  size_t best_d = 0;
  for (const auto& f : detail::schema()) {
    if (!table.empty() && f.table != table) continue;
    size_t d = edit_distance(k, f.key);
    if (!best || d < best_d) best = &f, best_d = d;
  }
  if (best && best_d <= std::max<size_t>(2, best->key.size() / 3)) {
    return table.empty() ? fmt::format(" (did you mean {}?)", best->path())
                         : fmt::format(" (did you mean '{}'?)", best->key);
  }
  return {};
}

std::string keys_of(std::string_view table) {
  std::string r;
  for (const auto& f : detail::schema()) {
    if (f.table != table) continue;
    if (!r.empty()) r += ", ";
    r += f.key;
  }
  return r;
}

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

class Parser {
 public:
  Parser(std::string_view text, std::string_view name) : name_(name) {
    try {
      root_ = toml::parse(text, std::string(name));
    } catch (const toml::parse_error& e) {
      throw_input(name_, static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column),
                  fmt::format("invalid TOML: {}", e.description()));
    }
  }

  HardwareConfig run() {
    resolve_base();
    check_unknown_keys();
    for (const auto& f : detail::schema()) {
      if (!f.latency) read_field(f);
    }
    check_geometry();
    check_sram_hbm();
    check_formats();
    resolve_latency();
    detail::read_memory(root_.get("memory"), name_, cfg_);
    return cfg_;
  }

 private:
  std::string name_;
  toml::table root_;
  std::optional<toml::table> base_;
  std::string base_name_;
  Loc base_loc_;
  std::map<std::string, Loc, std::less<>> locs_;
  std::map<std::string, std::string, std::less<>> raw_;
  HardwareConfig cfg_;

  [[noreturn]] void fail(Loc l, std::string_view msg) const { throw_input(name_, l.line, l.col, msg); }

  std::string inherited_note(Loc l) const {
    return l.inherited ? fmt::format(" (inherited from base preset '{}')", base_name_) : std::string();
  }

  // A value that parsed but breaks a rule: "<path> = <value>: <msg>".
  [[noreturn]] void fail_value(const Field& f, std::string_view msg) const {
    Loc l = locs_.at(f.path());
    auto raw = raw_.find(f.path());  // echo the value as the user wrote it
    std::string value = raw != raw_.end() ? raw->second : detail::value_text(f, cfg_);
    fail(l, fmt::format("{} = {}{}: {}", f.path(), value, inherited_note(l), msg));
  }
  [[noreturn]] void fail_raw(const Field& f, const toml::node& n, Loc l, std::string_view msg) const {
    fail(l, fmt::format("{} = {}{}: {}", f.path(), node_text(n), inherited_note(l), msg));
  }

  static const Field& field(std::string_view path) {
    for (const auto& f : detail::schema()) {
      if (f.path() == path) return f;
    }
    throw std::logic_error("config schema has no key " + std::string(path));
  }

  void resolve_base() {
    const toml::node* b = root_.get("base");
    if (!b) return;
    base_loc_ = loc_of(*b);
    base_loc_.inherited = true;
    auto s = b->as_string();
    auto names = preset_names();
    std::string list = fmt::format("{}", fmt::join(names, ", "));
    if (!s) fail(loc_of(*b), fmt::format("base = {}: expected a preset name string, one of: {}", node_text(*b), list));
    base_name_ = s->get();
    if (std::find(names.begin(), names.end(), base_name_) == names.end()) {
      fail(loc_of(*b), fmt::format("base = \"{}\": unknown preset; expected one of: {}", base_name_, list));
    }
    base_ = toml::parse(preset_source(base_name_), "preset:" + base_name_);
  }

  void check_unknown_keys() const {
    struct Problem {
      Loc loc;
      std::string msg;
    };
    std::vector<Problem> problems;
    auto known_table = [](std::string_view t) {
      auto ts = detail::table_names();
      return std::find(ts.begin(), ts.end(), t) != ts.end();
    };
    for (const auto& [k, node] : root_) {
      std::string_view key = k.str();
      if (key == "base" || key == "memory") continue;  // [memory.<pool>]: config/memory.cpp
      if (!known_table(key)) {
        problems.push_back({loc_of(k), fmt::format("unknown key '{}'{}; expected the tables [{}]{}", key,
                                                      suggestion("", key),
                                                      fmt::join(detail::table_names(), "], ["),
                                                      " and optionally base = \"<preset>\" and [memory.<pool>] tables")});
        continue;
      }
      const toml::table* t = node.as_table();
      if (!t) {
        problems.push_back({loc_of(node), fmt::format("{} = {}: expected a table [{}], got {}", key,
                                                      node_text(node), key, type_name(node))});
        continue;
      }
      for (const auto& [k2, n2] : *t) {
        std::string_view key2 = k2.str();
        bool ok = false;
        for (const auto& f : detail::schema()) ok |= (f.table == key && f.key == key2);
        if (!ok) {
          problems.push_back({loc_of(k2), fmt::format("unknown key {}.{}{}; known keys in [{}]: {}", key, key2,
                                                      suggestion(key, key2), key, keys_of(key))});
        }
      }
    }
    if (problems.empty()) return;
    auto first = std::min_element(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.loc.line, a.loc.col) < std::pair(b.loc.line, b.loc.col);
    });
    fail(first->loc, first->msg);
  }

  // The node for table.key (the file first, then the base preset) and where it is.
  std::pair<const toml::node*, Loc> lookup(const Field& f) const {
    if (auto t = root_.get_as<toml::table>(f.table)) {
      if (auto n = t->get(f.key)) return {n, loc_of(*n)};
    }
    if (base_) {
      if (auto t = base_->get_as<toml::table>(f.table)) {
        if (auto n = t->get(f.key)) return {n, base_loc_};
      }
    }
    return {nullptr, {}};
  }

  // Located at the table header when the table exists, else at `fallback` (if any).
  [[noreturn]] void fail_missing(const Field& f, std::string_view why, Loc fallback = {}) const {
    const toml::node* t = root_.get(f.table);
    Loc l = t ? loc_of(*t) : fallback;
    if (!t && !why.empty()) {
      fail(l, fmt::format("missing key {} ({}){}", f.path(), f.unit, why));
    }
    if (!t) {
      fail(l, fmt::format("missing table [{}] (required keys: {})", f.table, keys_of(f.table)));
    }
    fail(l, fmt::format("missing key {} ({}) in [{}]{}; required keys: {}", f.path(), f.unit, f.table, why,
                        keys_of(f.table)));
  }

  // Reads one key (already located) with its type and range checks.
  void read_value(const Field& f, const toml::node& n, Loc l) {
    locs_[f.path()] = l;
    raw_[f.path()] = node_text(n);
    switch (f.kind) {
      case Kind::UInt: {
        auto i = n.as_integer();
        if (!i) {
          std::string hint = n.is_floating_point() ? " (write large integers as 1_000_000, not 1e6)" : "";
          fail_raw(f, n, l, fmt::format("expected an integer ({}), got {}{}", f.unit, type_name(n), hint));
        }
        int64_t v = i->get();
        if (v < 0 || static_cast<uint64_t>(v) < f.lo || static_cast<uint64_t>(v) > f.hi) {
          fail_raw(f, n, l, fmt::format("out of range: expected an integer in [{}, {}] ({})", f.lo, f.hi, f.unit));
        }
        f.set_u(cfg_, static_cast<uint64_t>(v));
        break;
      }
      case Kind::Float: {
        double v = 0;
        if (auto d = n.as_floating_point()) v = d->get();
        else if (auto i = n.as_integer()) v = static_cast<double>(i->get());
        else fail_raw(f, n, l, fmt::format("expected a number ({}), got {}", f.unit, type_name(n)));
        if (!std::isfinite(v) || !(v > 0) || v > f.fhi) {
          fail_raw(f, n, l, fmt::format("out of range: expected a finite number > 0 and <= {} ({})", f.fhi, f.unit));
        }
        f.set_f(cfg_, v);
        break;
      }
      case Kind::Choice: {
        auto s = n.as_string();
        std::string choices = fmt::format("\"{}\"", fmt::join(f.choices, "\", \""));
        if (!s) fail_raw(f, n, l, fmt::format("expected a string, one of {}; got {}", choices, type_name(n)));
        if (std::find(f.choices.begin(), f.choices.end(), s->get()) == f.choices.end()) {
          fail_raw(f, n, l, fmt::format("unknown {}; expected one of {}", f.unit, choices));
        }
        f.set_s(cfg_, s->get());
        break;
      }
      case Kind::Name: {
        auto s = n.as_string();
        if (!s) fail_raw(f, n, l, fmt::format("expected a string ({}), got {}", f.unit, type_name(n)));
        std::string_view v = s->get();
        bool ok = !v.empty() && v.size() <= 64 && (std::islower(static_cast<unsigned char>(v[0])) ||
                                                   std::isdigit(static_cast<unsigned char>(v[0])));
        for (char c : v) {
          ok = ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                      c == '_' || c == '-' || c == '.');
        }
        if (!ok) fail_raw(f, n, l, fmt::format("invalid {}: expected 1-64 characters of [a-z0-9_.-] starting with a letter or digit", f.unit));
        f.set_s(cfg_, v);
        break;
      }
      case Kind::Format: {
        auto s = n.as_string();
        if (!s) fail_raw(f, n, l, fmt::format("expected a number-format string, got {}", type_name(n)));
        numerics::Format fm;
        try {
          fm = numerics::parse_format(s->get());
        } catch (const InputError& e) {
          fail_raw(f, n, l, e.what());
        }
        if (f.plain_only && fm.is_block()) {
          fail_raw(f, n, l, "SRAM element types must be plain scalar formats (e.g. \"bf16\", \"fp32\"); block codecs exist only in HBM");
        }
        f.set_fmt(cfg_, fm);
        break;
      }
    }
  }

  void read_field(const Field& f) {
    auto [n, l] = lookup(f);
    if (!n) fail_missing(f, "");
    read_value(f, *n, l);
  }

  const Field& F(std::string_view path) const { return field(path); }

  void check_geometry() const {
    const Geometry& g = cfg_.geometry;
    if (!is_pow2(g.mlen)) fail_value(F("geometry.mlen"), "MLEN must be a power of two (the Matrix SRAM read drops log2(MLEN) address bits)");
    // With MLEN a power of two this also makes BLEN one.
    if (g.mlen % g.blen != 0) fail_value(F("geometry.blen"), fmt::format("MLEN ({}) must be a multiple of BLEN", g.mlen));
    if (g.vlen != g.mlen) {
      fail_value(F("geometry.vlen"), fmt::format("VLEN must equal MLEN ({}): matrix ops step Vector SRAM rows by MLEN; VLEN != MLEN is not supported", g.mlen));
    }
    if (g.hlen > g.mlen || g.hlen < g.blen) {
      fail_value(F("geometry.hlen"), fmt::format("expected MLEN ({}) >= HLEN >= BLEN ({})", g.mlen, g.blen));
    }
    if (g.mlen % g.hlen != 0) {
      fail_value(F("geometry.hlen"), fmt::format("HLEN must divide MLEN ({}) because BROADCAST_AMOUNT * HLEN == MLEN", g.mlen));
    }
    if (uint64_t{g.broadcast_amount} * g.hlen != g.mlen) {
      fail_value(F("geometry.broadcast_amount"),
                 fmt::format("BROADCAST_AMOUNT * HLEN ({} * {} = {}) must equal MLEN ({}); expected broadcast_amount = {}",
                             g.broadcast_amount, g.hlen, uint64_t{g.broadcast_amount} * g.hlen, g.mlen,
                             g.mlen / g.hlen));
    }
  }

  void check_sram_hbm() const {
    const Geometry& g = cfg_.geometry;
    const Sram& s = cfg_.sram;
    const Hbm& h = cfg_.hbm;
    constexpr uint64_t kAddrSpace = uint64_t{1} << 32;  // element addresses live in 32-bit GP registers
    if (s.matrix_depth % g.mlen != 0) {
      fail_value(F("sram.matrix_depth"), fmt::format("must be a multiple of MLEN ({}): the Matrix SRAM holds whole MLEN x MLEN tiles", g.mlen));
    }
    if (s.matrix_depth * g.mlen > kAddrSpace) {
      fail_value(F("sram.matrix_depth"), fmt::format("matrix_depth * MLEN exceeds the 32-bit element address space; expected at most {} rows", kAddrSpace / g.mlen));
    }
    if (s.vector_depth * g.vlen > kAddrSpace) {
      fail_value(F("sram.vector_depth"), fmt::format("vector_depth * VLEN exceeds the 32-bit element address space; expected at most {} rows", kAddrSpace / g.vlen));
    }
    if (h.size_bytes % 64 != 0) fail_value(F("hbm.size_bytes"), "must be a multiple of 64 bytes (the HBM access granule)");
    if (h.m_prefetch_amount % g.mlen != 0) {
      fail_value(F("hbm.m_prefetch_amount"), fmt::format("must be a multiple of MLEN ({}): one H_PREFETCH_M fills whole MLEN x MLEN tiles", g.mlen));
    }
    if (h.m_prefetch_amount > s.matrix_depth) {
      fail_value(F("hbm.m_prefetch_amount"), fmt::format("exceeds sram.matrix_depth ({} rows)", s.matrix_depth));
    }
    if (h.v_prefetch_amount > s.vector_depth) {
      fail_value(F("hbm.v_prefetch_amount"), fmt::format("exceeds sram.vector_depth ({} rows)", s.vector_depth));
    }
    if (h.v_writeback_amount > s.vector_depth) {
      fail_value(F("hbm.v_writeback_amount"), fmt::format("exceeds sram.vector_depth ({} rows)", s.vector_depth));
    }
    const auto drams = dram::preset_names();
    if (std::find(drams.begin(), drams.end(), h.dram) == drams.end()) {
      fail_value(F("hbm.dram"), fmt::format("unknown DRAM preset; expected one of: {}", fmt::join(drams, ", ")));
    }
  }

  void check_formats() const {
    struct RowCheck {
      std::string_view path;
      const numerics::Format& fm;
      uint64_t row;
      std::string_view row_name;
    };
    const Geometry& g = cfg_.geometry;
    const Formats& f = cfg_.formats;
    const RowCheck checks[] = {{"formats.m_weight", f.m_weight, g.mlen, "MLEN"},
                               {"formats.m_kv", f.m_kv, g.mlen, "MLEN"},
                               {"formats.v_act", f.v_act, g.vlen, "VLEN"},
                               {"formats.v_kv", f.v_kv, g.vlen, "VLEN"}};
    for (const auto& c : checks) {
      if (c.row % static_cast<uint64_t>(c.fm.block) != 0) {
        fail_value(F(c.path), fmt::format("block size {} must divide {} ({}) so that every HBM row holds whole blocks",
                                          c.fm.block, c.row_name, c.row));
      }
      if ((c.row * static_cast<uint64_t>(c.fm.width)) % 8 != 0) {
        fail_value(F(c.path), fmt::format("a row of {} ({}) {}-bit elements is not a whole number of bytes", c.row_name, c.row, c.fm.width));
      }
    }
  }

  void resolve_latency() {
    bool custom = cfg_.timing.latency_profile == LatencyProfile::Custom;
    if (!custom) cfg_.latency = profile_latency(cfg_.timing.latency_profile, cfg_.geometry);
    for (const auto& f : detail::schema()) {
      if (!f.latency) continue;
      auto [n, l] = lookup(f);
      if (n) {
        read_value(f, *n, l);
      } else if (custom) {
        fail_missing(f, "; timing.latency_profile = \"custom\" requires every [latency] key",
                     locs_.at("timing.latency_profile"));
      }
    }
  }
};

}  // namespace

HardwareConfig parse_config_toml(std::string_view text, std::string_view name) {
  return Parser(text, name).run();
}

HardwareConfig load_config_file(const std::filesystem::path& path) {
  return parse_config_toml(read_text_file(path), path.string());
}

void validate_config(const HardwareConfig& cfg) { (void)parse_config_toml(to_toml(cfg), "<config>"); }

HardwareConfig resolve_config(std::string_view spec) {
  auto names = preset_names();
  if (std::find(names.begin(), names.end(), spec) != names.end()) return preset(spec);
  std::error_code ec;
  if (!spec.empty() && std::filesystem::is_regular_file(std::filesystem::path(spec), ec)) {
    return load_config_file(std::filesystem::path(spec));
  }
  if (spec.find('=') != std::string_view::npos || spec.find('[') != std::string_view::npos) {
    return parse_config_toml(spec, "<inline>");
  }
  throw InputError(fmt::format("{}: error: not a preset ({}), a readable file or an inline TOML document",
                               spec, fmt::join(names, ", ")));
}

}  // namespace plena::config

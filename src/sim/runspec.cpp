// Run spec parsing (TOML), program loading, preloads and dumps for `plena sim`.
#include "sim/runspec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "isa/isa.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::sim {
namespace {

namespace fs = std::filesystem;

// Reads one TOML table, remembering which keys were used so leftovers are reported as unknown.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string path, std::string file)
      : t_(t), path_(std::move(path)), file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::node& n, std::string_view key, std::string_view msg) const {
    const auto& b = n.source().begin;
    throw_input(file_, int(b.line), int(b.column), fmt::format("{}{}: {}", prefix(), key, msg));
  }
  [[noreturn]] void fail_table(std::string_view msg) const {
    const auto& b = t_.source().begin;
    throw_input(file_, int(b.line), int(b.column), fmt::format("[{}]: {}", path_, msg));
  }
  std::string prefix() const { return path_.empty() ? "" : path_ + "."; }
  int line() const { return int(t_.source().begin.line); }

  const toml::node* get(std::string_view key) {
    used_.insert(std::string(key));
    return t_.get(key);
  }
  bool has(std::string_view key) const { return t_.contains(key); }

  std::optional<std::string> str(std::string_view key, bool required = false) {
    const toml::node* n = get(key);
    if (!n) {
      if (required) fail_table(fmt::format("missing required key '{}'", key));
      return std::nullopt;
    }
    if (auto s = n->as_string()) return s->get();
    fail(*n, key, "expected a string");
  }
  std::optional<uint64_t> u64(std::string_view key, bool required = false) {
    const toml::node* n = get(key);
    if (!n) {
      if (required) fail_table(fmt::format("missing required key '{}'", key));
      return std::nullopt;
    }
    if (auto i = n->as_integer()) {
      if (i->get() < 0) fail(*n, key, fmt::format("= {}: expected a non-negative integer", i->get()));
      return uint64_t(i->get());
    }
    fail(*n, key, "expected an integer");
  }
  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (auto b = n->as_boolean()) return b->get();
    fail(*n, key, "expected true or false");
  }
  const toml::table* table(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (auto t = n->as_table()) return t;
    fail(*n, key, "expected a table");
  }
  const toml::array* array(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (auto a = n->as_array()) return a;
    fail(*n, key, "expected an array");
  }
  void finish(std::initializer_list<std::string_view> known) const {
    for (auto&& [k, v] : t_) {
      if (used_.count(std::string(k.str()))) continue;
      std::string list;
      for (auto s : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", s);
      const auto& b = k.source().begin;
      throw_input(file_, int(b.line), int(b.column),
                  fmt::format("unknown key '{}{}' (expected one of: {})", prefix(), k.str(), list));
    }
  }
  const std::string& file() const { return file_; }

 private:
  const toml::table& t_;
  std::string path_, file_;
  std::set<std::string> used_;
};

numerics::Format format_key(TableReader& r, std::string_view key, const config::HardwareConfig& hw,
                            bool required) {
  auto s = r.str(key, required);
  if (!s) return numerics::parse_format("fp32");
  // Class names resolve to the config's per-class HBM format (one source of truth).
  if (*s == "weight") return hw.formats.m_weight;
  if (*s == "kv-matrix") return hw.formats.m_kv;
  if (*s == "activation") return hw.formats.v_act;
  if (*s == "kv") return hw.formats.v_kv;
  try {
    return numerics::parse_format(*s);
  } catch (const InputError& e) {
    r.fail(*r.get(key), key, fmt::format("= \"{}\": {} (or a class: weight, kv-matrix, activation, kv)", *s, e.what()));
  }
}

PreloadData preload_data(TableReader& r, const fs::path& dir) {
  PreloadData d;
  auto file = r.str("file");
  const toml::array* values = r.array("values");
  if (file && values) r.fail_table("give either 'file' or 'values', not both");
  if (!file && !values) r.fail_table("missing 'file' (an .npy file) or 'values' (an inline array)");
  if (file) {
    d.file = fs::path(*file).is_absolute() ? fs::path(*file) : dir / *file;
    return d;
  }
  for (const auto& v : *values) {
    if (auto i = v.as_integer()) d.values.push_back(double(i->get()));
    else if (auto f = v.as_floating_point()) d.values.push_back(f->get());
    else r.fail(v, "values", "expected numbers only");
  }
  if (d.values.empty()) r.fail(*values, "values", "is empty");
  d.shape = {d.values.size()};
  return d;
}

struct Loaded {
  std::vector<float> f32;
  std::vector<int64_t> i64;
  std::vector<size_t> shape;
};

// Reads a preload's values. A file's errors name the file and, on a second line, the spec table
// that loads it; an array with no elements is an error, as an empty inline `values` is.
Loaded load_data(const PreloadData& d, bool integer, const fs::path& spec, int line) {
  Loaded out;
  if (d.file.empty()) {
    out.shape = d.shape;
    for (double v : d.values) {
      out.f32.push_back(float(v));
      out.i64.push_back(int64_t(v));
    }
    return out;
  }
  const std::string note = fmt::format("\n{}:{}: note: preload declared here", spec.string(), line);
  try {
    NpyArray a = npy_load(d.file);
    if (a.size() == 0)
      throw InputError(fmt::format("{}: error: shape [{}] has no elements; expected data to preload", d.file.string(),
                                   fmt::join(a.shape, ", ")));
    out.shape = a.shape;
    if (integer) out.i64 = a.to_i64();
    else out.f32 = a.to_f32();
  } catch (const InputError& e) {
    const std::string what = e.what();
    const bool named = what.rfind(d.file.string() + ":", 0) == 0;
    throw InputError((named ? what : fmt::format("{}: {}", d.file.string(), what)) + note);
  }
  return out;
}

std::string where(const fs::path& spec, int line) { return fmt::format("{}:{}: ", spec.string(), line); }

}  // namespace

std::vector<uint32_t> load_program(const fs::path& path, std::string* hash_out) {
  const std::string ext = path.extension().string();
  if (ext == ".mem") return isa::parse_mem_text(read_text_file(path), path.string());
  if (ext == ".bin") return isa::parse_binary(read_binary_file(path), path.string());
  if (ext != ".asm" && ext != ".s")
    throw InputError(fmt::format("{}: error: unknown program type '{}' (expected .asm, .mem or .bin)", path.string(), ext));
  std::string text = read_text_file(path);
  if (hash_out) {
    constexpr std::string_view tag = "plena-config-hash:";
    auto p = text.find(tag);
    if (p != std::string::npos) {
      auto s = text.find_first_not_of(" \t", p + tag.size());
      auto e = text.find_first_of(" \t\r\n", s);
      if (s != std::string::npos) *hash_out = text.substr(s, e == std::string::npos ? std::string::npos : e - s);
    }
  }
  return isa::assemble(text, path.string()).words;
}

RunSpec parse_run_spec(std::string_view text, const fs::path& path) {
  const std::string file = path.string();
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw_input(file, int(b.line), int(b.column), std::string(e.description()));
  }
  RunSpec spec;
  spec.spec_path = path;
  TableReader top(root, "", file);

  // [hardware] first: class-named formats below resolve against it.
  const toml::table* hw = top.table("hardware");
  if (!hw) top.fail_table("missing [hardware] table (preset = \"NAME\", file = \"hw.toml\" or an inline [hardware.config])");
  {
    TableReader r(*hw, "hardware", file);
    auto preset = r.str("preset");
    auto hwfile = r.str("file");
    const toml::table* inl = r.table("config");
    int n = int(bool(preset)) + int(bool(hwfile)) + int(inl != nullptr);
    if (n != 1) r.fail_table("give exactly one of 'preset', 'file' or an inline [hardware.config] table");
    if (preset) {
      spec.config_name = *preset;
      spec.hw = config::preset(*preset);
    } else if (hwfile) {
      fs::path p = fs::path(*hwfile).is_absolute() ? fs::path(*hwfile) : dir / *hwfile;
      spec.config_name = p.string();
      spec.hw = config::load_config_file(p);
    } else {
      std::ostringstream ss;
      ss << *inl;
      spec.config_name = fmt::format("{}:[hardware.config]", file);
      spec.hw = config::parse_config_toml(ss.str(), spec.config_name);
    }
    r.finish({"preset", "file", "config"});
  }

  // [program]
  const toml::table* prog = top.table("program");
  if (!prog) top.fail_table("missing [program] table (path = \"kernel.asm\")");
  {
    TableReader r(*prog, "program", file);
    auto p = *r.str("path", true);
    spec.program = fs::path(p).is_absolute() ? fs::path(p) : dir / p;
    if (auto h = r.str("config_hash")) spec.expected_config_hash = *h;
    r.finish({"path", "config_hash"});
  }

  // [run]
  if (const toml::table* run = top.table("run")) {
    TableReader r(*run, "run", file);
    if (auto m = r.str("mode")) {
      if (*m == "functional") spec.timing_only = false;
      else if (*m == "timing-only") spec.timing_only = true;
      else r.fail(*r.get("mode"), "mode", fmt::format("= \"{}\": expected \"functional\" or \"timing-only\"", *m));
    }
    r.finish({"mode"});
  }

  // [registers]
  if (const toml::table* regs = top.table("registers")) {
    TableReader r(*regs, "registers", file);
    if (const toml::array* gp = r.array("gp")) {
      for (const auto& v : *gp) {
        auto i = v.as_integer();
        if (!i || i->get() < 0 || i->get() > 0xffffffffll) r.fail(v, "gp", "expected unsigned 32-bit integers");
        spec.gp_init.push_back(uint32_t(i->get()));
      }
      if (spec.gp_init.size() > 16) r.fail(*gp, "gp", "has more than 16 entries (gp0..gp15)");
      if (!spec.gp_init.empty() && spec.gp_init[0] != 0) r.fail(*gp, "gp", "gp0 is hard-wired to 0");
    }
    if (const toml::array* a = r.array("hbm_addr")) {
      for (const auto& v : *a) {
        auto i = v.as_integer();
        if (!i || i->get() < 0) r.fail(v, "hbm_addr", "expected non-negative integers");
        spec.addr_init.push_back(uint64_t(i->get()));
      }
      if (spec.addr_init.size() > spec.hw.hbm.addr_regs)
        r.fail(*a, "hbm_addr", fmt::format("has {} entries but the config has {} HBM address registers",
                                           spec.addr_init.size(), spec.hw.hbm.addr_regs));
    }
    r.finish({"gp", "hbm_addr"});
  }

  auto each_table = [&](std::string_view key, auto&& fn) {
    const toml::node* n = top.get(key);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) top.fail(*n, key, fmt::format("expected an array of tables ([[{}]])", key));
    size_t i = 0;
    for (const auto& e : *arr) {
      const toml::table* t = e.as_table();
      if (!t) top.fail(e, key, fmt::format("expected an array of tables ([[{}]])", key));
      TableReader r(*t, fmt::format("{}[{}]", key, i++), file);
      fn(r);
    }
  };

  each_table("hbm", [&](TableReader& r) {
    HbmPreload h;
    h.line = r.line();
    h.name = r.str("name").value_or(fmt::format("hbm@{}", r.line()));
    h.base = *r.u64("base", true);
    h.format = format_key(r, "format", spec.hw, true);
    h.row_stride = r.u64("row_stride").value_or(0);
    h.scale_offset = r.u64("scale_offset").value_or(0);
    if (auto a = r.u64("addr_reg")) {
      if (*a >= spec.hw.hbm.addr_regs)
        r.fail(*r.get("addr_reg"), "addr_reg", fmt::format("= {}: the config has a0..a{}", *a, spec.hw.hbm.addr_regs - 1));
      h.addr_reg = uint32_t(*a);
    }
    h.data = preload_data(r, dir);
    r.finish({"name", "base", "format", "row_stride", "scale_offset", "addr_reg", "file", "values"});
    spec.hbm.push_back(std::move(h));
  });

  const std::pair<std::string_view, SramKind> srams[] = {
      {"vram", SramKind::Vram}, {"mram", SramKind::Mram}, {"fpsram", SramKind::FpSram}, {"intsram", SramKind::IntSram}};
  for (const auto& entry : srams) {
    const std::string_view key = entry.first;  // plain locals: clang 14 cannot capture structured bindings
    const SramKind kind = entry.second;
    each_table(key, [&](TableReader& r) {
      SramPreload s;
      s.kind = kind;
      s.line = r.line();
      s.addr = r.u64(kind == SramKind::Vram || kind == SramKind::Mram ? "addr" : "index").value_or(0);
      s.data = preload_data(r, dir);
      if (kind == SramKind::Vram || kind == SramKind::Mram) r.finish({"addr", "file", "values"});
      else r.finish({"index", "file", "values"});
      spec.sram.push_back(std::move(s));
    });
  }

  each_table("dump", [&](TableReader& r) {
    Dump d;
    d.line = r.line();
    auto kind = *r.str("kind", true);
    if (kind == "vram") d.kind = DumpKind::Vram;
    else if (kind == "mram") d.kind = DumpKind::Mram;
    else if (kind == "fpsram") d.kind = DumpKind::FpSram;
    else if (kind == "intsram") d.kind = DumpKind::IntSram;
    else if (kind == "hbm") d.kind = DumpKind::Hbm;
    else r.fail(*r.get("kind"), "kind", fmt::format("= \"{}\": expected vram, mram, fpsram, intsram or hbm", kind));
    d.file = *r.str("file", true);
    const auto& g = spec.hw.geometry;
    switch (d.kind) {
      case DumpKind::Vram:
        d.addr = r.u64("addr").value_or(0);
        d.rows = r.u64("rows").value_or(1);
        d.cols = g.vlen;
        r.finish({"kind", "file", "addr", "rows"});
        break;
      case DumpKind::Mram:
        d.addr = r.u64("addr").value_or(0);
        d.rows = r.u64("rows").value_or(g.mlen);
        d.cols = g.mlen;
        r.finish({"kind", "file", "addr", "rows"});
        break;
      case DumpKind::FpSram:
      case DumpKind::IntSram:
        d.addr = r.u64("index").value_or(0);
        d.rows = 1;
        d.cols = *r.u64("count", true);
        r.finish({"kind", "file", "index", "count"});
        break;
      case DumpKind::Hbm:
        d.addr = *r.u64("base", true);
        d.rows = *r.u64("rows", true);
        d.cols = *r.u64("cols", true);
        d.format = format_key(r, "format", spec.hw, true);
        d.row_stride = r.u64("row_stride").value_or(0);
        d.scale_offset = r.u64("scale_offset").value_or(0);
        r.finish({"kind", "file", "base", "rows", "cols", "format", "row_stride", "scale_offset"});
        break;
    }
    if (d.rows == 0 || d.cols == 0) r.fail_table("dump size is zero (rows/cols/count must be > 0)");
    spec.dumps.push_back(std::move(d));
  });

  top.finish({"hardware", "program", "run", "registers", "hbm", "vram", "mram", "fpsram", "intsram", "dump"});
  return spec;
}

RunSpec load_run_spec(const fs::path& path) { return parse_run_spec(read_text_file(path), path); }

void apply_preloads(const RunSpec& spec, Simulator& sim) {
  Machine& m = sim.machine();
  for (size_t i = 1; i < spec.gp_init.size(); ++i) m.set_gp(unsigned(i), spec.gp_init[i]);
  for (size_t i = 0; i < spec.addr_init.size(); ++i) m.hbm_addr[i] = spec.addr_init[i];
  for (const auto& h : spec.hbm) {
    if (h.addr_reg) m.hbm_addr[*h.addr_reg] = h.base;
    if (!m.functional()) continue;  // timing-only: no data
    Loaded d = load_data(h.data, false, spec.spec_path, h.line);
    if (d.shape.empty() || d.shape.size() > 2)
      throw InputError(fmt::format("{}error: [[hbm]] '{}': data must be 1-D or 2-D, got {} dimensions",
                                   where(spec.spec_path, h.line), h.name, d.shape.size()));
    HbmTensor t;
    t.base = h.base;
    t.rows = d.shape.size() == 2 ? d.shape[0] : 1;
    t.cols = d.shape.back();
    t.row_stride = h.row_stride;
    t.scale_offset = h.scale_offset;
    t.format = h.format;
    try {
      write_hbm_tensor(m.hbm(), t, d.f32);
    } catch (const std::exception& e) {
      throw InputError(fmt::format("{}error: [[hbm]] '{}': {}", where(spec.spec_path, h.line), h.name, e.what()));
    }
  }
  if (!m.functional()) return;
  for (const auto& s : spec.sram) {
    const bool integer = s.kind == SramKind::IntSram;
    Loaded d = load_data(s.data, integer, spec.spec_path, s.line);
    try {
      switch (s.kind) {
        case SramKind::Vram: m.write_vram(s.addr, d.f32); break;
        case SramKind::Mram: m.write_mram(s.addr, d.f32); break;
        case SramKind::FpSram: m.write_fpsram(s.addr, d.f32); break;
        case SramKind::IntSram: {
          std::vector<uint32_t> u(d.i64.size());
          for (size_t i = 0; i < u.size(); ++i) {
            if (d.i64[i] < 0 || d.i64[i] > 0xffffffffll)
              throw InputError(fmt::format("value {} at index {} is not an unsigned 32-bit integer", d.i64[i], i));
            u[i] = uint32_t(d.i64[i]);
          }
          m.write_intsram(s.addr, u);
          break;
        }
      }
    } catch (const std::exception& e) {
      throw InputError(fmt::format("{}error: preload: {}", where(spec.spec_path, s.line), e.what()));
    }
  }
}

std::vector<fs::path> write_dumps(const RunSpec& spec, const Simulator& sim, const fs::path& out_dir) {
  std::vector<fs::path> written;
  const Machine& m = sim.machine();
  if (!m.functional()) return written;
  for (const auto& d : spec.dumps) {
    fs::path p = d.file.is_absolute() ? d.file : out_dir / d.file;
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    const size_t n = size_t(d.rows * d.cols);
    try {
      switch (d.kind) {
        case DumpKind::Vram: npy_save(p, npy_from_f32(m.read_vram(d.addr, n), {d.rows, d.cols})); break;
        case DumpKind::Mram: npy_save(p, npy_from_f32(m.read_mram(d.addr, n), {d.rows, d.cols})); break;
        case DumpKind::FpSram: npy_save(p, npy_from_f32(m.read_fpsram(d.addr, n), {n})); break;
        case DumpKind::IntSram: {
          auto u = m.read_intsram(d.addr, n);
          std::vector<int64_t> v(u.begin(), u.end());
          npy_save(p, npy_from_i64(v, {n}));
          break;
        }
        case DumpKind::Hbm: {
          HbmTensor t;
          t.base = d.addr;
          t.rows = d.rows;
          t.cols = d.cols;
          t.row_stride = d.row_stride;
          t.scale_offset = d.scale_offset;
          t.format = d.format;
          npy_save(p, npy_from_f32(read_hbm_tensor(m.hbm(), t), {d.rows, d.cols}));
          break;
        }
      }
    } catch (const SimFault& e) {
      throw InputError(fmt::format("{}error: dump: {}", where(spec.spec_path, d.line), e.what()));
    }
    written.push_back(p);
  }
  return written;
}

}  // namespace plena::sim

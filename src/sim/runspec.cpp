// Run spec parsing (TOML), program loading, preloads and dumps for `plena sim`.
#include "sim/runspec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "isa/isa.hpp"
#include "sim/exec_detail.hpp"
#include "sim/resources.hpp"
#include "sim/sim.hpp"
#include "support/checked.hpp"
#include "support/confine.hpp"
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
    // "key = value: why" when the message echoes the value, else "key: why".
    const bool echo = msg.starts_with("= ");
    throw_input(file_, int(b.line), int(b.column), fmt::format("{}{}{}{}", prefix(), key, echo ? " " : ": ", msg));
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

// The input file named by `key`, resolved inside the spec's folder `dir`.
fs::path input_path(TableReader& r, std::string_view key, const fs::path& dir, bool required = false) {
  auto written = r.str(key, required);
  if (!written) return {};
  ConfinedPath c = confine_path(dir, *written);
  if (!c.error.empty()) r.fail(*r.get(key), key, fmt::format("= \"{}\": {}", *written, c.error));
  return c.path;
}

// INT SRAM entries are u32: inline values must be integers in range (no silent truncation).
PreloadData preload_data(TableReader& r, const fs::path& dir, bool integer) {
  PreloadData d;
  const bool has_file = r.has("file");
  const toml::array* values = r.array("values");
  if (has_file && values) r.fail_table("give either 'file' or 'values', not both");
  if (!has_file && !values) r.fail_table("missing 'file' (an .npy file) or 'values' (an inline array)");
  if (has_file) {
    d.file = input_path(r, "file", dir);
    return d;
  }
  for (const auto& v : *values) {
    auto i = v.as_integer();
    if (integer && (!i || i->get() < 0 || i->get() > 0xffffffffll))
      r.fail(v, "values", "expected unsigned 32-bit integers (INT SRAM entries), e.g. 0, 7, 4096");
    if (i) d.values.push_back(double(i->get()));
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

// [program].config_hash names the config the program was built for: it must be a canonical
// hash and it must be the hash of [hardware] (otherwise the spec runs a program on the wrong machine).
void check_config_hash(TableReader& r, const std::string& h, const RunSpec& spec) {
  if (h.size() != 16 || h.find_first_not_of("0123456789abcdef") != std::string::npos)
    r.fail(*r.get("config_hash"), "config_hash",
           fmt::format("= \"{}\": expected 16 lowercase hex digits (`plena config hash CONFIG`)", h));
  const std::string here = config::canonical_hash(spec.hw);
  if (h != here)
    r.fail(*r.get("config_hash"), "config_hash",
           fmt::format("= \"{}\": the program was built for config hash {}, but [hardware] ({}) has hash {}; "
                       "rebuild the program for this config or name the config it was built for",
                       h, h, spec.config_name, here));
}

// Dumps go inside the output folder, which is only known when the command runs: refuse here
// what can never be inside it (empty, or climbing above it with '..').
void check_dump_file(TableReader& r, const fs::path& file) {
  const fs::path n = file.lexically_normal();
  if (file.empty() || n.empty() || n == ".")
    r.fail(*r.get("file"), "file", "is empty; expected an .npy file name inside the output folder");
  if (!file.is_absolute() && *n.begin() == "..")
    r.fail(*r.get("file"), "file",
           fmt::format("= \"{}\": climbs out of the output folder (--out-dir, default the spec's folder); "
                       "dumps are written inside it",
                       file.string()));
}

// Elements (entries) a dump reads must exist: its size is checked before anything is allocated.
void check_dump_extent(TableReader& r, const Dump& d, const config::HardwareConfig& hw) {
  const auto n = checked_mul(d.rows, d.cols);
  if (d.kind == DumpKind::Hbm) {
    if (d.row_stride != 0 && d.row_stride < d.cols)
      r.fail_table(fmt::format("row_stride = {} is smaller than a row (cols = {}): rows would overlap; expected "
                               "row_stride >= cols (or 0 for cols)", d.row_stride, d.cols));
    HbmTensor t;
    t.base = d.addr, t.rows = d.rows, t.cols = d.cols, t.row_stride = d.row_stride, t.scale_reg = d.scale_offset;
    t.format = d.format;
    detail::RowPlan p;
    const uint64_t stride = t.stride();
    const auto scale = checked_mul(d.rows, stride);
    std::string err = !scale ? std::string("rows x row_stride overflows 64 bits")
                             : detail::plan_rows(t.format, t.base, 0, t.cols, stride, t.rows, t.scale_elems(), p);
    if (err.empty() && std::max(p.elem_end, p.scale_end) > hw.hbm.size_bytes)
      err = fmt::format("reads HBM bytes up to 0x{:x}, beyond hbm.size_bytes ({})", std::max(p.elem_end, p.scale_end),
                        hw.hbm.size_bytes);
    if (!err.empty()) r.fail_table(fmt::format("HBM dump layout: {}", err));
    return;
  }
  const auto& g = hw.geometry;
  uint64_t size = 0;
  std::string_view what;
  switch (d.kind) {
    case DumpKind::Vram: size = hw.sram.vector_depth * g.vlen, what = "Vector SRAM elements"; break;
    case DumpKind::Mram: size = hw.sram.matrix_depth * g.mlen, what = "Matrix SRAM elements"; break;
    case DumpKind::FpSram: size = hw.sram.fp_depth, what = "FP SRAM entries"; break;
    default: size = hw.sram.int_depth, what = "INT SRAM entries"; break;
  }
  if (!n || d.addr > size || *n > size - d.addr)
    r.fail_table(fmt::format("dump of {} x {} at {} exceeds the {} {} of this config", d.rows, d.cols, d.addr,
                             size, what));
}

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
      fs::path p = input_path(r, "file", dir);
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
    spec.program = input_path(r, "path", dir, true);
    if (auto h = r.str("config_hash")) {
      check_config_hash(r, *h, spec);
      spec.expected_config_hash = *h;
    }
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
    h.data = preload_data(r, dir, false);
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
      s.data = preload_data(r, dir, kind == SramKind::IntSram);
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
    d.file_line = int(r.get("file")->source().begin.line);
    d.file_col = int(r.get("file")->source().begin.column);
    check_dump_file(r, d.file);
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
    check_dump_extent(r, d, spec.hw);
    spec.dumps.push_back(std::move(d));
  });

  top.finish({"hardware", "program", "run", "registers", "hbm", "vram", "mram", "fpsram", "intsram", "dump"});
  return spec;
}

RunSpec load_run_spec(const fs::path& path) { return parse_run_spec(read_text_file(path), path); }

namespace {

// One HBM preload with its data loaded and its layout planned.
struct PlannedHbm {
  const HbmPreload* h = nullptr;
  HbmTensor t;
  Loaded data;
  detail::RowPlan plan;
};

[[noreturn]] void fail_hbm(const RunSpec& spec, const HbmPreload& h, std::string_view msg) {
  throw InputError(fmt::format("{}error: [[hbm]] '{}': {}", where(spec.spec_path, h.line), h.name, msg));
}

PlannedHbm plan_hbm(const RunSpec& spec, const HbmPreload& h) {
  PlannedHbm p;
  p.h = &h;
  p.data = load_data(h.data, false, spec.spec_path, h.line);
  const auto& shape = p.data.shape;
  if (shape.empty() || shape.size() > 2)
    fail_hbm(spec, h, fmt::format("data must be 1-D or 2-D, got {} dimensions", shape.size()));
  p.t.base = h.base;
  p.t.rows = shape.size() == 2 ? shape[0] : 1;
  p.t.cols = shape.back();
  p.t.row_stride = h.row_stride;
  p.t.scale_reg = h.scale_offset;
  p.t.format = h.format;
  if (h.row_stride != 0 && h.row_stride < p.t.cols)
    fail_hbm(spec, h, fmt::format("row_stride = {} is smaller than a row ({} elements): rows would overlap; expected "
                                  "row_stride >= {} (or 0 for the row length)", h.row_stride, p.t.cols, p.t.cols));
  if (!checked_mul(p.t.rows, p.t.stride())) fail_hbm(spec, h, "rows x row_stride overflows 64 bits");
  std::string err = detail::plan_rows(h.format, h.base, 0, p.t.cols, p.t.stride(), p.t.rows, p.t.scale_elems(), p.plan);
  if (!err.empty()) fail_hbm(spec, h, err);
  const uint64_t end = std::max(p.plan.elem_end, p.plan.scale_end);
  if (end > spec.hw.hbm.size_bytes)
    fail_hbm(spec, h, fmt::format("occupies HBM bytes up to 0x{:x}, beyond hbm.size_bytes ({})", end, spec.hw.hbm.size_bytes));
  return p;
}

// Every byte range a tensor writes (element rows, scale rows): tensors may interleave rows
// (row_stride leaves gaps) but no byte may be written twice.
void check_no_overlap(const RunSpec& spec, const std::vector<PlannedHbm>& ts) {
  struct Range {
    uint64_t begin, end;
    size_t tensor;
    uint64_t row;
    bool scales;
  };
  std::vector<Range> rs;
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& p = ts[i].plan;
    for (uint64_t r = 0; r < p.rows; ++r) {
      const uint64_t e = p.elem_base + r * p.elem_stride_bytes, sc = p.scale_base + r * p.scale_stride_bytes;
      if (p.elem_row_bytes) rs.push_back({e, e + p.elem_row_bytes, i, r, false});
      if (p.scale_row_bytes) rs.push_back({sc, sc + p.scale_row_bytes, i, r, true});
    }
  }
  std::sort(rs.begin(), rs.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t k = 1; k < rs.size(); ++k) {
    const Range &a = rs[k - 1], &b = rs[k];
    if (b.begin >= a.end) continue;
    const Range& later = ts[a.tensor].h->line > ts[b.tensor].h->line ? a : b;
    const Range& earlier = &later == &a ? b : a;
    auto part = [](const Range& x) { return fmt::format("row {} {} [0x{:x}, 0x{:x})", x.row, x.scales ? "scales" : "elements", x.begin, x.end); };
    throw InputError(fmt::format("{}error: [[hbm]] '{}' {} overlaps [[hbm]] '{}' (line {}) {}; give each tensor its own "
                                 "HBM bytes (check base, row_stride and scale_offset)",
                                 where(spec.spec_path, ts[later.tensor].h->line), ts[later.tensor].h->name, part(later),
                                 ts[earlier.tensor].h->name, ts[earlier.tensor].h->line, part(earlier)));
  }
}

void write_planned(const RunSpec& spec, Machine& m, const PlannedHbm& p) {
  try {
    write_hbm_tensor(m.hbm(), p.t, p.data.f32);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}error: [[hbm]] '{}': {}", where(spec.spec_path, p.h->line), p.h->name, e.what()));
  }
}

}  // namespace

void apply_preloads(const RunSpec& spec, Simulator& sim, uint64_t memory_limit) {
  Machine& m = sim.machine();
  for (size_t i = 1; i < spec.gp_init.size(); ++i) m.set_gp(unsigned(i), spec.gp_init[i]);
  for (size_t i = 0; i < spec.addr_init.size(); ++i) m.hbm_addr[i] = spec.addr_init[i];
  for (const auto& h : spec.hbm) {
    if (h.addr_reg) m.hbm_addr[*h.addr_reg] = h.base;
  }
  if (!m.functional()) return;  // timing-only: no data
  std::vector<PlannedHbm> planned;
  uint64_t image = 0;
  for (const auto& h : spec.hbm) {
    planned.push_back(plan_hbm(spec, h));
    const auto& p = planned.back().plan;
    image = checked_add(image, hbm_pages_bytes(p.elem_base, p.elem_end)).value_or(UINT64_MAX);
    image = checked_add(image, hbm_pages_bytes(p.scale_base, p.scale_end)).value_or(UINT64_MAX);
  }
  check_no_overlap(spec, planned);
  if (image > memory_limit)
    throw InputError(fmt::format("{}: error: the [[hbm]] preloads need {} of host memory, but only {} is left after the "
                                 "simulator's own arrays; use [run] mode = \"timing-only\" (or --timing-only) or "
                                 "smaller tensors",
                                 spec.spec_path.string(), human_bytes(image), human_bytes(memory_limit)));
  for (const auto& p : planned) write_planned(spec, m, p);
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

std::vector<fs::path> dump_paths(const RunSpec& spec, const fs::path& out_dir) {
  std::vector<fs::path> paths;
  for (const auto& d : spec.dumps) {
    ConfinedPath c = confine_path(out_dir, d.file.string());
    if (!c.error.empty())
      throw_input(spec.spec_path.string(), d.file_line, d.file_col,
                  fmt::format("dump file = \"{}\": {}", d.file.string(), c.error));
    paths.push_back(c.path);
  }
  return paths;
}

std::vector<fs::path> write_dumps(const RunSpec& spec, const Simulator& sim, const fs::path& out_dir) {
  std::vector<fs::path> written;
  const Machine& m = sim.machine();
  if (!m.functional()) return written;
  const std::vector<fs::path> paths = dump_paths(spec, out_dir);
  for (size_t i = 0; i < spec.dumps.size(); ++i) {
    const Dump& d = spec.dumps[i];
    const fs::path& p = paths[i];
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);  // inside out_dir (dump_paths checked it)
    if (ec) throw InputError(fmt::format("{}: error: cannot create folder: {}", p.parent_path().string(), ec.message()));
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
          t.scale_reg = d.scale_offset;
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

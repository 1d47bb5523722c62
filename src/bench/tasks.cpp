// Task files (schema plena-bench-task/1): strict TOML reading with located errors, the derived
// placement of every cell, the embedded task set, listing and the agent-facing description.
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "bench/embedded.hpp"
#include "bench/ops.hpp"
#include "support/support.hpp"

namespace plena::bench {

uint32_t iteration_budget(Level level) {
  switch (level) {
    case Level::L1: return 15;
    case Level::L2: return 20;
    case Level::L3: return 25;
  }
  return 0;
}

std::string_view role_name(Role r) {
  switch (r) {
    case Role::Input: return "input";
    case Role::Output: return "output";
    case Role::Constant: return "constant";
  }
  return "?";
}
std::string_view region_name(Region r) { return r == Region::Vram ? "vram" : "hbm"; }

std::string Tolerance::text() const {
  if (exact) return "bit-exact";
  return fmt::format("|got - want| <= {:g} + {:g} * |want|", abs, rel);
}

uint64_t TaskConfig::dim(std::string_view name) const {
  std::string known;
  for (const auto& [k, v] : dims) {
    if (k == name) return v;
    known += (known.empty() ? "" : ", ") + k;
  }
  throw InputError(fmt::format("bench: configuration {} has no dim '{}' (it has: {})", id, name, known));
}

const TaskConfig& Task::config(std::string_view cid) const {
  std::string known;
  for (const auto& c : configs) {
    if (c.id == cid) return c;
    known += (known.empty() ? "" : ", ") + c.id;
  }
  throw InputError(fmt::format("bench: task '{}' has no configuration '{}' (it has: {})", id, cid, known));
}

namespace {

using HardwareLookup = std::function<config::HardwareConfig(const std::string& name)>;

struct Reader {
  std::string file;
  [[noreturn]] void fail(const toml::node* n, std::string_view what) const {
    fail_at(n ? n->source() : toml::source_region{}, what);
  }
  [[noreturn]] void fail_at(const toml::source_region& src, std::string_view what) const {
    throw_input(file, int(src.begin.line), int(src.begin.column), what);
  }
  void only_keys(const toml::table& t, std::string_view where, std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : t)
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) {
        std::string list;
        for (auto key : keys) list += (list.empty() ? "" : ", ") + std::string(key);
        fail_at(k.source(), fmt::format("{}{}: unknown key (expected one of: {})", where, k.str(), list));
      }
  }
  const toml::node& need(const toml::table& t, std::string_view where, std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) fail(&t, fmt::format("{}{}: missing (required)", where, key));
    return *n;
  }
  std::string str(const toml::table& t, std::string_view where, std::string_view key) const {
    const toml::node& n = need(t, where, key);
    if (!n.is_string() || n.as_string()->get().empty()) fail(&n, fmt::format("{}{}: expected a non-empty string", where, key));
    return n.as_string()->get();
  }
  uint64_t uint(const toml::node& n, std::string_view what, uint64_t lo, uint64_t hi) const {
    if (!n.is_integer() || n.as_integer()->get() < int64_t(lo) || n.as_integer()->get() > int64_t(hi))
      fail(&n, fmt::format("{}: expected an integer in [{}, {}]", what, lo, hi));
    return uint64_t(n.as_integer()->get());
  }
  double number(const toml::node& n, std::string_view what) const {
    const auto v = n.value<double>();
    if (!v || !(*v >= 0) || *v > 1e6) fail(&n, fmt::format("{}: expected a number >= 0", what));
    return *v;
  }
};

Tolerance read_tolerance(const Reader& rd, const toml::node& n, const std::string& where) {
  Tolerance t;
  if (n.is_string() && n.as_string()->get() == "exact") return {.exact = true};
  const toml::table* tab = n.as_table();
  if (!tab) rd.fail(&n, where + "tolerance: expected \"exact\" or a table { abs = .., rel = .. }");
  rd.only_keys(*tab, where + "tolerance.", {"abs", "rel"});
  t.abs = rd.number(rd.need(*tab, where + "tolerance.", "abs"), where + "tolerance.abs");
  t.rel = rd.number(rd.need(*tab, where + "tolerance.", "rel"), where + "tolerance.rel");
  return t;
}

std::vector<std::pair<std::string, uint64_t>> read_dims(const Reader& rd, const toml::node& n, const std::string& where,
                                                        const detail::OpDef& op) {
  const toml::table* tab = n.as_table();
  if (!tab) rd.fail(&n, where + "dims: expected a table of sizes");
  std::vector<std::pair<std::string, uint64_t>> dims;
  for (auto want : op.dims) {
    const toml::node* v = tab->get(want);
    if (!v) rd.fail(tab, fmt::format("{}dims.{}: missing (op '{}' takes: {})", where, want, op.name, fmt::join(op.dims, ", ")));
    dims.emplace_back(std::string(want), rd.uint(*v, where + "dims." + std::string(want), 0, 1u << 20));
  }
  for (const auto& [k, v] : *tab)
    if (std::find(op.dims.begin(), op.dims.end(), k.str()) == op.dims.end())
      rd.fail_at(k.source(), fmt::format("{}dims.{}: unknown (op '{}' takes: {})", where, k.str(), op.name, fmt::join(op.dims, ", ")));
  return dims;
}

TaskConfig read_config(const Reader& rd, const toml::node& n, size_t index, const detail::OpDef& op,
                       const HardwareLookup& hardware) {
  const std::string where = fmt::format("configs[{}].", index);
  const toml::table* tab = n.as_table();
  if (!tab) rd.fail(&n, where + ": expected a table");
  rd.only_keys(*tab, where, {"id", "summary", "hardware", "dims", "tolerance", "instruction_budget"});
  TaskConfig c;
  c.id = rd.str(*tab, where, "id");
  if (c.id != fmt::format("C{}", index + 1)) rd.fail(tab->get("id"), fmt::format("{}id: expected \"C{}\"", where, index + 1));
  c.summary = rd.str(*tab, where, "summary");
  c.hardware_name = rd.str(*tab, where, "hardware");
  try {
    c.hardware = hardware(c.hardware_name);
  } catch (const InputError& e) {
    rd.fail(tab->get("hardware"), fmt::format("{}hardware = \"{}\": {}", where, c.hardware_name, e.what()));
  }
  c.dims = read_dims(rd, rd.need(*tab, where, "dims"), where, op);
  c.tolerance = read_tolerance(rd, rd.need(*tab, where, "tolerance"), where);
  c.instruction_budget = rd.uint(rd.need(*tab, where, "instruction_budget"), where + "instruction_budget", 1, uint64_t(1) << 34);
  // The placement is the op's layout rule over this hardware and these sizes (counting back-end:
  // nothing is stored). A shape the kernels reject is an error of this file.
  auto b = compiler::ProgramBuilder::counting(c.hardware, "bench");
  try {
    detail::layout_and_emit(op, c, b, true);
  } catch (const InputError& e) {
    if (op.name.starts_with("decoder_")) return c;  // L3 layout comes with the decoder-block function
    rd.fail(tab, fmt::format("configs[{}]: op '{}' rejects this configuration: {}", index, op.name, e.what()));
  }
  return c;
}

Task parse_task(std::string_view text, const std::string& file, const HardwareLookup& hardware) {
  Reader rd{file};
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    throw_input(file, int(e.source().begin.line), int(e.source().begin.column), e.description());
  }
  rd.only_keys(root, "", {"schema", "id", "name", "number", "level", "version", "op", "computation", "configs"});
  if (rd.str(root, "", "schema") != kTaskSchema)
    rd.fail(root.get("schema"), fmt::format("schema: expected \"{}\"", kTaskSchema));
  Task t;
  t.source = file;
  t.id = rd.str(root, "", "id");
  t.name = rd.str(root, "", "name");
  t.number = uint32_t(rd.uint(rd.need(root, "", "number"), "number", 1, 99));
  t.level = Level(rd.uint(rd.need(root, "", "level"), "level", 1, 3));
  t.version = uint32_t(rd.uint(rd.need(root, "", "version"), "version", 1, 1000000));
  t.op = rd.str(root, "", "op");
  const detail::OpDef* op = detail::find_op(t.op);
  if (!op) {
    std::string names;
    for (const auto& o : detail::op_table()) names += (names.empty() ? "" : ", ") + std::string(o.name);
    rd.fail(root.get("op"), fmt::format("op = \"{}\": unknown (known: {})", t.op, names));
  }
  t.computation = rd.str(root, "", "computation");
  const toml::array* cfgs = rd.need(root, "", "configs").as_array();
  if (!cfgs || cfgs->size() != 5) rd.fail(root.get("configs"), "configs: expected an array of 5 tables ([[configs]] C1..C5)");
  for (size_t i = 0; i < cfgs->size(); ++i) t.configs.push_back(read_config(rd, (*cfgs)[i], i, *op, hardware));
  return t;
}

// Orders by number and rejects duplicate ids / numbers.
void finish_set(std::vector<Task>& set) {
  std::sort(set.begin(), set.end(), [](const Task& a, const Task& b) { return a.number < b.number; });
  std::set<std::string> ids;
  std::set<uint32_t> numbers;
  for (const auto& t : set) {
    if (!ids.insert(t.id).second) throw InputError(fmt::format("{}: error: id = \"{}\": used by another task", t.source, t.id));
    if (!numbers.insert(t.number).second)
      throw InputError(fmt::format("{}: error: number = {}: used by another task", t.source, t.number));
  }
}

std::vector<Task> load_embedded() {
  std::map<std::string, std::string> hw;
  for (const auto& f : detail::embedded_files())
    if (f.path.starts_with("hardware/")) hw[std::string(f.path.substr(9, f.path.size() - 9 - 5))] = std::string(f.text);
  HardwareLookup lookup = [&](const std::string& name) {
    const auto it = hw.find(name);
    if (it == hw.end()) throw InputError(fmt::format("no hardware file data/bench/hardware/{}.toml", name));
    return config::parse_config_toml(it->second, "data/bench/hardware/" + name + ".toml");
  };
  std::vector<Task> set;
  for (const auto& f : detail::embedded_files())
    if (f.path.starts_with("tasks/")) set.push_back(parse_task(f.text, "data/bench/" + std::string(f.path), lookup));
  finish_set(set);
  return set;
}

}  // namespace

std::span<const Task> tasks() {
  static const std::vector<Task> set = load_embedded();
  return set;
}

std::vector<Task> load_tasks(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir / "tasks"))
    throw InputError(fmt::format("{}: error: expected a directory with tasks/*.toml and hardware/*.toml", dir.string()));
  HardwareLookup lookup = [&](const std::string& name) {
    const fs::path p = dir / "hardware" / (name + ".toml");
    if (!fs::exists(p)) throw InputError(fmt::format("no hardware file {}", p.string()));
    return config::load_config_file(p);
  };
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "tasks"))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Task> set;
  for (const auto& p : files) set.push_back(parse_task(read_text_file(p), p.string(), lookup));
  finish_set(set);
  return set;
}

const Task& find_task(std::span<const Task> set, std::string_view id) {
  std::string known;
  for (const auto& t : set) {
    if (t.id == id) return t;
    known += (known.empty() ? "" : ", ") + t.id;
  }
  throw InputError(fmt::format("bench: unknown task '{}' (tasks: {})", id, known));
}
const Task& find_task(std::string_view id) { return find_task(tasks(), id); }

std::string list_text(std::span<const Task> set) {
  std::string out = fmt::format("{:<3} {:<20} {:<5} {:<24} {}\n", "#", "task", "level", "name", "configs");
  size_t cells = 0;
  for (const auto& t : set) {
    std::vector<std::string> ids;
    for (const auto& c : t.configs) ids.push_back(c.id);
    cells += ids.size();
    out += fmt::format("{:<3} {:<20} L{:<4} {:<24} {}\n", t.number, t.id, int(t.level), t.name, fmt::join(ids, " "));
  }
  out += fmt::format("{} tasks, {} configurations\n", set.size(), cells);
  return out;
}

}  // namespace plena::bench

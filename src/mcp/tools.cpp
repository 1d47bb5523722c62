#include "mcp/tools.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <vector>

#include "isa/isa.hpp"
#include "mcp/isolate.hpp"
#include "support/support.hpp"

namespace plena::mcp {
using json = nlohmann::json;

struct Param {
  const char* name;
  const char* type;  // "string" or "integer"
  const char* description;
  bool required;
};

struct ToolDef {
  const char* name;
  const char* title;
  const char* description;
  std::vector<Param> params;
  ToolResult (Tools::*run)(const json&);
  bool read_only;
};

namespace {

constexpr const char* kTaskDoc = "Task id as listed by list_tasks, e.g. \"SiLU\"";
constexpr const char* kConfigDoc = "Configuration C1..C5";
constexpr const char* kPathDoc = "Kernel file relative to the workspace, ending in .asm (e.g. \"silu.asm\")";

ToolResult fail(std::string text) { return {std::move(text), json::object(), true, {}}; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace


const json& Tools::definitions() {
  static const json defs = [] {
    json out = json::array();
    for (const ToolDef& t : table()) {
      json props = json::object(), required = json::array();
      for (const Param& p : t.params) {
        props[p.name] = {{"type", p.type}, {"description", p.description}};
        if (p.required) required.push_back(p.name);
      }
      json schema = {{"type", "object"}, {"properties", props}, {"additionalProperties", false}};
      if (!required.empty()) schema["required"] = required;
      out.push_back({{"name", t.name},
                     {"title", t.title},
                     {"description", t.description},
                     {"inputSchema", schema},
                     {"annotations", {{"readOnlyHint", t.read_only}, {"openWorldHint", false}}}});
    }
    return out;
  }();
  return defs;
}

bool Tools::exists(const std::string& name) {
  const auto& tt = table();
  return std::any_of(tt.begin(), tt.end(), [&](const ToolDef& t) { return name == t.name; });
}

namespace {

// Empty when `args` fits the tool's parameters; else what is wrong, for the model to fix.
std::string check_arguments(const ToolDef& t, const json& args) {
  if (!args.is_object()) return "arguments must be a JSON object";
  for (const auto& item : args.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    auto p = std::find_if(t.params.begin(), t.params.end(), [&](const Param& q) { return key == q.name; });
    if (p == t.params.end()) {
      std::string names;
      for (const Param& q : t.params) names += fmt::format("{}{}", names.empty() ? "" : ", ", q.name);
      return fmt::format("unknown argument '{}'; {} takes: {}", key, t.name, names.empty() ? "none" : names);
    }
    const bool ok = std::string_view(p->type) == "string" ? value.is_string() : value.is_number_integer();
    if (!ok) return fmt::format("argument '{}' must be a {}, got {}", key, p->type, value.type_name());
  }
  for (const Param& p : t.params)
    if (p.required && !args.contains(p.name)) return fmt::format("missing required argument '{}' ({})", p.name, p.description);
  return {};
}

}  // namespace

ToolResult Tools::call(const std::string& name, const json& arguments) {
  const auto& tt = table();
  auto t = std::find_if(tt.begin(), tt.end(), [&](const ToolDef& d) { return name == d.name; });
  if (t == tt.end()) return fail(fmt::format("unknown tool '{}'", name));
  const json args = arguments.is_null() ? json::object() : arguments;
  if (std::string why = check_arguments(*t, args); !why.empty()) return fail(fmt::format("{}: {}", name, why));
  try {
    return (this->*(t->run))(args);
  } catch (const InputError& e) {
    return fail(e.what());
  } catch (const SimFault& e) {
    return fail(e.what());
  }
}

int Tools::budget_of(const std::string& task) const {
  const int level = port_.level(task);
  return opt_.iterations.at(static_cast<size_t>(std::clamp(level, 1, 3) - 1));
}

ToolResult Tools::list_tasks(const json& a) {
  const json all = port_.tasks();
  json shown = json::array();
  std::string text = "task | level | iterations | configurations | title\n";
  for (const json& t : all) {
    const int level = t.value("level", 0);
    if (a.contains("level") && a["level"].get<int64_t>() != level) continue;
    shown.push_back(t);
    std::string configs;
    for (const json& c : t.value("configs", json::array())) configs += fmt::format("{}{}", configs.empty() ? "" : " ", c.get<std::string>());
    text += fmt::format("{} | L{} | {} | {} | {}\n", t.value("task", ""), level, budget_of(t.value("task", "")), configs,
                        t.value("title", ""));
  }
  return {text, {{"tasks", shown}}, false, {}};
}

ToolResult Tools::describe_task(const json& a) {
  const std::string task = a["task"], config = a["config"];
  std::string text = port_.describe(task, config);
  const std::string cell = task + "/" + config;
  const int budget = budget_of(task), used = used_[cell];
  text += fmt::format("\n\nEvaluations (run_evaluation) left for {} {}: {} of {}.\n", task, config, budget - used, budget);
  return {text, {{"task", task}, {"config", config}, {"iterations_used", used}, {"iterations_budget", budget}}, false, {}};
}

ToolResult Tools::write_code(const json& a) {
  const std::string path = ws_.write(a["path"].get<std::string>(), a["code"].get<std::string>());
  const size_t bytes = a["code"].get_ref<const std::string&>().size();
  return {fmt::format("Wrote {} ({} bytes).", path, bytes), {{"path", path}, {"bytes", bytes}}, false, {}};
}

ToolResult Tools::check_syntax(const json& a) {
  const std::string path = ws_.normalize(a["path"].get<std::string>());
  const std::string src = ws_.read(path);
  try {
    const auto prog = isa::assemble(src, path);
    return {fmt::format("All checks passed. 0 error(s), 0 warning(s). {} instructions.", prog.words.size()),
            {{"path", path}, {"errors", 0}, {"warnings", 0}, {"instructions", prog.words.size()}}, false, {}};
  } catch (const InputError& e) {
    return {fmt::format("1 error(s), 0 warning(s) (the assembler stops at the first error):\n{}", e.what()),
            {{"path", path}, {"errors", 1}, {"warnings", 0}, {"message", e.what()}}, true, {}};
  }
}

ToolResult Tools::get_instruction_size(const json& a) {
  const std::string path = ws_.normalize(a["path"].get<std::string>());
  const auto prog = isa::assemble(ws_.read(path), path);
  const size_t n = prog.words.size();
  return {fmt::format("{}: {} instructions ({} bytes of 32-bit words).", path, n, 4 * n),
          {{"path", path}, {"instructions", n}, {"bytes", 4 * n}}, false, {}};
}

EvalReport Tools::evaluate(const std::string& task, const std::string& config, const std::string& path,
                           const std::string& kernel, uint64_t seed) {
  port_.prepare(task, config);
  if (!opt_.isolate) return port_.evaluate(task, config, kernel, path, seed, opt_.limits);
  // The checker stops itself at max_seconds; the child is killed a little later as a backstop.
  const double hard = opt_.limits.max_seconds > 0 ? opt_.limits.max_seconds * 1.5 + 2 : 3600;
  Isolated r = run_isolated(
      [&] {
        EvalReport rep = port_.evaluate(task, config, kernel, path, seed, opt_.limits);
        return json{{"completed", rep.completed}, {"passed", rep.passed}, {"summary", rep.summary},
                    {"row_table", rep.row_table}, {"details", rep.details}};
      },
      hard);
  if (!r.ok) return {false, false, r.error, {}, {{"budget_exceeded", r.timed_out}}};
  if (r.value.contains("exception")) throw InputError(r.value["exception"].get<std::string>());
  return {r.value.value("completed", false), r.value.value("passed", false), r.value.value("summary", ""),
          r.value.value("row_table", ""), r.value.value("details", json::object())};
}

ToolResult Tools::run_evaluation(const json& a) {
  const std::string task = a["task"], config = a["config"];
  port_.describe(task, config);  // unknown task or config: the message names the known ones
  const std::string cell = task + "/" + config;
  const int budget = budget_of(task);
  if (used_[cell] >= budget)
    return fail(fmt::format("iteration budget exhausted: {} evaluations of {} {} already used (level budget {}).",
                            used_[cell], task, config, budget));
  const std::string path = ws_.normalize(a["path"].get<std::string>());
  const std::string kernel = ws_.read(path);
  const int iteration = ++used_[cell];
  const uint64_t seed = std::random_device{}() * 0x100000000ull + std::random_device{}();  // fresh inputs each time
  EvalReport rep = evaluate(task, config, path, kernel, seed);
  const json result = rep.details.is_object() ? rep.details : json::object();
  json st = result;
  st.update({{"task", task}, {"config", config}, {"path", path}, {"completed", rep.completed}, {"passed", rep.passed},
             {"seed", seed}, {"iteration", iteration}, {"iterations_budget", budget}});
  std::string text = fmt::format("{}\nEvaluation {} of {} for {} {}.", rep.summary, iteration, budget, task, config);
  if (rep.completed && !rep.passed) text += " Call view_output for the per-row error table.";
  json log = {{"task", task}, {"config", config}, {"task_version", result.value("task_version", 1)},
              {"iteration", iteration}, {"kernel", kernel}, {"seed", seed}};
  if (!result.empty()) log["result"] = result;
  const bool is_error = !rep.completed;
  last_[cell] = std::move(rep);
  return {text, st, is_error, log};
}

ToolResult Tools::view_output(const json& a) {
  const std::string task = a["task"], config = a["config"];
  auto it = last_.find(task + "/" + config);
  if (it == last_.end()) return fail(fmt::format("no evaluation of {} {} yet in this session; call run_evaluation first", task, config));
  const EvalReport& r = it->second;
  if (!r.completed) return fail(fmt::format("the last evaluation of {} {} produced no output to compare:\n{}", task, config, r.summary));
  return {fmt::format("Per-row comparison of the last evaluation of {} {} ({}):\n{}", task, config,
                      r.passed ? "passed" : "failed", r.row_table),
          {{"task", task}, {"config", config}, {"passed", r.passed}}, false, {}};
}

namespace {

std::string operand_text(const isa::OpInfo& op) {
  std::string s;
  for (size_t i = 0; i < op.form.count; ++i) {
    const isa::Operand& o = op.form.ops[i];
    s += fmt::format("{}{}{}:{}{}", i ? ", " : "", o.optional ? "[" : "", o.role, isa::to_string(o.kind), o.optional ? "]" : "");
  }
  return s;
}

std::string doc_entry(const isa::OpInfo& op) {
  return fmt::format("{}\n  Format: {} {}\n  Operation: {}\n  Encoding: class {}, opcode 0x{:02X}; unit {}, latency class {}{}\n",
                     op.mnemonic, op.mnemonic, operand_text(op), op.semantics, isa::to_string(op.cls), op.code,
                     isa::to_string(op.unit), isa::to_string(op.latency), op.rtl_only ? " (RTL only)" : "");
}

}  // namespace

ToolResult Tools::grep_docs(const json& a) {
  const std::string query = a["query"];
  if (query.empty() || query.size() > 100) return fail("grep_docs: query must be 1 to 100 characters");
  const std::string q = lower(query);
  std::string text;
  json hits = json::array();
  constexpr size_t kMaxHits = 12;
  size_t found = 0;
  for (const isa::OpInfo& op : isa::all_opcodes()) {
    const std::string hay = lower(fmt::format("{} {} {}", op.mnemonic, op.semantics, operand_text(op)));
    const bool exact = lower(std::string(op.mnemonic)) == q;
    if (!exact && hay.find(q) == std::string::npos) continue;
    if (exact) text.clear(), hits.clear(), found = 0;
    if (++found <= kMaxHits) text += doc_entry(op), hits.push_back(op.mnemonic);
    if (exact) break;
  }
  if (found == 0) return {fmt::format("No ISA entry mentions '{}'. Try a mnemonic (e.g. V_ADD_VV) or a word such as 'exp'.", query), {{"matches", json::array()}, {"total", 0}}, false, {}};
  if (found > kMaxHits) text += fmt::format("... {} more entries match; narrow the query.\n", found - kMaxHits);
  return {text, {{"matches", hits}, {"total", found}}, false, {}};
}

const std::vector<ToolDef>& Tools::table() {
  static const std::vector<ToolDef> t = {
      {"list_tasks", "List tasks", "List the benchmark tasks with their level, iteration budget and configurations.",
       {{"level", "integer", "Only tasks of this level (1, 2 or 3)", false}}, &Tools::list_tasks, true},
      {"describe_task", "Describe a task",
       "The task statement for one configuration: computation, tensors and their memory placement, hardware "
       "configuration, tolerance.",
       {{"task", "string", kTaskDoc, true}, {"config", "string", kConfigDoc, true}}, &Tools::describe_task, true},
      {"write_code", "Write code", "Save a PLENA assembly kernel into the workspace; returns the file path.",
       {{"path", "string", kPathDoc, true}, {"code", "string", "The whole kernel source (PLENA assembly)", true}},
       &Tools::write_code, false},
      {"check_syntax", "Check syntax", "Assemble a kernel file and report errors with line and column.",
       {{"path", "string", kPathDoc, true}}, &Tools::check_syntax, true},
      {"run_evaluation", "Run evaluation",
       "Run a kernel on fresh random inputs and compare with the reference: pass/fail, share of mismatching "
       "elements, cycles, instructions, speedup over the compiler baseline. Each call uses one iteration of the "
       "task configuration's budget.",
       {{"task", "string", kTaskDoc, true}, {"config", "string", kConfigDoc, true}, {"path", "string", kPathDoc, true}},
       &Tools::run_evaluation, false},
      {"view_output", "View output", "Per-row error table (memory diff against the reference) of the last evaluation.",
       {{"task", "string", kTaskDoc, true}, {"config", "string", kConfigDoc, true}}, &Tools::view_output, true},
      {"grep_docs", "Grep ISA docs",
       "Search the PLENA ISA reference: a mnemonic gives its format, operation and encoding; other words list "
       "matching instructions.",
       {{"query", "string", "A mnemonic (V_EXP_V) or a word (case-insensitive)", true}}, &Tools::grep_docs, true},
      {"get_instruction_size", "Get instruction size", "Static size of a kernel: instruction count and bytes.",
       {{"path", "string", kPathDoc, true}}, &Tools::get_instruction_size, true},
  };
  return t;
}

}  // namespace plena::mcp

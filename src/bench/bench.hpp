// The kernel benchmark (KernelCraft-style, issue #14): 20 tasks x 5 configurations as versioned
// data files (data/bench/tasks/*.toml, schema plena-bench-task/1, embedded in the library), the
// checker that runs an agent's kernel on fresh-seed inputs against a host golden, the compiler
// baselines, and the scoring of session logs. docs/bench.md.
//
// This header is the public API the MCP server (src/mcp) builds on: keep it stable.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace plena::bench {

inline constexpr std::string_view kTaskSchema = "plena-bench-task/1";
inline constexpr std::string_view kResultSchema = "plena-bench-result/1";
inline constexpr std::string_view kLogSchema = "plena-bench-log/1";

// KernelCraft's three levels and their per-session iteration budgets (15 / 20 / 25).
enum class Level : uint8_t { L1 = 1, L2 = 2, L3 = 3 };
uint32_t iteration_budget(Level level);

// ---- task definitions ---------------------------------------------------------------------

// Where a tensor lives and what the kernel may do with it. Inputs are read-only (a write into an
// input region is an out-of-region write); outputs are what the checker compares; constants are
// fixed tables the task provides (identity / permutation tiles), read-only too.
enum class Role : uint8_t { Input, Output, Constant };
enum class Region : uint8_t { Vram, Hbm };
std::string_view role_name(Role r);      // "input" | "output" | "constant"
std::string_view region_name(Region r);  // "vram" | "hbm"

struct TensorSpec {
  std::string name;
  Role role = Role::Input;
  Region region = Region::Vram;
  uint64_t rows = 0, cols = 0;
  // VRAM: activation layout [ceil(cols/VLEN), rows_alloc, VLEN] from element address `address`.
  // HBM: byte address, row stride (elements) and format (scales after the elements for MX).
  uint64_t address = 0;
  uint64_t rows_alloc = 0;  // VRAM only
  uint64_t row_stride = 0;  // HBM only
  std::string format;       // HBM only ("bf16", "plena-hw-mxfp:fp8_e4m3:b8", ...)
  double value_range = 1;   // inputs: values drawn uniformly from [-value_range, value_range]
};

// A named FP SRAM constant the kernel may read (preloaded at `slot`).
struct FpConstant {
  std::string name;
  uint64_t slot = 0;
  float value = 0;
};

// How outputs are compared: bit-exact, or |got - want| <= abs + rel * |want| per element.
struct Tolerance {
  bool exact = false;
  double abs = 0, rel = 0;
  std::string text() const;  // "bit-exact" | "|got - want| <= 0.01 + 0.02 * |want|"
};

struct TaskConfig {
  std::string id;       // "C1".."C5"
  std::string summary;  // one line: what makes this configuration harder
  std::string hardware_name;        // data/bench/hardware/<name>.toml
  config::HardwareConfig hardware;  // resolved
  std::vector<std::pair<std::string, uint64_t>> dims;  // the computation's sizes, in file order
  Tolerance tolerance;
  uint64_t instruction_budget = 0;  // executed instructions per evaluation (loops forever -> budget error)
  // Derived from the task's layout rule (docs/bench.md §Placement): stable for a schema version.
  std::vector<TensorSpec> tensors;
  std::vector<FpConstant> fp_constants;
  uint64_t dim(std::string_view name) const;  // InputError naming the task's dims if absent
};

struct Task {
  std::string id;    // "silu", "decoder_llama", ... (what commands take)
  std::string name;  // "SiLU", "DecoderBlock (LLaMA)"
  uint32_t number = 0;  // KernelCraft's task number (1..23; PLENA runs 20 of them)
  Level level = Level::L1;
  std::string op;           // layout rule + host golden ("silu", "attention", ...)
  std::string computation;  // the text an agent reads
  uint32_t version = 1;     // bumped when a task changes: logs name the version they ran
  std::string source;       // file name it was loaded from (messages)
  std::vector<TaskConfig> configs;
  const TaskConfig& config(std::string_view id) const;  // InputError listing C1..C5 if absent
};

// The embedded task set (20 tasks, ordered by number), loaded once.
std::span<const Task> tasks();
// Loads every *.toml of `dir`/tasks with hardware files from `dir`/hardware (adding a task
// without rebuilding; tests feed bad files through it). InputError "file:line:col: error: ...".
std::vector<Task> load_tasks(const std::filesystem::path& dir);
const Task& find_task(std::span<const Task> set, std::string_view id);  // InputError listing ids
const Task& find_task(std::string_view id);                             // in tasks()

// The Markdown text an agent reads for one cell: computation, tensors with placement, FP
// constants, hardware config, tolerance, budgets.
std::string describe(const Task& task, const TaskConfig& cfg);
// One line per task ("id  level  name  C1..C5").
std::string list_text(std::span<const Task> set);

// ---- checking -----------------------------------------------------------------------------

enum class Status : uint8_t {
  Pass,
  Mismatch,          // ran to completion, outputs differ beyond the tolerance
  SyntaxError,       // did not assemble (message has line:col)
  Fault,             // SimFault: out-of-range address, bad operand, ...
  BudgetExceeded,    // instruction budget (or loop budget) ran out: a kernel that loops forever
  OutOfRegionWrite,  // wrote an input / constant region or HBM outside the outputs
};
std::string_view status_name(Status s);  // "pass", "mismatch", "syntax_error", ...

struct RowError {
  std::string tensor;
  uint64_t row = 0;
  uint64_t elements = 0, mismatches = 0;
  double mse = 0, max_abs = 0;
  double mean_diff = 0;  // mean(got - want): the signed "MSE diff" view of KernelCraft's table
};

struct CheckResult {
  std::string task, config;
  uint32_t task_version = 1;
  Status status = Status::Pass;
  std::string message;  // the fault / syntax / budget text, or a one-line verdict
  uint64_t seed = 0;
  uint64_t elements = 0, mismatches = 0;
  double mismatch_share = 0;  // mismatches / elements (0..1)
  double max_abs = 0;
  std::vector<RowError> rows;  // every output row (the per-row error table)
  uint64_t dynamic_instructions = 0, static_instructions = 0;
  uint64_t cycles = 0;
  uint64_t baseline_cycles = 0;  // 0 when no baseline (or not asked)
  double speedup = 0;            // baseline_cycles / cycles when passed and both known, else 0
  bool passed() const { return status == Status::Pass; }
  std::string to_json() const;  // schema plena-bench-result/1, one object
  // Human text; max_rows bounds the per-row table (the worst rows first beyond it).
  std::string to_text(size_t max_rows = 16) const;
};

struct CheckOptions {
  uint64_t instruction_budget = 0;  // 0: the task's
  bool with_baseline = true;        // also run the baseline for speedup (cached per cell)
  // Stop after this many host seconds of simulation (0: none); a BudgetExceeded when hit.
  double wall_seconds = 0;
};

// Assembles `asm_text` (file name `asm_name` in messages), runs it on inputs drawn from `seed`,
// compares every output with the host golden. Never throws for anything the kernel does;
// InputError only for a bad task/config.
CheckResult check(const Task& task, const TaskConfig& cfg, std::string_view asm_text, uint64_t seed,
                  const CheckOptions& opts = {}, std::string_view asm_name = "kernel.asm");
// A fresh seed from the OS (each evaluation draws one: no kernel can hard-code outputs).
uint64_t fresh_seed();
// The static instruction count of a kernel (assembles; InputError with line:col on bad syntax).
uint64_t instruction_size(std::string_view asm_text, std::string_view asm_name = "kernel.asm");

// ---- baselines ----------------------------------------------------------------------------

// Our compiler's kernel for the cell, as assembly text (the kernel registry's emitters with the
// task's placement). L3 tasks go through engineer B's decoder-block function; until it is
// available they throw InputError "... not yet available".
std::string baseline(const Task& task, const TaskConfig& cfg);
// Cycles of the baseline (memoized per task/config in this process).
uint64_t baseline_cycles(const Task& task, const TaskConfig& cfg);

// ---- session logs and scoring -------------------------------------------------------------

// One JSONL line per tool call (the MCP server writes these into LOGDIR/*.jsonl):
// {"schema":"plena-bench-log/1","session":"s1","agent":"gpt-x","seq":3,"time":"2026-...Z",
//  "tool":"run_evaluation","task":"silu","task_version":1,"config":"C1","is_error":false,
//  "iteration":2,"result":{...CheckResult::to_json() for run_evaluation...},"text":"..."}
// `iteration` counts run_evaluation calls of the session's cell (1-based; 0 for other tools).
// A record without task/config (list_tasks) is skipped by scoring.
struct LogRecord {
  std::string session, agent;
  uint64_t seq = 0;
  std::string time;  // ISO-8601 UTC
  std::string tool;
  std::string task, config;
  uint32_t task_version = 1;
  bool is_error = false;
  uint64_t iteration = 0;
  std::string result_json;  // CheckResult::to_json() for run_evaluation, else "" (omitted)
  std::string text;         // the tool's text answer (may be shortened by the writer)
  std::string to_json_line() const;  // one line, no trailing newline
};
// The tool names both sides use (KernelCraft's six plus listing/description).
namespace tool {
inline constexpr std::string_view kWriteCode = "write_code";
inline constexpr std::string_view kCheckSyntax = "check_syntax";
inline constexpr std::string_view kRunEvaluation = "run_evaluation";
inline constexpr std::string_view kViewOutput = "view_output";
inline constexpr std::string_view kGrepDocs = "grep_docs";
inline constexpr std::string_view kInstructionSize = "get_instruction_size";
inline constexpr std::string_view kListTasks = "list_tasks";
inline constexpr std::string_view kDescribeTask = "describe_task";
}  // namespace tool

struct ScoreReport {
  std::string markdown, csv, json;
};
// Reads LOGDIR/*.jsonl (strict: bad lines are InputError "file:line: ..."), and builds
// KernelCraft's tables per agent: success per task x config within the level's iteration budget,
// subtotals per level, total; and the best passing kernel's speedup per cell.
ScoreReport score(const std::filesystem::path& logdir);

}  // namespace plena::bench

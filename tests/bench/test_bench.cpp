// The task set and the checker: the embedded 20 x 5 set, located errors for bad task files, and
// what check() reports for a passing kernel, a wrong immediate, an endless loop, a write into an
// input, an address fault and a syntax error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "bench/bench.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::bench;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// The first C_LOOP_START's count lowered by one: the last iteration's rows are never written.
std::string drop_one_iteration(const std::string& text) {
  static const std::regex loop(R"(C_LOOP_START (gp\d+), (\d+))");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(text, m, loop));
  const std::string fewer = fmt::format("C_LOOP_START {}, {}", m[1].str(), std::stoi(m[2].str()) - 1);
  return m.prefix().str() + fewer + m.suffix().str();
}

}  // namespace

TEST(BenchTasks, TwentyTasksFiveConfigsEach) {
  const auto set = tasks();
  ASSERT_EQ(set.size(), 20u);
  std::vector<uint32_t> numbers;
  int per_level[4] = {};
  for (const auto& t : set) {
    numbers.push_back(t.number);
    ++per_level[int(t.level)];
    ASSERT_EQ(t.configs.size(), 5u) << t.id;
    for (const auto& c : t.configs) {
      EXPECT_GT(c.instruction_budget, 0u);
      if (t.level == Level::L3) continue;
      int inputs = 0, outputs = 0;
      for (const auto& s : c.tensors) (s.role == Role::Output ? outputs : inputs) += s.role != Role::Constant;
      EXPECT_GT(inputs, 0) << t.id << " " << c.id;
      EXPECT_GT(outputs, 0) << t.id << " " << c.id;
    }
  }
  // KernelCraft's PLENA tasks: 1-10 (L1), 13-20 (L2), 22-23 (L3).
  const std::vector<uint32_t> want{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23};
  EXPECT_EQ(numbers, want);
  EXPECT_EQ(per_level[1], 10);
  EXPECT_EQ(per_level[2], 8);
  EXPECT_EQ(per_level[3], 2);
  EXPECT_EQ(iteration_budget(Level::L1), 15u);
  EXPECT_EQ(iteration_budget(Level::L3), 25u);
}

TEST(BenchTasks, DescriptionStatesPlacementHardwareTolerance) {
  const Task& t = find_task("linear");
  const std::string d = describe(t, t.config("C3"));
  EXPECT_TRUE(has(d, "HBM byte address")) << d;
  EXPECT_TRUE(has(d, "plena-hw-mxfp:fp8_e4m3:b8")) << d;
  EXPECT_TRUE(has(d, "VRAM element address")) << d;
  EXPECT_TRUE(has(d, "MLEN=64")) << d;
  EXPECT_TRUE(has(d, "Tolerance per output element")) << d;
  EXPECT_TRUE(has(d, "Iteration budget (level 1): 15")) << d;
  try {
    find_task("nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_TRUE(has(e.what(), "unknown task 'nope'") && has(e.what(), "silu")) << e.what();
  }
  EXPECT_THROW(t.config("C6"), InputError);
}

TEST(BenchCheck, BaselinePassesOnFreshSeeds) {
  const Task& t = find_task("silu");
  const auto& c = t.config("C3");
  const std::string base = baseline(t, c);
  const auto a = check(t, c, base, 1), b = check(t, c, base, fresh_seed());
  for (const auto& r : {a, b}) {
    EXPECT_TRUE(r.passed()) << r.to_text();
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_EQ(r.elements, c.dim("rows") * c.dim("cols"));
    EXPECT_EQ(r.rows.size(), c.dim("rows"));
    EXPECT_GT(r.cycles, 0u);
    EXPECT_EQ(r.cycles, r.baseline_cycles);
    EXPECT_DOUBLE_EQ(r.speedup, 1.0);
    EXPECT_EQ(r.static_instructions, instruction_size(base));
    EXPECT_GE(r.dynamic_instructions, r.static_instructions);
  }
  // Different seeds draw different inputs: the per-row errors differ.
  EXPECT_NE(a.to_json(), b.to_json());
}

TEST(BenchCheck, WrongImmediateFailsWithRowTable) {
  const Task& t = find_task("silu");
  const auto& c = t.config("C3");  // 16 rows x 512 cols, 4 rows per loop iteration
  const auto r = check(t, c, drop_one_iteration(baseline(t, c)), 7);
  ASSERT_EQ(r.status, Status::Mismatch) << r.to_text();
  EXPECT_GT(r.mismatch_share, 0.0);
  EXPECT_LT(r.mismatch_share, 0.5);
  // Only the last iteration's rows (12..15 of the last column block) are wrong.
  for (const auto& row : r.rows) EXPECT_EQ(row.mismatches > 0, row.row >= 12) << row.row;
  EXPECT_TRUE(has(r.to_text(), "mismatch")) << r.to_text();
  EXPECT_TRUE(has(r.message, "% of elements do not match")) << r.message;
  EXPECT_EQ(r.speedup, 0.0);
}

TEST(BenchCheck, EndlessLoopEndsInBudgetError) {
  const Task& t = find_task("relu");
  const std::string spin =
      "C_LOOP_START gp1, 60000\n C_LOOP_START gp2, 60000\n  S_ADDI_INT gp3, gp3, 1\n C_LOOP_END gp2\nC_LOOP_END gp1\n";
  const auto r = check(t, t.config("C1"), spin, 3);
  EXPECT_EQ(r.status, Status::BudgetExceeded) << r.to_text();
  EXPECT_TRUE(has(r.message, "budget")) << r.message;
  EXPECT_GE(r.dynamic_instructions, t.config("C1").instruction_budget - 1);
  CheckOptions wall;
  wall.wall_seconds = 0.05;
  wall.instruction_budget = uint64_t(1) << 33;
  const auto w = check(t, t.config("C1"), spin, 3, wall);
  EXPECT_EQ(w.status, Status::BudgetExceeded) << w.to_text();
  EXPECT_TRUE(has(w.message, "wall-time")) << w.message;
}

TEST(BenchCheck, WriteIntoInputIsOutOfRegion) {
  const Task& t = find_task("relu");
  const auto& c = t.config("C1");
  ASSERT_EQ(c.tensors[0].name, "x");
  const std::string k = fmt::format("S_ADDI_INT gp1, gp0, {}\nV_ADD_VV gp1, gp1, gp1, 0\n", c.tensors[0].address);
  const auto r = check(t, c, k, 3);
  EXPECT_EQ(r.status, Status::OutOfRegionWrite) << r.to_text();
  EXPECT_TRUE(has(r.message, "read-only tensor 'x'")) << r.message;
}

TEST(BenchCheck, FaultAndSyntaxErrorAreReportedNotThrown) {
  const Task& t = find_task("relu");
  const auto& c = t.config("C1");
  const auto f = check(t, c, "S_LUI_INT gp1, 65535\nS_LUI_INT gp1, 65535\nV_ADD_VV gp1, gp1, gp1, 0\n", 3);
  EXPECT_EQ(f.status, Status::Fault) << f.to_text();
  const auto s = check(t, c, "S_ADDI_INT gp1, gp0, 1\nV_FROB gp1\n", 3, {}, "mine.asm");
  EXPECT_EQ(s.status, Status::SyntaxError);
  EXPECT_TRUE(has(s.message, "mine.asm:2:")) << s.message;
  EXPECT_TRUE(has(s.to_json(), "\"status\":\"syntax_error\"")) << s.to_json();
}

// ---- task files through load_tasks ----

namespace {

struct TaskDir {
  fs::path dir;
  explicit TaskDir(const std::string& name) : dir(fs::path(PLENA_BINARY_DIR) / "test_bench_tmp" / name) {
    fs::remove_all(dir);
    fs::create_directories(dir / "tasks");
    fs::create_directories(dir / "hardware");
    std::ofstream(dir / "hardware" / "h.toml") << "base = \"reference-small\"\n";
  }
  void task(const std::string& text) const { std::ofstream(dir / "tasks" / "t.toml") << text; }
};

std::string task_text(const std::string& config1, const std::string& extra = "") {
  std::string s = "schema = \"plena-bench-task/1\"\nid = \"t\"\nname = \"T\"\nnumber = 1\nlevel = 1\nversion = 1\n"
                  "op = \"relu\"\ncomputation = \"y = max(x, 0)\"\n" + extra;
  for (int i = 1; i <= 5; ++i)
    s += fmt::format("[[configs]]\nid = \"C{}\"\nsummary = \"s\"\nhardware = \"h\"\n{}\n", i,
                     i == 1 ? config1 : "dims = { rows = 4, cols = 64 }\ntolerance = \"exact\"\ninstruction_budget = 1000");
  return s;
}

std::string load_error(const TaskDir& d) {
  try {
    load_tasks(d.dir);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(BenchTaskFiles, GoodDirectoryLoads) {
  TaskDir d("good");
  d.task(task_text("dims = { rows = 3, cols = 70 }\ntolerance = { abs = 0.1, rel = 0 }\ninstruction_budget = 500"));
  const auto set = load_tasks(d.dir);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].configs[0].dim("cols"), 70u);
  EXPECT_EQ(set[0].configs[0].tensors.size(), 2u);
  EXPECT_EQ(set[0].configs[0].tensors[1].rows_alloc, 4u);  // rows padded to BLEN
}

TEST(BenchTaskFiles, BadFilesNameFileLineAndWhat) {
  TaskDir d("bad");
  const std::string ok_tail = "tolerance = \"exact\"\ninstruction_budget = 1000";
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> cases{
      {task_text("dims = { rows = 4, cols = 64 }\n" + ok_tail, "colour = 1\n"), "t.toml:9:1: error: colour: unknown key"},
      {task_text("dims = { rows = 4 }\n" + ok_tail), "configs[0].dims.cols: missing (op 'relu' takes: rows, cols)"},
      {task_text("dims = { rows = 4, cols = 64, k = 2 }\n" + ok_tail), "configs[0].dims.k: unknown"},
      {task_text("dims = { rows = 4, cols = -3 }\n" + ok_tail), "configs[0].dims.cols: expected an integer"},
      {task_text("dims = { rows = 4, cols = 64 }\ntolerance = \"loose\"\ninstruction_budget = 1"), "tolerance: expected \"exact\""},
      {task_text("dims = { rows = 4, cols = 64 }\n" + ok_tail + "\nhardware = \"h\""), "error"},
      {task_text("dims = { rows = 4, cols = 64 }\ntolerance = \"exact\""), "configs[0].instruction_budget: missing"},
      {task_text("dims = { rows = 4, cols = 64 }\n" + ok_tail).replace(task_text("").find("relu"), 4, "frob"),
       "op = \"frob\": unknown (known: silu"},
  };
  for (const auto& c : cases) {
    d.task(c.text);
    const std::string e = load_error(d);
    EXPECT_TRUE(has(e, c.want)) << "want: " << c.want << "\ngot: " << e;
    EXPECT_TRUE(has(e, "t.toml")) << e;
  }
  d.task(task_text("dims = { rows = 4, cols = 64 }\n" + ok_tail).replace(task_text("").find("hardware = \"h\""), 14,
                                                                             "hardware = \"nope\""));
  EXPECT_TRUE(has(load_error(d), "hardware = \"nope\": no hardware file")) << load_error(d);
  // A shape the kernels reject is an error of the file, located at its configuration.
  TaskDir m("bad_shape");
  std::string lin = task_text("dims = { rows = 4, k = 100, n = 64 }\n" + ok_tail);
  lin.replace(lin.find("op = \"relu\""), 11, "op = \"matmul\"");
  for (size_t p; (p = lin.find("dims = { rows = 4, cols = 64 }")) != std::string::npos;)
    lin.replace(p, 30, "dims = { rows = 4, k = 64, n = 64 }");
  m.task(lin);
  const std::string e = load_error(m);
  EXPECT_TRUE(has(e, "configs[0]: op 'matmul' rejects this configuration") && has(e, "multiples of MLEN")) << e;
}

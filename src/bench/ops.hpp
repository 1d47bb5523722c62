// Internal to src/bench: one entry per computation a task can name (`op = "..."` in its file):
// the layout rule that places its tensors, the baseline emission through the compiler's kernel
// emitters, the host golden (double precision over the inputs as stored) and the contents of
// constant tables.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench.hpp"
#include "compiler/compiler.hpp"

namespace plena::bench::detail {

// Row-major [rows, cols] values per tensor name.
using Tensors = std::map<std::string, std::vector<float>>;

// Records the tensors a layout rule places, in placement order, with their roles.
class Placer {
 public:
  explicit Placer(compiler::MemoryPlan& plan) : plan_(plan) {}
  compiler::MemoryPlan& plan() { return plan_; }
  const config::HardwareConfig& hw() const { return plan_.config(); }
  // VRAM activation rows padded to BLEN (as a model step places them).
  void vram(const std::string& name, Role role, uint64_t rows, uint64_t cols, double range = 1);
  void hbm(const std::string& name, Role role, uint64_t rows, uint64_t cols, const numerics::Format& f,
           double range = 1);
  // A [rows, cols] parameter row block in formats.v_act with whole-VLEN row stride.
  void hbm_rows(const std::string& name, Role role, uint64_t rows, uint64_t cols, double range = 1);
  // Records an already placed tensor (by a compiler placement helper).
  void record_vram(const std::string& name, Role role, double range = 1);
  void record_hbm(const std::string& name, Role role, double range = 1);
  std::vector<TensorSpec>& specs() { return specs_; }

 private:
  compiler::MemoryPlan& plan_;
  std::vector<TensorSpec> specs_;
};

struct OpDef {
  std::string_view name;
  std::vector<std::string_view> dims;  // required dims, in this order
  void (*place)(Placer& p, const TaskConfig& c);
  // Emits the baseline (tensors already placed by `place`).
  void (*emit)(compiler::ProgramBuilder& b, compiler::MemoryPlan& plan, const TaskConfig& c);
  // Computes every output from the inputs and constants in `io`.
  void (*golden)(const TaskConfig& c, Tensors& io);
};

std::span<const OpDef> op_table();
const OpDef* find_op(std::string_view name);  // nullptr if unknown

// Contents of a constant table (identity tile, RoPE swap permutation), row-major [rows, cols].
std::vector<float> constant_data(const TaskConfig& c, const TensorSpec& t);

// Places the cell's tensors and runs the baseline emission on `b` (counting or real); fills
// cfg.tensors / cfg.fp_constants when `record` is set. InputError when the op rejects the shape.
void layout_and_emit(const OpDef& op, TaskConfig& cfg, compiler::ProgramBuilder& b, bool record);

}  // namespace plena::bench::detail

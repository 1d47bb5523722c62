// Gather each sequence's last row (before the final norm of a prefill step; kernels_vector.hpp).
#include <fmt/format.h>

#include "compiler/kernel_registry.hpp"
#include "compiler/kernels_vector.hpp"
#include "support/support.hpp"

namespace plena::compiler {

// x + 0.0 copies a VRAM row exactly.
void emit_gather_last(ProgramBuilder& b, MemoryPlan& plan, const GatherLastArgs& a) {
  const uint64_t vlen = b.config().geometry.vlen;
  const VramTensor& x = plan.vram(a.input);
  const VramTensor& fr = plan.vram(a.output);
  if (x.rows < a.batch * a.q_len || fr.rows < a.batch || fr.cols != x.cols)
    throw InputError(fmt::format("kernel '{}': input '{}' is [{}, {}] and output '{}' is [{}, {}], expected at least "
                                 "[{}, cols] and [{}, cols]",
                                 a.name, x.name, x.rows, x.cols, fr.name, fr.rows, fr.cols, a.batch * a.q_len, a.batch));
  auto ks = b.kernel(a.name);
  auto s = b.regs().gp("gather src");
  auto d = b.regs().gp("gather dst");
  for (uint64_t bi = 0; bi < a.batch; ++bi)
    for (uint64_t c = 0; c < x.cols; c += vlen) {
      b.load_imm(s, x.address(bi * a.q_len + a.q_len - 1, c));
      b.load_imm(d, fr.address(bi, c));
      b.v_add_vf(d, s, f0);
    }
}

namespace {

void gather_last_standalone(ProgramBuilder& b, MemoryPlan& plan, const KernelShape& s) {
  const uint64_t batch = s.get("batch"), q_len = s.get("q_len"), cols = s.get("cols"),
                 blen = plan.config().geometry.blen;
  VramPlaceOptions act;
  act.row_multiple = blen;
  plan.alloc_vram("x", batch * q_len, cols, act);
  plan.alloc_vram("final", batch, cols, act);
  emit_gather_last(b, plan, {"gather_last", "x", "final", batch, q_len});
}

}  // namespace

extern const KernelEntry kGatherLastKernel;
const KernelEntry kGatherLastKernel{"gather_last", "each sequence's last row", {"batch", "q_len", "cols"},
                                    gather_last_standalone, KernelSchedule::Phased,
    {{2, 8, 576}, {1, 16, 256}}};

}  // namespace plena::compiler

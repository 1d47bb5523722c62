// Affine interpolation of kernel counts (cost_affine.hpp).
#include "compiler/cost_affine.hpp"

#include <vector>

namespace plena::compiler {
namespace {

// Calls f on every count of a cost (the fields interpolation may change), in a fixed order.
template <class Cost, class F>
void for_each_count(Cost& c, F&& f) {
  for (auto& p : c.phases)
    for (auto* v : {&p.times, &p.entries, &p.instructions, &p.serial_cycles, &p.vector_cycles, &p.matrix_cycles,
                    &p.chain_cycles, &p.stream_cycles, &p.vector_ops, &p.dma, &p.exposed_cycles})
      f(*v);
  for (auto& d : c.dma)
    for (auto* v : {&d.rows, &d.cols, &d.stride, &d.scale_reg, &d.count}) f(*v);
  for (auto& v : c.per_opcode) f(v);
  for (auto* v : {&c.static_instructions, &c.bursts, &c.bursts_ahead, &c.handoff_transfers, &c.stream_stall_cycles})
    f(*v);
}

std::vector<uint64_t> counts(const KernelCost& c) {
  std::vector<uint64_t> v;
  KernelCost copy = c;
  for_each_count(copy, [&](uint64_t& x) { v.push_back(x); });
  return v;
}

// Everything but the counts: names, opcodes, formats and flags.
bool same_structure(const KernelCost& a, const KernelCost& b) {
  if (a.kernel != b.kernel || a.chained_in != b.chained_in || a.phases.size() != b.phases.size() ||
      a.dma.size() != b.dma.size())
    return false;
  for (size_t i = 0; i < a.phases.size(); ++i)
    if (a.phases[i].name != b.phases[i].name || a.phases[i].dma_serial != b.phases[i].dma_serial) return false;
  for (size_t i = 0; i < a.dma.size(); ++i) {
    const CostDma &p = a.dma[i], &q = b.dma[i];
    if (p.op != q.op || p.precision != q.precision || !(p.format == q.format) || p.write != q.write ||
        p.matrix != q.matrix || p.wait_first != q.wait_first || p.gather != q.gather || p.placed != q.placed)
      return false;
  }
  return true;
}

}  // namespace

std::optional<KernelCost> interpolate_cost(const KernelCost& a, uint64_t xa, const KernelCost& b, uint64_t xb,
                                           uint64_t x) {
  if (xa >= xb || !same_structure(a, b)) return std::nullopt;
  const std::vector<uint64_t> va = counts(a), vb = counts(b);
  KernelCost out = a;
  size_t i = 0;
  bool exact = true;
  const __int128 run = __int128(xb) - __int128(xa), dx = __int128(x) - __int128(xa);
  for_each_count(out, [&](uint64_t& v) {
    const __int128 rise = (__int128(vb[i]) - __int128(va[i])) * dx;
    ++i;
    const __int128 y = __int128(va[i - 1]) + rise / run;
    if (rise % run != 0 || y < 0 || y > __int128(UINT64_MAX)) exact = false;
    else v = uint64_t(y);
  });
  if (!exact) return std::nullopt;
  return out;
}

bool same_cost(const KernelCost& a, const KernelCost& b) {
  return same_structure(a, b) && counts(a) == counts(b);
}

}  // namespace plena::compiler

// Affine interpolation of kernel counts (cost_affine.cpp): a decode step's attention and KV store
// are emitted with the context as a shape dimension; within one KV tile the emitted program only
// changes in counts that grow linearly with the context, so a sweep need not re-emit every context.
#pragma once
#include <cstdint>
#include <optional>

#include "compiler/cost.hpp"

namespace plena::compiler {

// The cost at x on the line through (xa, a) and (xb, b), xa < xb: empty unless a and b have the
// same structure (phases, transfer patterns, flags) and every count lands on an integer >= 0.
std::optional<KernelCost> interpolate_cost(const KernelCost& a, uint64_t xa, const KernelCost& b, uint64_t xb,
                                           uint64_t x);

// Whether two costs are equal in every count and every structural field.
bool same_cost(const KernelCost& a, const KernelCost& b);

}  // namespace plena::compiler

// Public header of the compiler module: kernels are C++ generators that emit through a typed
// instruction builder (builder.hpp) into memory laid out by one planner (memory.hpp), which also
// writes the HBM layout manifest. ABI and schema: docs/compiler.md.
#pragma once

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"
#include "compiler/kernels.hpp"
#include "compiler/program.hpp"
#include "compiler/kernels_vector.hpp"
#include "compiler/kernels_attention.hpp"
#include "compiler/kernel_registry.hpp"

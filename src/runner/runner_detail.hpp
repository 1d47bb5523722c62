// Internals shared by run.cpp and compile.cpp (not part of the public header).
#pragma once
#include <string>
#include <vector>

#include "compiler/model_compiler.hpp"
#include "model/model.hpp"
#include "sim/sim.hpp"

namespace plena::runner::detail {

struct ResolvedModel {
  model::ModelConfig config;
  model::ModelWeights weights;  // empty when not needed (timing-only)
  std::string source;
};
// A model preset name (random weights from `seed`) or a Hugging Face model directory.
ResolvedModel resolve_model(const std::string& spec, uint64_t seed, bool need_weights);
// `batch` prompts: `ids` for every sequence, or seeded random ids of prompt_len tokens each.
std::vector<std::vector<int64_t>> make_prompts(const model::ModelConfig& cfg, const std::vector<int64_t>& ids,
                                               uint64_t prompt_len, uint64_t batch, uint64_t seed);
// The config's name in reports and program headers ("<inline>" for inline TOML).
std::string hw_display_name(const std::string& spec);
sim::HbmTensor to_sim(const compiler::HbmTensor& t);
// RoPE tables, swap matrix, FP/INT SRAM images of one step (functional mode only).
void preload_step(sim::Simulator& s, const compiler::CompiledStep& step);
// Real rows x cols of a VRAM tensor, row-major.
std::vector<float> read_rows(const sim::Machine& m, const compiler::VramTensor& t, uint64_t rows, uint64_t cols);

}  // namespace plena::runner::detail

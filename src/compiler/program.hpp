// The finished artefacts of one compilation: program words, annotated assembly and the HBM
// layout manifest, all stamped with the same config hash. Included through compiler/compiler.hpp.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/builder.hpp"
#include "compiler/memory.hpp"

namespace plena::compiler {

struct CompiledProgram {
  std::string config_name, config_hash;
  std::vector<isa::Instr> instrs;
  std::vector<uint32_t> words;
  std::string assembly;
  HbmManifest manifest;
};

// InputError when the builder and the plan were made for different configs (the program and
// its manifest must describe the same machine).
// `assembly`: also render the text (CompiledProgram::assembly; megabytes for a model step).
CompiledProgram finish_program(const ProgramBuilder& b, const MemoryPlan& plan, bool assembly = true);
// The same, taking the builder's instructions instead of copying them; `words`: also encode
// CompiledProgram::words (a simulation needs only the instructions).
CompiledProgram finish_program(ProgramBuilder&& b, const MemoryPlan& plan, bool assembly, bool words);

// Writes <dir>/<stem>.asm, <stem>.mem (upstream hex text) and <stem>.manifest.json.
void write_program(const CompiledProgram& p, const std::filesystem::path& dir, std::string_view stem);

}  // namespace plena::compiler

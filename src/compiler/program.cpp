// finish_program / write_program: one place that pairs a program with its manifest.
#include <fmt/format.h>

#include "compiler/program.hpp"
#include "support/support.hpp"

namespace plena::compiler {

namespace {

CompiledProgram paired(const ProgramBuilder& b, const MemoryPlan& plan) {
  CompiledProgram p;
  p.manifest = plan.manifest();
  if (p.manifest.config_hash != b.config_hash())
    throw InputError(fmt::format("program built for config '{}' (hash {}) but memory planned for config '{}' (hash {})",
                                 b.config_name(), b.config_hash(), p.manifest.config_name, p.manifest.config_hash));
  p.config_name = b.config_name();
  p.config_hash = b.config_hash();
  return p;
}

}  // namespace

CompiledProgram finish_program(const ProgramBuilder& b, const MemoryPlan& plan, bool assembly) {
  CompiledProgram p = paired(b, plan);
  p.instrs = b.instrs();
  p.words = b.words();
  if (assembly) p.assembly = b.assembly();
  return p;
}

CompiledProgram finish_program(ProgramBuilder&& b, const MemoryPlan& plan, bool assembly, bool words) {
  CompiledProgram p = paired(b, plan);
  if (words) p.words = b.words();
  if (assembly) p.assembly = b.assembly();
  p.instrs = std::move(b).take_instrs();
  return p;
}

void write_program(const CompiledProgram& p, const std::filesystem::path& dir, std::string_view stem) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw InputError(fmt::format("{}: error: cannot create directory: {}", dir.string(), ec.message()));
  write_text_file(dir / fmt::format("{}.asm", stem), p.assembly);
  write_text_file(dir / fmt::format("{}.mem", stem), isa::to_mem_text(p.words));
  save_manifest(dir / fmt::format("{}.manifest.json", stem), p.manifest);
}

}  // namespace plena::compiler

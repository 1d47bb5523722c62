// plena asm: assemble PLENA assembly into upstream .mem text or little-endian binary words.
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "isa/isa.hpp"
#include "support/support.hpp"

namespace plena::cli {

void add_asm_command(CLI::App& app) {
  struct Opts {
    std::string input, output, format = "mem", listing;
  };
  auto opts = std::make_shared<Opts>();
  auto* sub = app.add_subcommand("asm", "Assemble PLENA assembly (.asm) into a .mem or binary program");
  sub->add_option("input", opts->input, "Assembly source file")->required();
  sub->add_option("-o,--output", opts->output, "Output program file (- for stdout)")->required();
  sub->add_option("--format", opts->format, "Output format: mem (upstream text, one 0x%08X word per line) or bin (little-endian words)")
      ->check(CLI::IsMember({"mem", "bin"}));
  sub->add_option("--listing", opts->listing, "Also write a listing (address, word, source line) to this file");
  sub->callback([opts] {
    std::string source = read_text_file(opts->input);
    isa::Program prog = isa::assemble(source, opts->input);
    if (opts->format == "bin") write_binary_file(opts->output, isa::to_binary(prog.words));
    else write_text_file(opts->output, isa::to_mem_text(prog.words));
    if (!opts->listing.empty()) write_text_file(opts->listing, isa::listing(prog, source));
  });
}

}  // namespace plena::cli

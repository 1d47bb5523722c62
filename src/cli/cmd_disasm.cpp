// plena disasm: print canonical assembly for a .mem or binary program.
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "isa/isa.hpp"
#include "support/support.hpp"

namespace plena::cli {

void add_disasm_command(CLI::App& app) {
  struct Opts {
    std::string input, output, format = "mem";
  };
  auto opts = std::make_shared<Opts>();
  auto* sub = app.add_subcommand("disasm", "Disassemble a .mem or binary program into canonical assembly");
  sub->add_option("input", opts->input, "Program file")->required();
  sub->add_option("-o,--output", opts->output, "Write the assembly here (default and -: stdout)");
  sub->add_option("--format", opts->format, "Input format: mem (0x%08X text lines) or bin (little-endian words)")
      ->check(CLI::IsMember({"mem", "bin"}));
  sub->callback([opts] {
    std::vector<uint32_t> words = opts->format == "bin"
                                      ? isa::parse_binary(read_binary_file(opts->input), opts->input)
                                      : isa::parse_mem_text(read_text_file(opts->input), opts->input);
    std::string text = isa::disassemble_program(words);
    if (opts->output.empty()) fmt::print("{}", text);
    else write_text_file(opts->output, text);
  });
}

}  // namespace plena::cli

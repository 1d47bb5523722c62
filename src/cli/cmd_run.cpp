// plena run — end-to-end model run. Until the compiler lands it reports what it would run.
#include <fmt/core.h>

#include "cli/commands.hpp"

namespace plena::cli {

void add_run_command(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Compile and simulate a model end to end (default: tiny preset)");
  sub->allow_extras();
  sub->callback([] {
    fmt::print("plena run: the end-to-end model run (compiler + simulator) is not implemented yet.\n"
               "Available now: plena asm, plena disasm, plena config, plena quant.\n");
  });
}

}  // namespace plena::cli

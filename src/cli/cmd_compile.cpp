// plena compile — placeholder until its module lands.
#include <fmt/core.h>

#include "cli/commands.hpp"

namespace plena::cli {

void add_compile_command(CLI::App& app) {
  auto* sub = app.add_subcommand("compile", "(not implemented yet)");
  sub->allow_extras();
  sub->callback([] {
    fmt::print(stderr, "plena compile: not implemented yet\n");
    set_exit_code(1);
  });
}

}  // namespace plena::cli

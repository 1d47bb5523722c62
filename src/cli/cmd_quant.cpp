// plena quant — placeholder until its module lands.
#include <fmt/core.h>

#include "cli/commands.hpp"

namespace plena::cli {

void add_quant_command(CLI::App& app) {
  auto* sub = app.add_subcommand("quant", "(not implemented yet)");
  sub->allow_extras();
  sub->callback([] {
    fmt::print(stderr, "plena quant: not implemented yet\n");
    set_exit_code(1);
  });
}

}  // namespace plena::cli

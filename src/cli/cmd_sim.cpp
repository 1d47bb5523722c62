// plena sim — placeholder until its module lands.
#include <fmt/core.h>

#include "cli/commands.hpp"

namespace plena::cli {

void add_sim_command(CLI::App& app) {
  auto* sub = app.add_subcommand("sim", "(not implemented yet)");
  sub->allow_extras();
  sub->callback([] {
    fmt::print(stderr, "plena sim: not implemented yet\n");
    set_exit_code(1);
  });
}

}  // namespace plena::cli

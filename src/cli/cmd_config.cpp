// plena config — placeholder until its module lands.
#include <fmt/core.h>

#include "cli/commands.hpp"

namespace plena::cli {

void add_config_command(CLI::App& app) {
  auto* sub = app.add_subcommand("config", "(not implemented yet)");
  sub->allow_extras();
  sub->callback([] {
    fmt::print(stderr, "plena config: not implemented yet\n");
    set_exit_code(1);
  });
}

}  // namespace plena::cli

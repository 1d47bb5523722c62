// plena: one binary, thin subcommands. All logic lives in the library modules.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {
int g_exit = 0;
}
void set_exit_code(int code) { g_exit = code; }
int exit_code() { return g_exit; }
}  // namespace plena::cli

int main(int argc, char** argv) {
  CLI::App app{"plena: PLENA accelerator toolchain (assembler, numerics, simulator, compiler, analytic model)"};
  app.set_version_flag("--version", "plena-cpp 0.1.0");
  app.require_subcommand(1);
  plena::cli::add_asm_command(app);
  plena::cli::add_disasm_command(app);
  plena::cli::add_config_command(app);
  plena::cli::add_quant_command(app);
  plena::cli::add_sim_command(app);
  plena::cli::add_compile_command(app);
  plena::cli::add_run_command(app);
  plena::cli::add_estimate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  } catch (const plena::InputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const plena::SimFault& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plena: internal error: %s\n", e.what());
    return 3;
  }
  return plena::cli::exit_code();
}

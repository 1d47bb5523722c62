// plena: one binary, thin subcommands. All logic lives in the library modules.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>
#include <system_error>

#include "cli/commands.hpp"
#include "plena/version.hpp"
#include "support/output.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {
int g_exit = 0;

std::string command_path(const CLI::App* app) {
  std::string path;
  for (; app; app = app->get_parent()) path = app->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

// CLI11 answers "plena bogus" with "argument was not expected" and bare "plena" with a one-line
// error. Walk the subcommand names first: an unknown name is named with the list of known ones,
// a missing one prints that command's help (with its subcommands) — both on stderr, exit 1.
bool subcommand_path_ok(CLI::App& app, int argc, char** argv) {
  CLI::App* cur = &app;
  for (int i = 1;; ++i) {
    const auto subs = cur->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return true;
    if (i == argc) {
      fmt::print(stderr, "{}: error: a subcommand is required\n\n{}", command_path(cur), cur->help());
      return false;
    }
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') return true;  // options (--help, --version): CLI11's own handling
    CLI::App* next = nullptr;
    std::string names;
    for (auto* s : subs) {
      if (s->check_name(arg)) next = s;
      names += (names.empty() ? "" : ", ") + s->get_name();
    }
    if (!next) {
      fmt::print(stderr, "{}: error: unknown subcommand '{}' (available: {}; '{} --help' for details)\n",
                 command_path(cur), arg, names, command_path(cur));
      return false;
    }
    cur = next;
  }
}

// Parses and runs the command inside one output transaction: its files are committed only when
// it succeeded and standard output took everything it printed.
int run_cli(CLI::App& app, int argc, char** argv) {
  OutputTransaction outputs;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    if (rc == 0) check_stdout();
    return rc == 0 ? 0 : 1;
  }
  check_stdout();
  if (g_exit == 0) outputs.commit();
  return g_exit;
}

}  // namespace
void set_exit_code(int code) { g_exit = code; }
int exit_code() { return g_exit; }
}  // namespace plena::cli

int main(int argc, char** argv) {
  CLI::App app{"plena: PLENA accelerator toolchain (assembler, numerics, simulator, compiler, analytic model)", "plena"};
  app.set_version_flag("--version", "plena-cpp " PLENA_VERSION);
  app.require_subcommand(1);
  plena::cli::add_asm_command(app);
  plena::cli::add_disasm_command(app);
  plena::cli::add_config_command(app);
  plena::cli::add_quant_command(app);
  plena::cli::add_sim_command(app);
  plena::cli::add_compile_command(app);
  plena::cli::add_run_command(app);
  plena::cli::add_estimate_command(app);
  plena::cli::add_dse_command(app);
  plena::cli::add_ppa_command(app);
  plena::cli::add_eval_command(app);
  plena::cli::add_bench_command(app);
  plena::cli::add_mcp_command(app);
  plena::cli::add_tokenize_commands(app);
  if (!plena::cli::subcommand_path_ok(app, argc, argv)) return 1;
  try {
    return plena::cli::run_cli(app, argc, argv);
  } catch (const plena::InputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const plena::SimFault& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::system_error& e) {
    // fmt::print throws this when standard output refuses a write (a full disk, a closed pipe).
    if (std::ferror(stdout)) {
      std::fprintf(stderr, "plena: error: cannot write to standard output: %s\n", e.code().message().c_str());
      return 1;
    }
    std::fprintf(stderr, "plena: internal error: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plena: internal error: %s\n", e.what());
    return 3;
  }
}

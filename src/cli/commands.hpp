// One registration function per subcommand; each lives in its own cmd_<name>.cpp.
#pragma once
#include <CLI/CLI.hpp>

namespace plena::cli {

// Exit status a subcommand wants main() to return (0 unless set).
void set_exit_code(int code);
int exit_code();

void add_asm_command(CLI::App& app);
void add_disasm_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_quant_command(CLI::App& app);
void add_sim_command(CLI::App& app);
void add_compile_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_estimate_command(CLI::App& app);
void add_dse_command(CLI::App& app);
void add_ppa_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_mcp_command(CLI::App& app);
void add_tokenize_commands(CLI::App& app);  // tokenize, detokenize

}  // namespace plena::cli

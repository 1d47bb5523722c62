// plena sim SPEC.toml | PROGRAM.{asm,mem,bin} --hw CONFIG — thin wrapper over sim::Simulator.
#include <fmt/core.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <charconv>
#include <optional>
#include <regex>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/trace_window.hpp"
#include "config/config.hpp"
#include "sim/resources.hpp"
#include "sim/runspec.hpp"
#include "sim/sim.hpp"
#include "support/output.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

struct SimArgs {
  std::string input;
  std::string hw;
  std::string stats, trace, dram_trace, out_dir;
  std::string trace_window;
  std::string dram_fidelity = "bank";
  bool timing_only = false;
  bool quiet = false;
};

// Fault marker for the stats JSON: what ran up to the fault, and where it stopped. A fault
// message reads "pc 0x0012: <instruction>: <what>" (sim::fault_message); others have no pc.
nlohmann::ordered_json fault_json(const std::string& message) {
  nlohmann::ordered_json f;
  static const std::regex located(R"(^pc (0x[0-9a-fA-F]+): ([^:]*): )");
  std::smatch m;
  if (std::regex_search(message, m, located)) {
    f["pc"] = std::stoul(m[1].str(), nullptr, 16);
    f["instruction"] = m[2].str();
  }
  f["message"] = message;
  return f;
}

// Stats (and trace) of a run that faulted: the timing model is finished where the program
// stopped, and both files say so ("completed": false / a FAULT event at the end of the trace).
void write_fault_outputs(const SimArgs& a, sim::Simulator& simulator, const std::string& message,
                         std::optional<OutputFile>& trace) {
  sim::TimingModel* tm = simulator.timing();  // null: the fault came before the first instruction
  if (tm) tm->finish();
  if (!a.stats.empty()) {
    auto j = tm ? nlohmann::ordered_json::parse(tm->stats().to_json()) : nlohmann::ordered_json::object();
    j["completed"] = false;
    j["fault"] = fault_json(message);
    write_text_file(a.stats, j.dump(2) + "\n");
  }
  if (tm && trace) {
    tm->close_trace(message);
    trace->close();
  }
}

// --stats/--trace/--dram-trace name their files on the command line: their folders are created
// (as they always were), before anything runs.
void create_output_folders(const SimArgs& a) {
  for (const std::string* f : {&a.stats, &a.trace, &a.dram_trace}) {
    const std::filesystem::path p(*f);
    if (f->empty() || *f == "-" || !p.has_parent_path()) continue;
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) throw InputError(fmt::format("{}: error: cannot create folder {}: {}", *f, p.parent_path().string(), ec.message()));
  }
}

// A program built for another config is refused before anything runs, naming both hashes.
void check_program_hash(const sim::RunSpec& spec, const std::string& program_hash) {
  if (program_hash.empty()) return;
  const std::string here = config::canonical_hash(spec.hw);
  const std::string& want = spec.expected_config_hash.empty() ? here : spec.expected_config_hash;
  if (program_hash != want)
    throw InputError(fmt::format("{}: error: the program's header says it was built for config hash {}, but {} "
                                 "has hash {}; rebuild it for this config or run it on the config it was built for",
                                 spec.program.string(), program_hash,
                                 spec.expected_config_hash.empty() ? spec.config_name : "[program].config_hash",
                                 want));
}

// Refuses (before allocating) a run whose arrays exceed this machine's available memory;
// returns what is left for the HBM preloads.
uint64_t check_memory(const sim::RunSpec& spec) {
  const auto avail = host_memory_available();
  if (!avail) return UINT64_MAX;
  const auto need = sim::simulator_memory(spec.hw, !spec.timing_only);
  require_memory(need, avail, spec.spec_path.string(),
                 spec.timing_only ? "reduce the config keys named above"
                                  : "use --timing-only (no data arrays) or reduce the config keys named above");
  return *avail - need.total();
}


// The trace is streamed to its file (bounded memory); warns before a run whose trace may not
// fit the target's free disk space.
void check_trace_size(const SimArgs& a, const sim::RunSpec& spec, std::pair<uint64_t, uint64_t> window) {
  if (a.trace.empty() || a.trace == "-") return;
  const uint64_t events = std::min(spec.hw.timing.instruction_budget, window.second - window.first);
  const uint64_t bytes = sim::trace_bytes(events);
  const std::filesystem::path p(a.trace);
  std::error_code ec;
  const auto space = std::filesystem::space(p.has_parent_path() ? p.parent_path() : ".", ec);
  if (ec || bytes <= space.available) return;
  fmt::print(stderr,
             "warning: --trace writes about {} B per traced instruction: up to {} for {} instructions "
             "(timing.instruction_budget{}), but {} is free where {} goes; use --trace-window START:END to "
             "trace part of the run\n",
             sim::kTraceBytesPerEvent, human_bytes(bytes), events, a.trace_window.empty() ? "" : " / --trace-window",
             human_bytes(space.available), a.trace);
}

void run_sim(const SimArgs& a) {
  namespace fs = std::filesystem;
  create_output_folders(a);
  const fs::path in(a.input);
  sim::RunSpec spec;
  std::string program_hash;
  if (in.extension() == ".toml") {
    if (!a.hw.empty())
      throw InputError("--hw applies to a bare program; a run spec names its hardware in [hardware]");
    spec = sim::load_run_spec(in);
  } else {
    if (a.hw.empty())
      throw InputError(fmt::format("{}: error: a bare program needs --hw PRESET|FILE (or use a run spec .toml)", a.input));
    spec.spec_path = in;
    spec.program = in;
    spec.config_name = a.hw;
    spec.hw = config::resolve_config(a.hw);
  }
  if (a.timing_only) spec.timing_only = true;
  auto words = sim::load_program(spec.program, &program_hash);
  check_program_hash(spec, program_hash);
  if (spec.expected_config_hash.empty()) spec.expected_config_hash = program_hash;
  const fs::path out_dir = !a.out_dir.empty() ? fs::path(a.out_dir)
                           : (spec.spec_path.has_parent_path() ? spec.spec_path.parent_path() : fs::path("."));
  (void)sim::dump_paths(spec, out_dir);  // refuse escaping dump paths before running
  const uint64_t preload_memory = check_memory(spec);
  const auto window = parse_trace_window(a.trace_window);
  check_trace_size(a, spec, window);

  std::optional<OutputFile> dram_trace, trace;
  sim::SimOptions opts;
  opts.mode = spec.timing_only ? sim::Mode::TimingOnly : sim::Mode::Functional;
  opts.expected_config_hash = spec.expected_config_hash;
  if (!a.trace.empty()) {
    trace.emplace(a.trace);
    opts.timing.trace = &trace->stream();
    std::tie(opts.timing.trace_first, opts.timing.trace_last) = window;
  }
  opts.timing.dram_fidelity = sim::parse_dram_fidelity(a.dram_fidelity, "--dram-fidelity");
  if (!a.dram_trace.empty()) {
    dram_trace.emplace(a.dram_trace);
    opts.timing.dram_trace = &dram_trace->stream();
  }
  sim::Simulator simulator(spec.hw, opts);
  sim::apply_preloads(spec, simulator, preload_memory);
  sim::SimResult r;
  try {
    r = simulator.run(words);
  } catch (const SimFault& e) {
    // The debugging information survives the failed command: trace files up to the fault.
    if (dram_trace) dram_trace->close();
    write_fault_outputs(a, simulator, e.what(), trace);
    commit_staged_outputs();
    throw;
  }
  if (dram_trace) dram_trace->close();

  auto dumps = sim::write_dumps(spec, simulator, out_dir);
  if (!a.stats.empty()) write_text_file(a.stats, r.timing.to_json() + "\n");
  if (trace) {
    simulator.timing()->close_trace();
    trace->close();
  }
  if (a.quiet) return;
  const auto& t = r.timing;
  fmt::print("program      {} ({} words), config {} (hash {})\n", spec.program.string(), words.size(),
             spec.config_name, config::canonical_hash(spec.hw));
  fmt::print("mode         {}, timing {}\n", spec.timing_only ? "timing-only" : "functional+timing",
             config::timing_mode_name(spec.hw.timing.mode));
  fmt::print("executed     {} instructions\n", r.executed);
  fmt::print("cycles       {} ({:.3f} us simulated)\n", t.cycles, double(t.time_ps) * 1e-6);
  fmt::print("hbm          read {} B, written {} B, {:.2f} GB/s read, {:.2f} GB/s write, row-hit {:.1f}% ({})\n",
             t.hbm_read_bytes, t.hbm_write_bytes, t.achieved_read_gbps, t.achieved_write_gbps,
             100.0 * t.dram_row_hit_rate, t.dram_fidelity == "bank" ? t.dram_preset : t.dram_preset + ", calibrated");
  fmt::print("energy       {:.4g} J, {:.3g} W average (PPA tables, docs/ppa.md): {}\n", t.energy.total_j(),
             t.time_ps ? t.energy.total_j() / (double(t.time_ps) * 1e-12) : 0.0, ppa::shares_text(t.energy));
  fmt::print("host         {:.3f} s ({:.2f} M instr/s)\n", r.host_seconds,
             r.host_seconds > 0 ? double(r.executed) / r.host_seconds * 1e-6 : 0.0);
  for (const auto& p : dumps) fmt::print("dump         {}\n", p.string());
}

}  // namespace

void add_sim_command(CLI::App& app) {
  auto a = std::make_shared<SimArgs>();
  auto* sub = app.add_subcommand("sim", "Simulate a program from a run spec (or a bare .asm/.mem with --hw)");
  sub->add_option("input", a->input, "Run spec (.toml) or program (.asm, .mem, .bin)")->required();
  sub->add_option("--hw", a->hw, "Hardware config for a bare program: preset name, TOML file or inline TOML");
  sub->add_option("--stats", a->stats, "Write statistics JSON here");
  sub->add_option("--trace", a->trace, "Write a Chrome/Perfetto trace JSON here (streamed as the run goes)");
  sub->add_option("--trace-window", a->trace_window,
                  "Trace only executed instructions START:END (0-based, END exclusive; either may be empty)");
  sub->add_option("--dram-trace", a->dram_trace, "Write the DRAM request stream (Ramulator 2 load/store trace)");
  sub->add_option("--out-dir", a->out_dir, "Directory for dumps (default: the spec's directory)");
  sub->add_flag("--timing-only", a->timing_only, "No data: registers, addresses and timing only");
  sub->add_option("--dram-fidelity", a->dram_fidelity,
                  "bank: every request through the bank-level DRAM model; calibrated: each transfer shape "
                  "calibrated once on it (fast, approximate; docs/timing.md)")
      ->check(CLI::IsMember({"bank", "calibrated"}))
      ->capture_default_str();
  sub->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
  sub->callback([a] { run_sim(*a); });
}

}  // namespace plena::cli

// plena config show|check|hash|list — thin wrapper over the config module.
#include <fmt/core.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "sim/resources.hpp"
#include "support/support.hpp"

namespace plena::cli {
namespace {

// The same up-front memory check `plena sim` applies: a valid config that this machine cannot
// simulate functionally is reported here too (a warning: the config is fine for compile/estimate).
void warn_if_too_big_to_simulate(const std::string& name, const config::HardwareConfig& cfg) {
  try {
    require_memory(sim::simulator_memory(cfg, true), host_memory_available(), name,
                   "plena sim will refuse it in functional mode; --timing-only needs " +
                       human_bytes(sim::simulator_memory(cfg, false).total()));
  } catch (const InputError& e) {
    std::string msg = e.what();
    if (auto p = msg.find(": error: "); p != std::string::npos) msg.replace(p, 9, ": warning: ");
    fmt::print(stderr, "{}\n", msg);
  }
}

}  // namespace

void add_config_command(CLI::App& app) {
  auto* sub = app.add_subcommand("config", "Hardware configuration: show, check, hash, list presets");
  sub->require_subcommand(1);

  struct Options {
    std::string spec = "reference-small";
    bool json = false;
    std::vector<std::string> files;
  };
  auto opt = std::make_shared<Options>();

  auto* show = sub->add_subcommand("show", "Print the canonical TOML (or JSON) of a preset, file or inline TOML");
  show->add_option("config", opt->spec, "preset name, TOML file or inline TOML (default reference-small)");
  show->add_flag("--json", opt->json, "print JSON instead of TOML");
  show->callback([opt] {
    auto cfg = config::resolve_config(opt->spec);
    if (opt->json) {
      fmt::print("{}", config::to_json(cfg));
    } else {
      fmt::print("# canonical_hash = \"{}\"\n{}", config::canonical_hash(cfg), config::to_toml(cfg));
    }
  });

  auto* check = sub->add_subcommand("check", "Validate config files (or presets); exit 1 if any is invalid");
  check->add_option("files", opt->files, "TOML files or preset names")->required();
  check->callback([opt] {
    for (const auto& f : opt->files) {
      try {
        auto cfg = config::resolve_config(f);
        fmt::print("{}: ok (hash {})\n", f, config::canonical_hash(cfg));
        warn_if_too_big_to_simulate(f, cfg);
      } catch (const InputError& e) {
        fmt::print(stderr, "{}\n", e.what());
        set_exit_code(1);
      }
    }
  });

  auto* hash = sub->add_subcommand("hash", "Print the canonical hash of a preset, file or inline TOML");
  hash->add_option("config", opt->spec, "preset name, TOML file or inline TOML")->required();
  hash->callback([opt] { fmt::print("{}\n", config::canonical_hash(config::resolve_config(opt->spec))); });

  auto* list = sub->add_subcommand("list", "List the built-in presets with their hashes");
  list->callback([] {
    for (const auto& name : config::preset_names()) {
      fmt::print("{:<20} {}  {}\n", name, config::canonical_hash(config::preset(name)),
                 config::preset_summary(name));
    }
  });
}

}  // namespace plena::cli

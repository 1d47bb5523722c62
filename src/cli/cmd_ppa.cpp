// plena ppa: area per component, leakage and energy per event of a hardware config
// (library: src/ppa, tables: data/ppa/*.toml, docs/ppa.md).
#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "ppa/ppa.hpp"

namespace plena::cli {

void add_ppa_command(CLI::App& app) {
  struct Flags {
    std::string hw;
    double node_nm = 7.0;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* sub = app.add_subcommand("ppa", "area (mm2) per component, leakage and energy per event of a hardware config");
  sub->add_option("--hw", flags->hw, "hardware config: preset name, TOML file or inline TOML")->required();
  sub->add_option("--node", flags->node_nm, "technology node in nm (7 .. 130; the PLENA anchors are 7 nm)")
      ->capture_default_str();
  sub->add_flag("--json", flags->json, "print JSON instead of the table");
  sub->callback([flags] {
    const config::HardwareConfig cfg = config::resolve_config(flags->hw);
    ppa::Options opt;
    opt.node_nm = flags->node_nm;
    ppa::check_options(opt, "--node");
    const ppa::Report r = ppa::report(cfg, flags->hw, opt);
    fmt::print("{}\n", flags->json ? ppa::to_json(r) : ppa::to_text(r));
  });
}

}  // namespace plena::cli

// Internal: the [memory.<pool>] tables' parser and emitters (config/memory.cpp).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <toml++/toml.h>

#include "config/config.hpp"

namespace plena::config::detail {

// Reads the top-level `memory` node (null: no pools) into cfg.memory and checks the pools as a
// set (every class placed once, capacities within hbm.size_bytes). InputError located in `file`.
void read_memory(const toml::node* memory, std::string_view file, HardwareConfig& cfg);
// Canonical TOML of cfg.memory ("" when there are no pools, so older configs keep their hash).
std::string memory_toml(const HardwareConfig& cfg);
nlohmann::ordered_json memory_json(const HardwareConfig& cfg);

}  // namespace plena::config::detail

// A hardware config as the Python module holds it: the parsed config plus the spec it came from
// (preset name, file path or TOML text), which the runner and the reports take as --hw.
#pragma once
#include <string>

#include "config/config.hpp"

namespace plena::python {

struct ConfigHandle {
  config::HardwareConfig cfg;
  std::string spec;
};

}  // namespace plena::python

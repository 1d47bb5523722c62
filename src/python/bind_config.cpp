// plena.HardwareConfig: load a preset, TOML file or TOML text; hash, canonical TOML, formats.
#include <fmt/core.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>

#include "python/bind.hpp"
#include "python/config_handle.hpp"
#include "support/support.hpp"

namespace plena::python {
namespace {

ConfigHandle load_config(const py::object& spec) {
  // str or os.PathLike: the same resolution as --hw (preset name, inline TOML or file).
  const std::string text = py::isinstance<py::str>(spec) ? spec.cast<std::string>()
                                                         : spec.cast<std::filesystem::path>().string();
  return {config::resolve_config(text), text};
}

std::string format_of(const ConfigHandle& h, const std::string& role) {
  const config::Formats& f = h.cfg.formats;
  if (role == "weight") return f.m_weight.name();
  if (role == "kv-matrix") return f.m_kv.name();
  if (role == "activation") return f.v_act.name();
  if (role == "kv") return f.v_kv.name();
  if (role == "vector-sram") return h.cfg.sram.vector_type.name();
  if (role == "matrix-sram") return h.cfg.sram.matrix_type.name();
  if (role == "fp-sram") return h.cfg.sram.fp_type.name();
  throw InputError(fmt::format("HardwareConfig.format: unknown role '{}' (expected weight, kv-matrix, activation, kv, "
                               "vector-sram, matrix-sram or fp-sram)",
                               role));
}

}  // namespace

void bind_config(py::module_& m) {
  py::class_<ConfigHandle>(m, "HardwareConfig", "A validated PLENA hardware configuration (docs/config.md).")
      .def(py::init(&load_config), py::arg("spec"), "Same as HardwareConfig.load(spec).")
      .def_static("load", &load_config, py::arg("spec"),
                  "Load a preset name, a TOML file path or TOML text (InputError names the key and line).")
      .def_static("presets", &config::preset_names, "Names of the built-in presets.")
      .def_property_readonly("hash", [](const ConfigHandle& h) { return config::canonical_hash(h.cfg); },
                             "Canonical hash (16 hex digits) that programs and stats are checked against.")
      .def_property_readonly("spec", [](const ConfigHandle& h) { return h.spec; }, "What the config was loaded from.")
      .def("to_toml", [](const ConfigHandle& h) { return config::to_toml(h.cfg); }, "Canonical TOML text (every key).")
      .def("to_dict", [](const ConfigHandle& h) { return json_to_python(config::to_json(h.cfg)); },
           "Every key as nested dicts, plus canonical_hash.")
      .def("format", &format_of, py::arg("role"),
           "Canonical number format of a tensor class (weight, kv-matrix, activation, kv) or SRAM "
           "(vector-sram, matrix-sram, fp-sram).")
      .def_property_readonly("mlen", [](const ConfigHandle& h) { return h.cfg.geometry.mlen; })
      .def_property_readonly("blen", [](const ConfigHandle& h) { return h.cfg.geometry.blen; })
      .def_property_readonly("vlen", [](const ConfigHandle& h) { return h.cfg.geometry.vlen; })
      .def_property_readonly("hlen", [](const ConfigHandle& h) { return h.cfg.geometry.hlen; })
      .def("__eq__", [](const ConfigHandle& a, const ConfigHandle& b) { return a.cfg == b.cfg; })
      .def("__repr__", [](const ConfigHandle& h) {
        const std::string shown = h.spec.find('\n') == std::string::npos ? h.spec : "<toml text>";
        return fmt::format("HardwareConfig('{}', hash={})", shown, config::canonical_hash(h.cfg));
      });
}

}  // namespace plena::python

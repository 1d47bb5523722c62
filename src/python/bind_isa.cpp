// plena.assemble / plena.disassemble.
#include <pybind11/stl.h>

#include "isa/isa.hpp"
#include "python/bind.hpp"

namespace plena::python {

void bind_isa(py::module_& m) {
  m.def(
      "assemble",
      [](const std::string& text, const std::string& filename) {
        return to_numpy(isa::assemble(text, filename).words);
      },
      py::arg("text"), py::arg("filename") = "<input>",
      "Assemble PLENA assembly text into a uint32 array of instruction words (InputError names the line).");
  m.def(
      "disassemble",
      [](const py::object& words) { return isa::disassemble_program(view(integer_array<uint32_t>(words, "disassemble: words"))); },
      py::arg("words"), "Canonical assembly text of instruction words (one instruction per line).");
  m.def(
      "to_mem_text", [](const py::object& words) { return isa::to_mem_text(view(integer_array<uint32_t>(words, "to_mem_text: words"))); },
      py::arg("words"), "Upstream .mem text: one 0x%08X line per word.");
  m.def(
      "parse_mem_text",
      [](const std::string& text, const std::string& filename) {
        return to_numpy(isa::parse_mem_text(text, filename));
      },
      py::arg("text"), py::arg("filename") = "<input>", "Words of upstream .mem text.");
}

}  // namespace plena::python

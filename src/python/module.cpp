// The Python module `plena`: the toolchain's library API with numpy arrays in and out
// (docs/python.md). Each bind_*.cpp file binds one library module.
#include "plena/version.hpp"
#include "python/bind.hpp"
#include "support/support.hpp"

namespace plena::python {

py::object json_to_python(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

}  // namespace plena::python

PYBIND11_MODULE(plena, m) {
  namespace pp = plena::python;
  m.doc() = "PLENA accelerator toolchain: assembler, numerics, simulator, compiler, analytic model";
  m.attr("__version__") = PLENA_VERSION;
  // The located messages ("file:line:col: error: ...") travel unchanged as the exception text.
  pp::py::register_exception<plena::InputError>(m, "InputError", PyExc_ValueError);
  pp::py::register_exception<plena::SimFault>(m, "SimFault", PyExc_RuntimeError);
  pp::bind_isa(m);
  pp::bind_numerics(m);
  pp::bind_config(m);
  pp::bind_sim(m);
  pp::bind_tokenizer(m);
  pp::bind_runner(m);
}

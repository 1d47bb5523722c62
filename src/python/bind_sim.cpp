// plena.Simulator and plena.HbmTensor: load a program, place tensors in HBM and SRAM as numpy
// arrays, run functional or timing-only, read results and statistics back.
#include <fmt/core.h>
#include <pybind11/stl.h>

#include "isa/isa.hpp"
#include "numerics/hbm_tensor.hpp"
#include "python/bind.hpp"
#include "python/config_handle.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::python {
namespace {

class PySimulator {
 public:
  PySimulator(const ConfigHandle& cfg, const std::string& mode) : sim_(cfg.cfg, options(mode)) {}

  void load(const py::object& program) {
    if (py::isinstance<py::str>(program)) {
      words_ = isa::assemble(program.cast<std::string>(), "<program>").words;
      return;
    }
    const auto words = integer_array<uint32_t>(program, "Simulator.load: program words");
    words_.assign(words.data(), words.data() + words.size());
  }

  py::dict run() {
    if (words_.empty()) throw InputError("Simulator.run: no program loaded (call load(asm text or words) first)");
    const sim::SimResult r = sim_.run(words_);
    py::dict stats = json_to_python(r.timing.to_json());
    stats["executed"] = r.executed;
    stats["host_seconds"] = r.host_seconds;
    return stats;
  }

  void write_tensor(const numerics::HbmTensor& t, const InArray<float>& data) {
    require_data("HBM");
    if (static_cast<uint64_t>(data.size()) != t.rows * t.cols)
      throw InputError(fmt::format("Simulator.write_tensor: '{}' holds {} x {} values, got an array of {}", t.name, t.rows,
                                   t.cols, data.size()));
    sim::write_hbm_tensor(machine().hbm(), t, view(data));
  }

  py::array_t<float> read_tensor(const numerics::HbmTensor& t) {
    require_data("HBM");
    std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
    return to_numpy(sim::read_hbm_tensor(machine().hbm(), t), shape);
  }

  void write_hbm(uint64_t addr, const InArray<uint8_t>& bytes) {
    require_data("HBM");
    machine().hbm().write(addr, view(bytes));
  }
  py::array_t<uint8_t> read_hbm(uint64_t addr, size_t n) {
    require_data("HBM");
    std::vector<uint8_t> out(n);
    machine().hbm().read(addr, out);
    return to_numpy(std::move(out));
  }

  sim::Machine& machine() { return sim_.machine(); }
  const std::vector<uint32_t>& words() const { return words_; }

 private:
  static sim::SimOptions options(const std::string& mode) {
    sim::SimOptions o;
    if (mode == "timing-only") o.mode = sim::Mode::TimingOnly;
    else if (mode != "functional")
      throw InputError(fmt::format("Simulator: mode '{}' is not 'functional' or 'timing-only'", mode));
    return o;
  }
  void require_data(const char* what) {
    if (!machine().functional()) throw SimFault(fmt::format("{} data is not available in timing-only mode", what));
  }
  sim::Simulator sim_;
  std::vector<uint32_t> words_;
};

void set_register(auto& regs, size_t r, auto value, const char* what) {
  if (r >= regs.size()) throw InputError(fmt::format("{}: register {} does not exist ({} registers)", what, r, regs.size()));
  regs[r] = value;
}

void bind_sram(py::class_<PySimulator>& c) {
  c.def("write_vram", [](PySimulator& s, uint64_t a, const InArray<float>& v) { s.machine().write_vram(a, view(v)); },
        py::arg("addr"), py::arg("values"), "Vector SRAM from element address addr (rounded to its format).")
      .def("read_vram", [](PySimulator& s, uint64_t a, size_t n) { return to_numpy(s.machine().read_vram(a, n)); },
           py::arg("addr"), py::arg("count"))
      .def("write_mram", [](PySimulator& s, uint64_t a, const InArray<float>& v) { s.machine().write_mram(a, view(v)); },
           py::arg("addr"), py::arg("values"))
      .def("read_mram", [](PySimulator& s, uint64_t a, size_t n) { return to_numpy(s.machine().read_mram(a, n)); },
           py::arg("addr"), py::arg("count"))
      .def("write_fpsram", [](PySimulator& s, uint64_t i, const InArray<float>& v) { s.machine().write_fpsram(i, view(v)); },
           py::arg("index"), py::arg("values"))
      .def("read_fpsram", [](PySimulator& s, uint64_t i, size_t n) { return to_numpy(s.machine().read_fpsram(i, n)); },
           py::arg("index"), py::arg("count"))
      .def("write_intsram",
           [](PySimulator& s, uint64_t i, const py::object& v) {
             s.machine().write_intsram(i, view(integer_array<uint32_t>(v, "write_intsram: values")));
           },
           py::arg("index"), py::arg("values"))
      .def("read_intsram", [](PySimulator& s, uint64_t i, size_t n) { return to_numpy(s.machine().read_intsram(i, n)); },
           py::arg("index"), py::arg("count"));
}

void bind_registers(py::class_<PySimulator>& c) {
  c.def_property_readonly("gp", [](PySimulator& s) { return std::vector<uint32_t>(s.machine().gp.begin(), s.machine().gp.end()); })
      .def_property_readonly("fp", [](PySimulator& s) { return std::vector<float>(s.machine().fp.begin(), s.machine().fp.end()); })
      .def_property_readonly("addr", [](PySimulator& s) { return s.machine().hbm_addr; }, "HBM address registers a0..")
      .def("set_gp", [](PySimulator& s, unsigned r, uint32_t v) {
             if (r >= 16) throw InputError(fmt::format("set_gp: register {} does not exist (gp0-gp15)", r));
             s.machine().set_gp(r, v);
           }, py::arg("reg"), py::arg("value"), "gp<reg> = value (writes to gp0 are dropped, as on the hardware).")
      .def("set_addr", [](PySimulator& s, size_t r, uint64_t v) { set_register(s.machine().hbm_addr, r, v, "set_addr"); },
           py::arg("reg"), py::arg("value"), "HBM address register a<reg> = value (a byte address).");
}

void bind_tensor(py::module_& m) {
  using numerics::HbmTensor;
  py::class_<HbmTensor>(m, "HbmTensor", "A tensor's HBM layout: element region, then its block scales.")
      .def_readonly("name", &HbmTensor::name)
      .def_readonly("shape", &HbmTensor::shape)
      .def_property_readonly("format", [](const HbmTensor& t) { return t.format.name(); })
      .def_property_readonly("cls", [](const HbmTensor& t) { return std::string(numerics::tensor_class_name(t.cls)); })
      .def_readonly("rows", &HbmTensor::rows)
      .def_readonly("cols", &HbmTensor::cols)
      .def_property_readonly("row_stride", &HbmTensor::stride, "STRIDE_REG value (elements)")
      .def_property_readonly("scale_reg", &HbmTensor::scale_elems, "SCALE_REG value (elements before the scales)")
      .def_readwrite("base", &HbmTensor::base, "Byte address in HBM")
      .def_property_readonly("bytes", &HbmTensor::bytes, "Bytes of both regions")
      .def("__repr__", [](const HbmTensor& t) {
        return fmt::format("HbmTensor('{}', rows={}, cols={}, format='{}', base={}, bytes={})", t.name, t.rows, t.cols,
                           t.format.name(), t.base, t.bytes());
      });
  m.def(
      "hbm_layout",
      [](const std::string& name, std::vector<uint64_t> shape, const std::string& format, const std::string& cls,
         uint64_t base, uint64_t row_multiple) {
        HbmTensor t = numerics::hbm_layout(name, numerics::parse_tensor_class(cls), std::move(shape),
                                           numerics::parse_format(format), row_multiple);
        t.base = base;
        return t;
      },
      py::arg("name"), py::arg("shape"), py::arg("format"), py::arg("cls") = "activation", py::arg("base") = 0,
      py::arg("row_multiple") = 1,
      "Layout of a [..., cols] tensor in HBM: rows padded to whole bytes and scale blocks, scales after the elements.");
}

}  // namespace

void bind_sim(py::module_& m) {
  bind_tensor(m);
  py::class_<PySimulator> c(m, "Simulator", "The PLENA simulator (docs/timing.md): functional or timing-only.");
  c.def(py::init<const ConfigHandle&, const std::string&>(), py::arg("config"), py::arg("mode") = "functional")
      .def("load", &PySimulator::load, py::arg("program"), "Program as assembly text or instruction words.")
      .def_property_readonly("program", [](const PySimulator& s) { return std::vector<uint32_t>(s.words()); })
      .def("run", &PySimulator::run,
           "Run the loaded program from pc 0; returns the statistics (cycles, time_ps, energy, ...) as a dict.")
      .def("write_tensor", &PySimulator::write_tensor, py::arg("tensor"), py::arg("values"),
           "Encode values (rows x cols) into the tensor's HBM layout.")
      .def("read_tensor", &PySimulator::read_tensor, py::arg("tensor"), "Decode the tensor from HBM (float32, its shape).")
      .def("write_hbm", &PySimulator::write_hbm, py::arg("addr"), py::arg("data"), "Raw bytes into HBM.")
      .def("read_hbm", &PySimulator::read_hbm, py::arg("addr"), py::arg("count"), "Raw bytes from HBM.");
  bind_sram(c);
  bind_registers(c);
}

}  // namespace plena::python

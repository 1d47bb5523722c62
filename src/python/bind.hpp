// Shared helpers of the Python module `plena` (src/python): numpy <-> C++ conversion without
// copies where the layout allows it, and JSON reports as Python dicts.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace plena::python {
namespace py = pybind11;

// A C-contiguous array of T viewing `a` (no copy when `a` already has that dtype and layout).
template <class T>
using InArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
std::span<const T> view(const InArray<T>& a) {
  return {a.data(), static_cast<size_t>(a.size())};
}

// Hands the vector's buffer to numpy (the array owns it; no copy).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  const auto n = static_cast<py::ssize_t>(v.size());
  return to_numpy(std::move(v), {n});
}

// json.loads(text): reports keep their stable key order as dict insertion order.
py::object json_to_python(const std::string& text);

void bind_isa(py::module_& m);
void bind_numerics(py::module_& m);
void bind_config(py::module_& m);
void bind_sim(py::module_& m);
void bind_runner(py::module_& m);

}  // namespace plena::python

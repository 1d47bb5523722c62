// Shared helpers of the Python module `plena` (src/python): numpy <-> C++ conversion without
// copies where the layout allows it, and JSON reports as Python dicts.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <fmt/core.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <span>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace plena::python {
namespace py = pybind11;

// A C-contiguous array of T viewing `a` (no copy when `a` already has that dtype and layout).
template <class T>
using InArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
std::span<const T> view(const InArray<T>& a) {
  return {a.data(), static_cast<size_t>(a.size())};
}

// Integer input (instruction words, token ids, INT SRAM values) as a C-contiguous T array: numpy's
// own cast would silently truncate 1.5 or wrap -1, so anything that is not an integer in T's range
// is an InputError naming `what`.
template <class T>
InArray<T> integer_array(const py::handle& obj, const char* what) {
  const py::array a = py::array::ensure(obj);
  if (!a) throw InputError(fmt::format("{}: expected an array or list of integers", what));
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    throw InputError(fmt::format("{}: expected integers, got an array of dtype {}", what,
                                 py::str(a.dtype()).cast<std::string>()));
  const auto wide = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
  for (py::ssize_t i = 0; i < wide.size(); ++i) {
    const int64_t v = wide.data()[i];
    if (v < int64_t(std::numeric_limits<T>::min()) || (std::is_same_v<T, uint32_t> && v > int64_t(UINT32_MAX)))
      throw InputError(fmt::format("{}: value {} at index {} is outside {}", what, v, i,
                                   std::is_same_v<T, uint32_t> ? "0 .. 2^32-1" : "the int64 range"));
  }
  return InArray<T>::ensure(a);
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
void bind_tokenizer(py::module_& m);

}  // namespace plena::python

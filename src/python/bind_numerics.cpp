// plena.quantize / dequantize / fake_quantize: rows (the last axis) in any codec's packed storage.
#include <fmt/core.h>
#include <pybind11/stl.h>

#include "numerics/numerics.hpp"
#include "python/bind.hpp"
#include "support/support.hpp"

namespace plena::python {
namespace {

std::vector<py::ssize_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

// Leading dims of `a` with `last` as the new last axis.
std::vector<py::ssize_t> with_last(std::vector<py::ssize_t> shape, size_t last) {
  shape.back() = static_cast<py::ssize_t>(last);
  return shape;
}

size_t row_length(const py::array& a, const char* what) {
  if (a.ndim() == 0 || a.shape(a.ndim() - 1) == 0)
    throw InputError(fmt::format("{}: expected an array with at least one axis and a non-empty last axis (the row)", what));
  return static_cast<size_t>(a.shape(a.ndim() - 1));
}

py::tuple quantize(const InArray<float>& x, const std::string& format) {
  const numerics::Format f = numerics::parse_format(format);
  const size_t cols = row_length(x, "quantize: array");
  const size_t rows = static_cast<size_t>(x.size()) / cols;
  const size_t eb = numerics::packed_element_bytes(f, cols), sb = numerics::scale_bytes(f, cols);
  std::vector<uint8_t> payload(rows * eb), scales(rows * sb);
  const std::span<const float> in = view(x);
  for (size_t r = 0; r < rows; ++r)
    numerics::encode_row(f, in.subspan(r * cols, cols), std::span(payload).subspan(r * eb, eb),
                         std::span(scales).subspan(r * sb, sb));
  const auto shape = shape_of(x);
  return py::make_tuple(to_numpy(std::move(payload), with_last(shape, eb)), to_numpy(std::move(scales), with_last(shape, sb)));
}

void check_packed(const py::array& a, const std::vector<py::ssize_t>& want, const char* what, const numerics::Format& f,
                  size_t cols) {
  if (shape_of(a) == want) return;
  std::string got, expected;
  for (auto d : shape_of(a)) got += (got.empty() ? "" : ", ") + std::to_string(d);
  for (auto d : want) expected += (expected.empty() ? "" : ", ") + std::to_string(d);
  throw InputError(fmt::format("dequantize: {} has shape [{}], expected [{}] for rows of {} elements in {}", what, got,
                               expected, cols, f.name()));
}

py::array_t<float> dequantize(const InArray<uint8_t>& payload, const InArray<uint8_t>& scales, const std::string& format,
                              size_t cols) {
  const numerics::Format f = numerics::parse_format(format);
  if (cols == 0) throw InputError("dequantize: cols must be at least 1");
  row_length(payload, "dequantize: payload");
  const size_t eb = numerics::packed_element_bytes(f, cols), sb = numerics::scale_bytes(f, cols);
  const auto shape = shape_of(payload);
  check_packed(payload, with_last(shape, eb), "payload", f, cols);
  check_packed(scales, with_last(shape, sb), "scales", f, cols);
  const size_t rows = static_cast<size_t>(payload.size()) / eb;
  std::vector<float> out(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    numerics::decode_row(f, view(payload).subspan(r * eb, eb), view(scales).subspan(r * sb, sb),
                         std::span(out).subspan(r * cols, cols));
  return to_numpy(std::move(out), with_last(shape, cols));
}

py::array_t<float> fake_quantize(const InArray<float>& x, const std::string& format) {
  const numerics::Format f = numerics::parse_format(format);
  const size_t cols = row_length(x, "fake_quantize: array");
  std::vector<float> out(x.data(), x.data() + x.size());
  for (size_t r = 0; r < out.size() / cols; ++r) numerics::fake_quantize(f, std::span(out).subspan(r * cols, cols));
  return to_numpy(std::move(out), shape_of(x));
}

py::dict format_info(const std::string& format) {
  const numerics::Format f = numerics::parse_format(format);
  py::dict d;
  d["name"] = f.name();
  d["codec"] = std::string(numerics::codec_name(f.codec));
  d["element"] = f.element;
  d["width"] = f.width;
  d["block"] = f.block;
  d["scale_bits"] = f.scale_bits;
  d["bits_per_element"] = f.bits_per_element();
  return d;
}

}  // namespace

void bind_numerics(py::module_& m) {
  m.def("quantize", &quantize, py::arg("array"), py::arg("format"),
        "Encode the rows (last axis) of an array: returns (payload, scales), uint8 arrays whose last axis holds "
        "one row's packed element bytes and its scale bytes (empty for plain formats).");
  m.def("dequantize", &dequantize, py::arg("payload"), py::arg("scales"), py::arg("format"), py::arg("cols"),
        "Decode quantize()'s (payload, scales) back to float32 rows of `cols` elements.");
  m.def("fake_quantize", &fake_quantize, py::arg("array"), py::arg("format"),
        "Encode then decode every row (last axis): the values the hardware would see, as float32.");
  m.def("format_info", &format_info, py::arg("format"),
        "Canonical name, codec, element, width, block, scale bits and bits per element of a number format.");
}

}  // namespace plena::python

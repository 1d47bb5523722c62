// .npy tensors through the row API (`plena quant encode|decode|roundtrip`).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::numerics {
namespace {

struct RowShape {
  size_t rows = 1, cols = 0;
};

RowShape row_shape(const std::vector<size_t>& shape, const std::string& file) {
  if (shape.empty()) throw_input(file, 0, 0, "expected an array with at least one axis (the row axis), got a scalar");
  RowShape rs;
  rs.cols = shape.back();
  for (size_t i = 0; i + 1 < shape.size(); ++i) rs.rows *= shape[i];
  return rs;
}

std::filesystem::path with_suffix(const std::filesystem::path& prefix, std::string_view suffix) {
  return std::filesystem::path(prefix.string() + std::string(suffix));
}

}  // namespace

void encode_npy_file(const Format& f, const std::filesystem::path& in, const std::filesystem::path& prefix) {
  NpyArray a = npy_load(in);
  std::vector<float> x = a.to_f32();
  RowShape rs = row_shape(a.shape, in.string());
  size_t eb = packed_element_bytes(f, rs.cols), sb = scale_bytes(f, rs.cols);
  std::vector<uint8_t> elems(rs.rows * eb), scales(rs.rows * sb);
  for (size_t r = 0; r < rs.rows; ++r)
    encode_row(f, std::span<const float>(x).subspan(r * rs.cols, rs.cols), std::span(elems).subspan(r * eb, eb),
               std::span(scales).subspan(r * sb, sb));
  npy_save(with_suffix(prefix, ".elems.npy"), npy_from_u8(elems, {rs.rows, eb}));
  npy_save(with_suffix(prefix, ".scales.npy"), npy_from_u8(scales, {rs.rows, sb}));
  nlohmann::json meta = {{"schema", "plena-quant-encoded/1"},
                         {"format", f.name()},
                         {"shape", a.shape},
                         {"elems", with_suffix(prefix, ".elems.npy").filename().string()},
                         {"scales", with_suffix(prefix, ".scales.npy").filename().string()}};
  write_text_file(with_suffix(prefix, ".json"), meta.dump(2) + "\n");
}

void decode_npy_file(const std::filesystem::path& prefix_in, const std::filesystem::path& out) {
  std::filesystem::path prefix = prefix_in;
  if (prefix.extension() == ".json") prefix.replace_extension();
  std::string meta_file = with_suffix(prefix, ".json").string();
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(read_text_file(meta_file));
  } catch (const nlohmann::json::exception& e) {  // parse errors and number overflow alike
    throw_input(meta_file, 0, 0, fmt::format("invalid JSON: {}", e.what()));
  }
  if (!meta.is_object() || meta.value("schema", "") != "plena-quant-encoded/1" || !meta.contains("format") ||
      !meta["format"].is_string() || !meta.contains("shape") || !meta["shape"].is_array())
    throw_input(meta_file, 0, 0, "expected {\"schema\": \"plena-quant-encoded/1\", \"format\": ..., \"shape\": [...]}");
  Format f = parse_format(meta["format"].get<std::string>());
  std::vector<size_t> shape;
  for (const auto& d : meta["shape"]) {
    if (!d.is_number_unsigned()) throw_input(meta_file, 0, 0, "'shape' must hold non-negative integers");
    shape.push_back(d.get<size_t>());
  }
  RowShape rs = row_shape(shape, meta_file);
  size_t eb = packed_element_bytes(f, rs.cols), sb = scale_bytes(f, rs.cols);
  NpyArray e = npy_load(with_suffix(prefix, ".elems.npy"));
  NpyArray s = npy_load(with_suffix(prefix, ".scales.npy"));
  if (e.dtype != "u1" || e.data.size() != rs.rows * eb)
    throw_input(with_suffix(prefix, ".elems.npy").string(), 0, 0,
                fmt::format("expected uint8 [{} x {}] for format '{}' and shape of {} rows", rs.rows, eb, f.name(),
                            rs.rows));
  if (s.dtype != "u1" || s.data.size() != rs.rows * sb)
    throw_input(with_suffix(prefix, ".scales.npy").string(), 0, 0,
                fmt::format("expected uint8 [{} x {}] for format '{}'", rs.rows, sb, f.name()));
  std::vector<float> x(rs.rows * rs.cols);
  for (size_t r = 0; r < rs.rows; ++r)
    decode_row(f, std::span<const uint8_t>(e.data).subspan(r * eb, eb),
               std::span<const uint8_t>(s.data).subspan(r * sb, sb), std::span(x).subspan(r * rs.cols, rs.cols));
  npy_save(out, npy_from_f32(x, shape));
}

void roundtrip_npy_file(const Format& f, const std::filesystem::path& in, const std::filesystem::path& out) {
  NpyArray a = npy_load(in);
  std::vector<float> x = a.to_f32();
  RowShape rs = row_shape(a.shape, in.string());
  for (size_t r = 0; r < rs.rows; ++r) fake_quantize(f, std::span(x).subspan(r * rs.cols, rs.cols));
  npy_save(out, npy_from_f32(x, a.shape));
}

}  // namespace plena::numerics

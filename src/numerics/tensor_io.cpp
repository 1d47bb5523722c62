// .npy tensors through the row API (`plena quant encode|decode|roundtrip`).
#include "numerics/tensor_io.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "numerics/numerics.hpp"
#include "support/confine.hpp"
#include "support/checked.hpp"
#include "support/json_strict.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::numerics {
namespace {

using json = nlohmann::json;

struct RowShape {
  size_t rows = 1, cols = 0;
};

// Rows are all axes but the last. The element count was checked by the caller, but with a zero-sized
// last axis the row count alone can still overflow.
RowShape row_shape(const std::vector<size_t>& shape, std::string_view file) {
  if (shape.empty()) throw_input(file, 0, 0, "expected an array with at least one axis (the row axis), got a scalar");
  auto rows = checked_product(std::span<const size_t>(shape).first(shape.size() - 1));
  if (!rows) throw_input(file, 0, 0, fmt::format("shape [{}] has more than 2^64 rows", fmt::join(shape, ", ")));
  return {*rows, shape.back()};
}

// Bytes of `rows` rows of `per_row` bytes; InputError when that cannot be addressed.
size_t region_bytes(size_t rows, size_t per_row, std::string_view file) {
  auto n = checked_mul(rows, per_row);
  if (!n) throw_input(file, 0, 0, fmt::format("{} rows of {} bytes do not fit in memory", rows, per_row));
  return *n;
}

// Packed and scale bytes of one row of `cols` elements. cols comes from a file, so the packed size
// is computed as (cols / 8) * width + ceil((cols % 8) * width / 8), which cannot wrap unnoticed.
std::pair<size_t, size_t> row_bytes(const Format& f, size_t cols, std::string_view file) {
  auto whole = checked_mul(cols / 8, size_t(f.width));
  auto eb = whole ? checked_add(*whole, ceil_div((cols % 8) * size_t(f.width), size_t{8})) : std::nullopt;
  if (!eb) throw_input(file, 0, 0, fmt::format("rows of {} elements of {} are too long to address", cols, f.name()));
  return {*eb, scale_bytes(f, cols)};
}

std::filesystem::path with_suffix(const std::filesystem::path& prefix, std::string_view suffix) {
  return std::filesystem::path(prefix.string() + std::string(suffix));
}

// A file named inside the JSON: a plain name in the JSON's own folder, never a path out of it.
std::string plain_file_name(const json& j, const char* key, std::string_view source) {
  const json& v = j.at(key);
  if (!v.is_string()) throw_input(source, 0, 0, fmt::format("$.{} = {}: expected a file name string", key, json_text(v)));
  std::string f = v.get<std::string>();
  if (!is_plain_file_name(f))
    throw_input(source, 0, 0, fmt::format("$.{} = {}: expected a file name in the same folder", key, json_text(v)));
  return f;
}

// Whether an f32 array of this shape can be written as .npy and read back: as numpy requires, the
// non-zero dims times 4 bytes stay within 2^63 (a zero dim does not excuse the others).
bool f32_representable(const std::vector<size_t>& shape) {
  std::optional<size_t> bytes = 4;
  for (size_t d : shape)
    if (d != 0 && bytes) bytes = checked_mul(*bytes, d);
  return bytes && *bytes <= size_t(INT64_MAX);
}

// Shape of an .npy input whose f32 results will be written.
RowShape input_rows(const NpyArray& a, const std::filesystem::path& in) {
  if (!f32_representable(a.shape))
    throw_input(in.string(), 0, 0, fmt::format("shape [{}] as f32 would need more than 2^63 bytes", fmt::join(a.shape, ", ")));
  return row_shape(a.shape, in.string());
}

std::vector<size_t> shape_field(const json& j, std::string_view source) {
  const json& sh = j.at("shape");
  if (!sh.is_array() || sh.empty())
    throw_input(source, 0, 0, fmt::format("$.shape = {}: expected a non-empty list of non-negative integers", json_text(sh)));
  std::vector<size_t> shape;
  for (size_t i = 0; i < sh.size(); ++i) {
    if (!sh[i].is_number_unsigned())
      throw_input(source, 0, 0, fmt::format("$.shape[{}] = {}: expected a non-negative integer", i, json_text(sh[i])));
    shape.push_back(sh[i].get<size_t>());
  }
  if (!f32_representable(shape))
    throw_input(source, 0, 0, fmt::format("$.shape = {}: the decoded f32 array would need more than 2^63 bytes", json_text(sh)));
  return shape;
}

void check_u1(const NpyArray& a, std::string_view name, size_t rows, size_t per_row, const Format& f,
              std::string_view what) {
  const std::vector<size_t> want = {rows, per_row};
  if (a.dtype != "u1" || a.shape != want)
    throw_input(name, 0, 0,
                fmt::format("{} array is '{}' [{}]; expected uint8 [{}, {}] for format '{}' and the JSON's shape", what,
                            a.dtype, fmt::join(a.shape, ", "), rows, per_row, f.name()));
}

}  // namespace

QuantMeta parse_quant_meta(std::string_view text, std::string_view source) {
  json j = parse_json_strict(text, source, "the JSON written by 'plena quant encode'");
  static const char* const kKeys[] = {"schema", "format", "shape", "elems", "scales"};
  if (!j.is_object()) throw_input(source, 0, 0, "expected a JSON object with schema, format, shape, elems, scales");
  for (const auto& item : j.items())
    if (std::find(std::begin(kKeys), std::end(kKeys), item.key()) == std::end(kKeys))
      throw_input(source, 0, 0, fmt::format("$.{}: unknown key; expected schema, format, shape, elems, scales", item.key()));
  for (const char* k : kKeys)
    if (!j.contains(k)) throw_input(source, 0, 0, fmt::format("missing key '{}' (expected schema, format, shape, elems, scales)", k));
  if (j["schema"] != "plena-quant-encoded/1")
    throw_input(source, 0, 0, fmt::format("$.schema = {}: expected \"plena-quant-encoded/1\"", json_text(j["schema"])));
  if (!j["format"].is_string()) throw_input(source, 0, 0, fmt::format("$.format = {}: expected a format string", json_text(j["format"])));
  QuantMeta m;
  try {
    m.format = parse_format(j["format"].get<std::string>());
  } catch (const InputError& e) {
    throw_input(source, 0, 0, fmt::format("$.format: {}", e.what()));
  }
  m.shape = shape_field(j, source);
  m.elems = plain_file_name(j, "elems", source);
  m.scales = plain_file_name(j, "scales", source);
  return m;
}

std::vector<float> decode_quant(const QuantMeta& meta, const NpyArray& e, std::string_view elems_name,
                                const NpyArray& s, std::string_view scales_name) {
  const Format& f = meta.format;
  RowShape rs = row_shape(meta.shape, elems_name);
  const auto [eb, sb] = row_bytes(f, rs.cols, elems_name);
  check_u1(e, elems_name, rs.rows, eb, f, "element");
  check_u1(s, scales_name, rs.rows, sb, f, "scale");
  std::vector<float> x(region_bytes(rs.rows, rs.cols, elems_name));  // <= 8x the element bytes present
  if (rs.cols == 0) return x;  // no rows to visit, however many there are
  for (size_t r = 0; r < rs.rows; ++r)
    decode_row(f, std::span<const uint8_t>(e.data).subspan(r * eb, eb),
               std::span<const uint8_t>(s.data).subspan(r * sb, sb), std::span(x).subspan(r * rs.cols, rs.cols));
  return x;
}

void encode_npy_file(const Format& f, const std::filesystem::path& in, const std::filesystem::path& prefix) {
  NpyArray a = npy_load(in);
  RowShape rs = input_rows(a, in);
  std::vector<float> x = a.to_f32();
  const auto [eb, sb] = row_bytes(f, rs.cols, in.string());
  std::vector<uint8_t> elems(region_bytes(rs.rows, eb, in.string())), scales(region_bytes(rs.rows, sb, in.string()));
  for (size_t r = 0; rs.cols != 0 && r < rs.rows; ++r)
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
  const std::filesystem::path meta_file = with_suffix(prefix, ".json");
  QuantMeta meta = parse_quant_meta(read_text_file(meta_file), meta_file.string());
  const std::filesystem::path dir = meta_file.parent_path();
  const std::filesystem::path elems_file = dir / meta.elems, scales_file = dir / meta.scales;
  NpyArray e = npy_load(elems_file), s = npy_load(scales_file);
  std::vector<float> x = decode_quant(meta, e, elems_file.string(), s, scales_file.string());
  npy_save(out, npy_from_f32(x, meta.shape));
}

void roundtrip_npy_file(const Format& f, const std::filesystem::path& in, const std::filesystem::path& out) {
  NpyArray a = npy_load(in);
  RowShape rs = input_rows(a, in);
  std::vector<float> x = a.to_f32();
  for (size_t r = 0; rs.cols != 0 && r < rs.rows; ++r) fake_quantize(f, std::span(x).subspan(r * rs.cols, rs.cols));
  npy_save(out, npy_from_f32(x, a.shape));
}

}  // namespace plena::numerics

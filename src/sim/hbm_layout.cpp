// The plena-cpp HBM tensor layout (shared by the DMA instructions and the loader/dump helpers):
// element offsets and SCALE_REG/STRIDE_REG count elements of the tensor's format, so sub-byte
// formats are addressed correctly (docs/isa.md ("Simulator semantics and deviations"), "HBM layout").
#include <fmt/format.h>

#include "sim/exec_detail.hpp"
#include "support/support.hpp"

namespace plena::sim {
namespace detail {

std::string plan_rows(const numerics::Format& f, uint64_t base, uint64_t first_elem, uint64_t row_len,
                      uint64_t stride_elems, uint64_t rows, uint64_t scale_elems, RowPlan& out) {
  const uint64_t w = uint64_t(f.width);
  // Row starts must be byte-aligned (sub-byte formats); a scaled format's row may start inside a
  // block (see below), but its row stride must keep whole blocks.
  if ((first_elem * w) % 8 != 0)
    return fmt::format("element offset {} of {} ({} bits) does not start on a byte boundary", first_elem, f.name(), w);
  if (rows > 1 && (stride_elems * w) % 8 != 0)
    return fmt::format("row stride {} elements of {} ({} bits) does not keep rows byte-aligned", stride_elems,
                       f.name(), w);
  if ((row_len * w) % 8 != 0)
    return fmt::format("row of {} elements of {} is not a whole number of bytes", row_len, f.name());
  const bool scaled = numerics::scale_bytes(f, 1) != 0;
  const uint64_t block = scaled ? uint64_t(f.block) : 1;
  if (scaled) {
    const uint64_t b = block;
    if (rows > 1 && stride_elems % b != 0)
      return fmt::format("row stride {} is not a multiple of the {} block size {}", stride_elems, f.name(), b);
  }
  out.rows = rows;
  out.elem_row_bytes = numerics::packed_element_bytes(f, row_len);
  out.elem_stride_bytes = numerics::packed_element_bytes(f, stride_elems);
  uint64_t off = numerics::packed_element_bytes(f, first_elem);
  auto overflow = [&] { return fmt::format("HBM address overflows 64 bits (base 0x{:x})", base); };
  if (__builtin_add_overflow(base, off, &out.elem_base)) return overflow();
  // One past the last byte of `rows` rows of `row_bytes` starting at `start`, `stride` apart.
  auto region_end = [rows](uint64_t start, uint64_t row_bytes, uint64_t stride, uint64_t& end) {
    uint64_t span = 0;
    end = start;
    return rows == 0 || (!__builtin_mul_overflow(rows - 1, stride, &span) && !__builtin_add_overflow(start, span, &end) &&
                         !__builtin_add_overflow(end, row_bytes, &end));
  };
  if (!region_end(out.elem_base, out.elem_row_bytes, out.elem_stride_bytes, out.elem_end)) return overflow();
  if (scaled) {
    out.scale_row_bytes = numerics::scale_bytes(f, row_len);
    out.scale_stride_bytes = numerics::scale_bytes(f, stride_elems);
    // A row starting inside a block reads the scales from that block on, as the reference does
    // (scale address SCALE_REG + off / block): element j of the row uses scale j / block.
    uint64_t soff = numerics::packed_element_bytes(f, scale_elems) +
                    numerics::scale_bytes(f, first_elem - first_elem % block);
    if (__builtin_add_overflow(base, soff, &out.scale_base)) return overflow();
    if (!region_end(out.scale_base, out.scale_row_bytes, out.scale_stride_bytes, out.scale_end)) return overflow();
  } else {
    out.scale_base = out.scale_end = out.elem_base;
    out.scale_row_bytes = out.scale_stride_bytes = 0;
  }
  return {};
}

}  // namespace detail

namespace {
detail::RowPlan tensor_plan(const HbmTensor& t, const char* who) {
  detail::RowPlan p;
  std::string err = detail::plan_rows(t.format, t.base, 0, t.cols, t.stride(), t.rows, t.scale_elems(), p);
  if (!err.empty()) throw InputError(fmt::format("{}: HBM tensor layout: {}", who, err));
  return p;
}
}  // namespace

void write_hbm_tensor(HbmStore& hbm, const HbmTensor& t, std::span<const float> data) {
  if (data.size() != t.rows * t.cols)
    throw InputError(fmt::format("write_hbm_tensor: {} values for a {} x {} tensor", data.size(), t.rows, t.cols));
  write_hbm_rows(hbm, t, 0, data);
}

void write_hbm_rows(HbmStore& hbm, const HbmTensor& t, uint64_t row0, std::span<const float> data) {
  const uint64_t rows = t.cols ? data.size() / t.cols : 0;
  if (rows * t.cols != data.size() || row0 > t.rows || rows > t.rows - row0)
    throw InputError(fmt::format("write_hbm_rows: {} values from row {} for a {} x {} tensor", data.size(), row0,
                                 t.rows, t.cols));
  auto p = tensor_plan(t, "write_hbm_tensor");
  std::vector<uint8_t> eb(p.elem_row_bytes), sb(p.scale_row_bytes);
  for (uint64_t r = 0; r < rows; ++r) {
    numerics::encode_row(t.format, data.subspan(size_t(r * t.cols), size_t(t.cols)), eb, sb);
    hbm.write(p.elem_base + (row0 + r) * p.elem_stride_bytes, eb);
    if (!sb.empty()) hbm.write(p.scale_base + (row0 + r) * p.scale_stride_bytes, sb);
  }
}

std::vector<float> read_hbm_tensor(const HbmStore& hbm, const HbmTensor& t) {
  auto p = tensor_plan(t, "read_hbm_tensor");
  std::vector<float> out(size_t(t.rows * t.cols));
  std::vector<uint8_t> eb(p.elem_row_bytes), sb(p.scale_row_bytes);
  for (uint64_t r = 0; r < t.rows; ++r) {
    hbm.read(p.elem_base + r * p.elem_stride_bytes, eb);
    if (!sb.empty()) hbm.read(p.scale_base + r * p.scale_stride_bytes, sb);
    numerics::decode_row(t.format, eb, sb, std::span<float>(out).subspan(size_t(r * t.cols), size_t(t.cols)));
  }
  return out;
}

}  // namespace plena::sim

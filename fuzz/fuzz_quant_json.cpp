// `plena quant decode` on fuzzed input: PREFIX.json text, optionally followed by the element and
// scale .npy images, separated by SEP. Every input must decode or throw InputError. When the arrays
// are absent and the JSON is valid, zero-filled arrays of the right shape are made (up to 1 MiB)
// so the decode loop itself runs on the fuzzed shape and format.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "numerics/numerics.hpp"
#include "numerics/tensor_io.hpp"
#include "support/checked.hpp"
#include "support/support.hpp"

namespace {

constexpr std::string_view kSep = "\n--8<--\n";

std::optional<plena::NpyArray> zero_u1(size_t rows, size_t per_row) {
  auto n = plena::checked_mul(rows, per_row);
  if (!n || *n > (1u << 20)) return std::nullopt;
  return plena::npy_from_u8(std::vector<uint8_t>(*n), {rows, per_row});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size), parts[3];
  for (int i = 0; i < 2; ++i) {
    size_t p = in.find(kSep);
    if (p == std::string_view::npos) break;
    parts[i] = in.substr(0, p);
    in.remove_prefix(p + kSep.size());
  }
  (parts[0].data() ? parts[1].data() ? parts[2] : parts[1] : parts[0]) = in;
  try {
    auto meta = plena::numerics::parse_quant_meta(parts[0], "fuzz.json");
    plena::NpyArray e, s;
    if (parts[1].data()) {
      auto bytes = [](std::string_view v) { return std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size()); };
      e = plena::npy_parse(bytes(parts[1]), "fuzz.elems.npy");
      s = plena::npy_parse(bytes(parts[2]), "fuzz.scales.npy");
    } else {
      if (meta.shape.empty()) return 0;
      auto rows = plena::checked_product(std::span<const size_t>(meta.shape).first(meta.shape.size() - 1));
      if (!rows) return 0;
      const size_t cols = meta.shape.back();
      auto ez = zero_u1(*rows, plena::numerics::packed_element_bytes(meta.format, cols));
      auto sz = zero_u1(*rows, plena::numerics::scale_bytes(meta.format, cols));
      if (!ez || !sz) return 0;
      e = std::move(*ez);
      s = std::move(*sz);
    }
    auto x = plena::numerics::decode_quant(meta, e, "fuzz.elems.npy", s, "fuzz.scales.npy");
    if (x.size() != *plena::checked_product(meta.shape)) __builtin_trap();
  } catch (const plena::InputError&) {
  }
  return 0;
}

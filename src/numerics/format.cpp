#include "numerics/format.hpp"

#include <fmt/format.h>

#include <charconv>

#include "support/support.hpp"

namespace plena::numerics {
namespace {

constexpr std::string_view kFormsHelp =
    "expected a plain type (fp32, bf16, fp16, fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, "
    "minifloat_e<E>m<M>[fn]) or '<codec>:<element>:b<block>[:rne|ties-away]' with codec ocp-mx, "
    "mase-bfp or plena-hw-mxfp, or 'asym-int:uint<2|4|8>:g<group>'";

[[noreturn]] void bad(std::string_view text, std::string_view why) {
  throw InputError(fmt::format("invalid number format '{}': {}; {}", text, why, kFormsHelp));
}

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Fills the element fields of f from an element name; false if unknown.
bool set_float_element(Format& f, std::string_view e) {
  struct Known {
    std::string_view name;
    int ebits, mbits;
    bool finite;
  };
  static constexpr Known known[] = {
      {"fp32", 8, 23, false},     {"bf16", 8, 7, false},      {"fp16", 5, 10, false},
      {"fp8_e4m3", 4, 3, true},   {"fp8_e5m2", 5, 2, false},  {"fp6_e3m2", 3, 2, true},
      {"fp6_e2m3", 2, 3, true},   {"fp4_e2m1", 2, 1, true},
  };
  for (const auto& k : known) {
    if (e == k.name) {
      f.element = std::string(e);
      f.is_int = false;
      f.ebits = k.ebits;
      f.mbits = k.mbits;
      f.finite_only = k.finite;
      f.width = 1 + k.ebits + k.mbits;
      return true;
    }
  }
  // minifloat_e<E>m<M>[fn]
  if (e.starts_with("minifloat_e")) {
    std::string_view rest = e.substr(11);
    bool fn = false;
    if (rest.ends_with("fn")) {
      fn = true;
      rest.remove_suffix(2);
    }
    auto mpos = rest.find('m');
    int eb = 0, mb = 0;
    if (mpos == std::string_view::npos || !parse_int(rest.substr(0, mpos), eb) ||
        !parse_int(rest.substr(mpos + 1), mb))
      return false;
    if (eb < 1 || eb > 8 || mb < 0 || mb > 23 || 1 + eb + mb > 32) return false;
    f.element = std::string(e);
    f.is_int = false;
    f.ebits = eb;
    f.mbits = mb;
    f.finite_only = fn;
    f.width = 1 + eb + mb;
    return true;
  }
  return false;
}

bool set_int_element(Format& f, std::string_view e, int lo, int hi) {
  if (!e.starts_with("int")) return false;
  int w = 0;
  if (!parse_int(e.substr(3), w) || w < lo || w > hi) return false;
  f.element = std::string(e);
  f.is_int = true;
  f.ebits = 0;
  f.mbits = w - 1;
  f.finite_only = true;
  f.width = w;
  return true;
}

}  // namespace

std::string_view codec_name(Codec c) {
  switch (c) {
    case Codec::Plain: return "plain";
    case Codec::OcpMx: return "ocp-mx";
    case Codec::MaseBfp: return "mase-bfp";
    case Codec::PlenaHwMxfp: return "plena-hw-mxfp";
    case Codec::AsymInt: return "asym-int";
  }
  return "?";
}

std::string Format::name() const {
  switch (codec) {
    case Codec::Plain: return element;
    case Codec::AsymInt: return fmt::format("asym-int:{}:g{}", element, block);
    case Codec::OcpMx:
      return fmt::format("ocp-mx:{}:b{}:{}", element, block, rounding == Rounding::Rne ? "rne" : "ties-away");
    default: return fmt::format("{}:{}:b{}", codec_name(codec), element, block);
  }
}

Format parse_format(std::string_view text) {
  Format f;
  if (text.find(':') == std::string_view::npos) {
    if (!set_float_element(f, text)) bad(text, "unknown plain type");
    return f;
  }
  // Split on ':'.
  std::string_view parts[5];
  int n = 0;
  size_t start = 0;
  while (true) {
    auto p = text.find(':', start);
    if (n == 5) bad(text, "too many ':'-separated fields");
    parts[n++] = text.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start);
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  if (n < 3) bad(text, "block formats need codec, element and block size");
  std::string_view codec = parts[0], elem = parts[1], blk = parts[2];
  int block = 0;
  if (codec == "asym-int") {
    if (n != 3) bad(text, "asym-int takes exactly 'asym-int:uint<W>:g<group>'");
    int w = 0;
    if (!elem.starts_with("uint") || !parse_int(elem.substr(4), w) || (w != 2 && w != 4 && w != 8))
      bad(text, "asym-int element must be uint2, uint4 or uint8");
    if (!blk.starts_with("g") || !parse_int(blk.substr(1), block) || block < 2 || block > 4096)
      bad(text, "asym-int group must be 'g<N>' with 2 <= N <= 4096");
    f.codec = Codec::AsymInt;
    f.element = std::string(elem);
    f.is_int = true;
    f.ebits = 0;
    f.mbits = w;
    f.finite_only = true;
    f.width = w;
    f.block = block;
    f.scale_bits = 32;  // fp16 scale + fp16 zero point per group
    return f;
  }
  if (!blk.starts_with("b") || !parse_int(blk.substr(1), block) || block < 1 || block > 4096)
    bad(text, "block size must be 'b<N>' with 1 <= N <= 4096");
  f.block = block;
  f.scale_bits = 8;
  if (codec == "ocp-mx") {
    f.codec = Codec::OcpMx;
    if (elem == "int8") {
      set_int_element(f, elem, 8, 8);
    } else if (elem == "fp8_e4m3" || elem == "fp8_e5m2" || elem == "fp6_e3m2" || elem == "fp6_e2m3" ||
               elem == "fp4_e2m1") {
      set_float_element(f, elem);
    } else {
      bad(text, "ocp-mx elements are fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, int8");
    }
  } else if (codec == "mase-bfp") {
    f.codec = Codec::MaseBfp;
    if (!set_int_element(f, elem, 2, 8)) bad(text, "mase-bfp elements are int2 .. int8");
  } else if (codec == "plena-hw-mxfp") {
    f.codec = Codec::PlenaHwMxfp;
    if (elem != "fp8_e4m3") bad(text, "plena-hw-mxfp supports only fp8_e4m3");
    set_float_element(f, elem);
    f.finite_only = false;
  } else {
    bad(text, fmt::format("unknown codec '{}'", codec));
  }
  if (n >= 4) {
    if (parts[3] == "rne") f.rounding = Rounding::Rne;
    else if (parts[3] == "ties-away" && f.codec == Codec::OcpMx) f.rounding = Rounding::TiesAway;
    else bad(text, "rounding must be 'rne' (or 'ties-away' for ocp-mx)");
  }
  if (n == 5) bad(text, "too many fields");
  return f;
}

}  // namespace plena::numerics

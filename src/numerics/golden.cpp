// Golden-file checker (schema plena-golden-quant/1); the comparison rules are those of
// ../shared/golden/quant/README.md "How a checker compares".
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "numerics/block.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::numerics {
namespace {

using json = nlohmann::json;

[[noreturn]] void schema_error(const std::string& file, std::string_view msg) { throw_input(file, 0, 0, msg); }

uint32_t parse_hex32(const std::string& file, size_t ci, const json& v) {
  if (!v.is_string()) schema_error(file, fmt::format("case {}: expected an FP32 hex string like \"0x3f800000\"", ci));
  const std::string& s = v.get_ref<const std::string&>();
  uint32_t out = 0;
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s.size() > 10)
    schema_error(file, fmt::format("case {}: bad FP32 hex '{}', expected \"0x\" and 1-8 hex digits", ci, s));
  auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), out, 16);
  if (ec != std::errc() || p != s.data() + s.size())
    schema_error(file, fmt::format("case {}: bad FP32 hex '{}', expected \"0x\" and 1-8 hex digits", ci, s));
  return out;
}

const json& field(const std::string& file, const json& obj, const char* key, std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end()) schema_error(file, fmt::format("{}: missing key '{}'", where, key));
  return *it;
}

// Rule 2: bit-exact, except NaN ~ NaN and +0 ~ -0.
bool same_dequant(uint32_t want, float got) {
  float w = std::bit_cast<float>(want);
  if (std::isnan(w) || std::isnan(got)) return std::isnan(w) && std::isnan(got);
  if (w == 0.0f && got == 0.0f) return true;
  return want == std::bit_cast<uint32_t>(got);
}

}  // namespace

GoldenReport check_golden_file(const std::filesystem::path& path) {
  GoldenReport rep;
  rep.file = path.string();
  const std::string& file = rep.file;
  json doc;
  try {
    doc = json::parse(read_text_file(path));
  } catch (const json::exception& e) {  // parse errors and number overflow alike
    schema_error(file, fmt::format("invalid JSON: {}", e.what()));
  }
  if (!doc.is_object()) schema_error(file, "expected a JSON object with schema, codec, element, block, cases");
  auto str = [&](const char* key) {
    const json& v = field(file, doc, key, "top level");
    if (!v.is_string()) schema_error(file, fmt::format("top level: '{}' must be a string", key));
    return v.get<std::string>();
  };
  if (str("schema") != "plena-golden-quant/1")
    schema_error(file, fmt::format("unknown schema '{}', expected 'plena-golden-quant/1'", str("schema")));
  if (str("scale") != "e8m0") schema_error(file, "only scale \"e8m0\" is supported");
  const json& blk = field(file, doc, "block", "top level");
  if (!blk.is_number_integer()) schema_error(file, "top level: 'block' must be an integer");
  Format f;
  try {
    f = parse_format(fmt::format("{}:{}:b{}:{}", str("codec"), str("element"), blk.get<int64_t>(), str("rounding")));
  } catch (const InputError& e) {
    schema_error(file, e.what());
  }
  rep.format = f.name();
  BlockCodec codec(f);
  const json& cases = field(file, doc, "cases", "top level");
  if (!cases.is_array()) schema_error(file, "'cases' must be an array");

  const size_t B = size_t(f.block);
  std::vector<float> in(B), got(B), from_golden(B);
  std::vector<uint8_t> codes(B), gcodes(B);
  std::vector<uint32_t> want(B);
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const json& c = cases[ci];
    std::string where = fmt::format("case {}", ci);
    if (!c.is_object()) schema_error(file, where + ": expected an object");
    const json& jin = field(file, c, "input", where);
    const json& jdq = field(file, c, "dequant", where);
    const json& jsb = field(file, c, "scale_byte", where);
    if (!jin.is_array() || jin.size() != B || !jdq.is_array() || jdq.size() != B)
      schema_error(file, fmt::format("{}: 'input' and 'dequant' must hold {} values", where, B));
    if (!jsb.is_number_integer() || jsb.get<int64_t>() < 0 || jsb.get<int64_t>() > 255)
      schema_error(file, where + ": 'scale_byte' must be an integer 0..255");
    for (size_t i = 0; i < B; ++i) {
      in[i] = std::bit_cast<float>(parse_hex32(file, ci, jin[i]));
      want[i] = parse_hex32(file, ci, jdq[i]);
    }
    const uint8_t want_sb = uint8_t(jsb.get<int>());
    bool passthrough = false;
    if (auto it = c.find("artifact"); it != c.end()) {
      if (*it != "passthrough")
        schema_error(file, where + ": unknown 'artifact', expected \"passthrough\"");
      passthrough = true;
    }
    bool has_codes = c.contains("codes");
    if (has_codes) {
      const json& jc = c["codes"];
      if (!jc.is_array() || jc.size() != B) schema_error(file, fmt::format("{}: 'codes' must hold {} values", where, B));
      for (size_t i = 0; i < B; ++i) {
        if (!jc[i].is_number_integer() || jc[i].get<int64_t>() < 0 || jc[i].get<int64_t>() >= (int64_t(1) << f.width))
          schema_error(file, fmt::format("{}: code {} is not an unsigned {}-bit integer", where, i, f.width));
        gcodes[i] = uint8_t(jc[i].get<int>());
      }
    }

    size_t before = rep.mismatches.size();
    auto fail = [&](std::string msg) { rep.mismatches.push_back(fmt::format("{}: {}: {}", file, where, msg)); };
    uint8_t sb = codec.encode(in, codes);
    if (sb != want_sb) fail(fmt::format("scale_byte expected {} got {}", want_sb, sb));
    if (passthrough) {
      ++rep.passthrough;  // rule 4: the reference returned elements unquantized; scale byte only
    } else {
      codec.decode(sb, codes, got);
      for (size_t i = 0; i < B; ++i)
        if (!same_dequant(want[i], got[i]))
          fail(fmt::format("element {}: dequant expected 0x{:08x} got 0x{:08x} (input 0x{:08x})", i, want[i],
                           std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(in[i])));
      if (want_sb == 255) {  // rule 5
        for (size_t i = 0; i < B; ++i)
          if (!std::isnan(std::bit_cast<float>(want[i]))) fail(fmt::format("element {}: scale 255 but dequant not NaN", i));
      } else if (has_codes) {  // rule 3, plus the decoder run on the golden codes
        for (size_t i = 0; i < B; ++i) {
          bool ok = codes[i] == gcodes[i] || (codec.code_is_zero(codes[i]) && codec.code_is_zero(gcodes[i]));
          if (!ok) fail(fmt::format("element {}: code expected 0x{:02x} got 0x{:02x}", i, gcodes[i], codes[i]));
        }
        codec.decode(want_sb, gcodes, from_golden);
        for (size_t i = 0; i < B; ++i)
          if (!same_dequant(want[i], from_golden[i]))
            fail(fmt::format("element {}: decoding golden code 0x{:02x} gives 0x{:08x}, expected 0x{:08x}", i,
                             gcodes[i], std::bit_cast<uint32_t>(from_golden[i]), want[i]));
      }
    }
    ++rep.cases;
    if (rep.mismatches.size() == before) ++rep.passed;
    else ++rep.failed;
  }
  return rep;
}

}  // namespace plena::numerics

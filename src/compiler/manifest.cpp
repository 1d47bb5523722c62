// HBM layout manifest (plena-hbm-manifest/1): deterministic writer and strict reader.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "compiler/memory.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

ojson region_json(uint64_t offset, uint64_t bytes) { return ojson{{"offset", offset}, {"bytes", bytes}}; }

// Walks the document and reports the first violation with its key path.
class Reader {
 public:
  explicit Reader(std::string_view file) : file_(file) {}

  [[noreturn]] void fail(const std::string& path, std::string_view msg) const {
    throw InputError(located(file_, 0, 0, fmt::format("{}: {}", path, msg)));
  }
  // `keys` are required, `optional` may be absent.
  void object(const json& j, const std::string& path, std::initializer_list<std::string_view> keys,
              std::initializer_list<std::string_view> optional = {}) const {
    if (!j.is_object()) fail(path, fmt::format("expected an object, got {}", j.type_name()));
    for (const auto& [k, v] : j.items()) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end() &&
          std::find(optional.begin(), optional.end(), k) == optional.end()) {
        std::string allowed;
        for (auto a : keys) allowed += (allowed.empty() ? "" : ", ") + std::string(a);
        for (auto a : optional) allowed += ", " + std::string(a);
        fail(join(path, k), fmt::format("unknown key, expected one of: {}", allowed));
      }
    }
    for (auto k : keys)
      if (!j.contains(std::string(k))) fail(join(path, k), "missing key");
  }
  const json& at(const json& j, const std::string& path, std::string_view key) const {
    auto it = j.find(std::string(key));
    if (it == j.end()) fail(join(path, key), "missing key");
    return *it;
  }
  uint64_t u64(const json& j, const std::string& path, std::string_view key) const {
    const json& v = at(j, path, key);
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return uint64_t(v.get<int64_t>());
    fail(join(path, key), fmt::format("expected a non-negative integer, got {}", v.dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  std::string str(const json& j, const std::string& path, std::string_view key) const {
    const json& v = at(j, path, key);
    if (!v.is_string()) fail(join(path, key), fmt::format("expected a string, got {}", v.dump(-1, ' ', false, json::error_handler_t::replace)));
    return v.get<std::string>();
  }
  const json& array(const json& j, const std::string& path, std::string_view key) const {
    const json& v = at(j, path, key);
    if (!v.is_array()) fail(join(path, key), fmt::format("expected an array, got {}", v.type_name()));
    return v;
  }
  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  static std::string index(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

 private:
  std::string file_;
};

HbmTensor read_tensor(const Reader& r, const json& j, const std::string& p, uint64_t hbm_size) {
  r.object(j, p, {"name", "class", "shape", "format", "element_bits", "block", "base", "rows", "cols", "row_stride",
                  "scale_reg", "elements", "scales"}, {"pool"});
  HbmTensor t;
  t.name = r.str(j, p, "name");
  if (t.name.empty()) r.fail(Reader::join(p, "name"), "expected a non-empty name");
  try {
    t.cls = parse_tensor_class(r.str(j, p, "class"));
  } catch (const InputError& e) {
    r.fail(Reader::join(p, "class"), e.what());
  }
  const json& shape = r.array(j, p, "shape");
  if (shape.empty()) r.fail(Reader::join(p, "shape"), "expected at least one dimension");
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!shape[i].is_number_unsigned() || shape[i].get<uint64_t>() == 0)
      r.fail(Reader::index(Reader::join(p, "shape"), i), fmt::format("expected a positive integer, got {}", shape[i].dump(-1, ' ', false, json::error_handler_t::replace)));
    t.shape.push_back(shape[i].get<uint64_t>());
  }
  try {
    t.format = numerics::parse_format(r.str(j, p, "format"));
  } catch (const InputError& e) {
    r.fail(Reader::join(p, "format"), e.what());
  }
  t.base = r.u64(j, p, "base");
  t.rows = r.u64(j, p, "rows");
  t.cols = r.u64(j, p, "cols");
  t.row_stride = r.u64(j, p, "row_stride");
  t.scale_reg = r.u64(j, p, "scale_reg");
  for (auto [key, off, bytes] : {std::tuple{"elements", &t.elem_offset, &t.elem_bytes},
                                 std::tuple{"scales", &t.scale_offset, &t.scale_bytes}}) {
    const json& reg = r.at(j, p, key);
    std::string rp = Reader::join(p, key);
    r.object(reg, rp, {"offset", "bytes"});
    *off = r.u64(reg, rp, "offset");
    *bytes = r.u64(reg, rp, "bytes");
  }

  // Consistency: the manifest states the layout, the reader proves it is the layout the rules give.
  auto expect = [&](std::string_view key, uint64_t got, uint64_t want, std::string_view why) {
    if (got != want) r.fail(Reader::join(p, key), fmt::format("is {}, expected {} ({})", got, want, why));
  };
  expect("element_bits", r.u64(j, p, "element_bits"), uint64_t(t.format.width), "the format's element width");
  expect("block", r.u64(j, p, "block"), uint64_t(t.format.block), "the format's block size");
  uint64_t rows = 1;
  for (size_t i = 0; i + 1 < t.shape.size(); ++i) rows *= t.shape[i];
  expect("rows", t.rows, rows, "product of the leading shape dimensions");
  expect("cols", t.cols, t.shape.back(), "the last shape dimension");
  if (t.row_stride < t.cols || hbm_row_stride(t.format, t.row_stride) != t.row_stride)
    r.fail(Reader::join(p, "row_stride"),
           fmt::format("is {}, expected >= cols ({}) and a multiple of {} (whole bytes and whole scale blocks)",
                       t.row_stride, t.cols, hbm_row_stride(t.format, 1)));
  expect("scale_reg", t.scale_reg, t.rows * t.row_stride, "rows * row_stride");
  expect("elements.offset", t.elem_offset, 0, "the element region starts at base");
  expect("elements.bytes", t.elem_bytes, numerics::packed_element_bytes(t.format, t.scale_reg),
         "packed bytes of scale_reg elements");
  expect("scales.offset", t.scale_offset, t.elem_bytes, "the scale region follows the element region");
  expect("scales.bytes", t.scale_bytes, numerics::scale_bytes(t.format, t.scale_reg), "scale bytes of scale_reg elements");
  if (t.base % 64) r.fail(Reader::join(p, "base"), fmt::format("is {}, expected a multiple of 64", t.base));
  if (t.base > hbm_size || t.bytes() > hbm_size - t.base)
    r.fail(Reader::join(p, "base"), fmt::format("tensor [{}, {}) extends past hbm_size {}", t.base, t.base + t.bytes(),
                                                hbm_size));
  return t;
}

}  // namespace

const HbmTensor& HbmManifest::tensor(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return t;
  throw InputError(fmt::format("manifest: no tensor named '{}'", name));
}

std::string manifest_to_json(const HbmManifest& m) {
  ojson j;
  j["schema"] = kManifestSchema;
  j["config_hash"] = m.config_hash;
  j["config_name"] = m.config_name;
  j["hbm_size"] = m.hbm_size;
  j["hbm_high_water"] = m.hbm_high_water;
  ojson tensors = ojson::array();
  for (const auto& t : m.tensors) {
    ojson o;
    o["name"] = t.name;
    o["class"] = tensor_class_name(t.cls);
    o["shape"] = t.shape;
    o["format"] = t.format.name();
    o["element_bits"] = t.format.width;
    o["block"] = t.format.block;
    o["base"] = t.base;
    o["rows"] = t.rows;
    o["cols"] = t.cols;
    o["row_stride"] = t.row_stride;
    o["scale_reg"] = t.scale_reg;
    o["elements"] = region_json(t.elem_offset, t.elem_bytes);
    o["scales"] = region_json(t.scale_offset, t.scale_bytes);
    if (!m.pools.empty()) o["pool"] = m.pool_of(t);
    tensors.push_back(std::move(o));
  }
  j["tensors"] = std::move(tensors);
  if (!m.pools.empty()) {
    ojson pools = ojson::array();
    for (const auto& p : m.pools)
      pools.push_back(ojson{{"name", p.name}, {"standard", p.standard}, {"speed", p.speed}, {"base", p.base},
                            {"capacity", p.capacity}, {"holds", p.holds}});
    j["pools"] = std::move(pools);
  }
  ojson consts = ojson::array();
  for (const auto& c : m.fp_constants) consts.push_back(ojson{{"name", c.name}, {"slot", c.slot}, {"value", double(c.value)}});
  j["fp_sram"] = ojson{{"depth", m.fp_sram_depth}, {"constants", std::move(consts)}};
  ojson pre = ojson::array();
  for (const auto& p : m.int_preloads) pre.push_back(ojson{{"name", p.name}, {"offset", p.offset}, {"values", p.values}});
  j["int_sram"] = ojson{{"depth", m.int_sram_depth}, {"preloads", std::move(pre)}};
  return j.dump(2) + "\n";
}

namespace {

// Pools: ascending, non-overlapping ranges within hbm_size.
void read_pools(const Reader& r, const json& pools, HbmManifest& m) {
  for (size_t i = 0; i < pools.size(); ++i) {
    const std::string p = Reader::index("pools", i);
    r.object(pools[i], p, {"name", "standard", "speed", "base", "capacity", "holds"});
    ManifestPool mp{r.str(pools[i], p, "name"), r.str(pools[i], p, "standard"), r.str(pools[i], p, "speed"),
                    r.u64(pools[i], p, "base"), r.u64(pools[i], p, "capacity"), {}};
    for (const json& h : r.array(pools[i], p, "holds")) {
      if (!h.is_string()) r.fail(Reader::join(p, "holds"), "expected strings");
      mp.holds.push_back(h.get<std::string>());
    }
    const uint64_t prev_end = m.pools.empty() ? 0 : m.pools.back().base + m.pools.back().capacity;
    if (mp.base < prev_end) r.fail(Reader::join(p, "base"), fmt::format("is {}, expected >= {} (pools ascend)", mp.base, prev_end));
    if (mp.capacity > m.hbm_size || mp.base > m.hbm_size - mp.capacity)
      r.fail(Reader::join(p, "capacity"), fmt::format("pool [{}, {}) extends past hbm_size {}", mp.base, mp.base + mp.capacity, m.hbm_size));
    m.pools.push_back(std::move(mp));
  }
}

// With pools, every tensor names the pool whose range holds it.
void check_tensor_pool(const Reader& r, const json& j, const std::string& p, const HbmManifest& m, const HbmTensor& t) {
  if (m.pools.empty()) {
    if (j.contains("pool")) r.fail(Reader::join(p, "pool"), "a tensor pool without a top-level \"pools\" list");
    return;
  }
  const std::string pool = r.str(j, p, "pool");
  for (const auto& mp : m.pools)
    if (mp.name == pool) {
      if (t.base < mp.base || t.bytes() > mp.capacity || t.base - mp.base > mp.capacity - t.bytes())
        r.fail(Reader::join(p, "base"), fmt::format("tensor [{}, {}) lies outside its pool '{}' [{}, {})", t.base,
                                                    t.base + t.bytes(), pool, mp.base, mp.base + mp.capacity));
      return;
    }
  r.fail(Reader::join(p, "pool"), fmt::format("'{}' is not one of the manifest's pools", pool));
}

}  // namespace

std::string_view HbmManifest::pool_of(const HbmTensor& t) const {
  for (const auto& p : pools)
    if (t.base >= p.base && t.base < p.base + p.capacity) return p.name;
  return pools.empty() ? std::string_view() : std::string_view(pools.back().name);
}

HbmManifest manifest_from_json(std::string_view text, std::string_view filename) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // Convert the byte offset into line:col for the located message.
    size_t pos = std::min<size_t>(e.byte ? e.byte - 1 : 0, text.size());
    int line = 1, col = 1;
    for (size_t i = 0; i < pos; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw InputError(located(filename, line, col, fmt::format("invalid JSON ({}), expected a plena-hbm-manifest/1 document", e.what())));
  } catch (const json::exception& e) {  // e.g. number overflow (out_of_range 406)
    throw InputError(located(filename, 0, 0, fmt::format("invalid JSON ({}), expected a plena-hbm-manifest/1 document", e.what())));
  }
  Reader r(filename);
  r.object(j, "", {"schema", "config_hash", "config_name", "hbm_size", "hbm_high_water", "tensors", "fp_sram", "int_sram"},
           {"pools"});
  HbmManifest m;
  if (std::string s = r.str(j, "", "schema"); s != kManifestSchema)
    r.fail("schema", fmt::format("is '{}', expected '{}'", s, kManifestSchema));
  m.config_hash = r.str(j, "", "config_hash");
  if (m.config_hash.size() != 16 || m.config_hash.find_first_not_of("0123456789abcdef") != std::string::npos)
    r.fail("config_hash", fmt::format("is '{}', expected 16 lowercase hex digits", m.config_hash));
  m.config_name = r.str(j, "", "config_name");
  m.hbm_size = r.u64(j, "", "hbm_size");
  m.hbm_high_water = r.u64(j, "", "hbm_high_water");
  if (m.hbm_high_water > m.hbm_size)
    r.fail("hbm_high_water", fmt::format("is {}, expected at most hbm_size {}", m.hbm_high_water, m.hbm_size));

  if (j.contains("pools")) read_pools(r, r.array(j, "", "pools"), m);
  const json& tensors = r.array(j, "", "tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string p = Reader::index("tensors", i);
    HbmTensor t = read_tensor(r, tensors[i], p, m.hbm_size);
    check_tensor_pool(r, tensors[i], p, m, t);
    for (const auto& o : m.tensors)
      if (o.name == t.name) r.fail(Reader::join(p, "name"), fmt::format("duplicate tensor name '{}'", t.name));
    m.tensors.push_back(std::move(t));
  }
  // Overlap check over base order (regions are [base, base + bytes)).
  std::vector<size_t> order(m.tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return m.tensors[a].base < m.tensors[b].base; });
  for (size_t k = 1; k < order.size(); ++k) {
    const HbmTensor& a = m.tensors[order[k - 1]];
    const HbmTensor& b = m.tensors[order[k]];
    if (a.base + a.bytes() > b.base)
      r.fail(Reader::join(Reader::index("tensors", order[k]), "base"),
             fmt::format("tensor '{}' at {} overlaps '{}' [{}, {})", b.name, b.base, a.name, a.base, a.base + a.bytes()));
  }

  const json& fp = r.at(j, "", "fp_sram");
  r.object(fp, "fp_sram", {"depth", "constants"});
  m.fp_sram_depth = r.u64(fp, "fp_sram", "depth");
  const json& consts = r.array(fp, "fp_sram", "constants");
  for (size_t i = 0; i < consts.size(); ++i) {
    std::string p = Reader::index("fp_sram.constants", i);
    r.object(consts[i], p, {"name", "slot", "value"});
    FpConstant c;
    c.name = r.str(consts[i], p, "name");
    c.slot = r.u64(consts[i], p, "slot");
    const json& v = consts[i]["value"];
    if (!v.is_number()) r.fail(Reader::join(p, "value"), fmt::format("expected a number, got {}", v.dump(-1, ' ', false, json::error_handler_t::replace)));
    double d = v.get<double>();
    if (!std::isfinite(float(d))) r.fail(Reader::join(p, "value"), fmt::format("{} is not a finite f32", d));
    c.value = float(d);
    if (c.slot >= m.fp_sram_depth)
      r.fail(Reader::join(p, "slot"), fmt::format("is {}, expected below fp_sram.depth {}", c.slot, m.fp_sram_depth));
    for (const auto& o : m.fp_constants) {
      if (o.name == c.name) r.fail(Reader::join(p, "name"), fmt::format("duplicate constant name '{}'", c.name));
      if (o.slot == c.slot) r.fail(Reader::join(p, "slot"), fmt::format("slot {} is also '{}'", c.slot, o.name));
    }
    m.fp_constants.push_back(std::move(c));
  }

  const json& is = r.at(j, "", "int_sram");
  r.object(is, "int_sram", {"depth", "preloads"});
  m.int_sram_depth = r.u64(is, "int_sram", "depth");
  const json& pre = r.array(is, "int_sram", "preloads");
  for (size_t i = 0; i < pre.size(); ++i) {
    std::string p = Reader::index("int_sram.preloads", i);
    r.object(pre[i], p, {"name", "offset", "values"});
    IntPreload ip;
    ip.name = r.str(pre[i], p, "name");
    ip.offset = r.u64(pre[i], p, "offset");
    const json& vals = r.array(pre[i], p, "values");
    for (size_t k = 0; k < vals.size(); ++k) {
      if (!vals[k].is_number_unsigned() || vals[k].get<uint64_t>() > 0xFFFFFFFFull)
        r.fail(Reader::index(Reader::join(p, "values"), k), fmt::format("expected a u32, got {}", vals[k].dump(-1, ' ', false, json::error_handler_t::replace)));
      ip.values.push_back(uint32_t(vals[k].get<uint64_t>()));
    }
    if (ip.offset > m.int_sram_depth || ip.values.size() > m.int_sram_depth - ip.offset)
      r.fail(Reader::join(p, "offset"), fmt::format("[{}, {}) extends past int_sram.depth {}", ip.offset,
                                                    ip.offset + ip.values.size(), m.int_sram_depth));
    for (const auto& o : m.int_preloads) {
      if (o.name == ip.name) r.fail(Reader::join(p, "name"), fmt::format("duplicate preload name '{}'", ip.name));
      if (ip.offset < o.offset + o.values.size() && o.offset < ip.offset + ip.values.size())
        r.fail(Reader::join(p, "offset"), fmt::format("overlaps preload '{}'", o.name));
    }
    m.int_preloads.push_back(std::move(ip));
  }
  return m;
}

HbmManifest load_manifest(const std::filesystem::path& p) {
  return manifest_from_json(read_text_file(p), p.string());
}

void save_manifest(const std::filesystem::path& p, const HbmManifest& m) { write_text_file(p, manifest_to_json(m)); }

std::vector<float> fp_sram_image(const HbmManifest& m) {
  std::vector<float> img(m.fp_sram_depth, 0.0f);
  for (const auto& c : m.fp_constants) {
    if (c.slot >= img.size())
      throw InputError(fmt::format("manifest: FP constant '{}' slot {} is outside depth {}", c.name, c.slot, img.size()));
    img[c.slot] = c.value;
  }
  return img;
}

std::vector<uint32_t> int_sram_image(const HbmManifest& m) {
  std::vector<uint32_t> img(m.int_sram_depth, 0);
  for (const auto& p : m.int_preloads) {
    if (p.offset + p.values.size() > img.size())
      throw InputError(fmt::format("manifest: INT preload '{}' is outside depth {}", p.name, img.size()));
    std::copy(p.values.begin(), p.values.end(), img.begin() + std::ptrdiff_t(p.offset));
  }
  return img;
}

}  // namespace plena::compiler

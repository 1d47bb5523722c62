// safetensors reader/writer, sharded index, and HF model directories.
#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <functional>
#include <optional>
#include <set>

#include "model/model.hpp"
#include "numerics/numerics.hpp"
#include "support/confine.hpp"
#include "support/checked.hpp"
#include "support/json_strict.hpp"
#include "support/mapped_file.hpp"
#include "support/support.hpp"

namespace plena::model {
namespace {
using json = nlohmann::json;

uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

[[noreturn]] void fail(std::string_view source, std::string_view msg) { throw_input(source, 0, 0, msg); }

// Upper bound on the JSON header (the format caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
}  // namespace

// ---- exact conversions: the numerics module is the one implementation ----

float bf16_bits_to_f32(uint16_t b) { return numerics::bf16_to_f32(b); }
float f16_bits_to_f32(uint16_t h) { return numerics::fp16_to_f32(h); }
uint16_t f32_to_bf16_bits(float f) { return numerics::f32_to_bf16(f); }
uint16_t f32_to_f16_bits(float f) { return numerics::f32_to_fp16(f); }

std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
  }
  return "?";
}
size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 2; }

size_t Tensor::numel() const {
  size_t n = 1;
  for (size_t s : shape) n *= s;
  return n;
}

// ---- reader ----

namespace {

DType parse_dtype(const json& v, const std::function<void(std::string_view)>& bad) {
  if (!v.is_string()) bad(fmt::format("dtype {} must be a string", json_text(v)));
  const std::string dt = v.get<std::string>();
  if (dt == "F32") return DType::F32;
  if (dt == "BF16") return DType::BF16;
  if (dt == "F16") return DType::F16;
  static const std::set<std::string> known = {"F64", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8",
                                              "U64", "U32", "U16", "U8", "BOOL"};
  bad(fmt::format("{} dtype '{}'; expected F32, BF16 or F16", known.count(dt) ? "unsupported" : "unknown", dt));
  return DType::F32;
}

// One header entry, validated: dtype, shape (element count overflow-checked) against its byte range.
struct RawTensor {
  DType dtype = DType::F32;
  std::vector<size_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets in the data section
  size_t numel = 0;
};

RawTensor parse_entry(const std::string& name, const json& e, uint64_t data_size, std::string_view source) {
  auto bad = [&](std::string_view msg) { fail(source, fmt::format("tensor '{}': {}", name, msg)); };
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
    bad("expected an object with dtype, shape and data_offsets");
  for (const auto& item : e.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      bad(fmt::format("unknown field '{}'; expected dtype, shape and data_offsets", item.key()));
  RawTensor t;
  t.dtype = parse_dtype(e["dtype"], bad);
  const json& sh = e["shape"];
  if (!sh.is_array()) bad("shape must be a list of non-negative integers");
  for (const json& d : sh) {
    if (!d.is_number_unsigned()) bad(fmt::format("shape {} must be a list of non-negative integers", json_text(sh)));
    t.shape.push_back(d.get<size_t>());
  }
  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    bad(fmt::format("data_offsets {} must be [begin, end] with non-negative integers", json_text(off)));
  const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
  if (b > en) bad(fmt::format("data_offsets [{}, {}] has begin > end", b, en));
  if (en > data_size)
    bad(fmt::format("data_offsets [{}, {}] out of range; the data section has {} bytes", b, en, data_size));
  auto numel = checked_product(t.shape);
  auto want = numel ? checked_mul(*numel, dtype_size(t.dtype)) : std::nullopt;
  if (!want || *want != en - b)
    bad(fmt::format("data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {} per element", b, en, en - b,
                    json_text(sh), dtype_name(t.dtype), dtype_size(t.dtype)) +
        (!want ? std::string(" (more than the file holds)") : fmt::format(", {} in all", *want)));
  t.begin = b;
  t.end = en;
  t.numel = *numel;
  return t;
}

// Little-endian values of a validated entry to f32 (exact for every dtype).
void decode_tensor(const RawTensor& t, std::span<const uint8_t> data, std::span<float> out) {
  const uint8_t* p = data.data() + t.begin;
  if (t.dtype == DType::F32) {
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out.data(), p, t.numel * 4);
      return;
    }
    for (size_t i = 0; i < t.numel; ++i)
      out[i] = bits_f32(static_cast<uint32_t>(p[4 * i]) | static_cast<uint32_t>(p[4 * i + 1]) << 8 |
                        static_cast<uint32_t>(p[4 * i + 2]) << 16 | static_cast<uint32_t>(p[4 * i + 3]) << 24);
    return;
  }
  if (t.dtype == DType::BF16) {
    // bf16 is the top half of an f32 (numerics::bf16_to_f32), written out so the loop vectorizes.
    for (size_t i = 0; i < t.numel; ++i)
      out[i] = bits_f32(static_cast<uint32_t>(p[2 * i] | p[2 * i + 1] << 8) << 16);
    return;
  }
  for (size_t i = 0; i < t.numel; ++i) out[i] = f16_bits_to_f32(static_cast<uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
}

// As the format requires, the tensors tile the data section: no overlap, no gap, nothing after.
void check_coverage(const std::map<std::string, RawTensor>& tensors, uint64_t data_size, std::string_view source) {
  struct Range {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  for (const auto& [name, t] : tensors) ranges.push_back({t.begin, t.end, &name});
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const Range& r = ranges[i];
    if (r.begin < covered)
      fail(source, fmt::format("tensor '{}' data [{}, {}] overlaps tensor '{}' data [{}, {}]", *r.name, r.begin, r.end,
                               *ranges[i - 1].name, ranges[i - 1].begin, ranges[i - 1].end));
    if (r.begin > covered)
      fail(source, fmt::format("data bytes [{}, {}) before tensor '{}' belong to no tensor; expected the tensors to "
                               "cover the data section without gaps",
                               covered, r.begin, *r.name));
    covered = r.end;
  }
  if (covered != data_size)
    fail(source, fmt::format("data bytes [{}, {}) after the last tensor belong to no tensor; expected the data "
                             "section to end with the last tensor",
                             covered, data_size));
}

// A validated safetensors image: every entry and the data section they tile.
struct Header {
  std::map<std::string, RawTensor> tensors;
  std::span<const uint8_t> data;
};

Header parse_header(std::span<const uint8_t> bytes, std::string_view source) {
  if (bytes.size() < 8)
    fail(source, fmt::format("safetensors file is {} bytes; expected at least the 8-byte header length", bytes.size()));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[static_cast<size_t>(i)];
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8)
    fail(source, fmt::format("safetensors header length {} exceeds the file ({} bytes after the length field)",
                             header_len, bytes.size() - 8));
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  json h = parse_json_strict(text, source, "a safetensors JSON header (an object of tensor entries)", 8);
  if (!h.is_object()) fail(source, "safetensors header must be a JSON object of tensors");
  Header out;
  out.data = bytes.subspan(8 + header_len);
  for (const auto& item : h.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) fail(source, "__metadata__ must be an object of strings");
      for (const auto& m : item.value().items())
        if (!m.value().is_string())
          fail(source, fmt::format("__metadata__['{}'] = {}: expected a string", m.key(), json_text(m.value())));
      continue;
    }
    out.tensors.emplace(item.key(), parse_entry(item.key(), item.value(), out.data.size(), source));
  }
  check_coverage(out.tensors, out.data.size(), source);
  return out;
}

std::map<std::string, Tensor> decode_all(const Header& h) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, raw] : h.tensors) {
    Tensor t{raw.shape, std::vector<float>(raw.numel)};
    decode_tensor(raw, h.data, t.data);
    out.emplace(name, std::move(t));
  }
  return out;
}

// A safetensors file mapped read-only (a stream that cannot be mapped is read instead), with its
// validated header. Lazy tensors share it, so it lives until the last of them is converted.
struct MappedSafetensors {
  MappedFile file;
  Header header;
  explicit MappedSafetensors(const std::filesystem::path& path)
      : file(path), header(parse_header(file.bytes(), path.string())) {}
};

}  // namespace

std::map<std::string, Tensor> parse_safetensors(std::span<const uint8_t> bytes, std::string_view source) {
  return decode_all(parse_header(bytes, source));
}

std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path) {
  return decode_all(MappedSafetensors(path).header);
}

namespace {

// weight_map of an index: shard file -> tensor names. Shards are plain names in the index's folder.
std::map<std::string, std::vector<std::string>> shards_of_index(const json& j, std::string_view src) {
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(src, "expected an object with a 'weight_map' of tensor name -> shard file");
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) fail(src, fmt::format("weight_map['{}'] = {}: expected a file name string", name, json_text(file)));
    std::string f = file.get<std::string>();
    if (!is_plain_file_name(f))
      fail(src, fmt::format("weight_map['{}'] = '{}': expected a file name in the same folder", name, f));
    by_shard[f].push_back(name);
  }
  return by_shard;
}

}  // namespace

namespace {

using Shard = std::shared_ptr<const MappedSafetensors>;

// The index's shards, mapped and validated, each holding exactly the tensors weight_map maps to it.
std::vector<Shard> index_shards(const std::filesystem::path& index_json) {
  const std::string src = index_json.string();
  const json j = parse_json_strict(read_text_file(index_json), src, "a safetensors index with a 'weight_map'");
  std::vector<Shard> out;
  for (const auto& [file, names] : shards_of_index(j, src)) {
    Shard shard;
    try {
      shard = std::make_shared<const MappedSafetensors>(index_json.parent_path() / file);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}\n{}: note: shard '{}' is named in weight_map (tensor '{}')", e.what(), src, file,
                                   names.front()));
    }
    const auto& tensors = shard->header.tensors;
    const std::set<std::string> mapped(names.begin(), names.end());
    for (const auto& n : names)
      if (!tensors.count(n))
        fail(src, fmt::format("tensor '{}' is mapped to '{}' but that shard does not contain it", n, file));
    for (const auto& [n, t] : tensors)
      if (!mapped.count(n))
        fail(src, fmt::format("shard '{}' holds tensor '{}', which weight_map maps to {}", file, n,
                              j["weight_map"].contains(n) ? "another shard" : "no shard"));
    out.push_back(std::move(shard));
  }
  return out;
}

// Every tensor of the shard as a lazy tensor: decoded from the mapping when first used.
void add_lazy(ModelWeights& w, const Shard& shard) {
  for (const auto& entry : shard->header.tensors) {  // not a structured binding: clang cannot capture one
    const auto& raw = entry.second;
    ModelWeights::Bf16Source bf16;
    const uint8_t* p = shard->header.data.data() + raw.begin;
    // In place only where the words can be read as uint16_t (little-endian host, aligned data).
    if (raw.dtype == DType::BF16 && std::endian::native == std::endian::little &&
        reinterpret_cast<uintptr_t>(p) % alignof(uint16_t) == 0)
      bf16 = {{reinterpret_cast<const uint16_t*>(p), raw.numel}, shard};
    w.set_lazy(entry.first, raw.shape, [shard, &raw](std::span<float> out) { decode_tensor(raw, shard->header.data, out); },
               std::move(bf16));
  }
}

}  // namespace

std::map<std::string, Tensor> load_safetensors_index(const std::filesystem::path& index_json) {
  std::map<std::string, Tensor> out;
  for (const Shard& shard : index_shards(index_json)) out.merge(decode_all(shard->header));
  return out;
}

// ---- writer ----

std::vector<uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors, DType dtype,
                                           const std::map<std::string, std::string>& metadata) {
  // nlohmann::json objects are sorted by key, so header and data order are deterministic.
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (t.numel() != t.data.size())
      throw InputError(fmt::format("error: tensor '{}' has {} values but shape needs {}", name, t.data.size(), t.numel()));
    uint64_t n = t.data.size() * dtype_size(dtype);
    h[name] = {{"dtype", std::string(dtype_name(dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string header = h.dump(-1, ' ', false, json::error_handler_t::replace);
  while (header.size() % 8 != 0) header.push_back(' ');
  std::vector<uint8_t> out;
  out.reserve(8 + header.size() + offset);
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& [name, t] : tensors) {
    for (float f : t.data) {
      if (dtype == DType::F32) {
        uint32_t u = f32_bits(f);
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(u >> (8 * i)));
      } else {
        uint16_t u = dtype == DType::BF16 ? f32_to_bf16_bits(f) : f32_to_f16_bits(f);
        out.push_back(static_cast<uint8_t>(u));
        out.push_back(static_cast<uint8_t>(u >> 8));
      }
    }
  }
  return out;
}

void save_safetensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors, DType dtype,
                      const std::map<std::string, std::string>& metadata) {
  write_binary_file(path, serialize_safetensors(tensors, dtype, metadata));
}

// ---- model directories ----

LoadedModel load_hf_model(const std::filesystem::path& dir) {
  LoadedModel m;
  m.config = parse_hf_config(dir / "config.json");
  std::filesystem::path single = dir / "model.safetensors";
  std::filesystem::path index = dir / "model.safetensors.index.json";
  std::string source;
  if (std::filesystem::exists(index)) {
    for (const Shard& shard : index_shards(index)) add_lazy(m.weights, shard);
    source = index.string();
  } else if (std::filesystem::exists(single)) {
    add_lazy(m.weights, std::make_shared<const MappedSafetensors>(single));
    source = single.string();
  } else {
    throw_input(dir.string(), 0, 0, "no model.safetensors or model.safetensors.index.json in the model folder");
  }
  validate_weights(m.config, m.weights, source);
  return m;
}

void save_hf_model(const std::filesystem::path& dir, const ModelConfig& cfg, const ModelWeights& w, DType dtype,
                   uint64_t max_shard_bytes) {
  std::filesystem::create_directories(dir);
  ModelConfig out_cfg = cfg;
  out_cfg.torch_dtype = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
  write_text_file(dir / "config.json", hf_config_json(out_cfg));
  uint64_t total = 0;
  for (const auto& [n, t] : w.all()) total += t.data.size() * dtype_size(dtype);
  if (max_shard_bytes == 0 || total <= max_shard_bytes) {
    save_safetensors(dir / "model.safetensors", w.all(), dtype, {{"format", "pt"}});
    return;
  }
  // Greedy sharding in name order; a tensor larger than the limit gets a shard of its own.
  std::vector<std::map<std::string, Tensor>> shards(1);
  uint64_t cur = 0;
  for (const auto& [n, t] : w.all()) {
    uint64_t b = t.data.size() * dtype_size(dtype);
    if (cur > 0 && cur + b > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().emplace(n, t);
    cur += b;
  }
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
    save_safetensors(dir / file, shards[i], dtype, {{"format", "pt"}});
    for (const auto& [n, t] : shards[i]) weight_map[n] = file;
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_text_file(dir / "model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace plena::model

// safetensors reader/writer, sharded index, and HF model directories.
#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "model/model.hpp"
#include "numerics/numerics.hpp"
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

std::map<std::string, Tensor> parse_safetensors(std::span<const uint8_t> bytes, std::string_view source) {
  if (bytes.size() < 8)
    fail(source, fmt::format("safetensors file is {} bytes; expected at least the 8-byte header length", bytes.size()));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[static_cast<size_t>(i)];
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8)
    fail(source, fmt::format("safetensors header length {} exceeds the file ({} bytes after the length field)",
                             header_len, bytes.size() - 8));
  std::string_view header(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  json h;
  try {
    h = json::parse(header);
  } catch (const json::parse_error& e) {
    fail(source, fmt::format("malformed safetensors JSON header at byte {}: {}", e.byte, e.what()));
  } catch (const json::exception& e) {  // e.g. number overflow
    fail(source, fmt::format("malformed safetensors JSON header: {}", e.what()));
  }
  if (!h.is_object()) fail(source, "safetensors header must be a JSON object of tensors");
  const uint8_t* data = bytes.data() + 8 + header_len;
  const uint64_t data_size = bytes.size() - 8 - header_len;

  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  std::map<std::string, Tensor> out;
  for (const auto& item : h.items()) {
    const std::string& name = item.key();
    const json& e = item.value();
    if (name == "__metadata__") {
      if (!e.is_object()) fail(source, "__metadata__ must be an object of strings");
      continue;
    }
    auto bad = [&](std::string_view msg) { fail(source, fmt::format("tensor '{}': {}", name, msg)); };
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      bad("expected an object with dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) bad("dtype must be a string");
    std::string dt = e["dtype"].get<std::string>();
    DType dtype;
    if (dt == "F32") {
      dtype = DType::F32;
    } else if (dt == "BF16") {
      dtype = DType::BF16;
    } else if (dt == "F16") {
      dtype = DType::F16;
    } else {
      static const std::set<std::string> known = {"F64", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8",
                                                  "U64", "U32", "U16", "U8", "BOOL"};
      bad(fmt::format("{} dtype '{}'; expected F32, BF16 or F16", known.count(dt) ? "unsupported" : "unknown", dt));
    }
    const json& sh = e["shape"];
    if (!sh.is_array()) bad("shape must be a list of non-negative integers");
    Tensor t;
    uint64_t numel = 1;
    for (const json& d : sh) {
      if (!d.is_number_unsigned()) bad(fmt::format("shape {} must be a list of non-negative integers", sh.dump(-1, ' ', false, json::error_handler_t::replace)));
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t{1} << 62) / v) bad(fmt::format("shape {} is too large", sh.dump(-1, ' ', false, json::error_handler_t::replace)));
      numel *= v;
      t.shape.push_back(static_cast<size_t>(v));
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("data_offsets must be [begin, end] with non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en) bad(fmt::format("data_offsets [{}, {}] has begin > end", b, en));
    if (en > data_size)
      bad(fmt::format("data_offsets [{}, {}] out of range; the data section has {} bytes", b, en, data_size));
    // numel is checked against the byte count before multiplying so the product cannot wrap.
    uint64_t want = numel <= data_size ? numel * dtype_size(dtype) : UINT64_MAX;
    if (en - b != want)
      bad(fmt::format("data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {} per element", b, en, en - b,
                      sh.dump(-1, ' ', false, json::error_handler_t::replace), dt, dtype_size(dtype)) +
          (want == UINT64_MAX ? std::string(" (more than the file holds)") : fmt::format(", {} in all", want)));
    ranges.push_back({b, en, name});
    t.data.resize(numel);
    const uint8_t* p = data + b;
    for (uint64_t i = 0; i < numel; ++i) {
      if (dtype == DType::F32) {
        uint32_t u = static_cast<uint32_t>(p[4 * i]) | static_cast<uint32_t>(p[4 * i + 1]) << 8 |
                     static_cast<uint32_t>(p[4 * i + 2]) << 16 | static_cast<uint32_t>(p[4 * i + 3]) << 24;
        t.data[i] = bits_f32(u);
      } else {
        uint16_t u = static_cast<uint16_t>(p[2 * i] | p[2 * i + 1] << 8);
        t.data[i] = dtype == DType::BF16 ? bf16_bits_to_f32(u) : f16_bits_to_f32(u);
      }
    }
    out.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      fail(source, fmt::format("tensor '{}' data [{}, {}] overlaps tensor '{}' data [{}, {}]", ranges[i].name,
                               ranges[i].begin, ranges[i].end, ranges[i - 1].name, ranges[i - 1].begin,
                               ranges[i - 1].end));
  return out;
}

std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path) {
  std::vector<uint8_t> bytes = read_binary_file(path);
  return parse_safetensors(bytes, path.string());
}

std::map<std::string, Tensor> load_safetensors_index(const std::filesystem::path& index_json) {
  std::string src = index_json.string();
  std::string text = read_text_file(index_json);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(src, fmt::format("malformed JSON at byte {}: {}", e.byte, e.what()));
  } catch (const json::exception& e) {
    fail(src, fmt::format("malformed JSON: {}", e.what()));
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(src, "expected an object with a 'weight_map' of tensor name -> shard file");
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) fail(src, fmt::format("weight_map['{}'] must be a file name string", name));
    std::string f = file.get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "..")
      fail(src, fmt::format("weight_map['{}'] = '{}': expected a file name in the same folder", name, f));
    by_shard[f].push_back(name);
  }
  std::map<std::string, Tensor> out;
  for (const auto& [file, names] : by_shard) {
    std::filesystem::path shard_path = index_json.parent_path() / file;
    auto tensors = load_safetensors(shard_path);
    for (const auto& n : names)
      if (!tensors.count(n))
        fail(src, fmt::format("tensor '{}' is mapped to '{}' but that shard does not contain it", n, file));
    for (auto& [n, t] : tensors) {
      if (out.count(n)) fail(shard_path.string(), fmt::format("tensor '{}' appears in more than one shard", n));
      out.emplace(n, std::move(t));
    }
  }
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
  std::map<std::string, Tensor> tensors;
  std::string source;
  if (std::filesystem::exists(index)) {
    tensors = load_safetensors_index(index);
    source = index.string();
  } else if (std::filesystem::exists(single)) {
    tensors = load_safetensors(single);
    source = single.string();
  } else {
    throw_input(dir.string(), 0, 0, "no model.safetensors or model.safetensors.index.json in the model folder");
  }
  for (auto& [n, t] : tensors) m.weights.set(n, std::move(t));
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

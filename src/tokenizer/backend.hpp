// Internal: the interface each tokenizer file format implements, and UTF-8 helpers.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plena::tokenizer {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<int64_t> encode(std::string_view text, bool add_special) const = 0;
  virtual std::string decode(std::span<const int64_t> ids, bool skip_special) const = 0;
  virtual std::optional<int64_t> token_id(std::string_view token) const = 0;
  virtual std::optional<std::string> token(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::string describe() const = 0;
};

std::unique_ptr<Backend> load_hf_json(const std::filesystem::path& file);
// bos/eos: whether encode(add_special) adds them (tokenizer_config.json's add_bos_token/add_eos_token).
std::unique_ptr<Backend> load_sentencepiece(const std::filesystem::path& file, bool add_bos, bool add_eos);

// ---- UTF-8 ----
// Byte offset of the first invalid sequence, or npos.
size_t first_invalid_utf8(std::string_view s);
// Length of the UTF-8 sequence starting with byte b (1 for stray bytes).
inline size_t utf8_len(unsigned char b) { return b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1; }
void append_utf8(std::string& out, uint32_t cp);
uint32_t decode_utf8_at(std::string_view s, size_t i);  // s must be valid at i
// Each maximal ill-formed subpart replaced by U+FFFD (as Rust's String::from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);

}  // namespace plena::tokenizer

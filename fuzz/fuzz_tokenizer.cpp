// Tokenizers on fuzzed input. Without SEP: the input is text for the test tokenizers (byte-level and
// Metaspace/byte fallback); it must encode or throw InputError (invalid UTF-8), and valid text must
// decode back to itself with the byte-level one. With SEP: tokenizer.json text, then text to encode;
// loading must succeed or throw InputError, and so must encoding and decoding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "support/support.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

constexpr std::string_view kSep = "\n--8<--\n";

void round_trip(std::string_view text) {
  using plena::tokenizer::Tokenizer;
  static const Tokenizer byte_level = Tokenizer::load(std::string(PLENA_TOKENIZER_DATA) + "/bytelevel");
  static const Tokenizer metaspace = Tokenizer::load(std::string(PLENA_TOKENIZER_DATA) + "/metaspace");
  try {
    const auto ids = byte_level.encode(text, false);
    if (byte_level.decode(ids) != text && text.find("<|mask|>") == std::string_view::npos) __builtin_trap();
    metaspace.decode(metaspace.encode(text));
  } catch (const plena::InputError&) {
  }
}

void fuzzed_file(std::string_view json, std::string_view text) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("fuzz_tokenizer_" + std::to_string(getpid()) + ".json")).string();
  plena::write_text_file(path, json);
  try {
    const auto tok = plena::tokenizer::Tokenizer::load(path);
    tok.decode(tok.encode(text));
  } catch (const plena::InputError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t sep = in.find(kSep);
  if (sep == std::string_view::npos) round_trip(in);
  else fuzzed_file(in.substr(0, sep), in.substr(sep + kSep.size()));
  return 0;
}

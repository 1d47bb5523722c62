// Text <-> token ids for Hugging Face checkpoints (docs/tokenizer.md):
//  - tokenizer.json with a BPE model: byte-level (GPT-2, LLaMA-3, Qwen2/3) or SentencePiece-style with byte
//    fallback (LLaMA-2, Mistral), its added/special tokens, normalizers, pre-tokenizers, post-processor, decoder;
//  - SentencePiece tokenizer.model (when built with libsentencepiece);
//  - the chat template of tokenizer_config.json for the LLaMA-3, ChatML (Qwen2/3) and Mistral [INST] families.
// Every malformed file or unsupported feature is an InputError naming the file and what was expected.
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

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

class Backend;  // one tokenizer file format (tokenizer.json BPE, SentencePiece)

class Tokenizer {
 public:
  // `path`: a checkpoint directory (tokenizer.json, else tokenizer.model; tokenizer_config.json beside it for the
  // bos/eos tokens and the chat template) or one of those files.
  static Tokenizer load(const std::filesystem::path& path);

  // add_special: the special tokens the tokenizer adds around a sequence (e.g. BOS), as Hugging Face's
  // add_special_tokens. Special tokens written in the text are always recognised. Text must be valid UTF-8.
  std::vector<int64_t> encode(std::string_view text, bool add_special = true) const;
  // Ids outside the vocabulary: InputError. skip_special: leave out special tokens.
  std::string decode(std::span<const int64_t> ids, bool skip_special = false) const;

  std::optional<int64_t> token_id(std::string_view token) const;  // added/special or vocabulary token
  std::optional<std::string> token(int64_t id) const;
  int64_t vocab_size() const;  // one past the largest id
  std::optional<int64_t> bos_id() const;
  std::optional<int64_t> eos_id() const;

  // Chat template of tokenizer_config.json (or chat_template.jinja). family(): "llama3", "chatml" or "mistral";
  // apply_chat_template: the prompt text (special tokens included, encode it with add_special = false).
  // InputError when the checkpoint has no template or one of an unsupported family.
  bool has_chat_template() const;
  std::string chat_family() const;
  std::string apply_chat_template(std::span<const ChatMessage> messages, bool add_generation_prompt = true) const;

  std::string describe() const;  // e.g. "tokenizer.json (BPE, byte-level), 50257 tokens"
  const std::filesystem::path& source() const;

 private:
  Tokenizer() = default;  // only load() makes one
  struct State;
  std::shared_ptr<const State> state_;
};

bool sentencepiece_available();  // built with libsentencepiece

}  // namespace plena::tokenizer

// Internal: chat templates of the model families plena supports, recognised from the Jinja source and
// rendered natively (no general Jinja engine).
#pragma once
#include <span>
#include <string>

#include "tokenizer/tokenizer.hpp"

namespace plena::tokenizer {

struct ChatTemplate {
  enum class Family { llama3, chatml, mistral } family;
  std::string bos, eos;           // bos_token / eos_token text of tokenizer_config.json
  std::string default_system;     // ChatML: system message used when the conversation has none
  std::string date;               // LLaMA-3.1+: "Today Date" of the system header ("" for LLaMA-3.0)
  bool mistral_v1 = false;        // Mistral: "[INST] x [/INST]" (v1) or "[INST] x[/INST]" with system (v3)
  std::string source;             // file the template came from, for errors
};

// InputError naming `source` when the template is of no supported family.
ChatTemplate recognise_chat_template(const std::string& jinja, std::string bos, std::string eos, std::string source);
std::string render_chat(const ChatTemplate& t, std::span<const ChatMessage> messages, bool add_generation_prompt);
const char* family_name(ChatTemplate::Family f);

}  // namespace plena::tokenizer

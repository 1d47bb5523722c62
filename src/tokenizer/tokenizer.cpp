// Tokenizer::load: finds the tokenizer file and tokenizer_config.json; special tokens and the chat template.
#include "tokenizer/tokenizer.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "support/json_strict.hpp"
#include "support/support.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/chat.hpp"

namespace plena::tokenizer {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Tokenizer::State {
  fs::path source;
  std::unique_ptr<Backend> backend;
  std::optional<int64_t> bos, eos;
  std::optional<ChatTemplate> chat;
  std::string chat_error;  // why there is no chat template
};

namespace {

// What tokenizer_config.json says (all optional).
struct Config {
  fs::path file, template_file;  // tokenizer_config.json; where the chat template came from
  std::string bos, eos, chat_template;
  bool add_bos = true, add_eos = false;
};

// bos_token / eos_token: a string or {"content": ...}.
std::string token_text(const json& cfg, const char* key, const fs::path& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"];
  throw_input(file.string(), 0, 0, fmt::format("$.{}: expected a token string or {{\"content\": ...}}, got {}", key,
                                               json_text(*it)));
}

// chat_template: a string, or a list of {"name", "template"} of which "default" is used.
std::string template_text(const json& v, const fs::path& file) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array())
    for (const json& t : v)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        return t["template"];
  throw_input(file.string(), 0, 0,
              fmt::format("$.chat_template: expected a string or a list with a {{\"name\": \"default\", \"template\": "
                          "...}} entry, got {}",
                          json_text(v).substr(0, 80)));
}

Config read_config(const fs::path& dir) {
  Config c;
  c.file = c.template_file = dir / "tokenizer_config.json";
  if (fs::exists(c.file)) {
    const std::string text = read_text_file(c.file);
    const json cfg = parse_json_strict(text, c.file.string(), "a tokenizer_config.json object");
    if (!cfg.is_object()) throw_input(c.file.string(), 1, 1, "expected a JSON object");
    c.bos = token_text(cfg, "bos_token", c.file);
    c.eos = token_text(cfg, "eos_token", c.file);
    for (auto [key, dst] : {std::pair{"add_bos_token", &c.add_bos}, std::pair{"add_eos_token", &c.add_eos}})
      if (cfg.contains(key) && !cfg[key].is_null()) {
        if (!cfg[key].is_boolean())
          throw_input(c.file.string(), 0, 0, fmt::format("$.{}: expected true or false, got {}", key, json_text(cfg[key])));
        *dst = cfg[key].get<bool>();
      }
    if (cfg.contains("chat_template") && !cfg["chat_template"].is_null())
      c.chat_template = template_text(cfg["chat_template"], c.file);
  }
  if (c.chat_template.empty() && fs::exists(dir / "chat_template.jinja")) {  // newer checkpoints
    c.template_file = dir / "chat_template.jinja";
    c.chat_template = read_text_file(c.template_file);
  }
  return c;
}

std::optional<int64_t> special_id(const Backend& b, const std::string& text, const char* key, const fs::path& file) {
  if (text.empty()) return std::nullopt;
  auto id = b.token_id(text);
  if (!id)
    throw_input(file.string(), 0, 0, fmt::format("$.{}: '{}' is not a token of the tokenizer; expected one of its "
                                                 "special tokens",
                                                 key, text));
  return id;
}

}  // namespace

Tokenizer Tokenizer::load(const fs::path& path) {
  fs::path file = path;
  if (fs::is_directory(path)) {
    file = fs::exists(path / "tokenizer.json") ? path / "tokenizer.json" : path / "tokenizer.model";
    if (!fs::exists(file))
      throw_input(path.string(), 0, 0, "no tokenizer.json or tokenizer.model; expected a checkpoint directory with a "
                                       "tokenizer (or pass the tokenizer file)");
  } else if (!fs::exists(path)) {
    throw_input(path.string(), 0, 0, "no such file or directory; expected a tokenizer.json, tokenizer.model or a "
                                     "checkpoint directory");
  }
  auto st = std::make_shared<State>();
  st->source = file;
  const Config cfg = read_config(file.parent_path().empty() ? fs::path(".") : file.parent_path());
  if (file.extension() == ".json") st->backend = load_hf_json(file);
  else if (file.extension() == ".model") st->backend = load_sentencepiece(file, cfg.add_bos, cfg.add_eos);
  else throw_input(file.string(), 0, 0, "unknown tokenizer file; expected tokenizer.json (*.json) or a SentencePiece "
                                        "tokenizer.model (*.model)");
  st->bos = special_id(*st->backend, cfg.bos, "bos_token", cfg.file);
  st->eos = special_id(*st->backend, cfg.eos, "eos_token", cfg.file);
  if (cfg.chat_template.empty()) {
    st->chat_error = fmt::format("{}: error: the checkpoint has no chat template (chat_template in "
                                 "tokenizer_config.json or chat_template.jinja); use a plain --prompt",
                                 file.parent_path().string());
  } else {
    try {
      st->chat = recognise_chat_template(cfg.chat_template, cfg.bos, cfg.eos, cfg.template_file.string());
    } catch (const InputError& e) {  // reported when a chat is asked for, not on every load
      st->chat_error = e.what();
    }
  }
  Tokenizer t;
  t.state_ = std::move(st);
  return t;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  return state_->backend->encode(text, add_special);
}
std::string Tokenizer::decode(std::span<const int64_t> ids, bool skip_special) const {
  return state_->backend->decode(ids, skip_special);
}
std::optional<int64_t> Tokenizer::token_id(std::string_view token) const { return state_->backend->token_id(token); }
std::optional<std::string> Tokenizer::token(int64_t id) const { return state_->backend->token(id); }
int64_t Tokenizer::vocab_size() const { return state_->backend->vocab_size(); }
std::optional<int64_t> Tokenizer::bos_id() const { return state_->bos; }
std::optional<int64_t> Tokenizer::eos_id() const { return state_->eos; }
bool Tokenizer::has_chat_template() const { return state_->chat.has_value(); }

std::string Tokenizer::chat_family() const {
  if (!state_->chat) throw InputError(state_->chat_error);
  switch (state_->chat->family) {
    case ChatTemplate::Family::llama3: return "llama3";
    case ChatTemplate::Family::chatml: return "chatml";
    default: return "mistral";
  }
}

std::string Tokenizer::apply_chat_template(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  if (!state_->chat) throw InputError(state_->chat_error);
  return render_chat(*state_->chat, messages, add_generation_prompt);
}

std::string Tokenizer::describe() const { return state_->backend->describe(); }
const fs::path& Tokenizer::source() const { return state_->source; }

}  // namespace plena::tokenizer

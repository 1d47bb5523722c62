#include "tokenizer/chat.hpp"

#include <fmt/format.h>

#include <ctime>

#include "support/support.hpp"

namespace plena::tokenizer {

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::string trim(std::string_view s) {  // Jinja's |trim: surrounding whitespace
  const char* ws = " \t\n\r\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

// A literal system text in "<|im_start|>system\n...<|im_end|>" of the template (Qwen2's default system).
std::string chatml_default_system(const std::string& jinja) {
  const std::string open = "<|im_start|>system\\n", close = "<|im_end|>";
  for (size_t at = jinja.find(open); at != std::string::npos; at = jinja.find(open, at + 1)) {
    const size_t from = at + open.size(), to = jinja.find(close, from);
    if (to == std::string::npos) break;
    const std::string text = jinja.substr(from, to - from);
    if (!text.empty() && text.find_first_of("'\"{}+") == std::string::npos) return text;
  }
  return {};
}

// LLaMA-3.1+'s header date: today's (LLaMA-3.2+ ask strftime_now("%d %b %Y"), which Hugging Face
// defines), else the template's fixed `date_string = "26 Jul 2024"`.
std::string llama_date(const std::string& jinja) {
  if (!contains(jinja, "Cutting Knowledge Date")) return {};
  if (contains(jinja, "strftime_now(\"%d %b %Y\")")) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[32];
    std::strftime(buf, sizeof buf, "%d %b %Y", &local);
    return buf;
  }
  const size_t at = jinja.find("date_string = \"");
  if (at == std::string::npos) return "26 Jul 2024";
  const size_t from = at + 15, to = jinja.find('"', from);
  return jinja.substr(from, to - from);
}

void check_roles(const ChatTemplate& t, std::span<const ChatMessage> messages) {
  if (messages.empty()) throw InputError(fmt::format("{}: error: an empty conversation; expected messages", t.source));
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant")
      throw InputError(fmt::format("{}: error: message {} has role '{}'; expected system, user or assistant", t.source,
                                   i, r));
    if (r == "system" && i > 0 && t.family == ChatTemplate::Family::mistral)
      throw InputError(fmt::format("{}: error: message {} is a system message; this {} template takes one, first",
                                   t.source, i, family_name(t.family)));
  }
}

std::string render_llama3(const ChatTemplate& t, std::span<const ChatMessage> msgs, bool gen) {
  const auto turn = [](const std::string& role, std::string_view content) {
    return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + trim(content) + "<|eot_id|>";
  };
  std::string out = t.bos;
  size_t first = 0;
  if (!t.date.empty()) {  // 3.1+: a system header always, with the knowledge and today dates
    const bool sys = msgs[0].role == "system";
    out += "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: " +
           t.date + "\n\n" + (sys ? trim(msgs[0].content) : std::string()) + "<|eot_id|>";
    first = sys ? 1 : 0;
  }
  for (size_t i = first; i < msgs.size(); ++i) out += turn(msgs[i].role, msgs[i].content);
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_chatml(const ChatTemplate& t, std::span<const ChatMessage> msgs, bool gen) {
  std::string out;
  if (msgs[0].role != "system" && !t.default_system.empty())
    out += "<|im_start|>system\n" + t.default_system + "<|im_end|>\n";
  for (const ChatMessage& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_mistral(const ChatTemplate& t, std::span<const ChatMessage> msgs) {
  std::string system;
  size_t first = 0;
  if (msgs[0].role == "system") {
    if (t.mistral_v1)
      throw InputError(fmt::format("{}: error: this Mistral template has no system role; expected user and "
                                   "assistant messages only",
                                   t.source));
    system = msgs[0].content, first = 1;
  }
  std::string out = t.bos;
  size_t last_user = msgs.size();
  for (size_t i = first; i < msgs.size(); ++i) {
    const bool user = msgs[i].role == "user";
    if (user != ((i - first) % 2 == 0))
      throw InputError(fmt::format("{}: error: message {} is '{}'; Mistral conversations alternate user/assistant, "
                                   "starting with user",
                                   t.source, i, msgs[i].role));
    if (user) last_user = i;
  }
  for (size_t i = first; i < msgs.size(); ++i) {
    const std::string& c = msgs[i].content;
    if (msgs[i].role == "assistant") out += (t.mistral_v1 ? "" : " ") + c + t.eos;
    else if (t.mistral_v1) out += "[INST] " + c + " [/INST]";
    else out += "[INST] " + (i == last_user && first ? system + "\n\n" : std::string()) + c + "[/INST]";
  }
  return out;
}

}  // namespace

const char* family_name(ChatTemplate::Family f) {
  switch (f) {
    case ChatTemplate::Family::llama3: return "LLaMA-3";
    case ChatTemplate::Family::chatml: return "ChatML (Qwen2/3)";
    default: return "Mistral";
  }
}

ChatTemplate recognise_chat_template(const std::string& jinja, std::string bos, std::string eos, std::string source) {
  ChatTemplate t{ChatTemplate::Family::llama3, std::move(bos), std::move(eos), {}, {}, false, std::move(source)};
  if (contains(jinja, "<|start_header_id|>") && contains(jinja, "<|eot_id|>")) {
    t.date = llama_date(jinja);
  } else if (contains(jinja, "<|im_start|>") && contains(jinja, "<|im_end|>")) {
    t.family = ChatTemplate::Family::chatml;
    t.default_system = chatml_default_system(jinja);
  } else if (contains(jinja, "[INST]") && contains(jinja, "[/INST]")) {
    t.family = ChatTemplate::Family::mistral;
    t.mistral_v1 = contains(jinja, "' [/INST]'") || contains(jinja, "\" [/INST]\"");
  } else {
    throw InputError(fmt::format("{}: error: the chat template is of no supported family; expected LLaMA-3 "
                                 "(<|start_header_id|>), ChatML as Qwen2/3 (<|im_start|>) or Mistral ([INST]); "
                                 "pass token ids or a plain --prompt instead",
                                 t.source));
  }
  const bool needs_bos = t.family != ChatTemplate::Family::chatml;
  if (needs_bos && t.bos.empty())
    throw InputError(fmt::format("{}: error: no bos_token; expected one for the {} chat template", t.source,
                                 family_name(t.family)));
  return t;
}

std::string render_chat(const ChatTemplate& t, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  check_roles(t, messages);
  switch (t.family) {
    case ChatTemplate::Family::llama3: return render_llama3(t, messages, add_generation_prompt);
    case ChatTemplate::Family::chatml: return render_chatml(t, messages, add_generation_prompt);
    default: return render_mistral(t, messages);
  }
}

}  // namespace plena::tokenizer

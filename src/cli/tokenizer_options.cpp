#include "cli/tokenizer_options.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/support.hpp"

namespace plena::cli {

std::vector<int64_t> encode_chat(const tokenizer::Tokenizer& tok, const std::string& user, const std::string& system) {
  std::vector<tokenizer::ChatMessage> msgs;
  if (!system.empty()) msgs.push_back({"system", system});
  msgs.push_back({"user", user});
  // The template writes the special tokens (BOS included) itself, as Hugging Face's apply_chat_template.
  return tok.encode(tok.apply_chat_template(msgs, true), false);
}

std::string report_text(const tokenizer::Tokenizer& tok, const std::vector<int64_t>& ids) {
  // A model's vocabulary can be larger than its tokenizer's (padded embeddings, random presets): such ids
  // show as <id N?> between the decoded runs of the others.
  std::string text;
  std::vector<int64_t> run;
  for (int64_t id : ids) {
    if (tok.token(id)) {
      run.push_back(id);
      continue;
    }
    text += tok.decode(run) + fmt::format("<id {}?>", id);
    run.clear();
  }
  return text + tok.decode(run);
}

std::optional<tokenizer::Tokenizer> run_tokenizer(const std::string& tokenizer_flag, const std::string& model) {
  namespace fs = std::filesystem;
  if (!tokenizer_flag.empty()) return tokenizer::Tokenizer::load(tokenizer_flag);
  if (fs::is_directory(model) && (fs::exists(fs::path(model) / "tokenizer.json") ||
                                  fs::exists(fs::path(model) / "tokenizer.model")))
    return tokenizer::Tokenizer::load(model);
  return std::nullopt;
}

std::string with_text_lines(const std::string& report, const tokenizer::Tokenizer& tok,
                            const std::vector<std::vector<int64_t>>& prompts,
                            const std::vector<std::vector<int64_t>>& generated,
                            const std::vector<std::vector<int64_t>>& reference) {
  const auto texts = [&](const std::vector<std::vector<int64_t>>& seqs) {
    std::string s;
    for (size_t b = 0; b < seqs.size(); ++b) {  // quoted as JSON strings: newlines and controls stay visible
      if (b) s += ' ';
      s += nlohmann::json(report_text(tok, seqs[b])).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return s;
  };
  std::istringstream in(report);
  std::string out, line;
  while (std::getline(in, line)) {
    out += line + "\n";
    const auto starts = [&](const char* p) { return line.rfind(p, 0) == 0; };
    if (starts("prompt       ")) out += "  text       " + texts(prompts) + "\n";
    else if (starts("generated    ")) out += "  text       " + texts(generated) + "\n";
    else if (starts("reference    ")) out += "  text       " + texts(reference) + "\n";
  }
  return out;
}

}  // namespace plena::cli

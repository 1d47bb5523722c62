// plena tokenize / plena detokenize: text <-> token ids with a checkpoint's tokenizer (docs/tokenizer.md).
#include <fmt/format.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/tokenizer_options.hpp"
#include "support/support.hpp"
#include "tokenizer/tokenizer.hpp"

namespace plena::cli {

namespace {

std::string read_stdin() { return std::string(std::istreambuf_iterator<char>(std::cin), {}); }

// "1,2,3", "1 2 3" or one per line.
std::vector<int64_t> parse_ids(const std::string& text, const std::string& source) {
  std::vector<int64_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ',' || std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && text[j] != ',' && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    const std::string word = text.substr(i, j - i);
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0)
      throw InputError(fmt::format("{}: error: '{}' (byte {}) is not a token id; expected non-negative integers "
                                   "separated by commas or whitespace",
                                   source, word, i));
    ids.push_back(v);
    i = j;
  }
  return ids;
}

void add_tokenize(CLI::App& app) {
  struct Args {
    std::string tokenizer, text, file, system;
    bool no_special = false, chat = false, json = false;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("tokenize", "text to token ids with a checkpoint's tokenizer (prints 1,2,3)");
  sub->add_option("tokenizer", a->tokenizer,
                  "Checkpoint directory, tokenizer.json or SentencePiece tokenizer.model")
      ->required();
  auto* text = sub->add_option("text", a->text, "Text to encode (default: standard input)");
  sub->add_option("--file", a->file, "Read the text from this file")->excludes(text);
  sub->add_flag("--no-special", a->no_special, "Do not add the tokenizer's special tokens (e.g. BOS)");
  auto* chat = sub->add_flag("--chat", a->chat, "Encode the text as a user message in the checkpoint's chat template");
  sub->add_option("--system", a->system, "With --chat: a system message first")->needs(chat);
  sub->add_flag("--json", a->json, "Print {\"ids\": [...], \"tokens\": [...]} instead");
  sub->callback([a, text] {
    const auto tok = tokenizer::Tokenizer::load(a->tokenizer);
    const std::string input = !a->file.empty() ? read_text_file(a->file) : text->count() ? a->text : read_stdin();
    const std::vector<int64_t> ids =
        a->chat ? encode_chat(tok, input, a->system) : tok.encode(input, !a->no_special);
    if (!a->json) return fmt::print("{}\n", fmt::join(ids, ","));
    nlohmann::json j{{"ids", ids}, {"tokens", nlohmann::json::array()}};
    for (int64_t id : ids) j["tokens"].push_back(tok.token(id).value_or(""));
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}

void add_detokenize(CLI::App& app) {
  struct Args {
    std::string tokenizer, ids;
    bool skip_special = false;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("detokenize", "token ids to text with a checkpoint's tokenizer");
  sub->add_option("tokenizer", a->tokenizer,
                  "Checkpoint directory, tokenizer.json or SentencePiece tokenizer.model")
      ->required();
  auto* ids = sub->add_option("ids", a->ids, "Token ids: 1,2,3 or \"1 2 3\" (default: standard input)");
  sub->add_flag("--skip-special", a->skip_special, "Leave special tokens (BOS, EOS, ...) out of the text");
  sub->callback([a, ids] {
    const auto tok = tokenizer::Tokenizer::load(a->tokenizer);
    const bool from_stdin = ids->count() == 0;
    const std::vector<int64_t> list = parse_ids(from_stdin ? read_stdin() : a->ids, from_stdin ? "stdin" : "ids");
    fmt::print("{}\n", tok.decode(list, a->skip_special));
  });
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  add_tokenize(app);
  add_detokenize(app);
}

}  // namespace plena::cli

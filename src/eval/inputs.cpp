// The command's inputs: the model, prompt files and token files (docs/eval.md "Inputs").
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <system_error>

#include "eval/eval.hpp"
#include "runner/runner.hpp"
#include "runner/runner_detail.hpp"
#include "support/support.hpp"

namespace plena::eval {
namespace {

namespace fs = std::filesystem;

// A file the user named must be a readable regular file; the message names the flag and the file.
void check_regular_file(const fs::path& p, std::string_view flag) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (ec || !fs::exists(st))
    throw InputError(fmt::format("{}: error: {}: no such file", p.string(), flag));
  if (!fs::is_regular_file(st))
    throw InputError(fmt::format("{}: error: {}: not a regular file; expected a text file of token ids or a .npy", p.string(), flag));
}

bool is_npy(const fs::path& p) { return p.extension() == ".npy"; }

// One line of a text file of token ids: ids separated by commas and/or blanks, '#' starts a
// comment. Each id is digits only and < vocab.
std::vector<model::TokenId> ids_of_line(const std::string& file, int line_no, std::string_view line, int64_t vocab) {
  std::vector<model::TokenId> ids;
  size_t i = 0;
  const size_t end = std::min(line.find('#'), line.size());
  while (i < end) {
    const char c = line[i];
    if (c == ',' || c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < end && line[j] != ',' && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    const std::string_view tok = line.substr(i, j - i);
    const bool digits = tok.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits || tok.size() > 18)
      throw_input(file, line_no, int(i + 1),
                  fmt::format("'{}' is not a token id; expected non-negative integers separated by commas or blanks",
                              tok.substr(0, 40)));
    const int64_t v = std::stoll(std::string(tok));
    if (v >= vocab)
      throw_input(file, line_no, int(i + 1), fmt::format("token id {} is outside the vocabulary [0, {})", v, vocab));
    ids.push_back(model::TokenId(v));
    i = j;
  }
  return ids;
}

// Every non-empty line of a text file as one list of ids.
std::vector<std::vector<model::TokenId>> id_lines(const fs::path& p, int64_t vocab) {
  const std::string text = read_text_file(p);
  if (text.find('\0') != std::string::npos)
    throw InputError(fmt::format("{}: error: binary data in a text file; expected token ids as text or a .npy file", p.string()));
  std::vector<std::vector<model::TokenId>> out;
  size_t pos = 0;
  for (int line_no = 1; pos <= text.size(); ++line_no) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    auto ids = ids_of_line(p.string(), line_no, std::string_view(text).substr(pos, nl - pos), vocab);
    if (!ids.empty()) out.push_back(std::move(ids));
    pos = nl + 1;
  }
  return out;
}

// An integer .npy of rank `max_rank` or less, as rows of ids (rank 1: one row).
std::vector<std::vector<model::TokenId>> id_rows_npy(const fs::path& p, int64_t vocab, size_t max_rank,
                                                    std::string_view expected) {
  const NpyArray a = npy_load(p);
  if (a.shape.empty() || a.shape.size() > max_rank)
    throw InputError(fmt::format("{}: error: array of rank {}; expected {}", p.string(), a.shape.size(), expected));
  std::vector<int64_t> flat;
  try {
    flat = a.to_i64();
  } catch (const InputError& e) {  // its message does not name the file
    throw InputError(fmt::format("{}: {}; expected {}", p.string(), e.what(), expected));
  }
  const size_t cols = a.shape.back(), rows = cols ? flat.size() / cols : 0;
  if (flat.empty()) throw InputError(fmt::format("{}: error: no token ids (shape [{}]); expected {}", p.string(),
                                                 fmt::join(a.shape, ", "), expected));
  std::vector<std::vector<model::TokenId>> out(rows);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      const int64_t v = flat[r * cols + c];
      if (v < 0 || v >= vocab)
        throw InputError(fmt::format("{}: error: element [{}] is {}; token ids are in the vocabulary [0, {})", p.string(),
                                     a.shape.size() == 2 ? fmt::format("{}, {}", r, c) : fmt::format("{}", c), v, vocab));
      out[r].push_back(model::TokenId(v));
    }
  return out;
}

std::vector<std::vector<model::TokenId>> prompts_from_file(const fs::path& p, int64_t vocab) {
  check_regular_file(p, "--prompts");
  auto rows = is_npy(p) ? id_rows_npy(p, vocab, 2, "token ids of shape [T] (one prompt) or [B, T]") : id_lines(p, vocab);
  if (rows.empty())
    throw InputError(fmt::format("{}: error: --prompts: no prompts; expected one line of token ids per prompt", p.string()));
  return rows;
}

// The token file's ids in order (a text file's lines are concatenated), at most max_tokens of them.
std::vector<model::TokenId> tokens_from_file(const fs::path& p, int64_t vocab, uint64_t max_tokens) {
  check_regular_file(p, "--tokens");
  auto rows = is_npy(p) ? id_rows_npy(p, vocab, 1, "token ids of shape [N]") : id_lines(p, vocab);
  std::vector<model::TokenId> ids;
  for (const auto& r : rows) ids.insert(ids.end(), r.begin(), r.end());
  if (max_tokens && ids.size() > max_tokens) ids.resize(max_tokens);
  if (ids.size() < 2)
    throw InputError(fmt::format("{}: error: --tokens: {} token id(s); perplexity needs at least 2 (a token and the "
                                 "next one it predicts)", p.string(), ids.size()));
  return ids;
}

std::vector<std::vector<model::TokenId>> to_token_ids(const std::vector<std::vector<int64_t>>& rows, int64_t vocab,
                                                      std::string_view flag) {
  std::vector<std::vector<model::TokenId>> out;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].empty()) throw InputError(fmt::format("{}: error: prompt {} is empty; expected at least one id", flag, r));
    for (size_t i = 0; i < rows[r].size(); ++i)
      if (rows[r][i] < 0 || rows[r][i] >= vocab)
        throw InputError(fmt::format("{}: error: prompt {} id {} (index {}) is outside the vocabulary [0, {})", flag, r,
                                     rows[r][i], i, vocab));
    out.emplace_back(rows[r].begin(), rows[r].end());
  }
  return out;
}

}  // namespace

LoadedModel load_model(const std::string& spec, uint64_t seed) {
  runner::detail::ResolvedModel r = runner::detail::resolve_model(spec, seed, true);
  return {std::move(r.config), std::move(r.weights), std::move(r.source)};
}

EvalSet load_set(const model::ModelConfig& cfg, const EvalOptions& opt) {
  const int64_t vocab = cfg.vocab_size;
  EvalSet set;
  if (!opt.prompts_file.empty() && !opt.prompt_ids.empty())
    throw InputError("--prompts and --prompt-ids: error: both given; expected at most one source of prompts");
  if (opt.window < 2) throw InputError(fmt::format("--window: error: {} is too small; expected at least 2", opt.window));
  if (!opt.prompts_file.empty()) {
    set.prompts = prompts_from_file(opt.prompts_file, vocab);
  } else if (!opt.prompt_ids.empty()) {
    set.prompts = to_token_ids(runner::parse_prompt_ids(opt.prompt_ids), vocab, "--prompt-ids");
  } else if (opt.tokens_file.empty()) {
    if (opt.num_prompts == 0 || opt.prompt_len == 0)
      throw InputError("--num-prompts/--prompt-len: error: 0 random prompts or tokens; expected at least 1 of each");
    set.prompts = to_token_ids(runner::detail::make_prompts(cfg, {}, opt.prompt_len, opt.num_prompts, opt.seed), vocab,
                               "--prompt-len");
  }
  if (!opt.tokens_file.empty()) {
    if (cfg.max_position_embeddings > 0 && int64_t(opt.window) > cfg.max_position_embeddings)
      throw InputError(fmt::format("--window: error: {} tokens; the model takes at most {} positions "
                                   "(max_position_embeddings)", opt.window, cfg.max_position_embeddings));
    const std::vector<model::TokenId> ids = tokens_from_file(opt.tokens_file, vocab, opt.max_tokens);
    for (size_t i = 0; i < ids.size(); i += opt.window) {
      const size_t n = std::min<size_t>(opt.window, ids.size() - i);
      if (n >= 2) set.texts.emplace_back(ids.begin() + long(i), ids.begin() + long(i + n));
    }
  }
  return set;
}

}  // namespace plena::eval

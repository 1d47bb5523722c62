// Text prompts for plena run and plena tokenize: the chat template and the report's text lines.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace plena::cli {

// The ids of `user` (after `system`, if not empty) rendered by the checkpoint's chat template.
std::vector<int64_t> encode_chat(const tokenizer::Tokenizer& tok, const std::string& user, const std::string& system);

// Text of ids for a report; ids outside the tokenizer's vocabulary are marked, not an error.
std::string report_text(const tokenizer::Tokenizer& tok, const std::vector<int64_t>& ids);

// The tokenizer run uses: --tokenizer, else the model directory's when it has one.
std::optional<tokenizer::Tokenizer> run_tokenizer(const std::string& tokenizer_flag, const std::string& model);

// Inserts "text" lines after the report's prompt/generated/reference id lines.
std::string with_text_lines(const std::string& report, const tokenizer::Tokenizer& tok,
                            const std::vector<std::vector<int64_t>>& prompts,
                            const std::vector<std::vector<int64_t>>& generated,
                            const std::vector<std::vector<int64_t>>& reference);

}  // namespace plena::cli

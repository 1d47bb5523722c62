// The text side of plena.run / plena.compile (bind_tokenizer.cpp): which tokenizer a call uses and
// how prompt text and generated ids convert.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "python/bind.hpp"
#include "tokenizer/tokenizer.hpp"

namespace plena::python {

// `tokenizer`: None (the model directory's own tokenizer, if it has one), a plena.Tokenizer or a path.
std::optional<tokenizer::Tokenizer> tokenizer_for(const py::object& tokenizer, const std::string& model);
// chat: apply the checkpoint's chat template (system message when not empty) as `plena run --chat`.
std::vector<int64_t> encode_prompt(const tokenizer::Tokenizer& tok, const std::string& text, bool chat,
                                   const std::string& system);
// The text of ids, or None when an id lies outside the tokenizer's vocabulary.
py::object decode_or_none(const tokenizer::Tokenizer& tok, const std::vector<int64_t>& ids);

}  // namespace plena::python

// plena.Tokenizer / plena.tokenize / plena.detokenize: the tokenizer module (src/tokenizer) for
// Python, and the text side of plena.run (prompt text in, generated text out).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>

#include "python/bind.hpp"
#include "python/tokenizer_handle.hpp"
#include "tokenizer/tokenizer.hpp"

namespace plena::python {
namespace fs = std::filesystem;
using tokenizer::Tokenizer;

std::optional<Tokenizer> tokenizer_for(const py::object& tokenizer, const std::string& model) {
  if (!tokenizer.is_none()) {
    if (py::isinstance<Tokenizer>(tokenizer)) return tokenizer.cast<Tokenizer>();
    return Tokenizer::load(tokenizer.cast<fs::path>());
  }
  const fs::path dir(model);
  if (fs::is_directory(dir) && (fs::exists(dir / "tokenizer.json") || fs::exists(dir / "tokenizer.model")))
    return Tokenizer::load(dir);
  return std::nullopt;
}

std::vector<int64_t> encode_prompt(const Tokenizer& tok, const std::string& text, bool chat, const std::string& system) {
  if (!chat) return tok.encode(text);
  std::vector<tokenizer::ChatMessage> msgs;
  if (!system.empty()) msgs.push_back({"system", system});
  msgs.push_back({"user", text});
  return tok.encode(tok.apply_chat_template(msgs, true), false);  // the template writes BOS itself
}

py::object decode_or_none(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  // A model's vocabulary can be larger than its tokenizer's (padded embeddings, random presets).
  for (int64_t id : ids)
    if (id < 0 || id >= tok.vocab_size()) return py::none();
  return py::str(tok.decode(ids));
}

namespace {

std::vector<tokenizer::ChatMessage> chat_messages(const py::list& messages) {
  std::vector<tokenizer::ChatMessage> out;
  for (const py::handle& m : messages) {
    if (!py::isinstance<py::dict>(m))
      throw InputError("apply_chat_template: messages: expected a list of {'role': ..., 'content': ...} dicts");
    const py::dict d = py::reinterpret_borrow<py::dict>(m);
    if (!d.contains("role") || !d.contains("content"))
      throw InputError("apply_chat_template: messages: each dict needs 'role' and 'content'");
    out.push_back({py::str(d["role"]).cast<std::string>(), py::str(d["content"]).cast<std::string>()});
  }
  return out;
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  py::class_<Tokenizer>(m, "Tokenizer",
                        "A checkpoint's tokenizer: tokenizer.json (BPE) or tokenizer.model (SentencePiece), with the "
                        "chat template of tokenizer_config.json (docs/tokenizer.md).")
      .def_static("load", &Tokenizer::load, py::arg("path"),
                  "Load from a checkpoint directory or a tokenizer.json / tokenizer.model file.")
      .def(
          "encode",
          [](const Tokenizer& t, const std::string& text, bool add_special) {
            return to_numpy(t.encode(text, add_special));
          },
          py::arg("text"), py::arg("add_special") = true, "Token ids (int64) of UTF-8 text.")
      .def(
          "decode",
          [](const Tokenizer& t, const py::object& ids, bool skip_special) {
            const auto a = integer_array<int64_t>(ids, "decode: ids");
            return t.decode(view<int64_t>(a), skip_special);
          },
          py::arg("ids"), py::arg("skip_special") = false, "Text of token ids.")
      .def("token_id", &Tokenizer::token_id, py::arg("token"))
      .def("token", &Tokenizer::token, py::arg("id"))
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("bos_id", &Tokenizer::bos_id)
      .def_property_readonly("eos_id", &Tokenizer::eos_id)
      .def_property_readonly("has_chat_template", &Tokenizer::has_chat_template)
      .def_property_readonly("chat_family", &Tokenizer::chat_family)
      .def(
          "apply_chat_template",
          [](const Tokenizer& t, const py::list& messages, bool add_generation_prompt) {
            const auto msgs = chat_messages(messages);
            return t.apply_chat_template(msgs, add_generation_prompt);
          },
          py::arg("messages"), py::arg("add_generation_prompt") = true,
          "The chat template's prompt text (encode it with add_special=False).")
      .def("describe", &Tokenizer::describe)
      .def("__repr__", [](const Tokenizer& t) { return "<plena.Tokenizer " + t.describe() + ">"; });
  m.def(
      "tokenize",
      [](const fs::path& path, const std::string& text, bool add_special) {
        return to_numpy(Tokenizer::load(path).encode(text, add_special));
      },
      py::arg("path"), py::arg("text"), py::arg("add_special") = true, "plena tokenize: token ids of text.");
  m.def(
      "detokenize",
      [](const fs::path& path, const py::object& ids, bool skip_special) {
        const auto a = integer_array<int64_t>(ids, "detokenize: ids");
        return Tokenizer::load(path).decode(view<int64_t>(a), skip_special);
      },
      py::arg("path"), py::arg("ids"), py::arg("skip_special") = false, "plena detokenize: text of token ids.");
}

}  // namespace plena::python

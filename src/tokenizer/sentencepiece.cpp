// SentencePiece tokenizer.model through libsentencepiece (optional: PLENA_HAVE_SENTENCEPIECE).
#include <fmt/format.h>

#include <algorithm>

#include "support/support.hpp"
#include "tokenizer/backend.hpp"
#include "tokenizer/tokenizer.hpp"

#ifdef PLENA_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace plena::tokenizer {

#ifdef PLENA_HAVE_SENTENCEPIECE
bool sentencepiece_available() { return true; }

namespace {

class SpBackend : public Backend {
 public:
  SpBackend(const std::filesystem::path& file, bool add_bos, bool add_eos)
      : file_(file.string()), add_bos_(add_bos), add_eos_(add_eos) {
    // Load reads any file; a protobuf parse failure comes back as a status.
    if (const auto st = sp_.Load(file_); !st.ok())
      throw_input(file_, 0, 0, fmt::format("not a SentencePiece model ({}); expected a tokenizer.model", st.ToString()));
    for (int id = 0; id < sp_.GetPieceSize(); ++id)
      if (sp_.IsControl(id) || sp_.IsUnknown(id)) specials_.push_back({sp_.IdToPiece(id), id});
    // Longest first, so a control piece that extends another wins.
    std::stable_sort(specials_.begin(), specials_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }

  // Control pieces written in the text (e.g. "<s>", as a chat template emits them) become their ids, as
  // Hugging Face's tokenizer does; SentencePiece encodes the text between them.
  std::vector<int64_t> encode(std::string_view text, bool add_special) const override {
    if (size_t bad = first_invalid_utf8(text); bad != std::string_view::npos)
      throw InputError(fmt::format("text: error: byte {} is not valid UTF-8; expected UTF-8 text", bad));
    std::vector<int64_t> ids;
    if (add_special && add_bos_ && sp_.bos_id() >= 0) ids.push_back(sp_.bos_id());
    size_t plain_from = 0;
    for (size_t i = 0; i < text.size();) {
      const auto* hit = special_at(text, i);
      if (!hit) {
        ++i;
        continue;
      }
      encode_plain(text.substr(plain_from, i - plain_from), ids);
      ids.push_back(hit->second);
      plain_from = i = i + hit->first.size();
    }
    encode_plain(text.substr(plain_from), ids);
    if (add_special && add_eos_ && sp_.eos_id() >= 0) ids.push_back(sp_.eos_id());
    return ids;
  }

  std::string decode(std::span<const int64_t> ids, bool skip_special) const override {
    std::string out;
    std::vector<int> run;
    auto flush = [&] {
      std::string piece;
      if (const auto st = sp_.Decode(run, &piece); !st.ok()) throw InputError(fmt::format("{}: {}", file_, st.ToString()));
      out += piece;
      run.clear();
    };
    for (int64_t id : ids) {
      if (id < 0 || id >= sp_.GetPieceSize())
        throw InputError(fmt::format("token id {} is not in the vocabulary of {}", id, file_));
      const bool special = sp_.IsControl(int(id)) || sp_.IsUnknown(int(id));
      if (!special) {
        run.push_back(int(id));
      } else if (!skip_special) {
        flush();
        out += sp_.IdToPiece(int(id));
      }
    }
    flush();
    return out;
  }

  std::optional<int64_t> token_id(std::string_view token) const override {
    const int id = sp_.PieceToId(token);
    // PieceToId answers unk_id for unknown pieces: only the unk piece itself maps there.
    if (id == sp_.unk_id() && token != sp_.IdToPiece(id)) return std::nullopt;
    return id;
  }
  std::optional<std::string> token(int64_t id) const override {
    if (id < 0 || id >= sp_.GetPieceSize()) return std::nullopt;
    return sp_.IdToPiece(int(id));
  }
  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  std::string describe() const override { return fmt::format("SentencePiece tokenizer.model, {} tokens", vocab_size()); }

 private:
  const std::pair<std::string, int>* special_at(std::string_view text, size_t i) const {
    for (const auto& s : specials_)
      if (text.compare(i, s.first.size(), s.first) == 0) return &s;
    return nullptr;
  }
  void encode_plain(std::string_view text, std::vector<int64_t>& ids) const {
    if (text.empty()) return;
    std::vector<int> out;
    if (const auto st = sp_.Encode(text, &out); !st.ok()) throw InputError(fmt::format("{}: {}", file_, st.ToString()));
    ids.insert(ids.end(), out.begin(), out.end());
  }

  std::string file_;
  sentencepiece::SentencePieceProcessor sp_;
  bool add_bos_, add_eos_;
  std::vector<std::pair<std::string, int>> specials_;
};

}  // namespace

std::unique_ptr<Backend> load_sentencepiece(const std::filesystem::path& file, bool add_bos, bool add_eos) {
  return std::make_unique<SpBackend>(file, add_bos, add_eos);
}

#else
bool sentencepiece_available() { return false; }

std::unique_ptr<Backend> load_sentencepiece(const std::filesystem::path& file, bool, bool) {
  throw_input(file.string(), 0, 0,
              "SentencePiece models need libsentencepiece: this plena was built without it (install "
              "libsentencepiece-dev, see scripts/install-deps.sh, and rebuild)");
}
#endif

}  // namespace plena::tokenizer

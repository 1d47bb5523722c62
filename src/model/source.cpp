// --model resolution shared by run, compile and estimate.
#include "model/source.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "model/model.hpp"
#include "support/support.hpp"

namespace plena::model {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

fs::path folder_of(const fs::path& file) {
  const fs::path parent = file.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

ModelSource from_folder(const std::string& spec, const fs::path& dir) {
  ModelSource s;
  s.dir = dir;
  s.config = dir / "config.json";
  if (!fs::is_regular_file(s.config))
    throw InputError(fmt::format("{}: error: folder has no config.json; expected a Hugging Face checkpoint folder "
                                 "(config.json + model.safetensors or model.safetensors.index.json)",
                                 spec));
  return s;
}

ModelSource from_file(const std::string& spec, bool need_weights) {
  const fs::path file(spec);
  const std::string name = file.filename().string();
  if (name == "config.json" || ends_with(name, ".safetensors") || name == "model.safetensors.index.json") {
    ModelSource s = from_folder(spec, folder_of(file));
    s.note = fmt::format("{} is part of a checkpoint: using its folder {}", spec, s.dir.string());
    return s;
  }
  if (ends_with(name, ".json")) {
    if (need_weights)
      throw InputError(fmt::format("{}: error: a config file alone has no weights; pass the checkpoint folder "
                                   "(config.json + model.safetensors), or add --timing-only",
                                   spec));
    ModelSource s;
    s.dir = folder_of(file);
    s.config = file;
    return s;
  }
  throw InputError(fmt::format("{}: error: not a model: expected a preset name, a Hugging Face checkpoint folder, "
                               "its config.json or a .safetensors file; pass the folder",
                               spec));
}

}  // namespace

ModelSource resolve_model_source(const std::string& spec, bool need_weights) {
  if (spec.empty()) throw InputError("--model: error: empty; expected a preset name or a checkpoint folder");
  const auto presets = model_preset_names();
  if (spec.rfind("preset:", 0) == 0) {  // explicitly a preset, whatever the folder holds
    ModelSource s;
    s.is_preset = true;
    s.preset = spec.substr(7);
    if (std::find(presets.begin(), presets.end(), s.preset) == presets.end())
      throw InputError(fmt::format("--model: error: unknown preset '{}'; expected one of: {}", s.preset, fmt::join(presets, ", ")));
    return s;
  }
  std::error_code ec;
  const fs::file_status st = fs::status(spec, ec);
  if (fs::is_directory(st)) return from_folder(spec, spec);
  if (fs::exists(st)) return from_file(spec, need_weights);
  if (std::find(presets.begin(), presets.end(), spec) != presets.end()) {
    ModelSource s;
    s.is_preset = true;
    s.preset = spec;
    return s;
  }
  const int err = ec ? ec.value() : ENOENT;
  throw InputError(fmt::format("{}: error: not a model preset ({}) and not a file or folder ({})", spec,
                               fmt::join(presets, ", "), std::strerror(err)));
}

}  // namespace plena::model

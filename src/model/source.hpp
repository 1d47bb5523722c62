// Where a `--model` argument points: a preset name or a Hugging Face checkpoint on disk. One rule
// for every command that takes --model (run, compile, estimate): a path that exists is a path.
#pragma once
#include <filesystem>
#include <string>

namespace plena::model {

struct ModelSource {
  bool is_preset = false;
  std::string preset;           // preset name when is_preset
  std::filesystem::path dir;    // the checkpoint folder (weights and, by default, config.json)
  std::filesystem::path config; // the config.json to read
  std::string note;             // non-empty when a file argument was mapped to its folder
};

// Resolution rule (docs/run.md "Choosing the model"):
//  0. "preset:NAME" is always the preset NAME (the commands' defaults use it, so a folder that
//     happens to be named like the default does not replace it);
//  1. an existing folder is a checkpoint folder (it must hold config.json);
//  2. an existing file named config.json, *.safetensors or model.safetensors.index.json stands for
//     its folder; another existing *.json is a config file (config only: `need_weights` false);
//  3. otherwise a preset name; 4. otherwise InputError naming the argument, the presets and the
//     OS reason the path could not be opened.
// A preset name therefore never shadows a folder of the same name.
ModelSource resolve_model_source(const std::string& spec, bool need_weights);

}  // namespace plena::model

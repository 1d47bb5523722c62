// --model resolution: a path that exists is a path; checkpoint files stand for their folder.
#include <unistd.h>

#include "model/source.hpp"
#include "test_util.hpp"

namespace plena::model {
namespace {

using testing::expect_input_error;
using testing::fresh_dir;

// A checkpoint folder with config.json (and an empty safetensors file: resolution never reads it).
std::filesystem::path checkpoint(const std::string& name) {
  const auto dir = fresh_dir(name);
  write_text_file(dir / "config.json", hf_config_json(model_preset("tiny")));
  write_text_file(dir / "model.safetensors", "");
  return dir;
}

TEST(ModelSource, PresetName) {
  const ModelSource s = resolve_model_source("tiny-qwen3", true);
  EXPECT_TRUE(s.is_preset);
  EXPECT_EQ(s.preset, "tiny-qwen3");
}

TEST(ModelSource, FolderNamedLikeAPresetIsTheFolder) {
  const auto dir = checkpoint("shadow") / "tiny";
  std::filesystem::create_directories(dir);
  write_text_file(dir / "config.json", "{}");
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.parent_path());
  const ModelSource s = resolve_model_source("tiny", true);
  std::filesystem::current_path(cwd);
  EXPECT_FALSE(s.is_preset);
  EXPECT_EQ(s.dir, std::filesystem::path("tiny"));
  EXPECT_EQ(s.config, std::filesystem::path("tiny") / "config.json");
  std::filesystem::current_path(dir.parent_path());
  const ModelSource p = resolve_model_source("preset:tiny", true);  // the explicit (default) form
  std::filesystem::current_path(cwd);
  EXPECT_TRUE(p.is_preset);
  EXPECT_EQ(p.preset, "tiny");
  expect_input_error([] { resolve_model_source("preset:huge", false); }, {"unknown preset 'huge'", "tiny-qwen2"});
}

TEST(ModelSource, CheckpointFilesStandForTheirFolder) {
  const auto dir = checkpoint("files");
  write_text_file(dir / "model-00001-of-00002.safetensors", "");
  write_text_file(dir / "model.safetensors.index.json", "{}");
  for (const char* f : {"config.json", "model.safetensors", "model-00001-of-00002.safetensors",
                        "model.safetensors.index.json"}) {
    SCOPED_TRACE(f);
    const ModelSource s = resolve_model_source((dir / f).string(), true);
    EXPECT_FALSE(s.is_preset);
    EXPECT_EQ(s.dir, dir);
    EXPECT_EQ(s.config, dir / "config.json");
    EXPECT_NE(s.note.find("using its folder"), std::string::npos) << s.note;
  }
}

TEST(ModelSource, OtherConfigFileIsConfigOnly) {
  const auto dir = fresh_dir("other_json");
  write_text_file(dir / "my_model.json", hf_config_json(model_preset("tiny")));
  const ModelSource s = resolve_model_source((dir / "my_model.json").string(), false);
  EXPECT_EQ(s.config, dir / "my_model.json");
  expect_input_error([&] { resolve_model_source((dir / "my_model.json").string(), true); },
                     {"my_model.json", "pass the checkpoint folder"});
}

TEST(ModelSource, Errors) {
  const auto dir = fresh_dir("errors");
  expect_input_error([&] { resolve_model_source(dir.string(), true); }, {dir.string(), "no config.json"});
  write_text_file(dir / "weights.bin", "x");
  expect_input_error([&] { resolve_model_source((dir / "weights.bin").string(), false); },
                     {"weights.bin", "pass the folder"});
  expect_input_error([&] { resolve_model_source("no-such-model", false); },
                     {"no-such-model", "tiny", "llama-3.1-8b", "No such file or directory"});
  expect_input_error([&] { resolve_model_source((dir / "missing" / "config.json").string(), false); },
                     {"missing", "No such file or directory"});
  expect_input_error([&] { resolve_model_source("", false); }, {"--model", "empty"});
}

}  // namespace
}  // namespace plena::model

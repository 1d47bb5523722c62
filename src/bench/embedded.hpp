// Internal to src/bench: the data/bench files compiled into the library (generated
// embedded_files.cpp), so the binary needs no data directory at run time.
#pragma once
#include <span>
#include <string_view>

namespace plena::bench::detail {

struct EmbeddedFile {
  std::string_view path;  // relative to data/bench: "tasks/silu.toml", "hardware/m64-bf16.toml"
  std::string_view text;
};
std::span<const EmbeddedFile> embedded_files();

}  // namespace plena::bench::detail

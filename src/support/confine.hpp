// Confinement of paths named inside input files: a run spec (or any other input) may only name
// files inside the folder the user chose (the spec's folder for inputs, --out-dir for outputs).
// Symlinks are resolved first, so a link inside the folder that points outside is refused too.
#pragma once
#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace plena {

struct ConfinedPath {
  std::filesystem::path path;  // the resolved path (absolute, symlinks resolved) when error is empty
  std::string error;           // why `written` is refused
};

// Resolves `written` (relative to `root`, or absolute) and checks that it stays inside `root`.
inline ConfinedPath confine_path(const std::filesystem::path& root, std::string_view written) {
  namespace fs = std::filesystem;
  if (written.empty()) return {{}, "is empty; expected a file name inside the folder"};
  if (written.find('\0') != std::string_view::npos) return {{}, "contains a NUL character"};
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::absolute(root, ec), ec);
  if (ec) return {{}, fmt::format("cannot resolve the folder '{}': {}", root.string(), ec.message())};
  const fs::path given(written);
  const fs::path full = fs::weakly_canonical(given.is_absolute() ? given : base / given, ec);
  if (ec) return {{}, fmt::format("cannot resolve '{}': {}", written, ec.message())};
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  // A trailing empty element (root "dir/") matches anything below it.
  if (b != base.end() && !(std::next(b) == base.end() && b->empty())) {
    return {{}, fmt::format("'{}' resolves to {}, outside the folder {}; paths must stay inside it (no '..' above it, "
                            "no absolute paths elsewhere, no symlinks leading out)",
                            written, full.string(), base.string())};
  }
  return {full, {}};
}

// A file named inside an input file that must sit in that file's own folder (quant JSON arrays,
// safetensors shards): a plain name, no separator, not "." or "..".
inline bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

}  // namespace plena

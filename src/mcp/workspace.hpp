// The folder an MCP session may touch. Agents name kernel files by relative paths; every path is
// checked lexically (no absolute paths, no '..', a small alphabet, a .asm suffix) and then on disk
// (no symlink anywhere below the root, regular files only), so nothing outside the folder is ever
// read or written, and the session log (not .asm) cannot be overwritten.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace plena::mcp {

struct WorkspaceLimits {
  size_t max_file_bytes = 256 * 1024;  // one kernel file
  size_t max_files = 256;              // files a session may create
  size_t max_depth = 4;                // folders below the root
};

// Throws plena::InputError with a message the model can act on.
class Workspace {
 public:
  // Creates `root` when missing; InputError when it cannot be used as a folder.
  Workspace(const std::filesystem::path& root, WorkspaceLimits limits = {});
  const std::filesystem::path& root() const { return root_; }
  const WorkspaceLimits& limits() const { return limits_; }

  // Writes `content` to `rel` (creating folders); returns the normalized relative path.
  std::string write(std::string_view rel, std::string_view content);
  std::string read(std::string_view rel) const;

  // Lexical check of an agent-supplied path; returns it normalized ("a/b.asm") or throws.
  std::string normalize(std::string_view rel) const;

 private:
  std::filesystem::path checked_on_disk(const std::string& rel, bool for_write) const;
  std::filesystem::path root_;
  WorkspaceLimits limits_;
  size_t created_ = 0;
};

}  // namespace plena::mcp

// Checked, atomic output files (docs/cli.md "Output files").
//
// Every file the toolchain writes goes through OutputFile (write_text_file, write_binary_file and
// npy_save use it). A regular target is written to a temporary file in the target's own folder
// (same filesystem, so the final rename is atomic), every write and the close are checked, and
// the temporary is renamed over the target. "-" is standard output. An existing target that is not
// a regular file (/dev/full, a FIFO, a terminal) cannot be renamed over: it is written directly,
// every write checked. Errors are InputError "<target>: error: cannot write file: <OS reason>".
// No fsync: outputs are regenerable artefacts; atomicity (never a half-written or half-replaced
// file) is the promise, durability across power loss is not.
#pragma once
#include <filesystem>
#include <memory>
#include <ostream>
#include <string_view>

namespace plena {

class OutputFile {
 public:
  explicit OutputFile(const std::filesystem::path& target);
  ~OutputFile();  // not closed: the temporary is removed, the target untouched
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::ostream& stream();
  void write(std::string_view bytes);
  // Flushes and closes (checked), then renames over the target — or, while an OutputTransaction
  // is open, leaves the rename to the transaction's commit().
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One whole file through OutputFile.
void write_output_file(const std::filesystem::path& target, std::string_view bytes);

// A command's outputs as one unit: while it is open, OutputFile::close() stages its temporary;
// commit() renames every staged file over its target, and destruction without commit removes
// them all, so a failed command leaves no new or changed output file. Renames happen in the
// targets' own folders, after every file has been written and checked completely. One
// transaction at a time (the CLI opens it in main()).
class OutputTransaction {
 public:
  OutputTransaction();
  ~OutputTransaction();
  OutputTransaction(const OutputTransaction&) = delete;
  OutputTransaction& operator=(const OutputTransaction&) = delete;
  void commit();
};

// Commits the open transaction's staged files now (a simulation fault keeps its debugging
// outputs although the command fails); no-op without one.
void commit_staged_outputs();

// Flushes standard output; InputError "plena: error: cannot write to standard output: <reason>"
// if this or any earlier write to it failed.
void check_stdout();

}  // namespace plena

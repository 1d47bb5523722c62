#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "support/output.hpp"
#include "support/support.hpp"

namespace plena {

std::string located(std::string_view file, int line, int col, std::string_view msg) {
  std::string loc(file);
  if (line > 0) loc += fmt::format(":{}", line);
  if (line > 0 && col > 0) loc += fmt::format(":{}", col);
  return fmt::format("{}: error: {}", loc, msg);
}

void throw_input(std::string_view file, int line, int col, std::string_view msg) {
  throw InputError(located(file, line, col, msg));
}

std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: error: cannot open file for reading", p.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint8_t> read_binary_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: error: cannot open file for reading", p.string()));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Both through the atomic, checked output path (support/output.hpp).
void write_text_file(const std::filesystem::path& p, std::string_view text) { write_output_file(p, text); }

void write_binary_file(const std::filesystem::path& p, std::span<const uint8_t> bytes) {
  write_output_file(p, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace plena

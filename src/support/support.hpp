// Small shared utilities: located errors, .npy I/O, stable hashing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace plena {

// Every user-facing failure is one of these. The CLI maps them to exit codes:
// InputError -> 1 (bad asm/config/model/spec/flag), SimFault -> 2 (simulation fault).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class SimFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "file:line:col: error: msg" (line/col omitted when 0).
std::string located(std::string_view file, int line, int col, std::string_view msg);
[[noreturn]] void throw_input(std::string_view file, int line, int col, std::string_view msg);

std::string read_text_file(const std::filesystem::path& p);  // InputError if unreadable
std::vector<uint8_t> read_binary_file(const std::filesystem::path& p);
void write_text_file(const std::filesystem::path& p, std::string_view text);
void write_binary_file(const std::filesystem::path& p, std::span<const uint8_t> bytes);

// ---- NumPy .npy (format 1.0/2.0/3.0, little-endian, C or Fortran order) ----
struct NpyArray {
  std::string dtype;           // numpy descr without byte-order char: "f4","f8","f2","i4","i8","u1","i1","u2","u4","i2","u8","b1"
  std::vector<size_t> shape;
  bool fortran_order = false;  // data is always returned C-ordered; kept for information
  std::vector<uint8_t> data;   // raw little-endian element bytes, C order

  size_t size() const;         // number of elements
  size_t itemsize() const;
  // Converts any numeric dtype to float32 (f8 rounded, ints converted exactly where representable).
  std::vector<float> to_f32() const;
  std::vector<int64_t> to_i64() const;  // integer or bool dtypes only; InputError otherwise
};
NpyArray npy_load(const std::filesystem::path& p);                 // InputError naming the file
NpyArray npy_parse(std::span<const uint8_t> bytes, std::string_view name);
std::vector<uint8_t> npy_serialize(const NpyArray& a);
void npy_save(const std::filesystem::path& p, const NpyArray& a);
NpyArray npy_from_f32(std::span<const float> v, std::vector<size_t> shape);
NpyArray npy_from_i64(std::span<const int64_t> v, std::vector<size_t> shape);
NpyArray npy_from_u8(std::span<const uint8_t> v, std::vector<size_t> shape);

// ---- Stable hashing (FNV-1a 64; used for canonical config hashes) ----
uint64_t fnv1a64(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ull);
std::string hex64(uint64_t v);  // 16 lowercase hex digits

}  // namespace plena

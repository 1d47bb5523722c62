// Minimal, strict NumPy .npy reader/writer (little-endian numeric dtypes only).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cstring>
#include <optional>

#include "support/checked.hpp"
#include "support/support.hpp"

namespace plena {
namespace {

// numpy's limit on an array's size in bytes (npy_intp).
constexpr size_t kMaxBytes = size_t(INT64_MAX);
constexpr size_t kMaxDims = 64;  // numpy 2's NPY_MAXDIMS

size_t dtype_itemsize(std::string_view d) {
  if (d == "f4" || d == "i4" || d == "u4") return 4;
  if (d == "f8" || d == "i8" || d == "u8") return 8;
  if (d == "f2" || d == "i2" || d == "u2") return 2;
  if (d == "u1" || d == "i1" || d == "b1") return 1;
  return 0;
}

template <class T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;  // host is little-endian (checked below)
}
static_assert(std::endian::native == std::endian::little, "plena-cpp assumes a little-endian host");

float half_to_float(uint16_t h) {
  uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign << 31;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        man <<= 1;
        ++e;
      } while ((man & 0x400u) == 0);
      man &= 0x3ffu;
      bits = (sign << 31) | (static_cast<uint32_t>(127 - 15 - e) << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = (sign << 31) | 0x7f800000u | (man << 13);
  } else {
    bits = (sign << 31) | ((exp + 112u) << 23) | (man << 13);
  }
  return std::bit_cast<float>(bits);
}

// Rewrites Fortran-ordered data in C order (sizes were validated by npy_parse).
void to_c_order(NpyArray& a) {
  const size_t is = a.itemsize(), nd = a.shape.size(), n = a.size();
  std::vector<uint8_t> c(a.data.size());
  std::vector<size_t> idx(nd, 0);  // C-order multi-index of element lin
  for (size_t lin = 0; lin < n; ++lin) {
    size_t foff = 0, mul = 1;
    for (size_t d = 0; d < nd; ++d) {
      foff += idx[d] * mul;
      mul *= a.shape[d];
    }
    std::memcpy(&c[lin * is], &a.data[foff * is], is);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < a.shape[d]) break;
      idx[d] = 0;
    }
  }
  a.data.swap(c);
}

}  // namespace

size_t NpyArray::itemsize() const { return dtype_itemsize(dtype); }

size_t NpyArray::size() const {
  auto n = checked_product(shape);
  if (!n) throw std::length_error(fmt::format("npy: shape {} overflows the element count", fmt::join(shape, "x")));
  return *n;
}

std::vector<float> NpyArray::to_f32() const {
  const size_t n = size(), is = itemsize();
  std::vector<float> out(n);
  const uint8_t* p = data.data();
  for (size_t i = 0; i < n; ++i, p += is) {
    if (dtype == "f4") out[i] = load_le<float>(p);
    else if (dtype == "f8") out[i] = static_cast<float>(load_le<double>(p));
    else if (dtype == "f2") out[i] = half_to_float(load_le<uint16_t>(p));
    else if (dtype == "i4") out[i] = static_cast<float>(load_le<int32_t>(p));
    else if (dtype == "i8") out[i] = static_cast<float>(load_le<int64_t>(p));
    else if (dtype == "i2") out[i] = static_cast<float>(load_le<int16_t>(p));
    else if (dtype == "i1") out[i] = static_cast<float>(load_le<int8_t>(p));
    else if (dtype == "u1" || dtype == "b1") out[i] = static_cast<float>(*p);
    else if (dtype == "u2") out[i] = static_cast<float>(load_le<uint16_t>(p));
    else if (dtype == "u4") out[i] = static_cast<float>(load_le<uint32_t>(p));
    else if (dtype == "u8") out[i] = static_cast<float>(load_le<uint64_t>(p));
    else throw InputError(fmt::format("error: unsupported .npy dtype '{}'", dtype));
  }
  return out;
}

std::vector<int64_t> NpyArray::to_i64() const {
  const size_t n = size(), is = itemsize();
  std::vector<int64_t> out(n);
  const uint8_t* p = data.data();
  for (size_t i = 0; i < n; ++i, p += is) {
    if (dtype == "i4") out[i] = load_le<int32_t>(p);
    else if (dtype == "i8") out[i] = load_le<int64_t>(p);
    else if (dtype == "i2") out[i] = load_le<int16_t>(p);
    else if (dtype == "i1") out[i] = load_le<int8_t>(p);
    else if (dtype == "u1" || dtype == "b1") out[i] = *p;
    else if (dtype == "u2") out[i] = load_le<uint16_t>(p);
    else if (dtype == "u4") out[i] = load_le<uint32_t>(p);
    else if (dtype == "u8") out[i] = static_cast<int64_t>(load_le<uint64_t>(p));
    else throw InputError(fmt::format("error: .npy dtype '{}' is not an integer type", dtype));
  }
  return out;
}

namespace {

// Strict reader for the .npy header, the rule numpy's read_array_header applies (docs/formats.md,
// ".npy files"): an ASCII Python dict literal with exactly the keys 'descr', 'fortran_order' and
// 'shape', each once; 'shape' a tuple of non-negative decimal integers; then only whitespace.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, size_t file_offset, std::string_view name)
      : t_(text), base_(file_offset), name_(name) {}

  void parse(NpyArray& a) {
    check_ascii();
    skip_space();
    expect('{', "'{' opening the header dict");
    bool seen[3] = {false, false, false};
    static constexpr std::string_view kKeys[3] = {"descr", "fortran_order", "shape"};
    for (;;) {
      skip_space();
      if (eat('}')) break;
      const size_t key_pos = pos_;
      std::string key = quoted("a quoted key ('descr', 'fortran_order' or 'shape')");
      size_t k = 0;
      while (k < 3 && kKeys[k] != key) ++k;
      if (k == 3) fail(key_pos, fmt::format("unknown key '{}'; expected 'descr', 'fortran_order' and 'shape'", key));
      if (seen[k]) fail(key_pos, fmt::format("duplicate key '{}'", key));
      seen[k] = true;
      skip_space();
      expect(':', fmt::format("':' after key '{}'", key));
      skip_space();
      if (k == 0) parse_descr(a);
      else if (k == 1) a.fortran_order = python_bool();
      else {
        shape_at_ = pos_;
        a.shape = shape_tuple();
      }
      skip_space();
      if (!eat(',')) {
        expect('}', "',' or '}' after a value");
        break;
      }
    }
    skip_space();
    if (pos_ != t_.size()) fail(pos_, fmt::format("{} after the header dict; expected only padding", got()));
    for (size_t k = 0; k < 3; ++k)
      if (!seen[k]) fail(pos_, fmt::format("missing key '{}' in the header dict", kKeys[k]));
  }

  size_t shape_at() const { return shape_at_; }  // offset of the 'shape' value, for size errors

  [[noreturn]] void fail(size_t pos, std::string_view what) const {
    throw InputError(fmt::format("{}: error: .npy header, byte {}: {}", name_, base_ + pos, what));
  }

 private:
  void check_ascii() const {
    for (size_t i = 0; i < t_.size(); ++i) {
      const auto c = static_cast<unsigned char>(t_[i]);
      if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c > 0x7e)
        fail(i, fmt::format("byte 0x{:02x} is not printable ASCII; expected a Python dict literal", c));
    }
  }
  void skip_space() {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < t_.size() && t_[pos_] == c) return ++pos_, true;
    return false;
  }
  std::string got() const { return pos_ < t_.size() ? fmt::format("'{}'", t_[pos_]) : "end of header"; }
  void expect(char c, std::string_view what) {
    if (!eat(c)) fail(pos_, fmt::format("expected {}, got {}", what, got()));
  }
  bool starts_with(std::string_view w) const { return t_.substr(pos_, w.size()) == w; }

  std::string quoted(std::string_view what) {
    if (pos_ >= t_.size() || (t_[pos_] != '\'' && t_[pos_] != '"')) fail(pos_, fmt::format("expected {}, got {}", what, got()));
    const char q = t_[pos_++];
    const size_t end = t_.find(q, pos_);
    if (end == std::string_view::npos) fail(pos_ - 1, "unterminated string");
    std::string s(t_.substr(pos_, end - pos_));
    if (s.find('\\') != std::string::npos) fail(pos_, "escape sequences are not supported in header strings");
    pos_ = end + 1;
    return s;
  }

  void parse_descr(NpyArray& a) {
    const size_t at = pos_;
    if (pos_ < t_.size() && t_[pos_] == '[') fail(at, "structured dtypes are not supported; expected a plain numeric descr");
    std::string d = quoted("a dtype string such as '<f4'");
    const char order = d.empty() ? 0 : d[0];
    std::string code = (order == '<' || order == '>' || order == '|' || order == '=') ? d.substr(1) : d;
    const size_t is = dtype_itemsize(code);
    if (is == 0)
      fail(at, fmt::format("unsupported dtype '{}'; expected f2/f4/f8/i1/i2/i4/i8/u1/u2/u4/u8/b1", d));
    if (order == '>' && is > 1) fail(at, fmt::format("big-endian dtype '{}' is not supported", d));
    if (order == '|' && is > 1) fail(at, fmt::format("dtype '{}': '|' (no byte order) is only valid for 1-byte types", d));
    a.dtype = code;
  }

  bool python_bool() {
    if (starts_with("True")) return pos_ += 4, true;
    if (starts_with("False")) return pos_ += 5, false;
    fail(pos_, fmt::format("'fortran_order' must be True or False, got {}", got()));
  }

  // One dimension: a decimal integer without leading zeros (Python 2's 'L' suffix allowed).
  size_t dim(size_t index) {
    const size_t at = pos_;
    if (eat('-')) fail(at, fmt::format("'shape' entry {} is negative; expected a non-negative integer", index));
    if (pos_ >= t_.size() || t_[pos_] < '0' || t_[pos_] > '9')
      fail(at, fmt::format("'shape' entry {}: expected a non-negative integer, got {}", index, got()));
    if (t_[pos_] == '0' && pos_ + 1 < t_.size() && t_[pos_ + 1] >= '0' && t_[pos_ + 1] <= '9')
      fail(at, fmt::format("'shape' entry {} has a leading zero; expected a decimal integer", index));
    std::optional<size_t> v = 0;
    for (; pos_ < t_.size() && t_[pos_] >= '0' && t_[pos_] <= '9'; ++pos_) {
      if (v) v = checked_mul(*v, 10);
      if (v) v = checked_add(*v, size_t(t_[pos_] - '0'));
      if (v && *v > kMaxBytes) v.reset();
    }
    if (!v) fail(at, fmt::format("'shape' entry {} is larger than 2^63-1", index));
    eat('L');
    return *v;
  }

  std::vector<size_t> shape_tuple() {
    const size_t at = pos_;
    expect('(', "a tuple for 'shape' such as (2, 3)");
    std::vector<size_t> shape;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (eat(')')) break;
      shape.push_back(dim(shape.size()));
      skip_space();
      trailing_comma = eat(',');
      if (!trailing_comma) {
        expect(')', "',' or ')' in 'shape'");
        break;
      }
    }
    if (shape.size() > kMaxDims)
      fail(at, fmt::format("'shape' has {} dimensions; expected at most {} (numpy's limit)", shape.size(), kMaxDims));
    if (shape.size() == 1 && !trailing_comma)
      fail(at, fmt::format("'shape' ({}) is not a tuple; expected ({},)", shape[0], shape[0]));
    return shape;
  }

  std::string_view t_;
  size_t pos_ = 0, base_, shape_at_ = 0;
  std::string name_;
};

std::string shape_text(std::span<const size_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Bytes the array's data occupies. Like numpy, the product of the non-zero dims times the item size
// must fit in 63 bits even when another dim is zero, so loops over any one axis stay bounded.
std::optional<size_t> data_bytes(const NpyArray& a) {
  size_t n = a.itemsize();
  bool zero = false;
  for (size_t d : a.shape) {
    if (d == 0) zero = true;
    else if (auto m = checked_mul(n, d); m && *m <= kMaxBytes) n = *m;
    else return std::nullopt;
  }
  return zero ? 0 : n;
}

}  // namespace

NpyArray npy_parse(std::span<const uint8_t> b, std::string_view name) {
  auto fail = [&](std::string_view what) -> NpyArray {
    throw InputError(fmt::format("{}: error: {}", name, what));
  };
  if (b.size() < 6 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    return fail("not a .npy file: expected the magic bytes \\x93NUMPY at byte 0");
  if (b.size() < 10) return fail(fmt::format("file of {} bytes ends inside the .npy preamble (10 bytes)", b.size()));
  const int major = b[6], minor = b[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return fail(fmt::format("byte 6: unsupported .npy format version {}.{}; expected 1.0, 2.0 or 3.0", major, minor));
  size_t hlen = b[8] | (b[9] << 8), off = 10;
  if (major >= 2) {
    if (b.size() < 12) return fail(fmt::format("file of {} bytes ends inside the .npy preamble (12 bytes)", b.size()));
    hlen |= (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
    off = 12;
  }
  if (hlen > b.size() - off)
    return fail(fmt::format("byte 8: header length {} runs past the end of the file ({} bytes after byte {})", hlen,
                            b.size() - off, off));
  NpyArray a;
  NpyHeaderParser hp(std::string_view(reinterpret_cast<const char*>(b.data() + off), hlen), off, name);
  hp.parse(a);
  const size_t doff = off + hlen, present = b.size() - doff;
  auto nbytes = data_bytes(a);
  if (!nbytes)
    hp.fail(hp.shape_at(), fmt::format("shape {} of '{}' needs more than 2^63 bytes", shape_text(a.shape), a.dtype));
  if (present != *nbytes)
    return fail(fmt::format("byte {}: shape {} of '{}' declares {} data bytes, the file has {}{}", doff,
                            shape_text(a.shape), a.dtype, *nbytes, present,
                            present < *nbytes ? " (truncated)" : "; expected the file to end after the data"));
  a.data.assign(b.begin() + static_cast<ptrdiff_t>(doff), b.end());
  if (a.fortran_order && a.shape.size() > 1) to_c_order(a);
  return a;
}

NpyArray npy_load(const std::filesystem::path& p) {
  auto bytes = read_binary_file(p);
  return npy_parse(bytes, p.string());
}

std::vector<uint8_t> npy_serialize(const NpyArray& a) {
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) shape += fmt::format("{}, ", a.shape[i]);
  if (a.shape.size() > 1) shape.resize(shape.size() - 2);
  else if (a.shape.size() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  const char bo = (a.itemsize() == 1) ? '|' : '<';
  std::string hdr = fmt::format("{{'descr': '{}{}', 'fortran_order': False, 'shape': {}, }}", bo, a.dtype, shape);
  size_t total = 10 + hdr.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  hdr.append(pad, ' ');
  hdr.push_back('\n');
  // Sized once and filled with memcpy (GCC 12 -O3 warns spuriously on chained inserts).
  std::vector<uint8_t> out(10 + hdr.size() + a.data.size());
  std::memcpy(out.data(), "\x93NUMPY\x01\x00", 8);
  out[8] = static_cast<uint8_t>(hdr.size() & 0xff);
  out[9] = static_cast<uint8_t>(hdr.size() >> 8);
  std::memcpy(out.data() + 10, hdr.data(), hdr.size());
  if (!a.data.empty()) std::memcpy(out.data() + 10 + hdr.size(), a.data.data(), a.data.size());
  return out;
}

void npy_save(const std::filesystem::path& p, const NpyArray& a) { write_binary_file(p, npy_serialize(a)); }

namespace {
template <class T>
NpyArray npy_from(std::span<const T> v, std::vector<size_t> shape, const char* dtype) {
  NpyArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  if (a.size() != v.size())
    throw std::invalid_argument(fmt::format("npy_from: shape has {} elements, data has {}", a.size(), v.size()));
  a.data.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(a.data.data(), v.data(), a.data.size());
  return a;
}
}  // namespace

NpyArray npy_from_f32(std::span<const float> v, std::vector<size_t> shape) { return npy_from(v, std::move(shape), "f4"); }
NpyArray npy_from_i64(std::span<const int64_t> v, std::vector<size_t> shape) { return npy_from(v, std::move(shape), "i8"); }
NpyArray npy_from_u8(std::span<const uint8_t> v, std::vector<size_t> shape) { return npy_from(v, std::move(shape), "u1"); }

}  // namespace plena

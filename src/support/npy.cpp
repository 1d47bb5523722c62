// Minimal, strict NumPy .npy reader/writer (little-endian numeric dtypes only).
#include <fmt/format.h>

#include <bit>
#include <cstring>

#include "support/support.hpp"

namespace plena {
namespace {

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

// Finds the value text for key in the header dict: everything after "'key':" up to the next
// top-level comma or closing brace (parentheses respected for the shape tuple).
std::string dict_value(std::string_view hdr, std::string_view key, std::string_view name) {
  std::string k = fmt::format("'{}'", key);
  auto pos = hdr.find(k);
  if (pos == std::string_view::npos)
    throw InputError(fmt::format("{}: error: .npy header has no '{}' entry", name, key));
  pos = hdr.find(':', pos + k.size());
  if (pos == std::string_view::npos) throw InputError(fmt::format("{}: error: malformed .npy header", name));
  ++pos;
  int depth = 0;
  size_t end = pos;
  for (; end < hdr.size(); ++end) {
    char c = hdr[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string v(hdr.substr(pos, end - pos));
  auto a = v.find_first_not_of(" \t");
  auto b = v.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : v.substr(a, b - a + 1);
}

}  // namespace

size_t NpyArray::itemsize() const { return dtype_itemsize(dtype); }

size_t NpyArray::size() const {
  size_t n = 1;
  for (auto s : shape) n *= s;
  return n;
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

NpyArray npy_parse(std::span<const uint8_t> b, std::string_view name) {
  auto fail = [&](std::string_view what) -> NpyArray {
    throw InputError(fmt::format("{}: error: not a valid .npy file: {}", name, what));
  };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return fail("bad magic");
  const int major = b[6];
  size_t hlen, off;
  if (major == 1) {
    hlen = b[8] | (b[9] << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return fail("truncated header");
    hlen = b[8] | (b[9] << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
    off = 12;
  } else {
    return fail(fmt::format("unsupported format version {}", major));
  }
  if (off + hlen > b.size()) return fail("truncated header");
  std::string_view hdr(reinterpret_cast<const char*>(b.data() + off), hlen);
  NpyArray a;
  std::string descr = dict_value(hdr, "descr", name);
  if (descr.size() < 4 || (descr.front() != '\'' && descr.front() != '"')) return fail("bad descr");
  descr = descr.substr(1, descr.size() - 2);
  char order = descr[0];
  if (order == '>') return fail("big-endian data is not supported");
  if (order == '<' || order == '|' || order == '=') descr = descr.substr(1);
  if (dtype_itemsize(descr) == 0)
    return fail(fmt::format("unsupported dtype '{}' (expected f2/f4/f8/i1/i2/i4/i8/u1/u2/u4/u8/b1)", descr));
  a.dtype = descr;
  std::string fo = dict_value(hdr, "fortran_order", name);
  if (fo == "True") a.fortran_order = true;
  else if (fo != "False") return fail("bad fortran_order");
  std::string shape = dict_value(hdr, "shape", name);
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') return fail("bad shape");
  std::string_view inner(shape.data() + 1, shape.size() - 2);
  size_t i = 0;
  while (i < inner.size()) {
    while (i < inner.size() && (inner[i] == ' ' || inner[i] == ',')) ++i;
    if (i >= inner.size()) break;
    size_t v = 0;
    bool any = false;
    while (i < inner.size() && inner[i] >= '0' && inner[i] <= '9') {
      v = v * 10 + size_t(inner[i] - '0');
      ++i;
      any = true;
    }
    if (i < inner.size() && inner[i] == 'L') ++i;
    if (!any) return fail("bad shape entry");
    a.shape.push_back(v);
  }
  const size_t nbytes = a.size() * a.itemsize();
  const size_t doff = off + hlen;
  if (b.size() - doff < nbytes)
    return fail(fmt::format("data truncated: header promises {} bytes, file has {}", nbytes, b.size() - doff));
  a.data.assign(b.begin() + static_cast<ptrdiff_t>(doff), b.begin() + static_cast<ptrdiff_t>(doff + nbytes));
  if (a.fortran_order && a.shape.size() > 1) {
    // Transpose to C order.
    const size_t is = a.itemsize(), nd = a.shape.size(), n = a.size();
    std::vector<uint8_t> c(a.data.size());
    std::vector<size_t> idx(nd, 0);
    for (size_t lin = 0; lin < n; ++lin) {
      // idx is the C-order multi-index of lin; compute Fortran offset.
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

// Hand-made .npy images for reader tests: any header text, any number of data bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace plena::test {

// Magic, version major.0, little-endian header length (2 bytes for v1, 4 for v2/v3), the header
// padded with spaces and a newline to a multiple of 64 bytes, then data_bytes bytes of 0x11.
inline std::vector<uint8_t> craft_npy(std::string hdr, size_t data_bytes, int major = 1) {
  const size_t pre = major == 1 ? 10 : 12;
  while ((pre + hdr.size() + 1) % 64) hdr += ' ';
  hdr += '\n';
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(major), 0};
  for (size_t i = 0; i < pre - 8; ++i) b.push_back(uint8_t(hdr.size() >> (8 * i)));
  b.insert(b.end(), hdr.begin(), hdr.end());
  b.insert(b.end(), data_bytes, 0x11);
  return b;
}

// Header dict for descr and shape text, e.g. npy_dict("<f4", "(2, 3)").
inline std::string npy_dict(std::string_view descr, std::string_view shape) {
  return "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + std::string(shape) + ", }";
}

}  // namespace plena::test

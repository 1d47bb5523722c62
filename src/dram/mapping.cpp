#include "dram/mapping.hpp"

#include <bit>
#include <string>

#include "support/support.hpp"

namespace plena::dram {
namespace {

uint32_t log2u(uint64_t v) { return static_cast<uint32_t>(std::countr_zero(v)); }

}  // namespace

// "mop4clxor" (default), LSB first: 256 B of a row (4 x 64 B lines) | channel | pseudo-channel |
// bank group | bank | rest of column | row; the bank index is XORed with the row's low bits
// and the unit (channel, pseudo-channel) with a fold of all bits above it, so power-of-two
// strides spread over units and banks. Otherwise a field order MSB..LSB such as "RoBaBgCoPcCh",
// each of Ro Ba Bg Co Pc Ch exactly once with Ro first, no XOR.
Mapping::Mapping(const Params& p) {
  atom_shift_ = log2u(p.atom_bytes);
  pc_bits_ = log2u(p.pseudo_channels);
  ba_bits_ = log2u(p.banks_per_group);
  const uint32_t ch_bits = log2u(p.channels), bg_bits = log2u(p.bank_groups);
  const uint32_t co_bits = log2u(p.row_bytes / p.atom_bytes);
  unit_bits_ = ch_bits + pc_bits_;
  bank_bits_ = bg_bits + ba_bits_;
  auto width = [&](Field f) -> uint32_t {
    switch (f) {
      case kCh: return ch_bits;
      case kPc: return pc_bits_;
      case kBg: return bg_bits;
      case kBa: return ba_bits_;
      case kCo: return co_bits;
      case kRo: return 0;
    }
    return 0;
  };
  if (p.mapping == "mop4clxor") {
    xor_ = true;
    uint32_t lo = p.atom_bytes >= 256 ? 0 : log2u(256 / p.atom_bytes);
    if (lo > co_bits) lo = co_bits;
    segments_ = {{kCo, uint8_t(lo), 0},        {kCh, uint8_t(ch_bits), 0}, {kPc, uint8_t(pc_bits_), 0},
                 {kBg, uint8_t(bg_bits), 0},   {kBa, uint8_t(ba_bits_), 0},
                 {kCo, uint8_t(co_bits - lo), uint8_t(lo)}, {kRo, 0, 0}};
    unit_fold_shift_ = lo + unit_bits_;
    return;
  }
  const std::string& m = p.mapping;
  auto fail = [&](const std::string& why) {
    throw InputError(located("dram params '" + p.name + "'", 0, 0,
                             "mapping '" + m + "': " + why +
                                 "; expected 'mop4clxor' or an order of Ro Ba Bg Co Pc Ch (MSB first, Ro first) such as 'RoBaBgCoPcCh'"));
  };
  if (m.size() != 12) fail("wrong length");
  std::vector<Field> msb_first;
  bool seen[6] = {};
  for (size_t i = 0; i < m.size(); i += 2) {
    const std::string tok = m.substr(i, 2);
    Field f{};  // every branch assigns it or fail() throws
    if (tok == "Ch") f = kCh;
    else if (tok == "Pc") f = kPc;
    else if (tok == "Bg") f = kBg;
    else if (tok == "Ba") f = kBa;
    else if (tok == "Co") f = kCo;
    else if (tok == "Ro") f = kRo;
    else fail("unknown field '" + tok + "' at column " + std::to_string(i + 1));
    if (seen[f]) fail("field '" + tok + "' repeated");
    seen[f] = true;
    msb_first.push_back(f);
  }
  if (msb_first.front() != kRo) fail("Ro must be the most significant field");
  for (auto it = msb_first.rbegin(); it != msb_first.rend(); ++it)
    segments_.push_back({*it, uint8_t(width(*it)), 0});
}

Mapping::Decoded Mapping::decode_atom(uint64_t atom_index) const {
  uint64_t v[6] = {};
  uint64_t x = atom_index;
  for (const Segment& s : segments_) {
    if (s.field == kRo) {
      v[kRo] = x;
      break;
    }
    v[s.field] |= (x & ((uint64_t{1} << s.bits) - 1)) << s.at;
    x >>= s.bits;
  }
  uint64_t unit = (v[kCh] << pc_bits_) | v[kPc];
  uint64_t bank = (v[kBg] << ba_bits_) | v[kBa];
  if (xor_) {
    if (bank_bits_) bank ^= v[kRo] & ((uint64_t{1} << bank_bits_) - 1);
    if (unit_bits_) {
      const uint64_t mask = (uint64_t{1} << unit_bits_) - 1;
      for (uint64_t up = atom_index >> unit_fold_shift_; up; up >>= unit_bits_) unit ^= up & mask;
    }
  }
  return Decoded{static_cast<uint32_t>(unit), static_cast<uint32_t>(bank),
                 static_cast<uint32_t>(bank >> ba_bits_), static_cast<uint32_t>(v[kCo]), v[kRo]};
}

Location Mapping::locate(uint64_t addr) const {
  const Decoded d = decode_atom(addr >> atom_shift_);
  Location l;
  l.channel = d.unit >> pc_bits_;
  l.pseudo_channel = d.unit & ((1u << pc_bits_) - 1);
  l.bank_group = d.bg;
  l.bank = d.bank & ((1u << ba_bits_) - 1);
  l.row = d.row;
  l.column = d.column;
  return l;
}

}  // namespace plena::dram

// Bit-sliced address mapping (internal to the dram module; users call DramModel::locate).
#pragma once
#include <cstdint>
#include <vector>

#include "dram/dram.hpp"

namespace plena::dram {

class Mapping {
 public:
  explicit Mapping(const Params& p);  // InputError on a malformed mapping string

  struct Decoded {
    uint32_t unit;  // channel * pseudo_channels + pseudo_channel
    uint32_t bank;  // bank_group * banks_per_group + bank
    uint32_t bg;
    uint32_t column;
    uint64_t row;
  };
  Decoded decode_atom(uint64_t atom_index) const;
  Location locate(uint64_t addr) const;
  uint32_t atom_shift() const { return atom_shift_; }

 private:
  enum Field : uint8_t { kCh, kPc, kBg, kBa, kCo, kRo };
  struct Segment {
    Field field;
    uint8_t bits;      // width taken from the address (kRo: the rest)
    uint8_t at;        // bit position inside the field
  };
  std::vector<Segment> segments_;  // LSB first
  uint32_t atom_shift_ = 0;
  uint32_t pc_bits_ = 0, ba_bits_ = 0, unit_bits_ = 0, bank_bits_ = 0;
  uint32_t unit_fold_shift_ = 0;  // atom-index bits below and including the unit field
  bool xor_ = false;
};

}  // namespace plena::dram

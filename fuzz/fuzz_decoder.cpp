// Fuzzes the decoder and disassembler on arbitrary words (and the .mem reader on arbitrary text):
// decoding never crashes, canonical words re-encode exactly, and every disassembled word
// (canonical or .word) re-assembles to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "isa/isa.hpp"
#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace plena::isa;
  std::vector<uint32_t> words = parse_binary(std::span<const uint8_t>(data, size - size % 4));
  for (uint32_t w : words) {
    std::optional<Instr> in = try_decode(w);
    if (in.has_value() != is_valid_opcode(w & 0x3F)) std::abort();
    if (!in) continue;
    (void)disassemble(*in);  // safe for any decoded fields
    if (is_canonical(w) && (encode(*in) != w || decode(w) != *in)) std::abort();
  }
  if (assemble(disassemble_program(words), "roundtrip.asm").words != words) std::abort();
  try {
    (void)parse_mem_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.mem");
  } catch (const plena::InputError&) {
  }
  return 0;
}

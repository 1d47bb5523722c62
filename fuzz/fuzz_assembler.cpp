// Fuzzes the assembler: any text either assembles or fails with a located InputError; what
// assembles must disassemble and re-assemble to the same words, and survive .mem/binary I/O.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "isa/isa.hpp"
#include "support/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace plena::isa;
  std::string_view src(reinterpret_cast<const char*>(data), size);
  Program p;
  try {
    p = assemble(src, "fuzz.asm");
  } catch (const plena::InputError& e) {
    if (std::string_view(e.what()).substr(0, 9) != "fuzz.asm:") std::abort();  // unlocated message
    return 0;
  }
  if (p.words.size() != p.lines.size()) std::abort();
  Program q = assemble(disassemble_program(p.words), "roundtrip.asm");  // must not throw
  if (q.words != p.words) std::abort();
  if (parse_mem_text(to_mem_text(p.words)) != p.words) std::abort();
  if (parse_binary(to_binary(p.words)) != p.words) std::abort();
  (void)listing(p, src);
  return 0;
}

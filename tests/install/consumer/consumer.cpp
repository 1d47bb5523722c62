// Prints "plena VERSION reference-small HASH words N" using the installed headers and libraries.
#include <cstdio>

#include "config/config.hpp"
#include "isa/isa.hpp"
#include "plena/version.hpp"

int main() {
  const auto cfg = plena::config::preset("reference-small");
  const auto prog = plena::isa::assemble("S_ADDI_INT gp1, gp0, 3\nS_ADDI_INT gp2, gp1, 4\n");
  std::printf("plena %s reference-small %s words %zu\n", PLENA_VERSION, plena::config::canonical_hash(cfg).c_str(),
              prog.words.size());
  return 0;
}

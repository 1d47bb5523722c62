// Prints "plena VERSION reference-small HASH words N" using the installed headers and libraries.
#include <cstdio>

#include "config/config.hpp"
#include "isa/isa.hpp"
#include "plena/version.hpp"
#include "tokenizer/tokenizer.hpp"

int main(int argc, char** argv) {
  // Links the tokenizer (and through it PCRE2) from the package; run only when given a tokenizer path.
  if (argc > 1) std::printf("%lld tokens\n", static_cast<long long>(plena::tokenizer::Tokenizer::load(argv[1]).vocab_size()));
  const auto cfg = plena::config::preset("reference-small");
  const auto prog = plena::isa::assemble("S_ADDI_INT gp1, gp0, 3\nS_ADDI_INT gp2, gp1, 4\n");
  std::printf("plena %s reference-small %s words %zu\n", PLENA_VERSION, plena::config::canonical_hash(cfg).c_str(),
              prog.words.size());
  return 0;
}

// Assembler, disassembler and decoder throughput on a kernel-like program.
#include <benchmark/benchmark.h>

#include <string>

#include "isa/isa.hpp"

namespace {

std::string kernel_text(int repeats) {
  const char* body =
      "H_PREFETCH_V gp3, gp2, a0, 1, 0   ; load activations\n"
      "M_MM 0, gp4, gp5\n"
      "M_MM_WO gp6, gp0, 0\n"
      "S_ADDI_INT gp4, gp4, 256\n"
      "V_EXP_V gp1, gp2, 1\n"
      "V_SUB_VF gp1, gp1, f0, 0, 1\n"
      "V_RED_SUM f1, gp2, 1, 0\n"
      "S_LUI_INT gp1, 4096\n";
  std::string s;
  for (int i = 0; i < repeats; ++i) s += body;
  return s;
}

void BM_Assemble(benchmark::State& st) {
  std::string src = kernel_text(int(st.range(0)));
  size_t words = 0;
  for (auto _ : st) {
    auto p = plena::isa::assemble(src, "bench.asm");
    words = p.words.size();
    benchmark::DoNotOptimize(p.words.data());
  }
  st.SetItemsProcessed(int64_t(st.iterations()) * int64_t(words));
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(src.size()));
}
BENCHMARK(BM_Assemble)->Arg(1 << 14);

void BM_Disassemble(benchmark::State& st) {
  auto words = plena::isa::assemble(kernel_text(int(st.range(0))), "bench.asm").words;
  for (auto _ : st) benchmark::DoNotOptimize(plena::isa::disassemble_program(words));
  st.SetItemsProcessed(int64_t(st.iterations()) * int64_t(words.size()));
}
BENCHMARK(BM_Disassemble)->Arg(1 << 14);

void BM_Decode(benchmark::State& st) {
  auto words = plena::isa::assemble(kernel_text(int(st.range(0))), "bench.asm").words;
  for (auto _ : st) {
    uint32_t acc = 0;
    for (uint32_t w : words) acc += plena::isa::decode(w).rd;
    benchmark::DoNotOptimize(acc);
  }
  st.SetItemsProcessed(int64_t(st.iterations()) * int64_t(words.size()));
}
BENCHMARK(BM_Decode)->Arg(1 << 14);

}  // namespace

BENCHMARK_MAIN();

// Encode/decode throughput per codec next to memcpy of the same (f32) bytes, single thread.
// Bytes per item are the f32 side's bytes (4 per element) for encode and decode alike, so a
// codec's rate is comparable with memcpy of its unquantized row. Prints a ratio table (codec
// throughput / memcpy throughput; medians under --benchmark_repetitions) after the run.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "numerics/numerics.hpp"

using namespace plena::numerics;

namespace {

constexpr size_t kN = size_t(1) << 20;  // 1 Mi elements = 4 MiB of f32

const std::vector<float>& input() {
  static const std::vector<float> x = [] {
    std::vector<float> v(kN);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& e : v) e = nd(rng);
    return v;
  }();
  return x;
}

void BM_memcpy(benchmark::State& st) {
  const auto& x = input();
  std::vector<float> y(kN);
  for (auto _ : st) {
    std::memcpy(y.data(), x.data(), kN * sizeof(float));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN * sizeof(float)));
}

void BM_encode(benchmark::State& st, const Format& f) {
  const auto& x = input();
  std::vector<uint8_t> e(packed_element_bytes(f, kN)), s(scale_bytes(f, kN));
  for (auto _ : st) {
    encode_row(f, x, e, s);
    benchmark::DoNotOptimize(e.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN * sizeof(float)));
}

void BM_decode(benchmark::State& st, const Format& f) {
  const auto& x = input();
  std::vector<uint8_t> e(packed_element_bytes(f, kN)), s(scale_bytes(f, kN));
  encode_row(f, x, e, s);
  std::vector<float> y(kN);
  for (auto _ : st) {
    decode_row(f, e, s, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kN * sizeof(float)));
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> bps;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      // Single runs, or the median of --benchmark_repetitions (keyed without the "_median" suffix).
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end()) bps[r.run_name.str()] = it->second;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* formats[] = {"ocp-mx:fp8_e4m3:b32:rne", "ocp-mx:fp8_e4m3:b32:ties-away", "ocp-mx:fp8_e5m2:b32:rne",
                           "ocp-mx:int8:b32:rne", "ocp-mx:fp8_e4m3:b8:rne", "ocp-mx:fp6_e3m2:b32:rne",
                           "ocp-mx:fp4_e2m1:b32:rne", "mase-bfp:int8:b16", "mase-bfp:int4:b16",
                           "plena-hw-mxfp:fp8_e4m3:b8", "asym-int:uint4:g32", "bf16", "fp16"};
  benchmark::RegisterBenchmark("BM_memcpy", BM_memcpy);
  static std::vector<Format> fs;
  fs.reserve(std::size(formats));
  for (const char* name : formats) {
    fs.push_back(parse_format(name));
    const Format* f = &fs.back();
    benchmark::RegisterBenchmark((std::string("BM_encode/") + name).c_str(),
                                 [f](benchmark::State& st) { BM_encode(st, *f); });
    benchmark::RegisterBenchmark((std::string("BM_decode/") + name).c_str(),
                                 [f](benchmark::State& st) { BM_decode(st, *f); });
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  double mem = rep.bps["BM_memcpy"];
  if (mem > 0) {
    std::printf("\nthroughput relative to memcpy of the same f32 bytes (%.2f GB/s):\n", mem / 1e9);
    for (const char* name : formats) {
      for (const char* op : {"encode", "decode"}) {
        auto it = rep.bps.find(std::string("BM_") + op + "/" + name);
        if (it != rep.bps.end())
          std::printf("  %-7s %-32s %7.2f GB/s  %5.2fx memcpy\n", op, name, it->second / 1e9, it->second / mem);
      }
    }
  }
  benchmark::Shutdown();
  return 0;
}

// The one-layer SmolLM2 run of issue #12, timed as a user sees it: the whole `plena run` process.
// Writes a SmolLM2-135M-shaped checkpoint cut to one layer (bf16 safetensors, seeded random
// weights) and a reference-small config with BLEN 16 (64/64/16) into DIR, runs
//   plena run --model DIR/smollm2-1layer --hw DIR/hw-64-64-16.toml --dram-fidelity calibrated --gen 1
// REPEAT times, and reports the median CPU (user + sys of the child) and wall time, and the ratio
// to the reference emulator's ~12 s wall for its one-layer SmolVLM2 decoder at 64/64/16
// (../shared/reference/plena_simulator.md, "Costs"). Usage: bench_one_layer_run PLENA DIR [REPEAT].
#include <fmt/core.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model/model.hpp"

namespace {

constexpr double kReferenceSeconds = 12.0;

struct Times {
  double cpu, wall;
};

// One child run, its output discarded; CPU from the child's rusage.
Times run_once(const std::vector<std::string>& argv) {
  std::fflush(stdout);  // else the child's freopen writes our buffered lines again
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    if (!std::freopen("/dev/null", "w", stdout)) ::_exit(126);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(fmt::format("{} failed (status {})", argv[0], status));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto sec = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return {sec(ru.ru_utime) + sec(ru.ru_stime), wall};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The checkpoint and config (rewritten each time: the same seed gives the same bytes).
void write_inputs(const std::filesystem::path& dir) {
  using namespace plena::model;
  ModelConfig c = model_preset("smollm2-135m");
  c.num_hidden_layers = 1;
  c.torch_dtype = "bfloat16";
  save_hf_model((dir / "smollm2-1layer").string(), c, make_random_weights(c, 1), DType::BF16);
  std::ofstream(dir / "hw-64-64-16.toml") << "base = \"reference-small\"\n[geometry]\nblen = 16\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: {} PLENA DIR [REPEAT]\n", argv[0]);
    return 1;
  }
  try {
    const std::filesystem::path dir = argv[2];
    std::filesystem::create_directories(dir);
    write_inputs(dir);
    const int repeat = argc > 3 ? std::max(1, std::stoi(argv[3])) : 3;
    const std::vector<std::string> cmd = {argv[1], "run", "--model", (dir / "smollm2-1layer").string(), "--hw",
                                          (dir / "hw-64-64-16.toml").string(), "--dram-fidelity", "calibrated",
                                          "--gen", "1", "--no-progress"};
    std::vector<double> cpu, wall;
    for (int i = 0; i < repeat; ++i) {
      const Times t = run_once(cmd);
      cpu.push_back(t.cpu);
      wall.push_back(t.wall);
      fmt::print("run {}: {:.3f} CPU-s, {:.3f} s wall\n", i + 1, t.cpu, t.wall);
    }
    const double c = median(cpu), w = median(wall);
    fmt::print("median of {}: {:.3f} CPU-s ({:.0f}x faster than the reference's {:.0f} s), {:.3f} s wall ({:.0f}x)\n",
               repeat, c, kReferenceSeconds / c, kReferenceSeconds, w, kReferenceSeconds / w);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}

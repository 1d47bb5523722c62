// Memory estimate of run/compile and the machine's available memory (docs/run.md "Memory check").
#include "runner/resources.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::runner::detail {
namespace {

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kWorkingSet = uint64_t(64) << 20;  // compiler, programs, simulator bookkeeping

// Saturating arithmetic: an absurd size reads as "more than any machine", never wraps.
uint64_t mul(uint64_t a, uint64_t b) { return (b && a > kSaturated / b) ? kSaturated : a * b; }
uint64_t add(uint64_t a, uint64_t b) { return a > kSaturated - b ? kSaturated : a + b; }
uint64_t u(int64_t v) { return v > 0 ? uint64_t(v) : 0; }

uint64_t format_bytes(const numerics::Format& f, uint64_t elems) {
  const double b = double(elems) * f.bits_per_element() / 8.0;
  return b >= 1.8e19 ? kSaturated : uint64_t(b) + 1;
}

uint64_t checkpoint_dtype_bytes(const model::ModelConfig& cfg) {
  return cfg.torch_dtype == "float32" ? 4 : 2;
}

// HBM pages the weights and KV caches occupy in their formats.
uint64_t hbm_image_bytes(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                         uint64_t positions) {
  const uint64_t linear = cfg.linear_param_count() + (cfg.tie_word_embeddings ? mul(u(cfg.vocab_size), u(cfg.hidden_size)) : 0);
  const uint64_t rest = cfg.param_count() > cfg.linear_param_count() ? cfg.param_count() - cfg.linear_param_count() : 0;
  const uint64_t kv = mul(mul(mul(2, u(cfg.num_hidden_layers)), u(cfg.kv_dim())), mul(positions, batch));
  return add(add(format_bytes(hw.formats.m_weight, linear), format_bytes(hw.formats.v_act, rest)),
             format_bytes(hw.formats.m_kv, kv));
}

uint64_t sram_bytes(const config::HardwareConfig& hw) {
  return add(add(mul(mul(hw.sram.vector_depth, hw.geometry.vlen), 4), mul(mul(hw.sram.matrix_depth, hw.geometry.mlen), 4)),
             mul(add(hw.sram.fp_depth, hw.sram.int_depth), 4));
}

// One forward pass of `tokens` tokens: the reference's working vectors (f32) and one logits row.
uint64_t forward_bytes(const model::ModelConfig& cfg, uint64_t tokens) {
  const uint64_t per_token = 6 * u(cfg.hidden_size) + 3 * u(cfg.q_dim()) + 2 * u(cfg.kv_dim()) +
                             4 * u(cfg.intermediate_size);
  return add(mul(mul(tokens, per_token), 4), mul(u(cfg.vocab_size), 4));
}

uint64_t largest_tensor_bytes(const model::ModelConfig& cfg) {
  const uint64_t h = u(cfg.hidden_size);
  return mul(4, std::max({mul(u(cfg.vocab_size), h), mul(u(cfg.intermediate_size), h), mul(u(cfg.q_dim()), h)}));
}

}  // namespace

std::string human_bytes(uint64_t b) {
  if (b == kSaturated) return "more than 16 EiB";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(b);
  int i = 0;
  while (v >= 1024 && i < 6) v /= 1024, ++i;
  return i == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[i]);
}

uint64_t MemoryNeed::total() const {
  uint64_t t = 0;
  for (const auto& [what, bytes] : parts) t = add(t, bytes);
  return t;
}

MemoryNeed run_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                           uint64_t positions, bool data, bool checkpoint) {
  MemoryNeed n;
  n.parts.push_back({"toolchain working set", kWorkingSet});
  if (!data) return n;  // timing-only: no weights, no HBM or SRAM data
  const uint64_t f32_weights = mul(cfg.param_count(), 4);
  n.parts.push_back({"host weights (f32)", f32_weights});
  if (checkpoint) n.parts.push_back({"checkpoint file bytes while converting", mul(cfg.param_count(), checkpoint_dtype_bytes(cfg))});
  // The verdict's quantized reference holds its own copy (an untied LM head included).
  n.parts.push_back({"quantized reference weights (f32)",
                     add(f32_weights, cfg.tie_word_embeddings ? mul(mul(u(cfg.vocab_size), u(cfg.hidden_size)), 4) : 0)});
  n.parts.push_back({"HBM image", hbm_image_bytes(cfg, hw, batch, positions)});
  n.parts.push_back({"staging of one weight tensor", largest_tensor_bytes(cfg)});
  n.parts.push_back({"SRAMs", sram_bytes(hw)});
  // Two references (fp32, quantized) keep an f32 KV cache per sequence, and greedy generation a third.
  const uint64_t kv_f32 = mul(mul(mul(2, u(cfg.num_hidden_layers)), u(cfg.kv_dim())), mul(mul(positions, batch), 4));
  n.parts.push_back({"reference KV caches (f32)", mul(kv_f32, 3)});
  n.parts.push_back({"reference activations", forward_bytes(cfg, positions)});
  return n;
}

MemoryNeed compile_memory_need(const model::ModelConfig& cfg, const config::HardwareConfig& hw, uint64_t batch,
                               uint64_t positions, bool weights, bool checkpoint) {
  MemoryNeed n;
  n.parts.push_back({"toolchain working set", kWorkingSet});
  if (!weights) return n;
  n.parts.push_back({"host weights (f32)", mul(cfg.param_count(), 4)});
  if (checkpoint) n.parts.push_back({"checkpoint file bytes while converting", mul(cfg.param_count(), checkpoint_dtype_bytes(cfg))});
  n.parts.push_back({"staging of one weight tensor", mul(largest_tensor_bytes(cfg), 2)});
  // hbm.bin is built in memory (store + byte copy) when the image is at most 1 GiB.
  const uint64_t image = hbm_image_bytes(cfg, hw, batch, positions);
  if (image <= (uint64_t(1) << 30)) n.parts.push_back({"dense HBM image (hbm.bin)", mul(image, 2)});
  return n;
}

uint64_t available_memory() {
  uint64_t avail = 0;
  std::ifstream mi("/proc/meminfo");
  for (std::string line; std::getline(mi, line);)
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream is(line.substr(13));
      uint64_t kb = 0;
      if (is >> kb) avail = mul(kb, 1024);
    }
  if (avail == 0) {
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) avail = mul(uint64_t(pages), uint64_t(page));
  }
  std::ifstream cg_max("/sys/fs/cgroup/memory.max"), cg_cur("/sys/fs/cgroup/memory.current");
  uint64_t limit = 0, current = 0;
  if (cg_max >> limit && cg_cur >> current && limit > current) avail = avail ? std::min(avail, limit - current) : limit - current;
  return avail;
}

void check_memory(const MemoryNeed& need, std::string_view command, std::string_view advice, uint64_t available) {
  const uint64_t total = need.total();
  if (available == 0 || total <= available) return;
  auto parts = need.parts;
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string detail;
  for (size_t i = 0; i < parts.size() && i < 3; ++i)
    detail += fmt::format("{}{} {}", i ? ", " : "", parts[i].first, human_bytes(parts[i].second));
  throw InputError(fmt::format("{}: error: needs about {} of memory ({}) but this machine has {} available; {}", command,
                               human_bytes(total), detail, human_bytes(available), advice));
}

}  // namespace plena::runner::detail

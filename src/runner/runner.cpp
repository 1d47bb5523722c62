// The host loop of `plena run`: compile each step, preload, simulate, read the logits back, pick
// the next token, and compare every step with the host fp32 reference on the same context.
#include "runner/runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <nlohmann/json.hpp>

#include "compiler/model_compiler.hpp"
#include "compiler/shard.hpp"
#include "config/config.hpp"
#include "model/source.hpp"
#include "runner/runner_detail.hpp"
#include "runner/runner_numerics.hpp"
#include "runner/resources.hpp"
#include "sim/resources.hpp"
#include "sim/sim.hpp"
#include "sim/step_reuse.hpp"
#include "support/output.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace detail {

std::string hw_display_name(const std::string& spec) {
  return spec.find_first_of("=[\n") != std::string::npos ? std::string("<inline>") : spec;
}

// Explicit prompts: one for every sequence, or exactly one per sequence; equal lengths, ids in the
// vocabulary.
std::vector<std::vector<int64_t>> explicit_prompts(const model::ModelConfig& cfg,
                                                   const std::vector<std::vector<int64_t>>& ids, uint64_t batch) {
  if (ids.size() != 1 && ids.size() != batch)
    throw InputError(fmt::format("--prompt-ids: error: {} prompts for --batch {}; expected one prompt (used for every "
                                 "sequence) or exactly {}",
                                 ids.size(), batch, batch));
  for (size_t p = 0; p < ids.size(); ++p) {
    if (ids[p].empty()) throw InputError(fmt::format("--prompt-ids: error: prompt {} is empty; expected at least one id", p));
    if (ids[p].size() != ids[0].size())
      throw InputError(fmt::format("--prompt-ids: error: prompt {} has {} ids and prompt 0 has {}; the prompts of a "
                                   "batch must have the same length",
                                   p, ids[p].size(), ids[0].size()));
    for (size_t i = 0; i < ids[p].size(); ++i)
      if (ids[p][i] < 0 || ids[p][i] >= cfg.vocab_size)
        throw InputError(fmt::format("--prompt-ids: error: prompt {} id {} (index {}) is outside the vocabulary [0, {})",
                                     p, ids[p][i], i, cfg.vocab_size));
  }
  return ids.size() == batch ? ids : std::vector<std::vector<int64_t>>(batch, ids[0]);
}

ResolvedModel resolve_model(const std::string& spec, uint64_t seed, bool need_weights) {
  const model::ModelSource src = model::resolve_model_source(spec, need_weights);
  ResolvedModel r;
  if (src.is_preset) {
    r.config = model::model_preset(src.preset);
    if (need_weights) r.weights = model::make_random_weights(r.config, seed);
    r.source = fmt::format("preset {} (random weights, seed {})", src.preset, seed);
    return r;
  }
  if (need_weights) {
    model::LoadedModel lm = model::load_hf_model(src.dir);
    r.config = std::move(lm.config);
    r.weights = std::move(lm.weights);
  } else {
    r.config = model::parse_hf_config(src.config);
  }
  r.source = src.note.empty() ? src.dir.string() : src.dir.string() + " (" + src.note + ")";
  r.from_checkpoint = true;
  return r;
}

std::vector<std::vector<int64_t>> make_prompts(const model::ModelConfig& cfg,
                                               const std::vector<std::vector<int64_t>>& ids, uint64_t prompt_len,
                                               uint64_t batch, uint64_t seed) {
  if (!ids.empty()) return explicit_prompts(cfg, ids, batch);
  if (prompt_len == 0) throw InputError("--prompt-len: error: must be at least 1");
  std::vector<std::vector<int64_t>> prompts(batch);
  for (uint64_t b = 0; b < batch; ++b) {
    uint64_t s = (seed + 0x51ED) * 0x9E3779B97F4A7C15ull + b;
    for (uint64_t i = 0; i < prompt_len; ++i) {
      s += 0x9E3779B97F4A7C15ull;
      uint64_t z = s;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      prompts[b].push_back(int64_t(z % uint64_t(cfg.vocab_size)));
    }
  }
  return prompts;
}

void preload_step(sim::Simulator& s, const compiler::CompiledStep& step) {
  sim::Machine& m = s.machine();
  if (!m.functional()) return;
  const uint64_t vlen = m.config().geometry.vlen;
  for (const auto& init : step.vram_inits) {
    const auto& t = init.tensor;
    for (uint64_t r = 0; r < t.rows; ++r)
      for (uint64_t c = 0; c < t.cols; c += vlen) {
        const uint64_t n = std::min(vlen, t.cols - c);
        m.write_vram(t.address(r, c), std::span<const float>(&init.data[r * t.cols + c], n));
      }
  }
  for (const auto& init : step.hbm_inits) sim::write_hbm_tensor(m.hbm(), init.tensor, *init.data);
  const auto fp = compiler::fp_sram_image(step.program.manifest);
  m.write_fpsram(0, fp);
  const auto in = compiler::int_sram_image(step.program.manifest);
  if (!in.empty()) m.write_intsram(0, in);
}

namespace {
// The token embedding table in the HBM layout (ModelCompiler places it under this name).
constexpr const char* kEmbeddingTable = "embed_tokens";
constexpr const char* kLmHead = "lm_head";
}  // namespace

void write_weight_image(sim::HbmStore& hbm, const compiler::ModelCompiler& mc, const model::ModelWeights& w,
                        bool embedding) {
  const compiler::HbmManifest man = mc.manifest();
  std::vector<float> staging;
  for (const auto& name : mc.weight_tensors()) {
    if (!embedding && name == kEmbeddingTable) continue;
    const compiler::HbmTensor& t = man.tensor(name);
    // Whole multiples of kImageChunkRows: a transposed tensor's source rows are then read a
    // cache line at a time, each line once.
    const uint64_t chunk = std::max(kImageChunkRows, kImageChunkElems / std::max<uint64_t>(1, t.cols) / kImageChunkRows * kImageChunkRows);
    for (uint64_t r = 0; r < t.rows; r += chunk) {
      const uint64_t n = std::min(chunk, t.rows - r);
      sim::write_hbm_rows(hbm, t, r, mc.weight_rows(name, w, r, n, staging));
    }
  }
}

void write_embedding_rows(sim::HbmStore& hbm, const compiler::ModelCompiler& mc, const model::ModelWeights& w,
                          const std::vector<std::vector<int64_t>>& tokens) {
  const compiler::HbmManifest man = mc.manifest();
  const compiler::HbmTensor& t = man.tensor(kEmbeddingTable);
  std::vector<float> staging;
  // Ids were checked against the vocabulary when the step was compiled.
  for (const auto& seq : tokens)
    for (const int64_t id : seq) sim::write_hbm_rows(hbm, t, uint64_t(id), mc.weight_rows(kEmbeddingTable, w, uint64_t(id), 1, staging));
}

std::vector<float> read_rows(const sim::Machine& m, const compiler::VramTensor& t, uint64_t rows, uint64_t cols) {
  const uint64_t vlen = m.config().geometry.vlen;
  std::vector<float> out(rows * cols);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t c = 0; c < cols; c += vlen) {
      const uint64_t n = std::min(vlen, cols - c);
      auto v = m.read_vram(t.address(r, c), n);
      std::copy(v.begin(), v.end(), out.begin() + r * cols + c);
    }
  return out;
}

}  // namespace detail

using namespace detail;

namespace {

std::vector<std::vector<int64_t>> prompt_ids_from_npy(const std::string& path) {
  const NpyArray a = npy_load(path);
  if (a.shape.size() != 1 && a.shape.size() != 2)
    throw InputError(fmt::format("{}: error: array of rank {}; expected token ids of shape [T] (one prompt) or [B, T] "
                                 "(one prompt per sequence)",
                                 path, a.shape.size()));
  const std::vector<int64_t> flat = a.to_i64();
  const size_t rows = a.shape.size() == 2 ? a.shape[0] : 1, cols = a.shape.back();
  if (flat.empty() || cols == 0)
    throw InputError(fmt::format("{}: error: no token ids (shape [{}]); expected at least one", path, fmt::join(a.shape, ", ")));
  std::vector<std::vector<int64_t>> out(rows);
  for (size_t r = 0; r < rows; ++r) {
    out[r].assign(flat.begin() + long(r * cols), flat.begin() + long((r + 1) * cols));
    for (size_t c = 0; c < cols; ++c)
      if (out[r][c] < 0)
        throw InputError(fmt::format("{}: error: element [{}, {}] is {}; token ids are non-negative", path, r, c, out[r][c]));
  }
  return out;
}

// One prompt "1,2,3"; starts at column `col0` (1-based) of the option value.
std::vector<int64_t> prompt_ids_from_text(const std::string& spec, size_t col0) {
  std::vector<int64_t> ids;
  size_t i = 0;
  while (i <= spec.size()) {
    size_t j = spec.find(',', i);
    if (j == std::string::npos) j = spec.size();
    const std::string tok = spec.substr(i, j - i);
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (...) {
      used = 0;
    }
    if (tok.empty() || used != tok.size() || v < 0)
      throw InputError(located("--prompt-ids", 1, int(col0 + i),
                               fmt::format("'{}' is not a token id; expected non-negative integers like 1,2,3 (prompts "
                                           "separated by ';') or a .npy file",
                                           tok)));
    ids.push_back(v);
    i = j + 1;
  }
  return ids;
}

}  // namespace

std::vector<std::vector<int64_t>> parse_prompt_ids(const std::string& spec) {
  if (spec.size() > 4 && spec.substr(spec.size() - 4) == ".npy") return prompt_ids_from_npy(spec);
  if (spec.find_first_not_of(" \t") == std::string::npos)
    throw InputError("--prompt-ids: error: empty; expected token ids like 1,2,3 (prompts separated by ';') or a .npy file");
  std::vector<std::vector<int64_t>> prompts;
  size_t i = 0;
  while (i <= spec.size()) {
    size_t j = spec.find(';', i);
    if (j == std::string::npos) j = spec.size();
    prompts.push_back(prompt_ids_from_text(spec.substr(i, j - i), i + 1));
    i = j + 1;
  }
  return prompts;
}

namespace {

Agreement compare_logits(const float* sim, const float* ref, size_t n) {
  Agreement a;
  double dot = 0, ns = 0, nr = 0, sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(sim[i]) - double(ref[i]));
    a.max_abs = std::max(a.max_abs, std::isnan(d) ? INFINITY : d);
    sum += d;
    dot += double(sim[i]) * ref[i];
    ns += double(sim[i]) * sim[i];
    nr += double(ref[i]) * ref[i];
  }
  a.mean_abs = n ? sum / double(n) : 0;
  a.cosine = (ns > 0 && nr > 0) ? dot / std::sqrt(ns * nr) : 0;
  const size_t st = model::argmax(sim, n), rt = model::argmax(ref, n);
  a.top1 = st == rt;
  a.miss_margin = a.top1 ? 0.0 : double(ref[rt]) - double(ref[st]);
  return a;
}

// Residual-stream snapshots of one step, taken from inside the simulator's run loop.
struct HiddenProbe {
  const sim::Machine* machine = nullptr;
  const compiler::CompiledStep* step = nullptr;
  size_t next = 0;          // next stage to capture; stages are reached in pc order
  uint64_t hidden = 0;
  std::vector<float> data;  // [stages, batch, hidden]: each sequence's last-token row of x

  void begin(const compiler::CompiledStep& s, uint64_t hidden_size) {
    step = &s;
    next = 0;
    hidden = hidden_size;
    data.assign(s.residual_pcs.size() * s.batch * hidden, 0.f);
  }
  // After each instruction: when the next one is the first of a stage boundary, x holds that
  // stage's output. A boundary pc is at top level, so it is reached once per step (a loop
  // back-edge never targets it); the first arrival is the one taken.
  void observe() {
    if (step == nullptr || next >= step->residual_pcs.size() || machine->next_pc != step->residual_pcs[next]) return;
    const uint64_t vlen = machine->config().geometry.vlen, B = step->batch, T = step->q_len;
    for (uint64_t b = 0; b < B; ++b) {
      float* out = &data[(next * B + b) * hidden];
      for (uint64_t c = 0; c < hidden; c += vlen) {
        const uint64_t n = std::min(vlen, hidden - c);
        const auto v = machine->read_vram(step->residual.address(b * T + T - 1, c), n);
        std::copy(v.begin(), v.end(), out + c);
      }
    }
    ++next;
  }
};

std::string stage_name(size_t s) { return s == 0 ? std::string("embed") : fmt::format("layer {}", s - 1); }

HiddenAgreement compare_hidden(size_t stage, const float* sim, const float* ref, uint64_t batch, uint64_t hidden) {
  HiddenAgreement h;
  h.stage = stage_name(stage);
  h.cosine = 1;
  double sq = 0;
  for (uint64_t b = 0; b < batch; ++b) {
    double dot = 0, ns = 0, nr = 0;
    for (uint64_t i = b * hidden; i < (b + 1) * hidden; ++i) {
      const double d = std::fabs(double(sim[i]) - double(ref[i]));
      h.max_abs = std::max(h.max_abs, std::isnan(d) ? INFINITY : d);
      dot += double(sim[i]) * ref[i];
      ns += double(sim[i]) * sim[i];
      nr += double(ref[i]) * ref[i];
    }
    sq += nr;
    h.cosine = std::min(h.cosine, (ns > 0 && nr > 0) ? dot / std::sqrt(ns * nr) : 0.0);
  }
  h.ref_rms = std::sqrt(sq / double(batch * hidden));
  return h;
}

// Free-running greedy tokens of one reference for one sequence (HostReference::generate_greedy),
// read off its teacher-forced pass: while every token fed so far is its own greedy token, its
// context is the greedy context and its argmax is the next greedy token. At the first fed token
// that is not, a copy of its KV cache (before that token) continues greedily on its own.
struct GreedyFollower {
  std::vector<int64_t> tokens;
  bool forked = false;

  // Before the reference is fed `fed` on `cache`.
  void before(const model::HostReference& r, const model::KVCache& cache, const std::vector<int64_t>& fed,
              uint64_t gen) {
    if (forked || tokens.empty() || (fed.size() == 1 && fed[0] == tokens.back())) return;
    forked = true;
    model::KVCache own = cache;
    const size_t V = size_t(r.config().vocab_size);
    while (tokens.size() < gen) {
      const model::TokenId t = model::TokenId(tokens.back());
      const model::Tensor l = r.forward(own, std::span<const model::TokenId>(&t, 1), false);
      tokens.push_back(int64_t(model::argmax(l.data.data(), V)));
    }
  }
  // With the logits the reference gave for `fed`.
  void after(const model::Tensor& logits, uint64_t gen) {
    if (!forked && tokens.size() < gen) tokens.push_back(int64_t(model::argmax(logits.data.data(), logits.data.size())));
  }
};

// The fp32 host reference and the same model quantized like the hardware (the verdict's
// expectation), each with a KV cache per sequence, fed exactly the tokens the simulator is fed;
// one pass per reference also gives the fp32 and quantized references' greedy tokens.
struct References {
  model::HostReference fp32;
  QuantizedModel qmodel;
  model::HostReference quant;
  model::HostReference stored;  // weights and KV quantized, activations not rounded
  std::vector<model::KVCache> fp32_caches, quant_caches, stored_caches;
  std::vector<GreedyFollower> fp32_greedy, quant_greedy;
  AgreementTotals quant_vs_fp32, sim_vs_quant, sim_vs_fp32, quant_vs_stored;
  double ref_logit_max = 0;
  uint64_t gen;

  References(const model::ModelConfig& cfg, const model::ModelWeights& w, const config::HardwareConfig& hw, uint64_t B,
             uint64_t gen, const EncodedHead* head)
      : fp32(cfg, w),
        qmodel(quantize_like_hardware(cfg, w, hw, head)),
        quant(qmodel.config, qmodel.weights),
        stored(qmodel.config, qmodel.weights),
        fp32_greedy(B),
        quant_greedy(B),
        gen(gen) {
    // Both quantized references look embedding rows up in the fp32 table and quantize just those.
    model::ReferenceRounding r = hardware_rounding(hw);
    r.embedding_row = stored_embedding(w, hw);
    stored.set_rounding({nullptr, r.kv_row, r.embedding_row});
    quant.set_rounding(std::move(r));
    for (uint64_t b = 0; b < B; ++b) {
      fp32_caches.push_back(fp32.new_cache());
      quant_caches.push_back(quant.new_cache());
      stored_caches.push_back(stored.new_cache());
    }
  }
  // Logits of both references for sequence b on `tokens`; the simulator's row is compared with both.
  model::Tensor step(uint64_t b, const std::vector<int64_t>& tokens, const float* sim, model::Capture* cap,
                     Agreement& vs_fp32) {
    std::vector<model::TokenId> t32(tokens.begin(), tokens.end());
    fp32_greedy[b].before(fp32, fp32_caches[b], tokens, gen);
    quant_greedy[b].before(quant, quant_caches[b], tokens, gen);
    model::Tensor lr = fp32.forward(fp32_caches[b], t32, false, cap);
    const model::Tensor lq = quant.forward(quant_caches[b], t32, false);
    const model::Tensor ls = stored.forward(stored_caches[b], t32, false);
    fp32_greedy[b].after(lr, gen);
    quant_greedy[b].after(lq, gen);
    const size_t V = lr.data.size();
    for (float x : lr.data) ref_logit_max = std::max(ref_logit_max, double(std::fabs(x)));
    vs_fp32 = compare_logits(sim, lr.data.data(), V);
    sim_vs_fp32.add(vs_fp32);
    quant_vs_fp32.add(compare_logits(lq.data.data(), lr.data.data(), V));
    sim_vs_quant.add(compare_logits(sim, lq.data.data(), V));
    quant_vs_stored.add(compare_logits(lq.data.data(), ls.data.data(), V));
    return lr;
  }
  static std::vector<std::vector<int64_t>> tokens_of(const std::vector<GreedyFollower>& g) {
    std::vector<std::vector<int64_t>> out;
    for (const auto& f : g) out.push_back(f.tokens);
    return out;
  }
};

void check_options(const RunOptions& opt) {
  if (opt.dump_hidden_layers && opt.dump_dir.empty())
    throw InputError("--dump-hidden: error: needs --dump-dir DIR, the directory the per-layer .npy files go to");
  if (opt.dump_hidden_layers && opt.timing_only)
    throw InputError("--dump-hidden: error: a --timing-only run has no data to dump; drop one of the two flags");
  if (opt.dma_request_bytes && ((opt.dma_request_bytes & (opt.dma_request_bytes - 1)) != 0 ||
                                opt.dma_request_bytes < kMinDmaRequestBytes || opt.dma_request_bytes > kMaxDmaRequestBytes))
    throw InputError(fmt::format("--dma-request-bytes: error: {} is not a power of two in [{}, {}]",
                                 opt.dma_request_bytes, kMinDmaRequestBytes, kMaxDmaRequestBytes));
}

}  // namespace

void detail::check_run_counts(const model::ModelConfig& cfg, uint64_t prompt_len, uint64_t gen, uint64_t batch) {
  if (batch == 0 || batch > kMaxBatch)
    throw InputError(fmt::format("--batch: error: {} sequences; expected 1 to {}", batch, kMaxBatch));
  const uint64_t max_pos = uint64_t(cfg.max_position_embeddings);
  if (prompt_len > max_pos || gen > max_pos || fed_positions(prompt_len, gen) > max_pos)
    throw InputError(fmt::format("--prompt-len/--gen: error: a prompt of {} tokens and {} new tokens need {} positions; "
                                 "the model has max_position_embeddings {}",
                                 prompt_len, gen, prompt_len > max_pos || gen > max_pos ? std::string("more than that")
                                                                                        : std::to_string(fed_positions(prompt_len, gen)),
                                 max_pos));
}

namespace {

// One `plena run`: prepare() resolves the model and hardware, checks the host memory and sets up
// the compiler, simulator and host references; each step() compiles and simulates one step and
// compares it with the references; report() assembles the totals and the verdict. Not movable:
// the compiler, simulator and probe hold pointers into the session.
class RunSession {
 public:
  RunSession(const RunOptions& opt, const ShardRole& role)
      : opt_(opt), role_(role), wall0_(std::chrono::steady_clock::now()) {}
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  void prepare();
  bool step();  // false once every step has run
  RunReport report();
  // After prepare(): the prefill steps' prompt tokens per sequence.
  const std::vector<compiler::PrefillChunk>& prefill_chunks() const { return chunks_; }

 private:
  using Tokens = std::vector<std::vector<int64_t>>;
  // prepare()
  void check_sizes(const model::ModelSource& src) const;
  void resolve();
  void setup_compiler();
  void setup_simulator();
  void setup_references();
  // step()
  const compiler::CompiledStep& compile(StepReport& st);
  void simulate(const compiler::CompiledStep& step, StepReport& st);
  sim::SimResult run_traced(const compiler::CompiledStep& step, StepReport& st);
  void warn_trace_size(const StepReport& st);
  Tokens compare(const compiler::CompiledStep& step, StepReport& st);
  void compare_hidden_layers(StepReport& st, const std::vector<float>& ref_hidden);
  void dump_logits(const compiler::CompiledStep& step, const std::vector<float>& logits,
                   const std::vector<float>& ref_logits) const;
  void advance(StepReport st, Tokens next);
  // report()
  void summarize_agreement();
  void dump_generated() const;
  void summarize_performance();

  uint64_t stages() const { return uint64_t(rm_.config.num_hidden_layers) + 1; }
  // Steps are the prefill chunks (only the last computes logits), then the decode steps.
  bool prefill() const { return done_ < chunks_.size(); }
  bool has_logits() const { return done_ + 1 >= chunks_.size(); }
  uint64_t token_index() const { return done_ + 1 - chunks_.size(); }  // of the token a logits step yields
  Tokens chunk_tokens(size_t c) const;
  uint64_t hidden() const { return uint64_t(rm_.config.hidden_size); }
  uint64_t vocab() const { return uint64_t(rm_.config.vocab_size); }

  // The ids a shard program embeds: modulo its vocabulary share (the whole model: unchanged).
  Tokens shard_ids(Tokens t) const {
    for (auto& seq : t)
      for (auto& id : seq) id %= rm_.config.vocab_size;
    return t;
  }

  const RunOptions& opt_;
  const ShardRole role_;
  const std::chrono::steady_clock::time_point wall0_;
  config::HardwareConfig hw_;
  RunReport rep_;
  ResolvedModel rm_;
  std::optional<compiler::ModelCompiler> mc_;
  HiddenProbe probe_;
  std::optional<sim::Simulator> simu_;
  std::optional<sim::TimingReuse> reuse_;  // timing-only: a step's timing proven equal to the last simulated one's
  std::optional<References> refs_;
  Tokens feed_;             // the next step's input tokens per sequence
  std::vector<compiler::PrefillChunk> chunks_;  // the prefill steps (compiler::ModelCompiler::prefill_schedule)
  uint64_t steps_ = 0, done_ = 0, past_ = 0;
  UnitUtilization units_[6] = {{"matrix"}, {"vector"}, {"scalar_int"}, {"scalar_fp"}, {"control"}, {"dma"}};
  bool trace_warned_ = false;
  uint64_t total_cycles_ = 0;
  double mean_sum_ = 0;  // of the per-sequence mean abs logit errors
};

void RunSession::prepare() {
  check_options(opt_);
  if (opt_.batch == 0 || opt_.batch > kMaxBatch)
    throw InputError(fmt::format("--batch: error: {} sequences; expected 1 to {}", opt_.batch, kMaxBatch));
  const model::ModelSource src = model::resolve_model_source(opt_.model, !opt_.timing_only);
  hw_ = config::resolve_config(opt_.hw);
  rep_.hw = hw_display_name(opt_.hw);
  rep_.hw_hash = config::canonical_hash(hw_);
  rep_.timing_only = opt_.timing_only;
  rep_.teacher_force = opt_.teacher_force;
  rep_.batch = opt_.batch;
  rep_.gen = opt_.gen;
  check_sizes(src);
  resolve();
  setup_compiler();
  setup_simulator();
  setup_references();
  for (const auto* d : {&opt_.dump_dir, &opt_.stats_dir, &opt_.trace_dir})
    if (!d->empty()) std::filesystem::create_directories(*d);
  rep_.generated.assign(opt_.batch, {});
  chunks_ = mc_->prefill_schedule(rep_.prompt_len);
  feed_ = chunk_tokens(0);
  steps_ = chunks_.size() - 1 + std::max<uint64_t>(opt_.gen, 1);
}

// Sizes first: refuse before loading weights or allocating anything large.
void RunSession::check_sizes(const model::ModelSource& src) const {
  const model::ModelConfig cfg0 = src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
  const uint64_t P0 = opt_.prompt_ids.empty() ? opt_.prompt_len : opt_.prompt_ids[0].size();
  check_run_counts(cfg0, P0, opt_.gen, opt_.batch);
  require_memory(run_memory_need(cfg0, hw_, opt_.batch, fed_positions(P0, opt_.gen), !opt_.timing_only, !src.is_preset),
                 host_memory_available(), "plena run",
                 "add --timing-only (timing without weights or data), or use a smaller model or batch");
}

void RunSession::resolve() {
  rm_ = resolve_model(opt_.model, opt_.seed, !opt_.timing_only);
  rep_.model = rm_.source;
  rep_.formats = applied_formats(hw_, rm_.config, rm_.from_checkpoint);
  rep_.prompts = make_prompts(rm_.config, opt_.prompt_ids, opt_.prompt_len, opt_.batch, opt_.seed);
  rep_.prompt_len = rep_.prompts[0].size();
  if (role_.whole()) return;
  rm_.config = compiler::tensor_shard(rm_.config, role_.tp);
  if (role_.layers) rm_.config.num_hidden_layers = int64_t(role_.layers);
}

void RunSession::setup_compiler() {
  compiler::ModelCompileOptions mo;
  mo.batch = opt_.batch;
  mo.max_positions = fed_positions(rep_.prompt_len, opt_.gen);
  mo.loops = opt_.loops;
  mo.assembly = false;  // the run simulates the instructions; nobody reads the text
  mo.words = false;
  mo.host_data = !opt_.timing_only;  // timing-only: no data is preloaded
  mo.first_stage = role_.first;
  mo.last_stage = role_.last;
  mo.tensor_shard = role_.tp > 1;
  mo.max_prefill_chunk = opt_.prefill_chunk;
  mc_.emplace(hw_, rep_.hw, rm_.config, mo);
}

RunSession::Tokens RunSession::chunk_tokens(size_t c) const {
  const compiler::PrefillChunk& ch = chunks_.at(c);
  Tokens t;
  for (const auto& p : rep_.prompts) t.emplace_back(p.begin() + long(ch.past), p.begin() + long(ch.past + ch.q_len));
  return shard_ids(std::move(t));
}

void RunSession::setup_simulator() {
  sim::SimOptions so;
  so.mode = opt_.timing_only ? sim::Mode::TimingOnly : sim::Mode::Functional;
  so.expected_config_hash = rep_.hw_hash;
  if (opt_.dma_request_bytes) so.timing.dma_request_bytes = opt_.dma_request_bytes;
  so.timing.dram_fidelity = opt_.dram_fidelity;
  std::string dram = hw_.hbm.dram;
  if (!hw_.memory.empty()) {
    dram.clear();
    for (const auto& p : hw_.memory) dram += fmt::format("{}{}={} {}", dram.empty() ? "" : ", ", p.name, p.standard, p.speed);
  }
  rep_.dram = fmt::format("{} ({})", dram, sim::dram_fidelity_name(opt_.dram_fidelity));
  // The observer only reads machine state: tokens, cycles and instruction counts are unchanged.
  if (opt_.dump_hidden_layers) so.observer = [this](const sim::Effects&, uint32_t) { probe_.observe(); };
  simu_.emplace(hw_, so);
  probe_.machine = &simu_->machine();
  // Per-step statistics and traces come from a simulation: those runs simulate every step.
  if (opt_.timing_only && opt_.step_reuse && opt_.stats_dir.empty() && opt_.trace_dir.empty()) reuse_.emplace(hw_, so);
  if (opt_.timing_only) return;
  write_weight_image(simu_->machine().hbm(), *mc_, rm_.weights, false);  // table rows: per step
}

void RunSession::setup_references() {
  if (opt_.timing_only) return;
  // The weight image is written: the quantized head is decoded from it where that is exact.
  const EncodedHead head{simu_->machine().hbm(), mc_->manifest().tensor(kLmHead)};
  refs_.emplace(rm_.config, rm_.weights, hw_, opt_.batch, opt_.gen, &head);
}

bool RunSession::step() {
  if (done_ == steps_) return false;
  StepReport st;
  st.kind = prefill() ? "prefill" : "decode";
  st.past = past_;
  st.q_len = feed_[0].size();
  const compiler::CompiledStep& step = compile(st);
  simulate(step, st);
  Tokens next(opt_.batch);
  if (!has_logits()) {
    next = chunk_tokens(done_ + 1);
  } else if (!opt_.timing_only) {
    next = compare(step, st);
  } else {
    // No data: decode steps re-feed each prompt's last token (timing does not depend on ids).
    for (uint64_t b = 0; b < opt_.batch; ++b) next[b] = {rep_.prompts[b].back()};
    next = shard_ids(std::move(next));
  }
  advance(std::move(st), std::move(next));
  return true;
}

const compiler::CompiledStep& RunSession::compile(StepReport& st) {
  const auto c0 = std::chrono::steady_clock::now();
  const compiler::CompiledStep& step = mc_->compile_step(feed_, past_, has_logits());
  st.compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
  st.program_words = step.program.instrs.size();
  return step;
}

// The step's trace streams to its file as it runs; a fault leaves no file behind (the run fails).
sim::SimResult RunSession::run_traced(const compiler::CompiledStep& step, StepReport& st) {
  const auto program = std::span<const isa::Instr>(step.program.instrs);  // valid by construction
  if (reuse_) {
    sim::SimResult r = reuse_->run(*simu_, program, step.layer_pcs, &st.reused);
    st.skipped_layers = reuse_->skipped_segments();
    return r;
  }
  if (opt_.trace_dir.empty()) return simu_->run(program);
  warn_trace_size(st);
  OutputFile file(opt_.trace_dir / fmt::format("step{:04d}.trace.json", done_));
  sim::TimingOptions& t = simu_->timing_options();
  t.trace = &file.stream();
  t.trace_first = opt_.trace_first;
  t.trace_last = opt_.trace_last;
  sim::SimResult r;
  try {
    r = simu_->run(program);
  } catch (...) {
    t.trace = nullptr;
    throw;
  }
  t.trace = nullptr;
  simu_->timing()->close_trace();
  file.close();
  return r;
}

// Once: when a step like the last one of its kind would trace more than the disk holds.
void RunSession::warn_trace_size(const StepReport& st) {
  if (trace_warned_) return;
  uint64_t expect = st.program_words;  // a lower bound; the previous step of the kind is better
  for (auto it = rep_.steps.rbegin(); it != rep_.steps.rend(); ++it)
    if (it->kind == st.kind) {
      expect = it->executed;
      break;
    }
  const uint64_t window = opt_.trace_last - opt_.trace_first;
  const uint64_t bytes = sim::trace_bytes(std::min(expect, window));
  std::error_code ec;
  const auto space = std::filesystem::space(opt_.trace_dir, ec);
  if (ec || bytes <= space.available) return;
  trace_warned_ = true;
  fmt::print(stderr, "warning: --trace-dir: step {} may write about {} B of trace ({} B per traced instruction), more "
             "than the {} B free there; --trace-window START:END traces part of each step\n",
             done_, bytes, sim::kTraceBytesPerEvent, space.available);
}

void RunSession::simulate(const compiler::CompiledStep& step, StepReport& st) {
  if (!opt_.timing_only) write_embedding_rows(simu_->machine().hbm(), *mc_, rm_.weights, feed_);
  preload_step(*simu_, step);
  if (opt_.dump_hidden_layers && has_logits()) probe_.begin(step, hidden());
  const sim::SimResult r = run_traced(step, st);
  if (!opt_.stats_dir.empty())
    write_text_file(opt_.stats_dir / fmt::format("step{:04d}.stats.json", done_), r.timing.to_json() + "\n");
  st.executed = r.executed;
  st.time_ps = r.timing.time_ps;
  st.cycles = r.timing.cycles;
  st.hbm_read_bytes = r.timing.hbm_read_bytes;
  st.hbm_write_bytes = r.timing.hbm_write_bytes;
  st.pools.clear();
  if (r.timing.pools.size() > 1)
    for (const sim::PoolTraffic& p : r.timing.pools)
      st.pools.push_back({p.name, p.dram, p.read_bytes, p.write_bytes, p.transfers});
  st.energy = RunEnergy::from(r.timing.energy);
  st.host_seconds = r.host_seconds;
  const sim::UnitStats* us[6] = {&r.timing.matrix, &r.timing.vector, &r.timing.scalar_int,
                                 &r.timing.scalar_fp, &r.timing.control, &r.timing.dma};
  for (int u = 0; u < 6; ++u) units_[u].busy_cycles += us[u]->busy_cycles;
  total_cycles_ += r.timing.cycles;
}

// The simulated logits against the references, sequence by sequence; returns the tokens fed next.
RunSession::Tokens RunSession::compare(const compiler::CompiledStep& step, StepReport& st) {
  const uint64_t B = opt_.batch, V = vocab(), Hd = hidden(), Vp = mc_->vocab_padded();
  const uint64_t hidden_stages = opt_.dump_hidden_layers ? stages() : 0;
  const std::vector<float> logits = read_rows(simu_->machine(), step.logits, B, Vp);
  std::vector<float> ref_logits(B * V), ref_hidden(hidden_stages * B * Hd);
  Tokens next(B);
  for (uint64_t b = 0; b < B; ++b) {
    model::Capture cap;
    const float* sl = &logits[b * Vp];
    Agreement a;
    // The references run unchunked: the last prefill chunk feeds them the whole prompt.
    const std::vector<int64_t>& fed = prefill() ? rep_.prompts[b] : feed_[b];
    const model::Tensor lr = refs_->step(b, fed, sl, hidden_stages ? &cap : nullptr, a);
    for (uint64_t si = 0; si < hidden_stages; ++si) {
      const model::Tensor& t = cap.at(si == 0 ? std::string("embed") : fmt::format("layers.{}.output", si - 1));
      std::copy_n(&t.data[(t.shape.at(0) - 1) * Hd], Hd, &ref_hidden[(si * B + b) * Hd]);
    }
    std::copy(lr.data.begin(), lr.data.end(), ref_logits.begin() + b * V);
    st.agreement.push_back(a);
    mean_sum_ += a.mean_abs;
    st.sim_tokens.push_back(int64_t(model::argmax(sl, V)));
    st.ref_tokens.push_back(int64_t(model::argmax(&ref_logits[b * V], V)));
    if (token_index() < opt_.gen) rep_.generated[b].push_back(st.sim_tokens.back());
    next[b] = {opt_.teacher_force ? st.ref_tokens.back() : st.sim_tokens.back()};
  }
  if (!opt_.dump_dir.empty()) dump_logits(step, logits, ref_logits);
  if (opt_.dump_hidden_layers) compare_hidden_layers(st, ref_hidden);
  return next;
}

void RunSession::dump_logits(const compiler::CompiledStep& step, const std::vector<float>& logits,
                             const std::vector<float>& ref_logits) const {
  const uint64_t B = opt_.batch, V = vocab(), Vp = mc_->vocab_padded();
  std::vector<float> packed(B * V);
  for (uint64_t b = 0; b < B; ++b) std::copy_n(&logits[b * Vp], V, packed.begin() + b * V);
  npy_save(opt_.dump_dir / fmt::format("step{:04d}_logits.npy", token_index()), npy_from_f32(packed, {B, V}));
  npy_save(opt_.dump_dir / fmt::format("step{:04d}_ref_logits.npy", token_index()), npy_from_f32(ref_logits, {B, V}));
  // Final-norm hidden state of each sequence's last token (the LM head's input, row b).
  const std::vector<float> hid = read_rows(simu_->machine(), step.hidden, B, hidden());
  npy_save(opt_.dump_dir / fmt::format("step{:04d}_hidden.npy", token_index()), npy_from_f32(hid, {B, hidden()}));
}

void RunSession::compare_hidden_layers(StepReport& st, const std::vector<float>& ref_hidden) {
  const uint64_t B = opt_.batch, Hd = hidden(), n = stages();
  if (probe_.next != n)
    throw std::logic_error(fmt::format("step {}: {} of {} residual checkpoints reached", done_, probe_.next, n));
  for (uint64_t si = 0; si < n; ++si)
    st.hidden_layers.push_back(compare_hidden(si, &probe_.data[si * B * Hd], &ref_hidden[si * B * Hd], B, Hd));
  npy_save(opt_.dump_dir / fmt::format("step{:04d}_hidden_layers.npy", token_index()), npy_from_f32(probe_.data, {n, B, Hd}));
  npy_save(opt_.dump_dir / fmt::format("step{:04d}_ref_hidden_layers.npy", token_index()), npy_from_f32(ref_hidden, {n, B, Hd}));
  probe_.step = nullptr;
}

void RunSession::advance(StepReport st, Tokens next) {
  past_ += feed_[0].size();
  feed_ = std::move(next);
  add_step(rep_, std::move(st));
  ++done_;
  if (opt_.progress) opt_.progress(done_, steps_);
}

RunReport RunSession::report() {
  if (!opt_.timing_only) {
    summarize_agreement();
    if (!opt_.dump_dir.empty()) dump_generated();
  } else {
    rep_.verdict.reason = "timing-only run: no data is computed, so there is nothing to compare";
  }
  summarize_performance();
  rep_.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0_).count();
  return std::move(rep_);
}

void RunSession::summarize_agreement() {
  const AgreementTotals& t = refs_->sim_vs_fp32;
  rep_.teacher_forced_top1 = t.top1_rate();
  rep_.teacher_forced_steps = t.compared;
  rep_.teacher_forced_misses = t.compared - t.top1;
  rep_.max_miss_margin = t.max_miss_margin;
  rep_.logits_max_abs = t.max_abs;
  rep_.logits_min_cosine = t.min_cosine;
  rep_.logits_mean_abs = t.compared ? mean_sum_ / double(t.compared) : 0;
  rep_.ref_generated = References::tokens_of(refs_->fp32_greedy);
  rep_.greedy_match = token_match(rep_.generated, rep_.ref_generated);
  rep_.verdict = judge({refs_->sim_vs_fp32, refs_->quant_vs_fp32, refs_->sim_vs_quant, refs_->quant_vs_stored,
                        refs_->ref_logit_max, token_match(References::tokens_of(refs_->quant_greedy), rep_.ref_generated),
                        rep_.formats.label});
}

void RunSession::dump_generated() const {
  std::vector<int64_t> flat, rflat;
  for (uint64_t b = 0; b < opt_.batch; ++b) {
    flat.insert(flat.end(), rep_.generated[b].begin(), rep_.generated[b].end());
    rflat.insert(rflat.end(), rep_.ref_generated[b].begin(), rep_.ref_generated[b].end());
  }
  npy_save(opt_.dump_dir / "generated.npy", npy_from_i64(flat, {opt_.batch, opt_.gen}));
  npy_save(opt_.dump_dir / "ref_generated.npy", npy_from_i64(rflat, {opt_.batch, opt_.gen}));
}

// Simulated latency and throughput, HBM bandwidth, unit utilization, host simulation speed.
void RunSession::summarize_performance() {
  summarize_latency(rep_);
  for (auto& u : units_) {
    u.utilization = total_cycles_ ? double(u.busy_cycles) / double(total_cycles_) : 0;
    rep_.units.push_back(u);
  }
  rep_.sim_instr_per_s = rep_.host_seconds > 0 ? double(rep_.executed) / rep_.host_seconds : 0;
}

}  // namespace

void detail::add_step(RunReport& rep, StepReport st) {
  rep.executed += st.executed;
  rep.reused_steps += st.reused;
  rep.skipped_layers += st.skipped_layers;
  rep.hbm_read_bytes += st.hbm_read_bytes;
  rep.hbm_write_bytes += st.hbm_write_bytes;
  if (rep.pools.empty()) rep.pools = st.pools;
  else
    for (size_t i = 0; i < std::min(rep.pools.size(), st.pools.size()); ++i) {
      rep.pools[i].read_bytes += st.pools[i].read_bytes;
      rep.pools[i].write_bytes += st.pools[i].write_bytes;
      rep.pools[i].transfers += st.pools[i].transfers;
    }
  rep.host_seconds += st.host_seconds;
  rep.compile_seconds += st.compile_seconds;
  rep.collective_s += double(st.collective_ps) * 1e-12;
  rep.energy.add(st.energy);
  rep.steps.push_back(std::move(st));
}

void detail::summarize_latency(RunReport& rep) {
  const double B = double(rep.batch);
  const size_t n = rep.steps.size();
  double total_s = 0;
  for (const auto& st : rep.steps) total_s += double(st.time_ps) * 1e-12;
  // TTFT: the prefill step(s) that yield the first token, as serving systems report it.
  size_t prefill_steps = 0;
  rep.ttft_s = 0;
  for (const auto& st : rep.steps)
    if (st.kind == "prefill") {
      rep.ttft_s += double(st.time_ps) * 1e-12;
      ++prefill_steps;
    }
  if (n > prefill_steps) {
    rep.tpot_s = (total_s - rep.ttft_s) / double(n - prefill_steps);
    rep.tokens_per_s = rep.tpot_s > 0 ? B / rep.tpot_s : 0;
  } else {
    rep.tokens_per_s = rep.ttft_s > 0 ? B / rep.ttft_s : 0;
  }
  rep.hbm_gbps = total_s > 0 ? double(rep.hbm_read_bytes + rep.hbm_write_bytes) / total_s * 1e-9 : 0;
  const double e = rep.energy.total_j;
  rep.tokens_per_j = e > 0 ? B * double(rep.gen) / e : 0;
  rep.average_power_w = total_s > 0 ? e / total_s : 0;
}

RunEnergy RunEnergy::from(const ppa::Energy& e) {
  RunEnergy r;
  r.matrix_j = e.matrix_j, r.vector_j = e.vector_j, r.scalar_j = e.scalar_j, r.sram_j = e.sram_j;
  r.control_j = e.control_j, r.dma_j = e.dma_j, r.dram_j = e.dram_j, r.link_j = e.link_j;
  r.leakage_j = e.leakage_j;
  r.total_j = e.total_j();
  return r;
}

ppa::Energy RunEnergy::parts() const {
  ppa::Energy e;
  e.matrix_j = matrix_j, e.vector_j = vector_j, e.scalar_j = scalar_j, e.sram_j = sram_j;
  e.control_j = control_j, e.dma_j = dma_j, e.dram_j = dram_j, e.link_j = link_j, e.leakage_j = leakage_j;
  return e;
}

RunEnergy& RunEnergy::add(const RunEnergy& o, double times) {
  *this = from(parts().add(o.parts(), times));
  return *this;
}

uint64_t detail::shard_prefill_chunk(const RunOptions& opt, const ShardRole& role) {
  RunSession session(opt, role);
  session.prepare();
  return session.prefill_chunks().at(0).q_len;
}

RunReport detail::run_shard(const RunOptions& opt, const ShardRole& role) {
  RunSession session(opt, role);
  session.prepare();
  while (session.step()) {
  }
  return session.report();
}

RunReport run_model(const RunOptions& opt) {
  if (opt.devices > 1 || opt.tp > 1 || opt.pp > 1) return run_multi_device(opt);
  return run_shard(opt, {});
}

std::string RunReport::to_text() const {
  std::string s;
  auto ids = [](const std::vector<std::vector<int64_t>>& v) {
    std::string o;
    // Long prompts are abbreviated on the terminal (the JSON has every id).
    for (size_t b = 0; b < v.size(); ++b) {
      const size_t n = std::min<size_t>(v[b].size(), 32);
      o += fmt::format("{}[{}{}]", b ? " " : "", fmt::join(v[b].begin(), v[b].begin() + n, ","),
                       n < v[b].size() ? fmt::format(",... {} ids", v[b].size()) : "");
    }
    return o;
  };
  s += fmt::format("model        {}\n", model);
  s += fmt::format("hardware     {} (hash {}){}, DRAM {}\n", hw, hw_hash, timing_only ? ", timing-only" : "", dram);
  s += fmt::format("formats      HBM: weights {}, embedding/norms/biases {}, KV cache {}; on chip: activations {}, "
                   "matrix SRAM {}, scalar FP {} ({})\n",
                   formats.weights, formats.vectors, formats.kv, formats.activations, formats.matrix_sram, formats.fp_sram,
                   formats.checkpoint);
  size_t chunks = 0, chunk = 0;
  for (const auto& st : steps)
    if (st.kind == "prefill") ++chunks, chunk = std::max<size_t>(chunk, st.q_len);
  const std::string pre = chunks > 1 ? fmt::format("prefill in {} chunks of <= {} tokens", chunks, chunk) : "prefill";
  s += fmt::format("run          batch {}, prompt {} tokens, {} new tokens ({}){}\n", batch, prompt_len, gen,
                   gen > 1 ? fmt::format("{} + {} decode steps", pre, gen - 1) : gen ? pre : pre + " only",
                   teacher_force ? " (teacher-forced: fed the reference's tokens)" : "");
  s += fmt::format("prompt       {}\n", ids(prompts));
  if (!timing_only) {
    s += fmt::format("generated    {}\n", ids(generated));
    s += fmt::format("reference    {} (host fp32)\n", ids(ref_generated));
    s += fmt::format("agreement    vs the fp32 reference: greedy {:.1f}% of tokens, teacher-forced top-1 {:.1f}% of steps; logits max abs err "
                     "{:.3g}, mean abs err {:.3g}, min cosine {:.6f}\n",
                     100 * greedy_match, 100 * teacher_forced_top1, logits_max_abs, logits_mean_abs, logits_min_cosine);
    if (teacher_forced_misses)
      s += fmt::format("misses       {} of {} teacher-forced comparisons; the simulator's top-1 was at most {:.3g} below "
                       "the reference's top-1 in the reference's logits\n",
                       teacher_forced_misses, teacher_forced_steps, max_miss_margin);
    s += fmt::format("quantized    host reference in the same formats vs fp32: greedy {:.1f}% of tokens, top-1 {:.1f}% of "
                     "steps, logits max abs err {:.3g}, min cosine {:.6f}\n",
                     100 * verdict.quant_greedy_match, 100 * verdict.quant_top1, verdict.quant_max_abs,
                     verdict.quant_min_cosine);
    s += fmt::format("simulator    vs that quantized reference: top-1 {:.1f}% of steps, logits max abs err {:.3g}, min "
                     "cosine {:.6f} (its on-chip rounding alone moves it by {:.3g})\n",
                     100 * verdict.sim_vs_quant_top1, verdict.sim_vs_quant_max_abs, verdict.sim_vs_quant_min_cosine,
                     verdict.onchip_max_abs);
  }
  s += fmt::format("verdict      {}: {}\n", verdict.status, verdict.reason);
  if (!steps.empty() && !steps.back().hidden_layers.empty()) {
    s += fmt::format("hidden       residual stream, last token, step {} ({}): max abs err / reference RMS / min cosine\n",
                     steps.size() - 1, steps.back().kind);
    for (const auto& h : steps.back().hidden_layers)
      s += fmt::format("  {:<10} {:10.3g} {:10.3g} {:10.6f}\n", h.stage, h.max_abs, h.ref_rms, h.cosine);
  }
  s += fmt::format("latency      TTFT {:.3f} ms, TPOT {:.3f} ms, {:.1f} tokens/s (simulated{})\n", ttft_s * 1e3, tpot_s * 1e3,
                   tokens_per_s, devices > 1 ? fmt::format(", system of {} devices", devices) : "");
  if (devices > 1) s += devices_text();
  s += fmt::format("hbm          read {} B, written {} B, {:.2f} GB/s achieved\n", hbm_read_bytes, hbm_write_bytes, hbm_gbps);
  for (const PoolReport& p : pools)
    s += fmt::format("  pool {:<8} {:<14} read {} B, written {} B, {} transfers\n", p.name, p.dram, p.read_bytes,
                     p.write_bytes, p.transfers);
  s += fmt::format("energy       {:.4g} J{}, {:.4g} tokens/J, {:.3g} W average (PPA tables, docs/ppa.md): {}\n",
                   energy.total_j, devices > 1 ? " (all devices)" : "", tokens_per_j, average_power_w,
                   ppa::shares_text(energy.parts()));
  std::string u;
  for (const auto& x : units) u += fmt::format("{}{} {:.1f}%", u.empty() ? "" : ", ", x.unit, 100 * x.utilization);
  s += fmt::format("utilization  {}\n", u);
  s += fmt::format("host         {:.3f} s simulating, {} instructions, {:.2f} M instr/s; {:.3f} s compiling; {:.3f} s "
                   "wall in total\n",
                   host_seconds, executed, sim_instr_per_s * 1e-6, compile_seconds, wall_seconds);
  if (reused_steps)
    s += fmt::format("             {} of {} steps' timing reused from the step before, proven identical (--no-step-reuse "
                     "simulates each)\n",
                     reused_steps, steps.size());
  if (skipped_layers)
    s += fmt::format("             {} layers' timing reused from the layer before within their step, proven identical "
                     "(--no-step-reuse simulates each)\n",
                     skipped_layers);
  return s;
}

// The split, the collectives and each distinct shard program of a multi-device run.
std::string RunReport::devices_text() const {
  double decode_ps = 0;
  for (size_t i = 1; i < steps.size(); ++i) decode_ps += double(steps[i].collective_ps);
  const double decode_ms = steps.size() > 1 ? decode_ps / double(steps.size() - 1) * 1e-9 : 0;
  std::string s = fmt::format(
      "devices      {} = tensor parallel {} x pipeline parallel {} ({}); link {} GB/s, {} us per message\n", devices,
      tp, pp, split, link_gbps, link_latency_s * 1e6);
  s += fmt::format("collectives  prefill {:.3f} ms, decode {:.3f} ms per step (all-reduces and stage hand-offs; "
                   "{:.3f} s in all)\n",
                   double(steps.at(0).collective_ps) * 1e-9, decode_ms, collective_s);
  for (const ShardReport& x : shards)
    s += fmt::format("shard        {} [{} heads, {} kv heads, FFN {}, vocab {}; {} stage(s) x {} devices]: prefill "
                     "{:.3f} ms, TPOT {:.3f} ms; {} instructions, {} steps reused, {} layers reused, {:.3f} s simulating\n",
                     x.program, x.heads, x.kv_heads, x.intermediate, x.vocab, x.stages, tp, x.prefill_s * 1e3,
                     x.tpot_s * 1e3, x.executed, x.reused_steps, x.skipped_layers, x.host_seconds);
  return s;
}

std::string RunReport::to_json() const {
  const nlohmann::ordered_json j = *this;
  return j.dump(2) + "\n";
}

}  // namespace plena::runner

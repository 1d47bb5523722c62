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
#include "config/config.hpp"
#include "model/source.hpp"
#include "runner/runner_detail.hpp"
#include "runner/runner_numerics.hpp"
#include "runner/resources.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::runner {
namespace detail {

std::string hw_display_name(const std::string& spec) {
  return spec.find_first_of("=[\n") != std::string::npos ? std::string("<inline>") : spec;
}

sim::HbmTensor to_sim(const compiler::HbmTensor& t) {
  return sim::HbmTensor{t.base, t.rows, t.cols, t.row_stride, t.scale_reg, t.format};
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
  for (const auto& init : step.hbm_inits) sim::write_hbm_tensor(m.hbm(), to_sim(init.tensor), init.data);
  const auto fp = compiler::fp_sram_image(step.program.manifest);
  m.write_fpsram(0, fp);
  const auto in = compiler::int_sram_image(step.program.manifest);
  if (!in.empty()) m.write_intsram(0, in);
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

// The fp32 host reference and the same model quantized like the hardware (the verdict's
// expectation), each with a KV cache per sequence, fed exactly the tokens the simulator is fed.
struct References {
  model::HostReference fp32;
  QuantizedModel qmodel;
  model::HostReference quant;
  model::HostReference stored;  // weights and KV quantized, activations not rounded
  std::vector<model::KVCache> fp32_caches, quant_caches, stored_caches;
  AgreementTotals quant_vs_fp32, sim_vs_quant, sim_vs_fp32, quant_vs_stored;
  double ref_logit_max = 0;

  References(const model::ModelConfig& cfg, const model::ModelWeights& w, const config::HardwareConfig& hw, uint64_t B)
      : fp32(cfg, w),
        qmodel(quantize_like_hardware(cfg, w, hw)),
        quant(qmodel.config, qmodel.weights),
        stored(qmodel.config, qmodel.weights) {
    quant.set_rounding(hardware_rounding(hw));
    stored.set_rounding({nullptr, hardware_rounding(hw).kv_row});
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
    model::Tensor lr = fp32.forward(fp32_caches[b], t32, false, cap);
    const model::Tensor lq = quant.forward(quant_caches[b], t32, false);
    const model::Tensor ls = stored.forward(stored_caches[b], t32, false);
    const size_t V = lr.data.size();
    for (float x : lr.data) ref_logit_max = std::max(ref_logit_max, double(std::fabs(x)));
    vs_fp32 = compare_logits(sim, lr.data.data(), V);
    sim_vs_fp32.add(vs_fp32);
    quant_vs_fp32.add(compare_logits(lq.data.data(), lr.data.data(), V));
    sim_vs_quant.add(compare_logits(sim, lq.data.data(), V));
    quant_vs_stored.add(compare_logits(lq.data.data(), ls.data.data(), V));
    return lr;
  }
};

std::vector<std::vector<int64_t>> greedy(const model::HostReference& r, const std::vector<std::vector<int64_t>>& prompts,
                                         uint64_t gen) {
  std::vector<std::vector<model::TokenId>> p32;
  for (const auto& p : prompts) p32.emplace_back(p.begin(), p.end());
  std::vector<std::vector<int64_t>> out;
  for (const auto& g : r.generate_greedy(p32, gen)) out.emplace_back(g.begin(), g.end());
  return out;
}

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

RunReport run_model(const RunOptions& opt) {
  const auto wall0 = std::chrono::steady_clock::now();
  check_options(opt);
  if (opt.batch == 0 || opt.batch > kMaxBatch)
    throw InputError(fmt::format("--batch: error: {} sequences; expected 1 to {}", opt.batch, kMaxBatch));
  const model::ModelSource src = model::resolve_model_source(opt.model, !opt.timing_only);
  const config::HardwareConfig hw = config::resolve_config(opt.hw);
  RunReport rep;
  rep.hw = hw_display_name(opt.hw);
  rep.hw_hash = config::canonical_hash(hw);
  rep.timing_only = opt.timing_only;
  rep.teacher_force = opt.teacher_force;
  rep.batch = opt.batch;
  rep.gen = opt.gen;
  {
    // Sizes first: refuse before loading weights or allocating anything large.
    const model::ModelConfig cfg0 = src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
    const uint64_t P0 = opt.prompt_ids.empty() ? opt.prompt_len : opt.prompt_ids[0].size();
    check_run_counts(cfg0, P0, opt.gen, opt.batch);
    require_memory(run_memory_need(cfg0, hw, opt.batch, fed_positions(P0, opt.gen), !opt.timing_only, !src.is_preset),
                   host_memory_available(), "plena run",
                   "add --timing-only (timing without weights or data), or use a smaller model or batch");
  }
  ResolvedModel rm = resolve_model(opt.model, opt.seed, !opt.timing_only);
  const model::ModelConfig& cfg = rm.config;
  rep.model = rm.source;
  rep.formats = applied_formats(hw, cfg, rm.from_checkpoint);
  rep.prompts = make_prompts(cfg, opt.prompt_ids, opt.prompt_len, opt.batch, opt.seed);
  const uint64_t P = rep.prompts[0].size(), B = opt.batch, steps = std::max<uint64_t>(opt.gen, 1);
  rep.prompt_len = P;

  compiler::ModelCompileOptions mo;
  mo.batch = B;
  mo.max_positions = fed_positions(P, opt.gen);
  mo.loops = opt.loops;
  compiler::ModelCompiler mc(hw, rep.hw, cfg, mo);

  sim::SimOptions so;
  so.mode = opt.timing_only ? sim::Mode::TimingOnly : sim::Mode::Functional;
  so.expected_config_hash = rep.hw_hash;
  if (opt.dma_request_bytes) so.timing.dma_request_bytes = opt.dma_request_bytes;
  so.timing.dram_fidelity = opt.dram_fidelity;
  rep.dram = fmt::format("{} ({})", hw.hbm.dram, sim::dram_fidelity_name(opt.dram_fidelity));
  HiddenProbe probe;
  // The observer only reads machine state: tokens, cycles and instruction counts are unchanged.
  if (opt.dump_hidden_layers) so.observer = [&probe](const sim::Effects&, uint32_t) { probe.observe(); };
  sim::Simulator simu(hw, so);
  probe.machine = &simu.machine();
  const compiler::HbmManifest man = mc.manifest();
  if (!opt.timing_only)
    for (const auto& name : mc.weight_tensors())
      sim::write_hbm_tensor(simu.machine().hbm(), to_sim(man.tensor(name)), mc.weight_data(name, rm.weights));

  std::optional<References> refs;
  std::vector<std::vector<int64_t>> quant_generated;
  if (!opt.timing_only) {
    refs.emplace(cfg, rm.weights, hw, B);
    rep.ref_generated = greedy(refs->fp32, rep.prompts, opt.gen);
    quant_generated = greedy(refs->quant, rep.prompts, opt.gen);
  }
  if (!opt.dump_dir.empty()) std::filesystem::create_directories(opt.dump_dir);

  rep.generated.assign(B, {});
  std::vector<std::vector<int64_t>> feed = rep.prompts;
  uint64_t past = 0;
  const uint64_t V = uint64_t(cfg.vocab_size);
  UnitUtilization units[6] = {{"matrix"}, {"vector"}, {"scalar_int"}, {"scalar_fp"}, {"control"}, {"dma"}};
  uint64_t total_cycles = 0;
  double mean_sum = 0;
  for (uint64_t s = 0; s < steps; ++s) {
    StepReport st;
    st.kind = s == 0 ? "prefill" : "decode";
    st.past = past;
    st.q_len = feed[0].size();
    const auto c0 = std::chrono::steady_clock::now();
    const compiler::CompiledStep step = mc.compile_step(feed, past);
    st.compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    st.program_words = step.program.words.size();
    preload_step(simu, step);
    if (opt.dump_hidden_layers) probe.begin(step, uint64_t(cfg.hidden_size));
    const sim::SimResult r = simu.run(step.program.words);
    st.executed = r.executed;
    st.time_ps = r.timing.time_ps;
    st.cycles = r.timing.cycles;
    st.hbm_read_bytes = r.timing.hbm_read_bytes;
    st.hbm_write_bytes = r.timing.hbm_write_bytes;
    st.host_seconds = r.host_seconds;
    const sim::UnitStats* us[6] = {&r.timing.matrix, &r.timing.vector, &r.timing.scalar_int,
                                   &r.timing.scalar_fp, &r.timing.control, &r.timing.dma};
    for (int u = 0; u < 6; ++u) units[u].busy_cycles += us[u]->busy_cycles;
    total_cycles += r.timing.cycles;

    std::vector<std::vector<int64_t>> next(B);
    if (!opt.timing_only) {
      const std::vector<float> logits = read_rows(simu.machine(), step.logits, B, mc.vocab_padded());
      std::vector<float> ref_logits(B * V);
      const uint64_t Hd = uint64_t(cfg.hidden_size), stages = uint64_t(cfg.num_hidden_layers) + 1;
      std::vector<float> ref_hidden(opt.dump_hidden_layers ? stages * B * Hd : 0);
      for (uint64_t b = 0; b < B; ++b) {
        model::Capture cap;
        const float* sl = &logits[b * mc.vocab_padded()];
        Agreement a;
        const model::Tensor lr = refs->step(b, feed[b], sl, opt.dump_hidden_layers ? &cap : nullptr, a);
        for (uint64_t si = 0; si < (opt.dump_hidden_layers ? stages : 0); ++si) {
          const model::Tensor& t = cap.at(si == 0 ? std::string("embed") : fmt::format("layers.{}.output", si - 1));
          std::copy_n(&t.data[(t.shape.at(0) - 1) * Hd], Hd, &ref_hidden[(si * B + b) * Hd]);
        }
        std::copy(lr.data.begin(), lr.data.end(), ref_logits.begin() + b * V);
        st.agreement.push_back(a);
        mean_sum += a.mean_abs;
        st.sim_tokens.push_back(int64_t(model::argmax(sl, V)));
        st.ref_tokens.push_back(int64_t(model::argmax(&ref_logits[b * V], V)));
        if (s < opt.gen) rep.generated[b].push_back(st.sim_tokens.back());
        next[b] = {opt.teacher_force ? st.ref_tokens.back() : st.sim_tokens.back()};
      }
      if (!opt.dump_dir.empty()) {
        std::vector<float> packed(B * V);
        for (uint64_t b = 0; b < B; ++b)
          std::copy_n(&logits[b * mc.vocab_padded()], V, packed.begin() + b * V);
        npy_save(opt.dump_dir / fmt::format("step{:04d}_logits.npy", s), npy_from_f32(packed, {B, V}));
        npy_save(opt.dump_dir / fmt::format("step{:04d}_ref_logits.npy", s), npy_from_f32(ref_logits, {B, V}));
        // Final-norm hidden state of each sequence's last token (the LM head's input, row b).
        const std::vector<float> hid = read_rows(simu.machine(), step.hidden, B, uint64_t(cfg.hidden_size));
        npy_save(opt.dump_dir / fmt::format("step{:04d}_hidden.npy", s), npy_from_f32(hid, {B, uint64_t(cfg.hidden_size)}));
      }
      if (opt.dump_hidden_layers) {
        if (probe.next != stages)
          throw std::logic_error(fmt::format("step {}: {} of {} residual checkpoints reached", s, probe.next, stages));
        for (uint64_t si = 0; si < stages; ++si)
          st.hidden_layers.push_back(
              compare_hidden(si, &probe.data[si * B * Hd], &ref_hidden[si * B * Hd], B, Hd));
        npy_save(opt.dump_dir / fmt::format("step{:04d}_hidden_layers.npy", s), npy_from_f32(probe.data, {stages, B, Hd}));
        npy_save(opt.dump_dir / fmt::format("step{:04d}_ref_hidden_layers.npy", s),
                 npy_from_f32(ref_hidden, {stages, B, Hd}));
        probe.step = nullptr;
      }
    } else {
      // No data: decode steps re-feed each prompt's last token (timing does not depend on ids).
      for (uint64_t b = 0; b < B; ++b) next[b] = {rep.prompts[b].back()};
    }
    past += feed[0].size();
    feed = std::move(next);
    rep.executed += st.executed;
    rep.hbm_read_bytes += st.hbm_read_bytes;
    rep.hbm_write_bytes += st.hbm_write_bytes;
    rep.host_seconds += st.host_seconds;
    rep.steps.push_back(std::move(st));
    if (opt.progress) opt.progress(s + 1, steps);
  }

  if (!opt.timing_only) {
    const AgreementTotals& t = refs->sim_vs_fp32;
    rep.teacher_forced_top1 = t.top1_rate();
    rep.teacher_forced_steps = t.compared;
    rep.teacher_forced_misses = t.compared - t.top1;
    rep.max_miss_margin = t.max_miss_margin;
    rep.logits_max_abs = t.max_abs;
    rep.logits_min_cosine = t.min_cosine;
    rep.logits_mean_abs = t.compared ? mean_sum / double(t.compared) : 0;
    rep.greedy_match = token_match(rep.generated, rep.ref_generated);
    rep.verdict = judge({refs->sim_vs_fp32, refs->quant_vs_fp32, refs->sim_vs_quant, refs->quant_vs_stored,
                         refs->ref_logit_max,
                         token_match(quant_generated, rep.ref_generated), rep.formats.label});
    if (!opt.dump_dir.empty()) {
      std::vector<int64_t> flat, rflat;
      for (uint64_t b = 0; b < B; ++b) {
        flat.insert(flat.end(), rep.generated[b].begin(), rep.generated[b].end());
        rflat.insert(rflat.end(), rep.ref_generated[b].begin(), rep.ref_generated[b].end());
      }
      npy_save(opt.dump_dir / "generated.npy", npy_from_i64(flat, {B, opt.gen}));
      npy_save(opt.dump_dir / "ref_generated.npy", npy_from_i64(rflat, {B, opt.gen}));
    }
  } else {
    rep.verdict.reason = "timing-only run: no data is computed, so there is nothing to compare";
  }
  double total_s = 0;
  for (const auto& st : rep.steps) total_s += double(st.time_ps) * 1e-12;
  rep.ttft_s = double(rep.steps[0].time_ps) * 1e-12;
  if (steps > 1) {
    rep.tpot_s = (total_s - rep.ttft_s) / double(steps - 1);
    rep.tokens_per_s = rep.tpot_s > 0 ? double(B) / rep.tpot_s : 0;
  } else {
    rep.tokens_per_s = rep.ttft_s > 0 ? double(B) / rep.ttft_s : 0;
  }
  rep.hbm_gbps = total_s > 0 ? double(rep.hbm_read_bytes + rep.hbm_write_bytes) / total_s * 1e-9 : 0;
  for (auto& u : units) {
    u.utilization = total_cycles ? double(u.busy_cycles) / double(total_cycles) : 0;
    rep.units.push_back(u);
  }
  rep.sim_instr_per_s = rep.host_seconds > 0 ? double(rep.executed) / rep.host_seconds : 0;
  rep.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return rep;
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
  s += fmt::format("run          batch {}, prompt {} tokens, {} new tokens ({}){}\n", batch, prompt_len, gen,
                   gen > 1 ? fmt::format("prefill + {} decode steps", gen - 1) : std::string(gen ? "prefill" : "prefill only"),
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
  s += fmt::format("latency      TTFT {:.3f} ms, TPOT {:.3f} ms, {:.1f} tokens/s (simulated)\n", ttft_s * 1e3, tpot_s * 1e3,
                   tokens_per_s);
  s += fmt::format("hbm          read {} B, written {} B, {:.2f} GB/s achieved\n", hbm_read_bytes, hbm_write_bytes, hbm_gbps);
  std::string u;
  for (const auto& x : units) u += fmt::format("{}{} {:.1f}%", u.empty() ? "" : ", ", x.unit, 100 * x.utilization);
  s += fmt::format("utilization  {}\n", u);
  s += fmt::format("host         {:.3f} s simulating, {} instructions, {:.2f} M instr/s; {:.3f} s wall in total\n",
                   host_seconds, executed, sim_instr_per_s * 1e-6, wall_seconds);
  return s;
}

std::string RunReport::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["hw"] = hw;
  j["hw_hash"] = hw_hash;
  j["dram"] = dram;
  j["timing_only"] = timing_only;
  j["teacher_force"] = teacher_force;
  j["batch"] = batch;
  j["prompt_len"] = prompt_len;
  j["gen"] = gen;
  j["prompts"] = prompts;
  j["generated"] = generated;
  j["ref_generated"] = ref_generated;
  j["greedy_match"] = greedy_match;
  j["teacher_forced_top1"] = teacher_forced_top1;
  j["teacher_forced_steps"] = teacher_forced_steps;
  j["teacher_forced_misses"] = teacher_forced_misses;
  j["max_miss_margin"] = max_miss_margin;
  j["logits_max_abs"] = logits_max_abs;
  j["logits_mean_abs"] = logits_mean_abs;
  j["logits_min_cosine"] = logits_min_cosine;
  j["formats"] = {{"weights", formats.weights},         {"vectors", formats.vectors},
                  {"kv", formats.kv},                   {"activations", formats.activations},
                  {"matrix_sram", formats.matrix_sram}, {"fp_sram", formats.fp_sram},
                  {"checkpoint", formats.checkpoint}};
  j["verdict"] = {{"status", verdict.status},
                  {"reason", verdict.reason},
                  {"quant_max_abs", verdict.quant_max_abs},
                  {"quant_min_cosine", verdict.quant_min_cosine},
                  {"quant_top1", verdict.quant_top1},
                  {"quant_greedy_match", verdict.quant_greedy_match},
                  {"sim_vs_quant_max_abs", verdict.sim_vs_quant_max_abs},
                  {"sim_vs_quant_min_cosine", verdict.sim_vs_quant_min_cosine},
                  {"sim_vs_quant_top1", verdict.sim_vs_quant_top1},
                  {"sim_vs_quant_miss_margin", verdict.sim_vs_quant_miss_margin},
                  {"onchip_max_abs", verdict.onchip_max_abs},
                  {"bound", verdict.bound}};
  j["ttft_s"] = ttft_s;
  j["tpot_s"] = tpot_s;
  j["tokens_per_s"] = tokens_per_s;
  j["hbm_read_bytes"] = hbm_read_bytes;
  j["hbm_write_bytes"] = hbm_write_bytes;
  j["hbm_gbps"] = hbm_gbps;
  for (const auto& u : units) j["utilization"][u.unit] = u.utilization;
  j["host_s"] = host_seconds;
  j["executed"] = executed;
  j["sim_instr_per_s"] = sim_instr_per_s;
  j["wall_s"] = wall_seconds;
  auto& steps_j = j["steps"] = nlohmann::ordered_json::array();
  for (const auto& st : steps) {
    nlohmann::ordered_json sj;
    sj["kind"] = st.kind;
    sj["past"] = st.past;
    sj["q_len"] = st.q_len;
    sj["program_words"] = st.program_words;
    sj["executed"] = st.executed;
    sj["time_ps"] = st.time_ps;
    sj["cycles"] = st.cycles;
    sj["hbm_read_bytes"] = st.hbm_read_bytes;
    sj["hbm_write_bytes"] = st.hbm_write_bytes;
    sj["sim_tokens"] = st.sim_tokens;
    sj["ref_tokens"] = st.ref_tokens;
    auto& aj = sj["agreement"] = nlohmann::ordered_json::array();
    for (const auto& a : st.agreement)
      aj.push_back({{"max_abs", a.max_abs}, {"mean_abs", a.mean_abs}, {"cosine", a.cosine}, {"top1", a.top1}, {"miss_margin", a.miss_margin}});
    if (!st.hidden_layers.empty()) {
      auto& hj = sj["hidden_layers"] = nlohmann::ordered_json::array();
      for (const auto& h : st.hidden_layers)
        hj.push_back({{"stage", h.stage}, {"max_abs", h.max_abs}, {"ref_rms", h.ref_rms}, {"cosine", h.cosine}});
    }
    steps_j.push_back(sj);
  }
  return j.dump(2) + "\n";
}

}  // namespace plena::runner

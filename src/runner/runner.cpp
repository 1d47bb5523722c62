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
#include "runner/runner_detail.hpp"
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

ResolvedModel resolve_model(const std::string& spec, uint64_t seed, bool need_weights) {
  namespace fs = std::filesystem;
  ResolvedModel r;
  const auto presets = model::model_preset_names();
  if (std::find(presets.begin(), presets.end(), spec) != presets.end()) {
    r.config = model::model_preset(spec);
    if (need_weights) r.weights = model::make_random_weights(r.config, seed);
    r.source = fmt::format("preset {} (random weights, seed {})", spec, seed);
    return r;
  }
  const fs::path dir(spec);
  if (!fs::is_directory(dir))
    throw InputError(fmt::format("{}: error: not a model preset ({}) nor a Hugging Face model directory", spec,
                                 fmt::join(presets, ", ")));
  if (need_weights) {
    model::LoadedModel lm = model::load_hf_model(dir);
    r.config = std::move(lm.config);
    r.weights = std::move(lm.weights);
  } else {
    r.config = model::parse_hf_config(dir / "config.json");
  }
  r.source = dir.string();
  return r;
}

std::vector<std::vector<int64_t>> make_prompts(const model::ModelConfig& cfg, const std::vector<int64_t>& ids,
                                               uint64_t prompt_len, uint64_t batch, uint64_t seed) {
  std::vector<std::vector<int64_t>> prompts(batch);
  for (uint64_t b = 0; b < batch; ++b) {
    if (!ids.empty()) {
      prompts[b] = ids;
      continue;
    }
    if (prompt_len == 0) throw InputError("error: --prompt-len must be at least 1");
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
  for (int64_t id : prompts[0])
    if (id < 0 || id >= cfg.vocab_size)
      throw InputError(fmt::format("error: prompt token id {} out of range [0, {})", id, cfg.vocab_size));
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

std::vector<int64_t> parse_prompt_ids(const std::string& spec) {
  if (spec.size() > 4 && spec.substr(spec.size() - 4) == ".npy") {
    NpyArray a = npy_load(spec);
    return a.to_i64();
  }
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
      throw InputError(located("--prompt-ids", 1, int(i + 1),
                               fmt::format("'{}' is not a token id; expected non-negative integers like 1,2,3 or a .npy file",
                                           tok)));
    ids.push_back(v);
    i = j + 1;
  }
  return ids;
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

}  // namespace

RunReport run_model(const RunOptions& opt) {
  const auto wall0 = std::chrono::steady_clock::now();
  if (opt.batch == 0) throw InputError("error: --batch must be at least 1");
  if (opt.dump_hidden_layers && opt.dump_dir.empty())
    throw InputError("--dump-hidden: error: needs --dump-dir DIR, the directory the per-layer .npy files go to");
  if (opt.dump_hidden_layers && opt.timing_only)
    throw InputError("--dump-hidden: error: a --timing-only run has no data to dump; drop one of the two flags");
  ResolvedModel rm = resolve_model(opt.model, opt.seed, !opt.timing_only);
  const model::ModelConfig& cfg = rm.config;
  const config::HardwareConfig hw = config::resolve_config(opt.hw);
  RunReport rep;
  rep.model = rm.source;
  rep.hw = hw_display_name(opt.hw);
  rep.hw_hash = config::canonical_hash(hw);
  rep.timing_only = opt.timing_only;
  rep.teacher_force = opt.teacher_force;
  rep.batch = opt.batch;
  rep.gen = opt.gen;
  rep.prompts = make_prompts(cfg, opt.prompt_ids, opt.prompt_len, opt.batch, opt.seed);
  const uint64_t P = rep.prompts[0].size(), B = opt.batch;
  rep.prompt_len = P;

  compiler::ModelCompileOptions mo;
  mo.batch = B;
  mo.max_positions = P + opt.gen;
  mo.loops = opt.loops;
  compiler::ModelCompiler mc(hw, rep.hw, cfg, mo);

  sim::SimOptions so;
  so.mode = opt.timing_only ? sim::Mode::TimingOnly : sim::Mode::Functional;
  so.expected_config_hash = rep.hw_hash;
  if (opt.dma_request_bytes) {
    if ((opt.dma_request_bytes & (opt.dma_request_bytes - 1)) != 0)
      throw InputError(fmt::format("error: --dma-request-bytes {} must be a power of two", opt.dma_request_bytes));
    so.timing.dma_request_bytes = opt.dma_request_bytes;
  }
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

  std::optional<model::HostReference> ref;
  std::vector<model::KVCache> caches;
  if (!opt.timing_only) {
    ref.emplace(cfg, rm.weights);
    std::vector<std::vector<model::TokenId>> p32;
    for (const auto& p : rep.prompts) p32.emplace_back(p.begin(), p.end());
    for (const auto& g : ref->generate_greedy(p32, opt.gen + 1)) rep.ref_generated.emplace_back(g.begin(), g.end());
    for (uint64_t b = 0; b < B; ++b) caches.push_back(ref->new_cache());
  }
  if (!opt.dump_dir.empty()) std::filesystem::create_directories(opt.dump_dir);

  rep.generated.assign(B, {});
  std::vector<std::vector<int64_t>> feed = rep.prompts;
  uint64_t past = 0;
  const uint64_t V = uint64_t(cfg.vocab_size);
  UnitUtilization units[6] = {{"matrix"}, {"vector"}, {"scalar_int"}, {"scalar_fp"}, {"control"}, {"dma"}};
  uint64_t total_cycles = 0, tf_match = 0, tf_total = 0;
  double mean_sum = 0;
  for (uint64_t s = 0; s <= opt.gen; ++s) {
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
        std::vector<model::TokenId> t32(feed[b].begin(), feed[b].end());
        model::Capture cap;
        const model::Tensor lr = ref->forward(caches[b], t32, false, opt.dump_hidden_layers ? &cap : nullptr);
        for (uint64_t si = 0; si < (opt.dump_hidden_layers ? stages : 0); ++si) {
          const model::Tensor& t = cap.at(si == 0 ? std::string("embed") : fmt::format("layers.{}.output", si - 1));
          std::copy_n(&t.data[(t.shape.at(0) - 1) * Hd], Hd, &ref_hidden[(si * B + b) * Hd]);
        }
        std::copy(lr.data.begin(), lr.data.end(), ref_logits.begin() + b * V);
        const float* sl = &logits[b * mc.vocab_padded()];
        const Agreement a = compare_logits(sl, &ref_logits[b * V], V);
        st.agreement.push_back(a);
        rep.logits_max_abs = std::max(rep.logits_max_abs, a.max_abs);
        rep.logits_min_cosine = std::min(rep.logits_min_cosine, a.cosine);
        mean_sum += a.mean_abs;
        tf_match += a.top1;
        ++tf_total;
        rep.max_miss_margin = std::max(rep.max_miss_margin, a.miss_margin);
        st.sim_tokens.push_back(int64_t(model::argmax(sl, V)));
        st.ref_tokens.push_back(int64_t(model::argmax(&ref_logits[b * V], V)));
        rep.generated[b].push_back(st.sim_tokens.back());
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
    if (opt.progress) opt.progress(s + 1, opt.gen + 1);
  }

  if (!opt.timing_only) {
    rep.teacher_forced_top1 = tf_total ? double(tf_match) / double(tf_total) : 0;
    rep.teacher_forced_steps = tf_total;
    rep.teacher_forced_misses = tf_total - tf_match;
    rep.logits_mean_abs = tf_total ? mean_sum / double(tf_total) : 0;
    uint64_t same = 0, total = 0;
    for (uint64_t b = 0; b < B; ++b)
      for (size_t i = 0; i < rep.generated[b].size(); ++i) {
        ++total;
        same += i < rep.ref_generated[b].size() && rep.generated[b][i] == rep.ref_generated[b][i];
      }
    rep.greedy_match = total ? double(same) / double(total) : 0;
    if (!opt.dump_dir.empty()) {
      std::vector<int64_t> flat, rflat;
      for (uint64_t b = 0; b < B; ++b) {
        flat.insert(flat.end(), rep.generated[b].begin(), rep.generated[b].end());
        rflat.insert(rflat.end(), rep.ref_generated[b].begin(), rep.ref_generated[b].end());
      }
      npy_save(opt.dump_dir / "generated.npy", npy_from_i64(flat, {B, opt.gen + 1}));
      npy_save(opt.dump_dir / "ref_generated.npy", npy_from_i64(rflat, {B, opt.gen + 1}));
    }
  }
  double total_s = 0;
  for (const auto& st : rep.steps) total_s += double(st.time_ps) * 1e-12;
  rep.ttft_s = double(rep.steps[0].time_ps) * 1e-12;
  if (opt.gen > 0) {
    rep.tpot_s = (total_s - rep.ttft_s) / double(opt.gen);
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
  s += fmt::format("run          batch {}, prompt {} tokens, {} decode steps{}\n", batch, prompt_len, gen,
                   teacher_force ? " (teacher-forced: fed the reference's tokens)" : "");
  s += fmt::format("prompt       {}\n", ids(prompts));
  if (!timing_only) {
    s += fmt::format("generated    {}\n", ids(generated));
    s += fmt::format("reference    {}\n", ids(ref_generated));
    s += fmt::format("agreement    greedy {:.1f}% of tokens, teacher-forced top-1 {:.1f}% of steps; logits max abs err "
                     "{:.3g}, mean abs err {:.3g}, min cosine {:.6f}\n",
                     100 * greedy_match, 100 * teacher_forced_top1, logits_max_abs, logits_mean_abs, logits_min_cosine);
    if (teacher_forced_misses)
      s += fmt::format("misses       {} of {} teacher-forced comparisons; the simulator's top-1 was at most {:.3g} below "
                       "the reference's top-1 in the reference's logits\n",
                       teacher_forced_misses, teacher_forced_steps, max_miss_margin);
  }
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

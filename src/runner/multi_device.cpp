// `plena run --devices D [--tp T --pp P]`: a tensor- and pipeline-parallel system simulated one
// distinct shard program at a time (timing-only), with the collectives charged on the estimate's
// interconnect model (analytic/interconnect.hpp). docs/run.md "Multi-device runs".
#include <algorithm>
#include <functional>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <map>

#include "analytic/analytic.hpp"
#include "analytic/interconnect.hpp"
#include "compiler/layer_plan.hpp"
#include "compiler/shard.hpp"
#include "config/config.hpp"
#include "model/source.hpp"
#include "runner/runner_detail.hpp"
#include "support/support.hpp"

namespace plena::runner::detail {
namespace {

// Pipeline stages that run the same program: same role (embedding, LM head) and layer count.
struct ProgramGroup {
  compiler::PipelineStage stage;  // the first stage of the group
  uint64_t stages = 0, last_index = 0;
  RunReport report;
};

std::string program_name(const ProgramGroup& g, uint32_t pp) {
  const compiler::PipelineStage& s = g.stage;
  std::string what = fmt::format("layers {}-{} (each stage {} layers)", s.first_layer,
                                 s.first_layer + s.layers * g.stages - 1, s.layers);
  if (g.stages == 1) what = fmt::format("layers {}-{}", s.first_layer, s.first_layer + s.layers - 1);
  if (s.first) what = "embedding + " + what;
  if (s.last) what += " + final norm + LM head";
  const std::string where = g.stages == 1 ? fmt::format("stage {} of {}", s.index, pp)
                                          : fmt::format("stages {}-{} of {}", s.index, g.last_index, pp);
  return fmt::format("{}: {}", where, what);
}

std::vector<ProgramGroup> group_stages(uint64_t layers, uint32_t pp) {
  std::vector<ProgramGroup> groups;
  std::map<std::tuple<bool, bool, uint64_t>, size_t> index;
  for (const compiler::PipelineStage& s : compiler::pipeline_stages(layers, pp)) {
    const auto key = std::make_tuple(s.first, s.last, s.layers);
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) groups.push_back({s, 0, s.index, {}});
    groups[it->second].stages += 1;
    groups[it->second].last_index = s.index;
  }
  return groups;
}

// The split: given, or the one `plena estimate` finds fastest for this workload.
compiler::Split choose_split(const RunOptions& opt, const model::ModelConfig& m, const config::HardwareConfig& hw,
                             uint64_t prompt_len, std::string& note) {
  if (opt.tp || opt.pp) {
    note = "given (--tp/--pp)";
    return compiler::explicit_split(m, opt.devices, opt.tp, opt.pp);
  }
  analytic::Parallelism par;
  par.devices = opt.devices;
  par.link_GBps = opt.link_gbps;
  par.link_latency_us = opt.link_latency_us;
  const analytic::Estimate e = analytic::estimate(m, hw, {prompt_len, opt.gen, opt.batch}, par);
  note = "chosen by plena estimate (shortest prefill + decode; --tp/--pp to override)";
  return {e.tp, e.pp};
}

void check_multi_options(const RunOptions& opt) {
  if (!opt.timing_only)
    throw InputError(fmt::format("--devices: error: a run on {} devices is timing-only (the shards' partial results "
                                 "never cross the modelled interconnect); add --timing-only",
                                 opt.devices));
  if (!opt.stats_dir.empty() || !opt.trace_dir.empty())
    throw InputError("--devices: error: --stats-dir and --trace-dir write one device's steps; run the shard alone "
                     "(--devices 1) to trace it");
  if (!(opt.link_gbps > 0) || !std::isfinite(opt.link_gbps))
    throw InputError(fmt::format("--link-gbps: error: {} is not a positive bandwidth", opt.link_gbps));
  if (!(opt.link_latency_us >= 0) || !std::isfinite(opt.link_latency_us))
    throw InputError(fmt::format("--link-latency-us: error: {} is not a non-negative latency", opt.link_latency_us));
}

ShardReport shard_report(const ProgramGroup& g, uint32_t pp, const model::ModelConfig& shard) {
  const RunReport& r = g.report;
  ShardReport s;
  s.program = program_name(g, pp);
  s.stages = g.stages;
  s.first_layer = g.stage.first_layer;
  s.layers = g.stage.layers;
  s.embedding = g.stage.first;
  s.lm_head = g.stage.last;
  s.heads = uint64_t(shard.num_attention_heads);
  s.kv_heads = uint64_t(shard.num_key_value_heads);
  s.intermediate = uint64_t(shard.intermediate_size);
  s.vocab = uint64_t(shard.vocab_size);
  s.prefill_s = r.ttft_s;
  s.tpot_s = r.tpot_s;
  s.executed = r.executed;
  s.reused_steps = r.reused_steps;
  s.skipped_layers = r.skipped_layers;
  s.hbm_read_bytes = r.hbm_read_bytes;
  s.hbm_write_bytes = r.hbm_write_bytes;
  s.host_seconds = r.host_seconds;
  s.compile_seconds = r.compile_seconds;
  return s;
}

// Step i of the system: each stage's program in turn (one microbatch) plus the collectives.
StepReport system_step(const std::vector<ProgramGroup>& groups, size_t i, uint32_t tp,
                       const analytic::StepCollectives& coll, double ps_per_cycle, const ppa::EnergyModel& energy,
                       uint32_t devices) {
  const double collective_s = coll.seconds();
  const StepReport& first = groups[0].report.steps[i];
  StepReport st;
  st.kind = first.kind;
  st.past = first.past;
  st.q_len = first.q_len;
  st.reused = true;
  double time_ps = collective_s * 1e12;
  for (const ProgramGroup& g : groups) {
    const StepReport& s = g.report.steps[i];
    time_ps += double(g.stages) * double(s.time_ps);
    st.program_words += s.program_words;
    st.executed += g.stages * s.executed;
    st.hbm_read_bytes += tp * g.stages * s.hbm_read_bytes;
    st.hbm_write_bytes += tp * g.stages * s.hbm_write_bytes;
    st.energy.add(s.energy, double(tp * g.stages));
    st.host_seconds += s.host_seconds;
    st.compile_seconds += s.compile_seconds;
    st.reused = st.reused && s.reused;
    st.skipped_layers += s.skipped_layers;
  }
  st.time_ps = uint64_t(std::llround(time_ps));
  st.collective_ps = uint64_t(std::llround(collective_s * 1e12));
  st.cycles = uint64_t(std::llround(time_ps / ps_per_cycle));
  // Every device leaks for the whole step (the shards' own leakage covered only their programs);
  // the collectives' bytes cross the links.
  ppa::Activity idle;
  idle.seconds = time_ps * 1e-12 * devices;
  idle.link_bytes = coll.link_bytes;
  ppa::Energy parts = st.energy.parts();
  parts.leakage_j = 0;
  st.energy = RunEnergy::from(parts.add(energy(idle)));
  return st;
}

// Unit utilization: busy cycles of every device of one tensor rank over the system's cycles.
void combine_units(RunReport& sys, const std::vector<ProgramGroup>& groups, uint32_t pp) {
  uint64_t total_cycles = 0;
  for (const auto& st : sys.steps) total_cycles += st.cycles;
  sys.units = groups[0].report.units;
  for (size_t u = 0; u < sys.units.size(); ++u) {
    uint64_t busy = 0;
    for (const ProgramGroup& g : groups) busy += g.stages * g.report.units.at(u).busy_cycles;
    sys.units[u].busy_cycles = busy;
    sys.units[u].utilization = total_cycles ? double(busy) / (double(pp) * double(total_cycles)) : 0;
  }
}

// Every distinct shard program, simulated once (progress counts the steps of all of them).
void simulate_groups(const RunOptions& opt, const compiler::Split& split, std::vector<ProgramGroup>& groups) {
  RunOptions one = opt;
  one.devices = 1, one.tp = 0, one.pp = 0;
  if (groups.size() > 1) {
    std::vector<uint64_t> chunks;
    for (const ProgramGroup& g : groups)
      chunks.push_back(shard_prefill_chunk(one, ShardRole{split.tp, g.stage.layers, g.stage.first, g.stage.last}));
    // Where they differ, the smallest (a multiple of the prefill granule, shorter than the prompt)
    // makes every stage split the prompt alike (compiler::split_prefill).
    if (std::adjacent_find(chunks.begin(), chunks.end(), std::not_equal_to<>()) != chunks.end())
      one.prefill_chunk = *std::min_element(chunks.begin(), chunks.end());
  }
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    RunOptions sub = one;
    if (opt.progress)
      sub.progress = [&opt, gi, n = groups.size()](size_t done, size_t total) {
        opt.progress(gi * total + done, n * total);
      };
    const compiler::PipelineStage& s = groups[gi].stage;
    groups[gi].report = run_shard(sub, ShardRole{split.tp, s.layers, s.first, s.last});
  }
}

// Every program runs the same step sequence (same prompt, same chunking: the shards of one split
// have the same widths), so step i of each is one system step.
void check_same_steps(const std::vector<ProgramGroup>& groups) {
  const auto& steps = groups[0].report.steps;
  for (const ProgramGroup& g : groups) {
    const auto& other = g.report.steps;
    bool same = other.size() == steps.size();
    for (size_t i = 0; same && i < steps.size(); ++i)
      same = other[i].q_len == steps[i].q_len && other[i].past == steps[i].past;
    if (!same) throw std::logic_error("multi-device run: the shard programs ran different step sequences");
  }
}

// The system's steps: the programs' steps combined, each with its collectives.
void add_system_steps(RunReport& sys, const RunOptions& opt, const model::ModelConfig& m,
                      const config::HardwareConfig& hw, const compiler::Split& split,
                      const std::vector<ProgramGroup>& groups) {
  const analytic::Link link{opt.link_gbps, opt.link_latency_us};
  const compiler::ModelDims dims = compiler::model_dims(m, hw, split.tp);
  std::map<uint64_t, analytic::StepCollectives> collective_by_q;  // collectives depend on the step's rows only
  const ppa::EnergyModel energy(hw);
  const auto& steps = groups[0].report.steps;
  check_same_steps(groups);
  const double ps_per_cycle = double(steps[0].time_ps) / double(std::max<uint64_t>(1, steps[0].cycles));
  for (size_t i = 0; i < steps.size(); ++i) {
    const uint64_t q = steps[i].q_len;
    auto it = collective_by_q.find(q);
    if (it == collective_by_q.end()) {
      const compiler::StepPlan plan = compiler::step_plan(dims, hw, {opt.batch, q, steps[i].past, steps[i].past + q});
      const auto c = analytic::step_collectives(plan, uint64_t(m.num_hidden_layers), opt.batch, q,
                                                uint64_t(m.hidden_size), split.tp, split.pp, link);
      it = collective_by_q.emplace(q, c).first;
    }
    add_step(sys, system_step(groups, i, split.tp, it->second, ps_per_cycle, energy, opt.devices));
  }
}

}  // namespace

RunReport run_multi_device(const RunOptions& opt) {
  const auto wall0 = std::chrono::steady_clock::now();
  check_multi_options(opt);
  const model::ModelSource src = model::resolve_model_source(opt.model, false);
  const model::ModelConfig m = src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
  const config::HardwareConfig hw = config::resolve_config(opt.hw);
  const uint64_t prompt_len = opt.prompt_ids.empty() ? opt.prompt_len : opt.prompt_ids[0].size();
  check_run_counts(m, prompt_len, opt.gen, opt.batch);
  std::string note;
  const compiler::Split split = choose_split(opt, m, hw, prompt_len, note);
  std::vector<ProgramGroup> groups = group_stages(uint64_t(m.num_hidden_layers), split.pp);
  simulate_groups(opt, split, groups);

  RunReport sys = groups[0].report;  // model, hardware, formats, prompts: the same in every shard
  sys.devices = opt.devices, sys.tp = split.tp, sys.pp = split.pp;
  sys.link_gbps = opt.link_gbps, sys.link_latency_s = opt.link_latency_us * 1e-6;
  sys.split = note;
  sys.steps.clear();
  sys.executed = sys.reused_steps = sys.skipped_layers = sys.hbm_read_bytes = sys.hbm_write_bytes = 0;
  sys.host_seconds = sys.compile_seconds = sys.collective_s = 0;
  sys.energy = {};
  add_system_steps(sys, opt, m, hw, split, groups);
  summarize_latency(sys);
  combine_units(sys, groups, split.pp);
  uint64_t simulated = 0;
  for (const ProgramGroup& g : groups) simulated += g.report.executed;
  sys.sim_instr_per_s = sys.host_seconds > 0 ? double(simulated) / sys.host_seconds : 0;
  const model::ModelConfig shard = compiler::tensor_shard(m, split.tp);
  for (const ProgramGroup& g : groups) sys.shards.push_back(shard_report(g, split.pp, shard));
  sys.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return sys;
}

}  // namespace plena::runner::detail

// Model-level estimates: capacity check, parallel splits, determinism, monotonicity, baselines.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "analytic/analytic.hpp"
#include "compiler/compiler.hpp"
#include "compiler/kernel_registry.hpp"
#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::analytic;

namespace {
config::HardwareConfig big() { return config::preset("reference-analytic"); }
}  // namespace

TEST(Analytic, LinearCostsScaleWithWork) {
  auto cfg = big();
  MemoryModel mem(cfg);
  OpEstimate a = estimate_linear(cfg, mem, 128, 4096, 4096);
  OpEstimate b = estimate_linear(cfg, mem, 128, 4096, 8192);
  EXPECT_GT(a.cycles, 0);
  EXPECT_NEAR(b.cycles / a.cycles, 2.0, 0.1);  // twice the column blocks
  EXPECT_EQ(b.hbm_read_bytes, 2 * a.hbm_read_bytes);
  EXPECT_EQ(a.macs, 128ull * 4096 * 4096);
  // Decode (one row group) is memory bound, a long prefill chunk compute bound.
  EXPECT_EQ(a.bound, Bound::Memory);
  OpEstimate p = estimate_linear(cfg, mem, 8192, 4096, 4096);
  EXPECT_EQ(p.bound, Bound::Compute);
}

TEST(Analytic, DramCalibrationIsSane) {
  auto cfg = big();
  MemoryModel mem(cfg);
  const double eff = mem.sequential_efficiency();
  EXPECT_GT(eff, 0.5);
  EXPECT_LE(eff, 1.0);
  const DmaTiming t = mem.timing(prefetch_m_pattern(cfg, cfg.formats.m_weight, 4096));
  EXPECT_GT(t.first_cycles, t.per_transfer_cycles * 0.9);
  EXPECT_GE(t.alone_cycles, t.first_cycles * 0.9);
  // Streaming rate cannot beat the pins.
  const double bytes = double(prefetch_m_pattern(cfg, cfg.formats.m_weight, 4096).bytes());
  EXPECT_GE(t.per_transfer_cycles * mem.ps_per_cycle() * 1e-3 * mem.peak_GBps(), bytes * 0.999);
}

TEST(Analytic, SeventyBNeedsSeveralDevicesOnASmallHbm) {
  auto cfg = big();
  cfg.hbm.size_bytes = 80ull << 30;
  const auto m = model::model_preset("llama-3.3-70b");
  try {
    estimate(m, cfg, {114000, 5000, 1}, {});
    FAIL() << "70B fitted one 80 GiB device";
  } catch (const InputError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("--devices >= 2"), std::string::npos) << w;
    EXPECT_NE(w.find("hbm.size_bytes"), std::string::npos) << w;
  }
  Parallelism par;
  par.devices = 4;
  Estimate e = estimate(m, cfg, {114000, 5000, 1}, par);
  EXPECT_EQ(e.tp, 4u);
  EXPECT_LE(e.weight_bytes_per_device + e.kv_bytes_per_device, cfg.hbm.size_bytes);
}

TEST(Analytic, TensorParallelShortensTimeButAddsCommunication) {
  auto cfg = big();
  const auto m = model::model_preset("llama-3.1-8b");
  Parallelism one, eight;
  eight.devices = 8;
  Estimate a = estimate(m, cfg, {2048, 64, 1}, one), b = estimate(m, cfg, {2048, 64, 1}, eight);
  EXPECT_LT(b.ttft_s, a.ttft_s);
  EXPECT_GT(b.ttft_s, a.ttft_s / 8);  // padding and all-reduces keep it above ideal scaling
  bool has_allreduce = false;
  for (const auto& o : b.prefill.ops) has_allreduce |= o.name == "tp_allreduce";
  EXPECT_TRUE(has_allreduce);
  Parallelism slow = eight;
  slow.link_GBps = 1;
  EXPECT_GT(estimate(m, cfg, {2048, 64, 1}, slow).ttft_s, b.ttft_s);
  Parallelism pp;
  pp.devices = 4;
  pp.tp = 1;
  pp.pp = 4;
  Estimate c = estimate(m, cfg, {2048, 64, 1}, pp);
  EXPECT_EQ(c.pp, 4u);
  EXPECT_GE(c.ttft_s, a.ttft_s);  // one microbatch: stages run one after another, plus hops
}

// With neither --tp nor --pp the fastest factorization of the devices wins.
TEST(Analytic, AutomaticSplitIsTheFastestFactorization) {
  auto cfg = big();
  const auto m = model::model_preset("llama-3.1-8b");
  const Workload w{512, 32, 1};
  Parallelism autop;
  autop.devices = 16;
  const Estimate a = estimate(m, cfg, w, autop);
  EXPECT_EQ(uint64_t(a.tp) * a.pp, 16u);
  bool listed = false;
  for (const auto& s : a.assumptions) listed |= s.find("split chosen automatically") != std::string::npos;
  EXPECT_TRUE(listed);
  const double best = a.prefill.seconds + a.decode_s;
  int candidates = 0;
  for (uint32_t tp : {1u, 2u, 4u, 8u, 16u}) {
    Parallelism p = autop;
    p.tp = tp;
    const Estimate e = estimate(m, cfg, w, p);
    EXPECT_EQ(e.pp, 16u / tp);
    EXPECT_GE(e.prefill.seconds + e.decode_s, best);
    if (tp == a.tp) {
      EXPECT_DOUBLE_EQ(e.prefill.seconds + e.decode_s, best);
    }
    ++candidates;
  }
  EXPECT_EQ(candidates, 5);
}

// A sliding window (Mistral) bounds the attention work the kernel schedules (tiles below every
// query's window are skipped), so long-context decode stops growing with the context.
TEST(Analytic, SlidingWindowBoundsAttention) {
  auto cfg = big();
  model::ModelConfig m = model::model_preset("llama-3.1-8b");
  m.architecture = model::Architecture::Mistral;
  const Workload w{32768, 8, 1};
  const Estimate full = estimate(m, cfg, w, {});
  m.sliding_window = 4096;
  const Estimate win = estimate(m, cfg, w, {});
  auto attn = [](const PhaseEstimate& p) {
    double t = 0;
    for (const auto& o : p.ops)
      if (o.name == "attention") t += o.cycles * o.calls;
    return t;
  };
  EXPECT_LT(attn(win.decode_first), 0.5 * attn(full.decode_first));
  EXPECT_LT(attn(win.prefill), 0.8 * attn(full.prefill));  // per query chunk, only tiles below every row skip
  EXPECT_GT(attn(win.decode_first), 0.0);
}

// Qwen3's per-head q/k RMSNorm sits between the projections and RoPE (ModelCompiler order), one
// call per layer each, over the shard's q and kv columns; models without qk_norm have none.
TEST(Analytic, Qwen3QkNormsInTheComposition) {
  const auto cfg = config::preset("reference-small");
  const model::ModelConfig q3 = model::model_preset("tiny-qwen3");
  ASSERT_TRUE(q3.qk_norm);
  const Workload w{8, 4, 1};
  const Estimate e = estimate(q3, cfg, w, {});
  std::vector<std::string> names;
  const OpEstimate* qn = nullptr;
  const OpEstimate* kn = nullptr;
  for (const auto& o : e.prefill.ops) {
    names.push_back(o.name);
    if (o.name == "q_norm") qn = &o;
    if (o.name == "k_norm") kn = &o;
  }
  ASSERT_NE(qn, nullptr);
  ASSERT_NE(kn, nullptr);
  auto at = [&](std::string_view n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  EXPECT_LT(at("v_proj"), at("q_norm"));
  EXPECT_EQ(at("q_norm") + 1, at("k_norm"));
  EXPECT_LT(at("k_norm"), at("rope_q"));
  EXPECT_EQ(qn->calls, double(q3.num_hidden_layers));
  // q has 4x the heads of k (16 vs 4 of 32): more work, both non-trivial.
  EXPECT_GT(qn->instructions, kn->instructions);
  EXPECT_GT(kn->cycles, 0.0);
  // The counts follow the kernel: q [8 x 512] in 64-wide blocks of 2 heads each.
  compiler::KernelShape qs;
  qs.set("rows", 8).set("rows_alloc", 8).set("cols", 512).set("head_dim", 32);
  const compiler::KernelCost qc = compiler::count_kernel(cfg, "head_rmsnorm", qs);
  EXPECT_EQ(qn->instructions, qc.instructions());
  // Setup: m_0 (2 shifts, add, sub), the masked weight, m_1, the tiled weight (copy, shift, add);
  // per block x^2 and the weight product, 4 + 5 per head pair.
  EXPECT_EQ(qc.vector_ops(), 8u * 8u * (2 + 4 + 5) + 4 + 1 + 1 + 3);
  // Without qk_norm (tiny-qwen2 layout) the ops are absent.
  for (const auto& o : estimate(model::model_preset("tiny-qwen2"), cfg, w, {}).prefill.ops)
    EXPECT_TRUE(o.name != "q_norm" && o.name != "k_norm");
  // Tensor parallel: each device norms its share of the heads.
  Parallelism par;
  par.devices = 2;
  par.tp = 2;
  for (const auto& o : estimate(q3, cfg, w, par).prefill.ops) {
    if (o.name == "q_norm") {
      EXPECT_LT(o.instructions, qn->instructions);
    }
  }
  qs.set("head_dim", 48);
  EXPECT_THROW(compiler::count_kernel(cfg, "head_rmsnorm", qs), InputError);  // neither multiple nor divisor of VLEN
}

TEST(Analytic, LongContextRunsFastAndDecodeGrowsWithContext) {
  auto cfg = big();
  const auto m = model::model_preset("llama-3.3-70b");
  Parallelism par;
  par.devices = 16;
  const auto t0 = std::chrono::steady_clock::now();
  Estimate e = estimate(m, cfg, {131072, 1024, 1}, par);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)wall;  // reported by the CLI; no wall-clock thresholds in tests
  Estimate s = estimate(m, cfg, {4096, 1024, 1}, par);
  EXPECT_GT(e.tpot_s, s.tpot_s);
  EXPECT_GT(e.ttft_s, 10 * s.ttft_s);
  EXPECT_GT(e.energy_j, 0);
  EXPECT_GT(e.hbm_bytes, 0u);
  EXPECT_GT(e.tokens_per_s, 0);
}

TEST(Analytic, DeterministicJson) {
  auto cfg = big();
  const auto m = model::model_preset("llama-3.2-1b");
  const std::string a = to_json(estimate(m, cfg, {1000, 50, 2}, {}));
  const std::string b = to_json(estimate(m, cfg, {1000, 50, 2}, {}));
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("\"ttft_s\""), std::string::npos);
  EXPECT_NE(a.find("\"lm_head\""), std::string::npos);  // the reference omitted it
}

TEST(Analytic, BaselinesFollowTheirDatasheets) {
  const auto m = model::model_preset("llama-3.1-8b");
  const Workload w{1400, 200, 1};
  auto a = baseline_estimate(m, baseline_device("a100"), 1, w);
  auto h = baseline_estimate(m, baseline_device("h100"), 1, w);
  ASSERT_TRUE(a.fits && h.fits);
  // Batch-1 decode on one device is bandwidth bound: the TPOT ratio is the calibrated bandwidth ratio.
  const double bw_a = 2039 * baseline_device("a100").memory.efficiency, bw_h = 3350 * baseline_device("h100").memory.efficiency;
  EXPECT_NEAR(a.tpot_s / h.tpot_s, bw_h / bw_a, 0.02 * bw_h / bw_a);
  auto t = baseline_estimate(model::model_preset("llama-3.3-70b"), baseline_device("tpu-v6e"), 1, w);
  EXPECT_FALSE(t.fits);  // 140 GB of bf16 weights on one 32 GB chip
  EXPECT_THROW(baseline_device("b200"), InputError);
}

TEST(Analytic, CompareTableHasThePaperRows) {
  const std::string t = compare_table({"a100", "h100", "tpu-v6e"}, big(), 16, 1, false);
  for (const char* s : {"GSM8K 1400/200", "BFCL 114000/5000", "OSWorld 90000/8000", "16x PLENA", "4x h100", "16x tpu-v6e",
                        "Long-context",
                        "1.00 | 1.00", "assumptions"})
    EXPECT_NE(t.find(s), std::string::npos) << s << "\n" << t;
}

// The estimate's prefill is the compiler's chunk schedule (ModelCompiler::prefill_schedule): one
// pass per chunk at its KV length, the LM head only in the last, weights streamed per chunk.
TEST(Analytic, PrefillFollowsTheCompilersChunkSchedule) {
  const auto cfg = big();
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  compiler::ModelCompileOptions mo;
  mo.max_positions = 8192 + 7;
  mo.assembly = mo.words = mo.host_data = false;
  const compiler::ModelCompiler mc(cfg, "reference-analytic", m, mo);
  std::vector<uint64_t> want;
  for (const auto& c : mc.prefill_schedule(8192)) want.push_back(c.q_len);
  ASSERT_GT(want.size(), 1u);
  const Estimate e = estimate(m, cfg, {8192, 8, 1}, {});
  EXPECT_EQ(e.prefill_steps, want);
  auto calls = [](const PhaseEstimate& p, const std::string& name) {
    double n = 0;
    for (const auto& o : p.ops)
      if (o.name == name) n += o.calls;
    return n;
  };
  EXPECT_EQ(calls(e.prefill, "q_proj"), double(32 * want.size()));
  EXPECT_EQ(calls(e.prefill, "lm_head"), 1.0);
  // The prompt that fits is one step; a forced chunk splits it the same way the runner does.
  EXPECT_EQ(estimate(m, cfg, {2048, 8, 1}, {}).prefill_steps, std::vector<uint64_t>{2048});
  EXPECT_EQ(estimate(m, cfg, {2048, 8, 1, 1024}, {}).prefill_steps, (std::vector<uint64_t>{1024, 1024}));
  EXPECT_THROW(estimate(m, cfg, {2048, 8, 1, 1000}, {}), InputError);
}

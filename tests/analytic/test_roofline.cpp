// Step roofs (hand-computed on a small model), the TTFT definition, the paper-equivalent preset's
// derived numbers, the calibrated baselines and the --compare table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analytic/analytic.hpp"
#include "config/config.hpp"
#include "dram/dram.hpp"
#include "model/model.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::analytic;

namespace {

// 2 layers, hidden 32, 4 heads of 8 (2 KV heads), FFN 64, vocab 64: 9216 linear parameters per
// layer (q 1024, k 512, v 512, o 1024, gate/up/down 3 x 2048), lm_head 2048, 160 norm weights.
model::ModelConfig small_model(bool tied) {
  model::ModelConfig m;
  m.name = "roof-test";
  m.vocab_size = 64;
  m.hidden_size = 32;
  m.intermediate_size = 64;
  m.num_hidden_layers = 2;
  m.num_attention_heads = 4;
  m.num_key_value_heads = 2;
  m.head_dim = 8;
  m.tie_word_embeddings = tied;
  return m;
}

// tiny-fp32: MLEN 16 x BLEN 4 at 1 GHz = 64e9 MAC/s; fp32 in HBM (4 bytes); hbm2 256 GB/s.
config::HardwareConfig tiny() { return config::preset("tiny-fp32"); }

}  // namespace

TEST(Roofline, PrefillRoofsByHand) {
  const StepRoof r = step_roof(small_model(false), tiny(), 1, 1, 8, 8);
  EXPECT_EQ(r.linear_macs, 8u * 18432 + 2048);  // every row through the layers, one row through lm_head
  EXPECT_EQ(r.attention_macs, 2u * 32 * 2 * 36);  // layers x q_dim x (QK + PV) x (1 + ... + 8) keys
  EXPECT_EQ(r.weight_bytes, (18432u + 2048) * 4 + 160 * 2);
  EXPECT_EQ(r.kv_bytes, 2u * 2 * 16 * 8 * 4);       // K and V x layers x kv_dim x tokens x fp32
  EXPECT_EQ(r.embedding_bytes, 8u * 32 * 2);        // gathered bf16 rows
  EXPECT_DOUBLE_EQ(r.compute_roof_s, 154112.0 / 64e9);
  EXPECT_DOUBLE_EQ(r.memory_roof_s, 84800.0 / 256e9);
  EXPECT_DOUBLE_EQ(r.roof_s(), r.compute_roof_s);
}

TEST(Roofline, DecodeRoofsByHandAndPerDevice) {
  const StepRoof r = step_roof(small_model(false), tiny(), 1, 1, 1, 9);
  EXPECT_EQ(r.linear_macs, 18432u + 2048);
  EXPECT_EQ(r.attention_macs, 2u * 32 * 2 * 9);
  EXPECT_EQ(r.kv_bytes, 2u * 2 * 16 * 9 * 4);
  EXPECT_EQ(r.embedding_bytes, 32u * 2);
  EXPECT_DOUBLE_EQ(r.memory_roof_s, double((18432 + 2048) * 4 + 320 + 2304 + 64) / 256e9);
  const StepRoof two = step_roof(small_model(false), tiny(), 2, 1, 1, 9);
  EXPECT_DOUBLE_EQ(two.memory_roof_s, r.memory_roof_s / 2);
  EXPECT_DOUBLE_EQ(two.compute_roof_s, r.compute_roof_s / 2);
  // A tied lm_head is a quantized copy of the table: the same work and bytes.
  const StepRoof tied = step_roof(small_model(true), tiny(), 1, 1, 1, 9);
  EXPECT_EQ(tied.macs(), r.macs());
  EXPECT_EQ(tied.bytes(), r.bytes());
}

TEST(Roofline, SlidingWindowCapsKeys) {
  model::ModelConfig m = small_model(false);
  m.sliding_window = 4;
  // Queries see 1, 2, 3, 4, 4, 4, 4, 4 keys.
  EXPECT_EQ(step_roof(m, tiny(), 1, 1, 8, 8).attention_macs, 2u * 32 * 2 * 26);
  // Decode at context 100: 4 keys.
  EXPECT_EQ(step_roof(m, tiny(), 1, 3, 1, 100).attention_macs, 3u * 2 * 32 * 2 * 4);
}

TEST(Roofline, Llama8bMatchesTheIssueNumbers) {
  const auto m = model::model_preset("llama-3.1-8b");
  const auto cfg = config::preset("reference-analytic");
  const StepRoof p = step_roof(m, cfg, 1, 1, 2048, 2048);
  EXPECT_NEAR(double(p.linear_macs - 128256u * 4096) / 1e12, 14.29, 0.01);  // 14.3 T linear
  EXPECT_NEAR(double(p.attention_macs) / 1e12, 0.550, 0.001);                // 0.55 T causal attention
  EXPECT_NEAR(p.compute_roof_s * 1e3, 56.6, 0.1);
  const StepRoof d = step_roof(m, cfg, 1, 1, 1, 2049);
  EXPECT_NEAR(d.memory_roof_s * 1e3, 33.6, 0.1);
}

TEST(Roofline, TtftIsThePrefill) {
  const auto e = estimate(model::model_preset("tiny"), config::preset("reference-small"), {16, 4, 1}, {});
  EXPECT_DOUBLE_EQ(e.ttft_s, e.prefill.seconds);
  EXPECT_DOUBLE_EQ(e.prefill_plus_first_decode_s, e.prefill.seconds + e.decode_first.seconds);
  EXPECT_DOUBLE_EQ(e.prefill_roof.achieved_s, e.prefill.seconds);
  EXPECT_DOUBLE_EQ(e.decode_roof.achieved_s, e.decode_first.seconds);
  const auto j = nlohmann::json::parse(to_json(e));
  EXPECT_DOUBLE_EQ(j["ttft_s"].get<double>(), e.prefill.seconds);
  EXPECT_DOUBLE_EQ(j["prefill_plus_first_decode_s"].get<double>(), e.prefill_plus_first_decode_s);
  EXPECT_DOUBLE_EQ(j["roofline"]["prefill"]["compute_roof_s"].get<double>(), e.prefill_roof.compute_roof_s);
  EXPECT_GT(j["roofline"]["decode_first_step"]["achieved_over_memory_roof"].get<double>(), 1.0);
  EXPECT_NE(to_text(e).find("(prefill; + first decode step"), std::string::npos);
  EXPECT_NE(roofline_text(e, config::preset("reference-small")).find("decode (first)"), std::string::npos);
}

TEST(PaperEquivalent, MatchesFourA100sOverSixteenDevices) {
  const auto c = config::preset("paper-equivalent");
  const double macs_per_s = double(c.geometry.mlen) * double(c.geometry.blen) * c.compute.clock_ghz * 1e9;
  EXPECT_NEAR(16 * macs_per_s / (4 * 312e12 / 2), 1.0, 1e-12);  // 4 x 312 dense TFLOPS = 624 T MAC/s
  EXPECT_EQ(c.geometry.mlen, 2048u);
  const double bw = dram::preset(c.hbm.dram).peak_bandwidth_GBps();
  EXPECT_NEAR(16 * bw / (4 * 2039.0), 1.0, 2e-4);  // 4 x 2,039 GB/s (pin rate rounded to 1 Mbps)
  EXPECT_EQ(16 * c.hbm.size_bytes, 4 * (uint64_t(80) << 30));
  EXPECT_EQ(config::timing_mode_name(c.timing.mode), "decoupled");
}

TEST(Baselines, CalibratedEfficienciesAreFractionsWithSources) {
  for (const auto& d : baseline_devices()) {
    SCOPED_TRACE(d.name);
    for (const Calibration* c : {&d.compute, &d.memory}) {
      EXPECT_GT(c->efficiency, 0.2);
      EXPECT_LE(c->efficiency, 1.0);
      EXPECT_FALSE(c->source.empty());
    }
  }
  EXPECT_NE(baseline_device("a100").compute.source.find("377 ms"), std::string::npos);
  EXPECT_NE(baseline_device("h100").memory.source.find("18.58 ms"), std::string::npos);
  EXPECT_NE(baseline_device("tpu-v6e").memory.source.find("assumption"), std::string::npos);
}

TEST(Baselines, CapacityUsesUsableHbm) {
  const auto m = model::model_preset("llama-3.3-70b");
  const Workload w{114000, 5000, 1};
  EXPECT_FALSE(baseline_estimate(m, baseline_device("a100"), 1, w).fits);  // 141 GB of bf16 weights
  const auto four = baseline_estimate(m, baseline_device("a100"), 4, w);
  EXPECT_TRUE(four.fits);
  EXPECT_DOUBLE_EQ(four.usable_GB, 4 * 80 * kBaselineUsableHbm);
  EXPECT_DOUBLE_EQ(four.ttft_s, four.prefill_s);
}

TEST(Compare, TableFormatAndPaperColumn) {
  const auto cfg = config::preset("paper-equivalent");
  const std::string t = compare_table({"a100", "h100", "tpu-v6e"}, cfg, 16, 1, false);
  for (const char* s : {"model           workload", "4x a100", "4x h100", "16x tpu-v6e", "16x PLENA", "GSM8K 1400/200",
                        "Long-context 114000/5000*", "BFCL 114000/5000", "OSWorld 90000/8000", "| 1.91", "| 1.45",
                        "| 2.23", "| 2.21", "1.00 | 1.00", "why PLENA's column", "x its roof", "assumptions:",
                        "sources:", "377 ms", "406.77"})
    EXPECT_NE(t.find(s), std::string::npos) << s << "\n" << t;
  const auto j = nlohmann::json::parse(compare_table({"a100"}, cfg, 16, 1, true));
  ASSERT_EQ(j["rows"].size(), 4u);
  const double paper[] = {1.91, 1.45, 2.23, 2.21};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(j["rows"][i]["plena"]["paper"].get<double>(), paper[i]);
    EXPECT_DOUBLE_EQ(j["rows"][i]["a100"]["ours"].get<double>(), 1.0);
    EXPECT_EQ(j["rows"][i]["plena_why"]["prefill_ops"].size(), 3u);
  }
}

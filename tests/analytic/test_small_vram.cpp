// The estimate against the simulator where the VRAM is tight: a layer's attention picks its
// schedule (row sums, VRAM or FP SRAM statistics, query chunk) from the VRAM the model leaves it,
// and the estimate counts the kernel with that VRAM (ModelCompiler::attention_vram_free). The
// config is a front point of examples/dse/llama8b_agentic.toml with 32 MiB VRAM.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "analytic/analytic.hpp"
#include "compiler/model_compiler.hpp"
#include "config/config.hpp"
#include "model/model.hpp"
#include "runner/runner.hpp"

namespace plena::analytic {
namespace {

const std::string kSmallVram = R"([compute]
bmm_scale = 1.0
clock_ghz = 1.0

[formats]
m_kv = 'mase-bfp:int4:b16'
m_weight = 'ocp-mx:fp4_e2m1:b32'
v_act = 'plena-hw-mxfp:fp8_e4m3:b8'
v_kv = 'mase-bfp:int4:b16'

[geometry]
blen = 64
broadcast_amount = 32
hlen = 64
mlen = 2048
vlen = 2048

[hbm]
addr_regs = 8
dram = 'hbm3'
m_prefetch_amount = 2048
size_bytes = 137438953472
v_prefetch_amount = 4
v_writeback_amount = 4

[sram]
fp_depth = 1024
fp_type = 'bf16'
int_depth = 1024
matrix_depth = 4096
matrix_type = 'bf16'
vector_depth = 8192
vector_type = 'bf16'

[timing]
instruction_budget = 1000000000
latency_profile = 'analytic'
loop_iteration_budget = 1000000000
mode = 'decoupled'
)";

config::HardwareConfig small_vram() {
  return config::parse_config_toml(kSmallVram, "small-vram");
}

TEST(SmallVram, AttentionIsCountedWithTheVramTheLayerLeaves) {
  const config::HardwareConfig cfg = small_vram();
  const model::ModelConfig m = model::model_preset("llama-3.1-8b");
  compiler::ModelCompileOptions mo;
  mo.max_positions = 194;
  const compiler::ModelCompiler mc(cfg, "small-vram", m, mo);
  const auto free = mc.attention_vram_free(192, 192);
  ASSERT_TRUE(free.has_value());
  // The residual stream and the RoPE tables stay in VRAM beside the attention's Q and output.
  EXPECT_LT(*free, cfg.sram.vector_depth - 2 * 192 * 2);
  EXPECT_GT(*free, 0u);
}

TEST(SmallVram, EstimateWithinFivePercentOfTheSimulator) {
  const config::HardwareConfig cfg = small_vram();
  runner::RunOptions o;
  o.model = "llama-3.1-8b";
  o.hw = kSmallVram;
  o.prompt_len = 192;
  o.gen = 2;
  o.timing_only = true;
  o.dram_fidelity = sim::DramFidelity::Calibrated;
  const runner::RunReport r = runner::run_model(o);
  const Estimate e = estimate(model::model_preset("llama-3.1-8b"), cfg, {192, 2, 1}, {});
  // Before the estimate took the model's free VRAM: TTFT -24.7% (the row-sum schedule counted, FP
  // SRAM statistics run).
  EXPECT_LT(std::fabs(e.ttft_s / r.ttft_s - 1), 0.05) << e.ttft_s << " vs " << r.ttft_s;
  EXPECT_LT(std::fabs(e.tpot_s / r.tpot_s - 1), 0.05) << e.tpot_s << " vs " << r.tpot_s;
}

}  // namespace
}  // namespace plena::analytic

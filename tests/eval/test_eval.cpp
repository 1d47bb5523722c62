// The evaluator: precision ordering, exactness of fp32, the metrics against an independent
// computation, determinism (twice, concurrently), memoization by numerics key.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "config/config.hpp"
#include "eval/eval.hpp"
#include "runner/runner_numerics.hpp"
#include "support/support.hpp"

using namespace plena;

namespace {

eval::EvalSet random_set(const model::ModelConfig& cfg, uint64_t n, uint64_t len, uint64_t seed) {
  eval::EvalOptions o;
  o.num_prompts = n;
  o.prompt_len = len;
  o.seed = seed;
  return eval::load_set(cfg, o);
}

// Every metric but the CPU time, bit for bit.
void expect_same_bits(const eval::Metrics& a, const eval::Metrics& b) {
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.top1_agree, b.top1_agree);
  EXPECT_EQ(a.nonfinite_rows, b.nonfinite_rows);
  EXPECT_EQ(a.ppl_tokens, b.ppl_tokens);
  for (auto [x, y] : {std::pair{a.top1, b.top1}, {a.kl_mean, b.kl_mean}, {a.kl_max, b.kl_max}, {a.logit_rms, b.logit_rms},
                      {a.logit_max_abs, b.logit_max_abs}, {a.ppl, b.ppl}, {a.ppl_ref, b.ppl_ref}})
    EXPECT_EQ(0, std::memcmp(&x, &y, sizeof x)) << x << " vs " << y;
}

}  // namespace

// The acceptance: KL(fp32) = 0 < bf16 < MXFP8 < MXINT4, on several models and seeds.
TEST(Eval, PrecisionsOrderByKlDivergence) {
  for (const char* preset : {"tiny", "tiny-qwen2", "tiny-qwen3"})
    for (uint64_t seed : {1, 7}) {
      SCOPED_TRACE(fmt::format("{} seed {}", preset, seed));
      const model::ModelConfig cfg = model::model_preset(preset);
      const model::ModelWeights w = model::make_random_weights(cfg, seed);
      const eval::Evaluator ev(cfg, w, random_set(cfg, 3, 12, seed));
      const eval::Metrics fp32 = ev.evaluate(eval::precision("fp32")), bf16 = ev.evaluate(eval::precision("bf16")),
                          mxfp8 = ev.evaluate(eval::precision("mxfp8")), mxint4 = ev.evaluate(eval::precision("mxint4"));
      EXPECT_EQ(fp32.positions, 36u);
      EXPECT_EQ(fp32.kl_mean, 0.0);
      EXPECT_EQ(fp32.kl_max, 0.0);
      EXPECT_EQ(fp32.logit_max_abs, 0.0);
      EXPECT_EQ(fp32.top1, 1.0);
      EXPECT_GT(bf16.kl_mean, 0.0);
      EXPECT_LT(bf16.kl_mean, mxfp8.kl_mean);
      EXPECT_LT(mxfp8.kl_mean, mxint4.kl_mean);
      EXPECT_LT(bf16.logit_rms, mxfp8.logit_rms);
      EXPECT_LT(mxfp8.logit_rms, mxint4.logit_rms);
      EXPECT_LE(mxint4.top1, bf16.top1);
    }
}

// The metrics recomputed here from the two references' logits, with the definitions of docs/eval.md.
TEST(Eval, MetricsMatchAnIndependentComputation) {
  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 3);
  const std::vector<model::TokenId> prompt = {5, 17, 300, 2, 99, 511, 0, 42};
  const std::vector<model::TokenId> text = {7, 8, 9, 10, 400, 401};
  const eval::Evaluator ev(cfg, w, {{prompt}, {text}});
  const config::HardwareConfig hw = config::resolve_config("reference-small");  // MXFP8 storage, bf16 SRAMs
  const eval::Metrics m = ev.evaluate(hw);

  auto q = runner::detail::quantize_like_hardware(cfg, w, hw);
  model::HostReference ref(cfg, w), quant(q.config, q.weights);
  auto r = runner::detail::hardware_rounding(hw);
  r.embedding_row = runner::detail::stored_embedding(w, hw);
  quant.set_rounding(r);
  const size_t V = size_t(cfg.vocab_size);
  double kl = 0, klmax = 0, sq = 0, mx = 0, nll = 0, nll_ref = 0;
  uint64_t top = 0, rows = 0;
  for (const auto* seq : {&prompt, &text}) {
    auto c1 = ref.new_cache(), c2 = quant.new_cache();
    const model::Tensor a = ref.forward(c1, *seq, true), b = quant.forward(c2, *seq, true);
    for (size_t p = 0; p < seq->size(); ++p, ++rows) {
      const float *x = &a.data[p * V], *y = &b.data[p * V];
      double zx = 0, zy = 0;
      for (size_t i = 0; i < V; ++i) zx += std::exp(double(x[i])), zy += std::exp(double(y[i]));
      double k = 0;
      for (size_t i = 0; i < V; ++i) {
        const double px = std::exp(double(x[i])) / zx;
        k += px * (std::log(px) - (double(y[i]) - std::log(zy)));
        sq += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
        mx = std::max(mx, std::fabs(double(y[i]) - x[i]));
      }
      kl += k;
      klmax = std::max(klmax, k);
      top += model::argmax(x, V) == model::argmax(y, V);
      if (seq == &text && p + 1 < seq->size()) {
        nll += std::log(zy) - y[size_t((*seq)[p + 1])];
        nll_ref += std::log(zx) - x[size_t((*seq)[p + 1])];
      }
    }
  }
  EXPECT_EQ(m.positions, rows);
  EXPECT_EQ(m.top1_agree, top);
  EXPECT_NEAR(m.kl_mean, kl / double(rows), 1e-9 * kl);
  EXPECT_NEAR(m.kl_max, klmax, 1e-9 * klmax);
  EXPECT_NEAR(m.logit_rms, std::sqrt(sq / double(rows * V)), 1e-12);
  EXPECT_EQ(m.logit_max_abs, mx);
  EXPECT_EQ(m.ppl_tokens, text.size() - 1);
  EXPECT_NEAR(m.ppl, std::exp(nll / double(text.size() - 1)), 1e-9 * m.ppl);
  EXPECT_NEAR(m.ppl_ref, std::exp(nll_ref / double(text.size() - 1)), 1e-9 * m.ppl_ref);
  EXPECT_EQ(ev.reference_ppl(), m.ppl_ref);
  EXPECT_GT(m.kl_mean, 0.0);
}

TEST(Eval, ReproducibleAcrossEvaluatorsThreadsAndOrder) {
  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 1);
  const std::vector<std::string> names = eval::precision_names();
  std::vector<eval::Metrics> first;
  {
    const eval::Evaluator ev(cfg, w, random_set(cfg, 2, 10, 5));
    for (const auto& n : names) first.push_back(ev.evaluate(eval::precision(n)));
  }
  const eval::Evaluator ev(cfg, w, random_set(cfg, 2, 10, 5));
  std::vector<eval::Metrics> second(names.size());
  std::vector<std::thread> threads;
  for (size_t i = names.size(); i-- > 0;)  // reverse order, concurrently, each choice twice
    threads.emplace_back([&, i] {
      (void)ev.evaluate(eval::precision(names[(i + 1) % names.size()]));  // races another thread on this key
      second[i] = ev.evaluate(eval::precision(names[i]));
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    expect_same_bits(first[i], second[i]);
  }
}

// Configs with the same formats but other geometry/timing share one evaluation.
TEST(Eval, NumericsChoiceIsTheFormatsOnly) {
  const config::HardwareConfig small = config::resolve_config("reference-small"),
                               analytic = config::resolve_config("reference-analytic");
  EXPECT_EQ(eval::NumericsChoice::of(small), eval::NumericsChoice::of(analytic));
  EXPECT_EQ(eval::NumericsChoice::of(small), eval::precision("mxfp8"));
  EXPECT_EQ(eval::NumericsChoice::of(config::resolve_config("tiny-fp32")), eval::precision("fp32"));
  EXPECT_NE(eval::precision("mxint4").key(), eval::precision("mxint8").key());
  EXPECT_EQ(eval::precision("mxint4").label(), "BFP int4 weights, BFP int4 KV, bf16 activations");
  // Changing any one format changes the key.
  eval::NumericsChoice c = eval::precision("bf16");
  const std::string base = c.key();
  for (numerics::Format eval::NumericsChoice::*f :
       {&eval::NumericsChoice::m_weight, &eval::NumericsChoice::m_kv, &eval::NumericsChoice::v_act,
        &eval::NumericsChoice::vector_type, &eval::NumericsChoice::matrix_type}) {
    eval::NumericsChoice d = c;
    d.*f = numerics::parse_format("fp16");
    EXPECT_NE(d.key(), base);
  }

  const model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 1);
  const eval::Evaluator ev(cfg, w, random_set(cfg, 1, 8, 1));
  const eval::Metrics a = ev.evaluate(small), b = ev.evaluate(analytic);
  expect_same_bits(a, b);
  EXPECT_EQ(a.cpu_s, b.cpu_s);  // the memo's result, not a second evaluation
  // Each format class matters on its own: weights only, KV only, activations only.
  for (auto f : {&eval::NumericsChoice::m_weight, &eval::NumericsChoice::m_kv, &eval::NumericsChoice::vector_type}) {
    eval::NumericsChoice one = eval::precision("fp32");
    one.*f = numerics::parse_format(f == &eval::NumericsChoice::vector_type ? "bf16" : "mase-bfp:int4:b16");
    EXPECT_GT(ev.evaluate(one).kl_mean, 0.0) << one.key();
  }
}

TEST(Eval, BadSetsAreInputErrors) {
  model::ModelConfig cfg = model::model_preset("tiny");
  const model::ModelWeights w = model::make_random_weights(cfg, 1);
  auto expect_error = [&](eval::EvalSet s, const std::string& what) {
    try {
      eval::Evaluator ev(cfg, w, std::move(s));
      ADD_FAILURE() << "no error for " << what;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error({}, "the evaluation set is empty");
  expect_error({{{1, 2}, {}}, {}}, "prompt 1 is empty");
  expect_error({{{1, 512}}, {}}, "token 512 (index 1) is outside the vocabulary [0, 512)");
  expect_error({{}, {{1, -3}}}, "text window 0 token -3");
  cfg.max_position_embeddings = 4;
  expect_error({{{1, 2, 3, 4, 5}}, {}}, "prompt 0 has 5 tokens; the model takes at most 4 positions");
}

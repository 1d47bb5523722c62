// The evaluator: the fp32 reference's logits once, then each numerics choice's quantized
// reference compared with them row by row (docs/eval.md "Metrics").
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <future>
#include <limits>
#include <map>
#include <mutex>

#include "eval/eval.hpp"
#include "runner/runner_numerics.hpp"
#include "support/host_memory.hpp"
#include "support/support.hpp"

namespace plena::eval {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// log(sum(exp(x))) in double, max-subtracted; the summation order is fixed (index order).
double log_sum_exp(const float* x, size_t n) {
  double mx = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  return mx + std::log(s);
}

bool all_finite(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

// One reference logit row, with what every comparison needs from it.
struct RefRow {
  double lse = 0;
  size_t top = 0;
};

// Running sums of one evaluation, added in a fixed order (sequence, then position).
struct Totals {
  uint64_t rows = 0, top1 = 0, nonfinite = 0, ppl_tokens = 0;
  double kl_sum = 0, kl_max = 0, sq_sum = 0, max_abs = 0, nll_sum = 0;
  uint64_t logits = 0;

  // `q` against the reference row `r`; `target` >= 0 adds the next token's NLL.
  void add(const float* r, const RefRow& rr, const float* q, size_t V, int64_t target) {
    ++rows;
    logits += V;
    top1 += model::argmax(q, V) == rr.top;
    if (!all_finite(q, V)) {
      ++nonfinite;
      if (target >= 0) ++ppl_tokens, nll_sum = std::numeric_limits<double>::infinity();
      return;
    }
    const double q_lse = log_sum_exp(q, V);
    double kl = 0;
    for (size_t i = 0; i < V; ++i) {
      const double lr = double(r[i]) - rr.lse, lq = double(q[i]) - q_lse;
      kl += std::exp(lr) * (lr - lq);
      const double d = double(q[i]) - double(r[i]);
      sq_sum += d * d;
      max_abs = std::max(max_abs, std::fabs(d));
    }
    kl = std::max(kl, 0.0);  // rounding can leave -1e-17 where the rows nearly agree
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
    if (target >= 0) {
      ++ppl_tokens;
      nll_sum += q_lse - double(q[target]);
    }
  }

  Metrics metrics() const {
    Metrics m;
    const double inf = std::numeric_limits<double>::infinity();
    m.positions = rows;
    m.top1_agree = top1;
    m.top1 = rows ? double(top1) / double(rows) : 1.0;
    m.nonfinite_rows = nonfinite;
    m.kl_mean = nonfinite ? inf : (rows ? kl_sum / double(rows) : 0.0);
    m.kl_max = nonfinite ? inf : kl_max;
    m.logit_rms = nonfinite ? inf : (logits ? std::sqrt(sq_sum / double(logits)) : 0.0);
    m.logit_max_abs = nonfinite ? inf : max_abs;
    m.ppl_tokens = ppl_tokens;
    m.ppl = ppl_tokens ? std::exp(nll_sum / double(ppl_tokens)) : 0.0;
    return m;
  }
};

}  // namespace

struct Evaluator::Impl {
  const model::ModelConfig cfg;
  const model::ModelWeights& w;
  EvalSet set;
  std::vector<const std::vector<model::TokenId>*> seqs;  // prompts, then texts
  size_t n_prompts = 0;
  std::vector<model::Tensor> ref_logits;                 // per sequence [n, vocab]
  std::vector<std::vector<RefRow>> ref_rows;
  uint64_t positions = 0;
  double ref_cpu_s = 0, ref_ppl = 0;
  mutable std::mutex mu;
  mutable std::map<std::string, std::shared_future<Metrics>> memo;

  Impl(const model::ModelConfig& c, const model::ModelWeights& weights, EvalSet s)
      : cfg(c), w(weights), set(std::move(s)) {}

  // Target of position p of sequence i: the next id of a text window, else none.
  int64_t target(size_t i, size_t p) const {
    if (i < n_prompts || p + 1 >= seqs[i]->size()) return -1;
    return (*seqs[i])[p + 1];
  }
  void check_set() const;
  void check_memory() const;
  void run_reference();
  Metrics compute(const NumericsChoice& choice) const;
};

void Evaluator::Impl::check_set() const {
  if (seqs.empty()) throw InputError("eval: error: the evaluation set is empty; expected at least one prompt or text window");
  for (size_t i = 0; i < seqs.size(); ++i) {
    const char* kind = i < n_prompts ? "prompt" : "text window";
    const size_t idx = i < n_prompts ? i : i - n_prompts;
    const auto& s = *seqs[i];
    if (s.empty()) throw InputError(fmt::format("eval: error: {} {} is empty; expected at least one token id", kind, idx));
    if (cfg.max_position_embeddings > 0 && int64_t(s.size()) > cfg.max_position_embeddings)
      throw InputError(fmt::format("eval: error: {} {} has {} tokens; the model takes at most {} positions "
                                   "(max_position_embeddings)", kind, idx, s.size(), cfg.max_position_embeddings));
    for (size_t p = 0; p < s.size(); ++p)
      if (s[p] < 0 || int64_t(s[p]) >= cfg.vocab_size)
        throw InputError(fmt::format("eval: error: {} {} token {} (index {}) is outside the vocabulary [0, {})", kind, idx,
                                     s[p], p, cfg.vocab_size));
  }
}

// The reference logits are kept for every compared row: refuse a set that cannot fit instead of
// failing in the middle of the pass.
void Evaluator::Impl::check_memory() const {
  uint64_t rows = 0, longest = 0;
  for (const auto* s : seqs) rows += s->size(), longest = std::max<uint64_t>(longest, s->size());
  const uint64_t vocab = uint64_t(cfg.vocab_size);
  MemoryNeed need;
  need.add("fp32 reference logits kept for comparison", sat_mul({rows, vocab, 4}), "--num-prompts/--prompt-len/--max-tokens");
  need.add("quantized copy of the weights (one per concurrent evaluation)", sat_mul({cfg.linear_param_count(), 4}));
  need.add("one sequence's logits and activations", sat_mul({longest, vocab + 4 * uint64_t(cfg.intermediate_size), 4}),
           "--prompt-len/--window");
  require_memory(need, host_memory_available(), "eval",
                 "evaluate fewer positions (--max-tokens, --num-prompts, --prompt-len) or a smaller model");
}

void Evaluator::Impl::run_reference() {
  const double t0 = thread_cpu_seconds();
  // Convert every lazy tensor the quantized references read as f32 now, so that concurrent
  // evaluations only read the weights (a lazy first access is not thread-safe).
  for (const auto& [name, shape] : model::expected_tensors(cfg))
    if (w.bf16_values(name).empty()) (void)w.get(name);
  model::HostReference ref(cfg, w);
  const size_t V = size_t(cfg.vocab_size);
  double nll = 0;
  uint64_t predicted = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    model::KVCache cache = ref.new_cache();
    ref_logits.push_back(ref.forward(cache, *seqs[i], true));
    const float* L = ref_logits.back().data.data();
    std::vector<RefRow> rows(seqs[i]->size());
    for (size_t p = 0; p < rows.size(); ++p) {
      rows[p] = {log_sum_exp(L + p * V, V), model::argmax(L + p * V, V)};
      if (const int64_t t = target(i, p); t >= 0) nll += rows[p].lse - double(L[p * V + size_t(t)]), ++predicted;
    }
    positions += rows.size();
    ref_rows.push_back(std::move(rows));
  }
  ref_ppl = predicted ? std::exp(nll / double(predicted)) : 0.0;
  ref_cpu_s = thread_cpu_seconds() - t0;
}

Metrics Evaluator::Impl::compute(const NumericsChoice& choice) const {
  const double t0 = thread_cpu_seconds();
  const config::HardwareConfig hw = choice.apply_to(config::HardwareConfig{});
  runner::detail::QuantizedModel q = runner::detail::quantize_like_hardware(cfg, w, hw);
  model::HostReference quant(q.config, q.weights);
  model::ReferenceRounding r = runner::detail::hardware_rounding(hw);
  r.embedding_row = runner::detail::stored_embedding(w, hw);
  quant.set_rounding(std::move(r));
  const size_t V = size_t(cfg.vocab_size);
  Totals tot;
  for (size_t i = 0; i < seqs.size(); ++i) {
    model::KVCache cache = quant.new_cache();
    const model::Tensor lq = quant.forward(cache, *seqs[i], true);
    const float* R = ref_logits[i].data.data();
    for (size_t p = 0; p < seqs[i]->size(); ++p)
      tot.add(R + p * V, ref_rows[i][p], lq.data.data() + p * V, V, target(i, p));
  }
  Metrics m = tot.metrics();
  m.ppl_ref = ref_ppl;
  m.cpu_s = thread_cpu_seconds() - t0;
  return m;
}

Evaluator::Evaluator(const model::ModelConfig& cfg, const model::ModelWeights& w, EvalSet set)
    : impl_(std::make_unique<Impl>(cfg, w, std::move(set))) {
  for (const auto& s : impl_->set.prompts) impl_->seqs.push_back(&s);
  impl_->n_prompts = impl_->seqs.size();
  for (const auto& s : impl_->set.texts) impl_->seqs.push_back(&s);
  impl_->check_set();
  impl_->check_memory();
  model::validate_weights(cfg, w, cfg.name.empty() ? "<weights>" : cfg.name);
  impl_->run_reference();
}

Evaluator::~Evaluator() = default;

Metrics Evaluator::evaluate(const NumericsChoice& choice) const {
  const std::string key = choice.key();
  std::promise<Metrics> promise;
  std::shared_future<Metrics> result;
  bool mine = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->memo.find(key);
    if (it != impl_->memo.end()) {
      result = it->second;  // waited for below, outside the lock; cpu_s is the first evaluation's
    } else {
      result = promise.get_future().share();
      impl_->memo.emplace(key, result);
      mine = true;
    }
  }
  if (!mine) return result.get();
  try {
    promise.set_value(impl_->compute(choice));
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
  return result.get();
}

const EvalSet& Evaluator::set() const { return impl_->set; }
uint64_t Evaluator::positions() const { return impl_->positions; }
double Evaluator::reference_cpu_s() const { return impl_->ref_cpu_s; }
double Evaluator::reference_ppl() const { return impl_->ref_ppl; }

}  // namespace plena::eval

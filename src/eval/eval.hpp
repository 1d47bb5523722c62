// `plena eval`: the accuracy cost of a precision choice without the simulator (docs/eval.md).
// The host reference forward pass runs with weights, activations and KV passed through the
// numerics codecs of a hardware config (the runner's quantized reference, docs/run.md "Verdict")
// and is compared, teacher-forced, with the fp32 reference on a set of token sequences.
//
// Library use (the DSE accuracy objective): build one Evaluator per model and evaluation set (it
// runs the fp32 reference once and keeps its logits), then call evaluate() for any number of
// numerics choices; results are memoized by the choice's numerics key, so configs that differ
// only in geometry, timing or DRAM cost one lookup. evaluate() is thread-safe and deterministic:
// the same inputs give the same bits whatever the thread count or call order.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "model/model.hpp"
#include "numerics/format.hpp"

namespace plena::eval {

// The formats the quantized reference applies, and nothing else of a hardware config:
// linear weights and the LM head through m_weight then matrix_type; embedding rows, norm weights
// and biases through v_act then vector_type; K/V rows through m_kv then matrix_type; every stage
// output and the logits rounded to vector_type.
struct NumericsChoice {
  numerics::Format m_weight, m_kv, v_act, vector_type, matrix_type;  // default: fp32 everywhere

  static NumericsChoice of(const config::HardwareConfig& hw);
  // A config carrying these formats (geometry and the rest from `base`); for the runner's codecs.
  config::HardwareConfig apply_to(config::HardwareConfig base) const;
  // Canonical text naming every member: equal keys <=> equal numerics (the memo key).
  std::string key() const;
  // Short summary, e.g. "MXINT4 weights, MXINT4 KV, bf16 activations".
  std::string label() const;
  bool operator==(const NumericsChoice&) const = default;
};

// Named precisions for the command line and tests: "fp32", "bf16", "mxfp8" (the presets' PLENA
// MXFP8), "mxint8", "mxint4" (MASE block int, block 16), "mxfp4" (OCP MX fp4_e2m1, block 32).
// Storage formats apply to weights, KV and vector rows; SRAMs are fp32 for "fp32", else bf16.
std::vector<std::string> precision_names();
NumericsChoice precision(std::string_view name);  // InputError listing the names if unknown

// Token sequences evaluated teacher-forced. Every position of every sequence yields one logit
// row compared with the fp32 reference's; `texts` (windows of a token file) also give perplexity
// (each position predicts the next token of its window).
struct EvalSet {
  std::vector<std::vector<model::TokenId>> prompts;
  std::vector<std::vector<model::TokenId>> texts;
};

// One numerics choice against the fp32 reference. KL and perplexity in nats / e-based.
struct Metrics {
  uint64_t positions = 0;     // logit rows compared
  uint64_t top1_agree = 0;    // rows whose argmax (lowest id on ties) equals the reference's
  double top1 = 1;            // top1_agree / positions
  double kl_mean = 0;         // mean over rows of KL(p_fp32 || p_choice)
  double kl_max = 0;
  double logit_rms = 0;       // sqrt(mean over every logit of (choice - fp32)^2)
  double logit_max_abs = 0;
  uint64_t nonfinite_rows = 0;  // rows with a NaN/Inf logit: KL, RMS and max are then +inf
  uint64_t ppl_tokens = 0;      // predicted tokens of `texts` (0: no perplexity)
  double ppl = 0;               // exp(mean NLL) of the choice on `texts`
  double ppl_ref = 0;           // the same for the fp32 reference
  double cpu_s = 0;             // CPU time of this evaluation (quantize + forward + compare); not reproducible
};

// The fp32 reference's logits on a set, kept to compare any number of choices against.
class Evaluator {
 public:
  // Runs the fp32 reference on every sequence (InputError for an empty set, an empty sequence,
  // an id outside the vocabulary or a sequence longer than max_position_embeddings).
  // Also InputError when the kept logits would not fit the host's memory (support/host_memory.hpp).
  // Keeps a reference to `w` (it must outlive the evaluator) and a copy of `cfg`.
  Evaluator(const model::ModelConfig& cfg, const model::ModelWeights& w, EvalSet set);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  Metrics evaluate(const NumericsChoice& choice) const;
  Metrics evaluate(const config::HardwareConfig& hw) const { return evaluate(NumericsChoice::of(hw)); }

  const EvalSet& set() const;
  uint64_t positions() const;     // logit rows per evaluation
  double reference_cpu_s() const;  // CPU time of the fp32 pass in the constructor
  double reference_ppl() const;    // fp32 perplexity on set().texts (0 without texts)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- the command's inputs and report (plena eval) ----

struct EvalOptions {
  std::string model = "preset:tiny";  // model spec as `plena run --model` (model/source.hpp)
  uint64_t seed = 1;                  // preset weights and random prompts
  std::vector<std::string> hw;        // config specs (preset, file or inline TOML), in order
  std::vector<std::string> precisions;  // precision() names, evaluated after `hw`
  // Prompts: a file (text: one prompt per line, ids separated by commas or blanks, '#' comments;
  // or .npy [T] / [B, T]), else `prompt_ids` ("1,2,3;4,5"), else num_prompts seeded random
  // prompts of prompt_len ids.
  std::filesystem::path prompts_file;
  std::string prompt_ids;
  uint64_t num_prompts = 4, prompt_len = 32;
  // Token file for perplexity (text of ids or .npy [N]), cut into windows of `window` ids (the
  // last one kept when it has at least 2), at most max_tokens ids read (0: all).
  std::filesystem::path tokens_file;
  uint64_t window = 128, max_tokens = 0;
};

struct ChoiceResult {
  std::string name;   // the --hw spec's display name or the precision name
  std::string label;  // NumericsChoice::label()
  std::string key;    // NumericsChoice::key()
  Metrics metrics;
};

struct EvalReport {
  std::string model;  // where the model came from
  uint64_t prompts = 0, texts = 0, positions = 0, ppl_tokens = 0;
  double ppl_ref = 0, reference_cpu_s = 0;
  std::vector<ChoiceResult> results;
};

// The model of `opt.model` (a preset gets random weights from opt.seed; a checkpoint is loaded).
struct LoadedModel {
  model::ModelConfig config;
  model::ModelWeights weights;
  std::string source;  // description for reports
};
LoadedModel load_model(const std::string& spec, uint64_t seed);
// The evaluation set of `opt` for `cfg` (prompts and token-file windows, checked).
EvalSet load_set(const model::ModelConfig& cfg, const EvalOptions& opt);

// Loads the model, builds the set, runs the reference once and every choice (all inputs are
// checked before the first forward pass; bad ones are InputError naming the file/flag).
EvalReport run_eval(const EvalOptions& opt);
// Human-readable table; CPU times only when `timings` (so the default output is byte-stable).
std::string format_text(const EvalReport& rep, bool timings);
std::string to_json(const EvalReport& rep, bool timings);

}  // namespace plena::eval

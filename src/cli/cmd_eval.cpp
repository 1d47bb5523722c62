// plena eval [--model M] [--hw CONFIG]... [--precision NAME]... [--prompts FILE | --prompt-ids ...]
// [--tokens FILE] [--json] — thin wrapper over eval::run_eval (docs/eval.md).
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "cli/numeric_options.hpp"
#include "eval/eval.hpp"
#include "support/support.hpp"

namespace plena::cli {

void add_eval_command(CLI::App& app) {
  struct Args {
    eval::EvalOptions opt;
    std::string prompts, tokens, output;
    bool json = false, timings = false;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand(
      "eval", "Accuracy of precision choices on the host reference vs fp32: top-1, KL, logit error, perplexity");
  sub->add_option("--model", a->opt.model, "Model preset name or Hugging Face model directory")->capture_default_str();
  sub->add_option("--seed", a->opt.seed, "Seed of preset weights and the random prompts")->check(kCount)->capture_default_str();
  sub->add_option("--hw", a->opt.hw, "Hardware config whose formats to evaluate: preset, TOML file or inline TOML "
                                     "(repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--precision", a->opt.precisions,
                  "Named precision to evaluate (repeatable or comma-separated): fp32, bf16, mxfp8, mxint8, mxint4, "
                  "mxfp4; default when no --hw: all of them")
      ->allow_extra_args(false)
      ->delimiter(',');
  auto* pf = sub->add_option("--prompts", a->prompts,
                             "Prompt file: one prompt per line (ids separated by commas or blanks, # comments) or "
                             ".npy ([T] or [B, T])");
  sub->add_option("--prompt-ids", a->opt.prompt_ids, "Prompts inline: 1,2,3 (one) or 1,2;3,4 (one per ';')")->excludes(pf);
  sub->add_option("--num-prompts", a->opt.num_prompts, "Seeded random prompts when none are given")
      ->transform(integer_in(1, 65536))
      ->capture_default_str();
  sub->add_option("--prompt-len", a->opt.prompt_len, "Length of each random prompt")
      ->transform(integer_in(1, 1u << 20))
      ->capture_default_str();
  sub->add_option("--tokens", a->tokens, "Token file for perplexity: ids as text or .npy [N], cut into windows");
  sub->add_option("--window", a->opt.window, "Tokens per perplexity window")
      ->transform(integer_in(2, 1u << 20))
      ->capture_default_str();
  sub->add_option("--max-tokens", a->opt.max_tokens, "Read at most this many ids of the token file (0: all)")
      ->check(kCount)
      ->capture_default_str();
  sub->add_flag("--json", a->json, "JSON output");
  sub->add_flag("--timings", a->timings, "Also report CPU seconds (the reference pass and each choice)");
  sub->add_option("-o,--output", a->output, "Write the report here instead of standard output");
  sub->callback([a] {
    eval::EvalOptions o = a->opt;
    o.prompts_file = a->prompts;
    o.tokens_file = a->tokens;
    const eval::EvalReport rep = eval::run_eval(o);
    const std::string text = a->json ? eval::to_json(rep, a->timings) : eval::format_text(rep, a->timings);
    if (a->output.empty())
      fmt::print("{}", text);
    else
      write_text_file(a->output, text);
  });
}

}  // namespace plena::cli

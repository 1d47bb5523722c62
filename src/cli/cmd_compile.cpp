// plena compile [--model DIR|PRESET] [--hw CONFIG] [--prompt-len N | --prompt-ids ...] -o DIR
// — thin wrapper over runner::compile_model (docs/run.md).
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "cli/numeric_options.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::cli {

void add_compile_command(CLI::App& app) {
  struct Args {
    runner::CompileOptions opt;
    std::string prompt_ids, out, loops = "hardware";
    bool no_weights = false, quiet = false;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("compile", "Compile a model's prefill step: program, manifest, HBM image, run spec");
  sub->add_option("--model", a->opt.model, "Model preset name or Hugging Face model directory")->capture_default_str();
  sub->add_option("--hw", a->opt.hw, "Hardware config: preset name, TOML file or inline TOML")->capture_default_str();
  auto* pl = sub->add_option("--prompt-len", a->opt.prompt_len, "Random prompt of N tokens (seeded)")->check(kCount)->capture_default_str();
  auto* ids = sub->add_option("--prompt-ids", a->prompt_ids,
                               "Prompt token ids: 1,2,3 (one prompt for every sequence; 1,2;3,4 one per sequence) or FILE.npy ([T] or [B, T])")
                   ->excludes(pl);
  sub->add_option("--gen", a->opt.gen, "KV cache room for `plena run --gen N` (N new tokens)")
      ->check(kCount)
      ->capture_default_str();
  sub->add_option("--batch", a->opt.batch, "Sequences")->check(kCount)->capture_default_str();
  sub->add_option("--seed", a->opt.seed, "Seed of preset weights and the random prompt")->check(kCount)->capture_default_str();
  sub->add_option("--loops", a->loops, "Loop lowering: hardware or unroll")
      ->check(CLI::IsMember({"hardware", "unroll"}))
      ->capture_default_str();
  sub->add_flag("--no-weights", a->no_weights, "Layout and program only (no weight data, no hbm.bin)");
  sub->add_option("-o,--output", a->out, "Output directory")->required();
  sub->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
  sub->callback([a, ids] {
    if (a->out == "-") throw InputError("-o -: error: compile writes a folder of files; give a directory, not stdout");
    runner::CompileOptions o = a->opt;
    if (ids->count() > 0) o.prompt_ids = runner::parse_prompt_ids(a->prompt_ids);
    o.weights = !a->no_weights;
    o.out_dir = a->out;
    o.loops = a->loops == "unroll" ? compiler::LoopPolicy::unroll() : compiler::LoopPolicy::hardware();
    const auto files = runner::compile_model(o);
    if (!a->quiet)
      for (const auto& f : files) fmt::print("wrote {}\n", f.string());
  });
}

}  // namespace plena::cli

// plena run [--model DIR|PRESET] [--hw CONFIG] [--prompt-len N | --prompt-ids ... | --prompt TEXT [--chat]] [--gen M]
// [--batch B]
// — thin wrapper over runner::run_model (docs/run.md).
#include <fmt/core.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/numeric_options.hpp"
#include "cli/parallel_options.hpp"
#include "cli/tokenizer_options.hpp"
#include "cli/run_deployment.hpp"
#include "cli/trace_window.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::cli {

namespace {
// The report's JSON with the texts of its id lists (and which tokenizer made them).
std::string json_with_text(const runner::RunReport& rep, const tokenizer::Tokenizer& tok) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(rep.to_json());
  const auto texts = [&](const std::vector<std::vector<int64_t>>& seqs) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& s : seqs) list.push_back(report_text(tok, s));
    return list;
  };
  j["tokenizer"] = tok.describe();
  j["prompt_text"] = texts(rep.prompts);
  j["generated_text"] = texts(rep.generated);
  j["ref_generated_text"] = texts(rep.ref_generated);
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}
}  // namespace

void add_run_command(CLI::App& app) {
  struct Args {
    runner::RunOptions opt;
    std::string prompt_ids, json, dump_dir, loops = "hardware", dram_fidelity = "bank";
    std::string stats_dir, trace_dir, trace_window, deployment;
    std::string prompt, tokenizer, system;
    bool chat = false;
    bool quiet = false, progress = false, no_progress = false, no_step_reuse = false;
    ParallelFlags par;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("run", "Compile and simulate a model end to end (default: tiny preset)");
  sub->add_option("--model", a->opt.model, "Model preset name or Hugging Face model directory")->capture_default_str();
  sub->add_option("--hw", a->opt.hw, "Hardware config: preset name, TOML file or inline TOML")->capture_default_str();
  auto* pl = sub->add_option("--prompt-len", a->opt.prompt_len, "Random prompt of N tokens (seeded)")->check(kCount)->capture_default_str();
  auto* ids = sub->add_option("--prompt-ids", a->prompt_ids,
                               "Prompt token ids: 1,2,3 (one prompt for every sequence; 1,2;3,4 one per sequence) or FILE.npy ([T] or [B, T])")
                   ->excludes(pl);
  auto* text = sub->add_option("--prompt", a->prompt,
                               "Prompt text, encoded with the checkpoint's tokenizer (or --tokenizer); the report "
                               "shows the generated text")
                   ->excludes(pl)
                   ->excludes(ids);
  sub->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer for --prompt and the report's text: checkpoint directory, tokenizer.json or "
                  "tokenizer.model (default: the --model directory's)");
  auto* chat = sub->add_flag("--chat", a->chat,
                             "With --prompt: a user message in the checkpoint's chat template (LLaMA-3, Qwen2/3 "
                             "ChatML or Mistral families)")
                   ->needs(text);
  sub->add_option("--system", a->system, "With --chat: a system message first")->needs(chat);
  sub->add_option("--gen", a->opt.gen, "New tokens per sequence, as max_new_tokens (0: prefill only)")
      ->check(kCount)
      ->capture_default_str();
  sub->add_option("--batch", a->opt.batch, "Sequences per step")->check(kCount)->capture_default_str();
  sub->add_option("--prefill-chunk", a->opt.prefill_chunk,
                  "Prompt tokens per prefill step at most (a multiple of the config's prefill granule; default: "
                  "the largest chunk that fits the on-chip memories; docs/compiler.md)")
      ->check(kCount);
  sub->add_option("--seed", a->opt.seed, "Seed of preset weights and the random prompt")->check(kCount)->capture_default_str();
  sub->add_flag("--timing-only", a->opt.timing_only, "No weights or data: timing of full-size models");
  sub->add_flag("--teacher-force", a->opt.teacher_force, "Feed the simulator the reference's tokens");
  sub->add_flag("--no-step-reuse", a->no_step_reuse,
                "Timing-only: simulate every step, also those proven to time like the step before (docs/run.md)");
  sub->add_option("--loops", a->loops, "Loop lowering: hardware or unroll")
      ->check(CLI::IsMember({"hardware", "unroll"}))
      ->capture_default_str();
  sub->add_option("--dma-request-bytes", a->opt.dma_request_bytes,
                  "DRAM request size the DMA streams are cut into (power of two, 32 to 16 MiB; default 64)")
      ->check(kCount);
  sub->add_option("--dram-fidelity", a->dram_fidelity,
                  "bank: every request through the bank-level DRAM model; calibrated: each transfer shape "
                  "calibrated once on it (fast, approximate; docs/timing.md)")
      ->check(CLI::IsMember({"bank", "calibrated"}))
      ->capture_default_str();
  sub->add_option("--json", a->json, "Write the report as JSON here");
  sub->add_option("--dump-dir", a->dump_dir, "Write per-step logits (simulated and reference) as .npy here");
  sub->add_flag("--dump-hidden", a->opt.dump_hidden_layers,
                "With --dump-dir: also dump the residual stream after the embedding and every layer (last token, "
                "simulated and reference) and report per-layer errors");
  sub->add_option("--stats-dir", a->stats_dir,
                  "Write each step's timing statistics here (stepNNNN.stats.json, as plena sim --stats)");
  auto* td = sub->add_option("--trace-dir", a->trace_dir,
                             "Write each step's Chrome/Perfetto trace here (stepNNNN.trace.json, streamed as it runs)");
  sub->add_option("--trace-window", a->trace_window,
                  "With --trace-dir: trace only executed instructions START:END of each step (0-based, END "
                  "exclusive; either may be empty)")
      ->needs(td);
  add_parallel_options(sub, a->par);
  sub->add_option("--deployment", a->deployment,
                  "Disaggregated deployment TOML: one request of its mean lengths (or --prompt-len/--gen), timing-only, "
                  "prefill on the prefill pool and decode on the decode pool, beside the serving estimate "
                  "(docs/serving.md)");
  sub->add_flag("--progress", a->progress, "Show a progress bar (default: when stderr is a terminal)");
  sub->add_flag("--no-progress", a->no_progress, "Never show a progress bar");
  sub->add_flag("-q,--quiet", a->quiet, "Print nothing on success (no progress bar either)");
  sub->callback([a, ids, text, pl, sub] {
    runner::RunOptions o = a->opt;
    if (ids->count() > 0) o.prompt_ids = runner::parse_prompt_ids(a->prompt_ids);
    const auto tok = run_tokenizer(a->tokenizer, o.model);
    if (text->count() > 0) {
      if (!tok)
        throw InputError(fmt::format("--prompt: error: model '{}' has no tokenizer (tokenizer.json or "
                                     "tokenizer.model); expected a checkpoint directory with one, or --tokenizer",
                                     o.model));
      o.prompt_ids = {a->chat ? encode_chat(*tok, a->prompt, a->system) : tok->encode(a->prompt)};
      if (o.prompt_ids[0].empty()) throw InputError("--prompt: error: the text encodes to no tokens; expected a prompt");
    }
    o.dump_dir = a->dump_dir;
    o.stats_dir = a->stats_dir;
    o.trace_dir = a->trace_dir;
    std::tie(o.trace_first, o.trace_last) = parse_trace_window(a->trace_window);
    o.dram_fidelity = sim::parse_dram_fidelity(a->dram_fidelity, "--dram-fidelity");
    o.step_reuse = !a->no_step_reuse;
    o.devices = a->par.devices, o.tp = a->par.tp, o.pp = a->par.pp;
    o.link_gbps = a->par.link_gbps, o.link_latency_us = a->par.link_latency_us;
    o.loops = a->loops == "unroll" ? compiler::LoopPolicy::unroll() : compiler::LoopPolicy::hardware();
    if (!a->quiet && !a->no_progress && (a->progress || isatty(2))) {  // -q: no progress bar either
      o.progress = [](size_t done, size_t total) {
        const int width = 30, fill = int(double(done) / double(total) * width);
        fmt::print(stderr, "\r[{}{}] step {}/{}", std::string(size_t(fill), '#'), std::string(size_t(width - fill), '.'),
                   done, total);
        if (done == total) fmt::print(stderr, "\n");
      };
    }
    if (!a->deployment.empty()) {
      reject_with_deployment(*sub, {"--model", "--hw", "--prompt-ids", "--batch", "--devices", "--tp", "--pp",
                                    "--teacher-force", "--dump-dir", "--stats-dir", "--trace-dir", "--prompt", "--tokenizer",
                                    "--chat", "--system"});
      run_deployment(a->deployment, o, pl->count() > 0, sub->get_option("--gen")->count() > 0, a->json, a->quiet);
      return;
    }
    const runner::RunReport rep = runner::run_model(o);
    if (!a->json.empty()) write_text_file(a->json, tok ? json_with_text(rep, *tok) : rep.to_json());
    if (!a->quiet)
      fmt::print("{}", tok ? with_text_lines(rep.to_text(), *tok, rep.prompts, rep.generated, rep.ref_generated)
                           : rep.to_text());
  });
}

}  // namespace plena::cli

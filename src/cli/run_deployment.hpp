// plena run --deployment: one request through a disaggregated deployment on the simulator
// (timing-only): the prompt on the prefill pool, the KV hand-off by formula, the generated tokens
// on the decode pool, beside the analytic serving model (docs/serving.md "plena run").
#pragma once
#include <CLI/CLI.hpp>
#include <initializer_list>
#include <string>

#include "runner/runner.hpp"

namespace plena::cli {

// `base` carries the simulation flags (DRAM fidelity, request bytes, progress); its prompt_len and
// gen replace the deployment's mean lengths when the flags were given.
// InputError naming the first of `flags` given beside --deployment (the deployment file sets them).
void reject_with_deployment(const CLI::App& sub, std::initializer_list<const char*> flags);

void run_deployment(const std::string& file, runner::RunOptions base, bool prompt_given, bool gen_given,
                    const std::string& json_path, bool quiet);

}  // namespace plena::cli

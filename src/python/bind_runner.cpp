// plena.compile / run / estimate / dse: the model compiler, the end-to-end runner, the analytic
// model and the design-space search, with reports as dicts and tensors as numpy arrays.
#include <fmt/core.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>

#include "analytic/analytic.hpp"
#include "dse/dse.hpp"
#include "model/model.hpp"
#include "model/source.hpp"
#include "python/bind.hpp"
#include "python/config_handle.hpp"
#include "python/tokenizer_handle.hpp"
#include "runner/runner.hpp"
#include "support/support.hpp"

namespace plena::python {
namespace fs = std::filesystem;
namespace {

// --hw text of a config argument: a HardwareConfig's own spec, or a str / path given as is.
std::string hw_spec(const py::object& config) {
  if (py::isinstance<ConfigHandle>(config)) return config.cast<const ConfigHandle&>().spec;
  if (py::isinstance<py::str>(config)) return config.cast<std::string>();
  return config.cast<fs::path>().string();
}

// Token ids: [T] (every sequence) or [B, T] (one row per sequence), list or numpy array; or text,
// encoded by `tok` (the model directory's tokenizer or the tokenizer argument), as `plena run --prompt`.
std::vector<std::vector<int64_t>> prompt_ids(const py::object& prompt, const std::optional<tokenizer::Tokenizer>& tok,
                                             bool chat, const std::string& system) {
  if (prompt.is_none()) return {};
  if (py::isinstance<py::str>(prompt)) {
    if (!tok)
      throw InputError("prompt: text needs a tokenizer: the model has none (no tokenizer.json or tokenizer.model "
                       "in its directory); pass tokenizer=PATH or token ids, e.g. [1, 2, 3]");
    auto ids = encode_prompt(*tok, prompt.cast<std::string>(), chat, system);
    if (ids.empty()) throw InputError("prompt: the text encodes to no tokens; expected a prompt");
    return {std::move(ids)};
  }
  const auto ids = integer_array<int64_t>(prompt, "run: prompt");
  if (ids.ndim() != 1 && ids.ndim() != 2)
    throw InputError(fmt::format("run: prompt: expected token ids of shape [T] or [B, T], got {} axes", ids.ndim()));
  const size_t cols = static_cast<size_t>(ids.shape(ids.ndim() - 1));
  if (cols == 0) throw InputError("run: prompt: empty; expected at least one token id");
  std::vector<std::vector<int64_t>> rows;
  for (size_t r = 0; r * cols < static_cast<size_t>(ids.size()); ++r)
    rows.emplace_back(ids.data() + r * cols, ids.data() + (r + 1) * cols);
  return rows;
}

// A fresh folder for the runner's logits dumps, removed when the call ends.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / fmt::format("plena-py-{:016x}", (uint64_t(rd()) << 32) | rd());
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The per-step logits the runner dumped (stepNNNN_logits.npy, or stepNNNN_ref_logits.npy for the
// host reference), stacked as [steps, batch, vocab]; None when there are none (timing-only).
py::object stacked_logits(const fs::path& dir, bool reference) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const bool is_ref = name.ends_with("_ref_logits.npy");
    if (name.starts_with("step") && name.ends_with("_logits.npy") && is_ref == reference) files.push_back(e.path());
  }
  if (files.empty()) return py::none();
  std::sort(files.begin(), files.end());
  std::vector<float> all;
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(files.size())};
  for (const auto& f : files) {
    const NpyArray a = npy_load(f);
    if (shape.size() == 1) shape.insert(shape.end(), a.shape.begin(), a.shape.end());
    const std::vector<float> v = a.to_f32();
    all.insert(all.end(), v.begin(), v.end());
  }
  return to_numpy(std::move(all), shape);
}

py::array_t<int64_t> token_matrix(const std::vector<std::vector<int64_t>>& rows) {
  const size_t cols = rows.empty() ? 0 : rows[0].size();
  std::vector<int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return to_numpy(std::move(flat), {static_cast<py::ssize_t>(rows.size()), static_cast<py::ssize_t>(cols)});
}

py::dict run(const std::string& model, const py::object& config, const py::object& prompt, uint64_t prompt_len,
             uint64_t max_new_tokens, uint64_t batch, uint64_t seed, bool timing_only, bool teacher_force,
             const py::object& tokenizer, bool chat, const std::string& system) {
  runner::RunOptions o;
  o.model = model;
  o.hw = hw_spec(config);
  const auto tok = tokenizer_for(tokenizer, model);
  o.prompt_ids = prompt_ids(prompt, tok, chat, system);
  o.prompt_len = prompt_len;
  o.gen = max_new_tokens;
  o.batch = batch;
  o.seed = seed;
  o.timing_only = timing_only;
  o.teacher_force = teacher_force;
  TempDir dumps;
  if (!timing_only) o.dump_dir = dumps.path;
  const runner::RunReport rep = [&] {
    py::gil_scoped_release unlocked;  // long runs: other Python threads go on
    return runner::run_model(o);
  }();
  py::dict out;
  out["tokens"] = token_matrix(rep.generated);
  out["ref_tokens"] = token_matrix(rep.ref_generated);
  out["logits"] = stacked_logits(dumps.path, false);
  out["ref_logits"] = stacked_logits(dumps.path, true);
  out["report"] = json_to_python(rep.to_json());
  out["text"] = rep.to_text();
  if (tok) {  // the generated text per sequence (None where an id is outside the tokenizer's vocabulary)
    py::list texts, ref_texts;
    for (const auto& ids : rep.generated) texts.append(decode_or_none(*tok, ids));
    for (const auto& ids : rep.ref_generated) ref_texts.append(decode_or_none(*tok, ids));
    out["generated_text"] = texts;
    out["ref_generated_text"] = ref_texts;
  }
  return out;
}

std::vector<std::string> compile(const std::string& model, const py::object& config, const fs::path& out_dir,
                                 const py::object& prompt, uint64_t prompt_len, uint64_t max_new_tokens, uint64_t batch,
                                 uint64_t seed, bool weights, const py::object& tokenizer) {
  runner::CompileOptions o;
  o.model = model;
  o.hw = hw_spec(config);
  o.out_dir = out_dir;
  o.prompt_ids = prompt_ids(prompt, tokenizer_for(tokenizer, model), false, "");
  o.prompt_len = prompt_len;
  o.gen = max_new_tokens;
  o.batch = batch;
  o.seed = seed;
  o.weights = weights;
  std::vector<std::string> files;
  for (const auto& p : runner::compile_model(o)) files.push_back(p.string());
  return files;
}

py::object estimate(const std::string& model, const py::object& config, uint64_t prefill, uint64_t decode,
                    uint64_t batch, uint64_t prefill_chunk, uint32_t devices, uint32_t tp, uint32_t pp) {
  const config::HardwareConfig cfg = config::resolve_config(hw_spec(config));
  const model::ModelSource src = model::resolve_model_source(model, false);
  const model::ModelConfig m = src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
  analytic::Parallelism par;
  par.devices = devices;
  par.tp = tp;
  par.pp = pp;
  return json_to_python(analytic::to_json(analytic::estimate(m, cfg, {prefill, decode, batch, prefill_chunk}, par)));
}

py::dict trial_dict(const dse::Trial& t) {
  py::dict d;
  d["id"] = t.id;
  d["status"] = std::string(dse::status_name(t.status));
  d["why"] = t.why;
  d["hash"] = t.hash;
  d["metrics"] = t.metrics;
  d["objectives"] = t.objectives;
  return d;
}

py::dict run_dse(const fs::path& space, const fs::path& out, unsigned jobs, uint64_t seed, bool resume) {
  dse::Options o;
  o.out = out;
  o.jobs = jobs;
  o.seed = seed;
  o.resume = resume;
  o.quiet = true;
  o.exchange = [](const std::vector<std::string>& mine) { return mine; };  // one process
  const dse::Result r = dse::run(dse::load_space(space), o);
  py::list trials;
  for (const auto& t : r.trials) trials.append(trial_dict(t));
  py::dict d;
  d["trials"] = trials;
  d["pareto"] = r.pareto;
  d["hypervolume"] = r.hypervolume;
  d["baseline"] = r.baseline ? py::object(trial_dict(*r.baseline)) : py::none();
  d["evaluated"] = r.evaluated;
  d["seconds"] = r.seconds;
  return d;
}

}  // namespace

void bind_runner(py::module_& m) {
  m.def("run", &run, py::arg("model") = "preset:tiny", py::arg("config") = "reference-small", py::arg("prompt") = py::none(),
        py::arg("prompt_len") = 4, py::arg("max_new_tokens") = 4, py::arg("batch") = 1, py::arg("seed") = 1,
        py::arg("timing_only") = false, py::arg("teacher_force") = false, py::arg("tokenizer") = py::none(),
        py::arg("chat") = false, py::arg("system") = "",
        "Compile and simulate a model end to end (plena run). prompt: token ids [T] or [B, T], or text (encoded by "
        "the model directory's tokenizer or `tokenizer`; chat: with its chat template), None: a seeded random "
        "prompt of prompt_len. Returns tokens [B, gen], ref_tokens (with a tokenizer also generated_text and "
        "ref_generated_text), logits and ref_logits [steps, B, vocab] (None "
        "when timing_only), report (dict) and text (the CLI's report).");
  m.def("compile", &compile, py::arg("model") = "preset:tiny", py::arg("config") = "reference-small",
        py::arg("out_dir") = fs::path("out"), py::arg("prompt") = py::none(), py::arg("prompt_len") = 4,
        py::arg("max_new_tokens") = 0, py::arg("batch") = 1, py::arg("seed") = 1, py::arg("weights") = true,
        py::arg("tokenizer") = py::none(),
        "Compile a model's steps into out_dir (plena compile); returns the files written.");
  m.def("estimate", &estimate, py::arg("model") = "preset:llama-3.1-8b", py::arg("config") = "reference-analytic",
        py::arg("prefill") = 2048, py::arg("decode") = 128, py::arg("batch") = 1, py::arg("prefill_chunk") = 0,
        py::arg("devices") = 1, py::arg("tp") = 0, py::arg("pp") = 0,
        "Analytic estimate (plena estimate --json) as a dict: TTFT, TPOT, tokens/s, energy, per-op breakdown.");
  m.def("dse", &run_dse, py::arg("space"), py::arg("out"), py::arg("jobs") = 1, py::arg("seed") = 1,
        py::arg("resume") = false,
        "Design-space search over a space file (plena dse); writes its outputs under out and returns trials, Pareto "
        "indices and hypervolume per generation.");
  m.def("model_presets", &model::model_preset_names, "Names of the built-in model presets.");
}

}  // namespace plena::python

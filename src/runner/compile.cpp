// `plena compile`: the prefill step of a model as files: program, manifest, per-tensor HBM data
// (.npy, the sparse image), a dense hbm.bin when small, SRAM preload images and a run spec that
// `plena sim DIR/run.toml` replays.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"
#include "runner/runner.hpp"
#include "model/source.hpp"
#include "runner/resources.hpp"
#include "runner/runner_detail.hpp"
#include "support/support.hpp"

namespace plena::runner {

namespace {
constexpr uint64_t kDenseImageLimit = uint64_t(1) << 30;  // hbm.bin only up to 1 GiB of weights
}

std::vector<std::filesystem::path> compile_model(const CompileOptions& opt) {
  namespace fs = std::filesystem;
  using namespace detail;
  if (opt.out_dir.empty()) throw InputError("error: compile needs an output directory (-o DIR)");
  if (opt.batch == 0 || opt.batch > kMaxBatch)
    throw InputError(fmt::format("--batch: error: {} sequences; expected 1 to {}", opt.batch, kMaxBatch));
  const config::HardwareConfig hw = config::resolve_config(opt.hw);
  {
    // Sizes first: refuse before loading weights or allocating anything large.
    const model::ModelSource src = model::resolve_model_source(opt.model, opt.weights);
    const model::ModelConfig cfg0 = src.is_preset ? model::model_preset(src.preset) : model::parse_hf_config(src.config);
    const uint64_t P0 = opt.prompt_ids.empty() ? opt.prompt_len : opt.prompt_ids[0].size();
    check_run_counts(cfg0, P0, opt.gen, opt.batch);
    require_memory(compile_memory_need(cfg0, hw, opt.batch, fed_positions(P0, opt.gen), opt.weights, !src.is_preset),
                   host_memory_available(), "plena compile",
                   "add --no-weights (program and layout only), or use a smaller model or batch");
  }
  ResolvedModel rm = resolve_model(opt.model, opt.seed, opt.weights);
  const auto prompts = make_prompts(rm.config, opt.prompt_ids, opt.prompt_len, opt.batch, opt.seed);
  compiler::ModelCompileOptions mo;
  mo.batch = opt.batch;
  mo.max_positions = fed_positions(prompts[0].size(), opt.gen);
  mo.loops = opt.loops;
  compiler::ModelCompiler mc(hw, hw_display_name(opt.hw), rm.config, mo);
  const uint64_t P = prompts[0].size(), chunk = mc.max_prefill_chunk(P);
  if (chunk < P)
    throw InputError(fmt::format("--prompt-len: error: plena compile writes the prefill as one step, but a prompt of {} "
                                 "tokens does not fit one step on config '{}' (at most {} tokens; plena run chunks "
                                 "the prefill, docs/compiler.md \"Chunked prefill\"); use a prompt of at most {} tokens",
                                 P, hw_display_name(opt.hw), chunk, chunk));
  const compiler::CompiledStep step = mc.compile_step(prompts, 0);

  const fs::path dir = opt.out_dir;
  fs::create_directories(dir / "hbm");
  std::vector<fs::path> out;
  compiler::write_program(step.program, dir, "prefill");
  for (const char* ext : {".asm", ".mem", ".manifest.json"}) out.push_back(dir / (std::string("prefill") + ext));
  compiler::save_manifest(dir / "manifest.json", step.program.manifest);
  out.push_back(dir / "manifest.json");
  write_text_file(dir / "hw.toml", config::to_toml(hw));
  out.push_back(dir / "hw.toml");

  std::string spec = fmt::format(
      "# plena sim {}/run.toml: the prefill step of {} on {} (written by plena compile)\n"
      "[hardware]\nfile = \"hw.toml\"\n\n[program]\npath = \"prefill.asm\"\nconfig_hash = \"{}\"\n\n[run]\nmode = \"{}\"\n",
      dir.string(), rm.source, hw_display_name(opt.hw), step.program.config_hash, opt.weights ? "functional" : "timing-only");
  if (opt.weights) {
    const compiler::HbmManifest& man = step.program.manifest;
    auto add_hbm = [&](const compiler::HbmTensor& t, const std::vector<float>& data) {
      const fs::path f = fs::path("hbm") / (t.name + ".npy");
      npy_save(dir / f, npy_from_f32(data, {size_t(t.rows), size_t(t.cols)}));
      out.push_back(dir / f);
      spec += fmt::format("\n[[hbm]]\nname = \"{}\"\nbase = {}\nformat = \"{}\"\nrow_stride = {}\nscale_offset = {}\nfile = \"{}\"\n",
                          t.name, t.base, t.format.name(), t.row_stride, t.scale_reg, f.generic_string());
    };
    uint64_t high = 0;
    for (const auto& name : mc.weight_tensors()) {
      const auto& t = man.tensor(name);
      add_hbm(t, mc.weight_data(name, rm.weights));
      high = std::max(high, t.base + t.bytes());
    }
    for (const auto& init : step.hbm_inits) {
      add_hbm(init.tensor, *init.data);
      high = std::max(high, init.tensor.base + init.tensor.bytes());
    }
    // Dense image of the written tensors (the KV caches read as zero): HBM bytes [0, high).
    if (high <= kDenseImageLimit) {
      sim::HbmStore store(hw.hbm.size_bytes);
      write_weight_image(store, mc, rm.weights);
      for (const auto& init : step.hbm_inits) sim::write_hbm_tensor(store, init.tensor, *init.data);
      std::vector<uint8_t> bytes(high);
      store.read(0, bytes);
      write_binary_file(dir / "hbm.bin", bytes);
      out.push_back(dir / "hbm.bin");
    }
    const uint64_t vlen = hw.geometry.vlen;
    for (const auto& init : step.vram_inits) {
      // One preload per column block: the activation layout keeps a block's rows contiguous.
      const auto& t = init.tensor;
      for (uint64_t c = 0; c < t.cols; c += vlen) {
        std::vector<float> blk(t.rows * vlen, 0.f);
        for (uint64_t r = 0; r < t.rows; ++r)
          for (uint64_t k = 0; k < vlen && c + k < t.cols; ++k) blk[r * vlen + k] = init.data[r * t.cols + c + k];
        const fs::path f = fmt::format("vram_{}_{}.npy", t.name, c / vlen);
        npy_save(dir / f, npy_from_f32(blk, {size_t(t.rows), size_t(vlen)}));
        out.push_back(dir / f);
        spec += fmt::format("\n[[vram]]\naddr = {}\nfile = \"{}\"\n", t.block_address(c / vlen), f.generic_string());
      }
    }
    const auto fp = compiler::fp_sram_image(step.program.manifest);
    npy_save(dir / "fp_sram.npy", npy_from_f32(fp, {fp.size()}));
    out.push_back(dir / "fp_sram.npy");
    spec += "\n[[fpsram]]\nindex = 0\nfile = \"fp_sram.npy\"\n";
    spec += fmt::format(
        "\n# logits in the VRAM activation layout: {} column blocks of {} rows x VLEN (sequence b = row b)\n"
        "[[dump]]\nkind = \"vram\"\naddr = {}\nrows = {}\nfile = \"logits_vram.npy\"\n",
        step.logits.col_blocks, step.logits.rows_alloc, step.logits.base(), step.logits.vram_rows());
  }
  write_text_file(dir / "run.toml", spec);
  out.push_back(dir / "run.toml");
  return out;
}

}  // namespace plena::runner

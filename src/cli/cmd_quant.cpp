// plena quant: golden checks and .npy encode/decode/roundtrip (logic lives in src/numerics).
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "numerics/numerics.hpp"
#include "support/support.hpp"

namespace plena::cli {

void add_quant_command(CLI::App& app) {
  auto* quant = app.add_subcommand("quant", "Number formats: check golden vectors, encode/decode tensors");
  quant->require_subcommand(1);

  auto* check = quant->add_subcommand("check", "Recompute every case of golden files (plena-golden-quant/1)");
  static std::vector<std::string> files;
  static bool quiet = false;
  check->add_option("files", files, "golden .json files")->required()->check(CLI::ExistingFile);
  check->add_flag("-q,--quiet", quiet, "print only mismatches and the summary line");
  check->callback([] {
    size_t passed = 0, failed = 0;
    for (const auto& file : files) {
      auto rep = numerics::check_golden_file(file);
      for (const auto& m : rep.mismatches) fmt::print("{}\n", m);
      if (!quiet)
        fmt::print("{}: {}: {} cases, {} passed, {} failed ({} passthrough cases checked for scale byte only)\n",
                   file, rep.format, rep.cases, rep.passed, rep.failed, rep.passthrough);
      passed += rep.passed;
      failed += rep.failed;
    }
    fmt::print("{} passed, {} failed\n", passed, failed);
    if (failed) set_exit_code(1);
  });

  static std::string fmt_text, in_file, out_file;
  auto* enc = quant->add_subcommand("encode", "Encode the rows (last axis) of an .npy tensor into packed storage");
  enc->add_option("--format", fmt_text, "number format, e.g. ocp-mx:fp8_e4m3:b32:rne")->required();
  enc->add_option("input", in_file, "input .npy (any numeric dtype)")->required()->check(CLI::ExistingFile);
  enc->add_option("-o,--output", out_file, "output prefix: writes PREFIX.elems.npy, PREFIX.scales.npy, PREFIX.json")
      ->required();
  enc->callback([] {
    if (out_file == "-") throw InputError("-o -: error: encode writes three files; give a path prefix, not stdout");
    numerics::encode_npy_file(numerics::parse_format(fmt_text), in_file, out_file);
  });

  auto* dec = quant->add_subcommand("decode", "Decode PREFIX.{json,elems.npy,scales.npy} back to an f32 .npy");
  dec->add_option("input", in_file, "prefix (or PREFIX.json) written by 'plena quant encode'")->required();
  dec->add_option("-o,--output", out_file, "output f32 .npy (- for stdout)")->required();
  dec->callback([] { numerics::decode_npy_file(in_file, out_file); });

  auto* rt = quant->add_subcommand("roundtrip", "Fake-quantize (encode then decode) an .npy tensor row by row");
  rt->add_option("--format", fmt_text, "number format")->required();
  rt->add_option("input", in_file, "input .npy")->required()->check(CLI::ExistingFile);
  rt->add_option("-o,--output", out_file, "output f32 .npy (- for stdout)")->required();
  rt->callback([] { numerics::roundtrip_npy_file(numerics::parse_format(fmt_text), in_file, out_file); });
}

}  // namespace plena::cli

#!/usr/bin/env bash
# Regenerates docs/cli.md from the built binary's --help output.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PLENA:-build/plena}
{
  echo "# plena command-line reference"
  echo
  echo "Generated from \`plena <command> --help\` (regenerate with \`bash scripts/gen-cli-doc.sh\`); the"
  echo "conventions below are the script's text."
  cat <<'DOC'

## Conventions

**Exit codes.** 0 success; 1 bad input or a failed write (a located message on stderr: file,
line/column where there is one, what was expected, the OS reason for a file operation); 2 a
simulation fault; 3 an internal error (a bug: please report it).

**Subcommands.** `plena` without a subcommand prints its help (the subcommand list) on stderr and
exits 1, like every other usage error; `plena --help` prints it on stdout and exits 0. An unknown
subcommand (`plena bogus`, `plena config bogus`) is named, with the list of known ones, exit 1.
`plena --version` prints `plena-cpp <version>`, the `project(VERSION)` of the top CMakeLists.txt.

**Output files.** Every file a command writes is written to a temporary file next to it
(`.NAME.plena-tmp-XXXXXX`), each write and the close checked, and renamed over the target only
when the whole command has succeeded: a failed command (exit 1, or any exit other than 0) leaves
no new or changed output file (`asm -o x.mem` with an assembly error keeps the old `x.mem`;
`quant encode`, `compile`, `run --dump-dir`, `sim` dumps commit all their files or none).
Replacing a file keeps its permissions; a symbolic link is followed (the file it points to is
replaced). An existing target that is not a regular file (`/dev/full`, a FIFO, a terminal) is
written directly, with every write checked. Folders a command creates (`compile -o DIR`,
`--dump-dir`, the folders of `sim --stats/--trace/--dram-trace`) may remain, empty, after a failure. No fsync: outputs are regenerable, and the
promise is "never a half-written file", not durability across power loss. `-` as an output file
(`-o -`, `--stats -`, `--json -`) means standard output, except where a command writes several
files from one name (`quant encode -o PREFIX`, `compile -o DIR`: an error). Standard output is
flushed and checked before exit: `plena disasm x.mem > /dev/full` exits 1 with
"cannot write to standard output: No space left on device".

**Simulation faults.** `plena sim` exits 2 on a fault, and still writes `--stats`, `--trace` and
`--dram-trace` up to the fault: the stats JSON gets `"completed": false` and
`"fault": {"pc", "instruction", "message"}`, the Perfetto trace (streamed to its file as the run goes; `--trace-window START:END` limits it to
those executed instructions) ends with an instant event named
`FAULT` (its `args.message` is the fault). Run-spec dumps are not written.

**Benchmark checks.** `plena bench check` prints its report in every case and exits 0 when the
kernel passes, 1 when it does not assemble (or a task, configuration or file is bad), 3 when it
ran and failed: mismatch, fault, budget overrun or out-of-region write (docs/bench.md).

**Quiet.** `-q` prints nothing on success, and shows no progress bar, on a terminal too.

**Numeric options.** Numbers are range-checked before use: a value outside the accepted range,
`nan`, `inf` or trailing text is an error naming the flag and the range, exit 1. Counts accept
integer-valued exponent forms (`--batch 1e3`). `plena estimate`: `--prefill` 1..2^24,
`--decode` 0..2^24, `--batch` 1..2^16, `--devices` 1..2^16, `--tp`/`--pp` 0..2^16,
`--link-gbps` > 0 (finite, at most 1e9), `--link-latency-us` >= 0 (finite, at most 1e9).

**Units in JSON output.** Every JSON output (`sim --stats`, `run --json`, `estimate --json`, `eval --json`, `ppa --json`,
`estimate --compare --json`, `estimate --validate --json`, `config show --json`, the DRAM stats)
names a quantity's unit as the last token of its key (before a `_per_...` qualifier):

| suffix | unit |
|---|---|
| `_s` | seconds (float): TTFT, TPOT, host, compile and wall times (`ttft_s`, `host_s`, `compile_s`, `time_s`) |
| `_ps` | picoseconds: simulated time of the cycle-level model (`time_ps`, `avg_latency_ps`) |
| `cycles`, `_cycles` | core clock cycles |
| `_bytes` | bytes (`read_bytes`, `hbm_bytes_per_device`) |
| `_gbps` | 10^9 bytes per second (GB/s, decimal; not gigabits) |
| `_per_s` | events per second (`tokens_per_s`, `sim_instr_per_s`) |
| `_j` | joules (`energy_j`, `leakage_j`); `_per_j` per joule (`tokens_per_j`) |
| `_w` | watts (`average_power_w`, `leakage_w`) |
| `_mm2` | square millimetres (`plena ppa`: `area_mm2`) |
| `_nm` | technology node, nanometres (`plena ppa`: `node_nm`) |
| `_ghz` | clock frequency, 10^9 Hz (configuration) |

`config show --json` mirrors the hardware TOML schema, whose latency entries are in cycles and
whose geometry entries are in elements (docs/config.md). Keys without a unit are counts (`instructions`, `row_hits`) or dimensionless ratios in [0, 1]
(`utilization`, `row_hit_rate`, `*_efficiency`, `cosine`). No other unit spelling (`_ms`, `_ns`,
`_seconds`, `_GBps`, `bytes_...` prefixes) is used; `tests/cli/test_cli_conventions.cpp` checks
the keys of every JSON output against this table.
DOC
  for c in "" asm disasm config quant sim compile run estimate eval ppa dse bench bench:list bench:show bench:check bench:baseline bench:score mcp tokenize detokenize; do
    c=${c//:/ }
    echo
    if [ -z "$c" ]; then echo "## plena"; else echo "## plena $c"; fi
    echo
    echo '```'
    # shellcheck disable=SC2086
    "$P" $c --help 2>&1 | sed "s#$P#plena#g"
    echo '```'
  done
} > docs/cli.md

#!/usr/bin/env bash
# Regenerates docs/cli.md from the built binary's --help output.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PLENA:-build/plena}
{
  echo "# plena command-line reference"
  echo
  echo "Generated from \`plena <command> --help\` (regenerate with \`bash scripts/gen-cli-doc.sh\`). Exit codes: 0 success, 1 bad input (located message), 2 simulation fault, 3 internal error."
  for c in "" asm disasm config quant sim compile run estimate; do
    echo
    if [ -z "$c" ]; then echo "## plena"; else echo "## plena $c"; fi
    echo
    echo '```'
    # shellcheck disable=SC2086
    "$P" $c --help 2>&1 | sed "s#$P#plena#g"
    echo '```'
  done
} > docs/cli.md

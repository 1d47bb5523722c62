#!/usr/bin/env bash
# The MemExplorer-style memory study (README.md): for each workload, the baseline deployment's
# estimate, the prefill and decode memory design spaces (plena dse, grids), then the factors and
# report.md (summarize.py). Usage: examples/memory/run_study.sh [OUT] [PLENA] (defaults:
# out/memory, build/plena). Minutes on two cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-out/memory}
plena=${2:-build/plena}
jobs=${JOBS:-2}
for w in bfcl_70b osworld_70b chat_8b; do
  mkdir -p "$out/$w"
  "$plena" estimate --deployment "$here/$w.toml" --json > "$out/$w/baseline.json"
  for side in prefill decode; do
    "$plena" dse "$here/${side}_$w.toml" --out "$out/$w/$side" --jobs "$jobs" --quiet
  done
  echo "$w done"
done
python3 "$here/summarize.py" "$out" "$plena"
echo "wrote $out/report.md and $out/factors.csv"

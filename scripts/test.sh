#!/usr/bin/env bash
# Quick start, command 2: build and run the whole test suite (ctest; the 'large' label is opt-in).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" -LE large "$@"

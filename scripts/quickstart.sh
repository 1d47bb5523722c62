#!/usr/bin/env bash
# Quick start, command 1: install dependencies, build, and run the main job (plena run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/plena run

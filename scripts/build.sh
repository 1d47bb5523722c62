#!/usr/bin/env bash
# Configures and builds plena-cpp into build/ (Release, -Werror). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLENA_WERROR=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"

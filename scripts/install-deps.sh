#!/usr/bin/env bash
# Installs the Debian 12 packages plena-cpp needs to build and test (run as root or with sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS="build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev \
  libfmt-dev libopenblas-dev libhwy-dev libpagmo-dev libpcre2-dev libsentencepiece-dev libicu-dev \
  sentencepiece python3-sentencepiece \
  python3-dev pybind11-dev python3-numpy help2man"
# python3-dev, pybind11-dev, python3-numpy: the Python module (optional: -DPLENA_PYTHON=OFF without
# them); help2man: the installed man page (skipped when missing).
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

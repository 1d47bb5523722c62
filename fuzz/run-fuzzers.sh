#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/*.cmake) with clang into build-fuzz and runs each for
# SECONDS (default 30). Exits non-zero if a target fails to build or any fuzzer finds a crash.
# Usage: fuzz/run-fuzzers.sh [SECONDS]
set -euo pipefail
SECONDS_EACH="${1:-30}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${PLENA_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
CXX_BIN="${CXX:-}"
if [ -z "$CXX_BIN" ] || ! "$CXX_BIN" --version 2>/dev/null | grep -q clang; then
  CXX_BIN="$(command -v clang++ || command -v clang++-14 || true)"
fi
if [ -z "$CXX_BIN" ]; then echo "run-fuzzers: clang++ not found (apt install clang libclang-rt-14-dev)" >&2; exit 2; fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_BIN" \
  -DPLENA_BUILD_FUZZ=ON -DPLENA_BUILD_TESTS=OFF -DPLENA_BUILD_BENCH=OFF >/dev/null
TARGETS=$(sed -n 's/^[[:space:]]*plena_add_fuzzer(\([A-Za-z0-9_]*\).*/\1/p' "$ROOT"/fuzz/*.cmake)
[ -n "$TARGETS" ] || { echo "run-fuzzers: no fuzz targets found" >&2; exit 2; }
# shellcheck disable=SC2086
cmake --build "$BUILD" --target $TARGETS

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
for t in $TARGETS; do
  exe="$(find "$BUILD" -type f -name "$t" -perm -u+x | head -n1)"
  corpus="$BUILD/corpus/$t"
  mkdir -p "$corpus"
  seeds="$ROOT/fuzz/seeds/$t"
  [ "$t" = fuzz_assembler ] && [ -d "$ROOT/examples/asm" ] && cp -n "$ROOT"/examples/asm/*.asm "$corpus/" 2>/dev/null || true
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus/" 2>/dev/null || true
  # PLENA_FUZZ_RUNS=N: a fixed number of inputs from a fixed seed (reproducible, used by CI);
  # SECONDS_EACH still bounds the time.
  bound=()
  if [ -n "${PLENA_FUZZ_RUNS:-}" ]; then bound=(-runs="$PLENA_FUZZ_RUNS" -seed=1); fi
  echo "== $t: ${SECONDS_EACH}s ${bound[*]:-}"
  if ! (cd "$BUILD" && "$exe" "${bound[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
          -print_final_stats=1 "$corpus" 2>&1 | tail -n 25); then
    echo "run-fuzzers: $t FAILED" >&2
    status=1
  fi
done
exit $status

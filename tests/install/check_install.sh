#!/usr/bin/env bash
# check_install.sh BUILD_DIR THIS_DIR PYTHON_SITE_REL MAN PYTHON — see CMakeLists.txt.
set -euo pipefail
build=$1 here=$2 py_site=$3 man=$4 python=${5:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
"$prefix/bin/plena" --version | grep -q "^plena-cpp " || fail "installed plena --version"
want_hash=$("$prefix/bin/plena" config hash reference-small | grep -oE '[0-9a-f]{16}' | head -1)
want_version=$("$prefix/bin/plena" --version | awk '{print $NF}')
test -f "$prefix/share/bash-completion/completions/plena" || fail "no bash completion"
if [ -n "$man" ]; then
  grep -q '^\.SS "plena run"' "$prefix/share/man/man1/plena.1" || fail "man page lacks the run command"
fi

# find_package(plena) from a consumer project.
cmake -S "$here/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null || fail "consumer build"
got=$("$tmp/consumer/consumer")
echo "consumer (CMake): $got"
[ "$got" = "plena $want_version reference-small $want_hash words 2" ] || fail "consumer output '$got'"
# The tokenizer library (PCRE2 behind it) through the package: the test tokenizer has 274 tokens.
tok=$("$tmp/consumer/consumer" "$here/../tokenizer/data/bytelevel" | head -1)
[ "$tok" = "274 tokens" ] || fail "consumer tokenizer output '$tok'"

# pkg-config, same program.
pc="$(find "$prefix" -name plena.pc | head -1)"
[ -n "$pc" ] || fail "no plena.pc"
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs plena)
c++ -O1 "$here/consumer/consumer.cpp" $flags -o "$tmp/pc_consumer" || fail "pkg-config build ($flags)"
[ "$("$tmp/pc_consumer")" = "$got" ] || fail "pkg-config consumer output"
[ "$("$tmp/pc_consumer" "$here/../tokenizer/data/bytelevel" | head -1)" = "274 tokens" ] || fail "pkg-config tokenizer"

# The Python module from the prefix, not the build tree.
if [ -n "$py_site" ]; then
  PYTHONPATH="$prefix/$py_site" "$python" - "$prefix" "$want_version" "$want_hash" <<'PY' || fail "python import from prefix"
import sys
import plena
prefix, version, cfg_hash = sys.argv[1:]
assert plena.__file__.startswith(prefix), plena.__file__
assert plena.__version__ == version, plena.__version__
assert plena.HardwareConfig.load("reference-small").hash == cfg_hash
print("python:", plena.__file__)
PY
  test -f "$prefix/$py_site/plena.pyi" || fail "no type stubs"
fi
echo "install check passed"

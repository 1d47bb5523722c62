#!/usr/bin/env bash
# check_completion.sh PLENA_BINARY COMPLETION_SCRIPT: the bash completion offers the binary's own
# commands, nested commands and options (it asks `plena ... --help`, so new flags appear by themselves).
set -euo pipefail
plena=$1
source "$2"
complete_words() {  # the words completed after typing "$@" (the last word is the one being typed)
  COMP_WORDS=("$plena" "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _plena
  echo "${COMPREPLY[*]}"
}
expect() {
  local got
  got=$(complete_words "${@:2}")
  [ "$got" = "$1" ] || { echo "FAIL: completing '${*:2}': got '$got', expected '$1'" >&2; exit 1; }
}
expect "estimate eval" e
expect "check encode decode roundtrip" quant ""
expect "encode" quant enc
expect "--format --help --output" quant encode --
expect "--prompt-ids --prompt-len" run --prompt-
expect "" asm prog.asm ""   # a file argument: bash's own file completion (-o default)
echo "completion check passed"

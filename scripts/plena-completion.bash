# bash completion for plena (installed as share/bash-completion/completions/plena).
# Asks the binary itself for its commands and options (CLI11 --help), so it never goes stale.
_plena_help_words() {
  # $1: "commands" or "options"; the rest: the command path.
  local what=$1
  shift
  local help
  help=$("${_plena_bin:-plena}" "$@" --help 2>/dev/null) || return
  if [[ $what == commands ]]; then
    sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' <<<"$help"
  else
    grep -oE -- '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' <<<"$help" | sed 's/^[ ,]//' | sort -u
  fi
}

_plena() {
  local cur=${COMP_WORDS[COMP_CWORD]} _plena_bin=${COMP_WORDS[0]}
  local path=() subs i
  # The command path so far: leading words that are subcommands of the path before them.
  for ((i = 1; i < COMP_CWORD; i++)); do
    subs=$(_plena_help_words commands "${path[@]}")
    if grep -qx -- "${COMP_WORDS[i]}" <<<"$subs"; then path+=("${COMP_WORDS[i]}"); else break; fi
  done
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_plena_help_words options "${path[@]}")" -- "$cur"))
    return
  fi
  subs=$(_plena_help_words commands "${path[@]}")
  if [[ -n $subs && $i == "$COMP_CWORD" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
  # Otherwise (file arguments and option values) bash's default file completion (-o default).
}
complete -o default -F _plena plena

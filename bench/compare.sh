#!/usr/bin/env bash
# Compares vigil with yara 4.2.3 on the same rules and files, in one run,
# alternating yara, vigil, yara, vigil; checks that both print the same
# matches; prints the throughput of each and the ratio last (above 1 means
# vigil is faster). It builds vigil from this checkout and makes its target
# from files already on the machine: nothing is downloaded.
#
# Usage:
#   bench/compare.sh [-n RUNS] RULES_DIR [TARGET_DIR...]   every .yar/.yara under RULES_DIR, one namespace per file
#   bench/compare.sh -l [-n RUNS] [TARGET_DIR...]          one literal rule
#   bench/compare.sh -g [-n RUNS]                          one literal rule over a 1 GiB file built from system files
# The default target is the issue's tree: /usr/bin /usr/share /usr/lib/x86_64-linux-gnu
# /usr/lib/python3.11 and the Go installation (whichever exist).
# Example: bench/compare.sh ../shared/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
mode=rules
while getopts "n:lg" o; do
  case $o in
    n) runs=$OPTARG ;;
    l) mode=literal ;;
    g) mode=gib ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
command -v yara >/dev/null || { echo "compare.sh: yara is not installed (apt-get install -y yara)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/vigil" ./cmd/vigil

default_targets() {
  for d in /usr/bin /usr/share /usr/lib/x86_64-linux-gnu /usr/lib/python3.11 "$(go env GOROOT)"; do
    [ -d "$d" ] && echo "$d"
  done
}
literal="$tmp/literal.yar"
echo 'rule literal { strings: $a = "libc.so.6" condition: $a }' >"$literal"

case $mode in
rules)
  [ $# -ge 1 ] || { echo "compare.sh: give a rules directory" >&2; exit 2; }
  dir=$1; shift
  i=0
  while IFS= read -r f; do echo "n$i:$f"; i=$((i + 1)); done < <(find "$dir" -type f \( -name '*.yar' -o -name '*.yara' \) | sort) >"$tmp/rules.txt"
  echo "rules: $i files from $dir"
  if [ $# -eq 0 ]; then mapfile -t targets < <(default_targets); else targets=("$@"); fi
  scripts/bench-vs-yara -n "$runs" -V "$tmp/vigil" -R "$tmp/rules.txt" -- "${targets[@]}"
  ;;
literal)
  if [ $# -eq 0 ]; then mapfile -t targets < <(default_targets); else targets=("$@"); fi
  scripts/bench-vs-yara -n "$runs" -V "$tmp/vigil" "$literal" -- "${targets[@]}"
  ;;
gib)
  # 1 GiB of real binaries, concatenated (repeated if the machine has fewer).
  big="$tmp/big/1GiB.bin"
  mkdir -p "$tmp/big"
  while [ "$(stat -c %s "$big" 2>/dev/null || echo 0)" -lt $((1 << 30)) ]; do
    find /usr/lib/x86_64-linux-gnu /usr/bin -type f -size -50M -print0 | xargs -0 cat 2>/dev/null | head -c $((1 << 30)) >>"$big" || true
  done
  truncate -s $((1 << 30)) "$big"
  scripts/bench-vs-yara -n "$runs" -V "$tmp/vigil" "$literal" -- "$tmp/big"
  ;;
esac

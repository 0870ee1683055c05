#!/usr/bin/env bash
# Rule-count scaling, vigil against yara 4.2.3: writes the rule sets of
# yara/scale_bench_test.go (the first 100 and 1,000 rules of the shared
# corpus, the whole corpus, and 10,000 rules made from the corpus by
# perturbing its strings, a namespace per file) into a temporary directory,
# then runs scripts/bench-vs-yara (alternating, outputs compared) for each
# set on the same targets, and prints the curve last.
#
# Usage: bench/scale.sh [-n RUNS] [-c] [TARGET...]     (default target /usr/bin, -n 3)
#   -c   also time compiling each set alone (yara vs vigil scan of an empty file)
# Example: bench/scale.sh -n 3 -c /usr/bin
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
compile=
while getopts "n:c" o; do
  case $o in
    n) runs=$OPTARG ;;
    c) compile=-c ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- /usr/bin
[ -d ../shared/corpus ] || { echo "scale.sh: ../shared/corpus is missing" >&2; exit 1; }
command -v yara >/dev/null || { echo "scale.sh: yara is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/vigil" ./cmd/vigil
VIGIL_SCALE_OUT="$tmp/sets" go test -count=1 -run '^TestScaleRuleSets$' ./yara >/dev/null
status=0
for set in 100 1000 corpus 10000; do
  n=$(grep -c '' "$tmp/sets/$set.txt")
  echo "== rule set $set ($n files)"
  scripts/bench-vs-yara -n "$runs" $compile -V "$tmp/vigil" -R "$tmp/sets/$set.txt" -- "$@" | tee "$tmp/$set.out" || status=1
done
echo "== curve (best of $runs alternating runs; times summed over the targets)"
printf '%-8s %10s %10s %10s %10s %8s %8s\n' rules yara_s yara_cpu vigil_s vigil_cpu ratio cpu_ratio
for set in 100 1000 corpus 10000; do
  # total: yara Xs (cpu Ys) vigil Zs (cpu Ws) speedup Rx (cpu Cx) ...
  sed -n 's/^total: yara \([0-9.]*\)s (cpu \([0-9.]*\)s) vigil \([0-9.]*\)s (cpu \([0-9.]*\)s) speedup \([0-9.]*\)x (cpu \([0-9.]*\)x).*/\1 \2 \3 \4 \5 \6/p' "$tmp/$set.out" |
    while read -r a b c d e f; do printf '%-8s %10s %10s %10s %10s %7sx %7sx\n' "$set" "$a" "$b" "$c" "$d" "$e" "$f"; done
done
exit $status

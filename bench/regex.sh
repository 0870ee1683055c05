#!/usr/bin/env bash
# Times vigil against yara 4.2.3 on generic regex rules (bench/regex_rules.yar:
# URLs, domains, IP and e-mail addresses, base64 and hex blobs, coin
# addresses...), through scripts/bench-vs-yara (alternating runs, outputs
# compared). Both programs run under the same time limit: one that does not
# finish is named at the end, and its output is partial (the comparison then
# reports DIFFERENT).
#
# Usage: bench/regex.sh [-t YARA_TIMEOUT_S] [-n RUNS] [-r RULES_FILE] TARGET...
#   defaults: -t 300, -n 1, -r bench/regex_rules.yar
# Example: bench/regex.sh -t 300 /usr/bin /usr/share/doc
set -euo pipefail
cd "$(dirname "$0")/.."
limit=300
runs=1
rules=bench/regex_rules.yar
while getopts "t:n:r:" o; do
  case $o in
    t) limit=$OPTARG ;;
    n) runs=$OPTARG ;;
    r) rules=$OPTARG ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "regex.sh: give one or more targets" >&2; exit 2; }
real_yara=$(command -v yara) || { echo "regex.sh: yara is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/vigil" ./cmd/vigil
# A yara on PATH that stops the real one after $limit seconds and notes it.
mkdir "$tmp/bin"
cat >"$tmp/bin/yara" <<SHIM
#!/usr/bin/env bash
timeout $limit "$real_yara" "\$@"; rc=\$?
[ \$rc = 124 ] && echo "yara \$* : stopped after $limit s" >>"$tmp/timeouts"
[ \$rc != 0 ] && [ \$rc != 124 ] && echo "yara \$* : exit status \$rc" >>"$tmp/timeouts"
exit 0 # bench-vs-yara cannot read /usr/bin/time's report of a failed command
SHIM
chmod +x "$tmp/bin/yara"
cat >"$tmp/vigil-limited" <<SHIM
#!/usr/bin/env bash
timeout $limit "$tmp/vigil" "\$@"; rc=\$?
[ \$rc = 124 ] && echo "vigil \$* : stopped after $limit s" >>"$tmp/timeouts"
[ \$rc != 0 ] && [ \$rc != 124 ] && echo "vigil \$* : exit status \$rc" >>"$tmp/timeouts"
exit 0 # bench-vs-yara cannot read /usr/bin/time's report of a failed command
SHIM
chmod +x "$tmp/vigil-limited"
status=0
PATH="$tmp/bin:$PATH" scripts/bench-vs-yara -n "$runs" -V "$tmp/vigil-limited" "$rules" -- "$@" || status=$?
if [ -s "$tmp/timeouts" ]; then
  echo "NOT finished or failed (time and output above are for a partial scan):"
  cat "$tmp/timeouts"
fi
exit $status

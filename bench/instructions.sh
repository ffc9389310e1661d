#!/usr/bin/env bash
# Instructions per packet (valgrind's callgrind: repeatable, unlike wall time on a
# shared machine) for wirelens' analyses of the first packets of the benchmark's workloads.
# usage: bench/instructions.sh [BUILD_DIR]   env: PACKETS=200000 WORK=/var/tmp/wirelens-bench SEED=7
# Needs the workloads bench/run.sh generates (it runs bench/run.sh's generator if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
PACKETS=${PACKETS:-200000}
WORK=${WORK:-/var/tmp/wirelens-bench}
SEED=${SEED:-7}
command -v valgrind >/dev/null || { echo "bench/instructions.sh: needs valgrind (scripts/setup.sh --bench)" >&2; exit 1; }
[[ -x $build/wirelens ]] || { echo "bench/instructions.sh: no $build/wirelens: build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() {  # label, file, wirelens args...
  local label=$1 file=$2; shift 2
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$build/wirelens" -r "$file" -c "$PACKETS" \
    --no-progress "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  local ir
  ir=$(sed -n 's/^summary: //p' "$tmp/cg")
  awk -v l="$label" -v a="$*" -v ir="$ir" -v n="$PACKETS" \
    'BEGIN { printf "| %s | `%s` | %d | %.0f |\n", l, a, n, ir / n }'
}
echo "| workload | wirelens arguments | packets | instructions / packet |"
echo "| --- | --- | ---: | ---: |"
for w in mixed synflood; do
  f=$WORK/$w-seed$SEED.pcap
  [[ -f $f ]] || { echo "bench/instructions.sh: no $f: run bench/run.sh once (it generates the workloads)" >&2; exit 1; }
  count "$w" "$f" --json
  count "$w" "$f" --no-reassembly --json
done

#!/usr/bin/env bash
# Two wirelens builds timed in alternation (old, new, old, new, ...) on the
# benchmark workloads, so that the machine's slow and fast phases fall on both
# alike: the check that a change meant to keep speed (a refactoring) did.
# Prints the median wall time of each build per workload and mode, and the
# ratio new/old.
#
# usage: bench/compare_speed.sh OLD_WIRELENS NEW_WIRELENS
# env:   RUNS=7  WORK=/var/tmp/wirelens-bench (mixed-seed7.pcap, synflood-seed7.pcap:
#        bench/run.sh makes them)
set -euo pipefail
old=${1:?usage: $0 OLD_WIRELENS NEW_WIRELENS}
new=${2:?usage: $0 OLD_WIRELENS NEW_WIRELENS}
RUNS=${RUNS:-7}
WORK=${WORK:-/var/tmp/wirelens-bench}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
if grep -qw avx512f /proc/cpuinfo; then isa=AVX-512F; elif grep -qw avx2 /proc/cpuinfo; then isa=AVX2; else isa="no AVX2"; fi
echo "# $(date -u '+%F %H:%M') UTC, $cpu ($isa), $(nproc) cores, RUNS=$RUNS"
printf '%-10s %-28s %10s %10s %8s\n' workload mode "old s" "new s" new/old

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

for w in mixed synflood; do
  f=$WORK/$w-seed7.pcap
  if [[ ! -s $f ]]; then
    echo "compare_speed: no $f (bench/run.sh generates it), skipped" >&2
    continue
  fi
  for mode in "--json" "--no-reassembly --json"; do
    to=$(mktemp) tn=$(mktemp)
    for ((i = 0; i < RUNS; i++)); do
      for b in old new; do
        bin=$old out=$to
        [[ $b == new ]] && bin=$new out=$tn
        # shellcheck disable=SC2086
        /usr/bin/time -f "%e" -a -o "$out" "$bin" -r "$f" --no-progress $mode >/dev/null
      done
    done
    mo=$(median <"$to") mn=$(median <"$tn")
    printf '%-10s %-28s %10.2f %10.2f %8.3f\n' "$w" "$mode" "$mo" "$mn" \
      "$(awk -v a="$mn" -v b="$mo" 'BEGIN {print a / b}')"
    rm -f "$to" "$tn"
  done
done

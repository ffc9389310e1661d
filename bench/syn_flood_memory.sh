#!/usr/bin/env bash
# The flood memory figure: a spoofed flood of 10 million SYNs from random sources
# (1 million per second, 10 s), analysed with the default settings; peak RSS
# from /usr/bin/time, in JSON and in text mode. Usage: bench/syn_flood_memory.sh [BUILD_DIR] [N]
# env: SPREAD=1: to random addresses of 198.19.0.0/16 rather than one (the alert
#      column then counts syn_flood alerts); MAXMEM=64M: run under that --max-memory
set -euo pipefail
cd "$(dirname "$0")/.."
wl=${1:-build}/wirelens
n=${2:-10000000}
[[ -x /usr/bin/time ]] || { echo "bench/syn_flood_memory.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
[[ -x "$wl" ]] || { echo "bench/syn_flood_memory.sh: no $wl: build first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_syn_flood.py "$work/flood.pcap" "$n" 1000000 ${SPREAD:+spread}
limit=${MAXMEM:+--max-memory $MAXMEM}
echo "| mode | time | packets/s | peak RSS | alert |"
echo "| --- | --- | --- | --- | --- |"
for mode in --json ""; do
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %M" -o "$work/t" "$wl" -r "$work/flood.pcap" $mode $limit >"$work/out" 2>/dev/null
  read -r t m <"$work/t"
  if [[ -n ${SPREAD:-} ]]; then
    alert="$(grep -c '"state":"start".*"kind":"syn_flood"\|kind":"syn_flood","state":"start"\|ALERT syn_flood start' "$work/out" || true) alerts"
  elif grep -q '"state":"start".*"victim":"198.19.255.10","port":80\|ALERT syn_flood start 198.19.255.10:80' "$work/out"; then
    alert="198.19.255.10:80"
  else
    alert="NONE"
  fi
  awk -v mode="${mode:-text}" -v t="$t" -v m="$m" -v n="$n" -v a="$alert" \
    'BEGIN { printf "| %s | %.2f s | %.2f Mpkt/s | %.1f MiB | %s |\n", mode, t, n / t / 1e6, m / 1024, a }'
done

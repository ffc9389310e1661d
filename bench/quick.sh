#!/usr/bin/env bash
# A quick measurement of wirelens' three depths
# of analysis on samples/upload-v4.pcap repeated 2,000 times (264,000 packets,
# 285 MB), median of 5 runs each, with peak RSS. Usage: bench/quick.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
wl=${1:-build}/wirelens
[[ -x /usr/bin/time ]] || { echo "bench/quick.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
[[ -x "$wl" ]] || { echo "bench/quick.sh: no $wl: build first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/replicate_pcap.py samples/upload-v4.pcap "$work/big.pcap" 2000
ls -l "$work/big.pcap" | awk '{printf "input: %s bytes\n", $5}'
measure() {  # name, command...
  local name=$1; shift
  local times=() rss=0
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1
    read -r t m <"$work/t"
    times+=("$t"); rss=$m
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  awk -v n="$name" -v t="$median" -v m="$rss" \
    'BEGIN { printf "| %-40s | %6.2f s | %5.2f Mpkt/s | %4d MB |\n", n, t, 264000 / t / 1e6, m / 1024 }'
}
echo "| run | median time | packets/s | peak RSS |"
echo "| --- | --- | --- | --- |"
command -v tcpdump >/dev/null && measure "tcpdump -r FILE -w /dev/null" tcpdump -r "$work/big.pcap" -w /dev/null
measure "wirelens --no-flows (decode only)" "$wl" -r "$work/big.pcap" --no-flows --json
measure "wirelens --no-reassembly (+ connections)" "$wl" -r "$work/big.pcap" --no-reassembly --json
measure "wirelens (+ reassembly, uploads, MD5)" "$wl" -r "$work/big.pcap" --json

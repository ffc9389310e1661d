#!/usr/bin/env bash
# Peak memory under the three hostile traces of the memory-budget checks, at full size, with the
# default budget and with --max-memory 64M:
#   synflood    10,000,000 spoofed SYNs to one victim
#   concurrent  1,000,000 connections that open and never close
#   holes       20,000 connections each holding 16 segments after a hole
# Traces from bench/gen_hostile.py (cached in WORK). Peak RSS from /usr/bin/time.
# usage: bench/hostile_memory.sh [BUILD_DIR]     env: WORK=/var/tmp/wirelens-hostile
set -euo pipefail
cd "$(dirname "$0")/.."
wl=$(realpath "${1:-build}/wirelens")
work=${WORK:-/var/tmp/wirelens-hostile}
mkdir -p "$work"
declare -A size=([synflood]=10000000 [concurrent]=1000000 [holes]=20000)
echo "| trace | --max-memory | time | peak RSS | connections | evicted | reassembly drops (segments) | conn records | attempts folded |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for kind in synflood concurrent holes; do
  f=$work/$kind.pcap
  [[ -s $f ]] || python3 bench/gen_hostile.py "$kind" "$f" "${size[$kind]}"
  for budget in 256M 64M; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$wl" -r "$f" --json --max-memory "$budget" \
      >"$work/out.json"
    read -r secs kib <"$work/time"
    python3 - "$work/out.json" "$kind" "$budget" "$secs" "$kib" <<'EOF'
import json, sys
path, kind, budget, secs, kib = sys.argv[1:]
conns, folded, stats = 0, 0, None
for line in open(path):
    if line.startswith('{"type":"conn"'):
        conns += 1
    elif line.startswith('{"type":"attempts"'):
        folded += json.loads(line)["attempts"]
    elif line.startswith('{"type":"stats"'):
        stats = json.loads(line)
fl, ra = stats["flows"], stats.get("reassembly", {})
print("| %s | %s | %.1f s | %.1f MiB | %d | %d | %d | %d | %d |" % (
    kind, budget, float(secs), int(kib) / 1024, fl["connections"], fl["evicted"],
    ra.get("dropped_segments", 0), conns, folded))
EOF
  done
done
rm -f "$work/out.json" "$work/time"

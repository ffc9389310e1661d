#!/usr/bin/env bash
# Live capture under load: replaying a capture as fast as
# tcpreplay can over a veth pair, wirelens must drop no more packets than
# `tcpdump -w /dev/null` on the same replay.
#
# Two network namespaces joined by a veth pair (offloads off, no IP addresses, IPv6
# off: nothing but the replay crosses it, and nothing leaves the namespaces).
# tcpreplay sends FILE out of one end; on the other end, in turn:
#   tcpdump      tcpdump -i VETH -w /dev/null
#   wirelens     wirelens -i VETH --json   (stdout through `tail -n 1`: the stats record)
#   wirelens-w   the same with -w FILE on tmpfs (every captured packet written too)
#   tcpdump-immediate  tcpdump --immediate-mode -w /dev/null (not by default: for comparison)
# all with their default kernel buffer (-B) and snap length. Each capture is stopped
# with SIGINT one second after the replay ends. Workloads:
#   upload  samples/upload-v4.pcap repeated COPIES times (bench/replicate_pcap.py):
#           264,000 packets of 66 to 1,514 bytes
#   syn     SYNS spoofed SYNs of 54 bytes (bench/gen_syn_flood.py)
# each replayed with --topspeed and with LIMIT (default --pps=100000), RUNS runs per
# capturer (alternating), medians in a markdown table at the end.
#
# usage: bench/live_drops.sh [BUILD_DIR]      (as root; needs tcpreplay, tcpdump, ip, ethtool)
# env:   RUNS=3 COPIES=2000 SYNS=1000000 LIMIT=--pps=100000 CAPTURERS="tcpdump wirelens wirelens-w"
#        WORKLOADS="upload syn" MODES="topspeed limit" WL_ARGS="" (more wirelens options, e.g. --ring 512)
set -euo pipefail
cd "$(dirname "$0")/.."
wl=$(realpath "${1:-build}/wirelens")
RUNS=${RUNS:-3}
COPIES=${COPIES:-2000}
SYNS=${SYNS:-1000000}
LIMIT=${LIMIT:---pps=100000}
CAPTURERS=${CAPTURERS:-tcpdump wirelens wirelens-w}
WORKLOADS=${WORKLOADS:-upload syn}
MODES=${MODES:-topspeed limit}

die() { echo "bench/live_drops.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, capture)"
[[ -x $wl ]] || die "no $wl: build first (cmake --build build --target wirelens)"
for tool in tcpreplay tcpdump ip ethtool python3; do
  command -v "$tool" >/dev/null || die "needs $tool (scripts/setup.sh --test installs it)"
done
help=$("$wl" --help 2>&1) || true
[[ $help == *--interface* ]] || die "$wl has no live capture (-i)"

ns_a=wl-bda-$$ ns_b=wl-bdb-$$   # sender, capturer
if_a=wbda$$ if_b=wbdb$$
base=/tmp; [[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm  # the -w file on tmpfs
work=$(mktemp -d -p "$base" wl-drops.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for ns in "$ns_a" "$ns_b"; do
    if ip netns list | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  if ip netns list | grep -qwE "$ns_a|$ns_b"; then echo "bench/live_drops.sh: namespaces left behind" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the namespaces
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$if_a" netns "$ns_a" type veth peer name "$if_b" netns "$ns_b"
for side in "$ns_a:$if_a" "$ns_b:$if_b"; do
  ns=${side%%:*} ifc=${side#*:}
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1"
  ip netns exec "$ns" ip link set dev "$ifc" addrgenmode none
  ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off tx off rx off >/dev/null
  ip netns exec "$ns" ip link set "$ifc" up
done
sleep 0.5

# ---- the workloads
echo "making workloads in $work ..." >&2
declare -A file
for w in $WORKLOADS; do
  case $w in
    upload) python3 bench/replicate_pcap.py samples/upload-v4.pcap "$work/upload.pcap" "$COPIES" ;;
    syn) python3 bench/gen_syn_flood.py "$work/syn.pcap" "$SYNS" 100000 ;;
    *) die "unknown workload $w" ;;
  esac
  file[$w]=$work/$w.pcap
done

# Waits until $1 holds "listening on" (or the process $2 ended); 0 when it does.
wait_listening() {
  local i
  for i in $(seq 200); do
    grep -q "listening on" "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# SIGINT, then (if it takes more than 120 s) SIGKILL.
stop() {
  local pid=$1 i
  kill -INT "$pid" 2>/dev/null || true
  for i in $(seq 1200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# One run: capturer, workload, mode, run number -> a line in $work/results.tsv:
# workload mode capturer run sent rate_pps captured received dropped_kernel dropped_ring
one_run() {
  local cap=$1 w=$2 mode=$3 run=$4
  local err=$work/cap.err out=$work/cap.out rep=$work/replay.log cpid tpid=
  rm -f "$err" "$out" "$work/cap.fifo" "$work/written.pcap"
  case $cap in
    tcpdump | tcpdump-immediate)
      local im=()
      [[ $cap == tcpdump-immediate ]] && im=(--immediate-mode)
      ip netns exec "$ns_b" tcpdump -i "$if_b" "${im[@]}" -w /dev/null 2>"$err" &
      cpid=$! ;;
    wirelens | wirelens-w)
      local extra=()
      # shellcheck disable=SC2206  # WL_ARGS: extra options, split on spaces
      extra+=(${WL_ARGS:-})
      [[ $cap == wirelens-w ]] && extra=(-w "$work/written.pcap")
      mkfifo "$work/cap.fifo"
      tail -n 1 <"$work/cap.fifo" >"$out" &
      tpid=$!
      ip netns exec "$ns_b" "$wl" -i "$if_b" --json "${extra[@]}" >"$work/cap.fifo" 2>"$err" &
      cpid=$! ;;
  esac
  pids+=("$cpid" ${tpid:+"$tpid"})
  wait_listening "$err" "$cpid" || { cat "$err" >&2; die "$cap did not start"; }
  local rargs=(--topspeed)
  [[ $mode == limit ]] && rargs=("$LIMIT")
  ip netns exec "$ns_a" tcpreplay -K "${rargs[@]}" -i "$if_a" "${file[$w]}" >"$rep" 2>&1 ||
    { cat "$rep" >&2; die "tcpreplay failed"; }
  sleep 1
  stop "$cpid"
  [[ -n $tpid ]] && wait "$tpid" 2>/dev/null || true
  python3 - "$cap" "$w" "$mode" "$run" "$rep" "$err" "$out" >>"$work/results.tsv" <<'EOF'
import json, re, sys
cap, w, mode, run, rep, err, out = sys.argv[1:]
r = open(rep).read()
sent = re.search(r"Successful packets:\s+(\d+)", r)
rate = re.search(r"Rated:.*?([\d.]+) pps", r)
row = {"sent": int(sent.group(1)) if sent else -1, "rate": float(rate.group(1)) if rate else -1}
if cap.startswith("tcpdump"):
    e = open(err).read()
    def n(what):
        m = re.search(r"(\d+) packets? %s" % what, e)
        return int(m.group(1)) if m else 0
    row.update(captured=n("captured"), received=n("received by filter"),
               kernel=n("dropped by kernel") + n("dropped by interface"), ring=0)
else:
    try:
        c = json.loads(open(out).read())["capture"]
    except (ValueError, KeyError, OSError) as e:
        sys.exit("no stats record from wirelens (%s): %s" % (e, open(err).read()[-500:]))
    row.update(captured=c["captured"], received=c["received"],
               kernel=c["dropped_kernel"] + c["dropped_interface"], ring=c["dropped_ring"])
print("\t".join(str(x) for x in (w, mode, cap, run, row["sent"], row["rate"], row["captured"],
                                 row["received"], row["kernel"], row["ring"])))
EOF
  tail -n 1 "$work/results.tsv" | awk -F'\t' '{printf "  %-7s %-8s %-11s run %s: sent %s (%.0f pps), captured %s, received %s, kernel drops %s, ring drops %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}' >&2
  rm -f "$work/written.pcap"
}

: >"$work/results.tsv"
for w in $WORKLOADS; do
  for mode in $MODES; do
    for run in $(seq "$RUNS"); do
      for cap in $CAPTURERS; do   # alternating, so drift hits every capturer alike
        one_run "$cap" "$w" "$mode" "$run"
      done
    done
  done
done

# ---- the table
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "Machine: $(nproc) CPUs ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r);" \
  "$(tcpdump --version 2>&1 | head -1), $(tcpdump --version 2>&1 | sed -n 2p)," \
  "tcpreplay $(tcpreplay --version 2>&1 | awk 'NR==1 {print $3}'); $("$wl" --version 2>&1 | head -1)." \
  "Medians of $RUNS runs; limit mode: $LIMIT; default -B for both."
python3 - "$work/results.tsv" <<'EOF'
import collections, statistics, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    w, mode, cap, run, *nums = line.rstrip("\n").split("\t")
    rows.setdefault((w, mode, cap), []).append([float(x) for x in nums])
print()
print("| workload | replay | capturer | sent | replay rate | captured | received | kernel drops | ring drops | drops (all) |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
med = {}
for (w, mode, cap), runs in rows.items():
    m = [statistics.median(col) for col in zip(*runs)]
    sent, rate, captured, received, kernel, ring = m
    drops = statistics.median(r[4] + r[5] for r in runs)
    med[(w, mode, cap)] = drops
    print("| %s | %s | %s | %d | %.0f pps | %d | %d | %d | %d | %d |" %
          (w, mode, cap, sent, rate, captured, received, kernel, ring, drops))
print()
for (w, mode, cap), drops in med.items():
    if cap.startswith("wirelens") and (w, mode, "tcpdump") in med:
        ref = med[(w, mode, "tcpdump")]
        print("%s %s: %s drops %d (median) vs tcpdump %d: %s" %
              (w, mode, cap, drops, ref, "ok" if drops <= ref else "MORE than tcpdump"))
EOF

#!/usr/bin/env bash
# The benchmark: wirelens against its peers on two generated workloads.
#
#   mixed     ~1M packets: 30,000 framed uploads (0 B-64 KiB, ~390 MB of bodies) with
#             their replies, 64 connections at once, some reordered, retransmitted or
#             reset; DNS over UDP; a 300,000-SYN spoofed flood      (bench/gen_workload.cpp)
#   synflood  10,000,000 spoofed SYNs to one victim, 1M/s
#
# The workloads are generated once (cached in WORK, regenerated when the generator's
# source changes) and checked: the file with tshark (no malformed frame, no expert error,
# every checksum good; synflood: its first million packets), wirelens' analysis with
# wirelens (every upload complete with its digest, the flood alert). Then, for each
# workload, RUNS rounds, each running every command once, the order rotated per round:
#
#   wirelens -r FILE --json                    full analysis
#   wirelens -r FILE --no-reassembly --json    decode and connection tracking
#   wirelens -r FILE --all-attempts --json     full analysis, a conn record per evicted attempt
#   wirelens -r FILE --threads 2 --json        only if `wirelens --help` lists --threads
#   wirelens -r FILE --json --streams DIR      full analysis and every TCP stream to a file in
#                                              DIR (a fresh DIR each run, in FLOW_BASE, as tcpflow's);
#                                              only if `wirelens --help` lists --streams
#   tcpdump -r FILE -w /dev/null               libpcap's read floor
#   tcpflow -r FILE -o DIR                     a fresh DIR each run (in FLOW_BASE), deleted after
#   tshark -r FILE -q -z conv,tcp
#   tcptrace -n FILE
#
# (stdout to /dev/null), wall time and peak RSS from /usr/bin/time, the file in the page
# cache. A run taking longer than its timeout is stopped, and that command is not run
# again on that workload; peers run under a memory cap (ulimit -v), so that tshark,
# tcpflow and tcptrace, which keep every connection of a 10M-SYN flood, cannot take the
# machine's memory. The table (medians, packets/s, peak RSS, ratios) and the PASS/FAIL
# of every target of the issue go to stdout and to RESULTS.
#
# usage: bench/run.sh [BUILD_DIR]        (default build; wirelens and bench/gen_workload in it)
# env:   RUNS=5  WORKLOADS="mixed synflood"  SEED=7  WORK=/var/tmp/wirelens-bench
#        TIMEOUT=1800 (seconds, any run)  PEER_TIMEOUT_SYNFLOOD=120 (a peer's run on synflood)
#        PEER_MEM_MB=8192 (peers' address-space cap)  FLOW_BASE=/dev/shm (tcpflow's output)
#        RESULTS=bench/results.md  GEN=BUILD_DIR/bench/gen_workload
#        COMMANDS="wirelens-streams tcpflow" (only these rows; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
build=${1:-build}
RUNS=${RUNS:-5}
WORKLOADS=${WORKLOADS:-mixed synflood}
COMMANDS=${COMMANDS:-}
SEED=${SEED:-7}
WORK=${WORK:-/var/tmp/wirelens-bench}
TIMEOUT=${TIMEOUT:-1800}
PEER_TIMEOUT_SYNFLOOD=${PEER_TIMEOUT_SYNFLOOD:-120}
PEER_MEM_MB=${PEER_MEM_MB:-8192}
RESULTS=${RESULTS:-bench/results.md}
if [[ -z ${FLOW_BASE:-} ]]; then
  FLOW_BASE=$WORK
  [[ -d /dev/shm && -w /dev/shm ]] && FLOW_BASE=/dev/shm
fi

die() { echo "bench/run.sh: $*" >&2; exit 1; }
say() { echo "bench/run.sh: $*" >&2; }
[[ -x $build/wirelens ]] || die "no $build/wirelens: build first (cmake --build $build -j2 --target wirelens)"
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (scripts/setup.sh --bench installs it)"
for tool in tcpdump tcpflow tshark tcptrace capinfos python3 timeout; do
  command -v "$tool" >/dev/null || die "needs $tool (scripts/setup.sh --bench installs it)"
done
mkdir -p "$WORK"
# A copy of the binary: every run uses the same one, even if BUILD_DIR is rebuilt meanwhile.
cp "$build/wirelens" "$WORK/wirelens"
wl=$WORK/wirelens
wl_sum=$(sha256sum "$wl" | cut -c1-12)

# ---- the generator: built in BUILD_DIR when missing or older than its source
gen=${GEN:-$build/bench/gen_workload}
if [[ ! -x $gen || bench/gen_workload.cpp -nt $gen ]]; then
  say "building $gen"
  cmake --build "$build" -j2 --target gen_workload >&2
fi
gen=$(realpath "$gen")
gen_key=$(sha256sum bench/gen_workload.cpp | cut -c1-16)

# ---- the workloads, cached; their summaries (what the analysis must find) next to them
declare -A file summary gen_secs
for w in $WORKLOADS; do
  case $w in
    mixed | synflood) ;;
    *) die "unknown workload $w (mixed, synflood)" ;;
  esac
  f=$WORK/$w-seed$SEED.pcap
  file[$w]=$f
  summary[$w]=$WORK/$w-seed$SEED.json
  if [[ -s $f && -s ${summary[$w]} && $(cat "$f.key" 2>/dev/null) == "$gen_key" ]]; then
    say "$w: cached $f"
    gen_secs[$w]=$(cat "$f.gen_secs")
  else
    say "$w: generating $f"
    rm -f "$f" "$f.key" "$f.tshark"
    t0=$(date +%s.%N)
    "$gen" "$w" "$f" --seed "$SEED" >"${summary[$w]}"
    t1=$(date +%s.%N)
    gen_secs[$w]=$(python3 -c "print('%.1f' % ($t1 - $t0))")
    echo "${gen_secs[$w]}" >"$f.gen_secs"
    echo "$gen_key" >"$f.key"
  fi
done

# ---- checking the files with tshark (once per file): malformed frames, expert errors, bad
# checksums, with the upload port decoded as plain data (tshark's heuristic dissectors
# otherwise read Thrift or EtherCAT into random upload bodies)
for w in $WORKLOADS; do
  f=${file[$w]}
  [[ -s $f.tshark ]] && continue
  say "$w: checking the file with tshark"
  count=()
  [[ $w == synflood ]] && count=(-c 1000000)
  tshark -r "$f" "${count[@]}" -q -d tcp.port==5001,data \
    -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -z 'io,stat,0,frame,_ws.malformed,_ws.expert.severity == "error",ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad",ip.checksum.status == "Good",tcp.checksum.status == "Good",udp.checksum.status == "Good",tcp.flags.syn == 1 && tcp.flags.ack == 0,dns.flags.response == 1' \
    2>/dev/null | awk -F'|' '/<>/ { for (i = 3; i <= NF; i += 2) { gsub(/ /, "", $i); if ($i != "") printf "%s ", $i } print "" }' \
    >"$f.tshark.tmp"
  { echo "${#count[@]}"; cat "$f.tshark.tmp"; capinfos -c -M "$f" | awk -F': *' '/Number of packets/ {print $2}'; } >"$f.tshark"
  rm -f "$f.tshark.tmp"
done

# ---- checking wirelens' analysis (this run also brings the file into the page cache)
for w in $WORKLOADS; do
  f=${file[$w]}
  say "$w: checking wirelens' analysis"
  cat "$f" >/dev/null
  "$wl" -r "$f" --json | grep -E '^\{"type":"(upload|alert|stats)"' >"$WORK/$w.verify.jsonl" || true
done

# ---- timed runs
help=$("$wl" --help 2>&1) || true
threads=0
[[ $help == *--threads* ]] && threads=1
names=(wirelens wirelens-norea)
[[ $help == *--all-attempts* ]] && names+=(wirelens-allatt)
((threads)) && names+=(wirelens-threads2)
[[ $help == *--streams* ]] && names+=(wirelens-streams)
names+=(tcpdump tcpflow tshark tcptrace)
if [[ -n $COMMANDS ]]; then
  kept=()
  for name in "${names[@]}"; do
    [[ " $COMMANDS " == *" $name "* ]] && kept+=("$name")
  done
  ((${#kept[@]})) || die "COMMANDS=\"$COMMANDS\" names none of: ${names[*]}"
  names=("${kept[@]}")
fi
times=$WORK/times.tsv
: >"$times"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# One run: workload, name, round -> a line in $times: workload name round secs rss_kib status cpu_secs
one_run() {
  local w=$1 name=$2 round=$3 f=${file[$1]} limit=$TIMEOUT cap=0 dir=
  local cmd=()
  case $name in
    wirelens) cmd=("$wl" -r "$f" --json) ;;
    wirelens-norea) cmd=("$wl" -r "$f" --no-reassembly --json) ;;
    wirelens-allatt) cmd=("$wl" -r "$f" --all-attempts --json) ;;
    wirelens-threads2) cmd=("$wl" -r "$f" --threads 2 --json) ;;
    wirelens-streams)
      dir=$(mktemp -d -p "$FLOW_BASE" wl-streams.XXXXXX)
      cmd=("$wl" -r "$f" --json --streams "$dir") ;;
    tcpdump) cmd=(tcpdump -r "$f" -w /dev/null) ;;
    tcpflow)
      dir=$(mktemp -d -p "$FLOW_BASE" wl-tcpflow.XXXXXX)
      cmd=(tcpflow -r "$f" -o "$dir") ;;
    tshark) cmd=(tshark -r "$f" -q -z "conv,tcp") ;;
    tcptrace) cmd=(tcptrace -n "$f") ;;
  esac
  if [[ $name != wirelens* ]]; then
    cap=$((PEER_MEM_MB * 1024))
    [[ $w == synflood ]] && limit=$PEER_TIMEOUT_SYNFLOOD
  fi
  cat "$f" >/dev/null  # still in the page cache (a peer's gigabytes may have pushed it out)
  local rc=0
  (
    ((cap > 0)) && ulimit -v "$cap"
    exec /usr/bin/time -f "%e %M %x %U %S" -o "$WORK/time" timeout "$limit" "${cmd[@]}"
  ) >/dev/null 2>"$WORK/run.err" || rc=$?
  local secs rss status=ok usr sys
  read -r secs rss _ usr sys < <(tail -n 1 "$WORK/time")
  if ((rc == 124)); then
    status=timeout
    secs=$limit
  elif ((rc != 0)); then
    status="failed-rc$rc"
    if grep -qiE "memory|alloc" "$WORK/run.err"; then status="oom-rc$rc"; fi
    say "$w $name exited $rc: $(grep -v '^Running as user' "$WORK/run.err" | head -c 300)"
  fi
  [[ -n $dir ]] && rm -rf "$dir"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$name" "$round" "$secs" "$rss" "$status" \
    "$(python3 -c "print('%.2f' % ($usr + $sys))")" >>"$times"
  printf '  %-9s round %s  %-18s %8s s %9s KiB  %s\n' "$w" "$round" "$name" "$secs" "$rss" "$status" >&2
}

for w in $WORKLOADS; do
  declare -A stopped=()
  for round in $(seq "$RUNS"); do
    n=${#names[@]}
    for i in $(seq 0 $((n - 1))); do
      name=${names[$(((i + round - 1) % n))]}  # rotated: each command runs early and late
      [[ -n ${stopped[$name]:-} ]] && continue
      one_run "$w" "$name" "$round"
      st=$(tail -n 1 "$times" | cut -f6)
      [[ $st != ok ]] && stopped[$name]=$st
    done
  done
  unset stopped
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report
finished=$(date +%s)
env_shown=""  # the command line as typed: the quotes are meant literally
# shellcheck disable=SC2089,SC2090
for v in RUNS WORKLOADS SEED TIMEOUT PEER_TIMEOUT_SYNFLOOD PEER_MEM_MB COMMANDS; do
  case "$v=${!v}" in
    RUNS=5 | "WORKLOADS=mixed synflood" | SEED=7 | TIMEOUT=1800 | PEER_TIMEOUT_SYNFLOOD=120 | PEER_MEM_MB=8192 | COMMANDS=) ;;
    *) env_shown+="$v=\"${!v}\" " ;;
  esac
done
tree=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no -- . ':!bench' 2>/dev/null) ]]; then
  tree+=" with uncommitted changes outside bench/"
fi
BENCH_CMD="${env_shown}bash bench/run.sh $build"
BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
BENCH_MACHINE="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, kernel $(uname -r); load average $load_start at the start, $load_end at the end (the machine is shared)"
BENCH_VERSIONS="wirelens $("$wl" --version 2>&1 | head -1) (binary sha256 $wl_sum; repository at $tree); $(tcpdump --version 2>&1 | head -1), $(tcpdump --version 2>&1 | sed -n 2p | sed 's/ (.*//'); tcpflow $(tcpflow -V 2>&1 | awk '{print $2; exit}'); $(tshark --version 2>/dev/null | head -1 | sed 's/ (Git.*//'); tcptrace $(tcptrace -v 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)"
BENCH_ELAPSED=$((finished - started))
# shellcheck disable=SC2090
export BENCH_CMD BENCH_DATE BENCH_MACHINE BENCH_VERSIONS BENCH_ELAPSED
export BENCH_FLOW_BASE=$FLOW_BASE BENCH_PEER_MEM_MB=$PEER_MEM_MB BENCH_RUNS=$RUNS
export BENCH_PEER_TIMEOUT_SYNFLOOD=$PEER_TIMEOUT_SYNFLOOD BENCH_THREADS=$threads
args=()
for w in $WORKLOADS; do
  args+=("$w" "${file[$w]}" "${summary[$w]}" "${file[$w]}.tshark" "$WORK/$w.verify.jsonl" "${gen_secs[$w]}")
done
python3 bench/run_report.py "$times" "${args[@]}" | tee "$RESULTS"
say "results in $RESULTS; the script ran $(((finished - started) / 60)) min $(((finished - started) % 60)) s"

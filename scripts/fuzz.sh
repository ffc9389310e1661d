#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang) in build/fuzz, makes their seeds and runs
# each target for SECONDS (default 60), one after another:
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
# TARGET: fuzz_decode fuzz_pcap fuzz_segments fuzz_framed (default: all four).
# Each target's corpus grows in build/fuzz/corpus/TARGET from run to run; its log is
# build/fuzz/logs/TARGET.log. A crash, leak, sanitizer report, failed check or timeout
# is saved in build/fuzz/artifacts/; the script then goes on with the next target and
# exits 1 at the end, printing each reproducer and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(fuzz_decode fuzz_pcap fuzz_segments fuzz_framed)
seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]  (targets: ${all[*]})" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [[ " ${all[*]} " != *" $t "* ]]; then
    echo "fuzz.sh: no target $t (targets: ${all[*]})" >&2
    exit 2
  fi
done

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (bash scripts/setup.sh --test installs clang)" >&2
  exit 1
fi
build=build/fuzz
echo "== building ${targets[*]} with clang in $build"
CC=clang CXX=clang++ cmake -S . -B "$build" -DWIRELENS_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target seed_writer "${targets[@]}"
bash fuzz/make_seeds.sh "$build/seeds"

artifacts=$build/artifacts
mkdir -p "$artifacts" "$build/logs" "$build/tmp"
export WIRELENS_FUZZ_TMP=$PWD/$build/tmp  # scratch folders for carved bodies
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

found=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  log=$build/logs/$t.log
  mkdir -p "$corpus"
  extra=()
  case $t in
    fuzz_decode) extra=(-dict=fuzz/decode.dict) ;;
    fuzz_pcap) extra=(-max_len=65536 -dict=fuzz/decode.dict) ;;
    fuzz_segments | fuzz_framed) extra=(-max_len=16384 -dict=fuzz/framed.dict) ;;
  esac
  marker=$(mktemp)
  echo "== $t for ${seconds} s (log: $log)"
  rc=0
  "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/$t-" -print_final_stats=1 "${extra[@]}" \
    "$corpus" "$build/seeds/$t" >"$log" 2>&1 || rc=$?

  # The figures: libFuzzer's last status line and its final statistics.
  status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$status")
  echo "$t: ${runs:-?} runs, ${speed:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}," \
       "corpus ${corp:-?} (files in $corpus: $(find "$corpus" -type f | wc -l))," \
       "peak RSS ${rss:-?} MB"

  new=$(find "$artifacts" -maxdepth 1 -type f -name "$t-*" -newer "$marker" | sort)
  rm -f "$marker"
  if [[ $rc -ne 0 || -n $new ]]; then
    found=1
    echo "!! $t found something (exit status $rc); the end of its log:"
    grep -E 'ERROR|runtime error|fuzz check failed|Test unit written|SUMMARY' "$log" | tail -n 8 \
      | sed 's/^/   /'
    for a in $new; do
      echo "   reproducer: $a"
      echo "   replay:     $build/fuzz/$t $a"
    done
  fi
done

if [[ $found -ne 0 ]]; then
  echo "fuzz.sh: findings above" >&2
  exit 1
fi
echo "fuzz.sh: no findings"

#!/usr/bin/env bash
# Compares what two wirelens binaries print — stdout, stderr and exit code —
# on the samples, the shared corpus and the generated benchmark workloads, in
# every output mode. Used to show that a change meant to keep behaviour
# (a refactoring) keeps every record byte-identical.
#
# usage: tools/compare_records.sh OLD_WIRELENS NEW_WIRELENS [CORPUS_DIR]
# env:   WORK=/var/tmp/wirelens-bench   (mixed-seed7.pcap, synflood-seed7.pcap, if present:
#                                        bench/run.sh makes them)
#        JOBS=$(nproc)   QUICK=1: samples and corpus only
# Exit 0 when every run matches; 1 with the differing commands listed.
set -euo pipefail
cd "$(dirname "$0")/.."

old=$(realpath "${1:?usage: $0 OLD_WIRELENS NEW_WIRELENS [CORPUS_DIR]}")
new=$(realpath "${2:?usage: $0 OLD_WIRELENS NEW_WIRELENS [CORPUS_DIR]}")
corpus=${3:-../shared/corpus/tcpdump}
WORK=${WORK:-/var/tmp/wirelens-bench}
JOBS=${JOBS:-$(nproc)}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Copies, so that a rebuild during the comparison cannot change what is compared.
cp "$old" "$tmp/old-wirelens"
cp "$new" "$tmp/new-wirelens"
old=$tmp/old-wirelens new=$tmp/new-wirelens

# One line per run: FILE<TAB>options. Small files get every mode.
small_modes=(
  ""
  "--json"
  "--packets"
  "--packets --json"
  "--ladder"
  "--stream --json"
  "--verify-checksums --packets --json"
  "--no-reassembly --json"
  "--threads 2 --json"
  "--all-attempts --json"
)
big_modes=(
  "--json"
  "--no-reassembly --json"
  "--threads 2 --json"
  "--stream --json"
  "--packets --json -c 300000"
  "--ladder"
)
{
  for f in samples/*.pcap samples/linktypes/*; do
    [[ -f $f ]] || continue
    for m in "${small_modes[@]}"; do printf '%s\t%s\n' "$f" "$m"; done
  done
  if [[ -d $corpus ]]; then
    for f in "$corpus"/*; do
      for m in "" "--packets --json" "--verify-checksums --packets"; do
        printf '%s\t%s\n' "$f" "$m"
      done
    done
  else
    echo "compare_records: no corpus at $corpus, skipped" >&2
  fi
  if [[ -z ${QUICK:-} ]]; then
    for w in mixed synflood; do
      f=$WORK/$w-seed7.pcap
      if [[ -s $f ]]; then
        for m in "${big_modes[@]}"; do printf '%s\t%s\n' "$f" "$m"; done
      else
        echo "compare_records: no $f (bench/run.sh generates it), skipped" >&2
      fi
    done
  fi
} >"$tmp/runs"

# Each run: both binaries, output hashed (stdout, stderr with the binary's own
# path removed, exit code). The source name is printed in records, so both read
# the same path.
cat >"$tmp/one.sh" <<'EOF'
#!/usr/bin/env bash
old=$1 new=$2 line=$3
file=${line%%$'\t'*}
mode=${line#*$'\t'}
run() {
  # shellcheck disable=SC2086
  { "$1" -r "$file" --no-progress $mode 2>"$4.err" | sha256sum; echo "rc=${PIPESTATUS[0]}"; \
    sed "s|$1|WIRELENS|g" "$4.err" | sha256sum; } >"$4"
}
t=$(mktemp)
run "$old" "" "" "$t.a"
run "$new" "" "" "$t.b"
if ! cmp -s "$t.a" "$t.b"; then
  printf 'DIFF\t%s -r %s %s\n' "wirelens" "$file" "$mode"
fi
rm -f "$t" "$t.a" "$t.a.err" "$t.b" "$t.b.err"
EOF
chmod +x "$tmp/one.sh"

total=$(wc -l <"$tmp/runs")
echo "compare_records: $total runs of each binary" >&2
tr '\n' '\0' <"$tmp/runs" | xargs -0 -P "$JOBS" -I{} "$tmp/one.sh" "$old" "$new" {} >"$tmp/diffs"
if [[ -s $tmp/diffs ]]; then
  n=$(wc -l <"$tmp/diffs")
  echo "compare_records: $n of $total runs differ:" >&2
  cut -f2 "$tmp/diffs" >&2
  exit 1
fi
echo "compare_records: all $total runs identical (stdout, stderr, exit code)"

#!/usr/bin/env bash
# Reads every capture of the shared corpus (many deliberately malformed) in
# every output mode. Passes when each run exits 0, or 1/2 with a one-line
# "wirelens: ..." error, and no run crashes, hangs or trips a sanitizer.
set -uo pipefail
wirelens=$1
corpus=$2
if [[ ! -d "$corpus" ]]; then
  echo "SKIP: no corpus at $corpus"
  exit 77
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
files=0 failures=0 clean=0 errors=0
for f in "$corpus"/*; do
  [[ -f "$f" ]] || continue
  files=$((files + 1))
  for mode in "--packets --json" "--packets" "--verify-checksums --json"; do
    # shellcheck disable=SC2086
    timeout 60 "$wirelens" -r "$f" $mode >/dev/null 2>"$err"
    rc=$?
    case $rc in
      0) clean=$((clean + 1)) ;;
      1 | 2)
        if [[ $(wc -l <"$err") -ne 1 ]] || ! grep -q '^wirelens: ' "$err"; then
          echo "FAIL $f ($mode): exit $rc without a one-line error:"; head -5 "$err"
          failures=$((failures + 1))
        else
          errors=$((errors + 1))
        fi ;;
      *)
        echo "FAIL $f ($mode): exit $rc"; head -20 "$err"
        failures=$((failures + 1)) ;;
    esac
  done
done
echo "corpus: $files files, $((clean + errors)) runs survived ($errors with a clear error), $failures failed"
[[ $files -gt 0 && $failures -eq 0 ]]

#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets, one folder per target:
#   bash fuzz/make_seeds.sh [OUTDIR]        (default build/fuzz/seeds)
#   fuzz_pcap      the captures of samples/ and of the shared corpus, each cut to its
#                  first 64 KiB (a longer one becomes a capture cut short)
#   fuzz_decode    the first 16 frames of each of those captures, each prefixed with its
#                  link-type selector (fuzz/decode_input.hpp); both also get the tunnel
#                  captures tests/e2e/test_tunnels.py crafts
#   fuzz_segments  hand-encoded uploads over whole TCP connections (seed_writer)
#   fuzz_framed    hand-encoded uploads and replies cut at their boundaries (seed_writer)
# The folders are made afresh. seed_writer comes from the fuzz build (scripts/fuzz.sh
# builds it first); SEED_WRITER names another, WIRELENS_CORPUS_DIR another corpus.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/fuzz/seeds}
writer=${SEED_WRITER:-$root/build/fuzz/fuzz/seed_writer}
corpus=${WIRELENS_CORPUS_DIR:-$root/../shared/corpus/tcpdump}
max_bytes=65536
frames_per_capture=16

if [[ ! -x $writer ]]; then
  echo "make_seeds.sh: no seed_writer at $writer: build the fuzz targets first" \
       "(bash scripts/fuzz.sh does)" >&2
  exit 1
fi

captures=()
for f in "$root"/samples/*.pcap "$root"/samples/*.pcapng "$root"/samples/linktypes/*; do
  [[ -f $f ]] && captures+=("$f")
done
if [[ -d $corpus ]]; then
  while IFS= read -r -d '' f; do
    captures+=("$f")
  done < <(find "$corpus" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' \) \
             -print0 | sort -z)
else
  echo "make_seeds.sh: no corpus at $corpus: seeding from samples/ only" >&2
fi

for t in fuzz_pcap fuzz_decode fuzz_segments fuzz_framed; do
  rm -rf "${out:?}/$t"
  mkdir -p "$out/$t"
done
# Every kind of tunnel, nested ones too (the crafted captures of tests/e2e/test_tunnels.py).
rm -rf "${out:?}/tunnels"
python3 "$root/tests/e2e/test_tunnels.py" --write-seeds "$out/tunnels"
for f in "$out"/tunnels/*.pcap; do
  captures+=("$f")
done

# Names are prefixed with their folder so that samples/x.pcap and linktypes/x.pcap differ.
for f in "${captures[@]}"; do
  name=$(basename "$(dirname "$f")")-$(basename "$f")
  head -c "$max_bytes" "$f" >"$out/fuzz_pcap/$name"
done
"$writer" frames "$out/fuzz_decode" "$frames_per_capture" "${captures[@]}"
"$writer" segments "$out/fuzz_segments"
"$writer" framed "$out/fuzz_framed"
echo "make_seeds.sh: ${#captures[@]} captures; seeds in $out"

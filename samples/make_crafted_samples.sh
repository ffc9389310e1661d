#!/usr/bin/env bash
# Regenerates the crafted sample captures of samples/ (vlan-qinq.pcap, ipv6-ext.pcap,
# tcp-options.pcap, malformed.pcap, linktypes/*) with samples/craft/craft_samples.cpp.
#
# Usage: samples/make_crafted_samples.sh [CRAFT_SAMPLES_BINARY [OUTPUT_DIR]]
#   Without a binary, the program is compiled with g++ and libtins (pkg-config) into a temporary
#   directory. OUTPUT_DIR defaults to the samples/ folder. The output is byte-for-byte the same on
#   every run, so `git status` shows no change after regenerating.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:-}
OUT_DIR=${2:-$HERE}

if [[ -z $BIN ]]; then
    TMP=$(mktemp -d /tmp/craft_samples.XXXXXX)
    trap 'rm -rf "$TMP"' EXIT
    BIN=$TMP/craft_samples
    echo "== building $BIN"
    # shellcheck disable=SC2046  # pkg-config output must be split into words
    "${CXX:-g++}" -std=c++20 -O1 -Wall -Wextra -Werror "$HERE/craft/craft_samples.cpp" -o "$BIN" \
        $(pkg-config --cflags --libs libtins)
fi
[[ -x $BIN ]] || { echo "error: $BIN is not an executable" >&2; exit 1; }

mkdir -p "$OUT_DIR"
echo "== writing crafted samples into $OUT_DIR"
"$BIN" "$OUT_DIR"

#!/usr/bin/env bash
# One command from a fresh Debian 12 (as root): install what is missing, build
# wirelens, and print its report on a sample capture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target wirelens >/dev/null
echo "+ build/wirelens -r samples/upload-v4.pcap --packets"
./build/wirelens -r samples/upload-v4.pcap --packets

#!/usr/bin/env bash
# One command from a fresh Debian 12 (as root): install what is missing, build
# with warnings as errors, run the whole suite through CTest; then the same
# suite (the shared corpus included) under AddressSanitizer + UBSan; then a short run
# of each libFuzzer target (WIRELENS_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
jobs=$(nproc)

echo "== release build, -Wall -Wextra -Werror"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=Release -DWIRELENS_WERROR=ON >/dev/null
cmake --build build/ci -j"$jobs"
ctest --test-dir build/ci --output-on-failure -j"$jobs"

echo "== ASan + UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWIRELENS_WERROR=ON \
  -DWIRELENS_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$jobs"
ctest --test-dir build/asan --output-on-failure -j"$jobs"

echo "== libFuzzer targets (clang, ASan + UBSan), ${WIRELENS_FUZZ_SECONDS:-60} s each"
bash scripts/fuzz.sh "${WIRELENS_FUZZ_SECONDS:-60}"

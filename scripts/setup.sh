#!/usr/bin/env bash
# Installs, from Debian's packages, whatever wirelens needs that is missing.
#   scripts/setup.sh          what building and running wirelens needs
#   scripts/setup.sh --test   that, plus what the test suite needs (peers, namespaces)
#   scripts/setup.sh --bench  that, plus the benchmark's peers (bench/)
set -euo pipefail

main_pkgs=(
  cmake g++ make pkg-config    # the build
  libpcap-dev                  # capture, BPF filters, pcap writing
  zlib1g-dev liblzma-dev       # reading gzip and xz compressed captures (-r capture.pcap.gz)
  libzstd-dev                  # reading zstd compressed captures (-r capture.pcap.zst)
  libtins-dev                  # crafting sample and test traffic; independent decoder in tests
  libcli11-dev                 # the command line
  nlohmann-json3-dev           # parsing the JSON headers of framed uploads
  libssl-dev                   # OpenSSL libcrypto: MD5 / SHA-256 of upload bodies
  libcurl4-openssl-dev         # HTTP client of the ClickHouse destination (sink/clickhouse_sink.cpp)
  ieee-data                    # the IEEE OUI registries, compiled into the vendor table
  catch2                       # unit tests (Catch2 v2); also needed to configure with tests on
)
test_pkgs=(
  python3                      # end-to-end and differential test drivers, sample upload programs
  tshark tcpdump               # differential decoding peers
  zstd                         # test_compressed.py compresses the samples with it
  iproute2 ethtool hping3      # network namespaces and veth pairs for live tests and samples
  tcpreplay                    # replaying captures over a veth (live-capture drop benchmark)
  clang libclang-rt-14-dev     # libFuzzer targets (fuzz/), run briefly in CI
  clickhouse-server clickhouse-client  # test_clickhouse.py runs its own server (never the system service)
)

bench_pkgs=(
  tcpflow tcptrace             # peers in bench/run.sh (tshark and tcpdump come with --test)
  time                         # /usr/bin/time: peak RSS of each run
)

want=("${main_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
elif [[ "${1:-}" == "--bench" ]]; then
  want+=("${test_pkgs[@]}" "${bench_pkgs[@]}")
elif [[ -n "${1:-}" ]]; then
  echo "usage: $0 [--test | --bench]" >&2
  exit 2
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#want[@]} packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Regenerates the live-traffic sample captures of samples/:
#   upload-v4.pcap        framed uploads over IPv4 (length prefix in host order, 'i')
#   upload-v6.pcap        the same over IPv6 with --network-order ('!i')
#   refused-and-udp.pcap  TCP to closed ports (SYN -> RST), UDP echo, UDP to a closed port
#
# The traffic only ever flows between two private network namespaces created here and
# joined by one veth pair; neither has a route anywhere else. Addresses come only from
# 198.18.0.0/15 (benchmarking) and fd00::/8 (unique local). Offloads are turned off on
# both veth ends, so every frame is at most MTU-sized and carries a real checksum.
#
# Usage: sudo samples/make_netns_samples.sh [OUTPUT_DIR]   (default: the samples/ folder)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "error: $0 must run as root (it creates network namespaces and runs tcpdump)" >&2
    exit 1
fi
for tool in ip ethtool tcpdump python3 timeout; do
    command -v "$tool" >/dev/null || { echo "error: '$tool' not found" >&2; exit 1; }
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(realpath "${1:-$HERE}")
UPLOAD_DIR=$HERE/upload

NS_A=wl-a-$$ # client side, where tcpdump listens
NS_B=wl-b-$$ # server side
IF_A=wla$$
IF_B=wlb$$
A4=198.18.0.1
B4=198.18.0.2
A6=fd00:5e::1
B6=fd00:5e::2
PORT=5001
WORK=$(mktemp -d /tmp/wirelens-samples.XXXXXX)
PIDS=()

cleanup() {
    local rc=$?
    set +e
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for ns in "$NS_A" "$NS_B"; do
        if ip netns list | grep -qw "$ns"; then
            for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null; done
            ip netns del "$ns"
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# Wait (at most ~5 s) until FILE contains PATTERN.
wait_for() {
    local file=$1 pattern=$2
    for _ in $(seq 50); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: timed out waiting for '$pattern' in $file" >&2
    cat "$file" >&2 || true
    return 1
}

# --- network ------------------------------------------------------------------------------
echo "== creating namespaces $NS_A <-> $NS_B"
ip netns add "$NS_A"
ip netns add "$NS_B"
# Create the veth ends directly inside the namespaces: they never exist in the host's one.
ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_B" netns "$NS_B"
for side in A B; do
    ns_var=NS_$side if_var=IF_$side
    ns=${!ns_var} ifc=${!if_var}
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off tx off rx off >/dev/null
    # No link-local address, no router solicitations: keeps the captures to our traffic.
    ip netns exec "$ns" ip link set dev "$ifc" addrgenmode none
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.router_solicitations=0"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.accept_ra=0"
done
in_a ip addr add "$A4/24" dev "$IF_A"
in_b ip addr add "$B4/24" dev "$IF_B"
in_a ip -6 addr add "$A6/64" dev "$IF_A" nodad
in_b ip -6 addr add "$B6/64" dev "$IF_B" nodad
in_a ip link set "$IF_A" up
in_b ip link set "$IF_B" up
sleep 1 # let the initial multicast-listener reports go by before capturing

# --- deterministic input files ------------------------------------------------------------
FILES=$WORK/files
mkdir -p "$FILES"
: >"$FILES/empty.bin"
python3 - "$FILES" <<'PY'
import random, sys
d = sys.argv[1]
with open(f"{d}/hello-1k.txt", "w") as f:  # 1024 bytes of readable text
    f.write("".join(f"wirelens sample line {i:03d} ".ljust(63, ".") + "\n" for i in range(16)))
rng = random.Random(20240601)              # fixed seed: same bytes on every run
with open(f"{d}/random-128k.bin", "wb") as f:
    f.write(rng.randbytes(128 * 1024))
PY
if [[ $(stat -c %s "$FILES/hello-1k.txt") -ne 1024 ]]; then
    echo "error: hello-1k.txt is not 1024 bytes" >&2
    exit 1
fi

# --- capture helpers -----------------------------------------------------------------------
CAP_PID=
start_capture() { # $1 = pcap path
    # Started without a shell function in between, so that $! is tcpdump itself
    # ("ip netns exec" execs it). Multicast-listener reports (to ff02::16) are left out.
    ip netns exec "$NS_A" tcpdump -i "$IF_A" --immediate-mode -U -n -w "$1" \
        'not ip6 dst ff02::16' 2>"$1.log" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    wait_for "$1.log" "listening on"
}
stop_capture() {
    sleep 1 # let the last FIN/ACK reach the wire
    kill -TERM "$CAP_PID" # background jobs of a script ignore SIGINT; tcpdump flushes on TERM
    wait "$CAP_PID" || true
    grep -E "packets (captured|dropped by kernel)" "$1.log" | sed 's/^/   tcpdump: /'
}

# $1 = server address, further arguments: extra options for both ends (--network-order)
run_upload() {
    local host=$1 rc=0
    local opts=("${@:2}")
    local recv=$WORK/recv-$host log=$WORK/server-$host.log
    ip netns exec "$NS_B" timeout 30 python3 "$UPLOAD_DIR/upload_server.py" \
        --host "$host" --port "$PORT" --out-dir "$recv" --connections 2 --timeout 10 \
        "${opts[@]}" >"$log" 2>&1 &
    local srv=$!
    PIDS+=("$srv")
    wait_for "$log" "listening"
    # Connection 1 carries three files back to back, connection 2 one more.
    in_a timeout 20 python3 "$UPLOAD_DIR/upload_client.py" --host "$host" --port "$PORT" \
        "${opts[@]}" \
        "$FILES/empty.bin" "$FILES/hello-1k.txt" "$FILES/random-128k.bin"
    in_a timeout 20 python3 "$UPLOAD_DIR/upload_client.py" --host "$host" --port "$PORT" \
        "${opts[@]}" \
        "$FILES/hello-1k.txt"
    wait "$srv" || rc=$?
    sed 's/^/   /' "$log"
    if [[ $rc -ne 0 ]] || grep -q MISMATCH "$log"; then
        echo "error: upload to $host failed (server exit $rc)" >&2
        return 1
    fi
    for f in empty.bin hello-1k.txt random-128k.bin; do
        cmp "$FILES/$f" "$recv/$f"
    done
    echo "   all files received and md5-verified by the server"
}

# --- (a) IPv4 upload, native ('i') byte order ----------------------------------------------
echo "== upload over IPv4"
start_capture "$WORK/upload-v4.pcap"
run_upload "$B4"
stop_capture "$WORK/upload-v4.pcap"

# --- (b) IPv6 upload, network ('!i') byte order --------------------------------------------
echo "== upload over IPv6 (--network-order)"
start_capture "$WORK/upload-v6.pcap"
run_upload "$B6" --network-order
stop_capture "$WORK/upload-v6.pcap"

# --- (c) refused TCP and (d) UDP ------------------------------------------------------------
echo "== refused TCP connections and UDP datagrams"
UDP_LOG=$WORK/udp-server.log
ip netns exec "$NS_B" timeout 15 python3 - "$B4" "$B6" >"$UDP_LOG" 2>&1 <<'PY' &
# UDP echo on port 7 of both families; exits after 4 datagrams or 10 s of silence.
import selectors, socket, sys
sel = selectors.DefaultSelector()
for fam, host in ((socket.AF_INET, sys.argv[1]), (socket.AF_INET6, sys.argv[2])):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 7))
    sel.register(s, selectors.EVENT_READ)
print("udp echo listening", flush=True)
for _ in range(4):
    events = sel.select(timeout=10)
    if not events:
        break
    for key, _ in events:
        data, peer = key.fileobj.recvfrom(2048)
        key.fileobj.sendto(data, peer)
        print(f"echoed {len(data)} bytes to {peer[0]}", flush=True)
PY
UDP_PID=$!
PIDS+=("$UDP_PID")
wait_for "$UDP_LOG" "listening"

start_capture "$WORK/refused-and-udp.pcap"
in_a timeout 10 python3 - "$B4" "$B6" <<'PY'
import socket, sys
v4, v6 = sys.argv[1], sys.argv[2]
# (c) nothing listens on TCP port 9 (discard): SYN is answered by RST/ACK.
for host in (v4, v6):
    try:
        socket.create_connection((host, 9), timeout=3).close()
        sys.exit(f"unexpected: TCP connection to [{host}]:9 succeeded")
    except ConnectionRefusedError:
        print(f"   tcp [{host}]:9 refused, as intended")
# (d) UDP: three datagrams over IPv4 and one over IPv6 to the echo server ...
for host, fam, msgs in ((v4, socket.AF_INET, [b"ping 1", b"ping 2", b"x" * 100]),
                        (v6, socket.AF_INET6, [b"ping over IPv6"])):
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for m in msgs:
            s.sendto(m, (host, 7))
            data, _ = s.recvfrom(2048)
            assert data == m, data
    print(f"   udp echo over [{host}]: {len(msgs)} datagram(s) echoed")
# ... and one to a closed UDP port, answered with ICMP port unreachable.
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(3)
    s.connect((v4, 9))
    s.send(b"nobody home")
    try:
        s.recv(2048)
        sys.exit("unexpected: reply from closed UDP port")
    except ConnectionRefusedError:
        print("   udp [%s]:9 -> ICMP port unreachable, as intended" % v4)
PY
wait "$UDP_PID" || true
sed 's/^/   /' "$UDP_LOG"
stop_capture "$WORK/refused-and-udp.pcap"

# --- results -------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
for f in upload-v4.pcap upload-v6.pcap refused-and-udp.pcap; do
    cp "$WORK/$f" "$OUT_DIR/$f"
    chmod 0644 "$OUT_DIR/$f"
    printf '== %-22s %7d bytes, %4d packets\n' "$f" "$(stat -c %s "$OUT_DIR/$f")" \
        "$(tcpdump -nn -r "$OUT_DIR/$f" 2>/dev/null | wc -l)"
done

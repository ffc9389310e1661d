#!/usr/bin/env python3
"""--verify-checksums on a capture with checksum offload: the connections stay whole.

Captures (written here with tcpcraft, nothing sent), all TCP over Ethernet/IPv4:
* offload: 10.9.0.1 (the "capturing host") sends every segment with the partial
  checksum offload leaves (the pseudo-header sum, not complemented, as Linux
  writes it before the NIC or nobody on loopback finishes it); its peer
  10.9.0.2 computes its checksums. Two connections, each handshake, data both
  ways, FIN close.
* corrupt: both hosts compute their checksums; after the handshake and a first
  data segment, one of the client's data segments has one bit flipped.

Checks:
* offload, with --verify-checksums (--json, text, --threads 2, --stream):
  two connections, not four, each SF, its history holding S h A D d F f and C
  (the client's bad checksums marked), every packet counted; exactly one
  warning line on stderr naming 10.9.0.1; the stats record's checksum_offload
  {hosts 1, kept = the client's packets}, the summary's `checksums` line;
* offload, without --verify-checksums: no warning, no C;
* corrupt, with --verify-checksums: no warning, no checksum_offload in stats;
  the corrupt segment is still dropped from the analysis as before (history
  C, the client's packet count one short, its payload not in orig_bytes).
* live, as root, on lo (skipped otherwise): one short TCP exchange over the
  loopback (whose checksums are never finished) is one SF connection with a
  C in its history, and one warning line.

Usage: test_checksum_offload.py --wirelens PATH [--samples DIR] [--corpus DIR]
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402
import tcpcraft as tc  # noqa: E402

F = pu.Failures("checksum_offload")
check = F.check

CLIENT, SERVER = "10.9.0.1", "10.9.0.2"


def partial_checksum(frame):
    """The frame (Ethernet/IPv4/TCP) with its TCP checksum replaced by the
    pseudo-header sum a sending host leaves for the NIC to finish."""
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    seg_len = struct.unpack("!H", ip[2:4])[0] - ihl
    pseudo = ip[12:20] + struct.pack("!xBH", 6, seg_len)
    s = 0
    for i in range(0, len(pseudo), 2):
        s += (pseudo[i] << 8) | pseudo[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    at = 14 + ihl + 16
    return frame[:at] + struct.pack("!H", s) + frame[at + 2:]


def flip_bit(frame):
    """One payload bit flipped: the checksum no longer matches."""
    b = bytearray(frame)
    b[-1] ^= 0x01
    return bytes(b)


def offload_capture(path):
    cap = tc.Capture()
    for i, port in enumerate((40001, 40002)):
        c = tc.Conn(cap, CLIENT, SERVER, port, 8080, isn=(1000 + i, 7000000 + i))
        c.handshake()
        c.data(0, b"GET /x HTTP/1.0\r\n\r\n")
        c.data(1, b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 300)
        c.close(first=1)
    client = tc.ip4(CLIENT)
    n_client = 0
    recs = []
    for frame, length, sec, usec in cap.records:
        if frame[26:30] == client:
            frame = partial_checksum(frame)
            n_client += 1
        recs.append((frame, length, sec, usec))
    cap.records = recs
    cap.write(path)
    return n_client, len(recs)


def corrupt_capture(path):
    cap = tc.Capture()
    c = tc.Conn(cap, CLIENT, SERVER, 40003, 8080)
    c.handshake()
    c.data(0, b"first segment, fine")
    at = len(cap.records)
    c.data(0, b"second segment, corrupt")
    c.data(1, b"reply")
    c.close(first=0)
    frame, length, sec, usec = cap.records[at]
    cap.records[at] = (flip_bit(frame), length, sec, usec)
    cap.write(path)
    client = tc.ip4(CLIENT)
    n_client = sum(1 for r in cap.records if r[0][26:30] == client)
    return n_client


def warnings(stderr):
    return [l for l in stderr.splitlines() if "checksum offload" in l]


def check_offload_json(wl, pcap, n_client, n_total, extra, label):
    r = pu.wirelens_json(wl, ["-r", pcap, "--verify-checksums"] + extra)
    check(r.rc == 0, "%s: %s" % (label, r.describe()))
    tcp = [c for c in r.conns if c["proto"] == "tcp"]
    check(len(tcp) == 2, "%s: %d TCP connections, want 2: %s" %
          (label, len(tcp), [(c["history"], c["end"]) for c in tcp]))
    for c in tcp:
        h = c["history"]
        check(c["conn_state"] == "SF", "%s: conn_state %s (%s)" % (label, c["conn_state"], h))
        check(all(x in h for x in "ShADdFfC"), "%s: history %r lacks a letter of ShADdFfC" %
              (label, h))
        check(c["end"] != "reused", "%s: ended as reused" % label)
        check(c["orig_bytes"] == 19 and c["resp_bytes"] == 319,
              "%s: bytes %s/%s" % (label, c["orig_bytes"], c["resp_bytes"]))
    pkts = sum(c["orig_pkts"] + c["resp_pkts"] for c in tcp)
    check(pkts == n_total, "%s: %d packets in the connections, want all %d" %
          (label, pkts, n_total))
    w = warnings(r.stderr)
    check(len(w) == 1 and CLIENT in w[0], "%s: warning lines %r" % (label, w))
    check(len(r.stderr_lines) == 1, "%s: stderr %r" % (label, r.stderr))
    co = (r.stats or {}).get("checksum_offload")
    check(co == {"hosts": 1, "kept": n_client, "untracked": 0},
          "%s: stats checksum_offload %r, want hosts 1 kept %d" % (label, co, n_client))


def main():
    args = pu.arguments(__doc__).parse_args()
    wl = args.wirelens
    with tempfile.TemporaryDirectory() as tmp:
        off = os.path.join(tmp, "offload.pcap")
        n_client, n_total = offload_capture(off)
        check_offload_json(wl, off, n_client, n_total, [], "offload --json")
        check_offload_json(wl, off, n_client, n_total, ["--threads", "2"],
                           "offload --json --threads 2")
        check_offload_json(wl, off, n_client, n_total, ["--stream"], "offload --json --stream")

        rc, out, err = pu.run([wl, "-r", off, "--verify-checksums"])
        text = out.decode()
        check(rc == 0 and len(warnings(err)) == 1, "offload text: rc %d, stderr %r" % (rc, err))
        check(text.count(" SF\n") == 2, "offload text: two SF rows wanted:\n" + text)
        check("checksums %d bad TCP/UDP checksums analysed as offload, from 1 offload host(s)"
              % n_client in text, "offload text: no checksums line:\n" + text)

        r = pu.wirelens_json(wl, ["-r", off])
        tcp = [c for c in r.conns if c["proto"] == "tcp"]
        check(not warnings(r.stderr), "offload, no --verify-checksums: warning %r" % r.stderr)
        check(len(tcp) == 2 and all("C" not in c["history"] and c["conn_state"] == "SF"
                                    for c in tcp),
              "offload, no --verify-checksums: %s" % [c["history"] for c in tcp])
        check("checksum_offload" not in (r.stats or {}), "offload, no verify: stats say offload")

        bad = os.path.join(tmp, "corrupt.pcap")
        n_client = corrupt_capture(bad)
        for extra in ([], ["--threads", "2"]):
            label = "corrupt " + " ".join(["--json"] + extra)
            r = pu.wirelens_json(wl, ["-r", bad, "--verify-checksums"] + extra)
            tcp = [c for c in r.conns if c["proto"] == "tcp"]
            check(r.rc == 0 and not warnings(r.stderr), "%s: %s" % (label, r.describe()))
            check("checksum_offload" not in (r.stats or {}),
                  "%s: stats checksum_offload %r" % (label, (r.stats or {}).get("checksum_offload")))
            if check(len(tcp) == 1, "%s: %d TCP connections" % (label, len(tcp))):
                c = tcp[0]
                check("C" in c["history"], "%s: history %r has no C" % (label, c["history"]))
                check(c["orig_pkts"] == n_client - 1,
                      "%s: orig_pkts %d, want %d (the corrupt one not analysed)" %
                      (label, c["orig_pkts"], n_client - 1))
            mal = (r.stats or {}).get("malformed_by", {}).get("tcp.bad_checksum")
            check(mal == 1, "%s: tcp.bad_checksum %r, want 1" % (label, mal))

        live_loopback(wl, tmp)
    return F.finish()


def live_loopback(wl, tmp):
    """As root only: a real loopback exchange, captured live by wirelens."""
    if os.geteuid() != 0:
        print("live part skipped: not root (capturing on lo needs it)")
        return
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    p = subprocess.Popen([wl, "-i", "lo", "--json", "--verify-checksums", "--duration", "4",
                          "--immediate-mode", "tcp port %d" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Wait for the capture to be open (it says so on stderr), bounded.
        time.sleep(1.5)

        def serve():
            s, _ = srv.accept()
            s.recv(100)
            s.sendall(b"pong" * 10)
            s.close()

        t = threading.Thread(target=serve)
        t.start()
        c = socket.create_connection(("127.0.0.1", port), timeout=3)
        c.sendall(b"ping")
        c.recv(100)
        c.close()
        t.join(5)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        srv.close()
    if p.returncode != 0 and "permission" in err.decode(errors="replace").lower():
        print("live part skipped: cannot capture on lo: %s" % err.decode(errors="replace")[:200])
        return
    r = pu.WlRun(p.returncode, out, err.decode("utf-8", "replace"))
    tcp = [c for c in r.conns if c["proto"] == "tcp"]
    check(r.rc == 0, "live lo: %s" % r.describe())
    check(len(tcp) == 1 and tcp[0]["conn_state"] == "SF" and "C" in tcp[0]["history"],
          "live lo: connections %s" % [(c["conn_state"], c["history"]) for c in tcp])
    w = warnings(r.stderr)
    check(len(w) == 1 and "127.0.0.1" in w[0], "live lo: warning lines %r" % w)


if __name__ == "__main__":
    sys.exit(main())

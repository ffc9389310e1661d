#!/usr/bin/env python3
"""--stream output never goes back in time: every line begins with the packet
clock when it was written, every record carries it as ts_logged.

A connection's record can only be written once it has ended, which is 5 s after
its close (Zeek's tcp_close_delay) or an inactivity timeout after its last
packet (300 s for TCP, 60 s for UDP); lines about later connections are
written meanwhile. So the leading time of a stream line is when it was
written, and the event's own time is beside it ("last packet ...", "since ...").

Captures: every sample (samples/*.pcap, samples/linktypes/*), up to 40 of the
shared corpus' tcpdump captures, and one written here (tcpcraft): connection A
opens and closes within the first second, B opens at 2 s and sends data for
seventy seconds, C opens at 4 s and is reset at 5 s, a UDP flow sends one datagram
at 3 s and times out, D opens at 80 s.

Checks, for --stream text and --stream --json, one thread and --threads 2:
* text: the leading clocks (HH:MM:SS.uuuuuu) of the event lines never decrease;
* JSON: every record but the stats has ts_logged, and they never decrease;
  ts_logged is never before the record's own time (ts / ts_end);
* live, as root, on lo (skipped otherwise): three connections over the
  loopback 0.3 s apart, the first closing at once, the last kept open 6 s:
  --stream text lines never go back either (live output takes the same path);
* crafted: A's conn line is written after B's established line, begins at
  least 5 s after A's close, and names A's last packet; the UDP flow's line
  ends "(timeout, last packet 00:00:03...)"; JSON: A's conn record has its start
  as ts and a ts_logged at least 5 s later.

Usage: test_stream_order.py --wirelens PATH [--samples DIR] [--corpus DIR]
"""
import json
import os
import re
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

F = pu.Failures("stream_order")
check = F.check

CLOCK = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{6}) ")


def clock_us(line):
    m = CLOCK.match(line)
    if not m:
        return None
    h, mi, s, us = (int(x) for x in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1_000_000 + us


def udp_frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     tc.ip4(src), tc.ip4(dst))
    ip = ip[:10] + struct.pack("!H", pu.checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ip + udp


def crafted(path):
    cap = tc.Capture()
    a = tc.Conn(cap, "10.1.0.1", "10.1.0.2", 41000, 80)
    a.handshake()
    a.data(0, b"a" * 100)
    a.close(first=0)
    cap.t_us = 2_000_000
    b = tc.Conn(cap, "10.1.0.1", "10.1.0.3", 41001, 80)
    b.handshake()
    c = None
    udp_done = False
    for i in range(140):
        b.data(0, b"b" * 50, gap_us=500_000)
        if cap.t_us >= 3_000_000 and not udp_done:
            cap.add(udp_frame("10.1.0.1", "10.1.0.9", 33333, 44444, b"hello"), 1000)
            udp_done = True
        if cap.t_us >= 4_000_000 and c is None:
            c = tc.Conn(cap, "10.1.0.1", "10.1.0.4", 41002, 80)
            c.handshake()
        if cap.t_us >= 5_000_000 and c is not None and c.snd[0] == 0:
            c.data(0, b"c")
            c.reset(1)
    b.close(first=1)
    cap.t_us = 80_000_000
    d = tc.Conn(cap, "10.1.0.1", "10.1.0.5", 41003, 80)
    d.handshake()
    cap.write(path)


def check_text(wl, pcap, extra, label):
    rc, out, err = pu.run([wl, "-r", pcap, "--stream"] + extra, timeout=300)
    text = out.decode("utf-8", "replace")
    check(rc in (0, 2), "%s: exit %d %s" % (label, rc, err[:200]))
    prev, prev_line = None, None
    for line in text.splitlines():
        t = clock_us(line)
        if t is None:
            continue
        if prev is not None and t < prev:
            check(False, "%s: time goes back:\n  %s\n  %s" % (label, prev_line, line))
            break
        prev, prev_line = t, line
    check(True, label)
    return text


def own_time(rec):
    for k in ("ts_end", "ts_last", "ts"):
        if k in rec:
            return rec[k]
    return None


def check_json(wl, pcap, extra, label):
    rc, out, err = pu.run([wl, "-r", pcap, "--stream", "--json"] + extra, timeout=300)
    check(rc in (0, 2), "%s: exit %d %s" % (label, rc, err[:200]))
    recs = []
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            check(False, "%s: not JSON: %r" % (label, line[:120]))
    prev = None
    for r in recs:
        if r.get("type") in ("stats", "ladder"):  # a ladder follows its conn record
            continue
        t = r.get("ts_logged")
        if not check(t is not None, "%s: %s record without ts_logged" % (label, r.get("type"))):
            break
        own = own_time(r)
        if r.get("type") != "conn" and own is not None:
            check(t + 1e-6 >= own, "%s: ts_logged %s before the record's time %s (%s)" %
                  (label, t, own, r.get("type")))
        if prev is not None and t < prev:
            check(False, "%s: ts_logged goes back %s -> %s (%s)" % (label, prev, t, r.get("type")))
            break
        prev = t
    return recs


def captures(args):
    found = pu.sample_captures(args.samples)
    corpus = args.corpus
    if corpus and os.path.isdir(corpus):
        names = sorted(n for n in os.listdir(corpus)
                       if n.endswith(".pcap") or n.endswith(".pcapng"))
        found += [os.path.join(corpus, n) for n in names[:40]]
    return found


def main():
    ap = pu.arguments(__doc__)
    args = ap.parse_args()
    wl = args.wirelens
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "order.pcap")
        crafted(pcap)
        # A small table: its sweep (a few slots per packet) reaches every
        # connection within a few dozen packets, so the UDP flow times out.
        for extra in (["--max-flows", "64"], ["--max-flows", "64", "--threads", "2"]):
            lab = "crafted " + " ".join(["--stream"] + extra)
            text = check_text(wl, pcap, extra, lab)
            lines = text.splitlines()
            a = [i for i, l in enumerate(lines) if " conn tcp 10.1.0.1:41000 " in l]
            b = [i for i, l in enumerate(lines) if " established tcp 10.1.0.1:41001 " in l]
            if check(len(a) == 1 and len(b) == 1, "%s: A's conn / B's established lines %s %s"
                     % (lab, a, b)):
                la = lines[a[0]]
                check(a[0] > b[0], "%s: A's conn line before B's established" % lab)
                check(clock_us(la) >= 5_000_000, "%s: A's line begins %s" % (lab, la[:15]))
                check(re.search(r"\(closed, last packet 00:00:00\.\d{6}\)$", la) is not None,
                      "%s: A's line: %s" % (lab, la))
            u = [l for l in lines if " conn udp 10.1.0.1:33333 " in l]
            check(len(u) == 1 and re.search(r"\(timeout, last packet 00:00:03\.\d{6}\)$", u[0])
                  is not None, "%s: UDP line %s" % (lab, u))
            recs = check_json(wl, pcap, extra, "crafted --json " + " ".join(extra))
            ca = [r for r in recs if r.get("type") == "conn" and r.get("id.orig_p") == 41000]
            if check(len(ca) == 1, "crafted json %s: A's records %d" % (extra, len(ca))):
                check(ca[0]["ts_logged"] >= ca[0]["ts"] + 5,
                      "crafted json %s: A ts %s ts_logged %s" % (extra, ca[0]["ts"],
                                                                 ca[0]["ts_logged"]))
        for path in captures(args):
            name = os.path.basename(path)
            for extra in ([], ["--threads", "2"]):
                check_text(wl, path, extra, "%s --stream %s" % (name, " ".join(extra)))
                check_json(wl, path, extra, "%s --stream --json %s" % (name, " ".join(extra)))
        live_loopback(wl)
    return F.finish()


def live_loopback(wl):
    if os.geteuid() != 0:
        print("live part skipped: not root (capturing on lo needs it)")
        return
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    p = subprocess.Popen([wl, "-i", "lo", "--stream", "--duration", "10", "--immediate-mode",
                          "tcp port %d" % port], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    held = []
    try:
        time.sleep(1.5)

        def serve():
            for _ in range(3):
                s, _ = srv.accept()
                held.append(s)

        t = threading.Thread(target=serve)
        t.start()
        clients = []
        for i in range(3):
            c = socket.create_connection(("127.0.0.1", port), timeout=3)
            c.sendall(b"x")
            clients.append(c)
            if i == 0:
                time.sleep(0.1)
                c.close()
            time.sleep(0.3)
        t.join(5)
        if held:
            held[0].close()
        time.sleep(6)
        for c in clients[1:] + held[1:]:
            c.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        srv.close()
    text = out.decode("utf-8", "replace")
    if p.returncode != 0:
        print("live part: exit %d: %s" % (p.returncode, err.decode(errors="replace")[:300]))
    check(p.returncode == 0, "live lo: exit %d" % p.returncode)
    lines = [l for l in text.splitlines() if clock_us(l) is not None]
    check(sum(" established tcp " in l for l in lines) == 3 and
          any(" conn tcp " in l for l in lines), "live lo: lines %s" % lines)
    ts = [clock_us(l) for l in lines]
    check(ts == sorted(ts), "live lo: time goes back:\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

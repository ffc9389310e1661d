#!/usr/bin/env python3
"""End-to-end test of `--streams DIR` and of loss accounting: every TCP stream
written out, each gap in the index with its offset, length and cause, and the
connection's missed_bytes (Zeek's definition), capture_loss_bytes and
retransmitted_bytes.

Crafted captures (tests/e2e/tcpcraft.py, nothing is sent), one connection each,
a client uploading a known byte string to a server that acknowledges what it
holds contiguously:
* a segment the capture missed, its ACK before the next data segment, and one
  whose ACK comes after the next segment: a hole at its offset, `not_captured`,
  missed_bytes = capture_loss_bytes = its length (once, not twice);
* the last segment missed by the capture, then the FIN, whose ACK covers it:
  `not_captured` at the end (Zeek counts it: miss-end-data);
* the last segment lost and never acknowledged, then a RST: `unacknowledged_tail`,
  nothing in missed_bytes;
* a segment lost by the network and retransmitted 200 ms later, after three
  later segments: the file is whole, the index lists `retransmitted` (in the
  file), retransmitted_bytes = its length, missed_bytes 0;
* two segments swapped 100 us apart: reordered, no gap, nothing retransmitted;
* a retransmission overlapping a segment that waited, with other bytes: the
  first copy wins, the file holds what was sent;
* a 5 MB upload with one segment missing: the file holds exactly the bytes sent
  but that segment's, which is a hole of the sparse file.
Each exported file is compared byte for byte with what was sent.

As root (skipped otherwise): a real 5 MB upload over loopback (127.0.0.1, a
Python client and server in this process) captured by tcpdump; exported whole
it equals the bytes sent; with one data segment taken out of the capture, the
file equals them but for that segment, the index lists it at its offset with
its length and cause `not_captured`, and missed_bytes equals its length.

On the samples and on a small generated workload (bench/gen_workload):
* the stream index of every exported stream names the same connection as
  tshark's tcp.stream;
* the framed upload bodies found in the exported streams, concatenated, equal
  the files --extract carves.

Usage: test_streams.py --wirelens PATH [--samples DIR] [--corpus DIR]
"""

import collections
import glob
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402
from tcpcraft import Capture, Conn, det_bytes  # noqa: E402

F = pu.Failures("streams")
check = F.check
SEG = 1448


def run_streams(wl, cap_path, outdir, *extra):
    """wirelens --json --streams outdir: (WlRun, index records)."""
    r = pu.wirelens_json(wl, ["-r", cap_path, "--streams", outdir] + list(extra))
    index = []
    path = os.path.join(outdir, "index.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                index.append(json.loads(line))
    return r, index


def read_file(outdir, rec):
    with open(os.path.join(outdir, rec["file"]), "rb") as f:
        return f.read()


def one(index, direction):
    recs = [r for r in index if r.get("dir") == direction]
    return recs[0] if len(recs) == 1 else None


def upload_capture(path, data, **stream_kw):
    cap = Capture()
    c = Conn(cap, "198.18.0.1", "198.18.0.2", 40000, 9000)
    c.handshake()
    c.stream(0, data, seg=SEG, **stream_kw)
    c.close()
    cap.write(path)


def with_hole(data, lo, hi):
    return data[:lo] + bytes(hi - lo) + data[hi:]


def check_loss(name, wl, tmp, cap_path, sent, gaps, missed, capture_loss, retransmitted,
               reordered=0, expect_file=None):
    """Runs --streams on cap_path and checks the originator's exported stream.
    retransmitted=None (real traffic): what came late is not checked, only holes."""
    outdir = os.path.join(tmp, name)
    r, index = run_streams(wl, cap_path, outdir)
    if not check(r.rc == 0 and len(r.conns) == 1, "%s: one conn record (%s)" % (name, r.describe())):
        return
    conn = r.conns[0]
    check(conn.get("missed_bytes") == missed,
          "%s: missed_bytes %r, want %d" % (name, conn.get("missed_bytes"), missed))
    check(conn.get("capture_loss_bytes") == capture_loss,
          "%s: capture_loss_bytes %r, want %d" % (name, conn.get("capture_loss_bytes"),
                                                  capture_loss))
    check(retransmitted is None or conn.get("retransmitted_bytes") == retransmitted,
          "%s: retransmitted_bytes %r, want %r" % (name, conn.get("retransmitted_bytes"),
                                                   retransmitted))
    rec = one(index, "orig")
    if not check(rec is not None, "%s: one index record for the originator (%r)" % (name, index)):
        return
    check(rec.get("uid") == conn.get("uid") and rec.get("stream") == 0,
          "%s: index names the connection (uid %r/%r, stream %r)" % (
              name, rec.get("uid"), conn.get("uid"), rec.get("stream")))
    check(rec.get("file") == "tcp0-%s-orig.bin" % conn.get("uid"),
          "%s: file name %r" % (name, rec.get("file")))
    got_gaps = [(g["offset"], g["length"], g["cause"]) for g in rec.get("gaps", [])
                if retransmitted is not None or not g.get("in_file")]
    check(got_gaps == gaps, "%s: gaps %r, want %r" % (name, got_gaps, gaps))
    for g in rec.get("gaps", []):
        check(g.get("in_file") == (g["cause"] == "retransmitted"),
              "%s: gap %r in_file" % (name, g))
    holes = sum(n for _, n, cause in gaps if cause != "retransmitted")
    check(rec.get("missing_bytes") == holes,
          "%s: missing_bytes %r, want %d" % (name, rec.get("missing_bytes"), holes))
    check(retransmitted is None or rec.get("retransmitted_bytes") == retransmitted,
          "%s: index retransmitted_bytes %r" % (name, rec.get("retransmitted_bytes")))
    check(retransmitted is None or rec.get("reordered_bytes", 0) == reordered,
          "%s: index reordered_bytes %r, want %d" % (name, rec.get("reordered_bytes"), reordered))
    check(rec.get("bytes") == len(sent) - holes,
          "%s: bytes %r, want %d" % (name, rec.get("bytes"), len(sent) - holes))
    check(rec.get("stream_bytes") == len(sent),
          "%s: stream_bytes %r, want %d" % (name, rec.get("stream_bytes"), len(sent)))
    want = expect_file if expect_file is not None else sent
    body = read_file(outdir, rec)
    check(body == want, "%s: exported file (%d bytes) equals what was sent (%d), holes zero" % (
        name, len(body), len(want)))
    # The responder sent nothing: no file for it.
    check(one(index, "resp") is None, "%s: no record for the silent responder" % name)


def crafted_cases(wl, tmp):
    data = det_bytes(7, 60 * SEG + 500)
    n = len(data)
    k = 20
    lo, hi = k * SEG, (k + 1) * SEG

    # A segment the capture missed, ACK before the next data segment.
    p = os.path.join(tmp, "ack-before.pcap")
    upload_capture(p, data, uncaptured={k})
    check_loss("ack before next", wl, tmp, p, data, [(lo, SEG, "not_captured")], SEG, SEG, 0,
               expect_file=with_hole(data, lo, hi))

    # ACK after the next segment (every second segment acknowledged; k even -> k+1 first).
    p = os.path.join(tmp, "ack-after.pcap")
    upload_capture(p, data, ack_every=2, uncaptured={k})
    check_loss("ack after next", wl, tmp, p, data, [(lo, SEG, "not_captured")], SEG, SEG, 0,
               expect_file=with_hole(data, lo, hi))

    # The tail missed by the capture, then the FIN; the FIN's ACK covers it.
    last = (n - 1) // SEG
    tlo = last * SEG
    p = os.path.join(tmp, "tail.pcap")
    upload_capture(p, data, uncaptured={last})
    check_loss("tail acked", wl, tmp, p, data, [(tlo, n - tlo, "not_captured")], n - tlo,
               n - tlo, 0, expect_file=with_hole(data, tlo, n))

    # The tail lost and never acknowledged; the client resets.
    cap = Capture()
    c = Conn(cap, "198.18.0.1", "198.18.0.2", 40001, 9000)
    c.handshake()
    c.stream(0, data, seg=SEG, lost={last})
    c.reset(0)
    p = os.path.join(tmp, "tail-unacked.pcap")
    cap.write(p)
    # The RST sits at the end of the stream: the tail before it is known missing.
    check_loss("tail unacked", wl, tmp, p, data, [(tlo, n - tlo, "unacknowledged_tail")], 0, 0,
               0, expect_file=with_hole(data, tlo, n))

    # Lost by the network, resent 200 ms later after three later segments.
    cap = Capture()
    c = Conn(cap, "198.18.0.1", "198.18.0.2", 40002, 9000)
    c.handshake()
    chunks = [data[i:i + SEG] for i in range(0, n, SEG)]
    for i, ch in enumerate(chunks):
        c.data(0, ch, received=i != k, captured=i != k)
        if i == k + 3:
            c.data(0, chunks[k], rel=lo, gap_us=200_000)
    c.close()
    p = os.path.join(tmp, "retransmitted.pcap")
    cap.write(p)
    check_loss("retransmitted", wl, tmp, p, data, [(lo, SEG, "retransmitted")], 0, 0, SEG)

    # Two segments swapped 100 us apart: reordering, not loss.
    cap = Capture()
    c = Conn(cap, "198.18.0.1", "198.18.0.2", 40003, 9000)
    c.handshake()
    for i, ch in enumerate(chunks):
        if i == k:
            continue
        c.data(0, ch, rel=i * SEG)
        if i == k + 1:
            c.data(0, chunks[k], rel=lo)
    c.close()
    p = os.path.join(tmp, "reordered.pcap")
    cap.write(p)
    check_loss("reordered", wl, tmp, p, data, [], 0, 0, 0, reordered=SEG)

    # A retransmission overlapping a waiting segment with other bytes: first copy wins.
    cap = Capture()
    c = Conn(cap, "198.18.0.1", "198.18.0.2", 40004, 9000)
    c.handshake()
    for i, ch in enumerate(chunks):
        c.data(0, ch, received=i != k, captured=i != k)
        if i == k + 1:
            forged = chunks[k] + bytes(b ^ 0xFF for b in chunks[k + 1][:700])
            c.data(0, forged, rel=lo, gap_us=200_000)
    c.close()
    p = os.path.join(tmp, "overlap.pcap")
    cap.write(p)
    check_loss("overlap other bytes", wl, tmp, p, data, [(lo, SEG, "retransmitted")], 0, 0, SEG)

    # A 5 MB upload with one segment missing from the capture.
    big = det_bytes(11, 5 * 1024 * 1024)
    k = 1811
    lo, hi = k * SEG, (k + 1) * SEG
    p = os.path.join(tmp, "upload-5m.pcap")
    upload_capture(p, big, ack_every=2, uncaptured={k})
    check_loss("5 MB upload", wl, tmp, p, big, [(lo, SEG, "not_captured")], SEG, SEG, 0,
               expect_file=with_hole(big, lo, hi))
    # The hole is a hole of the sparse file, not written zeros (where the file
    # system can tell: SEEK_HOLE finds one before the end).
    outdir = os.path.join(tmp, "5 MB upload")
    files = glob.glob(os.path.join(outdir, "tcp0-*-orig.bin"))
    if check(len(files) == 1, "5 MB upload: one orig file"):
        with open(files[0], "rb") as f:
            try:
                hole = os.lseek(f.fileno(), 0, os.SEEK_HOLE)
            except OSError:
                hole = None
        if hole is not None and hole < len(big):
            # Sparse holes come in file-system blocks: the first one starts at or
            # after the gap's first block boundary, and within it.
            check(lo <= hole + 4096 and hole < hi,
                  "5 MB upload: the sparse hole (at %d) lies in the gap [%d, %d)" % (hole, lo, hi))


# ---------------------------------------------------------------------------
# A real upload over loopback


def loopback_upload(tmp, data):
    """Captures one upload of `data` over 127.0.0.1; the pcap path, or None."""
    import signal
    import socket
    import threading
    import time

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    cap_path = os.path.join(tmp, "loopback.pcap")
    errf = open(os.path.join(tmp, "tcpdump.err"), "w+")
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-B", "131072",
                             "--immediate-mode", "-w", cap_path,
                             "tcp port %d" % port], stdout=subprocess.DEVNULL, stderr=errf)
    deadline = time.time() + 20
    while time.time() < deadline:
        errf.seek(0)
        if "listening on" in errf.read():
            break
        time.sleep(0.05)
    got = bytearray()

    def serve():
        conn, _ = srv.accept()
        with conn:
            while True:
                b = conn.recv(1 << 16)
                if not b:
                    break
                got.extend(b)

    t = threading.Thread(target=serve)
    t.start()
    cli = socket.create_connection(("127.0.0.1", port), timeout=20)
    cli.sendall(data)
    cli.shutdown(socket.SHUT_WR)
    t.join(30)
    cli.close()
    srv.close()
    time.sleep(1.5)  # the last ACKs and the FINs reach tcpdump
    dump.send_signal(signal.SIGINT)
    dump.wait(20)
    errf.close()
    if bytes(got) != data:
        F.fail("loopback: the server did not receive the upload (%d bytes)" % len(got))
        return None
    return cap_path


def client_segments(cap):
    """Indices and stream offsets of the client's data segments (Ethernet/IPv4/TCP)."""
    isn = None
    segs = []
    for i, rec in enumerate(cap.records):
        d = rec.data
        if len(d) < 54 or d[12:14] != b"\x08\x00" or d[23] != 6:
            continue
        ihl = (d[14] & 15) * 4
        tcp = d[14 + ihl:]
        total = struct.unpack("!H", d[16:18])[0]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags = tcp[13]
        doff = (tcp[12] >> 4) * 4
        plen = total - ihl - doff
        if flags & 0x02 and not flags & 0x10:
            isn = seq
            client = sport
        elif isn is not None and sport == client and plen > 0:
            segs.append((i, (seq - isn - 1) & 0xFFFFFFFF, plen))
    return segs


def live_loopback(wl, tmp):
    if os.geteuid() != 0 or not shutil.which("tcpdump"):
        print("note: not root or no tcpdump: the loopback upload is not captured")
        return
    data = det_bytes(13, 5 * 1024 * 1024)
    cap_path = loopback_upload(tmp, data)
    if cap_path is None:
        return
    cap = pu.read_pcap(cap_path)
    segs = client_segments(cap)
    covered = 0
    for _, off, n in sorted(segs, key=lambda x: x[1]):
        if off <= covered:
            covered = max(covered, off + n)
    if not check(len(segs) >= 8 and covered == len(data),
                 "loopback: %d client data segments carry the %d bytes (%d)" % (
                     len(segs), len(data), covered)):
        return
    outdir = os.path.join(tmp, "loopback-whole")
    r, index = run_streams(wl, cap_path, outdir)
    rec = one(index, "orig")
    if check(rec is not None and r.rc == 0, "loopback: exported (%s)" % r.describe()):
        check(read_file(outdir, rec) == data, "loopback: the exported stream is the upload")
        holes = [g for g in rec.get("gaps", []) if not g.get("in_file")]
        check(holes == [] and r.conns and r.conns[0].get("missed_bytes") == 0,
              "loopback: no hole, missed_bytes 0 (%r)" % rec.get("gaps"))
    # Take one data segment out of the middle: one no other segment overlaps
    # (loopback sometimes resends a window probe's bytes).
    alone = [x for x in segs
             if not any(y is not x and y[1] < x[1] + x[2] and x[1] < y[1] + y[2] for y in segs)]
    if not check(alone, "loopback: a data segment no other overlaps"):
        return
    idx, off, n = alone[len(alone) // 2]
    cut = os.path.join(tmp, "loopback-cut.pcap")
    pu.write_pcap(cut, cap.linktype, [(x.data, x.wire_len, x.ts_sec, x.ts_frac)
                                      for i, x in enumerate(cap.records) if i != idx],
                  nano=getattr(cap, "nano", False))
    check_loss("loopback cut", wl, tmp, cut, data, [(off, n, "not_captured")], n, n, None,
               expect_file=with_hole(data, off, off + n))


# ---------------------------------------------------------------------------
# Samples and a generated workload


def tshark_streams(path):
    """tcp.stream -> frozenset of its two endpoints (addr, port), from the first packet."""
    p = subprocess.run(
        ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream", "-e",
         "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e",
         "tcp.dstport", "-o", "tcp.analyze_sequence_numbers:FALSE"],
        capture_output=True, text=True, timeout=600)
    streams = {}
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[0]:
            continue
        # Tunnelled packets carry several addresses: the innermost (last) is TCP's.
        src = (f[1] or f[2]).split(",")[-1]
        dst = (f[4] or f[5]).split(",")[-1]
        s = int(f[0])
        if s not in streams:
            streams[s] = frozenset([(src, int(f[3])), (dst, int(f[6]))])
    return streams


def check_stream_indices(wl, tmp, path, label):
    outdir = os.path.join(tmp, "idx-" + os.path.basename(path))
    r, index = run_streams(wl, path, outdir)
    if not check(r.rc in (0, 2), "%s: --streams runs (%s)" % (label, r.describe())):
        return None, None
    want = tshark_streams(path)
    bad = 0
    for rec in index:
        got = frozenset([(rec["orig_h"], rec["orig_p"]), (rec["resp_h"], rec["resp_p"])])
        if want.get(rec["stream"]) != got:
            bad += 1
            if bad <= 3:
                F.fail("%s: stream %d is %s here, %s in tshark" % (
                    label, rec["stream"], sorted(got), sorted(want.get(rec["stream"], []))))
    check(bad == 0, "%s: %d of %d exported streams name tshark's tcp.stream" % (
        label, len(index) - bad, len(index)))
    return r, index


def framed_bodies(stream, order):
    """Bodies of the framed upload in an exported stream (4-byte prefix, JSON header
    with file_size, body); stops at anything else."""
    bodies = []
    at = 0
    while at + 4 <= len(stream):
        (hlen,) = struct.unpack(order + "i", stream[at:at + 4])
        if hlen <= 0 or at + 4 + hlen > len(stream):
            break
        try:
            header = json.loads(stream[at + 4:at + 4 + hlen])
        except ValueError:
            break
        size = header.get("file_size", 0) if isinstance(header, dict) else 0
        body = stream[at + 4 + hlen:at + 4 + hlen + size]
        bodies.append(body)
        at += 4 + hlen + size
    return bodies


def check_framed(wl, tmp, path):
    """The framed bodies in the exported streams equal the files --extract carves."""
    name = os.path.basename(path)
    outdir = os.path.join(tmp, "framed-" + name)
    carve = os.path.join(tmp, "carve-" + name)
    os.makedirs(carve)
    r, index = run_streams(wl, path, outdir, "--extract", carve)
    if not check(r.rc == 0, "%s: --streams --extract runs (%s)" % (name, r.describe())):
        return
    uploads = [json.loads(line) for line in r.stdout.decode().splitlines()
               if '"type":"upload"' in line]
    carved = collections.defaultdict(list)
    for u in sorted(uploads, key=lambda u: (u["uid"], u.get("index", 0))):
        if u.get("dir", "orig") == "orig" and u.get("extracted"):
            with open(os.path.join(carve, u["extracted"]), "rb") as f:
                carved[u["uid"]].append(f.read())
    check(sum(len(v) for v in carved.values()) >= 3, "%s: files carved (%d)" % (
        name, sum(len(v) for v in carved.values())))
    for uid, files in carved.items():
        rec = [x for x in index if x["uid"] == uid and x["dir"] == "orig"]
        if not check(len(rec) == 1, "%s: %s exported" % (name, uid)):
            continue
        stream = read_file(outdir, rec[0])
        bodies = max((framed_bodies(stream, o) for o in "<>"), key=len)
        check(b"".join(bodies) == b"".join(files),
              "%s %s: %d bodies in the exported stream (%d bytes) equal the %d carved files "
              "(%d bytes)" % (name, uid, len(bodies), sum(map(len, bodies)), len(files),
                              sum(map(len, files))))


def main():
    ap = pu.arguments()
    a = ap.parse_args()
    wl = a.wirelens
    tmp = tempfile.mkdtemp(prefix="wl-streams-")
    try:
        crafted_cases(wl, tmp)
        live_loopback(wl, tmp)
        if a.samples:
            for name in ("upload-v4.pcap", "upload-v6.pcap"):
                path = os.path.join(a.samples, name)
                if os.path.exists(path):
                    check_framed(wl, tmp, path)
        if shutil.which("tshark"):
            paths = sorted(glob.glob(os.path.join(a.samples, "*.pcap"))) if a.samples else []
            gen = os.path.join(os.path.dirname(os.path.abspath(wl)), "bench", "gen_workload")
            if os.access(gen, os.X_OK):
                w = os.path.join(tmp, "mixed.pcap")
                subprocess.run([gen, "mixed", w, "--seed", "5", "--connections", "300",
                                "--concurrency", "16", "--flood", "2000"], check=True,
                               capture_output=True, timeout=300)
                paths.append(w)
                check_framed(wl, tmp, w)
            for path in paths:
                check_stream_indices(wl, tmp, path, os.path.basename(path))
        else:
            print("note: no tshark, stream indices not compared")
        # Refusals: --streams with --no-reassembly or --threads 2, a DIR that is a file.
        cap = os.path.join(tmp, "ack-before.pcap")
        for args in (["--no-reassembly"], ["--threads", "2"]):
            rc, out, err = pu.run([wl, "-r", cap, "--json", "--streams",
                                   os.path.join(tmp, "refused")] + args)
            check(rc == pu.EXIT_ERROR and len(err.strip().splitlines()) == 1,
                  "--streams %s: one-line error, exit 1 (rc %d, %r)" % (" ".join(args), rc, err))
        rc, out, err = pu.run([wl, "-r", cap, "--json", "--streams", cap])
        check(rc == pu.EXIT_ERROR and len(err.strip().splitlines()) == 1,
              "--streams FILE: one-line error, exit 1 (rc %d, %r)" % (rc, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return F.finish()


if __name__ == "__main__":
    sys.exit(main())

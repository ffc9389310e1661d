#!/usr/bin/env python3
"""Fragment flood and teardrop: wirelens' peak RSS and time stay bounded.

Writes a capture (python3 stdlib, nothing is sent) of N IPv4 first fragments
that never complete (random sources and ids, 1,480 bytes each: what a fragment
flood leaves in a reassembler), interleaved with teardrop pairs (a second
fragment inside the first with other bytes, never completed either) and a
"ping of death" fragment past 65,535 bytes every 1,000 packets; then runs
wirelens --json on it with the default fragment limits, with larger ones, and
with --no-defrag, and reports each run's peak RSS, time and fragment counters.

The reassembler's memory is fixed when it starts (--frag-datagrams slots and a
--frag-memory arena): the peak RSS with reassembly may exceed --no-defrag's by
at most that bound, whatever N is.

Usage: bench/fragment_flood.py --wirelens build/wirelens [--count 200000] [--keep DIR]
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def v4(src, dst, ident, frag, payload, proto=17):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", checksum(h)) + h[12:] + payload


def write_capture(path, count, seed=1):
    rng = random.Random(seed)
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    dst = bytes([198, 19, 0, 1])
    body = bytes(range(256)) * 6
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t = 1700000000.0
        for i in range(count):
            t += 0.00001
            src = struct.pack("!I", rng.getrandbits(32))
            ident = rng.getrandbits(16)
            kind = i % 1000
            if kind == 0:  # past 65535: offset 65528 with 1480 bytes
                pkt = v4(src, dst, ident, 0x2000 | (65528 // 8), body[:1480])
            elif kind % 10 == 1:  # teardrop: 0..64, then 8..16 with other bytes
                pkt = v4(src, dst, ident, 0x2000, body[:64])
                fr = eth + pkt
                f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(fr), len(fr)) + fr)
                pkt = v4(src, dst, ident, 0x2000 | 1, bytes(8))
            else:  # a first fragment whose rest never comes
                pkt = v4(src, dst, ident, 0x2000, body[:1480])
            fr = eth + pkt
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(fr), len(fr)) + fr)


def run(wirelens, path, extra, tmp):
    """Exit code, peak RSS (KiB, GNU time's), seconds, the stats record. The
    output goes to a file: a child forked from a large parent would report the
    parent's RSS as its peak."""
    out_path = os.path.join(tmp, "out.jsonl")
    cmd = [wirelens, "--json", "--no-progress", "-r", path] + extra
    timer = shutil.which("time") or "/usr/bin/time"
    start = time.monotonic()
    with open(out_path, "wb") as out:
        p = subprocess.run([timer, "-f", "%M"] + cmd, stdout=out, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - start
    rss = int(p.stderr.decode().strip().splitlines()[-1])
    stats = {}
    with open(out_path, "rb") as f:
        for line in f:
            if line.startswith(b'{"type":"stats"'):
                stats = json.loads(line)
    os.remove(out_path)
    return p.returncode, rss, elapsed, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wirelens", required=True)
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--keep", help="write the capture into this folder and keep it")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="wl-fragflood-")
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "fragment_flood.pcap")
    try:
        write_capture(path, args.count)
        print("capture: %s, %d packets, %.1f MiB" %
              (path, args.count, os.path.getsize(path) / 2**20))
        runs = [("--no-defrag", ["--no-defrag"]), ("default limits", []),
                ("--frag-datagrams 65536 --frag-memory 64M",
                 ["--frag-datagrams", "65536", "--frag-memory", str(64 << 20)])]
        rss0 = None
        for label, extra in runs:
            rc, rss, secs, stats = run(args.wirelens, path, extra, tmp)
            fr = stats.get("fragments", {})
            bound = stats.get("memory", {}).get("fragments", 0)
            if rss0 is None:
                rss0 = rss
            print("%-44s exit %d, peak RSS %7.1f MiB (%+.1f over --no-defrag; fragment bound "
                  "%.1f MiB), %.2f s" % (label, rc, rss / 1024, (rss - rss0) / 1024,
                                         bound / 2**20, secs))
            if fr:
                print("    " + ", ".join("%s %d" % kv for kv in fr.items()))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

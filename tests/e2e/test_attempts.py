#!/usr/bin/env python3
"""Unanswered attempts evicted from a full table are folded into `attempts`
records, one per responder and second; every other connection keeps its own
conn record, and --all-attempts gives every attempt its record.

The capture (written here, nothing is sent): 3 answered connections to
198.19.0.13:5001, then 3,000 spoofed SYNs to 198.19.0.80:80 and 500 to
198.19.0.81:443 over three seconds, interleaved, then the 3 connections close;
ten seconds later, one more handshake.
With --max-flows 64 (attempts: half) the SYNs push each other out.

Checks, for --json, --json --stream, text and --stream text:
* every attempt is accounted for: S0 conn records + the `attempts` counts per
  responder = the SYNs sent to it;
* `attempts` records: one per responder and second of the attempts' start,
  ts and ts_last within that second, orig_pkts = attempts, 40 bytes each;
* the three answered connections keep their records (SF), none folded;
* --stream: the attempts records come before the handshake ten seconds on
  (they are written once no attempt of their second can still be evicted);
* --all-attempts: no `attempts` record, one conn record per SYN;
* text: the folded section lists both responders with their counts.

Usage: test_attempts.py --wirelens PATH [--samples DIR] [--corpus DIR]
"""
import collections
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

F = pu.Failures("attempts")
check = F.check


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp) + len(payload))
    c = pu.checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", pu.checksum(ip)) + ip[12:]
    return eth + ip + tcp + payload


def write_capture(path):
    rnd = random.Random(11)
    T0 = 1800000000
    pkts = []  # (time, frame)
    client, server = bytes([198, 18, 0, 1]), bytes([198, 19, 0, 13])
    S, A, SA, FA = 0x02, 0x10, 0x12, 0x11
    for i in range(3):
        t = T0 + 0.001 * i
        sp = 40000 + i
        pkts.append((t, frame(client, server, sp, 5001, 1000, 0, S)))
        pkts.append((t + 0.0001, frame(server, client, 5001, sp, 5000, 1001, SA)))
        pkts.append((t + 0.0002, frame(client, server, sp, 5001, 1001, 5001, A)))
        pkts.append((t + 0.0003, frame(client, server, sp, 5001, 1001, 5001, A | 0x08, b"hello")))
    victims = {(bytes([198, 19, 0, 80]), 80): 3000, (bytes([198, 19, 0, 81]), 443): 500}
    syns = [v for v, n in victims.items() for _ in range(n)]
    rnd.shuffle(syns)
    for i, (dst, dport) in enumerate(syns):
        src = bytes([198, 18, 1 + rnd.getrandbits(7), rnd.getrandbits(8)])
        t = T0 + 0.01 + 2.9 * i / len(syns)
        pkts.append((t, frame(src, dst, 1024 + rnd.getrandbits(15), dport, rnd.getrandbits(32),
                              0, S)))
    t = T0 + 2.95
    for i in range(3):
        sp = 40000 + i
        pkts.append((t, frame(client, server, sp, 5001, 1006, 5001, FA)))
        pkts.append((t + 0.0001, frame(server, client, 5001, sp, 5001, 1007, FA)))
        pkts.append((t + 0.0002, frame(client, server, sp, 5001, 1007, 5002, A)))
        t += 0.001
    # Ten seconds on, one more handshake (to port 5002): in stream mode the
    # attempts of the flood's seconds are written before it.
    t = T0 + 10
    pkts.append((t, frame(client, server, 40100, 5002, 1000, 0, S)))
    pkts.append((t + 0.0001, frame(server, client, 5002, 40100, 5000, 1001, SA)))
    pkts.append((t + 0.0002, frame(client, server, 40100, 5002, 1001, 5001, A)))
    pkts.sort(key=lambda p: p[0])
    records = []
    for t, fr in pkts:
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        records.append((fr, len(fr), sec, usec))
    pu.write_pcap(path, 1, records, snaplen=65535)
    return {("198.19.0.80", 80): 3000, ("198.19.0.81", 443): 500}


def run(wl, pcap, *args):
    out = subprocess.run([wl, "-r", pcap, "--no-progress", "--max-flows", "64", *args],
                         capture_output=True, timeout=120)
    check(out.returncode == 0, "%s: exit %d: %s" % (" ".join(args), out.returncode,
                                                   out.stderr.decode(errors="replace")))
    return out.stdout.decode()


def check_json(wl, pcap, want, extra):
    label = " ".join(("--json",) + extra)
    recs = [json.loads(l) for l in run(wl, pcap, "--json", *extra).splitlines() if l]
    got = collections.Counter()
    seconds = collections.defaultdict(list)
    for r in recs:
        key = (r.get("id.resp_h"), r.get("id.resp_p"))
        if r["type"] == "attempts":
            got[key] += r["attempts"]
            sec = int(r["ts"])
            seconds[key].append(sec)
            check(int(r["ts_last"]) == sec and r["ts_last"] >= r["ts"],
                  "%s: attempts record spans seconds: %s" % (label, r))
            check(r["orig_pkts"] == r["attempts"] and r["orig_ip_bytes"] == 40 * r["attempts"],
                  "%s: attempts counts: %s" % (label, r))
            check(r["conn_state"] == "S0" and r["end"] == "evicted", "%s: %s" % (label, r))
        elif r["type"] == "conn" and r["conn_state"] == "S0":
            got[key] += 1
    check(dict(got) == want, "%s: attempts accounted %s, want %s" % (label, dict(got), want))
    for key, secs in seconds.items():
        check(len(secs) == len(set(secs)), "%s: %s: two records for one second" % (label, key))
    check(len(seconds[("198.19.0.80", 80)]) == 3,
          "%s: %d attempts records for 198.19.0.80:80 over 3 s" % (label, len(seconds[("198.19.0.80", 80)])))
    if "--stream" in extra:
        late = [i for i, r in enumerate(recs)
                if r["type"] == "conn_established" and r["id.resp_p"] == 5002]
        last = max(i for i, r in enumerate(recs) if r["type"] == "attempts")
        check(len(late) == 1 and last < late[0],
              "%s: the flood's attempts records are not written before a later event" % label)
    sf = [r for r in recs if r["type"] == "conn" and r.get("id.resp_p") == 5001]
    check(len(sf) == 3 and all(r["conn_state"] == "SF" for r in sf),
          "%s: the answered connections: %s" % (label, [r.get("conn_state") for r in sf]))
    stats = recs[-1]
    check(stats["type"] == "stats" and stats["flows"]["connections"] == 4 + sum(want.values()),
          "%s: stats connections" % label)


def main():
    ap = pu.arguments()
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "attempts.pcap")
        want = write_capture(pcap)
        check_json(args.wirelens, pcap, want, ())
        check_json(args.wirelens, pcap, want, ("--stream",))
        recs = [json.loads(l) for l in run(args.wirelens, pcap, "--json", "--all-attempts")
                .splitlines() if l]
        check(not any(r["type"] == "attempts" for r in recs), "--all-attempts: folded anyway")
        s0 = sum(1 for r in recs if r["type"] == "conn" and r["conn_state"] == "S0")
        check(s0 == sum(want.values()), "--all-attempts: %d S0 conn records, want %d" %
              (s0, sum(want.values())))
        text = run(args.wirelens, pcap)
        check("unanswered attempts evicted from a full table" in text, "text: no folded section")
        lines = [l for l in text.splitlines() if "unanswered attempts S0" in l]
        check(len(lines) == 2 and any("198.19.0.80:80" in l for l in lines) and
              any("198.19.0.81:443" in l for l in lines), "text: folded lines %s" % lines)
        stream = run(args.wirelens, pcap, "--stream")
        n = sum(1 for l in stream.splitlines() if " attempts tcp > 198.19.0.80:80 " in l)
        check(n == 3, "--stream text: %d attempts lines for 198.19.0.80:80, want 3" % n)
    return F.finish()


if __name__ == "__main__":
    sys.exit(main())

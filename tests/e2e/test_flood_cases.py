#!/usr/bin/env python3
"""SYN floods a rate threshold misses, scans that are not floods, and the floods judged
right before, on crafted captures (bench/gen_flood_cases.py writes the bytes), IPv4 and
IPv6: each `wirelens -r CASE.pcap --json` must give exactly the alert records expected
(kind, victim or scanner, start second, counts), and text mode must print the scan
alerts as it prints the floods'.

Usage: test_flood_cases.py --wirelens PATH [--samples DIR] [--corpus DIR] [--case NAME]
Exit 0 pass, 1 fail.
"""

import ipaddress
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import gen_flood_cases as gen  # noqa: E402
import pcaputil  # noqa: E402

T0 = gen.T0
BACKLOG = 511  # --flood-backlog's default


def addr(ipv6, last, net=0):
    if ipv6:
        return str(ipaddress.IPv6Address(gen.v6(net, last)))
    return "198.19.%d.%d" % (net, last)


def alerts(wl, pcap, extra=()):
    run = pcaputil.wirelens_json(wl, ["-r", pcap] + list(extra))
    recs = []
    for line in run.stdout.decode().splitlines():
        r = json.loads(line)
        if r.get("type") == "alert":
            recs.append(r)
    return run, recs


def kinds(recs):
    return [(r["kind"], r["state"]) for r in recs]


def check_case(f, wl, name, pcap):
    v6 = name.endswith("6")
    base = name[:-1] if v6 else name
    run, recs = alerts(wl, pcap)
    tag = "%s: " % name
    if not f.check(run.rc == 0, tag + run.describe()):
        return
    got = "%s" % [(r["kind"], r["state"], r.get("victim", r.get("scanner"))) for r in recs]
    start = recs[0] if recs else {}
    end = recs[-1] if recs else {}

    def one(kind):
        return f.check(kinds(recs) == [(kind, "start"), (kind, "end")], tag + "one %s alert, got %s" % (kind, got))

    if base == "lowrate":
        if one("syn_flood"):
            f.check(start["victim"] == addr(v6, 10) and start["port"] == 80, tag + "victim %s" % start)
            f.check(start["trigger"] == "queue", tag + "trigger %s" % start["trigger"])
            f.check(int(start["ts_start"]) == T0, tag + "ts_start %s" % start["ts_start"])
            # The queue passes the backlog with SYN number BACKLOG + 1, at 300/s.
            passed = BACKLOG / 300
            alerted = start["ts_start"] - T0 + start["detected_after"]
            f.check(passed <= alerted + 0.001 <= passed + 5, tag + "alerted %.3f s in, queue passed at %.3f" % (alerted, passed))
            f.check(start["syns"] == BACKLOG + 1 and start["peak_queue"] == BACKLOG + 1, tag + "start %s" % start)
            f.check(end["syns"] == 12000 and end["completed"] == 0 and end["peak_queue"] == 12000, tag + "end %s" % end)
            f.check(end["spoofed"] is True, tag + "spoofed")
    elif base == "carpet":
        if one("syn_flood"):
            prefix = "fd00:0:0:7::/64" if v6 else "198.19.7.0/24"
            net = ipaddress.ip_network(prefix)
            f.check(start["victim"] == prefix and start["port"] == 0, tag + "victim %s" % start["victim"])
            f.check(int(start["ts_start"]) == T0, tag + "ts_start %s" % start["ts_start"])
            f.check(end["syns"] == 256 * 150 * 4, tag + "syns %d" % end["syns"])
            f.check(end["addresses_hit"] == 256, tag + "addresses_hit %d" % end["addresses_hit"])
            tops = [ipaddress.ip_address(t["addr"]) for t in end["top_victims"]]
            f.check(len(tops) == 10 and all(t in net for t in tops), tag + "top_victims %s" % tops)
            f.check(start["detected_after"] < 1.0, tag + "detected_after %s" % start["detected_after"])
    elif base == "portscan":
        if one("port_scan"):
            f.check(end["scanner"] == (str(ipaddress.IPv6Address(gen.v6(5, 5))) if v6 else "198.18.5.5"), tag + "scanner %s" % end["scanner"])
            f.check(end["target"] == addr(v6, 20), tag + "target %s" % end["target"])
            f.check(int(start["ts_start"]) == T0 and int(end["ts_end"]) == T0 + 1, tag + "times %s %s" % (start["ts_start"], end["ts_end"]))
            f.check(end["syns"] == 20000 and end["ports_tried"] == 20000, tag + "tried %s" % end)
            f.check(end["open"] == 3 and end["open_ports"] == [22, 80, 443], tag + "open %s" % end["open_ports"])
    elif base == "addrscan":
        if one("address_scan"):
            f.check(end["port"] == 22, tag + "port %s" % end["port"])
            f.check(end["syns"] == 1024 and end["hosts_tried"] == 1024, tag + "tried %s" % end)
            if v6:
                want = [str(ipaddress.IPv6Address(gen.v6(9, i + 1))) for i in (100, 500, 900)]
            else:
                want = ["198.19.%d.%d" % (8 + (i >> 8), i & 255) for i in (100, 500, 900)]
            f.check(end["open"] == 3 and end["open_hosts"] == want, tag + "open %s" % end["open_hosts"])
            f.check(int(start["ts_start"]) == T0, tag + "ts_start %s" % start["ts_start"])
    elif base == "slowscan":
        if one("port_scan"):
            f.check(end["target"] == addr(v6, 25), tag + "target %s" % end["target"])
            f.check(int(start["ts_start"]) == T0 and int(end["ts_end"]) == T0 + 390, tag + "times")
            # Zeek's threshold: the alert starts with the 15th port, at 140 s.
            f.check(start["ports_tried"] == 15 and int(start["ts_end"]) == T0 + 140, tag + "start %s" % start)
            f.check(end["ports_tried"] == 40 and end["open"] == 0, tag + "end %s" % end)
    elif base == "answered":
        if one("syn_flood"):
            f.check(start["victim"] == addr(v6, 30) and start["port"] == 80, tag + "victim")
            f.check(end["syns"] == 15000 and end["synacks"] == 15000 and end["completed"] == 0, tag + "end %s" % end)
    elif base == "pulsing":
        f.check(kinds(recs) == [("syn_flood", "start"), ("syn_flood", "end")] * 3, tag + "three alerts, got %s" % got)
        ends = [r for r in recs if r["state"] == "end"]
        f.check([int(r["ts_start"]) for r in ends] == [T0, T0 + 20, T0 + 40], tag + "starts")
        f.check([r["syns"] for r in ends] == [5000] * 3, tag + "syns %s" % [r["syns"] for r in ends])
    elif base == "single":
        if one("syn_flood"):
            src = str(ipaddress.IPv6Address(gen.v6(9, 9))) if v6 else "198.18.9.9"
            f.check(start["port"] == 443 and end["syns"] == 9000, tag + "end %s" % end)
            f.check(end["spoofed"] is False and end["distinct_sources"] == 1, tag + "sources")
            f.check(end["top_sources"][0] == {"addr": src, "syns_at_most": 9000}, tag + "top %s" % end["top_sources"][:1])
    elif base == "flashcrowd":
        f.check(recs == [], tag + "no alert, got %s" % got)
        conns = sum(1 for line in run.stdout.decode().splitlines() if '"type":"conn"' in line)
        f.check(conns == 15000, tag + "%d conn records" % conns)
    elif base == "crowdflood":
        if one("syn_flood"):
            f.check(start["victim"] == addr(v6, 60) and start["port"] == 80, tag + "victim %s:%s" % (start["victim"], start["port"]))
            f.check(start["trigger"] == "queue" and abs(start["ts_start"] - (T0 + 0.5)) < 1e-6, tag + "start %s" % start)
            f.check(end["syns"] == 1600 and end["hop_mismatch"] == 0, tag + "end %s" % end)
    elif base == "hopflood":
        if one("syn_flood"):
            f.check(start["victim"] == addr(v6, 70) and end["syns"] == 10000, tag + "end %s" % end)
            # Every SYN counted after the alert started claims a source that
            # completed a handshake from 7 hops away with a TTL 18 hops away.
            f.check(end["hop_checked"] >= 9000 and end["hop_mismatch"] == end["hop_checked"], tag + "hops %s/%s" % (end["hop_mismatch"], end["hop_checked"]))


def main():
    ap = pcaputil.arguments(__doc__)
    ap.add_argument("--case", action="append")
    args = ap.parse_args()
    f = pcaputil.Failures("flood_cases")
    names = args.case or [n for base in gen.NAMES for n in (base, base + "6")]
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            pcap = os.path.join(tmp, name + ".pcap")
            gen.case(name).write(pcap)
            check_case(f, args.wirelens, name, pcap)
        # Through the threads' merging side too (its packets carry the TTL).
        pcap = os.path.join(tmp, "hopflood.pcap")
        if os.path.exists(pcap):
            _, one_thread = alerts(args.wirelens, pcap)
            _, two = alerts(args.wirelens, pcap, ["--threads", "2"])
            f.check(two == one_thread, "hopflood: --threads 2 gives other alerts")
        # Text mode prints a scan as it prints a flood.
        pcap = os.path.join(tmp, "portscan.pcap")
        if os.path.exists(pcap):
            rc, out, err = pcaputil.run([args.wirelens, "-r", pcap])
            text = out.decode()
            f.check(rc == 0 and "ALERT port_scan start 198.18.5.5 -> 198.19.0.20: " in text
                    and "ALERT port_scan end   198.18.5.5 -> 198.19.0.20: 20000 ports tried, 3 open" in text
                    and "syn_flood" not in text, "portscan text: %r" % [l for l in text.splitlines() if "ALERT" in l])
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

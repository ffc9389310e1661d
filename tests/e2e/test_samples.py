#!/usr/bin/env python3
"""The samples, asserted packet by packet.

* malformed.pcap: each frame is flagged with exactly the defect it was built
  with (samples/README.md lists them), the two checksum defects only with
  --verify-checksums; the valid frames around them are not flagged.
* linktypes/: every supported link type decodes to the same IPv4 TCP SYN
  (the IPv6 file to its IPv6 SYN, the 802.11 ones - bare, radiotap, Prism, AVS - with the
  addresses tshark shows); the USER0 file is counted as unsupported.
* The live and crafted captures hold no malformed frame, and their protocol
  counts are what the capture scripts sent.
* Connections of the live captures: each upload connection is SF with the
  history of a clean handshake, transfer and four-way close; its byte counts
  equal the TCP payload its packets carried (summed here from the packet
  records), its packet counts the packets seen per direction; the refused
  attempts are REJ, the UDP echo flows SF, the unanswered datagram S0.

Usage: test_samples.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import json
import os
import subprocess
import sys

import pcaputil

# Frame number (1-based) -> the reason wirelens must give; None: not malformed.
MALFORMED = {
    1: "eth.truncated",
    2: "ipv4.bad_header_length",
    3: "ipv4.bad_version",
    4: "ipv4.bad_total_length",
    5: "ipv4.bad_total_length",
    6: "tcp.bad_header_length",
    7: "tcp.bad_header_length",
    8: "tcp.bad_option_length",
    9: "tcp.bad_option_length",
    10: "tcp.bad_option_length",
    11: "udp.bad_length",
    12: "udp.bad_length",
    13: "ipv6.bad_total_length",
    14: "ipv6_ext.bad_header_length",  # longer than the payload length says: a lie, not a cut
    15: "tcp.truncated",
    16: None,
    17: None,
}
WITH_CHECKSUMS = {16: "ipv4.bad_checksum", 17: "tcp.bad_checksum"}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def records(wirelens, path, *args):
    out = subprocess.run([wirelens, "-r", path, "--json", *args], capture_output=True,
                         text=True, timeout=120)
    check(out.returncode == 0, "%s: exit %d: %s" % (path, out.returncode, out.stderr.strip()))
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    return [r for r in recs if r["type"] == "packet"], recs[-1]


def test_malformed(wl, samples):
    path = os.path.join(samples, "malformed.pcap")
    for verify, expect in ((False, MALFORMED), (True, {**MALFORMED, **WITH_CHECKSUMS})):
        args = ["--packets"] + (["--verify-checksums"] if verify else [])
        pkts, stats = records(wl, path, *args)
        check(len(pkts) == len(expect), "malformed.pcap: %d packets" % len(pkts))
        for n, pkt in enumerate(pkts, 1):
            got = pkt.get("malformed")
            check(got == expect[n], "malformed.pcap frame %d (verify=%s): want %s, got %s"
                  % (n, verify, expect[n], got))
        want_total = sum(1 for v in expect.values() if v)
        check(stats["malformed"] == want_total,
              "malformed.pcap stats: %d malformed, want %d" % (stats["malformed"], want_total))
    # Fields above the broken layer are still reported: the bad-option SYNs keep their ports.
    pkts, _ = records(wl, path, "--packets")
    for n in (8, 9, 10):
        check(pkts[n - 1].get("src_port") == 40000 + n and pkts[n - 1].get("tcp.flags") == 2,
              "malformed.pcap frame %d: TCP header fields not kept" % n)
    check(pkts[14]["caplen"] == 44 and pkts[14]["len"] == 74, "frame 15 is the snap-length cut")


def test_linktypes(wl, samples):
    folder = os.path.join(samples, "linktypes")
    seen = 0
    for name in sorted(os.listdir(folder)):
        pkts, stats = records(wl, os.path.join(folder, name), "--packets")
        if "unsupported" in name:
            check(stats["unsupported_link"] == {"147": 1}, "%s: %r" % (name, stats))
            check(pkts[0].get("unsupported_link") is True, "%s: not marked unsupported" % name)
            continue
        seen += 1
        if name.startswith(("ieee802-11", "radiotap", "prism", "avs")):
            # tshark -e wlan.bssid -e wlan.sa -e wlan.da -e radiotap.channel.freq
            p = pkts[0]
            check((p.get("wlan.bssid"), p.get("wlan.sa"), p.get("wlan.da"))
                  == ("00:00:0c:9f:f0:01", "00:1b:21:3a:4f:01", "02:00:5e:c6:12:02"),
                  "%s: 802.11 addresses %r" % (name, p))
            check(p.get("radiotap.freq") == (2412 if name.startswith("radiotap") else None),
                  "%s: radiotap channel %r" % (name, p.get("radiotap.freq")))
        for p in pkts[:1]:  # the pcapng file adds the SYN-ACK
            check("malformed" not in p, "%s: %s" % (name, p.get("malformed")))
            check(p.get("tcp.flags") == 2 and p.get("dst_port") == 80 and p.get("src_port") == 40000,
                  "%s: not the TCP SYN 40000 -> 80: %r" % (name, p))
            if "ipv6" in name:
                check(p.get("ip.version") == 6, "%s: not IPv6" % name)
            else:
                check(p.get("ip.src") == "198.18.0.1" and p.get("ip.dst") == "198.18.0.2",
                      "%s: addresses %r" % (name, p))
                check(p.get("tcp.options", {}).get("mss") == 1460, "%s: MSS" % name)
    check(seen >= 10, "only %d link-type files" % seen)


def test_clean_captures(wl, samples):
    expect = {
        # file: protocol counts that must hold exactly
        "vlan-qinq.pcap": {"eth": 8, "vlan": 8, "arp": 2, "ipv4": 6, "tcp": 4, "udp": 2},
        "ipv6-ext.pcap": {"ipv6": 8, "ipv4": 2, "tcp": 3, "udp": 2, "icmp": 2, "icmpv6": 2,
                          "fragments": 2},
        "tcp-options.pcap": {"ipv4": 23, "tcp": 23},
        "refused-and-udp.pcap": {"tcp": 4, "icmp": 1},
    }
    for name, counts in expect.items():
        pkts, stats = records(wl, os.path.join(samples, name), "--packets")
        check(stats["malformed"] == 0, "%s: %d malformed" % (name, stats["malformed"]))
        for proto, n in counts.items():
            check(stats["protocols"].get(proto) == n,
                  "%s: %s %r, want %d" % (name, proto, stats["protocols"].get(proto), n))
    for name in ("upload-v4.pcap", "upload-v6.pcap"):
        pkts, stats = records(wl, os.path.join(samples, name), "--packets", "--verify-checksums")
        check(stats["malformed"] == 0, "%s: %d malformed with checksums verified"
              % (name, stats["malformed"]))
        tcp = [p for p in pkts if "tcp.flags" in p]
        syns = [p for p in tcp if p["tcp.flags"] & 0x12 == 0x02]
        fins = [p for p in tcp if p["tcp.flags"] & 0x01]
        check(len(syns) == 2, "%s: %d SYNs, want the 2 upload connections" % (name, len(syns)))
        check(len(fins) >= 4, "%s: %d FINs, want both sides of 2 connections" % (name, len(fins)))
        check(all(p["dst_port"] == 5001 or p["src_port"] == 5001 for p in tcp),
              "%s: TCP outside port 5001" % name)


def conns_of(wl, path):
    out = subprocess.run([wl, "-r", path, "--json", "--packets"], capture_output=True, text=True,
                         timeout=120)
    check(out.returncode == 0, "%s: exit %d" % (path, out.returncode))
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    return [r for r in recs if r["type"] == "packet"], [r for r in recs if r["type"] == "conn"]


def test_connections(wl, samples):
    for name in ("upload-v4.pcap", "upload-v6.pcap"):
        pkts, conns = conns_of(wl, os.path.join(samples, name))
        conns = [c for c in conns if c["proto"] == "tcp"]  # upload-v6 also holds the ND exchange
        check(len(conns) == 2, "%s: %d connections, want 2" % (name, len(conns)))
        for c in conns:
            label = "%s %s" % (name, c["uid"])
            check(c["conn_state"] == "SF", "%s: state %s" % (label, c["conn_state"]))
            check(c["history"] == "ShADadFf", "%s: history %s" % (label, c["history"]))
            check(c["teardown"] == "fin" and c["retransmits"] == 0 and c["missed_bytes"] == 0,
                  "%s: %r" % (label, c))
            check(c["id.resp_p"] == 5001, "%s: responder port %d" % (label, c["id.resp_p"]))
            mine = [p for p in pkts if "tcp.flags" in p and
                    {p["src_port"], p["dst_port"]} == {c["id.orig_p"], c["id.resp_p"]}]
            fwd = [p for p in mine if p["src_port"] == c["id.orig_p"]]
            rev = [p for p in mine if p["src_port"] == c["id.resp_p"]]
            check(c["orig_pkts"] == len(fwd) and c["resp_pkts"] == len(rev),
                  "%s: pkts %d/%d, packet records %d/%d" % (label, c["orig_pkts"], c["resp_pkts"],
                                                            len(fwd), len(rev)))
            check(c["orig_bytes"] == sum(p["payload_len"] for p in fwd),
                  "%s: orig_bytes %d" % (label, c["orig_bytes"]))
            check(c["resp_bytes"] == sum(p["payload_len"] for p in rev),
                  "%s: resp_bytes %d" % (label, c["resp_bytes"]))
            check(c["orig_ip_bytes"] == sum(p["ip.len"] for p in fwd),
                  "%s: orig_ip_bytes %d" % (label, c["orig_ip_bytes"]))
            rtt = c.get("handshake_rtt", {})
            check("syn_synack" in rtt and "synack_ack" in rtt, "%s: handshake_rtt %r" % (label, rtt))
        # Three uploads and replies in the first connection, one in the second.
        replies = sorted(c["resp_bytes"] for c in conns)
        check(replies == [63, 189], "%s: reply bytes %r, want one and three 63-byte replies"
              % (name, replies))
    _, conns = conns_of(wl, os.path.join(samples, "refused-and-udp.pcap"))
    got = sorted((c["proto"], c["id.resp_p"], c["conn_state"], c.get("history", "-"),
                  c["orig_pkts"], c["resp_pkts"]) for c in conns)
    want = sorted([("tcp", 9, "REJ", "Sr", 1, 1), ("tcp", 9, "REJ", "Sr", 1, 1),
                   ("udp", 7, "SF", "Dd", 3, 3), ("udp", 7, "SF", "Dd", 1, 1),
                   ("udp", 9, "S0", "D", 1, 0), ("icmp", 3, "OTH", "-", 1, 0)])
    check(got == want, "refused-and-udp.pcap connections:\n  got  %r\n  want %r" % (got, want))


def main():
    ap = pcaputil.arguments(samples_required=True)
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.samples, "malformed.pcap")):
        print("SKIP: no samples in %s" % a.samples)
        return 77
    test_malformed(a.wirelens, a.samples)
    test_linktypes(a.wirelens, a.samples)
    test_clean_captures(a.wirelens, a.samples)
    test_connections(a.wirelens, a.samples)
    for f in failures:
        print("FAIL:", f)
    print("test_samples: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

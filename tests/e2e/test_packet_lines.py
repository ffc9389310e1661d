#!/usr/bin/env python3
"""Packet lines (--packets) for ICMP echo, IPv6 extension headers and TCP headers
of a bad length, against exact expected lines and against tcpdump -nn.

The capture (written here, nothing sent), Ethernet:
 1. ICMPv6 echo request, id 1234, seq 1, 56 data bytes (length 64);
 2. ICMPv6 echo reply to it;
 3. ICMPv4 echo request, id 119, seq 7, 37 data bytes;
 4. IPv6 Hop-by-Hop -> UDP 50000 > 7777, 19 bytes;
 5. IPv6 Destination Options -> TCP SYN 40001 > 80;
 6. IPv6 Hop-by-Hop -> Routing (type 4, segments left 0) -> ICMPv6 echo request;
 7-8. one IPv6 TCP segment in two fragments: offset 0 (TCP header + 44 bytes),
      then offset 64 (56 bytes);
 9. IPv6 HBH -> DSTOPT -> Fragment (atomic) -> DSTOPT -> UDP;
10. IPv4 TCP 40006 > 80 whose data offset says 12 bytes (too short);
11. IPv4 TCP SYN 40007 > 80 whose data offset says 60 bytes in a 20-byte segment;
12. IPv6 TCP 40008 > 443 whose data offset says 8 bytes.

Checks: each packet's line after "length N: " is exactly the expected one; and,
when tcpdump is installed, the same words as tcpdump -nn for the same packet:
the ICMP echo part (`ICMP6, echo request, id 1234, seq 1, length 64`), the
extension headers in order (HBH, DSTOPT, RT6, frag (OFFSET|LENGTH)), and the
bad header length part (`tcp 8 [bad hdr length 12 - too short, < 20]`).

Usage: test_packet_lines.py --wirelens PATH [--samples DIR] [--corpus DIR]
"""
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402
import tcpcraft as tc  # noqa: E402

F = pu.Failures("packet_lines")
check = F.check

A6, B6 = tc.ip6("fd00:5e::1"), tc.ip6("fd00:5e::2")
A4, B4 = tc.ip4("198.18.0.1"), tc.ip4("198.18.0.2")
ETH = bytes.fromhex("020000000002" "020000000001")


def eth(ethertype, payload):
    return ETH + struct.pack("!H", ethertype) + payload


def ip4(proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 7, 0, 64, proto, 0, A4, B4)
    h = h[:10] + struct.pack("!H", pu.checksum(h)) + h[12:]
    return eth(0x0800, h + payload)


def ip6(nh, payload, src=A6, dst=B6):
    return eth(0x86DD, struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + src + dst +
               payload)


def l4_sum6(proto, seg, at, src=A6, dst=B6):
    pseudo = src + dst + struct.pack("!IxxxB", len(seg), proto)
    c = pu.checksum(pseudo + seg)
    return seg[:at] + struct.pack("!H", c) + seg[at + 2:]


def icmp6_echo(typ, ident, seq, data, src=A6, dst=B6):
    m = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return l4_sum6(58, m, 2, src, dst)


def udp6(sport, dport, data):
    return l4_sum6(17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data, 6)


def tcp(sport, dport, seq, ack, flags, data=b"", offset_words=5, opts=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset_words << 4, flags, 64800,
                       0, 0) + opts + data


def padn(nh):
    """HBH/DSTOPT with a single PadN option (8 bytes)."""
    return struct.pack("!BBBB", nh, 0, 1, 4) + bytes(4)


def rt4(nh, seg):
    """Routing header type 4 (segment routing), one segment, segments left 0."""
    return struct.pack("!BBBBBBH", nh, 2, 4, 0, 0, 0, 0) + seg


def frag(nh, offset, more, ident=0x5E0F0001):
    return struct.pack("!BBHI", nh, 0, (offset // 8) << 3 | (1 if more else 0), ident)


def build():
    """[(frame, expected text after 'length N: ', tcpdump parts to compare)]."""
    out = []
    req = icmp6_echo(128, 1234, 1, bytes(range(56)))
    out.append((ip6(58, req), "IPv6 fd00:5e::1 > fd00:5e::2: ICMP6, echo request, id 1234, seq 1, "
                "length 64", ["ICMP6, echo request, id 1234, seq 1, length 64"]))
    rep = icmp6_echo(129, 1234, 1, bytes(range(56)), B6, A6)
    out.append((ip6(58, rep, B6, A6), "IPv6 fd00:5e::2 > fd00:5e::1: ICMP6, echo reply, id 1234, "
                "seq 1, length 64", ["ICMP6, echo reply, id 1234, seq 1, length 64"]))
    e = struct.pack("!BBHHH", 8, 0, 0, 119, 7) + b"x" * 37
    e = e[:2] + struct.pack("!H", pu.checksum(e)) + e[4:]
    out.append((ip4(1, e), "IPv4 198.18.0.1 > 198.18.0.2: ICMP echo request, id 119, seq 7, "
                "length 45", ["ICMP echo request, id 119, seq 7, length 45"]))
    u = udp6(50000, 7777, b"y" * 19)
    out.append((ip6(0, padn(17) + u), "IPv6 fd00:5e::1.50000 > fd00:5e::2.7777: HBH UDP, length 19",
                ["HBH"]))
    t = l4_sum6(6, tcp(40001, 80, 2000, 0, 0x02, opts=b"\x02\x04\x05\xa0", offset_words=6), 16)
    out.append((ip6(60, padn(6) + t), "IPv6 fd00:5e::1.40001 > fd00:5e::2.80: DSTOPT Flags [S], "
                "seq 2000, win 64800, options [mss 1440], length 0", ["DSTOPT"]))
    req2 = icmp6_echo(128, 24065, 1, b"z" * 19)
    out.append((ip6(0, padn(43) + rt4(58, B6) + req2),
                "IPv6 fd00:5e::1 > fd00:5e::2: HBH RT6 (type=4, segleft=0) ICMP6, echo request, "
                "id 24065, seq 1, length 27",
                ["HBH", "RT6", "ICMP6, echo request, id 24065, seq 1, length 27"]))
    whole = l4_sum6(6, tcp(40001, 80, 2001, 7001, 0x18, b"q" * 100), 16)
    out.append((ip6(44, frag(6, 0, True) + whole[:64]),
                "IPv6 fd00:5e::1.40001 > fd00:5e::2.80: frag (0|64) Flags [P.], seq 2001:2045, "
                "ack 7001, win 64800, length 44", ["frag (0|64)"]))
    out.append((ip6(44, frag(6, 64, False) + whole[64:]),
                "IPv6 fd00:5e::1 > fd00:5e::2: frag (64|56) proto 6", ["frag (64|56)"]))
    u2 = udp6(50002, 7777, b"w" * 22)
    out.append((ip6(0, padn(60) + padn(44) + frag(60, 0, False) + padn(17) + u2),
                "IPv6 fd00:5e::1.50002 > fd00:5e::2.7777: HBH DSTOPT frag (0|38) DSTOPT UDP, "
                "length 22", ["HBH", "DSTOPT", "frag (0|38)", "DSTOPT"]))
    out.append((ip4(6, tcp(40006, 80, 1000, 0, 0x02, offset_words=3)),
                "IPv4 198.18.0.1.40006 > 198.18.0.2.80: tcp 8 [bad hdr length 12 - too short, < 20] "
                "[malformed: tcp.bad_header_length]", ["tcp 8 [bad hdr length 12 - too short, < 20]"]))
    out.append((ip4(6, tcp(40007, 80, 1000, 0, 0x02, offset_words=15)),
                "IPv4 198.18.0.1.40007 > 198.18.0.2.80: Flags [S] [bad hdr length 60 - too long, "
                "> 20] [malformed: tcp.bad_header_length]",
                ["Flags [S] [bad hdr length 60 - too long, > 20]"]))
    out.append((ip6(6, tcp(40008, 443, 1000, 0, 0x10, offset_words=2)),
                "IPv6 fd00:5e::1.40008 > fd00:5e::2.443: tcp 12 [bad hdr length 8 - too short, < 20] "
                "[malformed: tcp.bad_header_length]", ["tcp 12 [bad hdr length 8 - too short, < 20]"]))
    return out


LINE = re.compile(r"length \d+: (.*)$")


def main():
    args = pu.arguments(__doc__).parse_args()
    cases = build()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lines.pcap")
        recs = [(f, len(f), tc.T0, i * 1000) for i, (f, _, _) in enumerate(cases)]
        pu.write_pcap(path, tc.LINKTYPE_ETHERNET, recs)
        rc, out, err = pu.run([args.wirelens, "-r", path, "--packets", "--no-flows"])
        check(rc == 0, "exit %d: %s" % (rc, err[:300]))
        lines = [l for l in out.decode().splitlines() if LINE.search(l)]
        check(len(lines) == len(cases), "%d packet lines, want %d" % (len(lines), len(cases)))
        for i, ((_, want, _), line) in enumerate(zip(cases, lines)):
            got = LINE.search(line).group(1)
            check(got == want, "packet %d:\n  got  %s\n  want %s" % (i + 1, got, want))
        # The same packets through the flow stage print the same lines.
        rc, out2, _ = pu.run([args.wirelens, "-r", path, "--packets"])
        lines2 = [l for l in out2.decode().splitlines() if LINE.search(l)][:len(cases)]
        check(lines2 == lines, "with flows: lines differ")

        if shutil.which("tcpdump") is None:
            print("tcpdump comparison skipped: tcpdump not installed")
            return F.finish()
        rc, tout, terr = pu.run(["tcpdump", "-nn", "-r", path])
        tlines = tout.decode().splitlines()
        if not check(len(tlines) == len(cases), "tcpdump: %d lines: %s" % (len(tlines), terr)):
            return F.finish()
        for i, ((_, _, parts), ours, theirs) in enumerate(zip(cases, lines, tlines)):
            # tcpdump puts two spaces before "tcp N [bad hdr length" (and `IP6 a > b: HBH p > q:`
            # where we write `IPv6 a.p > b.q: HBH`): words compared in order, spaces collapsed.
            t = " ".join(theirs.split())
            o = " ".join(ours.split())
            pos_t = pos_o = 0
            for part in parts:
                at_t, at_o = t.find(part, pos_t), o.find(part, pos_o)
                check(at_t >= 0, "packet %d: tcpdump lacks %r: %s" % (i + 1, part, theirs))
                check(at_o >= 0, "packet %d: we lack %r: %s" % (i + 1, part, ours))
                pos_t, pos_o = max(pos_t, at_t + 1), max(pos_o, at_o + 1)
    return F.finish()


if __name__ == "__main__":
    sys.exit(main())

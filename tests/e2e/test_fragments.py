#!/usr/bin/env python3
"""IP fragments are reassembled before the flow stage: a TCP connection, UDP
exchanges over IPv4 and IPv6, and a UDP flow inside IP-in-IP, carried in
fragments, give the same conn records as the same traffic unfragmented.

The captures (written here with struct, nothing is sent): one with every IP
datagram whole (some larger than any MTU), the same traffic with every large
datagram cut into fragments (IPv4: 1480-byte pieces; IPv6: a fragment header
after a hop-by-hop header, 1232-byte pieces), and the fragmented one with each
datagram's fragments in reverse order, one duplicated.

Checks:
* the conn records of the fragmented captures equal the whole capture's, field
  for field (uids aside), also with --threads 2;
* the stats record counts the fragments and the reassembled datagrams, and these
  agree with tshark (which reassembles IPv4 and IPv6 by default): the datagrams
  tshark reassembles, and the TCP and UDP payload bytes and packets it sees per
  direction after reassembly equal the conn records' bytes and packets;
* the UDP flow inside IP-in-IP is found only once its fragments are reassembled;
* a UDP datagram fragmented inside IP-in-IP is reassembled too (--threads: it is
  not, its first fragment counts, as documented);
* tcpdump's afs.pcap (corpus): as many datagrams reassembled as tshark, and the
  same UDP datagrams per direction;
* --no-defrag: no reassembly (no fragments section in the stats), and the
  connection then sees only the first fragment's bytes, as before.

Usage: test_fragments.py --wirelens PATH [--samples DIR] [--corpus DIR]
"""
import collections
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

F = pu.Failures("fragments")
check = F.check

MAC_C = bytes.fromhex("020000000001")
MAC_S = bytes.fromhex("020000000002")


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress

    return ipaddress.IPv6Address(a).packed


def eth(src, dst, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def l4_checksum(pseudo, seg, at):
    c = pu.checksum(pseudo + seg)
    return seg[:at] + struct.pack("!H", c) + seg[at + 2:]


def v4_header(src, dst, proto, length, ident, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, ident, frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", pu.checksum(h)) + h[12:]


def v4_datagram(src, dst, proto, seg, ident):
    if proto in (6, 17):
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
        seg = l4_checksum(pseudo, seg, 16 if proto == 6 else 6)
    return v4_header(src, dst, proto, 20 + len(seg), ident) + seg


def v6_datagram(src, dst, seg):
    pseudo = src + dst + struct.pack("!I3xB", len(seg), 17)
    seg = l4_checksum(pseudo, seg, 6)
    hbh = bytes([17, 0, 1, 4, 0, 0, 0, 0])  # hop-by-hop, PadN, then UDP
    return struct.pack("!IHBB16s16s", 0x60000000, len(hbh) + len(seg), 0, 64, src, dst) + hbh + seg


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def v4_fragments(d, step=1480):
    """IPv4 datagram d cut in pieces of `step` payload bytes."""
    hdr, body = d[:20], d[20:]
    (ident,) = struct.unpack("!H", hdr[4:6])
    src, dst, proto = hdr[12:16], hdr[16:20], hdr[9]
    out = []
    for at in range(0, len(body), step):
        piece = body[at:at + step]
        more = at + step < len(body)
        frag = (0x2000 if more else 0) | (at // 8)
        out.append(v4_header(src, dst, proto, 20 + len(piece), ident, frag) + piece)
    return out


def v6_fragments(d, ident, step=1232):
    """IPv6 datagram d (fixed header + 8-byte hop-by-hop + the rest) with a
    fragment header after hop-by-hop, the rest cut in pieces of `step` bytes."""
    fixed, hbh, body = d[:40], d[40:48], d[48:]
    out = []
    for at in range(0, len(body), step):
        piece = body[at:at + step]
        more = at + step < len(body)
        fh = struct.pack("!BBHI", hbh[0], 0, (at // 8) << 3 | (1 if more else 0), ident)
        h = bytearray(fixed)
        h[4:6] = struct.pack("!H", 8 + 8 + len(piece))
        out.append(bytes(h) + bytes([44]) + hbh[1:] + fh + piece)
    return out


def traffic():
    """[(ts, c2s, ethertype, datagram)]: whole datagrams, some too big for one frame."""
    C, S, U, T = ip4("10.1.0.1"), ip4("10.1.0.2"), ip4("10.1.0.3"), ip4("192.0.2.9")
    C6, S6 = ip6("fd00:1::1"), ip6("fd00:1::2")
    up = bytes((i * 7 + 3) & 0xFF for i in range(5000))
    down = bytes((i * 11 + 5) & 0xFF for i in range(3500))
    i, s = 1000, 9000
    t = 1700000000.0
    pk = []

    def add(dt, c2s, d, etype=0x0800):
        nonlocal t
        t += dt
        pk.append((t, c2s, etype, d))

    # TCP: handshake, 5000 bytes up in one segment, 3500 down, FINs.
    add(0, True, v4_datagram(C, S, 6, tcp(40000, 80, i, 0, 0x02), 1))
    add(0.001, False, v4_datagram(S, C, 6, tcp(80, 40000, s, i + 1, 0x12), 2))
    add(0.001, True, v4_datagram(C, S, 6, tcp(40000, 80, i + 1, s + 1, 0x10), 3))
    add(0.001, True, v4_datagram(C, S, 6, tcp(40000, 80, i + 1, s + 1, 0x18, up), 4))
    add(0.001, False, v4_datagram(S, C, 6, tcp(80, 40000, s + 1, i + 5001, 0x18, down), 5))
    add(0.001, True, v4_datagram(C, S, 6, tcp(40000, 80, i + 5001, s + 3501, 0x11), 6))
    add(0.001, False, v4_datagram(S, C, 6, tcp(80, 40000, s + 3501, i + 5002, 0x11), 7))
    add(0.001, True, v4_datagram(C, S, 6, tcp(40000, 80, i + 5002, s + 3502, 0x10), 8))
    # UDP over IPv4: a large query, a small and a large answer.
    add(0.01, True, v4_datagram(C, U, 17, udp(5353, 9999, up[:2500]), 9))
    add(0.001, False, v4_datagram(U, C, 17, udp(9999, 5353, down[:100]), 10))
    add(0.001, False, v4_datagram(U, C, 17, udp(9999, 5353, down[:3000]), 11))
    # UDP over IPv6, with a hop-by-hop header before the fragment header.
    add(0.01, True, v6_datagram(C6, S6, udp(7000, 7001, up[:4000])), 0x86DD)
    add(0.001, False, v6_datagram(S6, C6, udp(7001, 7000, down[:1300])), 0x86DD)
    # UDP inside IP-in-IP, the outer datagram too big for one frame.
    inner = v4_datagram(ip4("10.9.0.1"), ip4("10.9.0.2"), 17, udp(1111, 2222, up[:3000]), 12)
    add(0.01, True, v4_datagram(T, ip4("192.0.2.10"), 4, inner, 13))
    # UDP fragmented inside IP-in-IP: each inner fragment in an outer datagram of its own.
    inner = v4_datagram(ip4("10.8.0.1"), ip4("10.8.0.2"), 17, udp(3333, 4444, down[:3000]), 14)
    add(0.01, True, inner, INNER_FRAGMENTS)
    return pk


INNER_FRAGMENTS = -1  # an "ethertype": IPv4 datagram to fragment inside IP-in-IP


def outer(d, n):
    return v4_datagram(ip4("192.0.2.20"), ip4("192.0.2.21"), 4, d, 0x200 + n)


def frames(pk, fragment, reverse=False):
    recs = []
    for n, (t, c2s, etype, d) in enumerate(pk):
        src, dst = (MAC_C, MAC_S) if c2s else (MAC_S, MAC_C)
        if etype == INNER_FRAGMENTS:
            etype = 0x0800
            parts = [outer(p, i) for i, p in enumerate(v4_fragments(d) if fragment else [d])]
        elif not fragment or len(d) <= 1500:
            parts = [d]
        elif etype == 0x0800:
            parts = v4_fragments(d)
        else:
            parts = v6_fragments(d, 0x100 + n)
        if reverse and len(parts) > 1:
            parts = list(reversed(parts))
            parts.insert(1, parts[0])  # a duplicate
        for p in parts:
            f = eth(src, dst, etype, p)
            recs.append((f, len(f), int(t), int(round((t - int(t)) * 1e6))))
    return recs


def conn_key(c):
    return (c["proto"], c["id.orig_h"], c["id.orig_p"], c["id.resp_h"], c["id.resp_p"])


def comparable(conns):
    out = {}
    for c in conns:
        c = dict(c)
        c.pop("uid", None)
        out[conn_key(c)] = c
    return out


def tshark_view(path):
    """What tshark sees after its own reassembly: datagrams reassembled, and per
    (proto, src, sport, dst, dport): packets and payload bytes."""
    fields = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
              "tcp.len", "udp.srcport", "udp.dstport", "udp.length", "ip.reassembled_in",
              "ipv6.reassembled.in", "icmp.type", "icmpv6.type"]
    cmd = ["tshark", "-2", "-n", "-r", path, "-T", "fields", "-E", "occurrence=l"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    flows = collections.defaultdict(lambda: [0, 0])
    reassembled = set()
    for line in out.splitlines():
        v = dict(zip(fields, line.split("\t")))
        for k in ("ip.reassembled_in", "ipv6.reassembled.in"):
            if v.get(k):
                reassembled.add(v[k])
        if v.get("icmp.type") or v.get("icmpv6.type"):
            continue  # the UDP or TCP header an ICMP error quotes
        src = v["ip.src"] or v["ipv6.src"]
        dst = v["ip.dst"] or v["ipv6.dst"]
        if v["tcp.srcport"] and v["tcp.len"]:
            k = ("tcp", src, int(v["tcp.srcport"]), dst, int(v["tcp.dstport"]))
            flows[k][0] += 1
            flows[k][1] += int(v["tcp.len"])
        elif v["udp.srcport"] and v["udp.length"]:
            k = ("udp", src, int(v["udp.srcport"]), dst, int(v["udp.dstport"]))
            flows[k][0] += 1
            flows[k][1] += int(v["udp.length"]) - 8
    return reassembled, flows


def main():
    ap = pu.arguments(__doc__)
    args = ap.parse_args()
    wl = args.wirelens
    pk = traffic()
    tmp = tempfile.mkdtemp(prefix="wl-frag-")
    try:
        paths = {}
        for name, frag, rev in (("whole", False, False), ("frag", True, False),
                                ("reversed", True, True)):
            paths[name] = os.path.join(tmp, name + ".pcap")
            pu.write_pcap(paths[name], 1, frames(pk, frag, rev))
        nfrags = sum(len(v4_fragments(d)) if e != 0x86DD else len(v6_fragments(d, 1))
                     for _, _, e, d in pk if len(d) > 1500)
        nbig = sum(1 for _, _, _, d in pk if len(d) > 1500)
        in_tunnel = ("udp", "10.8.0.1", 3333, "10.8.0.2", 4444)

        base = pu.wirelens_json(wl, ["-r", paths["whole"], "--no-progress"])
        check(base.rc == 0, "whole: " + base.describe())
        want = comparable(base.conns)
            # TCP, UDP over IPv4 and IPv6, the UDP flows in IP-in-IP (the outer IP-in-IP is not a conn).
        check(len(want) == 5, "whole: %d conn records, want 5: %s" % (len(want), sorted(want)))
        check(("udp", "10.9.0.1", 1111, "10.9.0.2", 2222) in want,
              "whole: the UDP flow inside IP-in-IP is missing")
        check("fragments" not in base.stats, "whole: a fragments section without fragments")

        for name, extra in (("frag", []), ("reversed", []), ("frag", ["--threads", "2"]),
                            ("reversed", ["--threads", "2"])):
            label = " ".join([name] + extra)
            r = pu.wirelens_json(wl, ["-r", paths[name], "--no-progress"] + extra)
            check(r.rc == 0, label + ": " + r.describe())
            got = comparable(r.conns)
            if extra:
                # --threads: fragments inside tunnels are not reassembled (the first counts).
                check(in_tunnel in got and got[in_tunnel]["orig_pkts"] == 1 and
                      got[in_tunnel]["orig_ip_bytes"] == 1500,
                      "%s: the first fragment inside the tunnel: %s" % (label, got.get(in_tunnel)))
                got.pop(in_tunnel, None)
                want_here = dict(want)
                want_here.pop(in_tunnel, None)
            else:
                want_here = want
            check(sorted(got) == sorted(want_here),
                  "%s: connections %s, want %s" % (label, sorted(got), sorted(want)))
            for k in want_here:
                if k in got and got[k] != want[k]:
                    diff = {f: (got[k].get(f), want[k].get(f))
                            for f in set(got[k]) | set(want[k]) if got[k].get(f) != want[k].get(f)}
                    check(False, "%s: %s differs (got, want): %s" % (label, k, diff))
            fs = (r.stats or {}).get("fragments", {})
            dups = nbig if name == "reversed" else 0
            # --threads: the tunnelled datagram's 3 fragments (and its duplicate) not seen.
            unseen = (3 + (1 if dups else 0)) if extra else 0
            check(fs.get("received") == nfrags + dups - unseen,
                  "%s: %s fragments received, want %d" %
                  (label, fs.get("received"), nfrags + dups - unseen))
            check(fs.get("reassembled") == nbig - (1 if extra else 0),
                  "%s: %s reassembled, want %d" % (label, fs.get("reassembled"), nbig))
            want_dups = dups - (1 if dups and extra else 0)
            check(fs.get("duplicates") == want_dups,
                  "%s: %s duplicates, want %d" % (label, fs.get("duplicates"), want_dups))
            for c in ("timed_out", "evicted", "conflicting", "too_big", "malformed"):
                check(fs.get(c) == 0, "%s: %s %s, want 0" % (label, c, fs.get(c)))
            check(fs.get("tunneled") == 1, "%s: %s tunneled, want 1" % (label, fs.get("tunneled")))
            if not extra:
                check(r.stats["memory"]["fragments"] > 4 << 20,
                      "%s: memory plan without the fragment arena" % label)

        # tshark's own reassembly as the reference for the datagrams and the bytes.
        if shutil.which("tshark"):
            for name in ("frag", "reversed"):
                reassembled, flows = tshark_view(paths[name])
                check(len(reassembled) == nbig,  # the tunnelled one's id too
                      "%s: tshark reassembles %d datagrams, want %d" % (name, len(reassembled), nbig))
                r = pu.wirelens_json(wl, ["-r", paths[name], "--no-progress"])
                for c in r.conns:
                    if c["id.orig_h"] == "192.0.2.9":
                        continue  # the IP-in-IP outer flow: proto 4, not TCP/UDP
                    o = (c["proto"], c["id.orig_h"], c["id.orig_p"], c["id.resp_h"], c["id.resp_p"])
                    rr = (c["proto"], c["id.resp_h"], c["id.resp_p"], c["id.orig_h"], c["id.orig_p"])
                    # UDP: datagrams and payload bytes; TCP: payload bytes (tshark's
                    # count here is of segments carrying data, wirelens' of all).
                    for side, k in (("orig", o), ("resp", rr)):
                        theirs = flows.get(k, [0, 0])
                        pkts = c.get(side + "_pkts", 0)
                        nbytes = c.get(side + "_bytes")
                        if nbytes is None:  # not logged (S0): the IP bytes less the headers
                            hdrs = 28 if ":" not in c["id.orig_h"] else 56
                            nbytes = c.get(side + "_ip_bytes", 0) - pkts * hdrs
                        mine = [pkts, nbytes]
                        if c["proto"] == "tcp":
                            theirs, mine = theirs[1], mine[1]
                        check(theirs == mine, "%s: %s %s: tshark %s, wirelens %s" %
                              (name, o, side, theirs, mine))
        else:
            print("tshark not found: the comparison with tshark is skipped")

        # A capture from elsewhere: tcpdump's afs.pcap, AFS over UDP in 200 fragments.
        afs = os.path.join(args.corpus or "", "afs.pcap")
        if args.corpus and os.path.isfile(afs) and shutil.which("tshark"):
            reassembled, flows = tshark_view(afs)
            r = pu.wirelens_json(wl, ["-r", afs, "--no-progress"])
            fs = (r.stats or {}).get("fragments", {})
            check(r.rc == 0 and fs.get("reassembled") == len(reassembled) > 0,
                  "afs.pcap: %s datagrams reassembled, tshark %d" %
                  (fs.get("reassembled"), len(reassembled)))
            # Datagrams per direction, summed over the records of a port pair (idle
            # gaps past --udp-timeout split one).
            mine = collections.Counter()
            for c in r.conns:
                if c["proto"] == "udp":
                    o = (c["id.orig_h"], c["id.orig_p"], c["id.resp_h"], c["id.resp_p"])
                    mine[("udp",) + o] += c["orig_pkts"]
                    mine[("udp", o[2], o[3], o[0], o[1])] += c.get("resp_pkts", 0)
            udp = {k: v[0] for k, v in flows.items() if k[0] == "udp"}
            check(dict(mine) == udp or {k: v for k, v in mine.items() if v} == udp,
                  "afs.pcap: UDP datagrams per direction differ from tshark's: %s" %
                  sorted(set(mine.items()) ^ set(udp.items())))

        # --no-defrag: today's behaviour, the first fragment counted as its connection's.
        r = pu.wirelens_json(wl, ["-r", paths["frag"], "--no-progress", "--no-defrag"])
        check(r.rc == 0, "--no-defrag: " + r.describe())
        check("fragments" not in r.stats, "--no-defrag: a fragments section")
        got = comparable(r.conns)
        check(("udp", "10.9.0.1", 1111, "10.9.0.2", 2222) not in got,
              "--no-defrag: the tunnel inside fragments was decoded")
        k = ("udp", "10.1.0.3", 9999, "10.1.0.1", 5353)  # 5353 is a server port: flipped
        check(k in got and got[k].get("resp_bytes") == 2500 and got[k]["resp_pkts"] == 1,
              "--no-defrag: the UDP query's first fragment: %s" % got.get(k))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return F.finish()


if __name__ == "__main__":
    sys.exit(main())

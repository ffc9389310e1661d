#!/usr/bin/env python3
"""ICMP errors and IPv4 options: --packets lines and JSON against tcpdump and tshark, icmp_errors.

A crafted capture holds ICMP and ICMPv6 errors of every type and code
tcpdump names, each quoting a datagram (TCP, UDP, GRE, an IPv6 destination
options header before UDP), a fragmentation-needed and a packet-too-big with
their MTU, redirects with their gateway, and a quote cut inside its IP
header. References:
  * tcpdump -n: the description of each error in the --packets text line
    (the part from "ICMP" on must be tcpdump's, word for word), here and on
    the corpus captures that hold ICMP errors;
  * tshark: the quoted addresses, protocol and ports (the second occurrence of
    ip.src, ip.dst, ip.proto, udp/tcp ports, ipv6.src, ipv6.dst) and the MTU
    (icmp.mtu, icmpv6.mtu) against icmp.inner.* and icmp.mtu in JSON;
  * the crafted traffic itself: the TCP and UDP connections the errors quote
    get icmp_errors counts, connections nobody quoted get none, and every
    error still forms its own ICMP connection.
IPv4 options: a crafted capture with record route, loose and strict source
routes, timestamps (stamps only, stamps and addresses, with a hop overflow),
router alert (with a value), security, NOP and EOL, and the corpus captures
that carry options: the list wirelens prints as "(options (...))" in the
text line and as ip.options in JSON must be the one tcpdump -v prints in
"options (...)".
"""

import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")

HOST = "10.0.0.2"  # sends the datagrams the errors quote
SERVER = "10.0.0.9"
ROUTER = "10.0.0.1"
HOST6 = "fd00::2"
SERVER6 = "fd00::9"
ROUTER6 = "fd00::1"


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress

    return ipaddress.IPv6Address(a).packed


def eth(payload, v6=False):
    return MAC_A + MAC_B + struct.pack("!H", 0x86DD if v6 else 0x0800) + payload


def ipv4(src, dst, proto, payload, ident=1, frag=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                      ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", pu.checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nxt, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, ip6(src), ip6(dst)) + payload


def l4_checksum(src, dst, proto, seg, v6=False):
    if v6:
        pseudo = ip6(src) + ip6(dst) + struct.pack("!IxxxB", len(seg), proto)
    else:
        pseudo = ip4(src) + ip4(dst) + struct.pack("!xBH", proto, len(seg))
    return pu.checksum(pseudo + seg)


def udp(src, dst, sport, dport, data=b"", v6=False):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_checksum(src, dst, 17, seg, v6) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp(src, dst, sport, dport, flags=0x02, seq=1000, v6=False):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 8192, 0, 0)
    c = l4_checksum(src, dst, 6, seg, v6)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def icmp4(type_, code, rest, body):
    msg = struct.pack("!BBH", type_, code, 0) + rest + body
    return msg[:2] + struct.pack("!H", pu.checksum(msg)) + msg[4:]


def icmp6(src, dst, type_, code, rest, body):
    msg = struct.pack("!BBH", type_, code, 0) + rest + body
    c = l4_checksum(src, dst, 58, msg, v6=True)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def quote4(datagram):
    """What a router quotes: the IP header and the first 8 bytes after it."""
    return datagram[:28]


def build():
    """(frames, expectations): each frame is (bytes, note); notes name what is checked."""
    frames = []
    # The datagrams the errors quote, sent first: a TCP SYN to port 25, a UDP
    # query to port 53, a GRE packet; and a TCP connection nobody quotes.
    syn = ipv4(HOST, SERVER, 6, tcp(HOST, SERVER, 40000, 25))
    query = ipv4(HOST, SERVER, 17, udp(HOST, SERVER, 5353, 53, b"q" * 12))
    gre = ipv4(HOST, SERVER, 47, struct.pack("!HH", 0, 0x0800) + b"\0" * 20)
    other = ipv4(HOST, SERVER, 6, tcp(HOST, SERVER, 40001, 80))
    for d in (syn, query, gre, other):
        frames.append(eth(d))

    def err4(type_, code, rest, quoted):
        frames.append(eth(ipv4(ROUTER, HOST, 1, icmp4(type_, code, rest, quoted))))

    zero = b"\0" * 4
    err4(3, 4, struct.pack("!HH", 0, 1492), quote4(syn))  # need to frag, mtu 1492
    err4(3, 4, zero, quote4(syn))  # need to frag, no mtu
    err4(3, 3, zero, quote4(query))  # udp port unreachable
    err4(3, 3, zero, quote4(syn))  # tcp port unreachable
    err4(3, 3, zero, quote4(gre))  # protocol 47 port ... unreachable
    for code in (0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 20):
        err4(3, code, zero, quote4(query))
    err4(11, 0, zero, quote4(query))
    err4(11, 1, zero, quote4(query))
    err4(11, 7, zero, quote4(query))
    for code in (0, 1, 2, 3):
        err4(5, code, ip4("10.0.0.254"), quote4(syn))
    err4(12, 0, bytes([20, 0, 0, 0]), quote4(syn))
    err4(12, 1, zero, quote4(syn))
    err4(4, 0, zero, quote4(query))  # source quench
    # A quote cut inside the IP header: no quote decoded, the packet is fine.
    err4(3, 3, zero, syn[:12])

    # IPv6: a UDP query, a TCP SYN, a UDP query behind a destination options header.
    q6 = ipv6(HOST6, SERVER6, 17, udp(HOST6, SERVER6, 5353, 53, b"q" * 12, v6=True))
    s6 = ipv6(HOST6, SERVER6, 6, tcp(HOST6, SERVER6, 40000, 443, v6=True))
    dopt = bytes([17, 0, 1, 4, 0, 0, 0, 0])  # next header UDP, 8 bytes, PadN
    q6x = ipv6(HOST6, SERVER6, 60, dopt + udp(HOST6, SERVER6, 5354, 99, b"q" * 4, v6=True))
    for d in (q6, s6, q6x):
        frames.append(eth(d, v6=True))

    def err6(type_, code, rest, quoted):
        frames.append(eth(ipv6(ROUTER6, HOST6, 58, icmp6(ROUTER6, HOST6, type_, code, rest,
                                                         quoted)), v6=True))

    err6(2, 0, struct.pack("!I", 1280), q6[:48])  # packet too big
    for code in (0, 1, 2, 3, 4, 9):
        err6(1, code, zero, q6[:48])
    err6(1, 4, zero, s6[:48])
    err6(1, 4, zero, q6x[:56])
    err6(3, 0, zero, q6[:48])
    err6(3, 1, zero, q6[:48])
    for code in (0, 1, 2, 3):
        err6(4, code, struct.pack("!I", 40 + code), q6[:48])
    return frames


def after_icmp(line):
    """The description from ': ICMP' on (tcpdump and wirelens print the same)."""
    i = line.find(": ICMP")
    return line[i + 2:] if i >= 0 else None


def wl_text_lines(wirelens, path):
    rc, out, err = pu.run([wirelens, "--packets", "-r", path])
    lines = [l for l in out.decode("utf-8", "replace").splitlines()
             if l[:2].isdigit() and " length " in l]
    return rc, lines


def tcpdump_lines(path):
    rc, out, err = pu.run(["tcpdump", "-n", "-r", path])
    # One line per packet; hex dumps of packets tcpdump cannot describe follow on lines of their own.
    return rc, [l for l in out.decode("utf-8", "replace").splitlines() if l[:2].isdigit()]


def is_described(text):
    """wirelens names the type and code of an ICMP message it does not describe."""
    return text is not None and ", code " not in text


def compare_text(f, wirelens, path, label, require_all):
    rc, wl = wl_text_lines(wirelens, path)
    f.check(not pu.crashed(rc), "%s: wirelens --packets exit %d" % (label, rc))
    trc, td = tcpdump_lines(path)
    if not f.check(len(wl) == len(td), "%s: %d wirelens lines, %d tcpdump lines"
                   % (label, len(wl), len(td))):
        return 0
    compared = 0
    for n, (w, t) in enumerate(zip(wl, td), 1):
        wd, tdd = after_icmp(w), after_icmp(t)
        if tdd is None or not any(k in tdd for k in ("unreachable", "exceeded", "redirect",
                                                      "parameter", "quench", "too big")):
            continue
        if " not decoded" in w:
            print("%s #%d: link type not decoded here, skipped" % (label, n))
            continue
        if not is_described(wd):
            f.check(not require_all, "%s #%d: not described: %r (tcpdump %r)" % (label, n, w, t))
            continue
        compared += 1
        f.check(wd == tdd, "%s #%d: wirelens %r, tcpdump %r" % (label, n, wd, tdd))
    return compared


TSHARK_FIELDS = ["ip.src", "ip.dst", "ip.proto", "udp.srcport", "udp.dstport", "tcp.srcport",
                 "tcp.dstport", "icmp.mtu", "ipv6.src", "ipv6.dst", "icmpv6.mtu", "icmp.type",
                 "icmpv6.type"]


def tshark_rows(path):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E",
           "aggregator=,"]
    for fld in TSHARK_FIELDS:
        cmd += ["-e", fld]
    rc, out, err = pu.run(cmd)
    rows = []
    for line in out.decode().splitlines():
        vals = line.split("\t")
        vals += [""] * (len(TSHARK_FIELDS) - len(vals))
        rows.append({k: (v.split(",") if v else []) for k, v in zip(TSHARK_FIELDS, vals)})
    return rows


def second(row, key):
    v = row.get(key, [])
    return v[1] if len(v) > 1 else None


def first(row, key):
    v = row.get(key, [])
    return v[0] if v else None


def compare_json(f, wirelens, path):
    r = pu.wirelens_json(wirelens, ["--packets", "-r", path])
    f.check(r.rc == 0, "json run: " + r.describe())
    rows = tshark_rows(path)
    if not f.check(len(rows) == len(r.packets), "%d tshark rows, %d packet records"
                   % (len(rows), len(r.packets))):
        return r
    checked = 0
    for n, (rec, row) in enumerate(zip(r.packets, rows), 1):
        v6 = bool(row["ipv6.src"])
        if "icmp.inner.src" not in rec:
            # Only the quote cut inside its IP header may lack one.
            f.check(not (second(row, "ipv6.src" if v6 else "ip.src")), "#%d: no icmp.inner.* "
                    "though tshark shows a quoted header: %r" % (n, rec))
            continue
        checked += 1
        src, dst = ("ipv6.src", "ipv6.dst") if v6 else ("ip.src", "ip.dst")
        f.check(rec["icmp.inner.src"] == second(row, src),
                "#%d inner src %r, tshark %r" % (n, rec["icmp.inner.src"], row[src]))
        f.check(rec["icmp.inner.dst"] == second(row, dst),
                "#%d inner dst %r, tshark %r" % (n, rec["icmp.inner.dst"], row[dst]))
        if not v6:
            f.check(str(rec["icmp.inner.proto"]) == second(row, "ip.proto"),
                    "#%d inner proto %r, tshark %r" % (n, rec["icmp.inner.proto"], row["ip.proto"]))
        for proto in ("udp", "tcp"):
            if row[proto + ".srcport"]:
                f.check(str(rec.get("icmp.inner.src_port")) == first(row, proto + ".srcport"),
                        "#%d inner src_port %r, tshark %s.srcport %r"
                        % (n, rec.get("icmp.inner.src_port"), proto, row[proto + ".srcport"]))
                f.check(str(rec.get("icmp.inner.dst_port")) == first(row, proto + ".dstport"),
                        "#%d inner dst_port %r, tshark %s.dstport %r"
                        % (n, rec.get("icmp.inner.dst_port"), proto, row[proto + ".dstport"]))
        mtu = first(row, "icmpv6.mtu" if v6 else "icmp.mtu")
        if mtu is not None and mtu != "0":
            f.check(str(rec.get("icmp.mtu")) == mtu, "#%d mtu %r, tshark %r"
                    % (n, rec.get("icmp.mtu"), mtu))
    f.check(checked >= 40, "only %d packets with a quote checked against tshark" % checked)
    return r


def check_conns(f, r):
    by_port = {}
    icmp = 0
    for c in r.conns:
        if c["proto"] in ("icmp", "icmpv6"):
            icmp += 1
            f.check("icmp_errors" not in c, "ICMP connection with icmp_errors: %r" % c)
            continue
        by_port[(c["proto"], c["id.resp_p"], c["id.orig_h"])] = c
    # Quoting the SYN to port 25: need-to-frag x2, tcp port unreachable, redirect x4,
    # parameter problem x2.
    exp = {("tcp", 25, HOST): 9, ("udp", 53, HOST): 1 + 15 + 3 + 1, ("tcp", 80, HOST): 0,
           ("tcp", 443, HOST6): 1, ("udp", 53, HOST6): 1 + 6 + 2 + 4}
    for key, n in exp.items():
        c = by_port.get(key)
        if not f.check(c is not None, "no %s connection to port %d from %s" % key):
            continue
        f.check(c.get("icmp_errors", 0) == n, "%s port %d from %s: icmp_errors %r, want %d"
                % (key + (c.get("icmp_errors"), n)))
    f.check(icmp >= 10, "only %d ICMP connections" % icmp)


def ipv4_with_options(opts):
    """A UDP datagram 10.0.0.2:5000 > 10.0.0.9:6000 whose header carries `opts` (padded)."""
    opts = opts + b"\0" * (-len(opts) % 4)
    payload = udp(HOST, SERVER, 5000, 6000, b"o" * 4)
    hl = 20 + len(opts)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | hl // 4, 0, hl + len(payload), 7, 0, 64, 17, 0,
                      ip4(HOST), ip4(SERVER)) + opts
    hdr = hdr[:10] + struct.pack("!H", pu.checksum(hdr)) + hdr[12:]
    return eth(hdr + payload)


def build_options():
    a, b, c = ip4("192.0.2.1"), ip4("192.0.2.2"), ip4("192.0.2.3")
    return [ipv4_with_options(o) for o in (
        bytes([148, 4, 0, 0]),                              # router alert
        bytes([148, 4, 0, 7]),                              # router alert, value 7
        bytes([7, 11, 8]) + a + b,                          # RR, one recorded
        bytes([1, 131, 11, 4]) + a + b,                     # NOP, LSRR, none passed
        bytes([137, 15, 16]) + a + b + c,                   # SSRR, all passed
        bytes([68, 12, 9, 0]) + struct.pack("!II", 1000, 2000),            # TSONLY
        bytes([68, 12, 5, 0x31]) + a + struct.pack("!I", 5000),            # TS+ADDR, 3 hops lost
        bytes([68, 20, 13, 3]) + a + struct.pack("!I", 1) + b + struct.pack("!I", 2),  # PRESPEC
        bytes([130, 11]) + b"\0" * 9,                       # security
        bytes([1, 1, 1, 0]),                                # NOP NOP NOP EOL
        bytes([148, 9, 0]),                                 # a length past the list
    )]


def wl_options(line):
    i = line.find("(options (")
    if i < 0:
        return None
    j = line.find(")) ", i)
    return line[i + len("(options ("):j] if j > 0 else None


def tcpdump_options(line):
    i = line.find("options (")
    if i < 0:
        return None
    j = line.find(")", i + len("options ("))
    depth, k = 0, i + len("options (")
    while k < len(line):  # the matching parenthesis (TS{...} holds none)
        if line[k] == "(":
            depth += 1
        elif line[k] == ")":
            if depth == 0:
                j = k
                break
            depth -= 1
        k += 1
    return line[i + len("options ("):j]


def compare_options(f, wirelens, path, label):
    rc, wl = wl_text_lines(wirelens, path)
    trc, out, err = pu.run(["tcpdump", "-v", "-n", "-r", path])
    td = [l for l in out.decode("utf-8", "replace").splitlines() if l[:2].isdigit()]
    r = pu.wirelens_json(wirelens, ["--packets", "-r", path])
    compared = 0
    if not f.check(len(wl) == len(td) == len(r.packets), "%s: %d wirelens lines, %d tcpdump, "
                   "%d records" % (label, len(wl), len(td), len(r.packets))):
        return 0
    for n, (w, t, rec) in enumerate(zip(wl, td, r.packets), 1):
        want, got = tcpdump_options(t), wl_options(w)
        if want is None:
            f.check(got is None and "ip.options" not in rec,
                    "%s #%d: options %r where tcpdump shows none" % (label, n, got))
            continue
        if got is None and rec.get("ip.version") != 4:
            continue  # an IPv4 header wirelens did not decode (malformed)
        if "truncated-option" in want:
            continue  # tcpdump read past the capture; wirelens stops at it
        compared += 1
        f.check(got == want, "%s #%d: options %r, tcpdump %r" % (label, n, got, want))
        f.check(rec.get("ip.options") == want, "%s #%d: ip.options %r, tcpdump %r"
                % (label, n, rec.get("ip.options"), want))
    return compared


def main():
    args = pu.arguments(__doc__).parse_args()
    for tool in ("tcpdump", "tshark"):
        if shutil.which(tool) is None:
            pu.skip(tool + " not installed")
    f = pu.Failures("icmp_errors")
    tmp = tempfile.mkdtemp(prefix="wl-icmp-errors-")
    try:
        path = os.path.join(tmp, "icmp-errors.pcap")
        pu.write_pcap(path, 1, [(b, len(b)) for b in build()])
        n = compare_text(f, args.wirelens, path, "crafted", require_all=False)
        f.check(n >= 44, "only %d crafted ICMP error lines compared with tcpdump" % n)
        r = compare_json(f, args.wirelens, path)
        check_conns(f, r)
        corpus_total = 0
        for name in ("afs.pcap", "dhcp-rfc4388.pcap", "icmpv6-rfc7112.pcap", "icmp-rfc5837.pcap"):
            p = os.path.join(args.corpus or "", name)
            if os.path.isfile(p):
                corpus_total += compare_text(f, args.wirelens, p, name, require_all=True)
        print("corpus ICMP error lines compared with tcpdump: %d" % corpus_total)
        opath = os.path.join(tmp, "ip-options.pcap")
        frames = build_options()
        pu.write_pcap(opath, 1, [(b, len(b)) for b in frames])
        n = compare_options(f, args.wirelens, opath, "crafted options")
        f.check(n == len(frames), "%d of %d crafted option lists compared" % (n, len(frames)))
        total = 0
        for name in ("IGMP_V1.pcap", "IGMP_V2.pcap", "igmpv3-queries.pcap", "eapon1.pcap",
                     "rsvp-inf-loop-2.pcapng", "dhcp6_reconf_asan.pcap", "extract_read2_asan.pcap",
                     "pb_nhrp_1.pcap", "radius_attr_asan.pcap", "isakmpv1-attr-oobr.pcap",
                     "ip_ts_opts_asan.pcap"):
            p = os.path.join(args.corpus or "", name)
            if os.path.isfile(p):
                total += compare_options(f, args.wirelens, p, name)
        print("corpus IPv4 option lists compared with tcpdump -v: %d" % total)
    finally:
        shutil.rmtree(tmp)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

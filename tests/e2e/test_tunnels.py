#!/usr/bin/env python3
"""Connections inside every kind of tunnel, nested tunnels, the depth limit,
Teredo's confirmation, and the inner packets --packets shows.

Captures written here (nothing is sent), one per case, each carrying one TCP
connection 10.9.0.1:40123 -> 10.9.0.2:443 (handshake, 100 bytes each way,
FIN both ways: Zeek's conn_state SF, history ShADdFf) inside the tunnel,
both directions through it:
  gre (IPv4 in GRE), gre_eth (Ethernet in GRE, 0x6558), pptp (enhanced GRE
  v1 with sequence and ack, PPP FF 03 0021; an ack-only packet between),
  pptp_pfc (PPP without address/control, 1-byte protocol), erspan2, erspan3,
  gre_udp (RFC 8086, port 4754), ayiya (port 5072), vxlan, and the nested
  geneve_in_vxlan and teredo_in_gtpu (the Teredo datagrams inside GTP-U).
Checks:
* the inner TCP connection is found with conn_state SF and both byte counts,
  and the stats record counts the packets by tunnel kind;
* Aruba GRE (0x8200, an 802.11 frame inside): counted as "aruba", the UDP flow inside found;
* depth: 4 IP-in-IP tunnels around the TCP packets are opened (connection
  found), 5 are not (no connection, tunnels.too_deep counts them);
* Teredo: a flow whose both directions carry valid Teredo is opened after
  its first datagram (bubbles first; the connection after them is found);
  UDP to 3544 from one side only, with IPv6-looking payloads, is not
  (no inner connection, tunnels.teredo_unconfirmed counts each datagram);
* --packets: text shows each inner packet on an indented line after its
  frame; JSON gives the record a "tunnel" array whose inner ip.src, ip.dst,
  ports and tcp.seq are tshark's (tshark -T fields -E occurrence=a, every
  layer), where tshark is installed.

Usage: test_tunnels.py --wirelens PATH [--samples DIR] [--corpus DIR]
       test_tunnels.py --write-seeds DIR   (the tunnel captures, for fuzz/make_seeds.sh)
"""
import ipaddress
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

# An inner packet's line: two spaces per depth, the tunnel's kind.
INNER_LINE = re.compile(r"^(  )+[a-z_]+: ")

F = pu.Failures("tunnels")
check = F.check

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ipv4(src, dst, proto, payload, ident=1):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0,
                      ip4(src), ip4(dst))
    csum = pu.checksum(hdr)
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + payload


def ipv6(src, dst, nxt, payload):
    return (struct.pack("!IHBB", 0x60000000, len(payload), nxt, 64) + src + dst + payload)


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0,
                       0) + payload


def eth(payload, ethertype=0x0800, src=MAC_A, dst=MAC_B):
    return dst + src + struct.pack("!H", ethertype) + payload


V6_CLIENT = bytes.fromhex("20010000" + "4136e378800063bf3ffffdd2")
V6_SERVER = bytes.fromhex("20010db8000000000000000000000002")


def inner_conn(v6=False):
    """The TCP connection's packets: (from the client?, IP packet)."""
    c, s = ("10.9.0.1", "10.9.0.2")
    S, A, P, Fi = 0x02, 0x10, 0x08, 0x01
    steps = [
        (True, 1000, 0, S, b""),
        (False, 5000, 1001, S | A, b""),
        (True, 1001, 5001, A, b""),
        (True, 1001, 5001, P | A, b"q" * 100),
        (False, 5001, 1101, P | A, b"r" * 100),
        (True, 1101, 5101, Fi | A, b""),
        (False, 5101, 1102, Fi | A, b""),
        (True, 1102, 5102, A, b""),
    ]
    out = []
    for fwd, seq, ack, flags, data in steps:
        sp, dp = (40123, 443) if fwd else (443, 40123)
        seg = tcp(sp, dp, seq, ack, flags, data)
        if v6:
            src, dst = (V6_CLIENT, V6_SERVER) if fwd else (V6_SERVER, V6_CLIENT)
            out.append((fwd, ipv6(src, dst, 6, seg)))
        else:
            src, dst = (c, s) if fwd else (s, c)
            out.append((fwd, ipv4(src, dst, 6, seg)))
    return out


def outer_ip(fwd, proto, payload):
    a, b = "192.0.2.1", "192.0.2.2"
    return eth(ipv4(a, b, proto, payload) if fwd else ipv4(b, a, proto, payload))


def outer_udp(fwd, port, payload, sport=50000):
    a, b = "192.0.2.1", "192.0.2.2"
    if fwd:
        return eth(ipv4(a, b, 17, udp(sport, port, payload)))
    return eth(ipv4(b, a, 17, udp(port, sport, payload)))


def gre(proto, payload, flags=0, words=b""):
    return struct.pack("!HH", flags, proto) + words + payload


def pptp(ip, seq, pfc=False):
    ppp = (b"\x21" if pfc else b"\xff\x03\x00\x21") + ip
    # K, S, A, version 1: payload length and call id, sequence, acknowledgment.
    return gre(0x880B, ppp, 0x3081, struct.pack("!HHII", len(ppp), 7, seq, seq))


def erspan2(frame, seq):
    hdr = struct.pack("!HHI", (1 << 12) | 10, 0x0123, 0)  # version 1, VLAN 10, session 0x123
    return gre(0x88BE, hdr + frame, 0x1000, struct.pack("!I", seq))


def erspan3(frame, seq):
    # version 2, VLAN 10; session 0x155; timestamp; SGT, flags (O clear)
    hdr = struct.pack("!HHIHH", (2 << 12) | 10, 0x0155, 0, 0, 0)
    return gre(0x22EB, hdr + frame, 0x1000, struct.pack("!I", seq))


def ayiya(ip):
    identity = bytes(range(16))
    signature = bytes(20)
    return bytes([0x41, 0x52, 0x11, 4]) + struct.pack("!I", 0) + identity + signature + ip


def vxlan(frame):
    return struct.pack("!II", 0x08000000, 42 << 8) + frame


def geneve(frame):
    return struct.pack("!BBHI", 0, 0, 0x6558, 7 << 8) + frame


def gtpu(ip):
    return struct.pack("!BBHI", 0x30, 0xFF, len(ip), 1) + ip


def teredo_bubble(fwd):
    src, dst = (V6_CLIENT, V6_SERVER) if fwd else (V6_SERVER, V6_CLIENT)
    return ipv6(src, dst, 59, b"")


def cases():
    """name -> (frames, expected tunnel counts, inner conn expected)"""
    conn = inner_conn()
    n = len(conn)
    out = {}
    out["gre"] = ([outer_ip(f, 47, gre(0x0800, p)) for f, p in conn], {"gre": n})
    out["gre_eth"] = ([outer_ip(f, 47, gre(0x6558, eth(p))) for f, p in conn], {"gre": n})
    frames = [outer_ip(f, 47, pptp(p, i)) for i, (f, p) in enumerate(conn)]
    # An acknowledgment alone (K, A, no S; payload length 0): nothing inside.
    frames.insert(3, outer_ip(False, 47, gre(0x880B, b"", 0x2081, struct.pack("!HHI", 0, 7, 2))))
    out["pptp"] = (frames, {"pptp": n})
    out["pptp_pfc"] = ([outer_ip(f, 47, pptp(p, i, True)) for i, (f, p) in enumerate(conn)],
                       {"pptp": n})
    out["erspan2"] = ([outer_ip(f, 47, erspan2(eth(p), i)) for i, (f, p) in enumerate(conn)],
                      {"erspan": n})
    out["erspan3"] = ([outer_ip(f, 47, erspan3(eth(p), i)) for i, (f, p) in enumerate(conn)],
                      {"erspan": n})
    out["gre_udp"] = ([outer_udp(f, 4754, gre(0x0800, p)) for f, p in conn], {"gre_udp": n})
    out["ayiya"] = ([outer_udp(f, 5072, ayiya(p)) for f, p in conn], {"ayiya": n})
    out["vxlan"] = ([outer_udp(f, 4789, vxlan(eth(p))) for f, p in conn], {"vxlan": n})
    # Geneve (Ethernet) in VXLAN: two levels.
    mid = [(f, ipv4("172.16.0.1", "172.16.0.2", 17, udp(40000, 6081, geneve(eth(p)))))
           for f, p in conn]
    out["geneve_in_vxlan"] = ([outer_udp(f, 4789, vxlan(eth(m))) for f, m in mid],
                              {"vxlan": n, "geneve": n})
    # Teredo in GTP-U: bubbles both ways confirm the Teredo flow, then the connection.
    v6 = [(True, teredo_bubble(True)), (False, teredo_bubble(False))] + inner_conn(v6=True)

    def teredo_dgram(f, p):
        if f:
            return ipv4("172.16.0.1", "172.16.0.2", 17, udp(40001, 3544, p))
        return ipv4("172.16.0.2", "172.16.0.1", 17, udp(3544, 40001, p))

    out["teredo_in_gtpu"] = ([outer_udp(f, 2152, gtpu(teredo_dgram(f, p))) for f, p in v6],
                             {"gtpu": len(v6), "teredo": len(v6) - 1, "teredo_unconfirmed": 1})
    return out


def wirelens(*args):
    rc, out, err = pu.run([ARGS.wirelens] + list(args))
    check(rc == 0, "%s: exit %d: %s" % (" ".join(args), rc, err[-300:]))
    return out.decode("utf-8", "replace")


def write(path, frames):
    pu.write_pcap(path, 1, [(f, len(f), 1700000000 + i, 0) for i, f in enumerate(frames)])


def run_json(path, *extra):
    out = wirelens("-r", path, "--json", *extra)
    recs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    stats = [r for r in recs if r.get("type") == "stats"]
    return recs, (stats[0] if stats else {})


def inner_tcp_conns(recs, v6=False):
    host = "2001:0:4136:e378:8000:63bf:3fff:fdd2" if v6 else "10.9.0.1"
    return [r for r in recs if r.get("type") == "conn" and r.get("proto") == "tcp" and
            r.get("id.orig_h") == host and r.get("id.resp_p") == 443]


def check_conn(name, recs, v6=False):
    conns = inner_tcp_conns(recs, v6)
    if not check(len(conns) == 1, "%s: one inner TCP connection, found %d" % (name, len(conns))):
        return
    c = conns[0]
    check(c["conn_state"] == "SF", "%s: conn_state %s, expected SF" % (name, c["conn_state"]))
    check(c["orig_bytes"] == 100 and c["resp_bytes"] == 100,
          "%s: bytes %s/%s, expected 100/100" % (name, c["orig_bytes"], c["resp_bytes"]))
    check(c.get("history") == "ShADdFf",
          "%s: history %s, expected ShADdFf" % (name, c.get("history")))


def tshark_fields(path, fields):
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    # Teredo in GTP-U, GRE in UDP and AYIYA on their ports, whatever tshark's defaults.
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    rows = []
    for line in res.stdout.splitlines():
        rows.append([col.split("|") if col else [] for col in line.split("\t")])
    return rows


def check_packets(name, path, frames_expected, unopened=()):
    """`unopened`: frames (from 1) whose tunnel is not opened by design (tshark opens it)."""
    # Text: every frame's line, then its inner packets' indented lines.
    lines = wirelens("-r", path, "--packets").splitlines()
    inner_lines = [ln for ln in lines if INNER_LINE.match(ln)]
    check(len(inner_lines) >= frames_expected,
          "%s: --packets shows %d inner lines, expected >= %d" %
          (name, len(inner_lines), frames_expected))
    check(any("10.9.0.1.40123 > 10.9.0.2.443: Flags [S]" in ln for ln in inner_lines) or
          name.startswith("teredo"),
          "%s: the inner SYN is on an indented line" % name)
    # JSON: the records' tunnel arrays against tshark's layers.
    recs, _ = run_json(path, "--packets")
    pkts = [r for r in recs if r.get("type") == "packet"]
    if not shutil.which("tshark"):
        return
    rows = tshark_fields(path, ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
                                "tcp.seq_raw"])
    if not check(len(rows) == len(pkts), "%s: %d packet records, tshark %d frames" %
                 (name, len(pkts), len(rows))):
        return
    compared = 0
    for i, (p, row) in enumerate(zip(pkts, rows)):
        chain = [p] + p.get("tunnel", [])
        ours_v4 = [(q["ip.src"], q["ip.dst"]) for q in chain if q.get("ip.version") == 4]
        ours_v6 = [(q["ip.src"], q["ip.dst"]) for q in chain if q.get("ip.version") == 6]
        theirs_v4 = list(zip(row[0], row[1])) if len(row) > 1 else []
        theirs_v6 = list(zip(row[2], row[3])) if len(row) > 3 else []
        theirs_v6 = [(str(ipaddress.ip_address(a)), str(ipaddress.ip_address(b)))
                     for a, b in theirs_v6]
        ours_v6 = [(str(ipaddress.ip_address(a)), str(ipaddress.ip_address(b)))
                   for a, b in ours_v6]
        if i + 1 in unopened:
            # The outer layers only: a strict prefix of tshark's.
            check(ours_v4 == theirs_v4[:len(ours_v4)] and ours_v6 == theirs_v6[:len(ours_v6)] and
                  len(ours_v4) + len(ours_v6) < len(theirs_v4) + len(theirs_v6),
                  "%s frame %d: unopened, layers %s %s, tshark %s %s" %
                  (name, i + 1, ours_v4, ours_v6, theirs_v4, theirs_v6))
            compared += 1
            continue
        check(ours_v4 == theirs_v4, "%s frame %d: IPv4 layers %s, tshark %s" %
              (name, i + 1, ours_v4, theirs_v4))
        check(ours_v6 == theirs_v6, "%s frame %d: IPv6 layers %s, tshark %s" %
              (name, i + 1, ours_v6, theirs_v6))
        tcps = [q for q in chain if "tcp.seq" in q]
        if row[4] if len(row) > 4 else []:
            check([str(q["src_port"]) for q in tcps] == row[4] and
                  [str(q["tcp.seq"]) for q in tcps] == row[5],
                  "%s frame %d: TCP ports/seq %s, tshark %s" %
                  (name, i + 1, [(q["src_port"], q["tcp.seq"]) for q in tcps], row[4:6]))
        compared += 1
    check(compared == len(pkts), "%s: compared %d frames with tshark" % (name, compared))


def write_seeds(folder):
    """The captures of every tunnel case, for fuzz/make_seeds.sh."""
    os.makedirs(folder, exist_ok=True)
    for name, (frames, _) in cases().items():
        write(os.path.join(folder, "tunnel-" + name + ".pcap"), frames)


def main():
    global ARGS
    if len(sys.argv) == 3 and sys.argv[1] == "--write-seeds":
        write_seeds(sys.argv[2])
        return 0
    ap = pu.arguments(__doc__)
    ARGS = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wl-tunnels-")
    try:
        n = len(inner_conn())
        for name, (frames, counts) in cases().items():
            path = os.path.join(tmp, name + ".pcap")
            write(path, frames)
            recs, stats = run_json(path)
            check_conn(name, recs, v6=name.startswith("teredo"))
            tun = stats.get("tunnels", {})
            for kind, want in counts.items():
                check(tun.get(kind) == want, "%s: tunnels.%s = %s, expected %d" %
                      (name, kind, tun.get(kind), want))
            tunneled = sum(v for k, v in counts.items() if k != "teredo_unconfirmed")
            check(stats.get("protocols", {}).get("tunneled") == tunneled,
                  "%s: protocols.tunneled %s, expected %d" %
                  (name, stats.get("protocols", {}).get("tunneled"), tunneled))
            check_packets(name, path, n, unopened=(1,) if name.startswith("teredo") else ())

        # Aruba: an 802.11 data frame (LLC/SNAP, then IPv4/UDP) inside GRE.
        dot11 = bytes.fromhex("08020000") + MAC_A + MAC_B + MAC_A + b"\x00\x00" + \
            bytes.fromhex("aaaa030000000800") + ipv4("10.9.0.1", "10.9.0.2", 17, udp(1, 2, b""))
        path = os.path.join(tmp, "aruba.pcap")
        write(path, [outer_ip(True, 47, gre(0x8200, dot11))])
        recs, stats = run_json(path)
        check(stats.get("tunnels", {}).get("aruba") == 1,
              "aruba: tunnels %s, expected aruba 1" % stats.get("tunnels"))
        udp_in = [r for r in recs if r.get("type") == "conn" and r.get("proto") == "udp" and
                  r.get("id.orig_h") == "10.9.0.1" and r.get("id.resp_h") == "10.9.0.2"]
        check(len(udp_in) == 1 and udp_in[0].get("id.resp_p") == 2,
              "aruba: the UDP flow inside the 802.11 frame, found %s" % udp_in)

        # Depth: k IP-in-IP headers around each packet of the connection.
        for k, found in ((4, True), (5, False)):
            frames = []
            for f, p in inner_conn():
                for _ in range(k):
                    p = ipv4("192.0.2.9", "192.0.2.10", 4, p) if f else \
                        ipv4("192.0.2.10", "192.0.2.9", 4, p)
                frames.append(eth(p))
            path = os.path.join(tmp, "depth%d.pcap" % k)
            write(path, frames)
            recs, stats = run_json(path)
            conns = inner_tcp_conns(recs)
            check(len(conns) == (1 if found else 0),
                  "depth %d: %d inner connections, expected %d" % (k, len(conns), found))
            too_deep = stats.get("tunnels", {}).get("too_deep", 0)
            check(too_deep == (0 if found else n),
                  "depth %d: tunnels.too_deep %s, expected %d" % (k, too_deep, 0 if found else n))

        # Teredo from one side only: IPv6-looking payloads to 3544, never confirmed.
        frames = [outer_udp(True, 3544, p, sport=51000) for _, p in inner_conn(v6=True)]
        path = os.path.join(tmp, "teredo_one_sided.pcap")
        write(path, frames)
        recs, stats = run_json(path)
        check(not inner_tcp_conns(recs, v6=True),
              "teredo one-sided: an inner connection was found")
        tun = stats.get("tunnels", {})
        check(tun.get("teredo_unconfirmed") == len(frames) and "teredo" not in tun,
              "teredo one-sided: tunnels %s, expected teredo_unconfirmed %d" % (tun, len(frames)))
        check(stats.get("protocols", {}).get("tunneled") is None,
              "teredo one-sided: packets counted as tunneled")
        check(not any(INNER_LINE.match(ln) for ln in wirelens("-r", path, "--packets").splitlines()),
              "teredo one-sided: --packets shows inner packets")

        # Both directions, then the connection: opened from the server's first datagram on.
        v6 = [(True, teredo_bubble(True)), (False, teredo_bubble(False))] + inner_conn(v6=True)
        frames = [outer_udp(f, 3544, p, sport=51000) for f, p in v6]
        path = os.path.join(tmp, "teredo.pcap")
        write(path, frames)
        recs, stats = run_json(path)
        check_conn("teredo", recs, v6=True)
        tun = stats.get("tunnels", {})
        check(tun.get("teredo") == len(frames) - 1 and tun.get("teredo_unconfirmed") == 1,
              "teredo: tunnels %s, expected teredo %d, teredo_unconfirmed 1" %
              (tun, len(frames) - 1))
        check_packets("teredo", path, n, unopened=(1,))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return F.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""community_id (Community ID v1) in conn, conn_established, upload and anomaly records.

The Community ID is computed here independently, from the spec
(github.com/corelight/community-id-spec, README "Pseudo code" and "Technical
details"): SHA-1 over the 2-byte seed, the two addresses, the protocol, a zero
byte and, for TCP/UDP/SCTP/ICMP/ICMPv6, the two ports, the smaller
(address, port) first; ICMP's type and code taken as ports, a request/reply
type mapped to its counterpart (one flow both ways), any other message one-way
(the sender first); "1:" and the digest in base64. This implementation is first
checked against values the spec publishes (baseline/README.md, tables
"Default settings" and "A custom seed=1 value").

* Every conn record of every sample and of some shared-corpus captures
  (TCP, UDP, ICMP, ICMPv6, IPv6, tunnels) carries community_id, and it is
  the one computed here from the record's id.* fields and proto, with the
  default seed, with --community-id-seed 1 and 65535, and with --threads 2.
* upload and anomaly records carry their connection's community_id (joined
  by uid with the conn records of the same run); so do --stream's
  conn_established events. attempts records (many originators) and alert
  records (a victim or a scanner, not a connection) carry none.
* --community-id-seed refuses what is not a whole number from 0 to 65535 with
  a one-line message and exit status 1.
* tshark (when installed, with its "communityid" post-dissector enabled:
  --enable-protocol communityid, -o communityid.seed:N), per flow: the
  packets tshark gives each Community ID are counted, and every conn record's
  community_id is one tshark computed, for as many packets as wirelens counted
  in the connections with that id (fewer only where tshark saw fragments or
  tunnelled packets, or found packets malformed and gave them none; a tunnel's
  own UDP flow, whose packets tshark names by the flow inside, is not
  compared); and every Community ID tshark gives a plain (untunnelled,
  unfragmented) TCP/UDP/ICMP/ICMPv6 packet is one of wirelens' records (but
  in malformed.pcap, whose frames are broken on purpose).

Usage: test_community_id.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import base64
import collections
import hashlib
import ipaddress
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import pcaputil

CID = re.compile(r"^1:[A-Za-z0-9+/]{27}=$")

# ICMP types that are a request or a reply, and their counterparts (the spec
# takes the mapping from Zeek; README "Technical details").
ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_PAIRS = {128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133, 135: 136, 136: 135,
               139: 140, 140: 139, 144: 145, 145: 144}
WITH_PORTS = (6, 17, 132, 1, 58)
# UDP ports of the tunnels wirelens opens (VXLAN, Geneve, Teredo, GTP-U...).
TUNNEL_PORTS = {4789, 8472, 6081, 4790, 3544, 2152}
# Samples whose frames are built broken: wirelens stops at the broken layer
# and tracks no connection where tshark still names the flow.
BROKEN_ON_PURPOSE = ("malformed.pcap",)

# Shared-corpus captures read besides the samples (those present).
CORPUS = ("icmpv6.pcap", "icmpv6-ra-pref64.pcap", "icmpv6_nodeinfo_queryipv4.pcap",
          "icmpv6_nodeinfo_replyipv6.pcap", "icmp6-rfc8335.pcap", "mpls-traceroute.pcap",
          "dns_udp.pcap", "dns_tcp.pcap", "ipv4_tcp_http_xml.pcap", "tcp-handshake-nano.pcap",
          "mptcp-v1.pcap", "bigtcp-ipv6.pcap", "vxlan.pcap", "gso-ipv6-vxlan-ipv4.pcap",
          "ip6_frag_asan.pcap", "syslog_udp.pcap")


def community_id(seed, src, dst, proto, sport=0, dport=0):
    """Community ID v1 of a packet src -> dst; ICMP: sport is the type, dport the code."""
    a = ipaddress.ip_address(src).packed
    b = ipaddress.ip_address(dst).packed
    one_way = False
    if proto in (1, 58):
        pairs = ICMP4_PAIRS if proto == 1 else ICMP6_PAIRS
        if sport in pairs:
            dport = pairs[sport]
        else:
            one_way = True
    ports = proto in WITH_PORTS
    if not ports:
        sport = dport = 0
    if not one_way and (b, dport) < (a, sport):
        a, b, sport, dport = b, a, dport, sport
    data = struct.pack("!H", seed) + a + b + struct.pack("!BB", proto, 0)
    if ports:
        data += struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


# From the spec's baseline/README.md: (seed, src, dst, proto, sport, dport, id).
PUBLISHED = (
    (0, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
    (0, "5.6.7.8", "1.2.3.4", 17, 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
    (0, "5.6.7.8", "1.2.3.4", 1, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
    (0, "1.2.3.4", "5.6.7.8", 1, 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="),
    (0, "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", "fe80:1:203:405:607:809:a0b:c0d", 58, 129, 0,
     "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
    (0, "fe80:1:203:405:607:809:a0b:c0d", "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", 58, 146, 0,
     "1:fYC8+pz24E+EhANP1EZhpX0Dw10="),
    (0, "5.6.7.8", "1.2.3.4", 46, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="),
    (1, "5.6.7.8", "1.2.3.4", 6, 3344, 1122, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
    (1, "1.2.3.4", "5.6.7.8", 1, 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
    (1, "fe80:1:203:405:607:809:a0b:c0d", "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", 58, 146, 0,
     "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s="),
)

failures = pcaputil.Failures("test_community_id")
check = failures.check


def proto_number(rec):
    if rec["proto"] == "tcp":
        return 6
    if rec["proto"] == "udp":
        return 17
    return 58 if ":" in rec["id.orig_h"] else 1


def expected(rec, seed):
    """The Community ID of a record's connection, from its id.* fields: for
    ICMP, id.orig_p is the originator's message type and id.resp_p its
    counterpart or (one-way) its code, as in Zeek."""
    return community_id(seed, rec["id.orig_h"], rec["id.resp_h"], proto_number(rec),
                        rec["id.orig_p"], rec["id.resp_p"])


def records(wl, path, *args):
    p = subprocess.run([wl, "-r", path, "--json", "--no-progress", "-q", *args],
                       capture_output=True, timeout=300)
    check(p.returncode == 0, "%s %s: exit %d: %s" % (os.path.basename(path), " ".join(args),
                                                    p.returncode, p.stderr.decode()[:300]))
    out = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            check(False, "%s: not JSON: %r" % (os.path.basename(path), line[:200]))
    return out


def check_records(name, recs, seed):
    """Every record about one connection carries its id; the others none."""
    conns = [r for r in recs if r.get("type") == "conn"]
    by_uid = {r["uid"]: r for r in conns}
    n = 0
    for r in recs:
        kind = r.get("type")
        if kind in ("conn", "conn_established", "upload", "anomaly"):
            cid = r.get("community_id")
            if not check(cid is not None and CID.match(cid),
                         "%s: %s record %s: community_id %r" % (name, kind, r.get("uid"), cid)):
                continue
            if kind == "conn" or kind == "conn_established":
                want = expected(r, seed)
                check(cid == want, "%s seed %d: %s %s %s %s:%s > %s:%s: %s, want %s" %
                      (name, seed, kind, r["uid"], r["proto"] if "proto" in r else "",
                       r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"], cid, want))
            if kind != "conn":
                conn = by_uid.get(r["uid"])
                check(conn is not None and conn.get("community_id") == cid,
                      "%s: %s record of %s: %s, its conn record %s" %
                      (name, kind, r["uid"], cid, conn and conn.get("community_id")))
            n += 1
        elif kind in ("attempts", "alert", "ladder", "stats", "packet"):
            check("community_id" not in r, "%s: %s record with a community_id" % (name, kind))
    return n


def captures(args):
    found = pcaputil.sample_captures(args.samples)
    if args.corpus and os.path.isdir(args.corpus):
        for name in CORPUS:
            path = os.path.join(args.corpus, name)
            if os.path.isfile(path):
                found.append(path)
    return found


# ---------------------------------------------------------------------------
# tshark


def tshark_ids(path, seed):
    """Per Community ID: how many packets tshark gave it, split into plain
    packets (one IP layer, TCP/UDP/ICMP/ICMPv6 on it, not a fragment) and others."""
    cmd = ["tshark", "-n", "-r", path, "--enable-protocol", "communityid",
           "-o", "communityid.seed:%d" % seed, "-T", "fields", "-E", "occurrence=a",
           "-E", "separator=|", "-e", "communityid", "-e", "frame.protocols",
           "-e", "_ws.malformed", "-e", "ip.flags.mf", "-e", "ip.frag_offset",
           "-e", "ipv6.fraghdr.more", "-e", "ipv6.fraghdr.offset"]
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    plain, other = collections.Counter(), collections.Counter()
    malformed = 0  # frames tshark found malformed and gave no id
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        cols = line.split("|")
        if len(cols) < 3:
            continue
        if not cols[0]:
            malformed += bool(cols[2])
            continue
        ids = cols[0].split(",")
        layers = cols[1].split(":")
        nets = [x for x in layers if x in ("ip", "ipv6")]
        fragment = any(v not in ("", "0", "False") for c in cols[3:] for v in c.split(","))
        transports = [x for x in layers if x in ("tcp", "udp", "icmp", "icmpv6")]
        if len(ids) == 1 and len(nets) == 1 and len(transports) == 1 and not fragment:
            plain[ids[0]] += 1
        else:
            for i in ids:
                other[i] += 1
    return plain, other, malformed


def tshark_check(wl, path, seed):
    name = os.path.basename(path)
    recs = records(wl, path, "--community-id-seed", str(seed), "--all-attempts")
    pkts = collections.Counter()
    carriers = set()
    for r in recs:
        if r.get("type") == "conn":
            pkts[r["community_id"]] += r["orig_pkts"] + r["resp_pkts"]
            if r["proto"] == "udp" and {r["id.orig_p"], r["id.resp_p"]} & TUNNEL_PORTS:
                carriers.add(r["community_id"])
    plain, other, malformed = tshark_ids(path, seed)
    agree = skipped = 0
    for cid, n in sorted(pkts.items()):
        seen_plain, seen_other = plain.get(cid, 0), other.get(cid, 0)
        if cid in carriers and seen_plain + seen_other == 0:
            # A tunnel's own flow: tshark names its packets by the flow inside.
            skipped += 1
            continue
        seen = seen_plain + seen_other
        ok = (seen_plain == n or (seen_other > 0 and seen_plain <= n <= seen) or
              (malformed > 0 and seen < n <= seen + malformed))
        agree += ok
        check(ok, "%s seed %d: %s: wirelens %d packets, tshark %d plain + %d other "
              "(%d malformed without an id)" % (name, seed, cid, n, seen_plain, seen_other,
                                               malformed))
    if name not in BROKEN_ON_PURPOSE:
        unknown = sorted(set(plain) - set(pkts))
        check(not unknown, "%s seed %d: tshark's ids of plain packets not in wirelens' records: "
              "%s" % (name, seed, unknown[:5]))
    return agree, len(pkts) - skipped


def main():
    ap = pcaputil.arguments(__doc__, samples_required=True)
    args = ap.parse_args()
    wl = args.wirelens

    for seed, src, dst, proto, sport, dport, want in PUBLISHED:
        check(community_id(seed, src, dst, proto, sport, dport) == want,
              "the test's own implementation: %s > %s proto %d seed %d: %s, want %s" %
              (src, dst, proto, seed, community_id(seed, src, dst, proto, sport, dport), want))

    paths = captures(args)
    total = collections.Counter()
    for path in paths:
        name = os.path.basename(path)
        for seed, extra in ((0, ()), (1, ("--community-id-seed", "1")),
                            (65535, ("--community-id-seed", "65535")),
                            (0, ("--threads", "2")), (0, ("--stream",))):
            n = check_records("%s %s" % (name, " ".join(extra)), records(wl, path, *extra), seed)
            total[extra[0] if extra else "plain"] += n
    # Uploads: the sample of framed uploads has upload records (and conn_established in --stream).
    for sample in ("upload-v4.pcap", "upload-v6.pcap"):
        path = os.path.join(args.samples, sample)
        recs = records(wl, path, "--stream", "--community-id-seed", "7")
        kinds = collections.Counter(r.get("type") for r in recs if "community_id" in r)
        check(kinds["upload"] > 0 and kinds["conn_established"] > 0,
              "%s: records with a community_id: %s" % (sample, dict(kinds)))
        check_records(sample + " --stream seed 7", recs, 7)
    print("records checked:", dict(total))

    # The option's values.
    for bad in ("-1", "65536", "abc", "1.5", ""):
        p = subprocess.run([wl, "-r", os.path.join(args.samples, "refused-and-udp.pcap"),
                            "--community-id-seed", bad, "--json"], capture_output=True,
                           timeout=60)
        err = p.stderr.decode().strip()
        check(p.returncode == 1 and len(err.splitlines()) == 1 and
              "--community-id-seed" in err,
              "--community-id-seed %r: exit %d, %r" % (bad, p.returncode, err))
    p = subprocess.run([wl, "-r", os.path.join(args.samples, "refused-and-udp.pcap"),
                        "--community-id-seed", "65536"], capture_output=True, timeout=60)
    check(p.stderr.decode().strip() ==
          "wirelens: --community-id-seed 65536: must be a whole number from 0 to 65535",
          "--community-id-seed 65536: %r" % p.stderr.decode())

    # tshark, per flow.
    if shutil.which("tshark") is None:
        print("tshark not installed: no differential check")
    else:
        agree = flows = 0
        for path in paths:
            for seed in (0, 1):
                a, n = tshark_check(wl, path, seed)
                agree += a
                flows += n
        print("tshark: %d of %d community ids agree in packet counts" % (agree, flows))
        check(flows > 0, "tshark: no flow compared")
    return failures.finish()


if __name__ == "__main__":
    sys.exit(main())

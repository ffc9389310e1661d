#!/usr/bin/env python3
"""Differential test: wirelens' JSON packet records against tshark, field by field.

Captures compared
  * every samples/*.pcap(ng) and samples/linktypes/* (each read on its own, at
    most SAMPLE_LIMIT packets);
  * every classic-pcap corpus file of a link type wirelens decodes (Ethernet,
    Linux SLL/SLL2, null/loop, raw IP, 802.11 with radiotap/Prism/AVS, ATM),
    at most CORPUS_LIMIT records each.
    Starting tshark costs ~0.3 s, so these are merged, per link type, into one
    temporary pcap (whole records only, up to the first bad one), and each
    merged frame is mapped back to its file and packet number for reporting;
  * every pcapng corpus file whose interfaces all have one such link type
    (each on its own, at most CORPUS_LIMIT packets).
Both tools read the same file and the same number of frames; frame N of
tshark is wirelens' N-th packet record.

Which packets are compared
  * not those wirelens marks "malformed" (it stops decoding at that layer),
  * not those with "unsupported_link",
  * not those tshark marks with _ws.malformed or an error-level expert item
    (the skipped ones are counted and reported).

Comparison rules
  * The layer structure comes from tshark's frame.protocols: the link token,
    then the leading "vlan"/"ieee8021ad" tags ("ethertype" tokens skipped),
    then the network token, then - past IPv6 extension-header tokens
    ("ipv6.*", "ah") - the transport token.  Only this outermost stack is
    compared: wirelens does not decode tunnels (GRE, IP-in-IP, VXLAN, MPLS...)
    nor the packet quoted in an ICMP error, where tshark shows inner layers
    too.  For every field the FIRST occurrence in tshark's output is taken,
    which is the outermost one; VLAN ids are taken in order, as many as there
    are leading tag tokens (S-tags are ieee8021ad.id in tshark, not vlan.id).
  * 802.11 and LLC: tokens of the radio header, 802.11 and LLC/SNAP between the
    link and the network token are part of the link.  wlan.fc.type/subtype and
    wlan.bssid/sa/da/ra/ta, radiotap channel frequency and antenna signal,
    llc.dsap/ssap/oui and the SNAP protocol id (tshark's llc.type when the OUI is
    0, llc.pid or llc.cisco_pid otherwise; under another OUI-specific field it is
    not compared) are compared, each where either tool shows the layer.
  * Layer presence is compared too ("network", "transport"): when either tool
    sees IPv4/IPv6/ARP at the network slot, or TCP/UDP/ICMP/ICMPv6 at the
    transport slot, the other must see the same.
  * Values: MACs case-insensitively, IP addresses via the ipaddress module
    (so textual forms of IPv6 do not matter), numbers as integers (tshark's
    hexadecimal ones with base 0).  tcp.flags: tshark's field has 12 bits
    (3 reserved); wirelens reports the 9 defined ones, so tshark's is masked
    with 0x1ff.  tcp.ack_raw: tshark only shows it when the ACK flag is set;
    without ACK the comparison is not made.  payload_len is compared with
    tcp.len, except in a fragment, where tshark (no reassembly) shows no tcp.len.  IPv6: wirelens' ip.len is the payload length field + 40, so it is
    compared with ipv6.plen + 40; ip.proto is only compared for IPv4 (for IPv6
    wirelens reports the protocol after the extension chain, which the
    transport comparison covers).
  * A value wirelens reports and tshark does not (or the reverse, for a layer
    both decoded) is a disagreement.

Fails when any field disagrees on a compared packet, or when no packet was
compared; prints agreement per field and the first disagreements (file and
frame number).  Exit 0 pass, 1 fail, 77 skip (no tshark).  Stdlib only.
"""

import collections
import concurrent.futures
import ipaddress
import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402
import tshark_fields as tf  # noqa: E402

SAMPLE_LIMIT = 20000
CORPUS_LIMIT = 400
SHOW_DISAGREEMENTS = 25

# pcap LINKTYPE_ values wirelens decodes (as stored in files).
DECODED_LINKTYPES = {0: "null", 1: "ethernet", 12: "raw", 14: "raw", 101: "raw", 108: "loop",
                     113: "sll", 228: "ipv4", 229: "ipv6", 276: "sll2"}
# --- wired link layers (PPP, PPPoE, Cisco HDLC, frame relay, NFLOG; MPLS, PBB, VN-Tag,
# FabricPath shims). SLIP (8) is decoded but not compared: tshark shows its frames as "data".
DECODED_LINKTYPES.update({9: "ppp", 50: "ppp_serial", 51: "ppp_ether", 104: "chdlc",
                          107: "frelay", 239: "nflog"})
# Tokens of frame.protocols between the link token and the network one: the shims
# wirelens walks (an "eth" after one of them is the customer's frame of PBB, FabricPath
# or an MPLS pseudowire).
SHIM_TOKENS = {"pppoes", "ppp", "chdlc", "mpls", "ieee8021ah", "vntag", "cfp", "eth",
               "pwethheuristic", "pwethcw", "pwethnocw"}
# Their fields, read besides tshark_fields.FIELDS.
LINK_FIELDS = ["ppp.protocol", "pppoe.code", "pppoe.session_id", "mpls.label", "mpls.exp",
               "mpls.ttl", "chdlc.address", "chdlc.protocol", "fr.dlci", "fr.nlpid",
               "nflog.family", "nflog.res_id", "ieee8021ah.isid", "cfp.ftag", "cfp.ttl",
               "vntag.dst", "vntag.src"]
# --- end of the wired link layers
# 802.11 and ATM link types (links-wlan).
DECODED_LINKTYPES.update({100: "atm-rfc1483", 105: "ieee802-11", 106: "atm-clip", 119: "prism",
                          127: "radiotap", 163: "avs"})
# Solaris ipnet, IP over InfiniBand, PKTAP (LINKTYPE_PKTAP and Darwin's DLT_USER2).
DECODED_LINKTYPES.update({149: "pktap-user2", 226: "ipnet", 242: "ipoib", 258: "pktap"})
# Tokens after the link one that belong to PKTAP's header (tshark shows DLT_USER2 as
# "user_dlt", then "pktap"; the packet it carries begins with its own link token).
PKTAP_TOKENS = {"pktap", "pcap_pktdata"}

NETWORK_TOKENS = {"ip", "ipv6", "arp"}
TRANSPORT_TOKENS = {"tcp", "udp", "icmp", "icmpv6"}
# Tokens frame.protocols shows for IPv6 extension headers wirelens walks over.
IPV6_EXT_TOKENS = {"ah"}
# Tokens between the link token and the network one that wirelens decodes as part of the
# link: 802.11's radio headers (tshark's "wlan_radio" is its own summary of them), the
# 802.11 header, LLC/SNAP.
WLAN_LINK_TOKENS = {"radiotap", "prism", "wlancap", "wlan_radio", "wlan", "llc", "clip"}


class Job:
    """One file to read with both tools. `origin[i]` names the i-th frame."""

    def __init__(self, label, path, limit=None, origin=None):
        self.label = label
        self.path = path
        self.limit = limit
        self.origin = origin  # None: frame i is packet i of `label`


class Stats:
    def __init__(self):
        self.compared_packets = 0
        self.agree = collections.Counter()
        self.disagree = collections.Counter()
        self.disagreements = []  # (where, field, wirelens, tshark, protocols)
        self.skipped = collections.Counter()
        self.wl_only_malformed = []  # wirelens malformed, tshark without any error
        self.problems = []  # count mismatches, tool failures
        self.files = 0
        self.notes = collections.Counter()  # comparisons a documented rule left out


# ---------------------------------------------------------------------------
# The two views of one packet


def ts_shims(ts):
    """The shim tokens between the link token and the network token."""
    toks = ts["frame.protocols"][0].split(":") if ts["frame.protocols"] else []
    out = []
    for t in toks[1:]:
        if t in SHIM_TOKENS:
            out.append(t)
        elif t not in ("ethertype", "vlan", "ieee8021ad"):
            break
    return out


def ts_structure(ts):
    """(link token, outer VLAN ids, network token, transport token) from frame.protocols."""
    toks = ts["frame.protocols"][0].split(":") if ts["frame.protocols"] else []
    i = 0
    link = None
    if toks and toks[0] not in NETWORK_TOKENS and toks[0] not in ("ethertype", "vlan"):
        link = toks[0]
        i = 1
    while i < len(toks) and toks[i] in PKTAP_TOKENS:
        i += 1
    if link in ("user_dlt", "pktap") and i < len(toks) and toks[i] not in NETWORK_TOKENS:
        link = toks[i]  # the link type PKTAP names
        i += 1
    while i < len(toks) and toks[i] in WLAN_LINK_TOKENS:
        i += 1
    queues = {"vlan": list(ts["vlan.id"]), "ieee8021ad": list(ts["ieee8021ad.id"])}
    vlans = []
    while i < len(toks) and toks[i] in ("ethertype", "vlan", "ieee8021ad") + tuple(SHIM_TOKENS):
        if toks[i] in queues:
            q = queues[toks[i]]
            vlans.append(int(q.pop(0)) if q else None)
        i += 1
    network = toks[i] if i < len(toks) else None
    i += 1
    if network == "ipv6":
        while i < len(toks) and (toks[i].startswith("ipv6.") or toks[i] in IPV6_EXT_TOKENS):
            i += 1
    transport = toks[i] if network in ("ip", "ipv6") and i < len(toks) else None
    return link, vlans, network, transport


def wl_structure(rec):
    network = None
    if rec.get("ip.version") == 4:
        network = "ip"
    elif rec.get("ip.version") == 6:
        network = "ipv6"
    elif "arp.op" in rec:
        network = "arp"
    transport = None
    if "tcp.flags" in rec:
        transport = "tcp"
    elif "udp.length" in rec:
        transport = "udp"
    elif "icmp.type" in rec:
        transport = "icmp" if network == "ip" else "icmpv6"
    return rec.get("vlan", []), network, transport


def first(ts, field):
    vals = ts.get(field) or []
    return vals[0] if vals else None


def as_int(v):
    return None if v is None else int(v, 0) if isinstance(v, str) else int(v)


def as_ip(v):
    return None if v is None else ipaddress.ip_address(v)


def as_mac(v):
    return None if v is None else v.lower()


def is_isl(rec, toks):
    """Cisco ISL: tshark reads a frame to 01:00:0c:00:00:xx (or 03:...) as an ISL
    header followed by the encapsulated frame ("eth:eth:..."), and its eth.*
    fields are the inner frame's; wirelens reads the first 14 bytes as 802.3."""
    dst = (rec.get("eth.dst") or "").lower()
    return dst[:15] in ("01:00:0c:00:00:", "03:00:0c:00:00:") and toks[:2] == ["eth", "eth"]


def compare_packet(rec, ts, notes):
    """Yields (field, wirelens value, tshark value) for every comparison made;
    counts in `notes` where a documented rule stopped a comparison."""
    link, ts_vlans, ts_net, ts_tr = ts_structure(ts)
    wl_vlans, wl_net, wl_tr = wl_structure(rec)
    toks = ts["frame.protocols"][0].split(":") if ts["frame.protocols"] else []

    yield "frame.len", rec.get("len"), as_int(first(ts, "frame.len"))
    yield "frame.cap_len", rec.get("caplen"), as_int(first(ts, "frame.cap_len"))
    if is_isl(rec, toks):
        notes["ISL frame: tshark shows the encapsulated frame, not compared"] += 1
        return
    if toks[:2] == ["eth", "cfp"]:
        # FabricPath: tshark shows the outer addresses as switch ids, not eth.*; its
        # first eth.src is the classical frame's, wirelens' inner_eth.src.
        notes["FabricPath: tshark's eth.* are the inner frame's"] += 1
        yield "eth.src", as_mac(rec.get("inner_eth.src")), as_mac(first(ts, "eth.src"))
        yield "eth.dst", as_mac(rec.get("inner_eth.dst")), as_mac(first(ts, "eth.dst"))
    elif "eth.src" in rec or link == "eth":
        yield "eth.src", as_mac(rec.get("eth.src")), as_mac(first(ts, "eth.src"))
        yield "eth.dst", as_mac(rec.get("eth.dst")), as_mac(first(ts, "eth.dst"))
    if "sll.pkttype" in rec or link == "sll":
        yield "sll.pkttype", rec.get("sll.pkttype"), as_int(first(ts, "sll.pkttype"))
        if "sll.src" in rec or ts["sll.src.eth"]:
            yield "sll.src.eth", as_mac(rec.get("sll.src")), as_mac(first(ts, "sll.src.eth"))
    if wl_vlans or ts_vlans:
        yield "vlan.id", wl_vlans, ts_vlans
    if "wlan.type" in rec or "wlan" in toks[:3]:
        for f in ("wlan.fc.type", "wlan.fc.subtype"):
            yield f, rec.get(f.replace(".fc", "")), as_int(first(ts, f))
        for f in ("wlan.bssid", "wlan.sa", "wlan.da", "wlan.ra", "wlan.ta"):
            yield f, as_mac(rec.get(f)), as_mac(first(ts, f))
    if "radiotap.freq" in rec or ts["radiotap.channel.freq"]:
        yield "radiotap.channel.freq", rec.get("radiotap.freq"), as_int(
            first(ts, "radiotap.channel.freq"))
    if "radiotap.signal" in rec or ts["radiotap.dbm_antsignal"]:
        yield "radiotap.dbm_antsignal", rec.get("radiotap.signal"), as_int(
            first(ts, "radiotap.dbm_antsignal"))
    if toks[:3] == ["fr", "eth", "llc"] and "llc.dsap" not in rec and "fr.nlpid" not in rec:
        # A frame relay frame with no NLPID (a fuzzed address): tshark guesses an
        # 802.3 frame inside; wirelens decodes nothing past the address.
        notes["frame relay without NLPID: tshark guesses Ethernet, not compared"] += 1
    elif "llc.dsap" in rec or "llc" in toks[:5]:
        for f in ("llc.dsap", "llc.ssap", "llc.oui"):
            yield f, rec.get(f), as_int(first(ts, f))
        # tshark names the SNAP protocol id by OUI: llc.type (an ethertype), llc.cisco_pid...
        ts_pid = next((first(ts, f) for f in ("llc.type", "llc.pid", "llc.cisco_pid")
                       if ts[f]), None)
        if ts_pid is None and "llc.pid" in rec:
            notes["SNAP PID under an OUI-specific tshark field: not compared"] += 1
        else:
            yield "llc.pid", rec.get("llc.pid"), as_int(ts_pid)
    yield from compare_link_shims(rec, ts, link, toks)
    if "mpls" in toks and toks[toks.index("mpls") + 1:][:1] == ["data"] and "inner_eth.src" in rec:
        # After a stack whose payload starts with neither 0 (a control word), 4 nor 6,
        # wirelens reads an Ethernet pseudowire without control word; this tshark shows
        # data (README: an intended difference).
        notes["MPLS payload: wirelens reads a pseudowire, tshark data"] += 1
        return

    if ts_net == "arp" and rec.get("eth.type") != 0x0806:
        # tshark's ARP dissector also takes RARP (0x8035); wirelens decodes ARP only.
        notes["RARP (or ARP under another ethertype): only tshark decodes it"] += 1
        ts_net = "arp-ethertype-%s" % rec.get("eth.type")
    if wl_net in NETWORK_TOKENS or ts_net in NETWORK_TOKENS:
        yield "network", wl_net, ts_net
    if wl_net != ts_net:
        return
    if wl_net == "arp":
        yield "arp.opcode", rec.get("arp.op"), as_int(first(ts, "arp.opcode"))
        # wirelens reports addresses for Ethernet/IPv4 ARP only; tshark shows the
        # IPv4 ones for any hardware type, so compare the shape, then the addresses.
        shape = [as_int(first(ts, f)) for f in
                 ("arp.hw.type", "arp.proto.type", "arp.hw.size", "arp.proto.size")]
        ts_ether_ipv4 = shape == [1, 0x0800, 6, 4]
        yield "arp.ether_ipv4", "arp.src_ip" in rec, ts_ether_ipv4
        if "arp.src_ip" in rec and ts_ether_ipv4:
            for wl_key, ts_key, conv in (("arp.src_mac", "arp.src.hw_mac", as_mac),
                                         ("arp.src_ip", "arp.src.proto_ipv4", as_ip),
                                         ("arp.dst_mac", "arp.dst.hw_mac", as_mac),
                                         ("arp.dst_ip", "arp.dst.proto_ipv4", as_ip)):
                yield ts_key, conv(rec.get(wl_key)), conv(first(ts, ts_key))
        return
    wl_frag = (rec.get("ip.frag_offset", 0), int(rec.get("ip.more_fragments", False)))
    if wl_net == "ip":
        yield "ip.src", as_ip(rec.get("ip.src")), as_ip(first(ts, "ip.src"))
        yield "ip.dst", as_ip(rec.get("ip.dst")), as_ip(first(ts, "ip.dst"))
        yield "ip.ttl", rec.get("ip.ttl"), as_int(first(ts, "ip.ttl"))
        yield "ip.proto", rec.get("ip.proto"), as_int(first(ts, "ip.proto"))
        yield "ip.len", rec.get("ip.len"), as_int(first(ts, "ip.len"))
        off, mf = as_int(first(ts, "ip.frag_offset")), as_int(first(ts, "ip.flags.mf"))
        yield "ip.fragment", wl_frag, (None if off is None else off * 8, mf)
    elif wl_net == "ipv6":
        yield "ipv6.src", as_ip(rec.get("ip.src")), as_ip(first(ts, "ipv6.src"))
        yield "ipv6.dst", as_ip(rec.get("ip.dst")), as_ip(first(ts, "ipv6.dst"))
        yield "ipv6.hlim", rec.get("ip.ttl"), as_int(first(ts, "ipv6.hlim"))
        plen = as_int(first(ts, "ipv6.plen"))
        yield "ipv6.plen", rec.get("ip.len"), None if plen is None else plen + 40
        if "ip.frag_offset" in rec or "ipv6.fraghdr" in toks:
            off = as_int(first(ts, "ipv6.fraghdr.offset"))
            mf = as_int(first(ts, "ipv6.fraghdr.more"))
            yield "ipv6.fraghdr", wl_frag, (None if off is None else off * 8, mf)
    else:
        return

    if wl_tr in TRANSPORT_TOKENS or ts_tr in TRANSPORT_TOKENS:
        yield "transport", wl_tr, ts_tr
    if wl_tr != ts_tr:
        return
    if wl_tr == "tcp":
        yield "tcp.srcport", rec.get("src_port"), as_int(first(ts, "tcp.srcport"))
        yield "tcp.dstport", rec.get("dst_port"), as_int(first(ts, "tcp.dstport"))
        flags = as_int(first(ts, "tcp.flags"))
        yield "tcp.flags", rec.get("tcp.flags"), None if flags is None else flags & 0x1FF
        yield "tcp.seq_raw", rec.get("tcp.seq"), as_int(first(ts, "tcp.seq_raw"))
        if rec.get("tcp.flags", 0) & 0x10 or ts["tcp.ack_raw"]:
            yield "tcp.ack_raw", rec.get("tcp.ack"), as_int(first(ts, "tcp.ack_raw"))
        yield "tcp.window_size_value", rec.get("tcp.win"), as_int(
            first(ts, "tcp.window_size_value"))
        yield "tcp.hdr_len", rec.get("tcp.hdr_len"), as_int(first(ts, "tcp.hdr_len"))
        if "ip.frag_offset" in rec and not ts["tcp.len"]:
            # In a fragment, without reassembly, tshark cannot know the segment length
            # and shows no tcp.len; wirelens reports the payload this fragment carries.
            notes["TCP in a first fragment: tshark shows no tcp.len"] += 1
        else:
            yield "tcp.len", rec.get("payload_len"), as_int(first(ts, "tcp.len"))
    elif wl_tr == "udp":
        yield "udp.srcport", rec.get("src_port"), as_int(first(ts, "udp.srcport"))
        yield "udp.dstport", rec.get("dst_port"), as_int(first(ts, "udp.dstport"))
        yield "udp.length", rec.get("udp.length"), as_int(first(ts, "udp.length"))
    elif wl_tr in ("icmp", "icmpv6"):
        yield wl_tr + ".type", rec.get("icmp.type"), as_int(first(ts, wl_tr + ".type"))
        yield wl_tr + ".code", rec.get("icmp.code"), as_int(first(ts, wl_tr + ".code"))


def compare_link_shims(rec, ts, link, toks):
    """The wired link layers' own fields (PPP, PPPoE, MPLS, Cisco HDLC, frame relay,
    NFLOG, PBB, FabricPath, VN-Tag), where tshark shows the layer before the network."""
    shims = ts_shims(ts)
    if "ppp.protocol" in rec or "ppp" in shims or link == "ppp":
        yield "ppp.protocol", rec.get("ppp.protocol"), as_int(first(ts, "ppp.protocol"))
    if "pppoe.code" in rec or "pppoes" in shims or link == "pppoes":
        yield "pppoe.code", rec.get("pppoe.code"), as_int(first(ts, "pppoe.code"))
        yield "pppoe.session_id", rec.get("pppoe.session"), as_int(first(ts, "pppoe.session_id"))
    if "mpls.labels" in rec or "mpls" in shims:
        # tshark lists the labels of every stack; a stack after the network layer (MPLS
        # over UDP or GRE) is not wirelens' packet's: compare as many as wirelens has.
        n = len(rec.get("mpls.labels", []))
        whole = toks.count("mpls") == shims.count("mpls")
        for wl_key, ts_key in (("mpls.labels", "mpls.label"), ("mpls.tc", "mpls.exp"),
                               ("mpls.ttl", "mpls.ttl")):
            ts_vals = [as_int(v) for v in ts[ts_key]]
            yield ts_key, rec.get(wl_key), ts_vals if whole else ts_vals[:n] or None
    if "chdlc.protocol" in rec or link == "chdlc":
        yield "chdlc.address", rec.get("chdlc.address"), as_int(first(ts, "chdlc.address"))
        yield "chdlc.protocol", rec.get("chdlc.protocol"), as_int(first(ts, "chdlc.protocol"))
    if "fr.dlci" in rec or link == "fr":
        yield "fr.dlci", rec.get("fr.dlci"), as_int(first(ts, "fr.dlci"))
        # Only in RFC 2427's form: on a control octet other than UI, tshark still
        # reads an NLPID (after "padding") that wirelens does not.
        # tshark shows a 0x00 pad before an NLPID as an NLPID of its own: its last one counts.
        if "fr.nlpid" in rec:
            nlpids = ts["fr.nlpid"]
            yield "fr.nlpid", rec.get("fr.nlpid"), as_int(nlpids[-1]) if nlpids else None
    if "nflog.family" in rec or link == "nflog":
        yield "nflog.family", rec.get("nflog.family"), as_int(first(ts, "nflog.family"))
        yield "nflog.res_id", rec.get("nflog.resource_id"), as_int(first(ts, "nflog.res_id"))
    if "pbb.isid" in rec or "ieee8021ah" in shims:
        yield "ieee8021ah.isid", rec.get("pbb.isid"), as_int(first(ts, "ieee8021ah.isid"))
    if "fabricpath.ftag" in rec or "cfp" in shims:
        yield "cfp.ftag", rec.get("fabricpath.ftag"), as_int(first(ts, "cfp.ftag"))
        yield "cfp.ttl", rec.get("fabricpath.ttl"), as_int(first(ts, "cfp.ttl"))
    if "vntag.dst_vif" in rec or "vntag" in shims:
        yield "vntag.dst", rec.get("vntag.dst_vif"), as_int(first(ts, "vntag.dst"))
        yield "vntag.src", rec.get("vntag.src_vif"), as_int(first(ts, "vntag.src"))


# ---------------------------------------------------------------------------
# Building the jobs


def corpus_jobs(corpus, tmp):
    """Merged per-link-type pcaps of the classic corpus files, plus pcapng files."""
    merged = collections.defaultdict(list)  # linktype -> [(data, wire_len, origin)]
    ng_jobs = []
    for name in sorted(os.listdir(corpus)):
        path = os.path.join(corpus, name)
        if not os.path.isfile(path):
            continue
        kind, lt = pu.capture_kind(path)
        if kind == "pcap" and lt in DECODED_LINKTYPES:
            for i, rec in enumerate(pu.read_pcap(path).records[:CORPUS_LIMIT]):
                merged[lt].append((rec.data, rec.wire_len, (name, i + 1)))
        elif kind == "pcapng" and lt and len(set(lt)) == 1 and lt[0] in DECODED_LINKTYPES:
            ng_jobs.append(Job(name, path, limit=CORPUS_LIMIT))
    jobs = []
    for lt, recs in sorted(merged.items()):
        path = os.path.join(tmp, "corpus-linktype-%d.pcap" % lt)
        pu.write_pcap(path, lt, [(d, w, 1000000000 + i, 0) for i, (d, w, _) in enumerate(recs)])
        jobs.append(Job("corpus linktype %d (%s)" % (lt, DECODED_LINKTYPES[lt]), path,
                        origin=[o for _, _, o in recs]))
    return jobs + ng_jobs


# --- wired link layers: crafted captures, one per link type and shim, each frame built
# here byte by byte (tshark is the reference for every field, as for the corpus).


def _ipv4_udp(src, dst, sport, dport, payload, ttl=64):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0, ttl, 17, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", pu.checksum(hdr)) + hdr[12:]
    return hdr + udp


def _ipv4_syn(src, dst, sport, dport, ttl=64):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 0x50, 0x02, 65535, 0, 0)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x4321, 0x4000, ttl, 6, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", pu.checksum(hdr)) + hdr[12:]
    return hdr + tcp


def _ipv6_udp(sport, dport, payload):
    src = bytes([0xfd, 0, 0, 0x5e] + [0] * 11 + [1])
    dst = bytes([0xfd, 0, 0, 0x5e] + [0] * 11 + [2])
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!IxxxB", len(udp), 17)
    udp = udp[:6] + struct.pack("!H", pu.checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    return struct.pack("!IHBB", 0x60000000, len(udp), 17, 33) + src + dst + udp


def _mpls(label, tc, bottom, ttl):
    return struct.pack("!I", (label << 12) | (tc << 9) | (0x100 if bottom else 0) | ttl)


def _eth(ethertype, rest, dst=b"\x00\x00\x0c\x07\xac\x01", src=b"\x00\x1b\x21\x3a\x4f\x5e"):
    return dst + src + struct.pack("!H", ethertype) + rest


def crafted_captures():
    """(name, linktype, [frames]) of the wired link layers."""
    a, b = (198, 18, 0, 1), (198, 18, 0, 2)
    syn = _ipv4_syn(a, b, 40000, 80)
    dns = _ipv4_udp(b, a, 53, 40001, b"\x12\x34" + b"\x00" * 10)
    v6 = _ipv6_udp(5353, 5353, b"\x00" * 12)
    # Customer MACs of PBB, FabricPath and pseudowires: locally administered ones (first
    # nibble 0xa: no control word) and Cisco/Intel ones, which tshark's pseudowire
    # heuristic scores higher after a control word than without one.
    inner = bytes([0xa2, 0, 0, 0, 0, 1, 0xa2, 0, 0, 0, 0, 2])
    vendors = bytes([0x00, 0x00, 0x0c, 0x07, 0xac, 0x01, 0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e])
    pppoe_s = lambda ppp: struct.pack("!BBHH", 0x11, 0, 0x2a, len(ppp)) + ppp
    nflog_tlv = lambda t, v: struct.pack("<HH", 4 + len(v), t) + v + b"\0" * (-len(v) % 4)
    return [
        ("ppp", 9, [b"\xff\x03\x00\x21" + syn, b"\x00\x21" + dns, b"\xff\x03\x00\x57" + v6,
                    b"\xff\x03\x02\x81" + _mpls(16, 0, True, 64) + syn,
                    b"\xff\x03\xc0\x21\x01\x01\x00\x04"]),
        ("ppp_serial", 50, [b"\xff\x03\x00\x21" + syn, b"\x0f\x00\x08\x00" + dns]),
        ("ppp_ether", 51, [pppoe_s(b"\x00\x21" + syn), pppoe_s(b"\x00\x57" + v6)]),
        ("chdlc", 104, [b"\x0f\x00\x08\x00" + syn, b"\x8f\x00\x86\xdd" + v6]),
        ("frelay", 107, [b"\x18\x41\x03\xcc" + syn, b"\x18\x41\x08\x00" + dns,
                         b"\x18\x41\x03\x8e" + v6,
                         b"\x18\x41\x03\x00\x80\x00\x00\x00\x08\x00" + syn]),
        ("nflog", 239, [b"\x02\x00\x00\x07" + nflog_tlv(10, b"wl-test\0") + nflog_tlv(9, syn),
                        b"\x0a\x00\x00\x07" + nflog_tlv(9, v6)]),
        ("ethernet-shims", 1, [
            _eth(0x8864, pppoe_s(b"\x00\x21" + syn)),
            _eth(0x8863, struct.pack("!BBHH", 0x11, 0x09, 0, 4) + b"\x01\x01\x00\x00"),
            _eth(0x8847, _mpls(100, 5, False, 64) + _mpls(200, 0, True, 63) + syn),
            _eth(0x8847, _mpls(300, 0, True, 9) + v6),
            _eth(0x8847, _mpls(30, 0, True, 9) + b"\0\0\0\0" + vendors + b"\x08\x00" + dns),
            _eth(0x8847, _mpls(31, 0, True, 9) + inner + b"\x08\x00" + syn),
            _eth(0x88e7, b"\x60\x01\x02\x03" + inner + b"\x08\x00" + syn),
            _eth(0x8926, b"\x81\x23\x00\x45\x08\x00" + dns),
            # FabricPath: tshark reads the inner frame with its FCS.
            _eth(0x8903, b"\x00\x60" + inner + b"\x08\x00" + syn + b"\x12\x34\x56\x78"),
        ]),
    ]


def crafted_jobs(tmp):
    jobs = []
    for name, lt, frames in crafted_captures():
        path = os.path.join(tmp, "crafted-%s-%d.pcap" % (name, lt))
        pu.write_pcap(path, lt, [(f, len(f), 1700000000 + i, 0) for i, f in enumerate(frames)])
        jobs.append(Job("crafted %s (%d)" % (name, lt), path))
    return jobs
# --- end of the wired link layers' crafted captures


def where(job, frame):
    if job.origin is not None:
        name, idx = job.origin[frame - 1]
        return "corpus %s packet %d (merged %s frame %d)" % (
            name, idx, os.path.basename(job.path), frame)
    return "%s frame %d" % (job.label, frame)


# ---------------------------------------------------------------------------


def run_job(wirelens, job):
    args = ["--packets", "-r", job.path] + (["-c", str(job.limit)] if job.limit else [])
    wl = pu.wirelens_json(wirelens, args, timeout=300)
    ts, ts_rc, ts_err = tf.read(job.path, job.limit, fields=tf.FIELDS + LINK_FIELDS)
    return job, wl, ts, ts_rc, ts_err


def check_job(st, job, wl, ts, ts_rc, ts_err):
    st.files += 1 if job.origin is None else len({o[0] for o in job.origin})
    if pu.crashed(wl.rc):
        st.problems.append("%s: wirelens crashed: %s" % (job.label, wl.describe()))
        return
    if wl.rc == pu.EXIT_ERROR:
        if ts:
            st.problems.append("%s: wirelens cannot read it (%s) but tshark reads %d frames"
                               % (job.label, wl.describe(), len(ts)))
        return
    if len(wl.packets) != len(ts) and wl.rc == 0 and ts_rc == 0:
        st.problems.append("%s: wirelens reads %d packets, tshark %d frames"
                           % (job.label, len(wl.packets), len(ts)))
    for n, (rec, tsp) in enumerate(zip(wl.packets, ts), start=1):
        if as_int(first(tsp, "frame.number")) != n:
            st.problems.append("%s: tshark frame numbers out of step at %d" % (job.label, n))
            return
        if job.label.startswith("crafted") and (
                rec.get("unsupported_link") or "malformed" in rec or tf.has_error(tsp)):
            st.problems.append("%s frame %d: not compared (wirelens %s, tshark error %s)"
                               % (job.label, n, rec.get("malformed") or
                                  rec.get("unsupported_link"), tf.has_error(tsp)))
        if rec.get("unsupported_link"):
            st.skipped["unsupported link"] += 1
            continue
        ts_error = tf.has_error(tsp)
        if "malformed" in rec:
            st.skipped["wirelens malformed"] += 1
            snapped = rec["caplen"] < rec["len"] and rec["malformed"].endswith(".truncated")
            if not ts_error and not snapped:
                st.wl_only_malformed.append((where(job, n), rec["malformed"],
                                             first(tsp, "frame.protocols")))
            continue
        if ts_error:
            st.skipped["tshark malformed/error"] += 1
            continue
        st.compared_packets += 1
        for field, a, b in compare_packet(rec, tsp, st.notes):
            if a == b:
                st.agree[field] += 1
            else:
                st.disagree[field] += 1
                st.disagreements.append((where(job, n), field, a, b,
                                         first(tsp, "frame.protocols")))


def main():
    ap = pu.arguments(__doc__, default="")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every disagreement")
    ap.add_argument("--linktypes", help="comma-separated LINKTYPE_ values: only corpus files"
                    " of these, no samples (a quicker run while working on one link type)")
    args = ap.parse_args()
    if not tf.available():
        pu.skip("tshark is not installed: the differential test needs it")
    missing = tf.missing_fields(tf.FIELDS + LINK_FIELDS)
    if missing:
        print("FAIL: this tshark lacks fields: %s" % ", ".join(missing))
        return 1
    print("using %s" % tf.version())
    start = time.monotonic()

    st = Stats()
    with tempfile.TemporaryDirectory(prefix="wirelens-tshark-") as tmp:
        jobs = [Job(os.path.relpath(p, args.samples), p, limit=SAMPLE_LIMIT)
                for p in pu.sample_captures(args.samples)] if not args.linktypes else []
        if args.linktypes:
            only = {int(x, 0) for x in args.linktypes.split(",")}
            for lt in list(DECODED_LINKTYPES):
                if lt not in only:
                    del DECODED_LINKTYPES[lt]
        n_samples = len(jobs)
        jobs += crafted_jobs(tmp)
        if args.corpus and os.path.isdir(args.corpus):
            jobs += corpus_jobs(args.corpus, tmp)
        print("%d sample captures, %d corpus jobs" % (n_samples, len(jobs) - n_samples))
        if not jobs:
            pu.skip("no samples in %s and no corpus in %s" % (args.samples, args.corpus))
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for result in pool.map(lambda j: run_job(args.wirelens, j), jobs):
                check_job(st, *result)

    print("\n%d files, %d packets compared in %.1f s; skipped: %s"
          % (st.files, st.compared_packets, time.monotonic() - start,
             ", ".join("%s %d" % kv for kv in sorted(st.skipped.items())) or "none"))
    print("%-24s %9s %9s" % ("field", "agree", "disagree"))
    for field in sorted(set(st.agree) | set(st.disagree)):
        print("%-24s %9d %9d" % (field, st.agree[field], st.disagree[field]))
    for note, n in sorted(st.notes.items()):
        print("rule applied %d times: %s" % (n, note))
    if st.wl_only_malformed:
        print("\n%d packets (not cut by the snap length) wirelens marks malformed where tshark"
              " has no error-level item; not a failure:" % len(st.wl_only_malformed))
        for w, why, protos in st.wl_only_malformed[:(None if args.verbose else 12)]:
            print("  %s: %s [%s]" % (w, why, protos))

    failed = False
    for p in st.problems:
        print("FAIL: " + p)
        failed = True
    if st.disagreements:
        failed = True
        shown = st.disagreements if args.verbose else st.disagreements[:SHOW_DISAGREEMENTS]
        print("\nFAIL: %d disagreements on well-formed packets (first %d):"
              % (len(st.disagreements), len(shown)))
        for w, field, a, b, protos in shown:
            print("  %s: %s wirelens=%s tshark=%s [%s]" % (w, field, a, b, protos))
    if st.compared_packets == 0:
        print("FAIL: no packet was compared")
        failed = True
    print("test_tshark_diff: %s" % ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

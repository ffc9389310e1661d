"""Running tshark and reading its `-T fields` output (python3 standard library only).

Each packet becomes a dict: field name -> list of string values, one per
occurrence in tshark's protocol tree, outermost first (-E occurrence=a joins
them with ','). A field tshark did not show maps to an empty list.

Not a test itself: CMake only registers tests/e2e/test_*.py.
"""

import shutil
import subprocess

# Raw header values only: no relative sequence numbers, no reassembly or
# defragmentation that would move fields between frames, no name resolution.
PREFERENCES = [
    "tcp.relative_sequence_numbers:FALSE",
    "tcp.analyze_sequence_numbers:FALSE",
    "ip.defragment:FALSE",
    "ipv6.defragment:FALSE",
]

FIELDS = [
    "frame.number",
    "frame.len",
    "frame.cap_len",
    "frame.protocols",
    "_ws.malformed",
    "_ws.expert.severity",
    "eth.src",
    "eth.dst",
    "sll.pkttype",
    "sll.src.eth",
    "vlan.id",
    "ieee8021ad.id",  # 802.1ad S-tags (TPID 0x88a8) are not vlan.id in tshark
    "wlan.fc.type",
    "wlan.fc.subtype",
    "wlan.bssid",
    "wlan.sa",
    "wlan.da",
    "wlan.ra",
    "wlan.ta",
    "radiotap.channel.freq",
    "radiotap.dbm_antsignal",
    "llc.dsap",
    "llc.ssap",
    "llc.oui",
    "llc.type",  # the SNAP PID when the OUI is 0 (an ethertype)
    "llc.pid",
    "llc.cisco_pid",
    "arp.hw.type",
    "arp.proto.type",
    "arp.hw.size",
    "arp.proto.size",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.proto",
    "ip.len",
    "ip.flags.mf",
    "ip.frag_offset",  # in 8-byte units
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.plen",
    "ipv6.fraghdr.offset",  # in 8-byte units
    "ipv6.fraghdr.more",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.window_size_value",
    "tcp.hdr_len",
    "tcp.len",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
]

# Expert-info severity of an error (PI_ERROR in epan/proto.h).
PI_ERROR = 0x00800000


def available():
    return shutil.which("tshark") is not None


def version():
    p = subprocess.run(["tshark", "--version"], capture_output=True, text=True)
    return p.stdout.splitlines()[0] if p.stdout else "tshark (unknown version)"


def missing_fields(fields=FIELDS):
    """Fields this tshark does not know (tshark -G fields)."""
    p = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True)
    known = set()
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) > 2 and cols[0] == "F":
            known.add(cols[2])
    known.update({"_ws.malformed", "_ws.expert.severity"})
    return [f for f in fields if f not in known]


def command(path, count=None, fields=FIELDS):
    cmd = ["tshark", "-n", "-r", path]
    if count:
        cmd += ["-c", str(count)]
    cmd += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]
    for pref in PREFERENCES:
        cmd += ["-o", pref]
    for f in fields:
        cmd += ["-e", f]
    return cmd


def read(path, count=None, fields=FIELDS, timeout=300):
    """Returns (packets, returncode, stderr): packets is a list of dicts, in frame order."""
    p = subprocess.run(command(path, count, fields), capture_output=True, timeout=timeout)
    packets = []
    for line in p.stdout.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        cols = line.split("\t")
        cols += [""] * (len(fields) - len(cols))
        packets.append({f: (c.split(",") if c else []) for f, c in zip(fields, cols)})
    err = "\n".join(
        l for l in p.stderr.decode("utf-8", "replace").splitlines() if "Running as user" not in l
    )
    return packets, p.returncode, err


def has_error(pkt):
    """tshark found the frame malformed or raised an error-level expert item."""
    protos = pkt["frame.protocols"][0].split(":") if pkt["frame.protocols"] else []
    if pkt["_ws.malformed"] or "_ws.malformed" in protos:
        return True
    for sev in pkt["_ws.expert.severity"]:
        try:
            if int(sev, 0) >= PI_ERROR:
                return True
        except ValueError:
            pass
    return False

#!/usr/bin/env python3
"""Hostile inputs end to end: the real binary, --extract into a trap.

Every run reads one hostile capture with `--json --extract DIR` (plus options), in
a workspace built to catch writes where none may happen: DIR is pre-seeded with a
victim file and with symlinks named like the uploads the inputs carry (to a
sentinel file outside DIR, relatively and absolutely, dangling to a name outside,
and to the outside folder); wirelens runs in an empty working folder. After every
run, asserted:
  * no crash and no hang: the exit code is one wirelens uses on purpose (0, 2, and
    1 only where the input cannot be opened), never a signal or a sanitizer's 99,
    nothing from a sanitizer on stderr, and the run ends within TIMEOUT seconds;
  * every stdout line is JSON and the stats record is there (unless exit 1);
  * nothing outside DIR changed (every file, link and folder of the workspace but
    DIR, hashed before and after, the sentinel among them), the working folder is
    still empty, and the seeds in DIR are exactly as they were (the victim's bytes,
    each symlink still a symlink with the same target);
  * what appeared in DIR are regular files (never symlinks, never temporary
    .wirelens-*.tmp leftovers) with safe names, each one named by an upload
    record's "extracted", and every "extracted" exists.

Inputs, and what each must give beyond that:
  * Lengths that lie at every layer, one frame each (Ethernet, VLAN, ARP, IPv4 IHL,
    total length and options, IPv6 payload length, extension headers longer than
    the packet, looping and running to its end, TCP data offset, TCP options of
    length 0 and 1, UDP length, ICMP and ICMPv6): each packet record names the
    expected LAYER.REASON and stats.malformed_by counts exactly those; tunnels
    nested 10 deep (IP-in-IP, GRE) are followed 4 levels down (stats tunneled).
  * Framed uploads: length prefixes -1, INT_MIN, 0, 2^31-1 and 0xFFFFFFFF as the
    first frame (no upload) and after a good one (bad_length); headers that are not
    JSON, not UTF-8, 100,000 '[' deep, or 70,000 bytes (beyond --max-header: then
    bad_length; with --max-header 200000: bad_header for the nesting, accepted for
    the big one); sizes far beyond the stream (2^50: refused too_large; 2^50+1 and
    negative: bad_size; 10^9 with 100 bytes sent: incomplete, refused); a
    retransmission rewriting the header with other bytes, one over bytes still
    buffered and one shifted over delivered bytes (the first copy wins: the name
    stays the seeded symlink's, carved beside it, digest_ok true; anomaly records
    and stats.reassembly.inconsistent for the first two); a receiver acknowledging
    half a gigabyte past the 100 bytes sent of a body declared 1 GiB - 1: the gap
    is a hole in the .partial, not half a gigabyte of zeros on disk.
  * Capture files: caplen > len, caplen 0xFFFFFFFF (first record and later), snap
    length 1 / 0 / 0xFFFFFFFF over an upload capture, wire length 0 and
    0xFFFFFFFF, timestamps past 2038 and at 2^32-1 s, empty, not a capture at all,
    pcapng with bad block lengths (below 12, not a multiple of 4, huge, trailer
    mismatch, a caplen past its block, no interface, bad byte order), and an upload
    capture in pcap and pcapng cut at every offset of its first data records (and
    at a stride beyond): exit code and packet count against the file's structure.
  * Held-out hostile inputs: a few hundred mutants (byte flips, overwritten runs,
    truncations; fixed seed) of samples/*.pcap and of a few corpus captures, half
    of them with --upload-port forcing framed decoding.

Usage: test_hostile.py --wirelens PATH --samples DIR --corpus DIR
Exit 0 pass, 1 fail, 77 skip.  Standard library only; deterministic.
"""

import concurrent.futures
import hashlib
import json
import os
import queue
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402
import tcpcraft as tc  # noqa: E402  (crafting: Capture, Conn, framed)
import test_uploads as tu  # noqa: E402  (file_fingerprint, snapshot)

TIMEOUT = 60  # seconds: a run that takes longer is a hang
WORKERS = 2
MUTANTS = 240

# Names the inputs' uploads carry, planted in DIR before every run.
SENTINEL = "sentinel.txt"
VICTIM = "victim.txt"
VICTIM_BYTES = b"VICTIM: an existing file in DIR, never to be overwritten\n"
SEEDS = {  # name in DIR -> symlink target ("{outside}" is the outside folder)
    "hello-1k.txt": "{outside}/" + SENTINEL,  # absolute, to the sentinel
    "random-128k.bin": "../outside/" + SENTINEL,  # relative, to the sentinel
    "empty.bin": "{outside}/created-through-a-link",  # dangling
    "outdir": "{outside}",  # the outside folder itself
}


def sanitizer_trace(stderr):
    return any(s in stderr for s in ("runtime error:", "AddressSanitizer", "LeakSanitizer",
                                     "UndefinedBehaviorSanitizer"))


def salvage(line):
    """An upload record whose "header" is not JSON, read without it (the line is still
    reported as not JSON): the checks of its other fields stay meaningful."""
    m = re.match(r'(\{"type":"upload".*?),"header":.*?'
                 r'(,"(?:file_name|declared_size|received)":.*)$', line, re.S)
    if not m:
        return None
    try:
        rec = json.loads(m.group(1) + m.group(2))
    except (ValueError, RecursionError):
        return None
    rec["header_not_json"] = True
    return rec


class Result:
    """One run: exit code, records by type, lines that are not JSON, stderr."""

    def __init__(self, rc, stdout, stderr):
        self.rc, self.stderr = rc, stderr
        self.stderr_lines = stderr.splitlines()
        self.packets, self.uploads, self.anomalies, self.bad_lines = [], [], [], []
        self.stats = None
        for line in stdout.decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):
                self.bad_lines.append(line[:300])
                rec = salvage(line)
                if rec is None:
                    continue
            t = rec.get("type") if isinstance(rec, dict) else None
            if t == "stats":
                self.stats = rec
            elif t == "packet":
                self.packets.append(rec)
            elif t == "upload":
                self.uploads.append(rec)
            elif t == "anomaly":
                self.anomalies.append(rec)

    def orig(self, port):
        """The upload records sent by the originator of the connection from `port`."""
        return [u for u in self.uploads if u["id.orig_p"] == port and u["dir"] == "orig"]


class Jail:
    """A workspace: root/outside (the sentinel, targets), root/dir (--extract DIR,
    seeded), root/cwd (wirelens' working folder). One per worker."""

    def __init__(self, base, name, siblings):
        self.siblings = sorted(siblings)
        self.root = os.path.join(base, name)
        self.outside = os.path.join(self.root, "outside")
        self.dir = os.path.join(self.root, "dir")
        self.cwd = os.path.join(self.root, "cwd")
        for d in (self.outside, self.dir, self.cwd):
            os.makedirs(d)
        with open(os.path.join(self.outside, SENTINEL), "wb") as fh:
            fh.write(b"SENTINEL outside DIR: must never change\n")
        with open(os.path.join(self.dir, VICTIM), "wb") as fh:
            fh.write(VICTIM_BYTES)
        for name, target in SEEDS.items():
            os.symlink(target.format(outside=self.outside), os.path.join(self.dir, name))
        self.seeds = self.dir_state()
        self.outside_state = tu.snapshot(self.root, self.dir)
        self.sentinel = tu.file_fingerprint(os.path.join(self.outside, SENTINEL))

    def run(self, f, label, path, extra=(), allow_error=False, timeout=TIMEOUT, inspect=None):
        """Runs wirelens on `path` with --extract DIR; checks the trap; empties DIR of
        what the run carved (after checking it, and after inspect(DIR, result)) so the
        next run sees the seeds only."""
        cmd = [WIRELENS, "-r", path, "--json", "--no-progress", "--extract", self.dir]
        cmd += list(extra)
        try:
            p = subprocess.run(cmd, cwd=self.cwd, capture_output=True, timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:  # killed
            rc, out, err = None, b"", ""
        r = Result(rc if rc is not None else -1, out, err)
        if rc is None:
            f.fail("%s: no result after %d s: a hang" % (label, timeout))
        else:
            ok = (0, 1, 2) if allow_error else (0, 2)
            f.check(rc in ok and not sanitizer_trace(err),
                    "%s: exit %d (want one of %s), stderr %r" % (label, rc, ok, err[-1500:]))
            f.check(not r.bad_lines, "%s: lines that are not JSON: %r" % (label, r.bad_lines[:2]))
            f.check(rc == 1 or r.stats is not None, "%s: no stats record" % label)
        try:
            if inspect is not None:
                inspect(self.dir, r)
            self.check_trap(f, label, r)
        finally:
            for name in set(os.listdir(self.dir)) - set(self.seeds):
                os.unlink(os.path.join(self.dir, name))
        return r

    def dir_state(self):
        """DIR's entries: symlinks with their targets, the seeds' bytes, the rest's type."""
        state = {}
        for name in os.listdir(self.dir):
            p = os.path.join(self.dir, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                state[name] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode) and name == VICTIM:
                state[name] = ("file", tu.file_fingerprint(p))
            else:
                state[name] = ("regular" if stat.S_ISREG(st.st_mode) else "other", st.st_mode)
        return state

    def check_trap(self, f, label, r):
        now = tu.snapshot(self.root, self.dir)
        f.check(now == self.outside_state, "%s: something outside DIR changed: %r" %
                (label, sorted(set(now.items()) ^ set(self.outside_state.items()))[:4]))
        f.check(tu.file_fingerprint(os.path.join(self.outside, SENTINEL)) == self.sentinel,
                "%s: the sentinel outside DIR changed" % label)
        f.check(os.listdir(self.cwd) == [], "%s: files in the working folder: %r" %
                (label, os.listdir(self.cwd)[:5]))
        f.check(sorted(os.listdir(os.path.dirname(self.root))) == self.siblings,
                "%s: the folder above the workspace changed: %r" %
                (label, os.listdir(os.path.dirname(self.root))))
        state = self.dir_state()
        for name, v in self.seeds.items():
            f.check(state.get(name) == v, "%s: seed %s changed: %r -> %r" %
                    (label, name, v, state.get(name)))
        new = sorted(set(state) - set(self.seeds))
        for name in new:
            f.check(state[name][0] == "regular" and not name.startswith("."),
                    "%s: DIR holds %r (%r): not a safely named regular file" %
                    (label, name, state[name]))
        named = {u.get("extracted") for u in r.uploads if u.get("extracted")}
        f.check(set(new) == named, "%s: DIR gained %r, the records name %r" %
                (label, new[:5], sorted(named)[:5]))


class Jails:
    """The workers' jails, handed out one at a time."""

    def __init__(self, base, n):
        self.q = queue.Queue()
        names = ["jail%d" % i for i in range(n)]
        for name in names:
            self.q.put(Jail(base, name, names))

    def run(self, *args, **kw):
        jail = self.q.get()
        try:
            return jail.run(*args, **kw)
        finally:
            self.q.put(jail)

    def map(self, fn, items):
        """fn(jails, item) for every item, WORKERS at a time; results in order."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return list(pool.map(lambda it: fn(self, it), items))


# ---------------------------------------------------------------------------
# Frames that lie about their lengths

MAC = bytes.fromhex("020000000002" "020000000001")
A4, B4 = tc.ip4("198.18.20.1"), tc.ip4("198.18.20.2")
A6, B6 = tc.ip6("fd00:20::1"), tc.ip6("fd00:20::2")


def eth(ethertype, payload, tags=()):
    return MAC + b"".join(struct.pack("!HH", 0x8100, t) for t in tags) + \
        struct.pack("!H", ethertype) + payload


def ipv4(proto, payload, ihl=5, total=None, options=b""):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload)
                      if total is None else total, 1, 0, 64, proto, 0, A4, B4)
    return hdr + options + payload


def ipv6(nh, payload, plen=None):
    return struct.pack("!IHBB", 0x60000000, len(payload) if plen is None else plen, nh, 64) + \
        A6 + B6 + payload


def tcp(options=b"", doff=None, payload=b"", flags=0x02):
    words = doff if doff is not None else 5 + len(options) // 4
    return struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, words << 4, flags, 65535, 0, 0) + \
        options + payload


def udp(payload, length=None):
    return struct.pack("!HHHH", 40000, 53, 8 + len(payload) if length is None else length, 0) + \
        payload


def ext(nh, length_byte=0, body=b""):
    """An IPv6 extension header (hop-by-hop/destination options layout): 8 * (length + 1)."""
    size = 8 * (length_byte + 1)
    return (bytes([nh, length_byte]) + body + bytes(size))[:size]


def lying_frames():
    """(label, frame bytes, wire length or None, expected LAYER.REASON or None)."""
    t = tcp()
    ip4 = ipv4(6, t)
    out = [
        ("ethernet of 13 bytes", eth(0x0800, b"")[:13], None, "eth.truncated"),
        ("a VLAN tag cut short", MAC + b"\x81\x00\x00", None, "vlan.truncated"),
        ("nine VLAN tags", eth(0x0800, ip4, tags=range(1, 10)), None, "vlan.too_many_vlan_tags"),
        ("ARP cut after 18 bytes", eth(0x0806, bytes.fromhex("0001080006040001") + bytes(10)),
         None, "arp.truncated"),
        ("IPv4 IHL 4", eth(0x0800, bytes([0x44]) + ip4[1:]), None, "ipv4.bad_header_length"),
        ("IPv4 IHL 0", eth(0x0800, bytes([0x40]) + ip4[1:]), None, "ipv4.bad_header_length"),
        ("IPv4 total length 19", eth(0x0800, ipv4(6, t, total=19)), None,
         "ipv4.bad_total_length"),
        ("IPv4 total length past the frame", eth(0x0800, ipv4(6, t, total=41)), None,
         "ipv4.bad_total_length"),
        ("IPv4 IHL 15 past the datagram", eth(0x0800, ipv4(6, t, ihl=15, total=40)), None,
         "ipv4.bad_total_length"),
        ("IPv4 IHL 15 cut by the snap length", eth(0x0800, ipv4(6, t, ihl=15, total=80)),
         14 + 80, "ipv4.truncated"),
        ("IPv4 option of length 0", eth(0x0800, ipv4(6, t, ihl=6, options=b"\x07\x00\x00\x00")),
         None, "ipv4.bad_option_length"),
        ("IPv4 option of length 1", eth(0x0800, ipv4(6, t, ihl=6, options=b"\x07\x01\x00\x00")),
         None, "ipv4.bad_option_length"),
        ("IPv6 payload length past the frame", eth(0x86DD, ipv6(6, t, plen=21)), None,
         "ipv6.bad_total_length"),
        ("IPv6 hop-by-hop longer than the payload",
         eth(0x86DD, ipv6(0, ext(6, 10)[:8] + t)), None, "ipv6_ext.bad_header_length"),
        ("IPv6 destination options looping 40 times",
         eth(0x86DD, ipv6(60, b"".join(ext(60) for _ in range(40)) + t)), None,
         "ipv6_ext.too_many_ext_headers"),
        ("IPv6 routing headers looping 9 times",
         eth(0x86DD, ipv6(43, b"".join(ext(43) for _ in range(9)) + t)), None,
         "ipv6_ext.too_many_ext_headers"),
        ("IPv6 chain running to the end of the packet",
         eth(0x86DD, ipv6(0, ext(60) + ext(60))), None, "ipv6_ext.bad_header_length"),
        ("IPv6 chain cut by the snap length", eth(0x86DD, ipv6(0, ext(60) + ext(6) + t))[:14 + 48],
         14 + 40 + 16 + 20, "ipv6_ext.truncated"),
        ("TCP data offset 4", eth(0x0800, ipv4(6, tcp(doff=4))), None, "tcp.bad_header_length"),
        ("TCP data offset 0", eth(0x0800, ipv4(6, tcp(doff=0))), None, "tcp.bad_header_length"),
        ("TCP data offset 15 in 20 bytes", eth(0x0800, ipv4(6, tcp(doff=15))), None,
         "tcp.bad_header_length"),
        ("TCP header cut by the snap length", eth(0x0800, ip4)[:14 + 20 + 10], 14 + len(ip4),
         "tcp.truncated"),
        ("TCP option of length 0", eth(0x0800, ipv4(6, tcp(b"\x08\x00\x01\x01"))), None,
         "tcp.bad_option_length"),
        ("TCP option of length 1", eth(0x0800, ipv4(6, tcp(b"\x08\x01\x01\x01"))), None,
         "tcp.bad_option_length"),
        ("TCP options all of length 0", eth(0x0800, ipv4(6, tcp(b"\x1e\x00" * 20))), None,
         "tcp.bad_option_length"),
        ("TCP option running past the header", eth(0x0800, ipv4(6, tcp(b"\x01\x01\x1e\x08"))),
         None, "tcp.bad_option_length"),
        ("UDP length 7", eth(0x0800, ipv4(17, udp(b"abc", 7))), None, "udp.bad_length"),
        ("UDP length 0", eth(0x0800, ipv4(17, udp(b"abc", 0))), None, "udp.bad_length"),
        ("UDP length past the IP payload", eth(0x0800, ipv4(17, udp(b"abc", 12))), None,
         "udp.bad_length"),
        ("UDP length 0xffff over IPv6", eth(0x86DD, ipv6(17, udp(b"abc", 0xFFFF))), None,
         "udp.bad_length"),
        ("ICMP of 3 bytes", eth(0x0800, ipv4(1, b"\x08\x00\x00")), None, "icmp.bad_length"),
        ("ICMPv6 of 2 bytes", eth(0x86DD, ipv6(58, b"\x80\x00")), None, "icmpv6.bad_length"),
        # Lies that are within the rules: decoded, not malformed.
        ("IPv4 total length 0 (offload)", eth(0x0800, ipv4(6, t, total=0)), None, None),
        ("TCP option of an unknown kind, length 40", eth(0x0800, ipv4(6, tcp(
            b"\x63\x28" + bytes(38)))), None, None),
        ("IPv6 payload length 0 (jumbogram)", eth(0x86DD, ipv6(6, t, plen=0)), None, None),
    ]
    # Tunnels within tunnels: the outer packet is whole; what is inside is decoded down
    # to 4 levels only (tunneled packets: 4 + 4 + 1 + 1, none malformed in the stats).
    ipip = gre = ipv4(6, t)
    for _ in range(10):
        ipip = ipv4(4, ipip)
        gre = ipv4(47, b"\x00\x00\x08\x00" + gre)
    vxlan = b"\x08\x00\x00\x00\x00\x00\x01\x00" + eth(0x0800, ip4, tags=range(1, 10))
    out += [
        ("IP-in-IP 10 deep", eth(0x0800, ipip), None, None),
        ("GRE in GRE 10 deep", eth(0x0800, gre), None, None),
        ("IPv6-in-IPv4, the inner payload length past the packet",
         eth(0x0800, ipv4(41, ipv6(6, t, plen=5000))), None, None),
        ("VXLAN carrying nine VLAN tags",
         eth(0x0800, ipv4(17, struct.pack("!HHHH", 40000, 4789, 8 + len(vxlan), 0) + vxlan)),
         None, None),
    ]
    return out


def test_lying_lengths(f, jails, tmp):
    frames = lying_frames()
    path = os.path.join(tmp, "lying-lengths.pcap")
    pu.write_pcap(path, 1, [(fr, wire or len(fr)) for _, fr, wire, _ in frames])
    r = jails.run(f, "lying lengths", path, extra=["--packets"])
    if not f.check(len(r.packets) == len(frames), "lying lengths: %d packet records, want %d" %
                   (len(r.packets), len(frames))):
        return
    want = {}
    for (label, _, _, reason), pkt in zip(frames, r.packets):
        f.check(pkt.get("malformed") == reason, "lying lengths: %s: malformed %r, want %r" %
                (label, pkt.get("malformed"), reason))
        if reason:
            want[reason] = want.get(reason, 0) + 1
    if r.stats:
        f.check(r.stats.get("malformed_by") == want and r.stats.get("malformed") ==
                sum(want.values()) and r.stats.get("packets") == len(frames),
                "lying lengths: stats malformed_by %r, want %r" %
                (r.stats.get("malformed_by"), want))
        tunneled = r.stats.get("protocols", {}).get("tunneled")
        f.check(tunneled == 10, "lying lengths: %r packets found in tunnels, want 10" % tunneled)


# ---------------------------------------------------------------------------
# Framed uploads that lie

CLI, SRV = "198.18.30.1", "198.18.30.2"


def good_frame(name, body):
    return tc.upload_frame(name, body)[1]


def raw_prefix(value, order="<"):
    return struct.pack(order + "I", value & 0xFFFFFFFF)


def upload_capture():
    """One connection per hostile upload; returns (capture, {port: what is expected})."""
    cap = tc.Capture()
    expect = {}
    port = [41000]

    def conn(frames_bytes, note):
        port[0] += 1
        c = tc.Conn(cap, CLI, SRV, port[0], 5001)
        c.handshake()
        c.stream(0, frames_bytes, seg=1400)
        c.close()
        expect[port[0]] = note

    ok_body = b"a good body before the lie\n" * 3
    ok = good_frame(VICTIM, ok_body)  # the name of the victim in DIR
    prefixes = [("-1", raw_prefix(-1)), ("INT_MIN", raw_prefix(-2**31)), ("0", raw_prefix(0)),
                ("2^31-1", raw_prefix(2**31 - 1)), ("0xFFFFFFFF big-endian",
                                                    raw_prefix(0xFFFFFFFF, ">"))]
    for what, pre in prefixes:
        conn(pre + b"garbage after a lying length prefix" * 4, ("none", "prefix " + what))
        conn(ok + pre + b"garbage" * 10, ("bad", "prefix %s after a good frame" % what,
                                          "bad_length", "bad_length"))
    not_json = b"this is not JSON, not even close"
    conn(ok + struct.pack("<i", len(not_json)) + not_json,
         ("bad", "a header that is not JSON", "bad_header", "bad_header"))
    not_utf8 = b'{"file_name": "\xff\xfe\xc0\xaf", "file_size": 1}'
    conn(ok + struct.pack("<i", len(not_utf8)) + not_utf8 + b"x",
         ("bad", "a header that is not UTF-8", "bad_header", "bad_header"))
    deep = b"[" * 100000
    conn(ok + struct.pack("<i", len(deep)) + deep,
         ("bad", "100,000 '[' deep", "bad_length", "bad_header"))
    big_body = b"the body after a 70,000-byte header\n"
    big_hdr = json.dumps({"file_name": "big-header.txt", "file_size": len(big_body),
                          "md5": hashlib.md5(big_body).hexdigest(), "pad": "p" * 70000}).encode()
    conn(ok + struct.pack("<i", len(big_hdr)) + big_hdr + big_body,
         ("bad", "a 70,000-byte header", "bad_length", None))
    # Sizes far beyond the stream.
    conn(tc.framed({"file_name": "huge.bin", "file_size": 2**50}, b"x" * 100),
         ("size", "2^50 declared, 100 bytes sent", "connection_ended", "too_large"))
    conn(tc.framed({"file_name": "huge2.bin", "file_size": 2**50 + 1}, b"x" * 100),
         ("size", "2^50+1 declared", "bad_size", None))
    conn(tc.framed({"file_name": "neg.bin", "file_size": -5}, b"x" * 10),
         ("size", "a negative size", "bad_size", None))
    conn(tc.framed({"file_name": "neg2.bin", "file_size": "-1"}, b"x" * 10),
         ("size", "a negative size as a string", "bad_size", None))
    conn(tc.framed({"file_name": "giga.bin", "file_size": 10**9}, b"x" * 100),
         ("size", "10^9 declared, 100 bytes sent", "connection_ended", "incomplete"))
    return cap, expect


def check_upload_records(f, r, expect, big_header_ok):
    for port, note in sorted(expect.items()):
        kind, what = note[0], note[1]
        ups = r.orig(port)
        label = "uploads: %s" % what
        if kind == "none":
            f.check(ups == [], "%s: %d upload records, want none" % (label, len(ups)))
            continue
        if kind == "bad":
            missing = note[3] if big_header_ok else note[2]
            if missing is None:  # accepted: two complete frames
                f.check(len(ups) == 2 and all(u.get("complete") for u in ups) and
                        ups[1].get("digest_ok") is True and
                        ups[1].get("extracted") == "big-header.txt",
                        "%s: records %r" % (label, [(u.get("missing"), u.get("extracted"))
                                                    for u in ups]))
                continue
            if not f.check(len(ups) == 2, "%s: %d records, want 2" % (label, len(ups))):
                continue
            f.check(ups[0].get("complete") is True and
                    re.fullmatch(r"victim-\d+\.txt", ups[0].get("extracted") or ""),
                    "%s: the good frame: complete %r, extracted %r (want victim-N.txt beside "
                    "the victim)" % (label, ups[0].get("complete"), ups[0].get("extracted")))
            f.check(ups[1].get("complete") is False and ups[1].get("missing") == missing and
                    "extracted" not in ups[1],
                    "%s: the lie: missing %r, want %r; extracted %r" %
                    (label, ups[1].get("missing"), missing, ups[1].get("extracted")))
            continue
        # kind == "size"
        missing, refused = note[2], note[3]
        if not f.check(len(ups) == 1, "%s: %d records, want 1" % (label, len(ups))):
            continue
        u = ups[0]
        if refused == "incomplete" and u.get("extract_refused") == "no_space":
            refused = "no_space"  # a disk with less than 1 GB free refuses it first
        f.check(u.get("complete") is False and u.get("missing") == missing and
                "extracted" not in u and u.get("extract_refused") == refused,
                "%s: missing %r refused %r, want %r %r" %
                (label, u.get("missing"), u.get("extract_refused"), missing, refused))


def test_hostile_uploads(f, jails, tmp):
    cap, expect = upload_capture()
    path = os.path.join(tmp, "hostile-uploads.pcap")
    cap.write(path)
    r = jails.run(f, "hostile uploads", path)
    check_upload_records(f, r, expect, big_header_ok=False)
    r = jails.run(f, "hostile uploads, --max-header 200000", path,
                  extra=["--max-header", "200000"])
    check_upload_records(f, r, expect, big_header_ok=True)


def test_rewritten_header(f, jails, tmp):
    """Retransmissions with other bytes: the first copy wins, whatever the copy says."""
    cap = tc.Capture()
    body = tc.det_bytes(31, 6000)
    hdr, fr = tc.upload_frame("hello-1k.txt", body)  # a symlink to the sentinel in DIR
    evil_hdr = json.dumps({"file_name": "../outside/" + SENTINEL, "file_size": len(body)})
    evil_hdr = evil_hdr.encode().ljust(len(fr) - len(body) - 4)
    evil = struct.pack("<i", len(evil_hdr)) + evil_hdr
    assert len(evil) == len(fr) - len(body)
    c = tc.Conn(cap, CLI, SRV, 42001, 5001)
    c.handshake()
    c.data(0, fr[:1000], rel=0)
    c.data(0, evil + fr[len(evil):1000], rel=0)  # (a) the same segment, the header rewritten
    c.data(0, fr[3000:4000], rel=3000, ack=False)  # (b) ahead of a hole ...
    c.data(0, bytes(1000), rel=3000, ack=False)  # ... then again with zeros: buffered copy wins
    c.data(0, tc.det_bytes(32, 700), rel=200, ack=False)  # (c) old bytes shifted, other bytes
    for rel in range(1000, len(fr), 1000):
        c.data(0, fr[rel:rel + 1000], rel=rel)
    c.close()
    path = os.path.join(tmp, "rewritten-header.pcap")
    cap.write(path)
    r = jails.run(f, "rewritten header", path)
    ups = r.orig(42001)
    if f.check(len(ups) == 1, "rewritten header: %d records, want 1" % len(ups)):
        u = ups[0]
        f.check(u.get("header") == hdr and u.get("complete") is True and
                u.get("digest_ok") is True and u.get("md5") == hashlib.md5(body).hexdigest(),
                "rewritten header: the first copy did not win: %r" % {
                    k: u.get(k) for k in ("header", "complete", "digest_ok", "md5")})
        f.check(u.get("extracted") == "hello-1k-1.txt", "rewritten header: extracted as %r, "
                "want hello-1k-1.txt beside the symlink" % u.get("extracted"))
    got = {(a.get("offset"), a.get("len")) for a in r.anomalies}
    f.check({(0, 1000), (3000, 1000)} <= got,
            "rewritten header: anomaly records %r, want (0, 1000) and (3000, 1000)" % sorted(got))
    reasm = (r.stats or {}).get("reassembly", {})
    f.check(reasm.get("inconsistent", 0) >= 2, "rewritten header: stats reassembly %r" % reasm)


def test_gap_is_a_hole(f, jails, tmp):
    """A body declared 1 GiB - 1, 100 bytes sent, then the receiver acknowledges far past
    them: the gap must cost neither a gigabyte of writes nor of disk."""
    size = 2**30 - 1
    cap = tc.Capture()
    for k in range(2):
        c = tc.Conn(cap, CLI, SRV, 43001 + k, 5001)
        c.handshake()
        fr = tc.framed({"file_name": "gap-%d.bin" % k, "file_size": size}, b"G" * 100)
        c.data(0, fr)
        c.send_ack(1, upto=len(fr) + size // 2)
        c.close()
    path = os.path.join(tmp, "gap.pcap")
    cap.write(path)
    for partial in (False, True):
        label = "gap past a 1 GiB body" + (", --extract-partial" if partial else "")
        kept = {}

        def look(xdir, r_):
            for u in r_.uploads:
                if u.get("extracted"):
                    st = os.lstat(os.path.join(xdir, u["extracted"]))
                    kept[u["extracted"]] = (st.st_size, st.st_blocks * 512)

        r = jails.run(f, label, path, extra=["--extract-partial"] if partial else [],
                      inspect=look)
        for k in range(2):
            ups = r.orig(43001 + k)
            if not f.check(len(ups) == 1, "%s: %d records" % (label, len(ups))):
                continue
            u = ups[0]
            f.check(u.get("complete") is False and u.get("received") == 100 and
                    u.get("missing") in ("gap", "connection_ended"),
                    "%s: record %r" % (label, u))
            if u.get("extract_refused") == "no_space":
                print("%s: not checked, less than 1 GiB free" % label)
                continue
            if not partial:
                f.check(u.get("extract_refused") == "incomplete", "%s: refused %r" %
                        (label, u.get("extract_refused")))
                continue
            name = "gap-%d.bin.partial" % k
            if f.check(u.get("extracted") == name and name in kept,
                       "%s: extracted %r, want %s" % (label, u.get("extracted"), name)):
                size_on_disk = kept[name][1]
                f.check(kept[name][0] >= size // 2 and size_on_disk < (1 << 20),
                        "%s: %s is %d bytes long and takes %d bytes of disk: the hole was "
                        "written out as zeros" % (label, name, kept[name][0], size_on_disk))


# ---------------------------------------------------------------------------
# Capture files that lie

ETH_TCP = eth(0x0800, ipv4(6, tcp()))


def small_upload_capture():
    """A handshake, one upload of 300 bytes in three segments, its reply, a close."""
    cap = tc.Capture()
    c = tc.Conn(cap, CLI, SRV, 44001, 5001)
    c.handshake()
    body = tc.det_bytes(44, 300)
    c.stream(0, good_frame("hello-1k.txt", body), seg=130)
    c.data(1, tc.reply_frame(body)[1])
    c.close()
    return cap


def pcapng_block(btype, body, blen=None, trailer=None):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n if blen is None else blen) + body + \
        struct.pack("<I", n if trailer is None else trailer)


def pcapng_shb(bom=0x1A2B3C4D):
    return pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", bom, 1, 0, -1))


def pcapng_idb(linktype=1, snaplen=0):
    return pcapng_block(1, struct.pack("<HHI", linktype, 0, snaplen))


def pcapng_epb(data, iface=0, caplen=None, wire=None, ts=1700000000000000):
    return pcapng_block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF,
                                       len(data) if caplen is None else caplen,
                                       len(data) if wire is None else wire) + data)


def to_pcapng(records):
    """(data, wire_len, ts_sec, ts_usec) records as one pcapng section."""
    out = [pcapng_shb(), pcapng_idb()]
    for data, wire, sec, usec in records:
        out.append(pcapng_epb(data, wire=wire, ts=sec * 1000000 + usec))
    return b"".join(out)


def test_capture_files(f, jails, tmp, samples):
    n = len(ETH_TCP)
    up = small_upload_capture()
    up_pcap = pu.pcap_bytes(1, up.records)
    nrec = len(up.records)
    E = ETH_TCP
    epb = pcapng_epb(E)
    files = [
        # (label, bytes, exit code, packets, extra stats checks {key: value})
        ("empty", b"", 1, None, {}),
        ("text", b"not a capture at all\n" * 10, 1, None, {}),
        ("random bytes", random.Random(7).randbytes(4096), 1, None, {}),
        ("a pcap magic and nothing more", up_pcap[:4], 1, None, {}),
        ("a global header of 23 bytes", up_pcap[:23], 1, None, {}),
        ("caplen > len", pu.pcap_bytes(1, [(E, 20)] * 3), 0, 3,
         {"bytes": 60, "captured_bytes": 3 * n, "snapped": 0}),
        ("caplen 0xFFFFFFFF first", pu.pcap_bytes(1, [(E, n, 1, 0, 0xFFFFFFFF)]), 2, 0, {}),
        ("caplen 0xFFFFFFFF third",
         pu.pcap_bytes(1, [(E, n), (E, n), (E, n, 1, 0, 0xFFFFFFFF)]), 2, 2, {}),
        ("wire length 0", pu.pcap_bytes(1, [(E, 0)] * 2), 0, 2, {"bytes": 0}),
        ("wire length 0xFFFFFFFF", pu.pcap_bytes(1, [(E, 0xFFFFFFFF)] * 2), 0, 2,
         {"bytes": 2 * 0xFFFFFFFF, "snapped": 2}),
        ("snap length 1, an upload", pu.pcap_bytes(1, up.records, snaplen=1), 0, nrec,
         {"snapped": nrec, "malformed_by": {"eth.truncated": nrec}}),
        ("snap length 0, an upload", pu.pcap_bytes(1, up.records, snaplen=0), 0, nrec, {}),
        ("snap length 0xFFFFFFFF, an upload", pu.pcap_bytes(1, up.records, snaplen=0xFFFFFFFF),
         0, nrec, {}),
        ("link type 0xFFFF", pu.pcap_bytes(0xFFFF, [(E, n)] * 2), 0, 2,
         {"unsupported_link": {"65535": 2}}),
        # 2040-01-01 and 2106-02-07: a pcap's seconds are 32 unsigned bits.
        ("timestamps past 2038", pu.pcap_bytes(1, [(E, n, 2208988800, 5)] * 2), 0, 2,
         {"ts_first": 2208988800.000005}),
        ("timestamps at 2^32-1 s", pu.pcap_bytes(1, [(E, n, 0xFFFFFFFF, 999999)]), 0, 1,
         {"ts_first": 4294967295.999999}),
        ("timestamps going back and forth", pu.pcap_bytes(
            1, [(E, n, 2000000000, 0), (E, n, 0, 0), (E, n, 0xFFFFFFFF, 999999), (E, n, 5, 0)]),
         0, 4, {}),
        # pcapng
        ("pcapng, an upload", to_pcapng(up.records), 0, nrec, {}),
        ("pcapng block length 8", pcapng_shb() + pcapng_idb() + pcapng_block(6, b"", blen=8) +
         epb, 2, 0, {}),
        ("pcapng block length 77", pcapng_shb() + pcapng_idb() + epb[:4] +
         struct.pack("<I", 77) + epb[8:], 2, 0, {}),
        ("pcapng block length 0xFFFFFFF0", pcapng_shb() + pcapng_idb() + epb[:4] +
         struct.pack("<I", 0xFFFFFFF0) + epb[8:], 2, 0, {}),
        ("pcapng block length 0xFFFFFFFF", pcapng_shb() + pcapng_idb() + epb[:4] +
         struct.pack("<I", 0xFFFFFFFF) + epb[8:], 2, 0, {}),
        ("pcapng block of zeros", pcapng_shb() + pcapng_idb() + epb + bytes(32) + epb, 2, 1, {}),
        ("pcapng trailer length mismatch", pcapng_shb() + pcapng_idb() + epb[:-4] +
         struct.pack("<I", 999) + epb, 2, 0, {}),
        ("pcapng section header length 13", pcapng_shb()[:4] + struct.pack("<I", 13) +
         pcapng_shb()[8:] + pcapng_idb() + epb, 1, None, {}),
        ("pcapng caplen past its block", pcapng_shb() + pcapng_idb() +
         pcapng_epb(E, caplen=1000), 2, 0, {}),
        ("pcapng caplen 0xFFFFFFFF", pcapng_shb() + pcapng_idb() +
         pcapng_epb(E, caplen=0xFFFFFFFF), 2, 0, {}),
        ("pcapng caplen > wire length", pcapng_shb() + pcapng_idb() + pcapng_epb(E, wire=10),
         0, 1, {"bytes": 10}),
        ("pcapng packet before any interface", pcapng_shb() + epb, 1, None, {}),
        ("pcapng interface 0xFFFFFFFF", pcapng_shb() + pcapng_idb() +
         pcapng_epb(E, iface=0xFFFFFFFF), 2, 0, {}),
        ("pcapng snap length 1", pcapng_shb() + pcapng_idb(snaplen=1) + epb, 2, 0, {}),
        ("pcapng timestamp 2^64-1", pcapng_shb() + pcapng_idb() +
         pcapng_epb(E, ts=2**64 - 1), 0, 1, {}),
        ("pcapng second section with a bad byte order", pcapng_shb() + pcapng_idb() + epb +
         pcapng_shb(bom=0xDEADBEEF) + epb, 2, 1, {}),
        ("pcapng section header only", pcapng_shb(), 1, None, {}),
    ]

    def one(jails_, item):
        label, data, want_rc, want_packets, want_stats = item
        path = os.path.join(tmp, "file-%s" % hashlib.sha1(label.encode()).hexdigest()[:12])
        with open(path, "wb") as fh:
            fh.write(data)
        r = jails_.run(f, "file: " + label, path, allow_error=True)
        f.check(r.rc == want_rc, "file: %s: exit %d, want %d (%s)" %
                (label, r.rc, want_rc, r.stderr.strip()[:200]))
        if want_rc != 1 and r.stats:
            f.check(want_packets is None or r.stats.get("packets") == want_packets,
                    "file: %s: %r packets, want %r" % (label, r.stats.get("packets"),
                                                      want_packets))
            f.check(r.stats.get("cut_short") is (want_rc == 2),
                    "file: %s: cut_short %r" % (label, r.stats.get("cut_short")))
            for k, v in want_stats.items():
                f.check(r.stats.get(k) == v, "file: %s: stats %s %r, want %r" %
                        (label, k, r.stats.get(k), v))
        if want_rc == 1:
            f.check(len(r.stderr_lines) == 1 and r.stderr_lines[0].startswith("wirelens: "),
                    "file: %s: want one stderr line, got %r" % (label, r.stderr[:300]))
        return label, r

    results = dict(jails.map(one, files))
    # The upload inside the capture is found whatever the header's snap length says,
    # except 1, and in pcapng as in pcap.
    for label in ("snap length 0, an upload", "snap length 0xFFFFFFFF, an upload",
                  "pcapng, an upload"):
        ups = results[label].orig(44001)
        f.check(len(ups) == 1 and ups[0].get("extracted") == "hello-1k-1.txt",
                "file: %s: uploads %r" % (label, [(u.get("complete"), u.get("extracted"))
                                                  for u in ups]))
    f.check(results["snap length 1, an upload"].uploads == [],
            "file: snap length 1: upload records from 1-byte frames")
    return len(files)


def block_ends_pcapng(data):
    """End offsets of the blocks of a well-formed pcapng (little-endian)."""
    ends, off = [], 0
    while off < len(data):
        off += struct.unpack("<I", data[off + 4:off + 8])[0]
        ends.append(off)
    return ends


def cut_plan(ends, first_rec, dense, stride=61):
    """Offsets to cut at: all of each [lo, hi) in `dense`, every stride-th elsewhere,
    each record end, and the bytes either side of the first eight."""
    offsets = set(range(0, ends[-1] + 1, stride))
    for lo, hi in dense:
        offsets.update(range(lo, hi))
    for i, e in enumerate(ends[first_rec - 1:]):
        offsets.update((e - 1, e, e + 1) if i < 8 else (e,))
    return sorted(o for o in offsets if 0 <= o <= ends[-1])


def test_cuts(f, jails, tmp):
    """The small upload capture cut as pcap and as pcapng: at every offset of the headers
    of the record carrying the length prefix and the JSON header (record 3), of the
    pcapng section and interface blocks, around every record end, and at a stride
    elsewhere. Exit 1 before the file header (pcapng: before its first interface), 0 at
    a record boundary, 2 inside a record; the packets read are the whole records."""
    cap = small_upload_capture()
    pcap = pu.pcap_bytes(1, cap.records)
    pcap_ends = [pu.PCAP_HEADER_LEN] + [rec.end for rec in pu.parse_pcap(pcap).records]
    ng = to_pcapng(cap.records)
    ng_ends = block_ends_pcapng(ng)  # section header, interface, then a block per record
    upto_header = 54 + 4 + 24  # frame headers, length prefix, the start of the JSON header
    plans = []
    for kind, data, ends, first_rec, dense in (
            ("pcap", pcap, pcap_ends, 1,
             [(pcap_ends[3], pcap_ends[3] + 16 + upto_header), (pcap_ends[4] - 8, pcap_ends[4])]),
            ("pcapng", ng, ng_ends, 2,
             [(0, ng_ends[1] + 1), (ng_ends[4], ng_ends[4] + 28 + upto_header)])):
        opened_at = ends[first_rec - 1]  # the file header; pcapng: the first interface
        for cut in cut_plan(ends, first_rec, dense):
            if cut < opened_at:
                want_rc, whole = 1, None
            else:
                whole = sum(1 for e in ends[first_rec:] if e <= cut)
                want_rc = 0 if cut in ends else 2
            plans.append((kind, data, cut, want_rc, whole))

    def one(jails_, plan):
        kind, data, cut, want_rc, whole = plan
        path = os.path.join(tmp, "cut-%s-%06d" % (kind, cut))
        with open(path, "wb") as fh:
            fh.write(data[:cut])
        label = "%s cut at %d of %d" % (kind, cut, len(data))
        r = jails_.run(f, label, path, allow_error=True)
        os.unlink(path)
        f.check(r.rc == want_rc, "%s: exit %d, want %d (%s)" % (label, r.rc, want_rc,
                                                               r.stderr[:200]))
        if want_rc != 1 and r.stats:
            f.check(r.stats.get("packets") == whole and r.stats.get("cut_short") is
                    (want_rc == 2), "%s: %r packets (cut_short %r), want %d" %
                    (label, r.stats.get("packets"), r.stats.get("cut_short"), whole))
        return r.rc

    jails.map(one, plans)
    return len(plans)


# ---------------------------------------------------------------------------
# Held-out hostile inputs: mutants of real captures


def corpus_picks(corpus, k=6):
    """A few small classic-pcap corpus files that carry TCP payload, spread by name."""
    if not corpus or not os.path.isdir(corpus):
        return []
    picks = []
    for name in sorted(os.listdir(corpus)):
        path = os.path.join(corpus, name)
        if not os.path.isfile(path) or os.path.getsize(path) > 60000:
            continue
        p = pu.read_pcap(path)
        if p is None or not p.clean or p.linktype != 1 or len(p.records) < 8:
            continue
        if sum(1 for rec in p.records if len(rec.data) > 60 and rec.data[12:14] == b"\x08\x00"
               and rec.data[23] == 6) >= 4:
            picks.append(path)
    step = max(1, len(picks) // k)
    return picks[::step][:k]


def mutate(data, rng):
    """Flips, overwritten runs and a truncation, biased to the records' bytes."""
    b = bytearray(data)
    p = pu.parse_pcap(data)
    recs = p.records if p else []
    for _ in range(rng.randint(1, 6)):
        if recs and rng.random() < 0.8:
            rec = rng.choice(recs)
            lo, hi = rec.offset, rec.end  # record header included: lengths lie too
        else:
            lo, hi = 0, len(b)
        at = rng.randrange(lo, max(lo + 1, hi))
        what = rng.random()
        if what < 0.5:
            b[at] ^= 1 << rng.randrange(8)
        elif what < 0.8:
            b[at] = rng.choice((0, 0xFF, 0x7F, 0x80, 1, rng.randrange(256)))
        else:
            for i in range(at, min(len(b), at + rng.randint(2, 8))):
                b[i] = rng.randrange(256)
    if rng.random() < 0.25:
        del b[rng.randrange(24, len(b)):]
    return bytes(b)


def test_mutants(f, jails, tmp, samples, corpus):
    bases = [p for p in pu.sample_captures(samples) if p.endswith(".pcap")]
    bases += corpus_picks(corpus)
    if not bases:
        f.fail("mutants: no capture to mutate in %s or %s" % (samples, corpus))
        return 0
    rng = random.Random(0x8157)
    datas = {}
    for path in bases:
        with open(path, "rb") as fh:
            datas[path] = fh.read()
    # Upload captures are the ones with something to carve: give them more mutants.
    weights = [4 if "upload" in os.path.basename(p) else 1 for p in bases]
    plans = []
    for i in range(MUTANTS):
        base = rng.choices(bases, weights)[0]
        extra = []
        if i % 2:
            extra = ["--upload-port", "5001", "--extract-partial"]
        if i % 5 == 0:
            extra += ["--sha256", "--verify-checksums"]
        plans.append((i, base, mutate(datas[base], rng), extra))

    def one(jails_, plan):
        i, base, data, extra = plan
        path = os.path.join(tmp, "mutant-%04d.pcap" % i)
        with open(path, "wb") as fh:
            fh.write(data)
        r = jails_.run(f, "mutant %d of %s %s" % (i, os.path.basename(base), " ".join(extra)),
                       path, extra=extra, allow_error=True)
        if KEEP and (r.rc not in (0, 1, 2) or sanitizer_trace(r.stderr) or r.bad_lines):
            shutil.copy(path, KEEP)
        os.unlink(path)
        return len(r.uploads), sum(1 for u in r.uploads if u.get("extracted"))

    counts = jails.map(one, plans)
    records = sum(c[0] for c in counts)
    carved = sum(c[1] for c in counts)
    print("mutants: %d of %d bases, %d upload records, %d files carved" %
          (len(plans), len(bases), records, carved))
    f.check(carved > 0, "mutants: no mutant carved anything: the trap was never tested")
    return len(plans)


def main():
    global WIRELENS, KEEP
    ap = pu.arguments(__doc__, default="")
    ap.add_argument("--keep", help="copy the mutants that fail into this folder")
    args = ap.parse_args()
    WIRELENS = os.path.abspath(args.wirelens)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        KEEP = os.path.abspath(args.keep)
    if not os.access(WIRELENS, os.X_OK):
        print("FAIL: no wirelens binary at %s" % WIRELENS)
        return 1
    # By hand as under CTest: a sanitizer finding must end the run, with its own code.
    os.environ.setdefault("ASAN_OPTIONS", "exitcode=99:detect_leaks=1")
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=99")
    f = pu.Failures("test_hostile")
    start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="wl-hostile-")
    try:
        inputs = os.path.join(tmp, "inputs")
        os.mkdir(inputs)
        jails = Jails(os.path.join(tmp, "jails"), WORKERS)
        for name, fn in (("lying lengths", lambda: test_lying_lengths(f, jails, inputs)),
                         ("hostile uploads", lambda: test_hostile_uploads(f, jails, inputs)),
                         ("rewritten header", lambda: test_rewritten_header(f, jails, inputs)),
                         ("gap is a hole", lambda: test_gap_is_a_hole(f, jails, inputs)),
                         ("capture files",
                          lambda: test_capture_files(f, jails, inputs, args.samples)),
                         ("cuts", lambda: test_cuts(f, jails, inputs)),
                         ("mutants",
                          lambda: test_mutants(f, jails, inputs, args.samples, args.corpus))):
            t = time.monotonic()
            before = len(f.items)
            try:
                n = fn()
            except Exception as e:  # a crash of the driver is a failure too
                import traceback

                traceback.print_exc()
                f.fail("%s: driver raised %r" % (name, e))
                n = None
            print("  %-18s %6.1f s%s%s" % (name, time.monotonic() - t,
                                            "" if n is None else "  (%d runs)" % n,
                                            "" if len(f.items) == before else "  FAILED"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("  total %.1f s" % (time.monotonic() - start))
    return f.finish()


WIRELENS = None
KEEP = None

if __name__ == "__main__":
    sys.exit(main())

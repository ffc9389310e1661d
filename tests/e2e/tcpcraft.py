"""Crafting TCP traffic into classic pcap files (python3 standard library only),
shared by the end-to-end tests: Ethernet/IPv4 or IPv6 connections with a full
handshake, data cut into segments in controlled ways, the receiver's cumulative
ACKs, FIN or RST closes, and segments the network or the capture lost.

Not a test itself: CMake only registers tests/e2e/test_*.py.
"""

import hashlib
import json
import random
import struct

import pcaputil

LINKTYPE_ETHERNET = 1
T0 = 1767225600  # 2026-01-01 00:00:00 UTC, capture start

def ip4(text):
    return bytes(int(x) for x in text.split("."))


def ip6(text):
    import ipaddress

    return ipaddress.IPv6Address(text).packed


class Capture:
    """Frames with timestamps, 100 us apart unless told otherwise."""

    def __init__(self):
        self.records = []
        self.t_us = 0

    def add(self, frame, gap_us=100):
        self.t_us += gap_us
        sec, usec = divmod(self.t_us, 1_000_000)
        self.records.append((frame, len(frame), T0 + sec, usec))
        return (T0 + sec) + usec / 1e6

    def write(self, path):
        pcaputil.write_pcap(path, LINKTYPE_ETHERNET, self.records)


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Conn:
    """One TCP connection between a client (side 0) and a server (side 1).

    Stream positions are relative: 0 is the first byte after the SYN. Each side's
    receiver acknowledges cumulatively (the end of what it holds contiguously), so
    out-of-order data never makes an ACK jump over a hole unless asked to."""

    def __init__(self, cap, cli, srv, cport, sport, isn=(1000, 5000000), v6=False):
        self.cap = cap
        self.v6 = v6
        self.addr = (ip6(cli) if v6 else ip4(cli), ip6(srv) if v6 else ip4(srv))
        self.port = (cport, sport)
        self.mac = (bytes.fromhex("020000000001"), bytes.fromhex("020000000002"))
        self.isn = list(isn)
        self.snd = [0, 0]  # next new stream position per side
        self.have = [[], []]  # per side: ranges of the *peer's* stream received
        self.ackpos = [0, 0]  # per side: cumulative ack of the peer's stream
        self.ipid = [0x1000, 0x2000]
        self.fin_rcvd = [False, False]  # per side: the peer's FIN received

    def seq(self, side, rel):
        return (self.isn[side] + 1 + rel) & 0xFFFFFFFF

    def frame(self, side, flags, seq, ack, payload=b""):
        src, dst = self.addr[side], self.addr[1 - side]
        sp, dp = self.port[side], self.port[1 - side]
        tcp = struct.pack("!HHIIHHHH", sp, dp, seq, ack, (5 << 12) | flags, 65535, 0, 0)
        seg = tcp + payload
        if self.v6:
            pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
        else:
            pseudo = src + dst + struct.pack("!xBH", 6, len(seg))
        c = pcaputil.checksum(pseudo + seg)
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
        if self.v6:
            ip = struct.pack("!IHBB", 0x60000000, len(seg), 6, 64) + src + dst
            ethertype = 0x86DD
        else:
            self.ipid[side] += 1
            hdr = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), self.ipid[side] & 0xFFFF, 0x4000, 64,
                6, 0, src, dst)
            ip = hdr[:10] + struct.pack("!H", pcaputil.checksum(hdr)) + hdr[12:]
            ethertype = 0x0800
        eth = self.mac[1 - side] + self.mac[side] + struct.pack("!H", ethertype)
        return eth + ip + seg

    def _ack_value(self, side):
        """What `side` acknowledges of the peer's stream: its cumulative position, plus
        one for the peer's FIN once received."""
        return (self.isn[1 - side] + 1 + self.ackpos[side] +
                (1 if self.fin_rcvd[side] else 0)) & 0xFFFFFFFF

    def handshake(self):
        self.cap.add(self.frame(0, SYN, self.isn[0], 0))
        self.cap.add(self.frame(1, SYN | ACK, self.isn[1], (self.isn[0] + 1) & 0xFFFFFFFF))
        self.cap.add(self.frame(0, ACK, self.seq(0, 0), self.seq(1, 0)))

    def _receive(self, side, rel, n):
        """`side` receives the peer's bytes [rel, rel+n)."""
        ranges = self.have[side] + [(rel, rel + n)]
        ranges.sort()
        merged = []
        for a, b in ranges:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.have[side] = merged
        if merged and merged[0][0] <= self.ackpos[side]:
            self.ackpos[side] = max(self.ackpos[side], merged[0][1])

    def data(self, side, payload, rel=None, ack=True, gap_us=100, captured=True, received=True):
        """Sends payload from `side` at stream position rel (default: the next new byte);
        the peer answers with a cumulative ACK unless ack=False. Returns the timestamp.
        captured=False: the capture misses the segment (the peer still gets it);
        received=False: the network loses it (the peer never gets it)."""
        if rel is None:
            rel = self.snd[side]
        self.snd[side] = max(self.snd[side], rel + len(payload))
        frame = self.frame(side, PSH | ACK, self.seq(side, rel), self._ack_value(side), payload)
        if captured:
            ts = self.cap.add(frame, gap_us)
        else:
            self.cap.t_us += gap_us
            ts = None
        if received:
            self._receive(1 - side, rel, len(payload))
        if ack:
            self.send_ack(1 - side)
        return ts

    def send_ack(self, side, upto=None):
        """`side` sends a pure ACK: cumulative, or up to peer stream position `upto`."""
        if upto is not None:
            self.ackpos[side] = max(self.ackpos[side], upto)
        self.cap.add(self.frame(side, ACK, self.seq(side, self.snd[side]), self._ack_value(side)))

    def stream(self, side, data, seg=1000, ack_every=1, uncaptured=(), lost=()):
        """Sends `data` as consecutive segments of `seg` bytes; returns their timestamps.
        Segments whose index is in `uncaptured` are missing from the capture only,
        those in `lost` are lost by the network (never received, never resent here)."""
        ts = []
        chunks = [data[i:i + seg] for i in range(0, len(data), seg)]
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1
            ts.append(self.data(side, c, ack=(i % ack_every == ack_every - 1) or last,
                                captured=i not in uncaptured and i not in lost,
                                received=i not in lost))
        return ts

    def close(self, first=0):
        """Four-way close, `first` sends its FIN first."""
        a, b = first, 1 - first
        self.cap.add(self.frame(a, FIN | ACK, self.seq(a, self.snd[a]), self._ack_value(a)))
        self.fin_rcvd[b] = True
        self.cap.add(self.frame(b, ACK, self.seq(b, self.snd[b]), self._ack_value(b)))
        self.cap.add(self.frame(b, FIN | ACK, self.seq(b, self.snd[b]), self._ack_value(b)))
        self.fin_rcvd[a] = True
        self.cap.add(self.frame(a, ACK, self.seq(a, self.snd[a] + 1), self._ack_value(a)))

    def reset(self, side):
        self.cap.add(self.frame(side, RST | ACK, self.seq(side, self.snd[side]),
                                self._ack_value(side)))


def framed(header, body=b"", order="<", raw_header=None):
    """One frame: 4-byte length (order '<' little, '>' big), JSON header, body."""
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack(order + "i", len(h)) + h + body


def upload_frame(name, body, order="<", md5=None, extra=None):
    header = {"file_name": name, "file_size": len(body),
              "md5": md5 if md5 is not None else hashlib.md5(body).hexdigest()}
    if extra:
        header.update(extra)
    return header, framed(header, body, order)


def reply_frame(body, order="<"):
    header = {"status": "ok", "md5": hashlib.md5(body).hexdigest()}
    return header, framed(header, b"", order)


def det_bytes(seed, n):
    return random.Random(seed).randbytes(n)



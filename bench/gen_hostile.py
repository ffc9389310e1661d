#!/usr/bin/env python3
"""Writes the hostile traces of the memory-budget checks as pcap
files (bytes in a file; nothing is sent). Addresses from 198.18.0.0/15 only.

  gen_hostile.py concurrent OUT.pcap N   N TCP connections that all open (SYN,
      SYN-ACK, ACK, 100 bytes of data each way) and never close: every one is
      still open at the end, so a bounded table must evict.
  gen_hostile.py holes OUT.pcap N        N connections that each open, then send
      16 segments of 1,400 bytes after a 1,400-byte hole that is never filled:
      every segment must wait in the reassembler, whose budget runs out.
  gen_hostile.py synflood OUT.pcap N     N spoofed SYNs (as gen_syn_flood.py).

Deterministic (fixed seed). Checksums are left zero: wirelens does not verify
them unless asked.
"""
import random
import struct
import sys

ETH_AB = bytes.fromhex("020000000002" "020000000001" "0800")
ETH_BA = bytes.fromhex("020000000001" "020000000002" "0800")


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        self.buf = []
        self.t_us = 1700000000 * 1000000

    def tcp(self, src, dst, sport, dport, seq, ack, flags, payload=b"", step_us=1):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                          0x50, flags, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                         src, dst)
        frame = (ETH_AB if src[2] < 128 else ETH_BA) + ip + tcp + payload
        self.t_us += step_us
        self.buf.append(struct.pack("<IIII", self.t_us // 1000000, self.t_us % 1000000,
                                    len(frame), len(frame)) + frame)
        if len(self.buf) >= 50000:
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.buf))
        self.buf = []

    def close(self):
        self.flush()
        self.f.close()


def client(i):
    # 198.18.0.0 - 198.18.127.255 as clients, one server 198.19.200.1.
    return bytes([198, 18, (i >> 16) & 0x7f, (i >> 8) & 0xff]), 1024 + (i & 0xff) * 200 + (i >> 23)


SERVER = bytes([198, 19, 200, 1])


def handshake(w, i, port):
    c, cport = client(i)
    w.tcp(c, SERVER, cport, port, 1000, 0, 0x02)
    w.tcp(SERVER, c, port, cport, 5000, 1001, 0x12)
    w.tcp(c, SERVER, cport, port, 1001, 5001, 0x10)
    return c, cport


def concurrent(w, n):
    data = b"x" * 100
    for i in range(n):
        c, cport = handshake(w, i, 443)
        w.tcp(c, SERVER, cport, 443, 1001, 5001, 0x18, data)
        w.tcp(SERVER, c, 443, cport, 5001, 1101, 0x18, data)


def holes(w, n):
    seg = b"h" * 1400
    for i in range(n):
        c, cport = handshake(w, i, 8080)
        # Bytes 1001..2400 never come; 16 segments after them wait for them.
        for k in range(1, 17):
            w.tcp(c, SERVER, cport, 8080, 1001 + 1400 * k, 5001, 0x10, seg)


def synflood(w, n):
    rnd = random.Random(7)
    dst = bytes([198, 19, 255, 10])
    for _ in range(n):
        src = bytes([198, 18 + rnd.getrandbits(1), rnd.getrandbits(8), rnd.getrandbits(8)])
        w.tcp(src, dst, 1024 + rnd.getrandbits(15), 80, rnd.getrandbits(32), 0, 0x02)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("concurrent", "holes", "synflood"):
        sys.exit(__doc__)
    kind, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    w = Writer(out)
    {"concurrent": concurrent, "holes": holes, "synflood": synflood}[kind](w, n)
    w.close()


main()

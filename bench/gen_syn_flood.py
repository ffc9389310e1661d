#!/usr/bin/env python3
"""Writes a spoofed SYN flood capture: N SYNs at RATE per second from random
sources in 198.18.0.0/15 to 198.19.255.10:80 (bytes in a file; nothing is sent);
with "spread", to random addresses of 198.19.0.0/16 instead (a flood over a /16).

usage: gen_syn_flood.py OUT.pcap N RATE [spread]
"""
import random, struct, sys

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def main():
    out, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    spread = len(sys.argv) > 4 and sys.argv[4] == "spread"
    rnd = random.Random(7)
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    dst = bytes([198, 19, 255, 10])
    with open(out, "wb") as f:  # classic pcap, microseconds, Ethernet
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        buf = []
        for i in range(n):
            src = bytes([198, 18 + rnd.getrandbits(1), rnd.getrandbits(8), rnd.getrandbits(8)])
            sport = 1024 + rnd.getrandbits(15)
            if spread:
                dst = bytes([198, 19, rnd.getrandbits(8), rnd.getrandbits(8)])
            tcp = struct.pack("!HHIIBBHHH", sport, 80, rnd.getrandbits(32), 0, 0x50, 0x02, 1024, 0, 0)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xffff, 0, 64, 6, 0, src, dst)
            frame = eth + ip + tcp
            t = 1700000000 + i / rate
            sec = int(t); usec = int((t - sec) * 1e6)
            buf.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
            if len(buf) == 100000:
                f.write(b"".join(buf)); buf = []
        f.write(b"".join(buf))

if __name__ == "__main__":
    main()

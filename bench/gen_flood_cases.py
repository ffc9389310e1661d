#!/usr/bin/env python3
"""Writes crafted SYN-flood and scan captures (bytes in a file; nothing is sent),
one per case a flood detector must judge right. Addresses only from
198.18.0.0/15 and fd00::/8. Ethernet, classic pcap, microsecond timestamps, the
first packet at T0 (1700000000 s) unless a case says otherwise.

usage: gen_flood_cases.py CASE OUT.pcap     (CASE: one of the names below, or "list")

Cases (v6 versions end in 6):
  lowrate     300 spoofed SYN/s for 40 s to 198.19.0.10:80, never answered
  carpet      256 addresses of 198.19.7.0/24, 150 spoofed SYN/s each, 4 s, port 80
  portscan    one source tries ports 1..20000 of 198.19.0.20 at 10,000/s; closed ports
              answer with a RST, 22, 80 and 443 with a SYN-ACK (the scanner then resets)
  addrscan    one source tries port 22 of 1,024 hosts (198.19.8.0/22) at 1,000/s; three answer
  slowscan    one source tries a new port of 198.19.0.25 every 10 s, 40 ports; RSTs answer
  answered    5,000 spoofed SYN/s for 3 s to 198.19.0.30:80, each answered by a SYN-ACK
  pulsing     three 1-second pulses of 5,000 spoofed SYN/s to 198.19.0.35:80, 20 s apart
  single      one source, 3,000 SYN/s for 3 s to 198.19.0.40:443
  flashcrowd  3,000 completed handshakes/s for 5 s to 198.19.0.50:443, each from its own client
  crowdflood  the flash crowd on 198.19.0.60:443 and, during it, 400 spoofed SYN/s to port 80
  hopflood    200 clients complete a handshake (TTL 57), then 5,000 SYN/s for 2 s claim
              their addresses with TTL 110 (another hop count) to 198.19.0.70:80
"""
import random
import struct
import sys

from gen_syn_flood import csum  # the Internet checksum, as the other flood generator writes it

T0 = 1700000000
SYN, ACK, RST, SYNACK = 0x02, 0x10, 0x04, 0x12
ETH4 = bytes.fromhex("020000000002" "020000000001" "0800")
ETH6 = bytes.fromhex("020000000002" "020000000001" "86dd")


def v4(s):
    return bytes(int(x) for x in s.split("."))


def v6(prefix64, low):
    """fd00:0:0:<prefix64>::<low> as 16 bytes."""
    return bytes.fromhex("fd00") + b"\0\0\0\0" + struct.pack("!H", prefix64) + b"\0" * 6 + struct.pack("!H", low)


def frame(src, dst, sport, dport, flags, ttl=64, seq=0, ack=0):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, ttl, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        return ETH4 + ip + tcp
    pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, ttl, src, dst)
    return ETH6 + ip + tcp


class Capture:
    def __init__(self):
        self.recs = []  # (time, frame)

    def add(self, t, data):
        self.recs.append((t, data))

    def write(self, path):
        self.recs.sort(key=lambda r: r[0])
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, data in self.recs:
                us = int(round(t * 1e6))
                f.write(struct.pack("<IIII", us // 1000000, us % 1000000, len(data), len(data)))
                f.write(data)


def spoofed(rnd, ipv6):
    if ipv6:
        return v6(0xEE00 + rnd.getrandbits(8), rnd.getrandbits(16) | 1)
    return bytes([198, 18, rnd.getrandbits(8), rnd.getrandbits(8) | 1])


def flood(cap, rnd, t0, rate, seconds, dst, dport, ipv6=False, answer=False, ttl=64, sources=None):
    n = int(rate * seconds)
    for i in range(n):
        t = t0 + i / rate
        src = sources[rnd.randrange(len(sources))] if sources else spoofed(rnd, ipv6)
        sport = 1024 + rnd.getrandbits(15)
        seq = rnd.getrandbits(32)
        cap.add(t, frame(src, dst, sport, dport, SYN, ttl=ttl, seq=seq))
        if answer:
            cap.add(t + 0.0002, frame(dst, src, dport, sport, SYNACK, seq=7, ack=seq + 1))


def handshakes(cap, rnd, t0, rate, seconds, dst, dport, ipv6=False, ttl=64, clients=None):
    n = int(rate * seconds)
    for i in range(n):
        t = t0 + i / rate
        if clients is not None:
            src = clients[i % len(clients)]
        elif ipv6:
            src = v6(0xCC00 + (i >> 16), (i & 0xFFFF) | 1)
        else:
            src = struct.pack("!BBH", 198, 18, 0x8000 | i)  # 198.18.128.0 on
        sport = 20000 + (i % 40000)
        x, y = rnd.getrandbits(31), rnd.getrandbits(31)
        cap.add(t, frame(src, dst, sport, dport, SYN, ttl=ttl, seq=x))
        cap.add(t + 0.001, frame(dst, src, dport, sport, SYNACK, seq=y, ack=x + 1))
        cap.add(t + 0.002, frame(src, dst, sport, dport, ACK, ttl=ttl, seq=x + 1, ack=y + 1))


def case(name):
    ipv6 = name.endswith("6")
    base = name[:-1] if ipv6 else name
    rnd = random.Random(20)
    cap = Capture()
    host = (lambda last, net=0: v6(net, last)) if ipv6 else (lambda last, net=0: bytes([198, 19, net, last]))
    if base == "lowrate":
        flood(cap, rnd, T0, 300, 40, host(10), 80, ipv6)
    elif base == "carpet":
        rate_each, seconds = 150, 4
        per = 1.0 / (rate_each * 256)
        for i in range(rate_each * 256 * seconds):
            last = i % 256
            dst = v6(7, last) if ipv6 else bytes([198, 19, 7, last])
            cap.add(T0 + i * per, frame(spoofed(rnd, ipv6), dst, 1024 + rnd.getrandbits(15), 80, SYN))
    elif base == "portscan":
        scanner = v6(5, 5) if ipv6 else v4("198.18.5.5")
        target = host(20)
        for i, port in enumerate(range(1, 20001)):
            t = T0 + i / 10000
            cap.add(t, frame(scanner, target, 40000, port, SYN, seq=1000 + i))
            if port in (22, 80, 443):
                cap.add(t + 0.0003, frame(target, scanner, port, 40000, SYNACK, seq=5, ack=1001 + i))
                cap.add(t + 0.0005, frame(scanner, target, 40000, port, RST, seq=1001 + i))
            else:
                cap.add(t + 0.0003, frame(target, scanner, port, 40000, RST | ACK, ack=1001 + i))
    elif base == "addrscan":
        scanner = v6(6, 6) if ipv6 else v4("198.18.6.6")
        for i in range(1024):
            t = T0 + i / 1000
            dst = v6(9, i + 1) if ipv6 else bytes([198, 19, 8 + (i >> 8), i & 0xFF])
            cap.add(t, frame(scanner, dst, 41000, 22, SYN, seq=i))
            if i in (100, 500, 900):
                cap.add(t + 0.0003, frame(dst, scanner, 22, 41000, SYNACK, seq=5, ack=i + 1))
                cap.add(t + 0.0005, frame(scanner, dst, 41000, 22, RST, seq=i + 1))
    elif base == "slowscan":
        scanner = v6(5, 7) if ipv6 else v4("198.18.5.7")
        target = host(25)
        for i in range(40):
            t = T0 + 10 * i
            port = 1000 + 7 * i
            cap.add(t, frame(scanner, target, 42000, port, SYN, seq=i))
            cap.add(t + 0.0003, frame(target, scanner, port, 42000, RST | ACK, ack=i + 1))
    elif base == "answered":
        flood(cap, rnd, T0, 5000, 3, host(30), 80, ipv6, answer=True)
    elif base == "pulsing":
        for k in range(3):
            flood(cap, rnd, T0 + 20 * k, 5000, 1, host(35), 80, ipv6)
    elif base == "single":
        src = v6(9, 9) if ipv6 else v4("198.18.9.9")
        flood(cap, rnd, T0, 3000, 3, host(40), 443, ipv6, sources=[src])
    elif base == "flashcrowd":
        handshakes(cap, rnd, T0, 3000, 5, host(50), 443, ipv6)
    elif base == "crowdflood":
        handshakes(cap, rnd, T0, 3000, 5, host(60), 443, ipv6)
        flood(cap, rnd, T0 + 0.5, 400, 4, host(60), 80, ipv6)
    elif base == "hopflood":
        clients = [v6(0xAA, i + 1) if ipv6 else bytes([198, 18, 77, i + 1]) for i in range(200)]
        handshakes(cap, rnd, T0, 200, 1, host(70), 443, ipv6, ttl=57, clients=clients)
        flood(cap, rnd, T0 + 2, 5000, 2, host(70), 80, ipv6, ttl=110, sources=clients)
    else:
        raise SystemExit("gen_flood_cases.py: no case %r (try 'list')" % name)
    return cap


NAMES = ["lowrate", "carpet", "portscan", "addrscan", "slowscan", "answered", "pulsing", "single",
         "flashcrowd", "crowdflood", "hopflood"]


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        print(" ".join(NAMES + [n + "6" for n in NAMES]))
        return
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    case(sys.argv[1]).write(sys.argv[2])


if __name__ == "__main__":
    main()

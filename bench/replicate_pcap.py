#!/usr/bin/env python3
"""Writes a large capture by repeating a small one: every copy shifted 10 s
later, so each repetition's connections are new ones (not port reuse).

usage: replicate_pcap.py IN.pcap OUT.pcap COPIES
"""
import struct
import sys


def main():
    src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(src, "rb").read()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        sys.exit("replicate_pcap.py: needs a little-endian microsecond pcap")
    records, off = [], 24
    while off + 16 <= len(data):
        ts, us, caplen, length = struct.unpack("<IIII", data[off:off + 16])
        records.append((ts, us, data[off + 16:off + 16 + caplen], length))
        off += 16 + caplen
    with open(dst, "wb") as out:
        out.write(data[:24])
        for i in range(copies):
            for ts, us, payload, length in records:
                out.write(struct.pack("<IIII", ts + 10 * i, us, len(payload), length))
                out.write(payload)


if __name__ == "__main__":
    main()

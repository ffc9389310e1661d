#!/usr/bin/env python3
"""Framed file-upload client: sends one or more files over one TCP connection.

For each file it sends a 4-byte header length (struct.pack('i', n), or '!i' with
--network-order), the JSON header {"file_name", "file_size", "md5"}, then the body,
and waits for the server's framed JSON reply. See upload_server.py for the format.
"""

import argparse
import hashlib
import json
import os
import socket
import struct
import sys


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError(f"server closed after {len(buf)} of {n} bytes")
        buf += part
    return bytes(buf)


def file_md5(path):
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(64 * 1024), b""):
            md5.update(chunk)
    return md5.hexdigest()


def upload(sock, path, fmt):
    """Send one file and return True if the server confirmed the md5."""
    header = {
        "file_name": os.path.basename(path),
        "file_size": os.path.getsize(path),
        "md5": file_md5(path),
    }
    data = json.dumps(header).encode()
    sock.sendall(struct.pack(fmt, len(data)))  # 4-byte length
    sock.sendall(data)                         # header
    with open(path, "rb") as f:                # body
        sock.sendfile(f)

    (rlen,) = struct.unpack(fmt, recv_exact(sock, 4))
    reply = json.loads(recv_exact(sock, rlen))
    good = reply.get("status") == "ok" and reply.get("md5") == header["md5"]
    print(f"client: {header['file_name']} {header['file_size']} B -> {reply}", flush=True)
    return good


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--host", default="127.0.0.1", help="server address (IPv4 or IPv6)")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--network-order", action="store_true",
                   help="length prefix in network byte order ('!i')")
    args = p.parse_args()

    fmt = "!i" if args.network_order else "i"
    all_ok = True
    with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
        for path in args.files:
            all_ok &= upload(sock, path, fmt)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())

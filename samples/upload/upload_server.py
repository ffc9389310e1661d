#!/usr/bin/env python3
"""Framed file-upload server (the classic "sticky packets" fix).

Wire format, per file, client -> server:
    4-byte length n      struct.pack('i', n)  (native order, little-endian on x86)
                         or struct.pack('!i', n) with --network-order
    n bytes JSON header  {"file_name": ..., "file_size": ..., "md5": ...}
    file_size bytes      the file body

Reply, server -> client, after each file:
    4-byte length m (same byte order) + m bytes JSON {"status": "ok"|"error", "md5": ...}
    (no body)

TCP is a byte stream: one send() may arrive split over several recv() calls, and
several send()s may arrive glued together in one recv(). The length prefix is what
lets the reader find the boundaries, so every read below asks for an exact count.

The server handles connections one after another and exits after --connections N
connections or when no connection arrives within --timeout seconds.
"""

import argparse
import hashlib
import json
import os
import socket
import struct
import sys

MAX_HEADER = 64 * 1024
CHUNK = 64 * 1024


def recv_exact(sock, n):
    """Read exactly n bytes; return b'' if the peer closed before sending any byte."""
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            if buf:
                raise ConnectionError(f"peer closed after {len(buf)} of {n} bytes")
            return b""
        buf += part
    return bytes(buf)


def send_framed(sock, obj, fmt):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(fmt, len(data)) + data)


def handle_connection(conn, out_dir, fmt):
    """Receive files until the client closes. Return (files_ok, files_bad)."""
    ok = bad = 0
    while True:
        raw_len = recv_exact(conn, 4)
        if not raw_len:
            return ok, bad  # clean end of stream between files
        (hlen,) = struct.unpack(fmt, raw_len)
        if not 0 < hlen <= MAX_HEADER:
            raise ValueError(f"bad header length {hlen} (wrong byte order?)")
        header = json.loads(recv_exact(conn, hlen))
        size = int(header["file_size"])
        name = os.path.basename(str(header["file_name"]))
        if name in ("", ".", ".."):
            raise ValueError(f"unsafe file name {header['file_name']!r}")

        md5 = hashlib.md5()
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            left = size
            while left:
                chunk = conn.recv(min(CHUNK, left))
                if not chunk:
                    raise ConnectionError(f"peer closed with {left} body bytes missing")
                md5.update(chunk)
                f.write(chunk)
                left -= len(chunk)

        digest = md5.hexdigest()
        good = digest == header["md5"]
        ok += good
        bad += not good
        print(f"server: {name} {size} B md5 {digest} {'OK' if good else 'MISMATCH'}",
              flush=True)
        send_framed(conn, {"status": "ok" if good else "error", "md5": digest}, fmt)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to bind (IPv4 or IPv6)")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--out-dir", default="received")
    p.add_argument("--connections", type=int, default=1, help="exit after N connections")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="give up after this many seconds without a connection or data")
    p.add_argument("--network-order", action="store_true",
                   help="length prefix in network byte order ('!i')")
    args = p.parse_args()

    fmt = "!i" if args.network_order else "i"
    os.makedirs(args.out_dir, exist_ok=True)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET

    total_bad = 0
    with socket.socket(family, socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen()
        srv.settimeout(args.timeout)
        print(f"server: listening on [{args.host}]:{args.port}", flush=True)
        for _ in range(args.connections):
            try:
                conn, peer = srv.accept()
            except socket.timeout:
                print("server: timed out waiting for a connection", file=sys.stderr)
                return 2
            with conn:
                conn.settimeout(args.timeout)
                try:
                    ok, bad = handle_connection(conn, args.out_dir, fmt)
                except (OSError, ValueError, KeyError) as e:  # incl. timeouts, bad JSON
                    print(f"server: connection from {peer[0]} failed: {e}", file=sys.stderr)
                    total_bad += 1
                    continue
                total_bad += bad
                print(f"server: connection from {peer[0]} done: {ok} ok, {bad} bad",
                      flush=True)
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end test of --follow UID|INDEX on samples/upload-v4.pcap.

The expected stream is computed here from the capture alone (pcaputil and struct: Ethernet,
IPv4, TCP; each direction's payload placed at its sequence offset from the SYN), and so are
the upload frames in it (4-byte little-endian length, JSON header, the body its file_size
declares). Then:

- `--follow 0 --hex`: the hex dump, read back chunk by chunk, is each direction's payload
  byte for byte, every chunk at the offset its marker line states;
- `--follow 0`: a frame mark at every boundary the frames have (prefix, header, body, end),
  each at its offset, and the sticky-packet facts ("coalesced", "split") where the segments
  say so; stdout holds the follow output only (no connection table, no summary);
- `--follow UID`, the uid taken from a --json run: connection 2 (tcp.stream 1), its bytes;
- a stream that is not there, an argument that is neither a uid nor a number, and --follow
  with --json, --no-reassembly, --threads 2: exit 1, one line on stderr, nothing on stdout;
- where tshark is installed, `tshark -q -z follow,tcp,raw,N` for each stream: the same nodes,
  the same bytes in the same order of directions;
- as root, `-i lo --follow 0` on a connection made here: each chunk is on stdout while the
  capture still runs, and the footer when it stops.

Usage: test_follow.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip (no samples).
"""

import json
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil  # noqa: E402

MARKER = re.compile(
    r"^(>>> orig|<<< resp) (\S+) -> (\S+)  offset (\d+)  (\d+) bytes  t=\d+\.\d{6}$"
)
HEX = re.compile(r"^([0-9a-f]{8,16})  ((?:[0-9a-f]{2} |   ){8} (?:[0-9a-f]{2} |   ){8}) .*$")


def tcp_streams(path):
    """The TCP connections of an Ethernet/IPv4 capture, in the order of their first
    packet: for each, its endpoints (originator first, from the SYN) and each direction's
    payload by stream offset, plus the segments (offset, length) in arrival order."""
    conns = {}
    order = []
    for rec in pcaputil.read_pcap(path).records:
        d = rec.data
        if len(d) < 14 or struct.unpack("!H", d[12:14])[0] != 0x0800:
            continue
        ip = d[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            continue
        total = struct.unpack("!H", ip[2:4])[0]
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4 :]
        a, b = (src, sport), (dst, dport)
        key = frozenset((a, b))
        if key not in conns:
            conns[key] = {"nodes": None, "isn": {}, "data": {a: {}, b: {}}, "segs": {a: [], b: []}}
            order.append(key)
        c = conns[key]
        if flags & 0x02:  # SYN: the sender's ISN; without ACK it is the originator
            c["isn"][a] = seq
            if not flags & 0x10:
                c["nodes"] = (a, b)
        if payload and a in c["isn"]:
            off = (seq - c["isn"][a] - 1) & 0xFFFFFFFF
            c["segs"][a].append((off, len(payload)))
            for i, byte in enumerate(payload):
                c["data"][a].setdefault(off + i, byte)
    out = []
    for key in order:
        c = conns[key]
        streams = []
        for node in c["nodes"]:
            m = c["data"][node]
            streams.append(bytes(m[i] for i in range(len(m))))
        out.append((c["nodes"], streams, [c["segs"][n] for n in c["nodes"]]))
    return out


def endpoint(node):
    return "%s:%d" % (".".join(str(x) for x in node[0]), node[1])


def frames_of(stream):
    """(prefix offset, header offset, header length, body offset, body length, end)."""
    out = []
    at = 0
    while at + 4 <= len(stream):
        hlen = struct.unpack("<i", stream[at : at + 4])[0]
        header = json.loads(stream[at + 4 : at + 4 + hlen])
        body = int(header.get("file_size", 0)) if "file_size" in header else None
        body_at = at + 4 + hlen
        end = body_at + (body or 0)
        out.append((at, at + 4, hlen, body_at, body, end))
        at = end
    return out


def read_hex(text):
    """Each direction's bytes from a --hex run, checking every chunk starts where the
    previous one of its direction ended and every hex line where the last one stopped."""
    got = {">>> orig": bytearray(), "<<< resp": bytearray()}
    problems = []
    cur = None
    pos = 0
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            cur = m.group(1)
            pos = int(m.group(4))
            if pos != len(got[cur]):
                problems.append("chunk at offset %d, expected %d: %r" % (pos, len(got[cur]), line))
            continue
        h = HEX.match(line)
        if h and cur is not None:
            if int(h.group(1), 16) != pos:
                problems.append("hex line at %s, expected %x" % (h.group(1), pos))
            data = bytes.fromhex(h.group(2).replace(" ", ""))
            got[cur] += data
            pos += len(data)
    return got[">>> orig"], got["<<< resp"], problems


def main():
    ap = pcaputil.arguments(__doc__)
    args = ap.parse_args()
    if not args.samples:
        pcaputil.skip("no samples folder")
    pcap = os.path.join(args.samples, "upload-v4.pcap")
    if not os.path.exists(pcap):
        pcaputil.skip("no samples/upload-v4.pcap")
    wl = os.path.abspath(args.wirelens)
    f = pcaputil.Failures("test_follow")

    conns = tcp_streams(pcap)
    f.check(len(conns) == 2, "two TCP connections in the capture, found %d" % len(conns))
    nodes, (orig, resp), (orig_segs, _) = conns[0]

    # --follow 0 --hex: the bytes, exactly.
    rc, out, err = pcaputil.run([wl, "-r", pcap, "--follow", "0", "--hex"])
    text = out.decode("utf-8", "replace")
    f.check(rc == 0, "--follow 0 --hex: exit %d, stderr %r" % (rc, err))
    f.check("Filter: uid C" in text and "tcp.stream eq 0\n" in text, "--hex: the filter line")
    f.check("Node 0: %s  (originator, >>>)" % endpoint(nodes[0]) in text, "--hex: node 0")
    f.check("Node 1: %s  (responder, <<<)" % endpoint(nodes[1]) in text, "--hex: node 1")
    got_o, got_r, problems = read_hex(text)
    f.check(not problems, "--hex: chunks in order: %s" % problems[:3])
    f.check(got_o == orig, "--hex: originator bytes (%d) equal the capture's (%d)"
            % (len(got_o), len(orig)))
    f.check(got_r == resp, "--hex: responder bytes (%d) equal the capture's (%d)"
            % (len(got_r), len(resp)))
    f.check("node 0 -> node 1: %d bytes in " % len(orig) in text, "--hex: originator total")
    f.check("node 1 -> node 0: %d bytes in " % len(resp) in text, "--hex: responder total")
    rule = "=" * 67 + "\n"
    f.check(text.startswith(rule) and text.endswith(rule) and "conn_state" not in text,
            "--follow: the follow output alone on stdout (no connection table, no summary)")

    # --follow 0: the frame marks at the offsets the frames have.
    rc, out, err = pcaputil.run([wl, "-r", pcap, "--follow", "0"])
    text = out.decode("utf-8", "replace")
    f.check(rc == 0 and err == "", "--follow 0: exit %d, stderr %r" % (rc, err))
    frames = frames_of(orig)
    f.check(len(frames) == 3, "connection 1 uploads 3 files, found %d frames" % len(frames))
    seg_ends = set()
    seg_starts = set()
    for off, n in orig_segs:
        seg_starts.add(off)
        seg_ends.add(off + n)
    for i, (at, h_at, hlen, b_at, blen, end) in enumerate(frames):
        want = ["[frame %d: prefix 4 bytes at offset %d]" % (i, at),
                "[frame %d: header %d bytes at offset %d]" % (i, hlen, h_at)]
        if blen is not None:
            want.append("[frame %d: body %d bytes at offset %d]" % (i, blen, b_at))
        for w in want:
            f.check(w + "\n" in text or w + " (in earlier bytes)\n" in text, "--follow 0: %s" % w)
        m = re.search(r"\[frame %d: end at offset (\d+), (\d+) bytes in (\d+) segments?([^\]]*)\]"
                      % i, text)
        if not f.check(m is not None, "--follow 0: frame %d's end" % i):
            continue
        f.check(int(m.group(1)) == end and int(m.group(2)) == end - at,
                "frame %d ends at %d (%d bytes): %r" % (i, end, end - at, m.group(0)))
        # The frame's segments, from the capture: those holding any of its bytes.
        segs = sorted({off for off, n in orig_segs if off < end and off + n > at})
        f.check(int(m.group(3)) == len(segs), "frame %d: %d segments, told %r"
                % (i, len(segs), m.group(0)))
        f.check(("split" in m.group(4)) == (len(segs) > 1), "frame %d split: %r" % (i, m.group(0)))
        shares = at not in seg_starts or end not in seg_ends
        f.check(("coalesced" in m.group(4)) == shares, "frame %d coalesced: %r" % (i, m.group(0)))
    # Each mark sits where its offset falls: after the chunk bytes before it.
    chunk = None
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            chunk = (m.group(1), int(m.group(4)), int(m.group(5)))
            continue
        mk = re.match(r"\[frame \d+: (prefix|header|body) \d+ bytes at offset (\d+)\]$", line)
        if mk and chunk is not None and chunk[0] == ">>> orig":
            off = int(mk.group(2))
            # (Frame 0's first marks can come late, as "(in earlier bytes)", and then
            # do not match here: the stream was not known to be framed yet.)
            f.check(chunk[1] <= off <= chunk[1] + chunk[2],
                    "mark %r inside its chunk (offset %d, %d bytes)" % (line, chunk[1], chunk[2]))
    # The replies the server sent are framed too (JSON, no body).
    f.check("<<< resp" in text and re.search(r"\n\[frame 0: header \d+ bytes at offset 4\]\n\{",
                                             text) is not None, "--follow 0: the reply's header")

    # --follow UID: the second connection.
    run = pcaputil.wirelens_json(wl, ["-r", pcap])
    nodes2, (orig2, resp2), _ = conns[1]
    uid = None
    for c in run.conns:
        if c.get("proto") == "tcp" and c.get("id.orig_p") == nodes2[0][1]:
            uid = c.get("uid")
    if f.check(uid is not None, "--json: the second connection's uid"):
        rc, out, err = pcaputil.run([wl, "-r", pcap, "--follow", uid, "--hex"])
        text = out.decode("utf-8", "replace")
        f.check(rc == 0, "--follow %s: exit %d, %r" % (uid, rc, err))
        f.check("Filter: uid %s and tcp.stream eq 1\n" % uid in text, "--follow UID: filter line")
        got_o, got_r, problems = read_hex(text)
        f.check(not problems and got_o == orig2 and got_r == resp2,
                "--follow UID: connection 2's bytes (%d/%d of %d/%d) %s"
                % (len(got_o), len(got_r), len(orig2), len(resp2), problems[:3]))

    # Errors: one line on stderr, exit 1, nothing on stdout.
    for extra, why in ((["--follow", "7"], "no such stream"),
                       (["--follow", "CAAAAAAAAAAAAAAAAA"], "no such uid"),
                       (["--follow", "bogus"], "neither uid nor number"),
                       (["--follow", ""], "empty"),
                       (["--follow", "C" + "a" * 16], "a uid one character short"),
                       (["--follow", "0", "--json"], "with --json"),
                       (["--follow", "0", "--no-reassembly"], "with --no-reassembly"),
                       (["--follow", "0", "--threads", "2"], "with --threads"),
                       (["--hex"], "--hex alone")):
        rc, out, err = pcaputil.run([wl, "-r", pcap] + extra)
        lines = err.splitlines()
        f.check(rc == 1 and len(lines) == 1 and lines[0].startswith("wirelens: ") and out == b"",
                "%s: exit %d, stdout %d bytes, stderr %r" % (why, rc, len(out), err))
    against_tshark(wl, pcap, f)
    live(wl, f)
    return f.finish()


def merged(chunks):
    """(direction, bytes) chunks with consecutive ones of a direction joined."""
    out = []
    for d, b in chunks:
        if out and out[-1][0] == d:
            out[-1] = (d, out[-1][1] + b)
        else:
            out.append((d, b))
    return out


def hex_chunks(text):
    """(direction, bytes) per chunk of a --hex run, in the order printed."""
    chunks = []
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            chunks.append((0 if m.group(1) == ">>> orig" else 1, b""))
            continue
        h = HEX.match(line)
        if h and chunks:
            chunks[-1] = (chunks[-1][0], chunks[-1][1] + bytes.fromhex(h.group(2).replace(" ", "")))
    return chunks


def against_tshark(wl, pcap, f):
    """Where tshark is installed: `tshark -q -z follow,tcp,raw,N` gives the same nodes, and
    the same bytes in the same order of directions, for every tcp.stream N."""
    import shutil
    import subprocess

    if shutil.which("tshark") is None:
        print("  tshark comparison left out: no tshark")
        return
    for n in (0, 1):
        try:
            p = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "follow,tcp,raw,%d" % n],
                               capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("  tshark comparison left out: %r" % e)
            return
        lines = p.stdout.decode("utf-8", "replace").splitlines()
        nodes = [l for l in lines if l.startswith("Node ")]
        chunks = []
        body = False
        for line in lines:
            if line.startswith("Node 1:"):
                body = True
                continue
            if not body or line.startswith("====") or not line.strip():
                continue
            chunks.append((1 if line.startswith("\t") else 0, bytes.fromhex(line.strip())))
        rc, out, err = pcaputil.run([wl, "-r", pcap, "--follow", str(n), "--hex"])
        text = out.decode("utf-8", "replace")
        for node in nodes:
            f.check(node + "  (" in text, "tcp.stream %d: tshark's %r" % (n, node))
        ours, theirs = merged(hex_chunks(text)), merged(chunks)
        f.check(ours == theirs and theirs,
                "tcp.stream %d: the bytes and the order of directions as tshark follows them "
                "(%d runs of one direction here, %d in tshark)" % (n, len(ours), len(theirs)))


def live(wl, f):
    """-i lo --follow 0: a chunk is on stdout while the capture still runs. Root only
    (otherwise this part is left out, not the test)."""
    import select
    import socket
    import subprocess
    import threading
    import time

    if os.geteuid() != 0:
        print("  live part left out: capturing on lo needs root")
        return
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    p = subprocess.Popen([wl, "-i", "lo", "--follow", "0", "--duration", "4", "--no-progress",
                          "tcp port %d" % port], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = ""
        for _ in range(5):  # a warning may come first
            line = p.stderr.readline().decode("utf-8", "replace")
            if not line or "listening on" in line:
                break
        if not f.check("listening on lo" in line, "-i lo --follow 0: started: %r" % line):
            return

        def serve():
            c, _ = srv.accept()
            c.sendall(b"pong: " + c.recv(100))
            c.close()

        t = threading.Thread(target=serve)
        t.start()
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"ping\n")
            c.recv(100)
        t.join()
        got = b""
        deadline = time.monotonic() + 2.5
        while b"pong: ping\n" not in got and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 0.1)[0]:
                got += os.read(p.stdout.fileno(), 65536)
        f.check(p.poll() is None and b">>> orig 127.0.0.1:" in got and b"\nping\n" in got
                and b"<<< resp 127.0.0.1:%d" % port in got and b"pong: ping\n" in got,
                "-i lo --follow 0: both chunks on stdout while capturing: %r" % got[-300:])
        out, err = p.communicate(timeout=20)
        f.check(p.returncode == 0 and b"node 0 -> node 1: 5 bytes in 1 chunks" in out
                and b"node 1 -> node 0: 11 bytes in 1 chunks" in out,
                "-i lo --follow 0: exit %d, footer %r" % (p.returncode, out[-300:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        srv.close()


if __name__ == "__main__":
    sys.exit(main())

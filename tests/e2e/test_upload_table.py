#!/usr/bin/env python3
"""End-to-end test of the text upload table and the MAC vendor of the all-zero address.

On a capture crafted here (tcpcraft.py):

- two connections whose uploads interleave in time (A's first frame, B's first, A's second,
  B's second): in the text table each connection's rows are together, in the order its
  frames ended, and the sticky-packet summary lists the connections in the same order;
- a third connection cut by the end of the capture in the middle of a body while still
  open (no FIN, no RST): its row says `capture_ended`, and so does its JSON record's
  `missing`, while its conn record is still open (S1, no end);
- a fourth connection whose Ethernet addresses are all zero, as frames captured on `lo`
  carry them: its packet lines print `00:00:00:00:00:00` with no vendor (the 00:00:00
  block is Xerox's), its packet records have no `eth.*_vendor`, its conn record no
  `orig_vendor` or `resp_vendor`.

Usage: test_upload_table.py --wirelens PATH
Exit 0 pass, 1 fail.
"""

import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil  # noqa: E402
from tcpcraft import Capture, Conn, det_bytes, upload_frame  # noqa: E402

CLI, SRV = "198.18.3.1", "198.18.3.2"
UID = re.compile(r"^(C[0-9A-Za-z]{17}) ([<>]) +(\d+)  (\S+)")


def build(path):
    cap = Capture()
    a = Conn(cap, CLI, SRV, 41001, 9000)
    b = Conn(cap, CLI, SRV, 41002, 9000)
    a.handshake()
    b.handshake()
    # A's frame 0, B's frame 0, A's frame 1, B's frame 1: each one ends before the next
    # starts, so the frames end in that order.
    for i in range(2):
        for c, tag in ((a, "a"), (b, "b")):
            _, f = upload_frame("%s%d.bin" % (tag, i), det_bytes(100 + i * 2 + (tag == "b"), 3000))
            c.stream(0, f)
    a.close()
    b.close()
    # Cut by the end of the capture: half a body, then nothing.
    e = Conn(cap, CLI, SRV, 41003, 9000)
    e.handshake()
    _, f = upload_frame("cut.bin", det_bytes(200, 20_000))
    e.stream(0, f[: len(f) - 8000])
    # All-zero Ethernet addresses, as on lo.
    z = Conn(cap, "127.0.0.1", "127.0.0.1", 41004, 9001)
    z.mac = (bytes(6), bytes(6))
    z.handshake()
    z.close()
    cap.write(path)


def main():
    args = pcaputil.arguments(__doc__).parse_args()
    wl = args.wirelens
    f = pcaputil.Failures("test_upload_table")
    with tempfile.TemporaryDirectory(prefix="wl-uptable-") as tmp:
        path = os.path.join(tmp, "table.pcap")
        build(path)

        # JSON: who is who.
        r = pcaputil.wirelens_json(wl, ["-r", path])
        f.check(r.rc == 0, "json run: " + r.describe())
        uid_of = {c["id.orig_p"]: c["uid"] for c in r.conns}
        ups = [json.loads(line) for line in r.stdout.decode().splitlines()
               if line.startswith('{"type":"upload"')]
        cut = [u for u in ups if u.get("id.orig_p") == 41003]
        f.check(len(cut) == 1 and cut[0].get("missing") == "capture_ended"
                and cut[0].get("complete") is False,
                "cut body: JSON %r, want one incomplete record missing capture_ended" % cut)
        ce = [c for c in r.conns if c["id.orig_p"] == 41003]
        f.check(len(ce) == 1 and ce[0].get("conn_state") == "S1",
                "cut connection: %r, want one S1 record (still open)" % ce)

        # Text table.
        rc, out, err = pcaputil.run([wl, "-r", path])
        f.check(rc == 0, "text run: exit %d, stderr %r" % (rc, err))
        lines = out.decode().splitlines()
        rows = [m.groups() for m in map(UID.match, lines) if m]
        order = [u for u, _, _, _ in rows]
        want_a, want_b, want_e = uid_of.get(41001), uid_of.get(41002), uid_of.get(41003)
        # Requests and the (absent) replies: only the client sends frames here.
        f.check(order == [want_a, want_a, want_b, want_b, want_e],
                "table rows by connection %r, want A A B B E (A=%s B=%s E=%s)"
                % (order, want_a, want_b, want_e))
        names = [n for _, _, _, n in rows]
        f.check(names == ["a0.bin", "a1.bin", "b0.bin", "b1.bin", "cut.bin"],
                "table files %r, want a0 a1 b0 b1 cut" % names)
        cut_rows = [ln for ln in lines if ln.startswith(str(want_e)) and "cut.bin" in ln]
        f.check(len(cut_rows) == 1 and " capture_ended " in cut_rows[0] + " ",
                "cut row %r, want verdict capture_ended" % cut_rows)
        try:
            at = lines.index(
                "sticky packets (frames sharing a segment / frames split over segments)")
            sticky = [ln.split()[0] for ln in lines[at + 1:at + 4]]
        except ValueError:
            sticky = []
        f.check(sticky == [want_a, want_b, want_e],
                "sticky-packet summary order %r, want A B E" % sticky)

        # The all-zero address: no vendor anywhere.
        rc, out, err = pcaputil.run([wl, "-r", path, "--packets", "--no-flows", "port 41004"])
        plines = [ln for ln in out.decode().splitlines() if " > " in ln and "length" in ln]
        f.check(len(plines) == 7, "lo-style packets: %d lines, want 7: %r" % (len(plines), plines))
        for ln in plines:
            f.check("00:00:00:00:00:00 > 00:00:00:00:00:00, length" in ln and "(" not in
                    ln.split(": ")[0], "all-zero MACs printed with a vendor: %r" % ln)
        r = pcaputil.wirelens_json(wl, ["-r", path, "--packets", "port 41004"])
        f.check(r.packets and all("eth.src_vendor" not in p and "eth.dst_vendor" not in p
                                  for p in r.packets),
                "packet records of the all-zero MACs carry a vendor: %r" % r.packets[:1])
        f.check(len(r.conns) == 1 and "orig_vendor" not in r.conns[0]
                and "resp_vendor" not in r.conns[0],
                "conn record of the all-zero MACs: %r" % r.conns)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end test of framed-upload carving on real traffic between two network
namespaces.

Two namespaces joined by one veth pair (names unique to this process; addresses only
from 198.18.0.0/15 and fd00::/8; offloads off, so frames are MTU-sized and carry real
checksums; IPv6 without DAD). samples/upload/upload_server.py runs in one,
tcpdump -U --immediate-mode writes what the other's veth end sees, and
samples/upload/upload_client.py sends the same deterministic files (0 B, 1 B, 1 KiB,
1 MiB and a big one) once over IPv4 with the length prefix little-endian, once over
IPv6 with --network-order. Then `wirelens -r capture.pcap --json --extract OUT` must
report every upload complete with the source's md5 and digest_ok true, carve every
body byte-identical to its source, and close both connections SF.

No traffic leaves the two namespaces: neither has a route anywhere else.

Needs root (exit 77 otherwise). Usage:
  test_live_uploads.py --wirelens PATH --samples DIR [--corpus DIR] [--big-mib N]
Exit 0 pass, 1 fail, 77 skip.
"""

import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import pcaputil  # noqa: E402
from netns import log, sh, wait_for  # noqa: E402

PORT = 5001
A4, B4 = "198.18.77.1", "198.18.77.2"  # client side (capture), server side
A6, B6 = "fd00:5e:77::1", "fd00:5e:77::2"
DEFAULT_BIG_MIB = 100


def make_files(d, big_mib):
    """Deterministic sources: the same bytes on every run."""
    specs = [("empty.bin", 0), ("one.bin", 1), ("one-k.txt", 1024), ("one-m.bin", 1 << 20),
             ("big-%dm.bin" % big_mib, big_mib << 20)]
    files = []
    for name, size in specs:
        path = os.path.join(d, name)
        rng = random.Random("wirelens-live-%s" % name)
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(left, 8 << 20)
                f.write(rng.randbytes(n))
                left -= n
        md5 = hashlib.md5()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                md5.update(chunk)
        files.append((name, path, size, md5.hexdigest()))
    return files


def pcap_walk(path):
    """(records, clean, linktype, snaplen) of a classic pcap, without reading it into memory."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                                              b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
            return 0, False, None, None
        e = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        snaplen, linktype = struct.unpack(e + "II", head[16:24])
        size = os.fstat(f.fileno()).st_size
        off, n, maxcap = 24, 0, 0
        while off < size:
            if off + 16 > size:
                return n, False, linktype, snaplen
            f.seek(off)
            _, _, caplen, wire = struct.unpack(e + "IIII", f.read(16))
            if caplen != wire:
                return n, False, linktype, snaplen  # a frame cut by the snap length
            off += 16 + caplen
            n += 1
        return n, off == size, linktype, snaplen


def file_md5(path):
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


def same_bytes(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


class UploadNamespaces(netns.Namespaces):
    """Side 0 the client (and the capture), side 1 the server."""

    def __init__(self):
        super().__init__("lua", "lub")

    def configure(self, side, ifc, run):
        addrs = ((A4, A6), (B4, B6))
        run(["ip", "link", "set", "lo", "up"])
        run(["ethtool", "-K", ifc, "tso", "off", "gso", "off", "gro", "off", "tx", "off",
             "rx", "off"])
        run(["ip", "link", "set", "dev", ifc, "addrgenmode", "none"])
        run(["sysctl", "-qw", "net.ipv6.conf.%s.router_solicitations=0" % ifc])
        run(["sysctl", "-qw", "net.ipv6.conf.%s.accept_ra=0" % ifc])
        run(["ip", "addr", "add", addrs[side][0] + "/24", "dev", ifc])
        run(["ip", "-6", "addr", "add", addrs[side][1] + "/64", "dev", ifc, "nodad"])
        run(["ip", "link", "set", ifc, "up"])

    def verify(self):
        # Offloads really off: no frame larger than the MTU can reach the capture.
        feats = sh(self.exec_cmd(0, ["ethtool", "-k", self.ifs[0]])).stdout.decode()
        for feat in ("tcp-segmentation-offload", "generic-segmentation-offload",
                     "generic-receive-offload"):
            line = [x for x in feats.splitlines() if x.strip().startswith(feat + ":")]
            if not line or ": off" not in line[0]:
                raise RuntimeError("could not turn off %s: %r" % (feat, line))


def upload(nsx, work, upload_dir, host, files, extra, tag):
    """Server in namespace B, client in A; returns (ok, seconds, message)."""
    recv = os.path.join(work, "recv-" + tag)
    slog = os.path.join(work, "server-%s.log" % tag)
    with open(slog, "wb") as out:
        srv = nsx.spawn(1, [sys.executable, os.path.join(upload_dir, "upload_server.py"),
                            "--host", host, "--port", str(PORT), "--out-dir", recv,
                            "--connections", "1", "--timeout", "30"] + extra,
                        stdout=out, stderr=subprocess.STDOUT)
    if not wait_for(slog, "listening", srv):
        return False, 0, "server did not start: " + open(slog).read()
    t = time.monotonic()
    cli = subprocess.run(nsx.exec_cmd(0, [sys.executable,
                                          os.path.join(upload_dir, "upload_client.py"),
                                          "--host", host, "--port", str(PORT), "--timeout", "30"]
                                      + extra + [p for _, p, _, _ in files]),
                         capture_output=True, timeout=120)
    secs = time.monotonic() - t
    try:
        src = srv.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill()
        src = "timeout"
    msg = "client exit %d, server exit %s\n%s%s%s" % (
        cli.returncode, src, cli.stdout.decode(errors="replace"),
        cli.stderr.decode(errors="replace"), open(slog).read())
    ok = cli.returncode == 0 and src == 0
    for name, path, _, _ in files:
        got = os.path.join(recv, name)
        ok = ok and os.path.exists(got) and same_bytes(path, got)
    shutil.rmtree(recv, ignore_errors=True)
    return ok, secs, msg


def main():
    ap = pcaputil.arguments(samples_required=True)
    ap.add_argument("--big-mib", type=int,
                    default=int(os.environ.get("WIRELENS_LIVE_BIG_MIB", DEFAULT_BIG_MIB)),
                    help="size of the big file in MiB (default %d)" % DEFAULT_BIG_MIB)
    ap.add_argument("--keep", help="copy the capture here")
    args = ap.parse_args()

    if os.geteuid() != 0:
        pcaputil.skip("needs root for network namespaces")
    for tool in ("ip", "ethtool", "tcpdump"):
        if shutil.which(tool) is None:
            pcaputil.skip("'%s' not installed" % tool)
    upload_dir = os.path.join(args.samples, "upload")
    if not os.path.isfile(os.path.join(upload_dir, "upload_client.py")):
        print("FAIL: no upload_client.py under %s" % upload_dir)
        return 1
    wirelens = os.path.abspath(args.wirelens)

    def on_signal(signum, _frame):
        raise SystemExit("interrupted by signal %d" % signum)  # runs the clean-up below

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    f = pcaputil.Failures("test_live_uploads")
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="wl-live-")
    nsx = UploadNamespaces()
    try:
        t = time.monotonic()
        os.mkdir(os.path.join(work, "src"))
        files = make_files(os.path.join(work, "src"), args.big_mib)
        log("  files: %s (%.1f s)" % (", ".join("%s %d B" % (n, s) for n, _, s, _ in files),
                                      time.monotonic() - t))
        nsx.setup()
        time.sleep(0.5)  # let the first multicast-listener reports go by

        pcap = os.path.join(work, "capture.pcap")
        tlog = os.path.join(work, "tcpdump.log")
        with open(tlog, "wb") as out:
            # -B: 64 MiB of kernel buffer so a fast transfer is not dropped.
            tcpd = nsx.spawn(0, ["tcpdump", "-i", nsx.ifs[0], "-U", "--immediate-mode", "-n",
                                 "-s", "262144", "-B", "65536", "-w", pcap,
                                 "tcp port %d" % PORT], stdout=subprocess.DEVNULL, stderr=out)
        if not wait_for(tlog, "listening on", tcpd):
            f.fail("tcpdump did not start: " + open(tlog).read())
            return f.finish()

        legs = (("v4", B4, [], "little", A4), ("v6", B6, ["--network-order"], "big", A6))
        for tag, host, extra, _, _ in legs:
            ok, secs, msg = upload(nsx, work, upload_dir, host, files, extra, tag)
            total = sum(s for _, _, s, _ in files)
            log("  upload %s: %d files, %d B in %.2f s (%.0f MB/s)" %
                (tag, len(files), total, secs, total / max(secs, 1e-6) / 1e6))
            f.check(ok, "upload over %s failed: %s" % (tag, msg[-2000:]))

        time.sleep(0.3)  # the last ACK of the close reaches the wire
        tcpd.send_signal(signal.SIGTERM)  # tcpdump flushes and writes its counts on TERM
        try:
            trc = tcpd.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tcpd.kill()
            trc = "timeout"
        tcpdump_msg = open(tlog).read()
        f.check(trc == 0, "tcpdump exit %s: %s" % (trc, tcpdump_msg))
        counts = {}
        for line in tcpdump_msg.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0].isdigit():
                counts[" ".join(words[1:])] = int(words[0])
        dropped = counts.get("packets dropped by kernel", None)
        f.check(dropped == 0, "tcpdump dropped packets (the capture has holes): %r" % counts)
        npk, clean, linktype, snaplen = pcap_walk(pcap)
        f.check(clean and linktype == 1, "capture not whole: %d records, clean %r, link %r" %
                (npk, clean, linktype))
        f.check(npk == counts.get("packets captured"),
                "capture holds %d records, tcpdump says %r captured" %
                (npk, counts.get("packets captured")))
        log("  capture: %d packets, %d B, tcpdump %r" % (npk, os.path.getsize(pcap), counts))
        if args.keep:
            shutil.copy(pcap, args.keep)

        out_dir = os.path.join(work, "out")
        os.mkdir(out_dir)
        t = time.monotonic()
        rc, stdout, err = pcaputil.run([wirelens, "-r", pcap, "--json", "--no-progress",
                                        "--extract", out_dir], timeout=300)
        wl_secs = time.monotonic() - t
        log("  wirelens: exit %d in %.2f s (%.0f MB/s)" %
            (rc, wl_secs, os.path.getsize(pcap) / max(wl_secs, 1e-6) / 1e6))
        f.check(rc == 0, "wirelens exit %d: %s" % (rc, err[:1000]))
        ups, conns, stats = [], [], None
        for line in stdout.decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                f.fail("not JSON: %r" % line[:200])
                continue
            if rec.get("type") == "upload":
                ups.append(rec)
            elif rec.get("type") == "conn":
                conns.append(rec)
            elif rec.get("type") == "stats":
                stats = rec
        f.check(stats is not None, "no stats record")

        by_name = {n: (p, s, m) for n, p, s, m in files}
        carved_ok = 0
        for tag, host, _, order, client in legs:
            mine = [u for u in ups if u.get("id.resp_h") == host]
            orig = sorted((u for u in mine if u.get("dir") == "orig"), key=lambda u: u["index"])
            resp = sorted((u for u in mine if u.get("dir") == "resp"), key=lambda u: u["index"])
            f.check([u.get("file_name") for u in orig] == [n for n, _, _, _ in files],
                    "%s: upload records for %r, want %r" %
                    (tag, [u.get("file_name") for u in orig], [n for n, _, _, _ in files]))
            for u in orig:
                name = u.get("file_name")
                where = "%s %s" % (tag, name)
                if name not in by_name:
                    f.fail("%s: unknown file" % where)
                    continue
                path, size, md5 = by_name[name]
                f.check(u.get("id.orig_h") == client and u.get("id.resp_p") == PORT,
                        "%s: endpoints %r > %r:%r" % (where, u.get("id.orig_h"),
                                                      u.get("id.resp_h"), u.get("id.resp_p")))
                f.check(u.get("byte_order") == order, "%s: byte_order %r, want %s" %
                        (where, u.get("byte_order"), order))
                f.check(u.get("complete") is True and "missing" not in u,
                        "%s: complete %r missing %r" % (where, u.get("complete"),
                                                        u.get("missing")))
                f.check(u.get("declared_size") == size and u.get("received") == size,
                        "%s: declared %r received %r, want %d" %
                        (where, u.get("declared_size"), u.get("received"), size))
                f.check(u.get("md5") == md5, "%s: md5 %r, want %s" % (where, u.get("md5"), md5))
                f.check(u.get("digest_ok") is True, "%s: digest_ok %r" %
                        (where, u.get("digest_ok")))
                ext = u.get("extracted")
                if not f.check(isinstance(ext, str) and ext and "/" not in ext,
                               "%s: extracted %r (refused %r)" %
                               (where, ext, u.get("extract_refused"))):
                    continue
                got = os.path.join(out_dir, ext)
                if f.check(os.path.isfile(got) and same_bytes(path, got),
                           "%s: carved %r (%s B, md5 %s) differs from the source (%d B, %s)" %
                           (where, ext, os.path.getsize(got) if os.path.exists(got) else "-",
                            file_md5(got) if os.path.exists(got) else "-", size, md5)):
                    carved_ok += 1
            f.check(len(resp) == len(files), "%s: %d reply records, want %d" %
                    (tag, len(resp), len(files)))
            for u, (name, _, _, md5) in zip(resp, files):
                f.check(u.get("complete") is True and u.get("byte_order") == order and
                        u.get("header") == {"status": "ok", "md5": md5} and
                        "extracted" not in u and "declared_size" not in u,
                        "%s: reply %s: %r" % (tag, u.get("index"), u))
            cs = [c for c in conns if c.get("id.resp_h") == host and c.get("proto") == "tcp"]
            f.check(len(cs) == 1 and cs[0].get("conn_state") == "SF" and
                    cs[0].get("missed_bytes") == 0 and cs[0].get("id.orig_h") == client,
                    "%s: conn records %r" % (tag, [(c.get("conn_state"), c.get("history"),
                                                    c.get("missed_bytes")) for c in cs]))
        f.check(len(ups) == 4 * len(files), "%d upload records, want %d" %
                (len(ups), 4 * len(files)))
        # The folder itself: one file per body, each identical to a source, nothing else.
        entries = sorted(os.listdir(out_dir))
        want_md5s = sorted([m for _, _, _, m in files] * 2)
        got_md5s = sorted(file_md5(os.path.join(out_dir, e)) for e in entries)
        f.check(got_md5s == want_md5s,
                "OUT holds %d files %r whose md5s are not the sources' (twice each)" %
                (len(entries), entries))
        log("  carved: %d files in OUT, %d matched through their records; total %.1f s" %
            (len(entries), carved_ok, time.monotonic() - t_start))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        f.fail("set-up or run failed: %s" % e)
    finally:
        left = nsx.teardown()
        shutil.rmtree(work, ignore_errors=True)
        if left:
            f.fail("namespaces left behind: %r" % left)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end test of live capture (`wirelens -i`) on real traffic between two
network namespaces.

Two namespaces joined by one veth pair (names unique to this process; addresses only
from 198.18.0.0/15 and fd00::/8; offloads off, so the capture sees wire-sized
segments; no route anywhere else). Side 0 is the client (and attacker), side 1 the
victim, where wirelens captures on its veth end. Five runs:

1. JSON run: `wirelens -i VETH --json -B 32768 -w live.pcap` (a kernel buffer that
   holds the whole transfer, so a stall cannot cost a packet) while samples/upload/ sends
   deterministic files (0 B, 1 B, 1 KiB, 1 MiB, 3 MiB) over IPv4 (little-endian
   prefix) and IPv6 (network order), a connection to a closed port is refused (IPv4
   and IPv6), and `timeout 10 hping3 -S -p 80 --rand-source -i u200 -c 5000` floods
   the victim; then SIGINT. Asserts: exit 0; the listening line on stderr; upload
   connections SF, the refused ones REJ; every upload complete with the source's md5
   and digest_ok; a conn_established record per upload connection (same uid and
   handshake_rtt as its conn record); one syn_flood alert start and one end for the
   victim's port 80, the end written while the capture still ran (stream mode); the
   stats record's capture object (captured == written == records in live.pcap ==
   packets analysed, no ring or kernel drop, one file, stopped_by "signal"; without
   -w the write fields may be left out); then
   `wirelens -r live.pcap --json --stream` gives the same records as the live run
   (multisets, conn records compared without `end`; stats packet counts equal).
2. Text run: `wirelens -i VETH` (stdout a pipe) over one connection held open 3 s:
   its "established" line arrives within 2 s of the handshake, while the connection
   is still open (records are flushed one by one); after SIGINT the "conn" line says
   SF and the summary has the capture line "...; stopped by signal"; exit 0.
3. Loopback: `ip netns exec NS wirelens -i lo -c 40 --json` while a TCP echo runs
   over 127.0.0.1 (then UDP datagrams to itself until wirelens exits): it stops by
   itself, stopped_by "count", 40 captured, the echo's conn record SF.
4. Rotation: `-w rot.pcap -C 1` over ~4 MB of uploads: rot.pcap, rot.pcap1, ... each
   readable by `tcpdump -r`, nanosecond pcap, each but the last about 1 MB, the
   packet count of all of them together == captured == written, files == their number.
5. `-Z nobody -w DIR/z.pcap` (DIR owned by nobody): the running process is nobody,
   the file is owned by nobody and readable, written == captured, the exchange's
   conn record SF.

Needs root (exit 77 otherwise), ip, ethtool, tcpdump, hping3. Usage:
  test_live_capture.py --wirelens PATH --samples DIR [--corpus DIR] [--keep DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import collections
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
import pcaputil  # noqa: E402
from netns import log, sh, wait_for  # noqa: E402

A4, B4 = "198.18.78.1", "198.18.78.2"  # client / attacker, victim (capture side)
A6, B6 = "fd00:5e:78::1", "fd00:5e:78::2"
UPLOAD_PORT, CLOSED_PORT, FLOOD_PORT, TALK_PORT = 5001, 9, 80, 7000
FLOOD_COUNT = 5000
LO_COUNT = 40
NOBODY = 65534
TIME_LIMIT = 420  # seconds for the whole test, whatever happens
LISTENING_RE = re.compile(r"^wirelens: listening on (\S+), link-type EN10MB \(Ethernet\), "
                          r"snapshot length 262144 bytes$")

# Accepts connections on PORT; answers each request "ok REQUEST", then waits for
# the peer to close. Ends when stdin closes or after 60 s.
TALK_SERVER = r"""
import select, socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
socks = []
for port in sys.argv[2:]:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port)))
    s.listen(128)
    socks.append(s)
print("listening", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select(socks + [sys.stdin], [], [], 0.2)
    if sys.stdin in r:
        break
    for s in r:
        c, _ = s.accept()
        c.settimeout(10)
        try:
            c.sendall(b"ok " + c.recv(64))
            while c.recv(64):
                pass
        except OSError:
            pass
        c.close()
"""

# One connection: connect, say where from, one request and answer, hold it open
# HOLD seconds, close.
TALK_CLIENT = r"""
import socket, sys, time
host, port, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c = socket.create_connection((host, port), timeout=10)
print("connected %d" % c.getsockname()[1], flush=True)
c.sendall(b"hello")
got = c.recv(64)
time.sleep(hold)
print("closing", flush=True)
c.close()
time.sleep(0.3)  # the last ACK of the close
print("closed %r" % got, flush=True)
sys.exit(0 if got == b"ok hello" else 1)
"""

# Refused: connections to a port nobody listens on, over IPv4 and IPv6.
REFUSE_CLIENT = r"""
import socket, sys
port = int(sys.argv[1])
bad = 0
for host in sys.argv[2:]:
    try:
        socket.create_connection((host, port), timeout=5).close()
        print("%s: accepted?" % host)
        bad += 1
    except ConnectionRefusedError:
        print("%s: refused" % host)
sys.exit(bad)
"""

# Over 127.0.0.1: a TCP echo server and one connection to it; then UDP datagrams
# to itself every 20 ms until the file argv[1] exists (or 20 s pass).
LO_ECHO = r"""
import os, socket, sys, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 7007)); srv.listen(1)
def serve():
    c, _ = srv.accept()
    while True:
        d = c.recv(64)
        if not d:
            break
        c.sendall(d)
    c.close()
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(("127.0.0.1", 7007), timeout=5)
print("tcp %d" % c.getsockname()[1], flush=True)
c.sendall(b"echo me"); got = c.recv(64); c.close(); t.join(5)
time.sleep(0.3)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 7008))
end = time.monotonic() + 20
n = 0
while not os.path.exists(sys.argv[1]) and time.monotonic() < end:
    u.sendto(b"pad %d" % n, ("127.0.0.1", 7008)); u.recv(64); n += 1
    time.sleep(0.02)
print("echo %r, %d datagrams" % (got, n), flush=True)
sys.exit(0 if got == b"echo me" else 1)
"""

# Listens on the flood port so the flood hits a real service; ends when stdin closes.
FLOOD_LISTENER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(128)
print("listening", flush=True)
sys.stdin.read()
"""


class CaptureNamespaces(netns.Namespaces):
    """Side 0 the client and attacker, side 1 the victim (servers and wirelens)."""

    def __init__(self):
        super().__init__("lca", "lcv")

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
        for side in (0, 1):
            feats = sh(self.exec_cmd(side, ["ethtool", "-k", self.ifs[side]])).stdout.decode()
            for feat in ("tcp-segmentation-offload", "generic-segmentation-offload",
                         "generic-receive-offload"):
                line = [x for x in feats.splitlines() if x.strip().startswith(feat + ":")]
                if not line or ": off" not in line[0]:
                    raise RuntimeError("could not turn off %s: %r" % (feat, line))
            # Nothing can leave: no default route in either namespace.
            for fam in ("-4", "-6"):
                routes = sh(self.exec_cmd(side, ["ip", fam, "route", "show"])).stdout.decode()
                if "default" in routes:
                    raise RuntimeError("default route in %s: %r" % (self.ns[side], routes))


class LiveRun:
    """One `wirelens -i` process in a namespace: stdout to a file, or read line by
    line as it comes (pipe=True); stderr to a file."""

    def __init__(self, nsx, side, wirelens, args, work, tag, pipe=False):
        self.tag = tag
        self.out_path = os.path.join(work, tag + ".out")
        self.err_path = os.path.join(work, tag + ".err")
        self.lines = []  # (monotonic time, line) when pipe
        self.t_sigint = None
        self.rc = None
        with open(self.err_path, "wb") as err:
            if pipe:
                self.proc = nsx.spawn(side, [wirelens] + args, stdout=subprocess.PIPE,
                                      stderr=err)
                self.reader = threading.Thread(target=self._read, daemon=True)
                self.reader.start()
            else:
                with open(self.out_path, "wb") as out:
                    self.proc = nsx.spawn(side, [wirelens] + args, stdout=out, stderr=err)
                self.reader = None

    def _read(self):
        with open(self.out_path, "wb") as copy:
            for raw in iter(self.proc.stdout.readline, b""):
                self.lines.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
                copy.write(raw)
                copy.flush()

    def wait_listening(self, timeout=30):
        return wait_for(self.err_path, "listening on", self.proc, timeout=timeout)

    def stop(self, sig=signal.SIGINT, timeout=90):
        """Sends `sig` (if still running) and waits; the exit code or "timeout"."""
        if self.proc.poll() is None:
            self.t_sigint = time.monotonic()
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout):
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.rc = "timeout"
        if self.reader is not None:
            self.reader.join(timeout=10)
        return self.rc

    def stdout(self):
        try:
            with open(self.out_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr(self):
        try:
            with open(self.err_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def records(self, f):
        return parse_records(f, self.stdout(), self.tag)


def parse_records(f, text, where):
    recs = []
    for line in text.splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            f.fail("%s: not JSON: %r" % (where, line[:200]))
    return recs


def of_type(recs, kind):
    return [r for r in recs if r.get("type") == kind]


def make_files(d, specs):
    """Deterministic sources: (name, path, size, md5) for each (name, size)."""
    files = []
    for name, size in specs:
        path = os.path.join(d, name)
        data = random.Random("wirelens-live-capture-%s" % name).randbytes(size)
        with open(path, "wb") as fh:
            fh.write(data)
        files.append((name, path, size, hashlib.md5(data).hexdigest()))
    return files


def upload(nsx, work, upload_dir, host, files, extra, tag):
    """Server on side 1, client on side 0, one connection; (ok, message)."""
    recv = os.path.join(work, "recv-" + tag)
    slog = os.path.join(work, "server-%s.log" % tag)
    with open(slog, "wb") as out:
        srv = nsx.spawn(1, [sys.executable, os.path.join(upload_dir, "upload_server.py"),
                            "--host", host, "--port", str(UPLOAD_PORT), "--out-dir", recv,
                            "--connections", "1", "--timeout", "30"] + extra,
                        stdout=out, stderr=subprocess.STDOUT)
    if not wait_for(slog, "listening", srv):
        return False, "server did not start: " + open(slog).read()
    cli = subprocess.run(nsx.exec_cmd(0, [sys.executable,
                                          os.path.join(upload_dir, "upload_client.py"),
                                          "--host", host, "--port", str(UPLOAD_PORT),
                                          "--timeout", "30"] + extra +
                                      [p for _, p, _, _ in files]),
                         capture_output=True, timeout=120)
    try:
        src = srv.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill()
        src = "timeout"
    ok = cli.returncode == 0 and src == 0
    for name, path, _, md5 in files:
        got = os.path.join(recv, name)
        if not os.path.exists(got):
            ok = False
            continue
        with open(got, "rb") as fh:
            ok = ok and hashlib.md5(fh.read()).hexdigest() == md5
    shutil.rmtree(recv, ignore_errors=True)
    return ok, "client exit %d, server exit %s\n%s%s%s" % (
        cli.returncode, src, cli.stdout.decode(errors="replace"),
        cli.stderr.decode(errors="replace"), open(slog).read())


def start_talk_server(nsx, work, host, ports, tag):
    slog = os.path.join(work, "talk-%s.log" % tag)
    with open(slog, "wb") as out:
        srv = nsx.spawn(1, [sys.executable, "-c", TALK_SERVER, host] + [str(p) for p in ports],
                        stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
    if not wait_for(slog, "listening", srv):
        raise RuntimeError("server did not start: " + open(slog).read())
    return srv


def end_server(srv):
    try:
        srv.stdin.close()
    except OSError:
        pass
    try:
        srv.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.kill()


def talk(nsx, host, port, hold):
    """One short connection from side 0; (client port, ok, output)."""
    cli = subprocess.run(nsx.exec_cmd(0, [sys.executable, "-c", TALK_CLIENT, host, str(port),
                                          str(hold)]),
                         capture_output=True, timeout=30 + hold)
    out = cli.stdout.decode(errors="replace")
    m = re.search(r"connected (\d+)", out)
    return (int(m.group(1)) if m else None), cli.returncode == 0, \
        out + cli.stderr.decode(errors="replace")


def pcap_info(path):
    """(magic is nanosecond, linktype, records, clean) of a classic pcap."""
    with open(path, "rb") as fh:
        data = fh.read()
    p = pcaputil.parse_pcap(data)
    if p is None:
        return None, None, 0, False
    return p.nano, p.linktype, len(p.records), p.clean


def check_capture_stats(f, where, stats, want_stopped, write_path=None, files=None):
    """The live stats record's capture object; returns it (or {})."""
    if not f.check(stats is not None, "%s: no stats record" % where):
        return {}
    cap = stats.get("capture")
    if not f.check(isinstance(cap, dict), "%s: stats record has no capture object: %r" %
                   (where, stats)):
        return {}
    keys = ("captured", "received", "dropped_kernel", "dropped_interface", "dropped_ring",
            "stopped_by")
    if write_path is not None:
        keys += ("written", "files", "write_path")
    else:  # no -w: nothing written (the fields may be left out)
        f.check(cap.get("written", 0) == 0 and cap.get("files", 0) == 0 and
                cap.get("write_path") in (None, ""),
                "%s: no -w, but stats.capture says %r" % (where, cap))
    f.check(all(k in cap for k in keys), "%s: stats.capture lacks %r: %r" %
            (where, [k for k in keys if k not in cap], cap))
    f.check(cap.get("stopped_by") == want_stopped, "%s: stopped_by %r, want %r" %
            (where, cap.get("stopped_by"), want_stopped))
    f.check(cap.get("dropped_ring") == 0, "%s: dropped_ring %r" % (where, cap.get("dropped_ring")))
    f.check(cap.get("dropped_kernel") == 0, "%s: dropped_kernel %r (the kernel buffer was "
            "too small?)" % (where, cap.get("dropped_kernel")))
    f.check(isinstance(cap.get("captured"), int) and cap["captured"] > 0 and
            stats.get("packets") == cap["captured"],
            "%s: captured %r but %r packets analysed (no ring drop)" %
            (where, cap.get("captured"), stats.get("packets")))
    if write_path is not None:
        f.check(cap.get("written") == cap.get("captured"), "%s: written %r != captured %r" %
                (where, cap.get("written"), cap.get("captured")))
        f.check(cap.get("write_path") == write_path, "%s: write_path %r, want %r" %
                (where, cap.get("write_path"), write_path))
    if files is not None:
        f.check(cap.get("files") == files, "%s: files %r, want %r" % (where, cap.get("files"),
                                                                     files))
    return cap


def check_stderr(f, where, run, ifc):
    lines = run.stderr().splitlines()
    f.check(bool(lines) and LISTENING_RE.match(lines[0]) is not None and
            LISTENING_RE.match(lines[0]).group(1) == ifc,
            "%s: first stderr line %r, want 'wirelens: listening on %s, link-type EN10MB "
            "(Ethernet), snapshot length 262144 bytes'" % (where, lines[:1], ifc))
    f.check(len(lines) == 1, "%s: stderr has more than the listening line: %r" %
            (where, lines[1:6]))


def canon(rec):
    r = dict(rec)
    # When a record is written (the packet clock then) depends on when the live
    # capture's clock ticks; the rest must agree.
    r.pop("ts_logged", None)
    if r.get("type") == "conn":
        r.pop("end", None)
    return json.dumps(r, sort_keys=True)


def rec_key(r):
    return (r.get("type"), r.get("uid"), r.get("dir"), r.get("index"), r.get("state"),
            r.get("victim"), r.get("port"))


def compare_records(f, live, offline):
    """Live and offline records as multisets (conn records without `end`, none with
    `ts_logged`)."""
    lc = collections.Counter(canon(r) for r in live if r.get("type") != "stats")
    oc = collections.Counter(canon(r) for r in offline if r.get("type") != "stats")
    only_live, only_off = lc - oc, oc - lc
    by_type = collections.Counter(r.get("type") for r in live if r.get("type") != "stats")
    log("  live records by type: %s" % dict(by_type))
    if not f.check(not only_live and not only_off,
                   "live and offline (-r live.pcap --stream) records differ: %d only live, "
                   "%d only offline (of %d / %d)" %
                   (sum(only_live.values()), sum(only_off.values()), sum(lc.values()),
                    sum(oc.values()))):
        offline_by_key = collections.defaultdict(list)
        for s in only_off:
            offline_by_key[rec_key(json.loads(s))].append(json.loads(s))
        for s in list(only_live)[:5]:
            r = json.loads(s)
            twins = offline_by_key.get(rec_key(r))
            if twins:
                o = twins[0]
                diff = {k: (r.get(k), o.get(k)) for k in sorted(set(r) | set(o))
                        if r.get(k) != o.get(k)}
                log("    live %s differs from offline in (live, offline): %s" %
                    (" ".join(str(k) for k in rec_key(r) if k is not None),
                     json.dumps(diff)[:600]))
            else:
                log("    only live: %s" % s[:400])
        live_keys = {rec_key(json.loads(x)) for x in only_live}
        for s in [x for x in only_off if rec_key(json.loads(x)) not in live_keys][:3]:
            log("    only offline: %s" % s[:400])
        types_l = collections.Counter(json.loads(s)["type"] for s in only_live.elements())
        types_o = collections.Counter(json.loads(s)["type"] for s in only_off.elements())
        log("    differing records by type: live %s, offline %s" % (dict(types_l),
                                                                   dict(types_o)))


# ---------------------------------------------------------------------------


def run_json(f, nsx, wl, work, upload_dir, keep):
    """Run 1: uploads, refused connections, a flood; live vs offline."""
    ifc = nsx.ifs[1]
    src = os.path.join(work, "src")
    os.mkdir(src)
    files = make_files(src, [("empty.bin", 0), ("one.bin", 1), ("one-k.txt", 1024),
                             ("one-m.bin", 1 << 20), ("three-m.bin", 3 << 20)])
    pcap = os.path.join(work, "live.pcap")
    # -B 32 MiB: the kernel buffer holds the whole transfer even if the capture stalls.
    run = LiveRun(nsx, 1, wl, ["-i", ifc, "--json", "-B", "32768", "-w", pcap], work, "json")
    if not f.check(run.wait_listening(), "json run: wirelens did not start: exit %s: %s" %
                   (run.proc.poll(), run.stderr()[-1000:])):
        run.stop()
        return
    legs = (("v4", B4, A4, [], "little"), ("v6", B6, A6, ["--network-order"], "big"))
    for tag, host, _, extra, _ in legs:
        t = time.monotonic()
        ok, msg = upload(nsx, work, upload_dir, host, files, extra, tag)
        log("  upload %s: %s in %.2f s" % (tag, "ok" if ok else "FAILED",
                                          time.monotonic() - t))
        f.check(ok, "upload over %s failed: %s" % (tag, msg[-2000:]))
    ref = subprocess.run(nsx.exec_cmd(0, [sys.executable, "-c", REFUSE_CLIENT, str(CLOSED_PORT),
                                          B4, B6]), capture_output=True, timeout=30)
    f.check(ref.returncode == 0, "refused connections: %s%s" %
            (ref.stdout.decode(errors="replace"), ref.stderr.decode(errors="replace")))

    lslog = os.path.join(work, "flood-listener.log")
    with open(lslog, "wb") as out:
        lst = nsx.spawn(1, [sys.executable, "-c", FLOOD_LISTENER, B4, str(FLOOD_PORT)],
                        stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
    f.check(wait_for(lslog, "listening", lst), "flood listener did not start")
    t = time.monotonic()
    hp = subprocess.run(nsx.exec_cmd(0, ["timeout", "10", "hping3", "-S", "-p", str(FLOOD_PORT),
                                         "--rand-source", "-i", "u200", "-c", str(FLOOD_COUNT),
                                         B4]), capture_output=True, timeout=20)
    t_flood_end = time.monotonic()
    hp_err = hp.stderr.decode(errors="replace")
    sent = [ln.strip() for ln in hp_err.splitlines() if "packets transmitted" in ln]
    log("  hping3: exit %d in %.2f s: %s" % (hp.returncode, t_flood_end - t,
                                              sent[0] if sent else hp_err.strip()[-300:]))
    f.check(hp.returncode in (0, 1) and sent, "hping3 exit %d: %s" % (hp.returncode,
                                                                      hp_err[-1000:]))
    # Stream mode: the alert's end is written once the flood has been quiet for
    # --flood-quiet (5 s), while the capture still runs.
    end_seen = None
    while time.monotonic() < t_flood_end + 15 and run.proc.poll() is None:
        if '"state":"end"' in run.stdout():
            end_seen = time.monotonic() - t_flood_end
            break
        time.sleep(0.2)
    log("  alert end written live %s" % ("%.1f s after the flood" % end_seen
                                         if end_seen is not None else "NOT within 15 s"))
    f.check(end_seen is not None, "json run: no syn_flood alert end written within 15 s of "
            "the flood while capturing (live output is stream mode)")
    end_server(lst)
    time.sleep(0.5)
    rc = run.stop()
    f.check(rc == 0, "json run: exit %s after SIGINT: %s" % (rc, run.stderr()[-1000:]))
    check_stderr(f, "json run", run, ifc)
    live = run.records(f)
    stats = of_type(live, "stats")
    f.check(len(stats) == 1 and live and live[-1].get("type") == "stats",
            "json run: %d stats records, last record %r" % (len(stats),
                                                           live[-1].get("type") if live else None))
    stats = stats[-1] if stats else None
    cap = check_capture_stats(f, "json run", stats, "signal", write_path=pcap, files=1)
    log("  live stats.capture: %s" % json.dumps(cap))
    if keep:
        for name in ("live.pcap", "json.out", "json.err"):
            if os.path.exists(os.path.join(work, name)):
                shutil.copy(os.path.join(work, name), keep)

    nano, linktype, nrec, clean = pcap_info(pcap) if os.path.exists(pcap) else (None, None, 0,
                                                                               False)
    f.check(nano is True and linktype == 1 and clean,
            "live.pcap: nanosecond %r, linktype %r, clean %r" % (nano, linktype, clean))
    f.check(nrec == cap.get("written"), "live.pcap holds %d records, stats say written %r" %
            (nrec, cap.get("written")))
    tc, terr = pcaputil.tcpdump_count(pcap)
    f.check(tc == nrec, "tcpdump -r live.pcap reads %r packets, want %d (%s)" % (tc, nrec, terr))

    # The checks on what the live run reported.
    conns = of_type(live, "conn")
    est = of_type(live, "conn_established")
    ups = of_type(live, "upload")
    alerts = of_type(live, "alert")
    by_name = {n: (s, m) for n, _, s, m in files}
    for tag, host, client, _, order in legs:
        cs = [c for c in conns if c.get("id.resp_h") == host and
              c.get("id.resp_p") == UPLOAD_PORT]
        if not f.check(len(cs) == 1 and cs[0].get("conn_state") == "SF" and
                       cs[0].get("id.orig_h") == client and cs[0].get("missed_bytes") == 0,
                       "%s: upload conn records %r" %
                       (tag, [(c.get("conn_state"), c.get("history"), c.get("missed_bytes"))
                              for c in cs])):
            continue
        c = cs[0]
        es = [e for e in est if e.get("uid") == c.get("uid")]
        f.check(len(es) == 1, "%s: %d conn_established records for %s" %
                (tag, len(es), c.get("uid")))
        for e in es:
            for k in ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
                      "handshake_rtt"):
                f.check(e.get(k) == c.get(k), "%s: conn_established %s %r, conn record %r" %
                        (tag, k, e.get(k), c.get(k)))
            f.check(isinstance(e.get("ts"), (int, float)) and e["ts"] >= c.get("ts", 0),
                    "%s: conn_established ts %r before the connection's %r" %
                    (tag, e.get("ts"), c.get("ts")))
        mine = sorted((u for u in ups if u.get("uid") == c.get("uid") and u.get("dir") == "orig"),
                      key=lambda u: u.get("index", -1))
        f.check([u.get("file_name") for u in mine] == [n for n, _, _, _ in files],
                "%s: upload records for %r, want %r" %
                (tag, [u.get("file_name") for u in mine], [n for n, _, _, _ in files]))
        for u in mine:
            name = u.get("file_name")
            if name not in by_name:
                continue
            size, md5 = by_name[name]
            where = "%s upload %s" % (tag, name)
            f.check(u.get("complete") is True and u.get("declared_size") == size and
                    u.get("received") == size and u.get("byte_order") == order,
                    "%s: complete %r declared %r received %r byte_order %r (want %d, %s)" %
                    (where, u.get("complete"), u.get("declared_size"), u.get("received"),
                     u.get("byte_order"), size, order))
            f.check(u.get("md5") == md5 and u.get("digest_ok") is True,
                    "%s: md5 %r digest_ok %r, want %s" % (where, u.get("md5"),
                                                         u.get("digest_ok"), md5))
    for host in (B4, B6):
        cs = [c for c in conns if c.get("id.resp_h") == host and c.get("id.resp_p") == CLOSED_PORT]
        f.check(len(cs) == 1 and cs[0].get("conn_state") == "REJ",
                "refused connection to %s:%d: conn records %r" %
                (host, CLOSED_PORT, [(c.get("conn_state"), c.get("history")) for c in cs]))
    mine = [a for a in alerts if a.get("kind") == "syn_flood" and a.get("victim") == B4 and
            a.get("port") == FLOOD_PORT]
    starts = [a for a in mine if a.get("state") == "start"]
    ends = [a for a in mine if a.get("state") == "end"]
    f.check(len(starts) == 1 and len(ends) == 1, "%d start and %d end syn_flood alerts for "
            "%s:%d, want 1 and 1 (alerts: %r)" %
            (len(starts), len(ends), B4, FLOOD_PORT,
             [(a.get("victim"), a.get("port"), a.get("state")) for a in alerts]))
    for a in ends:
        f.check(isinstance(a.get("syns"), int) and a["syns"] >= 4000 and a.get("spoofed") is True,
                "flood end alert: syns %r spoofed %r" % (a.get("syns"), a.get("spoofed")))
    f.check(all(a.get("port") in (FLOOD_PORT, 0) for a in alerts),
            "alerts for other ports: %r" % [(a.get("victim"), a.get("port")) for a in alerts])

    # Live and offline agree record for record.
    t = time.monotonic()
    rc, out, err = pcaputil.run([wl, "-r", pcap, "--json", "--stream", "--no-progress"],
                                timeout=300)
    log("  offline -r live.pcap --stream: exit %d in %.2f s" % (rc, time.monotonic() - t))
    f.check(rc == 0, "offline run: exit %d: %s" % (rc, err[:1000]))
    offline = parse_records(f, out.decode("utf-8", "replace"), "offline run")
    compare_records(f, live, offline)
    ostats = of_type(offline, "stats")
    if f.check(len(ostats) == 1, "offline run: %d stats records" % len(ostats)) and stats:
        for k in ("packets", "bytes", "captured_bytes", "protocols", "malformed"):
            f.check(ostats[0].get(k) == stats.get(k), "stats %s: live %r, offline %r" %
                    (k, stats.get(k), ostats[0].get(k)))


def run_text(f, nsx, wl, work):
    """Run 2: text mode, records flushed as they happen."""
    ifc = nsx.ifs[1]
    srv = start_talk_server(nsx, work, B4, [TALK_PORT], "text")
    run = LiveRun(nsx, 1, wl, ["-i", ifc, "tcp"], work, "text", pipe=True)
    if not f.check(run.wait_listening(), "text run: wirelens did not start: %s" %
                   run.stderr()[-1000:]):
        run.stop()
        end_server(srv)
        return
    hold = 3.0
    cli = subprocess.Popen(nsx.exec_cmd(0, [sys.executable, "-c", TALK_CLIENT, B4,
                                            str(TALK_PORT), str(hold)]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    nsx.procs.append(cli)
    t_connected, t_closing, port, cli_out = None, None, None, []
    for raw in iter(cli.stdout.readline, b""):
        line = raw.decode(errors="replace").strip()
        cli_out.append(line)
        if line.startswith("connected "):
            t_connected = time.monotonic()
            port = int(line.split()[1])
        elif line == "closing":
            t_closing = time.monotonic()
    crc = cli.wait(timeout=30)
    f.check(crc == 0 and port is not None, "text run: client exit %s: %r" % (crc, cli_out))
    time.sleep(0.5)
    rc = run.stop()
    end_server(srv)
    f.check(rc == 0, "text run: exit %s after SIGINT: %s" % (rc, run.stderr()[-1000:]))
    check_stderr(f, "text run", run, ifc)
    if port is None:
        return
    est_re = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} established tcp %s:%d > %s:%d (C[0-9A-Za-z]{17}) "
                        r"rtt [0-9.]+ ms$" % (re.escape(A4), port, re.escape(B4), TALK_PORT))
    est = [(t, ln) for t, ln in run.lines if est_re.match(ln)]
    if f.check(len(est) == 1, "text run: %d 'established' lines for port %d; output:\n%s" %
               (len(est), port, "\n".join(ln for _, ln in run.lines[:20]))):
        t_est, line = est[0]
        delay = t_est - t_connected
        log("  text: %r arrived %.3f s after the handshake (%.1f s before the close)" %
            (line, delay, (t_closing or 0) - t_est))
        f.check(delay < 2.0 and t_closing is not None and t_est < t_closing,
                "text run: the established line came %.2f s after the handshake (closing at "
                "+%.2f s): records are not flushed as they happen" %
                (delay, (t_closing or t_est) - t_connected))
        uid = est_re.match(line).group(1)
        conn_re = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} conn tcp %s:%d > %s:%d %s SF \S+ pkts \d+/\d+ "
                             r"bytes 5/8 [0-9.]+s " % (re.escape(A4), port, re.escape(B4),
                                                      TALK_PORT, uid))
        f.check(any(conn_re.match(ln) for _, ln in run.lines),
                "text run: no 'conn tcp %s:%d > %s:%d %s SF ... bytes 5/8' line: %r" %
                (A4, port, B4, TALK_PORT, uid, [ln for _, ln in run.lines if " conn " in ln]))
    cap_re = re.compile(r"^capture\s+(\d+) captured, (\d+) received by filter, (\d+) dropped by "
                        r"kernel, (\d+) dropped by interface, (\d+) dropped at the analysis ring; "
                        r"stopped by signal$")
    caps = [cap_re.match(ln) for _, ln in run.lines if cap_re.match(ln)]
    if f.check(len(caps) == 1, "text run: no summary line 'capture   N captured, ... stopped "
               "by signal'; the end of the output:\n%s" %
               "\n".join(ln for _, ln in run.lines[-15:])):
        m = caps[0]
        f.check(int(m.group(1)) >= 10 and m.group(5) == "0",
                "text run: capture line %r" % m.group(0))
    tail = [ln for t, ln in run.lines if run.t_sigint is not None and t >= run.t_sigint]
    log("  text: %d lines before SIGINT, %d after" % (len(run.lines) - len(tail), len(tail)))


def run_loopback(f, nsx, wl, work):
    """Run 3: -i lo -c N in a fresh namespace, stops by itself."""
    stop_file = os.path.join(work, "lo.stop")
    run = LiveRun(nsx, 0, wl, ["-i", "lo", "-c", str(LO_COUNT), "--json"], work, "lo")
    if not f.check(run.wait_listening(), "lo run: wirelens did not start: %s" %
                   run.stderr()[-1000:]):
        run.stop()
        return
    echo = nsx.spawn(0, [sys.executable, "-c", LO_ECHO, stop_file], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
    rc = run.wait(timeout=25)  # must end by itself once LO_COUNT packets are in
    open(stop_file, "w").close()
    try:
        eout = echo.communicate(timeout=30)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        echo.kill()
        eout = "timeout"
    f.check(echo.returncode == 0, "lo run: echo failed: %s" % eout)
    f.check(rc == 0, "lo run: exit %s (should stop by itself after -c %d): %s" %
            (rc, LO_COUNT, run.stderr()[-1000:]))
    check_stderr(f, "lo run", run, "lo")
    recs = run.records(f)
    stats = of_type(recs, "stats")
    cap = check_capture_stats(f, "lo run", stats[-1] if stats else None, "count")
    f.check(cap.get("captured") == LO_COUNT, "lo run: captured %r, want %d" %
            (cap.get("captured"), LO_COUNT))
    m = re.search(r"tcp (\d+)", eout)
    if m:
        port = int(m.group(1))
        cs = [c for c in of_type(recs, "conn") if c.get("id.orig_p") == port and
              c.get("id.resp_p") == 7007]
        f.check(len(cs) == 1 and cs[0].get("conn_state") == "SF" and
                cs[0].get("id.orig_h") == "127.0.0.1",
                "lo run: echo conn records %r" % [(c.get("conn_state"), c.get("history"))
                                                  for c in cs])
    log("  lo: %s; stats.capture %s" % (eout.strip().splitlines()[-1:], json.dumps(cap)))


def run_rotation(f, nsx, wl, work, upload_dir):
    """Run 4: -w rot.pcap -C 1 over a few MB."""
    ifc = nsx.ifs[1]
    rdir = os.path.join(work, "rot")
    os.mkdir(rdir)
    base = os.path.join(rdir, "rot.pcap")
    src = os.path.join(work, "src-rot")
    os.mkdir(src)
    files = make_files(src, [("rot-1m.bin", 1 << 20), ("rot-3m.bin", 3 << 20)])
    run = LiveRun(nsx, 1, wl, ["-i", ifc, "--json", "-B", "32768", "-w", base, "-C", "1"],
                  work, "rot")
    if not f.check(run.wait_listening(), "rotation run: wirelens did not start: %s" %
                   run.stderr()[-1000:]):
        run.stop()
        return
    ok, msg = upload(nsx, work, upload_dir, B4, files, [], "rot")
    f.check(ok, "rotation run: upload failed: %s" % msg[-2000:])
    time.sleep(0.5)
    rc = run.stop()
    f.check(rc == 0, "rotation run: exit %s: %s" % (rc, run.stderr()[-1000:]))
    check_stderr(f, "rotation run", run, ifc)
    stats = of_type(run.records(f), "stats")
    made = sorted(os.listdir(rdir))
    want = ["rot.pcap"] + ["rot.pcap%d" % i for i in range(1, len(made))]
    f.check(sorted(made, key=lambda n: (len(n), n)) == want,
            "rotation run: files %r, want rot.pcap, rot.pcap1, ... (as tcpdump -C)" % made)
    cap = check_capture_stats(f, "rotation run", stats[-1] if stats else None, "signal",
                              write_path=base, files=len(made))
    f.check(len(made) >= 4, "rotation run: %d files for ~4.3 MB with -C 1" % len(made))
    total, sizes = 0, []
    for i, name in enumerate(want):
        path = os.path.join(rdir, name)
        if not os.path.exists(path):
            continue
        n, err = pcaputil.tcpdump_count(path)
        nano, linktype, nrec, clean = pcap_info(path)
        f.check(n is not None and n == nrec and clean and nano is True and linktype == 1,
                "rotation run: %s: tcpdump reads %r (%s), parsed %d records, clean %r, "
                "nanosecond %r, linktype %r" % (name, n, err[:200], nrec, clean, nano, linktype))
        total += n or 0
        size = os.path.getsize(path)
        sizes.append(size)
        if i < len(want) - 1:
            f.check(1e6 - 1600 <= size <= 1e6 + 1600,
                    "rotation run: %s holds %d bytes, want about 1,000,000 (-C 1)" % (name, size))
    f.check(total == cap.get("captured") == cap.get("written"),
            "rotation run: %d packets in the files, captured %r, written %r" %
            (total, cap.get("captured"), cap.get("written")))
    log("  rotation: %d files, sizes %r, %d packets" % (len(made), sizes, total))


def run_nobody(f, nsx, wl, work):
    """Run 5: -Z nobody, the -w file is opened as nobody."""
    ifc = nsx.ifs[1]
    zdir = tempfile.mkdtemp(prefix="wl-live-nobody-")  # /tmp/...: nobody can reach it
    try:
        os.chown(zdir, NOBODY, NOBODY)
        os.chmod(zdir, 0o755)
        zfile = os.path.join(zdir, "z.pcap")
        srv = start_talk_server(nsx, work, B4, [TALK_PORT + 1], "nobody")
        run = LiveRun(nsx, 1, wl, ["-i", ifc, "--json", "-Z", "nobody", "-w", zfile], work,
                      "nobody")
        if not f.check(run.wait_listening(), "-Z run: wirelens did not start: %s" %
                       run.stderr()[-1000:]):
            run.stop()
            end_server(srv)
            return
        try:
            with open("/proc/%d/status" % run.proc.pid) as fh:
                ids = {ln.split(":")[0]: ln.split()[1:] for ln in fh if ln.startswith(("Uid",
                                                                                     "Gid"))}
        except OSError as e:
            ids = {"error": str(e)}
        f.check(ids.get("Uid") == [str(NOBODY)] * 4,
                "-Z run: the running wirelens has %r, want uid %d everywhere" % (ids, NOBODY))
        port, ok, out = talk(nsx, B4, TALK_PORT + 1, 0.2)
        f.check(ok, "-Z run: exchange failed: %s" % out)
        time.sleep(0.3)
        rc = run.stop()
        end_server(srv)
        f.check(rc == 0, "-Z run: exit %s: %s" % (rc, run.stderr()[-1000:]))
        check_stderr(f, "-Z run", run, ifc)
        recs = run.records(f)
        stats = of_type(recs, "stats")
        cap = check_capture_stats(f, "-Z run", stats[-1] if stats else None, "signal",
                                  write_path=zfile, files=1)
        if f.check(os.path.exists(zfile), "-Z run: no %s" % zfile):
            st = os.stat(zfile)
            f.check(st.st_uid == NOBODY, "-Z run: z.pcap owned by uid %d, want %d (opened as "
                    "USER)" % (st.st_uid, NOBODY))
            n, err = pcaputil.tcpdump_count(zfile)
            f.check(n is not None and n == cap.get("written") == cap.get("captured"),
                    "-Z run: tcpdump reads %r packets (%s), written %r, captured %r" %
                    (n, err[:200], cap.get("written"), cap.get("captured")))
        cs = [c for c in of_type(recs, "conn") if c.get("id.orig_p") == port and
              c.get("id.resp_p") == TALK_PORT + 1]
        f.check(len(cs) == 1 and cs[0].get("conn_state") == "SF",
                "-Z run: conn records %r" % [(c.get("conn_state"), c.get("history")) for c in cs])
        log("  -Z nobody: running as %r; z.pcap uid %s; stats.capture %s" %
            (ids.get("Uid"), os.stat(zfile).st_uid if os.path.exists(zfile) else "-",
             json.dumps(cap)))
    finally:
        shutil.rmtree(zdir, ignore_errors=True)


def main():
    ap = pcaputil.arguments(samples_required=True)
    ap.add_argument("--keep", help="copy live.pcap and the live output into this folder")
    args = ap.parse_args()

    if os.geteuid() != 0:
        pcaputil.skip("needs root for network namespaces and capture")
    for tool in ("ip", "ethtool", "tcpdump", "timeout"):
        if shutil.which(tool) is None:
            pcaputil.skip("'%s' not installed" % tool)
    if shutil.which("hping3") is None:
        print("FAIL: hping3 is not installed (scripts/setup.sh --test installs it)")
        return 1
    upload_dir = os.path.join(args.samples, "upload")
    if not os.path.isfile(os.path.join(upload_dir, "upload_client.py")):
        print("FAIL: no upload_client.py under %s" % upload_dir)
        return 1
    wl = os.path.abspath(args.wirelens)

    def on_signal(signum, _frame):
        raise SystemExit("interrupted by signal %d" % signum)  # runs the clean-up below

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(TIME_LIMIT)
    f = pcaputil.Failures("test_live_capture")
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="wl-livecap-")
    nsx = CaptureNamespaces()
    try:
        nsx.setup()
        time.sleep(0.5)  # let the first multicast-listener reports go by
        for name, step in (("json", lambda: run_json(f, nsx, wl, work, upload_dir, args.keep)),
                           ("text", lambda: run_text(f, nsx, wl, work)),
                           ("loopback", lambda: run_loopback(f, nsx, wl, work)),
                           ("rotation", lambda: run_rotation(f, nsx, wl, work, upload_dir)),
                           ("nobody", lambda: run_nobody(f, nsx, wl, work))):
            t = time.monotonic()
            log("%s run:" % name)
            step()
            log("  (%.1f s)" % (time.monotonic() - t))
        log("total %.1f s" % (time.monotonic() - t_start))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        f.fail("set-up or run failed: %s" % e)
    finally:
        signal.alarm(0)
        left = nsx.teardown()
        shutil.rmtree(work, ignore_errors=True)
        if left:
            f.fail("namespaces left behind: %r" % left)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end test of SYN-flood detection on real traffic between two network
namespaces.

Two namespaces, an attacker and a victim, joined by one veth pair (names unique to
this process; addresses only from 198.18.0.0/15, no IPv6 addresses at all, no route
anywhere else). tcpdump -U --immediate-mode writes what the victim's veth end sees.
First a legitimate exchange: 20 TCP connections from the attacker namespace to a
listener on 198.18.66.2:8080, each completing its handshake. Then a bounded spoofed
flood from the attacker namespace:
  timeout 10 hping3 -S -p 80 --rand-source -i u200 -c 5000 198.18.66.2
(about 5,000 SYNs in about 1 s, from random source addresses; they only travel over
the veth into the victim namespace, and the victim's answers to random addresses
have no route and are dropped there).

Then `wirelens -r capture.pcap --json` must report exactly one syn_flood alert start
and one end for 198.18.66.2 port 80, spoofed, with at least 4000 SYNs and more than
1000 distinct sources, and no alert for port 8080; the text mode must print
"ALERT syn_flood start" and a "SYN floods" section.

Needs root (exit 77 otherwise) and hping3 (installed by scripts/setup.sh --test;
exit 1 if missing). Usage:
  test_live_flood.py --wirelens PATH --samples DIR [--corpus DIR] [--keep FILE]
Exit 0 pass, 1 fail, 77 skip.
"""

import json
import os
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

ATTACKER, VICTIM = "198.18.66.1", "198.18.66.2"
FLOOD_PORT, LEGIT_PORT = 80, 8080
LEGIT_CONNECTIONS = 20
FLOOD_COUNT = 5000
MIN_SYNS, MIN_SOURCES = 4000, 1000

# Accepts every connection on PORT until told to stop (stdin closes) or 30 s pass;
# port 80 gets one too, so the flood hits a real listening service.
SERVER = r"""
import select, socket, sys, time
socks = []
for port in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port)))
    s.listen(128)
    socks.append(s)
print("listening", flush=True)
end = time.monotonic() + 30
while time.monotonic() < end:
    r, _, _ = select.select(socks + [sys.stdin], [], [], 0.2)
    if sys.stdin in r:
        break
    for s in r:
        c, _ = s.accept()
        c.settimeout(2)
        try:
            data = c.recv(64)
            c.sendall(b"ok " + data)
        except OSError:
            pass
        c.close()
"""

# LEGIT_CONNECTIONS connections, each a tiny request and answer, then a close.
CLIENT = r"""
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = 0
for i in range(n):
    with socket.create_connection((host, port), timeout=5) as c:
        c.sendall(b"hello %d" % i)
        if c.recv(64).startswith(b"ok "):
            ok += 1
    time.sleep(0.02)
print("ok %d" % ok, flush=True)
sys.exit(0 if ok == n else 1)
"""


class FloodNamespaces(netns.Namespaces):
    """Side 0 the attacker, side 1 the victim."""

    def __init__(self):
        super().__init__("lfa", "lfv")

    def configure(self, side, ifc, run):
        run(["ip", "link", "set", "lo", "up"])
        # No IPv6 address of any kind (not even link-local): only 198.18.66.0/24.
        run(["ip", "link", "set", "dev", ifc, "addrgenmode", "none"])
        run(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % ifc])
        run(["ip", "addr", "add", (ATTACKER, VICTIM)[side] + "/24", "dev", ifc])
        run(["ip", "link", "set", ifc, "up"])

    def verify(self):
        # Nothing can leave: each namespace knows only its own /24 (and lo).
        for side in (0, 1):
            routes = sh(self.exec_cmd(side, ["ip", "-4", "route", "show"])).stdout.decode()
            if "default" in routes or any(
                    line and not line.startswith("198.18.66.0/24 ")
                    for line in routes.splitlines()):
                raise RuntimeError("unexpected routes in %s: %r" % (self.ns[side], routes))


def count_tcp(pcap):
    """Independent count from the capture (Ethernet, IPv4, TCP): SYNs (no ACK) per
    destination port, and the distinct source addresses of the SYNs to FLOOD_PORT."""
    syns, sources = {}, set()
    for r in pcap.records:
        d = r.data
        if len(d) < 14 + 20 or struct.unpack("!H", d[12:14])[0] != 0x0800:
            continue
        ihl = (d[14] & 0x0F) * 4
        if d[14 + 9] != 6 or len(d) < 14 + ihl + 14:
            continue
        t = 14 + ihl
        dport = struct.unpack("!H", d[t + 2:t + 4])[0]
        flags = d[t + 13]
        if flags & 0x02 and not flags & 0x10:
            syns[dport] = syns.get(dport, 0) + 1
            if dport == FLOOD_PORT:
                sources.add(bytes(d[26:30]))
    return syns, len(sources)


def stop(proc, timeout=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "timeout"


def main():
    ap = pcaputil.arguments()
    ap.add_argument("--keep", help="copy the capture here")
    args = ap.parse_args()

    if os.geteuid() != 0:
        pcaputil.skip("needs root for network namespaces")
    for tool in ("ip", "tcpdump", "timeout"):
        if shutil.which(tool) is None:
            pcaputil.skip("'%s' not installed" % tool)
    if shutil.which("hping3") is None:
        print("FAIL: hping3 is not installed (scripts/setup.sh --test installs it)")
        return 1
    wirelens = os.path.abspath(args.wirelens)

    def on_signal(signum, _frame):
        raise SystemExit("interrupted by signal %d" % signum)  # runs the clean-up below

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    f = pcaputil.Failures("test_live_flood")
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="wl-flood-")
    nsx = FloodNamespaces()
    try:
        nsx.setup()
        pcap = os.path.join(work, "capture.pcap")
        tlog = os.path.join(work, "tcpdump.log")
        with open(tlog, "wb") as out:
            # -B: 32 MiB of kernel buffer so the flood is not dropped.
            tcpd = nsx.spawn(1, ["tcpdump", "-U", "--immediate-mode", "-n", "-B", "32768",
                                 "-w", pcap, "-i", nsx.ifs[1], "tcp"],
                             stdout=subprocess.DEVNULL, stderr=out)
        if not wait_for(tlog, "listening on", tcpd):
            f.fail("tcpdump did not start: " + open(tlog).read())
            return f.finish()

        slog = os.path.join(work, "server.log")
        with open(slog, "wb") as out:
            srv = nsx.spawn(1, [sys.executable, "-c", SERVER, VICTIM, str(LEGIT_PORT),
                                str(FLOOD_PORT)],
                            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        if not wait_for(slog, "listening", srv):
            f.fail("server did not start: " + open(slog).read())
            return f.finish()

        # The legitimate exchange: every handshake completes.
        cli = subprocess.run(nsx.exec_cmd(0, [sys.executable, "-c", CLIENT, VICTIM,
                                              str(LEGIT_PORT), str(LEGIT_CONNECTIONS)]),
                             capture_output=True, timeout=30)
        f.check(cli.returncode == 0, "legitimate client exit %d: %s%s" %
                (cli.returncode, cli.stdout.decode(errors="replace"),
                 cli.stderr.decode(errors="replace")))
        log("  legitimate: %s" % cli.stdout.decode(errors="replace").strip())
        time.sleep(0.5)

        # The flood: bounded by count and by time; hping3 prints its counts on stderr.
        t = time.monotonic()
        hp = subprocess.run(nsx.exec_cmd(0, ["timeout", "10", "hping3", "-S", "-p",
                                             str(FLOOD_PORT), "--rand-source", "-i", "u200",
                                             "-c", str(FLOOD_COUNT), VICTIM]),
                            capture_output=True, timeout=20)
        hp_secs = time.monotonic() - t
        hp_err = hp.stderr.decode(errors="replace")
        sent = [ln.strip() for ln in hp_err.splitlines() if "packets transmitted" in ln]
        log("  hping3: exit %d in %.2f s: %s" % (hp.returncode, hp_secs,
                                                  sent[0] if sent else hp_err.strip()[-300:]))
        # hping3 exits 1 when nothing answered (the SYN-ACKs to spoofed sources go
        # nowhere); 124 would be the timeout.
        f.check(hp.returncode in (0, 1) and sent,
                "hping3 exit %d: %s" % (hp.returncode, hp_err[-1000:]))

        time.sleep(0.5)  # the last SYNs reach the capture
        try:
            srv.stdin.close()
        except OSError:
            pass
        stop(srv)
        trc = stop(tcpd)  # tcpdump flushes and writes its counts on TERM
        tcpdump_msg = open(tlog).read()
        f.check(trc == 0, "tcpdump exit %s: %s" % (trc, tcpdump_msg))
        counts = {}
        for line in tcpdump_msg.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0].isdigit():
                counts[" ".join(words[1:])] = int(words[0])
        f.check(counts.get("packets dropped by kernel") == 0,
                "tcpdump dropped packets: %r" % counts)
        cap = pcaputil.read_pcap(pcap)
        if not f.check(cap is not None and cap.clean and cap.linktype == 1,
                       "capture not a whole Ethernet pcap"):
            return f.finish()
        syns, cap_sources = count_tcp(cap)
        log("  capture: %d packets, SYNs by port %r, %d distinct sources to port %d; "
            "tcpdump %r" % (len(cap.records), syns, cap_sources, FLOOD_PORT, counts))
        f.check(syns.get(FLOOD_PORT, 0) >= MIN_SYNS, "only %d SYNs to port %d captured" %
                (syns.get(FLOOD_PORT, 0), FLOOD_PORT))
        f.check(syns.get(LEGIT_PORT, 0) == LEGIT_CONNECTIONS, "%d SYNs to port %d captured, "
                "want %d" % (syns.get(LEGIT_PORT, 0), LEGIT_PORT, LEGIT_CONNECTIONS))
        if args.keep:
            shutil.copy(pcap, args.keep)

        # JSON: the alerts.
        rc, stdout, err = pcaputil.run([wirelens, "-r", pcap, "--json", "--no-progress"],
                                       timeout=60)
        f.check(rc == 0, "wirelens --json exit %d: %s" % (rc, err[:1000]))
        alerts, conns = [], []
        for line in stdout.decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                f.fail("not JSON: %r" % line[:200])
                continue
            if rec.get("type") == "alert":
                alerts.append(rec)
            elif rec.get("type") == "conn":
                conns.append(rec)
        for a in alerts:
            log("  alert: %s" % json.dumps({k: v for k, v in a.items()
                                            if k not in ("top_sources", "syn_rate")}))
            if a.get("state") == "end":
                log("    syn_rate %r, top sources %r" % (
                    a.get("syn_rate"), [(s.get("addr"), s.get("syns_at_most"))
                                        for s in a.get("top_sources", [])[:3]]))
        mine = [a for a in alerts if a.get("victim") == VICTIM and a.get("port") == FLOOD_PORT
                and a.get("kind") == "syn_flood"]
        starts = [a for a in mine if a.get("state") == "start"]
        ends = [a for a in mine if a.get("state") == "end"]
        f.check(len(starts) == 1 and len(ends) == 1,
                "%d start and %d end alerts for %s:%d, want 1 and 1" %
                (len(starts), len(ends), VICTIM, FLOOD_PORT))
        for a in starts + ends:
            where = "%s alert" % a.get("state")
            f.check(a.get("spoofed") is True, "%s: spoofed %r" % (where, a.get("spoofed")))
        for a in ends:
            f.check(isinstance(a.get("syns"), int) and a["syns"] >= MIN_SYNS,
                    "end alert: syns %r, want >= %d" % (a.get("syns"), MIN_SYNS))
            f.check(isinstance(a.get("distinct_sources"), int) and
                    a["distinct_sources"] > MIN_SOURCES,
                    "end alert: distinct_sources %r, want > %d" %
                    (a.get("distinct_sources"), MIN_SOURCES))
            f.check(a.get("syns", 0) <= syns.get(FLOOD_PORT, 0),
                    "end alert: syns %r, but only %d SYNs to port %d in the capture" %
                    (a.get("syns"), syns.get(FLOOD_PORT, 0), FLOOD_PORT))
        f.check(not [a for a in alerts if a.get("port") == LEGIT_PORT],
                "alerts for the legitimate port %d: %r" %
                (LEGIT_PORT, [a for a in alerts if a.get("port") == LEGIT_PORT]))
        f.check(all(a.get("victim") == VICTIM and a.get("port") in (FLOOD_PORT, 0)
                    for a in alerts),
                "alerts for other victims: %r" %
                [(a.get("victim"), a.get("port")) for a in alerts
                 if a.get("victim") != VICTIM or a.get("port") not in (FLOOD_PORT, 0)])
        legit = [c for c in conns if c.get("id.resp_p") == LEGIT_PORT]
        f.check(len(legit) == LEGIT_CONNECTIONS and
                all(c.get("conn_state") == "SF" for c in legit),
                "legitimate connections: %d, states %r" %
                (len(legit), sorted({c.get("conn_state") for c in legit})))

        # Text: the alert lines and the section.
        rc, stdout, err = pcaputil.run([wirelens, "-r", pcap, "--no-progress"], timeout=60)
        text = stdout.decode("utf-8", "replace")
        f.check(rc == 0, "wirelens exit %d: %s" % (rc, err[:1000]))
        f.check("ALERT syn_flood start %s:%d" % (VICTIM, FLOOD_PORT) in text,
                "text output lacks 'ALERT syn_flood start %s:%d'" % (VICTIM, FLOOD_PORT))
        f.check("\nSYN floods\n" in text, "text output lacks a 'SYN floods' section")
        f.check(":%d" % LEGIT_PORT not in "\n".join(
            ln for ln in text.splitlines() if ln.startswith("ALERT")),
            "text output alerts for port %d" % LEGIT_PORT)
        lines = text.splitlines()
        if "SYN floods" in lines:
            i = lines.index("SYN floods")
            log("  text:\n    " + "\n    ".join(
                [ln for ln in lines if ln.startswith("ALERT")] + lines[i:i + 8]))
        log("  total %.1f s" % (time.monotonic() - t_start))
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

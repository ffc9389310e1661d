#!/usr/bin/env python3
"""--max-memory under hostile traffic: three traces made by
bench/gen_hostile.py, each analysed with a 24 MiB budget.

  concurrent  100,000 connections that open and never close
  holes       3,000 connections each holding data after a hole never filled
  synflood    300,000 spoofed SYNs to one victim

For each: exit 0; the plan in the stats record fits the budget; the peak
resident size of the process (from wait4) stays within the budget plus the
resident size of a run that holds no tables at all (the binary, its libraries,
the built-in vendor table) - not checked under AddressSanitizer, whose shadow
memory is not ours; and nothing is lost silently: every connection is written
as a conn record, evictions and reassembly drops are counted (and are needed:
the traces overflow the budget's tables).

Usage: test_memory_budget.py --wirelens PATH [--samples DIR] [--corpus DIR]
Exit 0 pass, 1 fail.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

BUDGET_MIB = 24
GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                   "gen_hostile.py")


def run_rss(cmd, stdout):
    """Runs cmd; returns (exit code, peak RSS in KiB, stderr)."""
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, usage.ru_maxrss, err


def sanitized(binary):
    """True for an AddressSanitizer build (it imports __asan_init from libasan)."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"AddressSanitizer" in data


def analyse(f, wl, pcap, tmp, label):
    out_path = os.path.join(tmp, label + ".json")
    with open(out_path, "wb") as out:
        rc, rss_kib, err = run_rss([wl, "-r", pcap, "--json", "--max-memory",
                                    "%dM" % BUDGET_MIB], out)
    if not f.check(rc == 0, "%s: exit %d, stderr %r" % (label, rc, err[:300])):
        return None, rss_kib
    # Counted line by line: a test process grown large would be inherited, page for
    # page, by the next child before it execs, and show in that child's peak RSS.
    conns, stats = 0, None
    with open(out_path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith('{"type":"conn"'):
                conns += 1
            elif line.startswith('{"type":"attempts"'):  # evicted attempts, folded
                conns += json.loads(line)["attempts"]
            elif line.startswith('{"type":"stats"'):
                stats = json.loads(line)
    os.unlink(out_path)
    if not f.check(stats is not None, "%s: no stats record" % label):
        return None, rss_kib
    mem = stats.get("memory", {})
    f.check(mem.get("budget") == BUDGET_MIB << 20 and mem.get("bound", 1 << 62) <= mem["budget"],
            "%s: the plan does not fit the budget: %s" % (label, mem))
    f.check(mem.get("shrunk") is True, "%s: the limits were not lowered for the budget" % label)
    fl = stats["flows"]
    f.check(fl["connections"] == conns,
            "%s: %d connections but %d in conn and attempts records" % (label, fl["connections"], conns))
    print("  %s: peak RSS %.1f MiB, %d conn records, flows %s, reassembly %s, memory %s" %
          (label, rss_kib / 1024, conns, fl, stats.get("reassembly"), mem))
    return stats, rss_kib


def main():
    ap = pu.arguments()
    args = ap.parse_args()
    f = pu.Failures("test_memory_budget")
    asan = sanitized(args.wirelens)
    with tempfile.TemporaryDirectory(prefix="wirelens-mem-") as tmp:
        # The floor: a run with no tables (decode only) on a tiny capture.
        tiny = os.path.join(tmp, "tiny.pcap")
        subprocess.run([sys.executable, GEN, "concurrent", tiny, "1"], check=True)
        with open(os.devnull, "wb") as null:
            rc, floor_kib, err = run_rss([args.wirelens, "-r", tiny, "--no-flows", "--no-flood"],
                                         null)
        f.check(rc == 0, "floor run: exit %d %r" % (rc, err))
        limit_kib = (BUDGET_MIB << 10) + floor_kib
        print("floor RSS %.1f MiB, limit %.1f MiB%s" %
              (floor_kib / 1024, limit_kib / 1024, " (ASan: RSS not checked)" if asan else ""))

        for kind, n in (("concurrent", 100000), ("holes", 3000), ("synflood", 300000)):
            pcap = os.path.join(tmp, kind + ".pcap")
            subprocess.run([sys.executable, GEN, kind, pcap, str(n)], check=True)
            stats, rss_kib = analyse(f, args.wirelens, pcap, tmp, kind)
            os.unlink(pcap)
            if stats is None:
                continue
            if not asan:
                f.check(rss_kib <= limit_kib, "%s: peak RSS %.1f MiB over %.1f MiB" %
                        (kind, rss_kib / 1024, limit_kib / 1024))
            fl, ra = stats["flows"], stats.get("reassembly", {})
            if kind == "concurrent":
                f.check(fl["connections"] == n and fl["evicted"] > 0 and
                        fl["max_open"] == stats["memory"]["max_flows"],
                        "concurrent: want %d connections, evictions, a full table: %s" % (n, fl))
            elif kind == "holes":
                f.check(fl["connections"] == n and ra.get("dropped_segments", 0) > 0 and
                        ra.get("gaps", 0) >= n,
                        "holes: want %d connections, dropped segments, a gap each: %s" % (n, ra))
            else:
                f.check(fl["connections"] == n and fl["evicted_unanswered"] > 0 and
                        stats["floods"]["alerts"] >= 1,
                        "synflood: want %d attempts, evictions, an alert: %s %s" %
                        (n, fl, stats["floods"]))
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The markdown report of bench/run.sh: workloads, checks, the table of medians and the
PASS/FAIL of the benchmark's targets. Called by run.sh (which sets the BENCH_* environment):

  run_report.py TIMES.tsv [WORKLOAD PCAP SUMMARY.json TSHARK VERIFY.jsonl GEN_SECS]...
"""
import collections
import json
import os
import statistics
import sys

MIB = 1024 * 1024
SHOWN = {
    "wirelens": "wirelens -r FILE --json",
    "wirelens-norea": "wirelens -r FILE --no-reassembly --json",
    "wirelens-allatt": "wirelens -r FILE --all-attempts --json",
    "wirelens-threads2": "wirelens -r FILE --threads 2 --json",
    "wirelens-streams": "wirelens -r FILE --json --streams DIR",
    "tcpdump": "tcpdump -r FILE -w /dev/null",
    "tcpflow": "tcpflow -r FILE -o DIR",
    "tshark": "tshark -r FILE -q -z conv,tcp",
    "tcptrace": "tcptrace -n FILE",
}
WHAT = {
    "wirelens": "full analysis",
    "wirelens-norea": "decode + connections",
    "wirelens-allatt": "full analysis, no folding",
    "wirelens-threads2": "full analysis, 2 threads",
    "wirelens-streams": "full analysis, every TCP stream to a file",
    "tcpdump": "libpcap's read floor",
    "tcpflow": "",
    "tshark": "",
    "tcptrace": "",
}
TSHARK_COLS = ["frames", "malformed", "errors", "bad_checksums", "ip_good", "tcp_good",
               "udp_good", "syns", "dns_responses"]


def env(name, default=""):
    return os.environ.get(name, default)


def load_times(path):
    runs = collections.defaultdict(list)  # (workload, name) -> [(secs, rss_kib, status, cpu)]
    for line in open(path):
        w, name, _round, secs, rss, status, cpu = line.rstrip("\n").split("\t")
        runs[(w, name)].append((float(secs), int(rss or 0), status, float(cpu or 0)))
    return runs


class Result:
    """Median time of a command's completed runs, or why it has none."""

    def __init__(self, runs):
        self.runs = runs
        ok = [r for r in runs if r[2] == "ok"]
        self.n = len(ok)
        self.time = statistics.median(r[0] for r in ok) if ok else None
        self.cpu = statistics.median(r[3] for r in ok) if ok else None  # user + system
        self.rss = max(r[1] for r in runs) * 1024 if runs else None  # bytes, peak of all runs
        self.failure = next((r for r in runs if r[2] != "ok"), None)

    @property
    def lower_bound(self):  # a run stopped at its timeout: the time is at least this
        if self.failure and self.failure[2] == "timeout":
            return self.failure[0]
        return None

    def time_text(self):
        if self.time is not None:
            return "%.2f s" % self.time
        if self.lower_bound:
            return "> %.0f s (stopped at the timeout)" % self.lower_bound
        if self.failure:
            st = self.failure[2]
            if st.startswith("oom"):
                return "out of memory after %.0f s (%s MiB cap)" % (self.failure[0],
                                                                 env("BENCH_PEER_MEM_MB"))
            return "failed (exit %s)" % st.split("rc")[-1]
        return "not run"


def fmt_rate(pps):
    return "%.2f Mpkt/s" % (pps / 1e6) if pps >= 1e5 else "%.0f kpkt/s" % (pps / 1e3)


def fmt_mib(b):
    return "%.1f MiB" % (b / MIB) if b < 10 * 1024 * MIB else "%.1f GiB" % (b / 1024 / MIB)


def verify_mixed(summary, verify_path):
    """wirelens' analysis of the mixed workload against what the generator wrote."""
    stats, alerts = None, []
    orig_ok = orig_incomplete = orig_bad = replies_ok = 0
    for line in open(verify_path):
        rec = json.loads(line)
        t = rec.get("type")
        if t == "stats":
            stats = rec
        elif t == "alert":
            alerts.append(rec)
        elif t == "upload":
            if rec.get("dir") == "orig":
                if rec.get("complete") and rec.get("digest_ok"):
                    orig_ok += 1
                elif rec.get("complete"):
                    orig_bad += 1
                else:
                    orig_incomplete += 1
            elif rec.get("complete"):
                replies_ok += 1
    checks = []
    want = summary["uploads_complete"]
    checks.append((stats is not None and stats["packets"] == summary["packets"],
                   "all %s packets read" % f"{summary['packets']:,}",
                   "%s" % (f"{stats['packets']:,}" if stats else "no stats record")))
    checks.append((orig_ok == want and orig_bad == 0,
                   "%s uploads complete with their MD5 verified" % f"{want:,}",
                   "%s complete and verified, %d digest mismatches" % (f"{orig_ok:,}", orig_bad)))
    checks.append((orig_incomplete == summary["resets"],
                   "%d uploads reset mid-way reported incomplete" % summary["resets"],
                   "%d incomplete" % orig_incomplete))
    checks.append((replies_ok == want, "%s framed replies decoded" % f"{want:,}",
                   "%s" % f"{replies_ok:,}"))
    checks.append(flood_check(summary, alerts))
    return checks


def flood_check(summary, alerts):
    victim, port = summary["flood_victim"], summary["flood_port"]
    starts = [a for a in alerts if a.get("state") == "start"]
    ok = any(a.get("victim") == victim and a.get("port") == port for a in starts)
    others = [a for a in starts if not (a.get("victim") == victim and a.get("port") == port)]
    got = ", ".join("%s:%s" % (a.get("victim"), a.get("port")) for a in starts) or "none"
    return (ok and not others, "the SYN-flood alert on %s:%d, and no other" % (victim, port),
            "alerts: " + got)


def verify_synflood(summary, verify_path):
    stats, alerts = None, []
    for line in open(verify_path):
        rec = json.loads(line)
        if rec.get("type") == "stats":
            stats = rec
        elif rec.get("type") == "alert":
            alerts.append(rec)
    return [
        (stats is not None and stats["packets"] == summary["packets"],
         "all %s packets read" % f"{summary['packets']:,}",
         f"{stats['packets']:,}" if stats else "no stats record"),
        flood_check(summary, alerts),
    ]


def tshark_check(path, summary):
    lines = open(path).read().split("\n")
    partial = lines[0].strip() != "0"
    vals = dict(zip(TSHARK_COLS, (int(x) for x in lines[1].split())))
    capinfos = int(lines[2].strip().replace(",", ""))
    scope = "first %s packets" % f"{vals.get('frames', 0):,}" if partial else "all packets"
    ok = (capinfos == summary["packets"] and vals.get("malformed", -1) == 0 and
          vals.get("errors", -1) == 0 and vals.get("bad_checksums", -1) == 0 and
          (partial or vals.get("frames") == summary["packets"]))
    got = ("capinfos: %s packets; tshark (%s): %d malformed, %d expert errors, %d bad checksums; "
           "good checksums: IPv4 %s, TCP %s, UDP %s; %s SYNs, %s DNS answers" %
           (f"{capinfos:,}", scope, vals.get("malformed", -1), vals.get("errors", -1),
            vals.get("bad_checksums", -1), f"{vals.get('ip_good', 0):,}",
            f"{vals.get('tcp_good', 0):,}", f"{vals.get('udp_good', 0):,}",
            f"{vals.get('syns', 0):,}", f"{vals.get('dns_responses', 0):,}"))
    return (ok, "the file is well-formed", got)


def describe(summary):
    if summary["workload"] == "mixed":
        return ("%s TCP connections (%s over IPv6), %d at once: %s framed uploads complete "
                "(%.0f MB of bodies, 0 B to %s B) with their replies, %d reset mid-upload, "
                "%d with a reordered segment, %d with a retransmission; %s DNS datagrams; "
                "%s spoofed SYNs to %s:%d" %
                (f"{summary['tcp_connections']:,}", f"{summary['ipv6_connections']:,}",
                 summary["concurrency"], f"{summary['uploads_complete']:,}",
                 summary["body_bytes"] / 1e6, f"{summary['max_body']:,}", summary["resets"],
                 summary["reordered"], summary["retransmitted"],
                 f"{summary['udp_datagrams']:,}", f"{summary['flood_syns']:,}",
                 summary["flood_victim"], summary["flood_port"]))
    return ("%s spoofed SYNs from random sources in 198.18.0.0/15 to %s:%d, 1M/s" %
            (f"{summary['flood_syns']:,}", summary["flood_victim"], summary["flood_port"]))


def main():
    times = load_times(sys.argv[1])
    rest = sys.argv[2:]
    workloads = []
    for i in range(0, len(rest), 6):
        w, pcap, summ, tshark, verify, gen_secs = rest[i:i + 6]
        workloads.append(dict(name=w, pcap=pcap, summary=json.load(open(summ)), tshark=tshark,
                              verify=verify, gen_secs=gen_secs))

    out = []
    p = out.append
    p("# wirelens benchmark")
    p("")
    p("- date: %s" % env("BENCH_DATE"))
    p("- machine: %s" % env("BENCH_MACHINE"))
    p("- versions: %s" % env("BENCH_VERSIONS"))
    p("- command: `%s` (from the top of the repository; %s round(s), each running every command "
      "once in rotated order; the file in the page cache; wall time and peak RSS from "
      "`/usr/bin/time`; stdout to /dev/null; tcpflow's DIR fresh each run in %s and deleted "
      "after; peers under a %s MiB address-space cap, and stopped on the synflood workload "
      "after %s s); the script ran %d min %d s" %
      (env("BENCH_CMD"), env("BENCH_RUNS"), env("BENCH_FLOW_BASE"), env("BENCH_PEER_MEM_MB"),
       env("BENCH_PEER_TIMEOUT_SYNFLOOD"), int(env("BENCH_ELAPSED", "0")) // 60,
       int(env("BENCH_ELAPSED", "0")) % 60))
    p("")
    p("## Workloads (bench/gen_workload.cpp, seed %s)" % workloads[0]["summary"]["seed"])
    p("")
    p("| workload | packets | bytes (frames) | capture time | generated in | what |")
    p("| --- | ---: | ---: | ---: | ---: | --- |")
    for wk in workloads:
        s = wk["summary"]
        p("| %s | %s | %.0f MB | %.2f s | %s s | %s |" %
          (wk["name"], f"{s['packets']:,}", s["frame_bytes"] / 1e6, s["duration"],
           wk["gen_secs"], describe(s)))
    p("")

    checks = []  # (ok, what, got)
    valid = {}  # workload -> wirelens' analysis found everything in it
    for wk in workloads:
        s = wk["summary"]
        ok, what, got = tshark_check(wk["tshark"], s)
        checks.append((ok, "%s: %s" % (wk["name"], what), got))
        verify = verify_mixed if wk["name"] == "mixed" else verify_synflood
        valid[wk["name"]] = True
        for ok, what, got in verify(s, wk["verify"]):
            checks.append((ok, "%s: wirelens: %s" % (wk["name"], what), got))
            valid[wk["name"]] = valid[wk["name"]] and ok
    p("## Checks (the workloads, and that wirelens' full analysis found everything in them)")
    p("")
    for ok, what, got in checks:
        p("- %s %s — %s" % ("PASS" if ok else "FAIL", what, got))
    p("")

    res = {}
    for wk in workloads:
        w, s = wk["name"], wk["summary"]
        p("## %s: %s packets, %.0f MB" % (w, f"{s['packets']:,}", s["frame_bytes"] / 1e6))
        p("")
        p("| command | | median time | runs | packets/s | peak RSS | time / wirelens' | CPU time |")
        p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        full = Result(times.get((w, "wirelens"), []))
        for name in SHOWN:
            if (w, name) not in times:
                continue
            r = Result(times[(w, name)])
            res[(w, name)] = r
            if r.time is not None:
                rate = fmt_rate(s["packets"] / r.time)
            elif r.lower_bound:
                rate = "< " + fmt_rate(s["packets"] / r.lower_bound)
            else:
                rate = "-"
            if full.time and r.time is not None:
                ratio = "%.2fx" % (r.time / full.time)
            elif full.time and r.lower_bound:
                ratio = "> %.1fx" % (r.lower_bound / full.time)
            else:
                ratio = "-"
            rss = fmt_mib(r.rss) if r.rss else "-"
            if r.failure and r.time is None:
                rss += " (when stopped)"
            cpu = "%.2f s" % r.cpu if r.cpu is not None else "-"
            p("| `%s` | %s | %s | %d | %s | %s | %s | %s |" %
              (SHOWN[name], WHAT[name], r.time_text(), r.n, rate, rss, ratio, cpu))
        p("")
        p("`time / wirelens'`: the command's median time over wirelens' full analysis "
          "(above 1: wirelens is that many times faster). CPU time: median user + system time "
          "(less sensitive than wall time to other work on a shared machine).")
        p("")

    # ---- targets
    def t(w, name):
        return res.get((w, name))

    def speedup(w, peer, mine="wirelens"):
        a, b = t(w, peer), t(w, mine)
        if not a or not b or b.time is None:
            return None, "not measured"
        if a.time is not None:
            return a.time / b.time, "%.2fx" % (a.time / b.time)
        if a.lower_bound:
            return a.lower_bound / b.time, "> %.1fx (%s stopped at the timeout)" % (
                a.lower_bound / b.time, peer)
        return None, "%s did not complete" % peer

    targets = []  # (ok, target, measured)
    have = {wk["name"] for wk in workloads}
    if "mixed" in have:
        for peer, need in (("tcpflow", 5), ("tshark", 10)):
            x, txt = speedup("mixed", peer)
            targets.append((x is not None and x >= need,
                            "mixed: full analysis at least %dx faster than %s" % (need, SHOWN[peer]),
                            txt))
        full = t("mixed", "wirelens")
        targets.append((full is not None and full.rss is not None and full.rss <= 64 * MIB,
                        "mixed: full analysis peak RSS at most 64 MiB",
                        fmt_mib(full.rss) if full and full.rss else "not measured"))
    for w in ("mixed", "synflood"):
        if w not in have:
            continue
        s = next(wk["summary"] for wk in workloads if wk["name"] == w)
        norea, floor = t(w, "wirelens-norea"), t(w, "tcpdump")
        if norea and floor and norea.time is not None and floor.time is not None:
            x = norea.time / floor.time
            targets.append((x <= 2, "%s: --no-reassembly within 2x of libpcap's read floor "
                            "(tcpdump -r FILE -w /dev/null)" % w,
                            "%.2f s vs %.2f s: %.2fx" % (norea.time, floor.time, x)))
        if norea and norea.time is not None:
            pps = s["packets"] / norea.time
            targets.append((pps >= 3e6, "%s: --no-reassembly at least 3 Mpkt/s" % w,
                            fmt_rate(pps)))
    if "synflood" in have:
        s = next(wk["summary"] for wk in workloads if wk["name"] == "synflood")
        full = t("synflood", "wirelens")
        if full:
            targets.append((full.rss is not None and full.rss <= 64 * MIB,
                            "synflood: full analysis peak RSS at most 64 MiB",
                            fmt_mib(full.rss) if full.rss else "-"))
            pps = s["packets"] / full.time if full.time else 0
            targets.append((pps >= 3e6, "synflood: full analysis at least 3 Mpkt/s",
                            fmt_rate(pps) if pps else full.time_text()))
    threads = env("BENCH_THREADS") == "1"
    if "mixed" in have:
        if threads:
            x, txt = speedup("mixed", "tcpflow", "wirelens-threads2")
            targets.append((x is not None and x >= 8,
                            "mixed: --threads 2 at least 8x faster than tcpflow", txt))
            a, b = t("mixed", "wirelens"), t("mixed", "wirelens-threads2")
            ok = a and b and a.time is not None and b.time is not None
            targets.append((bool(ok), "mixed: scaling from 1 to 2 threads reported",
                            "%.2fx" % (a.time / b.time) if ok else "not measured"))
        else:
            targets.append((False, "mixed: --threads 2 at least 8x faster than tcpflow",
                            "wirelens has no --threads"))
            targets.append((False, "mixed: scaling from 1 to 2 threads reported",
                            "wirelens has no --threads"))
    if "mixed" in have and t("mixed", "wirelens-streams"):
        x, txt = speedup("mixed", "tcpflow", "wirelens-streams")
        st = t("mixed", "wirelens-streams")
        targets.append((x is not None and x >= 3,
                        "mixed: --streams DIR at least 3x faster than tcpflow -r FILE -o DIR", txt))
        targets.append((st.rss is not None and st.rss <= 64 * MIB,
                        "mixed: --streams DIR peak RSS at most 64 MiB",
                        fmt_mib(st.rss) if st.rss else "not measured"))
    p("## Targets")
    p("")
    for ok, what, got in targets:
        w = what.split(":")[0]
        if ok and not valid.get(w, True) and "--no-reassembly" not in what:
            ok, got = False, got + " (but wirelens' analysis of %s missed part of it: see Checks)" % w
        p("- %s %s: %s" % ("PASS" if ok else "FAIL", what, got))
    p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""--threads N (offline) gives what one thread gives.

On every sample and on a small generated mixed workload (bench/gen_workload:
uploads, DNS, a spoofed SYN flood), for N = 2 and 3 against N = 1:

* the same multiset of conn, upload and alert records (--json), compared
  (unanswered attempts, folded into `attempts` records or not, as a count per
  responder)
  uids included (a uid is made of the connection's endpoints and first time,
  not numbered by a worker; they must be unique, and every upload's uid one
  of a conn record's) and without conn's `end` (evicted or end_of_input depends on which
  worker's table was full; no record here is evicted anyway);
* the same stats, except the memory plan, the two peaks (flows.max_open,
  reassembly.buffered_peak: summed over the workers, an upper bound) and the
  eviction counts (each worker has its share of the table);
* --stream --json: the conn_established events in the same order as with
  one thread, their timestamps non-decreasing; two runs give the same bytes;
* --extract with 3 workers into one folder, the same names four times over:
  every carved file is a record's, under its own name, with the record's md5;
* a cut file still reports what was read and exits 2; --threads with -i,
  or with the text tables, is refused in one line (exit 1).

Usage: test_threads.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import collections
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import pcaputil

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def run(wirelens, path, *args, rc=0):
    out = subprocess.run([wirelens, "-r", path, "--no-progress", *args], capture_output=True,
                         timeout=300)
    check(out.returncode == rc, "%s %s: exit %d (want %d): %s" %
          (path, " ".join(args), out.returncode, rc, out.stderr.decode(errors="replace").strip()))
    return out.stdout


def parse(data):
    return [json.loads(line) for line in data.decode().splitlines() if line]


# Evictions depend on how full each worker's share of the table is: which
# connection goes, and when, can differ from one table of N times the size.
STATS_SKIP = {("memory",), ("flows", "max_open"), ("reassembly", "buffered_peak"),
              ("flows", "evicted"), ("flows", "evicted_unanswered")}


def flat(d, prefix=()):
    for k, v in d.items():
        key = prefix + (k,)
        if any(key[:len(s)] == s for s in STATS_SKIP):
            continue
        if isinstance(v, dict) and v:
            yield from flat(v, key)
        else:
            yield key, json.dumps(v, sort_keys=True)


def comparable(records):
    """Multiset of the records other than stats, minus what depends on sharding.

    Unanswered attempts evicted from a full table are folded into `attempts`
    records; which ones are evicted depends on each worker's share of the
    table, so unanswered attempts (folded or not) are compared as a count per
    responder."""
    out = collections.Counter()
    for r in records:
        if r["type"] == "stats":
            continue
        if r["type"] == "attempts":
            out[("unanswered", r["id.resp_h"], r["id.resp_p"])] += r["attempts"]
            continue
        if (r["type"] == "conn" and r["proto"] == "tcp" and r["conn_state"] == "S0" and
                r["resp_pkts"] == 0):
            out[("unanswered", r["id.resp_h"], r["id.resp_p"])] += 1
            continue
        r = dict(r)
        if r["type"] == "conn":
            r.pop("end", None)
        out[json.dumps(r, sort_keys=True)] += 1
    return out


def check_uids(name, records):
    conn_uids = [r["uid"] for r in records if r["type"] == "conn"]
    check(len(conn_uids) == len(set(conn_uids)), "%s: conn uids not unique" % name)
    known = set(conn_uids)
    for r in records:
        if r["type"] == "upload" and r["uid"] not in known:
            check(False, "%s: upload uid %s has no conn record" % (name, r["uid"]))
            break


def compare(wirelens, path, extra=()):
    base = parse(run(wirelens, path, "--json", *extra))
    base_stats = dict(flat([r for r in base if r["type"] == "stats"][0]))
    for n in (2, 3):
        name = "%s --threads %d" % (os.path.basename(path), n)
        got = parse(run(wirelens, path, "--json", "--threads", str(n), *extra))
        cg, cb = comparable(got), comparable(base)
        check(cg == cb, "%s: records differ from --threads 1: %s" %
              (name, list(((cg - cb) + (cb - cg)).items())[:2]))
        stats = [r for r in got if r["type"] == "stats"]
        check(len(stats) == 1 and got[-1]["type"] == "stats", "%s: one stats record, last" % name)
        if stats:
            s = dict(flat(stats[0]))
            diff = {k: (base_stats.get(k), s.get(k)) for k in set(s) | set(base_stats)
                    if s.get(k) != base_stats.get(k)}
            check(not diff, "%s: stats differ: %s" % (name, sorted(diff.items())[:4]))
        check_uids(name, got)
    return base


def established(records):
    ev = []
    for r in records:
        if r["type"] == "conn_established":
            ev.append(json.dumps(r, sort_keys=True))
    return ev


def compare_stream(wirelens, path):
    base = parse(run(wirelens, path, "--json", "--stream"))
    one = run(wirelens, path, "--json", "--stream", "--threads", "2")
    two = run(wirelens, path, "--json", "--stream", "--threads", "2")
    name = os.path.basename(path) + " --stream --threads 2"
    check(one == two, "%s: two runs differ" % name)
    got = parse(one)
    check(established(got) == established(base),
          "%s: conn_established events not in the order of --threads 1" % name)
    ts = [r["ts"] for r in got if r["type"] == "conn_established"]
    check(ts == sorted(ts), "%s: conn_established timestamps go backwards" % name)
    check(comparable(got) == comparable(base), "%s: records differ from --threads 1" % name)


def main():
    ap = pcaputil.arguments(samples_required=True)
    a = ap.parse_args()
    samples = sorted(glob.glob(os.path.join(a.samples, "*.pcap*")))
    if not samples:
        print("SKIP: no samples")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(os.path.dirname(os.path.abspath(a.wirelens)), "bench", "gen_workload")
        workload = None
        if os.access(gen, os.X_OK):
            workload = os.path.join(tmp, "mixed.pcap")
            subprocess.run([gen, "mixed", workload, "--seed", "3", "--connections", "400",
                            "--concurrency", "16", "--flood", "20000"], check=True,
                           capture_output=True, timeout=300)
        else:
            print("note: no %s, the generated workload is not checked" % gen)
        for path in samples + ([workload] if workload else []):
            compare(wirelens=a.wirelens, path=path)
            compare_stream(a.wirelens, path)
        compare(a.wirelens, samples[0], ("--packets",))
        if workload:
            got = parse(run(a.wirelens, workload, "--json", "--threads", "2"))
            kinds = collections.Counter(r["type"] for r in got)
            check(kinds["upload"] > 700 and kinds["alert"] >= 2,
                  "workload: uploads and the flood alert found (%s)" % dict(kinds))
            # Cut short: the report of what was read, exit 2.
            cut = os.path.join(tmp, "cut.pcap")
            with open(workload, "rb") as f, open(cut, "wb") as g:
                g.write(f.read(os.path.getsize(workload) // 2 + 7))
            got = parse(run(a.wirelens, cut, "--json", "--threads", "2", rc=2))
            check(got and got[-1]["type"] == "stats" and got[-1]["cut_short"],
                  "cut file: stats record with cut_short")
        # Carving from several workers into one folder: the same names four
        # times over (the upload sample replicated) never overwrite each other.
        upload = os.path.join(a.samples, "upload-v4.pcap")
        rep = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                           "replicate_pcap.py")
        if os.path.exists(upload) and os.path.exists(rep):
            rep4 = os.path.join(tmp, "rep4.pcap")
            subprocess.run([sys.executable, rep, upload, rep4, "4"], check=True,
                           capture_output=True, timeout=120)
            dest = os.path.join(tmp, "carved")
            os.mkdir(dest)
            got = parse(run(a.wirelens, rep4, "--json", "--threads", "3", "--extract", dest))
            named = {r["extracted"]: r["md5"] for r in got
                     if r["type"] == "upload" and "extracted" in r}
            files = sorted(os.listdir(dest))
            check(len(named) >= 16 and sorted(named) == files,
                  "--extract with 3 threads: %d records name %d files, folder has %d" %
                  (len(named), len(set(named)), len(files)))
            for name in files:
                with open(os.path.join(dest, name), "rb") as fh:
                    digest = hashlib.md5(fh.read()).hexdigest()
                if not check(named.get(name) == digest, "carved %s: md5 %s, record says %s" %
                             (name, digest, named.get(name))):
                    break
        # Refused in one line.
        for args in (("--threads", "2"), ("--threads", "2", "--json", "--ladder")):
            out = subprocess.run([a.wirelens, "-r", samples[0], *args], capture_output=True)
            err = out.stderr.decode().strip().splitlines()
            check(out.returncode == 1 and len(err) == 1 and err[0].startswith("wirelens: "),
                  "%s: refused in one line" % " ".join(args))
        out = subprocess.run([a.wirelens, "-i", "lo", "--threads", "2"], capture_output=True)
        err = out.stderr.decode().strip().splitlines()
        check(out.returncode == 1 and len(err) == 1 and "--threads" in err[0],
              "-i with --threads: refused in one line")
    # The shared corpus (many files deliberately malformed): no crash, no hang,
    # exit 0 or 1/2 with a one-line error.
    corpus = sorted(glob.glob(os.path.join(a.corpus or "", "*.pcap*"))) if a.corpus else []
    for path in corpus:
        for args in (("--json",), ("--packets", "--json", "--stream")):
            try:
                out = subprocess.run([a.wirelens, "-r", path, "--threads", "2", *args],
                                     capture_output=True, timeout=60)
            except subprocess.TimeoutExpired:
                check(False, "%s %s: hangs" % (path, " ".join(args)))
                continue
            err = out.stderr.decode(errors="replace").strip().splitlines()
            check(out.returncode == 0 or (out.returncode in (1, 2) and len(err) == 1 and
                                          err[0].startswith("wirelens: ")),
                  "%s %s: exit %d: %s" % (path, " ".join(args), out.returncode, err[:3]))
    print("corpus: %d files through --threads 2" % len(corpus))
    for f in failures:
        print("FAIL", f)
    print("threads: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

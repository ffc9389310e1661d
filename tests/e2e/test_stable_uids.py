#!/usr/bin/env python3
"""A connection's uid names the connection, not its place in the run.

The uid is made of the protocol, the two endpoints and the first packet's
time (README "Connections"), so:

* on every sample (and a generated mixed workload when bench/gen_workload is
  built), each conn record of a plain --json run has the uid of the same
  connection (protocol, endpoints, ts) in a run with a BPF filter selecting
  only that connection's hosts and ports, in a --threads 2 --json run and in
  a --stream --json run (unanswered attempts, which a run may fold into
  attempts records, need not be in both);
* --ladder=UID port 38006 and --follow UID (with and without the filter) find
  the upload-v4 connection by the uid the unfiltered run gave it;
* uids are unique within a run on every sample and on every capture of the
  shared corpus (crafted ones with all-zero timestamps among them); any
  collision is listed.

Usage: test_stable_uids.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import pcaputil

UID = re.compile(r"^C[0-9A-Za-z]{17}$")
# Samples every connection of which a filter must find (plain Ethernet, no
# extension headers in the way of BPF's "port").
MUST_FILTER = ("upload-v4.pcap", "upload-v6.pcap", "refused-and-udp.pcap")

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def run(wirelens, path, *args, rc=(0,)):
    out = subprocess.run([wirelens, "-r", path, "--no-progress", *args], capture_output=True,
                         timeout=300)
    check(out.returncode in rc, "%s %s: exit %d: %s" %
          (os.path.basename(path), " ".join(args), out.returncode,
           out.stderr.decode(errors="replace").strip()[:300]))
    return out


def conns(data):
    recs = [json.loads(line) for line in data.decode().splitlines() if line]
    return [r for r in recs if r.get("type") == "conn"]


def ident(r):
    """What the uid is made of, as the record states it (ts to the microsecond)."""
    ends = sorted([(r["id.orig_h"], r["id.orig_p"]), (r["id.resp_h"], r["id.resp_p"])])
    return (r["proto"], tuple(ends), r["ts"])


def by_ident(records):
    m = collections.defaultdict(set)
    for r in records:
        m[ident(r)].add(r["uid"])
    return m


def unique(name, records):
    seen = collections.Counter(r["uid"] for r in records)
    dup = {u: n for u, n in seen.items() if n > 1}
    check(not dup, "%s: %d uids given to more than one connection: %s" %
          (name, len(dup), sorted(dup.items())[:5]))
    bad = [r["uid"] for r in records if not UID.match(r["uid"])]
    check(not bad, "%s: uids not C + 17 base-62 characters: %s" % (name, bad[:5]))


def bpf_for(r):
    a, b = r["id.orig_h"], r["id.resp_h"]
    f = "host %s and host %s" % (a, b)
    if r["proto"] in ("tcp", "udp"):
        f = "%s and %s port %d and %s port %d" % (f, r["proto"], r["id.orig_p"], r["proto"],
                                                  r["id.resp_p"])
    else:
        f = "%s and (icmp or icmp6)" % f
    return f


def sample_checks(wl, path, limit=40):
    name = os.path.basename(path)
    base = conns(run(wl, path, "--json").stdout)
    unique(name, base)
    known = by_ident(base)
    # Every connection with the same uid in --threads 2 and in --stream.
    for args in (("--threads", "2", "--json"), ("--stream", "--json")):
        other = conns(run(wl, path, *args).stdout)
        unique("%s %s" % (name, " ".join(args)), other)
        # Unanswered attempts may be folded into attempts records in one run
        # and not the other (README "Threads"); every other record must be there.
        same = [r for r in other if ident(r) in known]
        wrong = [r for r in same if r["uid"] not in known[ident(r)]]
        check(not wrong, "%s %s: %d connections with another uid than in a plain run: %s" %
              (name, " ".join(args), len(wrong), [r["uid"] for r in wrong[:5]]))
        absent = [r for r in other if ident(r) not in known and r["conn_state"] != "S0"]
        check(not absent and len(same) >= 0.9 * len(base),
              "%s %s: %d of %d conn records found in a plain run (%d of %d), missing: %s" %
              (name, " ".join(args), len(same), len(other), len(base), len(base),
               [r["uid"] for r in absent[:5]]))
    # Each connection alone through a BPF filter.
    found = 0
    for r in base[:limit]:
        # Behind 802.1Q tags BPF needs "vlan" to look past them.
        for flt in (bpf_for(r), "vlan and (%s)" % bpf_for(r), "vlan and vlan and (%s)" % bpf_for(r)):
            got = conns(run(wl, path, "--json", flt).stdout)
            mine = [g for g in got if ident(g) == ident(r)]
            if mine:
                break
        if not mine:
            check(name not in MUST_FILTER, "%s: %r did not select %s" % (name, flt, r["uid"]))
            continue
        found += 1
        check(any(g["uid"] == r["uid"] for g in mine),
              "%s: with %r the connection %s has uid %s" %
              (name, flt, r["uid"], [g["uid"] for g in mine]))
    print("%s: %d connections, %d checked through a filter" % (name, len(base), found))
    return base


def upload_checks(wl, path):
    base = conns(run(wl, path, "--json").stdout)
    target = [r for r in base if r["proto"] == "tcp" and r["id.orig_p"] == 38006]
    if not check(len(target) == 1, "upload-v4: one connection from port 38006"):
        return
    uid = target[0]["uid"]
    for flt in ((), ("port", "38006")):
        label = " ".join(("--ladder=" + uid,) + flt)
        out = run(wl, path, "--ladder=" + uid, *flt)
        text = out.stdout.decode()
        check(out.returncode == 0 and ("\nladder %s " % uid) in text and
              text.count("\nladder C") == 1,
              "%s: want the ladder of %s, got exit %d, %r" %
              (label, uid, out.returncode, out.stderr.decode()[:200]))
        out = run(wl, path, "--json", "--ladder=" + uid, *flt)
        ladders = [json.loads(line) for line in out.stdout.decode().splitlines()
                   if '"type":"ladder"' in line]
        check([lad["uid"] for lad in ladders] == [uid],
              "%s --json: want one ladder record of %s" % (label, uid))
        out = run(wl, path, "--follow", uid, *flt)
        check(out.returncode == 0 and
              ("Filter: uid %s and tcp.stream eq " % uid) in out.stdout.decode(),
              "--follow %s %s: want the connection, got exit %d, %r" %
              (uid, " ".join(flt), out.returncode, out.stderr.decode()[:200]))


def corpus_checks(wl, corpus):
    files = sorted(glob.glob(os.path.join(corpus, "*.pcap*")))
    total, runs, zero_ts = 0, 0, 0
    for path in files:
        try:
            out = subprocess.run([wl, "-r", path, "--no-progress", "--json"],
                                 capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            continue  # corpus_survival reports hangs
        try:
            records = conns(out.stdout)
        except ValueError:
            continue  # not this test's business either
        if not records:
            continue
        runs += 1
        total += len(records)
        if len({r["ts"] for r in records}) == 1 and len(records) > 1:
            zero_ts += 1
        unique("corpus " + os.path.basename(path), records)
    print("corpus: %d connections in %d captures (%d with every connection at one time), "
          "uids unique" % (total, runs, zero_ts) if not failures else
          "corpus: %d connections in %d captures" % (total, runs))


def main():
    ap = pcaputil.arguments(__doc__, samples_required=True)
    a = ap.parse_args()
    samples = sorted(p for p in glob.glob(os.path.join(a.samples, "*.pcap*")))
    if not samples:
        print("SKIP: no samples")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(os.path.dirname(os.path.abspath(a.wirelens)), "bench", "gen_workload")
        if os.access(gen, os.X_OK):
            mixed = os.path.join(tmp, "mixed.pcap")
            subprocess.run([gen, "mixed", mixed, "--seed", "11", "--connections", "200",
                            "--concurrency", "8"], check=True, capture_output=True, timeout=300)
            samples.append(mixed)
        else:
            print("note: no %s, no mixed workload" % gen)
        for path in samples:
            sample_checks(a.wirelens, path)
        upload = os.path.join(a.samples, "upload-v4.pcap")
        if check(os.path.isfile(upload), "no samples/upload-v4.pcap"):
            upload_checks(a.wirelens, upload)
    if a.corpus and os.path.isdir(a.corpus):
        corpus_checks(a.wirelens, a.corpus)
    else:
        print("note: no corpus, its uids not checked")
    for f in failures:
        print("FAIL", f)
    print("stable uids: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

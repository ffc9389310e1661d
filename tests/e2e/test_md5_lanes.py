#!/usr/bin/env python3
"""MD5 in vector lanes gives the digests OpenSSL gives, end to end.

A mixed workload from bench/gen_workload (600 connections, 32 sending at once, each a
framed upload of 0 B to 64 KiB whose header carries its body's MD5, computed by the
generator with OpenSSL in one call; a few reset mid-upload, reordered or retransmitted)
is read with --md5-lanes 16, 8 and 0 (at most 16 bodies per run of the lanes with
AVX-512F, 8 with AVX2, OpenSSL alone):

* the output is the same bytes all three times;
* every complete upload's md5 is the one its header carries, and digest_ok is true;
* --md5-lanes accepts only 0, 8 and 16 (one line, exit 1 otherwise).

On a CPU without AVX2 or AVX-512F the three runs all hash with OpenSSL; the test still
runs and says so.

Usage: test_md5_lanes.py --wirelens PATH [--samples DIR] [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import json
import os
import subprocess
import sys
import tempfile

import pcaputil


def main():
    ap = pcaputil.arguments()
    a = ap.parse_args()
    gen = os.path.join(os.path.dirname(os.path.abspath(a.wirelens)), "bench", "gen_workload")
    if not os.access(gen, os.X_OK):
        print("SKIP: no %s (built with the bench/ targets)" % gen)
        return 77
    f = pcaputil.Failures("md5_lanes")
    with tempfile.TemporaryDirectory() as tmp:
        workload = os.path.join(tmp, "mixed.pcap")
        subprocess.run([gen, "mixed", workload, "--seed", "5", "--connections", "600",
                        "--concurrency", "32", "--flood", "1000"], check=True,
                       capture_output=True, timeout=300)
        outputs = {}
        for lanes in ("16", "8", "0"):
            r = subprocess.run([a.wirelens, "-r", workload, "--json", "--md5-lanes", lanes],
                               capture_output=True, timeout=300)
            f.check(r.returncode == 0, "--md5-lanes %s: exit %d (%r)" %
                    (lanes, r.returncode, r.stderr[:300]))
            outputs[lanes] = r.stdout
        f.check(outputs["16"] == outputs["0"], "--md5-lanes 16 and 0 give different output")
        f.check(outputs["8"] == outputs["0"], "--md5-lanes 8 and 0 give different output")

        uploads = [json.loads(line) for line in outputs["16"].splitlines()
                   if line.startswith(b'{"type":"upload"')]
        bodies = [u for u in uploads if u.get("dir") == "orig"]
        complete = [u for u in bodies if u.get("complete")]
        f.check(len(complete) > 500, "only %d complete uploads of %d" %
                (len(complete), len(bodies)))
        for u in complete:
            want = u.get("header", {}).get("md5")
            if not f.check(u.get("md5") == want and u.get("digest_ok") is True,
                           "%s #%s (%d bytes): md5 %s, header says %s, digest_ok %r" %
                           (u.get("uid"), u.get("index"), u.get("declared_size", -1),
                            u.get("md5"), want, u.get("digest_ok"))):
                break
        print("%d uploads, %d complete, %d bytes of bodies" %
              (len(bodies), len(complete), sum(u.get("received", 0) for u in bodies)))

        for bad in ("4", "32", "-1", "x"):
            r = subprocess.run([a.wirelens, "-r", workload, "--md5-lanes", bad],
                               capture_output=True, timeout=60)
            err = r.stderr.decode(errors="replace").strip().splitlines()
            f.check(r.returncode == 1 and len(err) == 1 and "--md5-lanes" in err[0],
                    "--md5-lanes %s: exit %d, stderr %r" % (bad, r.returncode, err[:3]))
    cpu = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if " avx512f" not in cpu and " avx2" not in cpu:
        print("note: this CPU has neither AVX2 nor AVX-512F: every run hashed with OpenSSL")
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Link-type coverage: which frames tshark decodes into IP that wirelens does not.

    python3 tools/link_coverage.py [--wirelens build/wirelens] [--corpus DIR] [FILE...]

For every capture of the corpus (default ../shared/corpus/tcpdump next to the
repository) and every FILE given, both tools read the whole file: tshark's
frame.protocols says whether a frame reached IP ("ip" or "ipv6" among its
tokens), wirelens' JSON packet records whether it did ("ip.version") or left the
frame "unsupported_link". Frame N of tshark is wirelens' N-th packet record (when
one tool reads fewer frames, only the common ones are compared, and the file is
listed). Per link type (the records' "linktype"), the table shows files, frames,
frames tshark decodes into IP, frames wirelens decodes into IP, frames wirelens
leaves unsupported, and GAP: frames tshark decodes into IP that wirelens leaves
unsupported.

Exit 1 when a link type has GAP frames and is not one of KNOWN_GAPS below (the link
types this tool reports but does not fail on: they are decoded elsewhere or not
yet, and the table says so); 0 otherwise. Stdlib only.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys

# Link types this tool reports but does not fail on: not decoded yet. (802.11 with its
# radio headers, ATM RFC 1483 and CLIP, ipnet, IPoIB and PKTAP are decoded now.)
KNOWN_GAPS = {
    123: "SunATM (not decoded)",
    129: "ARCnet Linux (not decoded)",
    137: "Juniper ATM1 (not decoded)",
    178: "Juniper Ethernet (not decoded)",
    195: "IEEE 802.15.4 / 6LoWPAN (not decoded)",
    215: "IEEE 802.15.4 no FCS / 6LoWPAN (not decoded)",
}

NAMES = {0: "null", 1: "ethernet", 8: "slip", 9: "ppp", 11: "atm_rfc1483", 12: "raw", 14: "raw",
         19: "atm_clip", 50: "ppp_serial", 100: "atm_rfc1483", 106: "atm_clip", 149: "pktap",
         51: "ppp_ether", 101: "raw", 104: "c_hdlc", 105: "ieee802_11", 107: "frelay",
         108: "loop", 113: "linux_sll", 119: "prism", 127: "radiotap", 129: "arcnet_linux",
         137: "juniper_atm1", 163: "avs", 178: "juniper_ether", 195: "ieee802_15_4",
         226: "ipnet", 228: "ipv4", 229: "ipv6", 239: "nflog", 242: "ipoib",
         258: "pktap", 276: "linux_sll2"}


def tshark_ip_frames(path):
    """[bool per frame: tshark's frame.protocols has ip or ipv6]."""
    p = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.protocols"],
                       capture_output=True, timeout=600)
    out = []
    for line in p.stdout.decode("utf-8", "replace").split("\n")[:-1]:
        toks = set(line.split(":"))
        out.append("ip" in toks or "ipv6" in toks)
    return out


def wirelens_records(wirelens, path):
    p = subprocess.run([wirelens, "--json", "--packets", "-r", path], capture_output=True,
                       timeout=600)
    recs = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("type") == "packet":
            recs.append(rec)
    return recs, p.returncode


def measure(wirelens, path):
    return path, tshark_ip_frames(path), wirelens_records(wirelens, path)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wirelens", default=os.path.join(root, "build", "wirelens"))
    ap.add_argument("--corpus", default=os.path.join(root, "..", "shared", "corpus", "tcpdump"),
                    help="a folder of captures ('' for none)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if shutil.which("tshark") is None:
        print("link_coverage: tshark is not installed", file=sys.stderr)
        return 2
    paths = list(args.files)
    if args.corpus and os.path.isdir(args.corpus):
        paths += [os.path.join(args.corpus, n) for n in sorted(os.listdir(args.corpus))
                  if os.path.isfile(os.path.join(args.corpus, n))]
    if not paths:
        print("link_coverage: no captures", file=sys.stderr)
        return 2

    cols = ("files", "frames", "tshark_ip", "wl_ip", "wl_unsupported", "gap")
    table = collections.defaultdict(collections.Counter)
    files_of = collections.defaultdict(set)
    gap_files = collections.defaultdict(collections.Counter)
    uneven = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for path, ts_ip, (recs, rc) in pool.map(lambda p: measure(args.wirelens, p), paths):
            if len(ts_ip) != len(recs):
                uneven.append("%s: tshark %d frames, wirelens %d (exit %d)"
                              % (os.path.basename(path), len(ts_ip), len(recs), rc))
            for rec, t_ip in zip(recs, ts_ip):
                lt = rec.get("linktype")
                row = table[lt]
                files_of[lt].add(path)
                row["frames"] += 1
                row["tshark_ip"] += t_ip
                row["wl_ip"] += "ip.version" in rec
                unsupported = bool(rec.get("unsupported_link"))
                row["wl_unsupported"] += unsupported
                if t_ip and unsupported:
                    row["gap"] += 1
                    gap_files[lt][os.path.basename(path)] += 1

    print("%-8s %-14s %6s %7s %9s %7s %14s %6s  %s"
          % (("linktype", "name") + cols + ("note",)))
    failed = []
    for lt in sorted(table, key=lambda x: (x is None, x if x is not None else 0)):
        row = table[lt]
        row["files"] = len(files_of[lt])
        note = ""
        if row["gap"]:
            if lt in KNOWN_GAPS:
                note = "known gap: " + KNOWN_GAPS[lt]
            else:
                note = "FAIL: frames tshark decodes into IP are left unsupported"
                failed.append(lt)
        print("%-8s %-14s %6d %7d %9d %7d %14d %6d  %s"
              % ((lt, NAMES.get(lt, "?")) + tuple(row[c] for c in cols) + (note,)))
    for lt in failed:
        print("gap in linktype %s: %s" % (lt, ", ".join(
            "%s (%d)" % kv for kv in sorted(gap_files[lt].items()))))
    if uneven:
        print("\n%d files read to a different number of frames (the common ones compared):"
              % len(uneven))
        for u in uneven[:20]:
            print("  " + u)
    total_gap = sum(r["gap"] for r in table.values())
    known = sum(table[lt]["gap"] for lt in table if lt in KNOWN_GAPS)
    print("\n%d frames tshark decodes into IP are left unsupported: %d in known gaps, %d not"
          % (total_gap, known, total_gap - known))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

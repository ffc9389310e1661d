#!/usr/bin/env python3
"""tcpdump users' habits on the wirelens command line (issue 24).

Asserts:
  * -n, -nn, -e, -nn -e and the grouped -nnr FILE are taken and change nothing:
    stdout, stderr and exit code identical to the same command without them
    (text tables, --packets, --json).
  * -q: no summary. Text: stdout is the report without its summary block;
    --packets -q: nothing on stderr. JSON (`-q --json`, `-q --packets --json`):
    every stdout line parses with json.loads and none is the stats record.
  * Summary placement: the table report ends with the summary on stdout; with
    --packets (text) the summary is on stderr, so `--packets --no-flows | wc -l`
    is the packet count (tcpdump's, counted from tcpdump -w -); with
    --packets --json the stats record stays on stdout.
  * -v: the summary has the memory plan's line (without -v it has none); the
    packet lines of IPv4 packets carry tcpdump -v's "(tos ..., length N)" fields,
    equal to tcpdump -v's on the same file.
  * -x, -xx, -X, -XX, -A: the dump lines under each packet line are byte for
    byte tcpdump's own (tcpdump -nn -r FILE FLAG) for every packet of the
    samples and a few Ethernet, VLAN, LLC and Linux-cooked captures of the
    shared corpus; -c 3 with -X prints 3 packet lines; the dumps are refused
    with --json (exit 1, one line).
  * The done-means commands: `wirelens -nn -r samples/upload-v4.pcap -c 10 -X
    tcp port 5001` prints 10 packet lines, each with its dump, and exits 0;
    `wirelens -q -r samples/upload-v4.pcap --json` parses line by line.
  * --ladder alone prints the ladders and the summary, no connection or upload
    table; --ladder with --json keeps its conn and ladder records.
If tcpdump is missing, the comparisons with it are skipped with a message.

Usage: test_tcpdump_habits.py --wirelens PATH --samples DIR --corpus DIR
Exit 0 pass, 1 fail, 77 skip.  Standard library only; deterministic.
"""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

# A packet line starts with the time of day (tcpdump: local time, run under TZ=UTC).
PACKET_LINE = re.compile(rb"^\d\d:\d\d:\d\d\.\d{6} ")
# Captures of the shared corpus whose dumps are compared, when present.
CORPUS_FILES = ["802.1ad_QinQ.pcap", "802.1D_spanning_tree.pcap", "evb.pcap",
                "fletcher-checksum-negative-shift.pcap", "dhcpv6-domain-list.pcap",
                "babel.pcap", "RADIUS-RFC5580.pcap", "pppoes.pcap", "icmpv6.pcap",
                "ipv6-bad-version.pcap", "bigtcp-ipv4-vxlan-ipv4.pcap"]
DUMP_FLAGS = ["-x", "-xx", "-X", "-XX"]


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, timeout=120, env=env)
    return p.returncode, p.stdout, p.stderr


def tcpdump(args):
    env = dict(os.environ, TZ="UTC")
    return run(["tcpdump"] + args, env=env)


def dump_blocks(out, ascii_mode=False):
    """Per packet, the lines under its packet line: the "\\t0x" lines (hex), or
    for -A every line up to the next packet line."""
    blocks = []
    for line in out.split(b"\n"):
        if PACKET_LINE.match(line):
            blocks.append([])
        elif blocks and (ascii_mode or line.startswith(b"\t0x")):
            blocks[-1].append(line)
    return blocks


def summary_start(text):
    """The index of the summary block's first line ("== SOURCE (LINKTYPE)"), or -1."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("== ") and i + 1 < len(lines) and lines[i + 1].startswith("packets   "):
            return i
    return -1


def test_ignored_flags(f, wl, pcap):
    for mode in ([], ["--packets"], ["--json"], ["--packets", "--json"]):
        want = run([wl, "-r", pcap] + mode)
        for extra in (["-n"], ["-nn"], ["-e"], ["-nn", "-e"], ["-n", "-n", "-e"]):
            got = run([wl] + extra + ["-r", pcap] + mode)
            f.check(got == want, "%s %s: want the output without them, got exit %s, stderr %r"
                    % (" ".join(extra), " ".join(mode), got[0], got[2][:200]))
        got = run([wl, "-nnr", pcap] + mode)
        f.check(got == want, "-nnr FILE %s: want the output of -r FILE, got exit %s, stderr %r"
                % (" ".join(mode), got[0], got[2][:200]))
        got = run([wl, "-nner", pcap] + mode)
        f.check(got == want, "-nner FILE %s: want the output of -r FILE, got exit %s, stderr %r"
                % (" ".join(mode), got[0], got[2][:200]))


def test_summary_places(f, wl, pcap, count):
    # Text tables: the summary ends stdout; -q leaves everything before it.
    rc, out, err = run([wl, "-r", pcap])
    text = out.decode()
    at = summary_start(text)
    f.check(rc == 0 and err == b"" and at > 0, "text report: want the summary on stdout, got "
            "exit %s, stderr %r, stdout ends %r" % (rc, err[:200], text[-300:]))
    f.check("\nmemory    " not in text, "text report without -v: want no memory line")
    rc, qout, qerr = run([wl, "-q", "-r", pcap])
    want = "\n".join(text.split("\n")[:at - 1]) + "\n"  # the blank line before it goes too
    f.check(rc == 0 and qerr == b"" and qout.decode() == want,
            "-q: want the report without its summary, got exit %s, stderr %r, stdout ends %r"
            % (rc, qerr[:200], qout.decode()[-300:]))
    # -v: the memory plan.
    rc, vout, _ = run([wl, "-v", "-r", pcap])
    vtext = vout.decode()
    f.check(rc == 0 and re.search(r"\nmemory    at most [0-9.]+ of 256\.0 MiB \(--max-memory\): "
                                  r"flows ", vtext) is not None,
            "-v: want the memory plan's line in the summary, got %r" % vtext[-400:])
    # Packet lines on stdout: the summary goes to stderr.
    rc, out, err = run([wl, "-r", pcap, "--packets", "--no-flows"])
    lines = out.decode().split("\n")
    f.check(rc == 0 and out.count(b"\n") == count and all(PACKET_LINE.match(ln.encode())
                                                          for ln in lines[:-1]),
            "--packets --no-flows: want %d packet lines alone on stdout (wc -l), got %d lines"
            % (count, out.count(b"\n")))
    etext = err.decode()
    f.check(etext.startswith("== ") and ("\npackets   %d, " % count) in etext,
            "--packets --no-flows: want the summary on stderr, got %r" % etext[:300])
    rc, out, err = run([wl, "-r", pcap, "--packets"])
    text = out.decode()
    f.check(rc == 0 and summary_start(text) == -1 and "\nconnections, by start time" in text
            and summary_start(err.decode()) == 0,
            "--packets: want packet lines and the tables on stdout, the summary on stderr")
    rc, out, err = run([wl, "-q", "-r", pcap, "--packets"])
    f.check(rc == 0 and err == b"", "-q --packets: want nothing on stderr, got %r" % err[:200])
    # JSON: the stats record ends stdout, also with --packets; -q drops it.
    for mode in (["--json"], ["--packets", "--json"]):
        rc, out, err = run([wl, "-r", pcap] + mode)
        recs = [json.loads(ln) for ln in out.decode().splitlines()]
        f.check(rc == 0 and err == b"" and recs and recs[-1]["type"] == "stats",
                "%s: want the stats record last on stdout" % " ".join(mode))
        rc, out, err = run([wl, "-q", "-r", pcap] + mode)
        types = []
        for ln in out.decode().splitlines():
            try:
                types.append(json.loads(ln)["type"])
            except ValueError:
                f.fail("-q %s: a line that is not JSON: %r" % (" ".join(mode), ln[:200]))
        f.check(rc == 0 and err == b"" and types and "stats" not in types,
                "-q %s: want records and no stats record, got exit %s, types %s, stderr %r"
                % (" ".join(mode), rc, sorted(set(types)), err[:200]))


def test_verbose_lines(f, wl, pcap, have_tcpdump):
    rc, out, _ = run([wl, "-v", "-r", pcap, "--packets", "--no-flows"])
    mine = re.findall(rb"IPv4 \((tos 0x[0-9a-f]+, ttl \d+, id \d+, offset \d+, flags \[[^\]]*\], "
                      rb"proto \w+ \(\d+\), length \d+)", out)
    plain = run([wl, "-r", pcap, "--packets", "--no-flows"])[1]
    f.check(rc == 0 and len(mine) == plain.count(b" IPv4 ") and mine,
            "-v: want the IP fields on every IPv4 packet line, got %d of %d"
            % (len(mine), plain.count(b" IPv4 ")))
    if not have_tcpdump:
        return
    _, tout, _ = tcpdump(["-v", "-nn", "-r", pcap])
    theirs = re.findall(rb"IP \((tos 0x[0-9a-f]+, ttl \d+, id \d+, offset \d+, flags \[[^\]]*\], "
                        rb"proto \w+ \(\d+\), length \d+)", tout)
    f.check(mine == theirs, "-v: IP fields differ from tcpdump -v's: first %r vs %r"
            % (next((a for a, b in zip(mine, theirs) if a != b), None),
               next((b for a, b in zip(mine, theirs) if a != b), None)))


def compare_dumps(f, wl, pcap, flag):
    ascii_mode = flag == "-A"
    _, tout, _ = tcpdump(["-nn", "-r", pcap, flag])
    rc, wout, werr = run([wl, "-r", pcap, "--no-flows", flag])
    theirs, mine = dump_blocks(tout, ascii_mode), dump_blocks(wout, ascii_mode)
    name = os.path.basename(pcap)
    if not f.check(rc == 0 and len(mine) == len(theirs),
                   "%s %s: want %d packets as tcpdump, got %d (exit %s, %r)"
                   % (name, flag, len(theirs), len(mine), rc, werr[:200])):
        return
    for i, (a, b) in enumerate(zip(theirs, mine)):
        if not f.check(a == b, "%s %s packet %d: dump differs from tcpdump's:\n%r\n%r"
                       % (name, flag, i + 1, a[:4], b[:4])):
            return
    f.check(sum(map(len, mine)) > 0 or flag != "-xx", "%s %s: no dump at all" % (name, flag))


def test_dumps(f, wl, samples, corpus, have_tcpdump):
    pcap = os.path.join(samples, "upload-v4.pcap")
    # The done-means command: 10 packets, each with its dump, exit 0.
    rc, out, err = run([wl, "-nn", "-r", pcap, "-c", "10", "-X", "tcp", "port", "5001"])
    blocks = dump_blocks(out)
    f.check(rc == 0 and len(blocks) == 10 and all(blocks),
            "-nn -r upload-v4.pcap -c 10 -X tcp port 5001: want 10 packets with dumps, got exit "
            "%s, %d packets, stderr %r" % (rc, len(blocks), err[:200]))
    f.check(all(re.match(rb"^\t0x[0-9a-f]{4}:  [0-9a-f]{4}( [0-9a-f]{2,4})* *  \S+$", ln)
                for b in blocks for ln in b),
            "-X: a dump line not shaped as tcpdump's: %r" % blocks[:1])
    rc, out, err = run([wl, "-r", pcap, "-c", "3", "-X", "--no-flows"])
    f.check(rc == 0 and len(dump_blocks(out)) == 3, "-c 3 -X: want 3 packets")
    for flag in DUMP_FLAGS + ["-A"]:
        rc, out, err = run([wl, "-r", pcap, "--json", flag])
        f.check(rc == 1 and out == b"" and err.decode().count("\n") == 1
                and err.startswith(b"wirelens: "),
                "%s --json: want exit 1 and one line, got exit %s, %r" % (flag, rc, err[:200]))
    if not have_tcpdump:
        print("tcpdump missing: dumps not compared with tcpdump's")
        return
    files = pu.sample_captures(samples)
    files = [p for p in files if "unsupported" not in os.path.basename(p)]
    for name in CORPUS_FILES:
        path = os.path.join(corpus or "", name)
        if os.path.isfile(path):
            files.append(path)
    for path in files:
        for flag in DUMP_FLAGS:
            compare_dumps(f, wl, path, flag)
    # -A: the text dumps of the uploads (their JSON headers are readable).
    for name in ("upload-v4.pcap", "upload-v6.pcap", "tcp-options.pcap"):
        path = os.path.join(samples, name)
        if os.path.isfile(path):
            compare_dumps(f, wl, path, "-A")
    print("dumps compared with tcpdump's on %d captures" % len(files))


def test_ladder_alone(f, wl, pcap):
    rc, out, err = run([wl, "-r", pcap, "--ladder"])
    text = out.decode()
    f.check(rc == 0 and err == b"" and text.count("\nladder C") == 2
            and "connections, by start time" not in text and "uploads" not in text.split("\n== ")[0]
            and summary_start(text) > 0,
            "--ladder: want the two ladders and the summary alone, got %r" % text[:400])
    rc, out, err = run([wl, "-q", "-r", pcap, "--ladder"])
    text = out.decode()
    f.check(rc == 0 and text.count("\nladder C") == 2 and summary_start(text) == -1,
            "-q --ladder: want the ladders alone")
    rc, out, err = run([wl, "-r", pcap, "--ladder", "--json"])
    types = [json.loads(ln)["type"] for ln in out.decode().splitlines()]
    f.check(rc == 0 and types.count("ladder") == 2 and "conn" in types and types[-1] == "stats",
            "--ladder --json: want conn and ladder records and stats, got %s" % sorted(set(types)))


def main():
    ap = pu.arguments(__doc__, default="")
    args = ap.parse_args()
    if not os.access(args.wirelens, os.X_OK):
        print("FAIL: no wirelens binary at %s" % args.wirelens)
        return 1
    pcap = os.path.join(args.samples or "", "upload-v4.pcap")
    if not os.path.isfile(pcap):
        pu.skip("no samples/upload-v4.pcap")
    have_tcpdump = shutil.which("tcpdump") is not None
    if not have_tcpdump:
        print("tcpdump is not installed: the comparisons with it are skipped")
    count = len(pu.read_pcap(pcap).records)
    f = pu.Failures("test_tcpdump_habits")
    test_ignored_flags(f, args.wirelens, pcap)
    test_summary_places(f, args.wirelens, pcap, count)
    test_verbose_lines(f, args.wirelens, pcap, have_tcpdump)
    test_dumps(f, args.wirelens, args.samples, args.corpus, have_tcpdump)
    test_ladder_alone(f, args.wirelens, pcap)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end contracts of the wirelens command line.

Asserts:
  * Fatal errors (missing file, empty file, directory, a text file, a bad BPF
    filter, -f together with a trailing filter, bad options): exit 1, exactly
    one stderr line starting "wirelens: ", nothing on stdout - in JSON and in
    text mode.
  * Every numeric option given a bad value (zero, negative, out of range, not a
    number): exit 1 and exactly "wirelens: OPTION VALUE: must be ..." naming the
    accepted range in plain numbers; sizes say what they understood.
  * --max-memory too small: the value as given and in MiB, the least needed and
    its parts, which add up to it; that least is then enough.
  * --help: grouped (Input, Output, ...), one line per option, no CLI11 type
    noise ({false}, UINT, "in [...]").
  * --ladder: a following word is a uid only if it looks like one (else it is
    the filter's); --ladder=UID; an unknown uid is one stderr line and exit 1
    in text, --json and --stream, after the normal output, with no ladder note.
  * A capture cut at every byte offset of its first three records, and around
    a few later records: never a crash; cut inside the 24-byte file header ->
    exit 1; cut exactly after a record -> exit 0; cut inside a record -> exit 2,
    the stats record counts exactly the whole records before the cut (counted
    here by parsing the record headers in Python), one stderr line saying the
    input was cut short, and the report of what was read is still printed.
  * "-r -" (stdin) gives the same records as reading the file; -c 3 stops
    after three packets; BPF filters (-f and the trailing form) keep exactly
    the packets tcpdump keeps.
  * Crafted files: a record longer than the file's snap length, an absurd
    caplen, a snap length of 1, caplen 0, a file with only a global header, a
    big-endian file, a nanosecond file.
  * --stream (the live capture's output, offline): the same conn, upload and
    alert records as the batch output, in the order the stages produce them
    (an upload before its connection's record), plus one conn_established event
    per completed handshake; text stream lines carry the event time.
  * Live-only options without -i (-w, -Z, -C/-G without -w, -W alone): exit 1.
  * The packet count equals tcpdump's (tcpdump -w -, records counted) and the
    number of whole records parsed here, for every sample and ~30 corpus files.

Usage: test_cli.py --wirelens PATH --samples DIR --corpus DIR
Exit 0 pass, 1 fail, 77 skip.  Standard library only; deterministic.
"""

import concurrent.futures
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

# A well-formed Ethernet/IPv4/TCP frame (54 bytes) used for crafted files.
ETH_TCP = bytes.fromhex(
    "ffffffffffff" "020000000001" "0800"  # Ethernet: dst, src, IPv4
    "45000028000100004006f97cc0a80001c0a80002"  # IPv4, 40 bytes total, TCP
    "d431005000000001000000005002200000000000"  # TCP SYN 54321 -> 80
)

# Preferred capture for the cut / stdin / count / filter tests, in order.
PREFERRED_SAMPLES = ["upload-v4.pcap", "tcp-options.pcap", "vlan-qinq.pcap", "ipv6-ext.pcap"]


def one_line_error(f, r, what):
    """The fatal-error contract of stderr."""
    ok = f.check(
        len(r.stderr_lines) == 1 and r.stderr_lines[0].startswith("wirelens: "),
        "%s: want exactly one stderr line starting 'wirelens: ', got %r" % (what, r.stderr),
    )
    return ok


def test_error_paths(f, wl, tmp, good):
    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as fh:
        fh.write("this is not a capture\n" * 20)
    empty = os.path.join(tmp, "empty.pcap")
    open(empty, "wb").close()
    cases = [
        ("missing file", ["-r", os.path.join(tmp, "no", "such.pcap")]),
        ("empty file", ["-r", empty]),
        ("directory", ["-r", tmp]),
        ("text file", ["-r", text]),
        ("bad BPF with -f", ["-r", good, "-f", "tcp port"]),
        ("bad trailing BPF", ["-r", good, "tcp", "port"]),
        ("-f and trailing filter", ["-r", good, "-f", "tcp", "udp"]),
        ("no -r", []),
        ("unknown option", ["-r", good, "--no-such-option"]),
        ("-c not a number", ["-r", good, "-c", "three"]),
        ("missing --oui file", ["-r", good, "--oui", os.path.join(tmp, "no-oui.csv")]),
        ("-w without -i", ["-r", good, "-w", os.path.join(tmp, "w.pcap")]),
        ("-Z without -i", ["-r", good, "-Z", "nobody"]),
        ("-C without -w", ["-i", "lo", "-C", "1"]),
        ("-W without -C or -G", ["-i", "lo", "-w", os.path.join(tmp, "w.pcap"), "-W", "2"]),
        ("-r and -i", ["-r", good, "-i", "lo"]),
    ]
    for mode in (["--packets", "--json"], []):
        for what, args in cases:
            label = "%s (%s)" % (what, " ".join(mode) or "text")
            rc, out, err = pu.run([wl] + mode + args)
            r = pu.WlRun(rc, out, err)
            f.check(rc == pu.EXIT_ERROR, "%s: want exit 1, got %s" % (label, r.describe()))
            one_line_error(f, r, label)
            f.check(out == b"", "%s: want nothing on stdout, got %r" % (label, out[:200]))


# Every numeric option refused with one line: option, value given, accepted range.
BIG = "18446744073709551615"
NUMERIC_CASES = [
    (["-c", "0"], "-c 0: must be a whole number from 1 to " + BIG),
    (["-c", "-1"], "-c -1: must be a whole number from 1 to " + BIG),
    (["--count", "3x"], "-c 3x: must be a whole number from 1 to " + BIG),
    (["-c", "18446744073709551616"], "-c 18446744073709551616: must be a whole number from 1 to " + BIG),
    (["--tcp-timeout", "0"], "--tcp-timeout 0: must be a number of seconds above 0 (at most 86400)"),
    (["--udp-timeout", "-5"], "--udp-timeout -5: must be a number of seconds above 0 (at most 86400)"),
    (["--icmp-timeout", "nan"], "--icmp-timeout nan: must be a number of seconds above 0 (at most 86400)"),
    (["--frag-timeout", "1e9"], "--frag-timeout 1e9: must be a number of seconds above 0 (at most 86400)"),
    (["--upload-port", "70000"], "--upload-port 70000: must be a whole number from 1 to 65535"),
    (["--upload-port", "0"], "--upload-port 0: must be a whole number from 1 to 65535"),
    (["--extract-max", "-1"], "--extract-max -1: must be a size from 1 byte to 1024G (bytes, or with K, M or G)"),
    (["--streams-max", "2048G"],
     "--streams-max 2048G: must be a size from 1 byte to 1024G (bytes, or with K, M or G); "
     "2048G is 2199023255552 bytes"),
    (["--streams-total", "0"],
     "--streams-total 0: must be a size from 1 byte to 1048576G (bytes, or with K, M or G); 0 is 0 bytes"),
    (["--max-reassembly", "lots"],
     "--max-reassembly lots: must be a size from 1 byte to 1024G (bytes, or with K, M or G)"),
    (["--frag-memory", "8G"],
     "--frag-memory 8G: must be a size from 1 byte to 4G (bytes, or with K, M or G); 8G is 8589934592 bytes"),
    (["--max-memory", "-1"], "--max-memory -1: must be a size from 1 byte to 1024G (bytes, or with K, M or G)"),
    (["--max-flows", "0"], "--max-flows 0: must be a whole number from 1 to 67108864"),
    (["--max-attempts", "-1"], "--max-attempts -1: must be a whole number from 1 to 67108864"),
    (["--frag-datagrams", "0"], "--frag-datagrams 0: must be a whole number from 1 to 1048576"),
    (["--max-header", "8"], "--max-header 8: must be a whole number from 16 to 16777216"),
    (["--max-uploads", "0"], "--max-uploads 0: must be a whole number from 1 to 1048576"),
    (["--md5-lanes", "4"], "--md5-lanes 4: must be 0, 8 or 16"),
    (["--threads", "0"], "--threads 0: must be a whole number from 1 to 64"),
    (["--flood-syn-rate", "0"], "--flood-syn-rate 0: must be a number above 0 (at most 1000000000)"),
    (["--flood-max-completion", "1.5"], "--flood-max-completion 1.5: must be a number from 0 to 1"),
    (["--flood-half-open", "0"], "--flood-half-open 0: must be a whole number from 1 to 1073741824"),
    (["--flood-quiet", "0"], "--flood-quiet 0: must be a number of seconds above 0 (at most 86400)"),
    (["--flood-backlog", "-1"], "--flood-backlog -1: must be a whole number from 1 to 1073741824"),
    (["--flood-synack-lifetime", "65"], "--flood-synack-lifetime 65: must be a number from 1 to 64"),
    (["--flood-prefix", "-1,64"],
     "--flood-prefix -1,64: must be two prefix lengths, IPv4 from 0 to 32 and IPv6 from 0 to 128, "
     "such as 24,64"),
    (["--scan-ports", "1"], "--scan-ports 1: must be a whole number from 2 to 65536"),
    (["--scan-hosts", "65537"], "--scan-hosts 65537: must be a whole number from 2 to 65536"),
    (["-s", "10"], "-s 10: must be a whole number from 64 to 262144"),
    (["-B", "-64"], "-B -64: must be a whole number from 64 to 4194304"),
    (["--duration", "0"], "--duration 0: must be a number of seconds above 0 (at most 31536000)"),
    (["-C", "0"], "-C 0: must be a number above 0 (at most 1000000)"),
    (["-G", "0"], "-G 0: must be a whole number from 1 to 1073741824"),
    (["-W", "0"], "-W 0: must be a whole number from 1 to 1048576"),
    (["--ring", "5000"], "--ring 5000: must be a whole number from 1 to 4096"),
    (["--stats-interval", "-1"], "--stats-interval -1: must be a number of seconds from 0 to 86400"),
]


def test_numeric_options(f, wl, good):
    """Item 1: each bad number is one exact stderr line and exit 1, nothing on stdout."""
    for args, line in NUMERIC_CASES:
        rc, out, err = pu.run([wl, "-r", good] + args)
        f.check(rc == pu.EXIT_ERROR and err == "wirelens: %s\n" % line and out == b"",
                "%s: want exit 1 and %r, got exit %s, %r, stdout %r"
                % (" ".join(args), line, rc, err, out[:100]))
    # Good values with suffixes and decimals are taken.
    rc, _, err = pu.run([wl, "-r", good, "--json", "--max-reassembly", "1M", "--frag-memory", "64K",
                         "--tcp-timeout", "0.5", "--flood-prefix", "0,0", "--upload-port", "5001",
                         "--upload-port", "38006", "tcp"])
    f.check(rc == 0 and err == "", "good numbers refused: exit %s, %r" % (rc, err))


def test_memory_too_small(f, wl, good):
    """Item 2: the value as given and in MiB, the least needed, parts adding up to it."""
    rc, out, err = pu.run([wl, "-r", good, "--max-memory", "1K"])
    m = re.fullmatch(r"wirelens: --max-memory 1K \(0\.001 MiB\): too small for these options: "
                     r"they need at least (\d+\.\d) MiB \((.*)\)\n", err)
    f.check(rc == pu.EXIT_ERROR and m is not None and out == b"",
            "--max-memory 1K: want exit 1 and the too-small line, got exit %s, %r" % (rc, err))
    if m:
        parts = [p.rsplit(" ", 2) for p in m.group(2).split(" + ")]
        names = [p[0] for p in parts]
        tenths = sum(round(float(p[1]) * 10) for p in parts)
        f.check(tenths == round(float(m.group(1)) * 10),
                "--max-memory 1K: parts %r do not add up to %s MiB" % (m.group(2), m.group(1)))
        for want in ("flows", "reassembly", "uploads", "fragments", "flood detection", "text tables"):
            f.check(want in names, "--max-memory 1K: part %r missing from %r" % (want, names))
        # The least it asked for is enough.
        rc2, _, err2 = pu.run([wl, "-r", good, "--max-memory", "%sM" % int(float(m.group(1)) + 1)])
        f.check(rc2 == 0, "--max-memory at the minimum said: exit %s, %r" % (rc2, err2))


def test_help(f, wl):
    """Item 3: --help for people: no CLI11 type noise, grouped, one line per option."""
    rc, out, err = pu.run([wl, "--help"])
    text = out.decode()
    f.check(rc == 0 and err == "", "--help: exit %s, stderr %r" % (rc, err))
    for noise in ("{false}", "UINT", "FLOAT", "TEXT", " in [", ":POSITIVE", "REQUIRED"):
        f.check(noise not in text, "--help shows %r" % noise)
    for group in ("Input:", "Output:", "Analysis:", "Limits:", "Uploads:", "SYN floods and scans:",
                  "Live capture:", "Other:"):
        f.check(("\n" + group + "\n") in text, "--help: no %r group" % group)
    for line in text.splitlines():
        if line.startswith("  -"):
            f.check(re.match(r"  \S.*\S  +\S", line) is not None,
                    "--help: option without its description on the line: %r" % line)
    for opt in ("--count N", "--max-memory SIZE", "--tcp-timeout SECONDS", "--ladder [=UID]"):
        f.check(opt in text, "--help: %r missing" % opt)


def test_ladder(f, wl, samples):
    """Item 4: --ladder takes a uid only as --ladder=UID or a uid-shaped word;
    an unknown uid is one line and exit 1 in every mode, after the normal output."""
    pcap = os.path.join(samples, "upload-v4.pcap")
    if not os.path.isfile(pcap):
        print("no upload-v4.pcap: --ladder not checked")
        return
    rc, out, err = pu.run([wl, "-r", pcap, "--ladder", "port", "38006"])
    text = out.decode()
    f.check(rc == 0 and err == "" and text.count("\nladder C") == 1 and ":38006" in text,
            "--ladder port 38006: want one ladder of the 38006 connection, got exit %s, %r"
            % (rc, err))
    rc, out, _ = pu.run([wl, "-r", pcap, "--json", "port", "38006"])
    uid = json.loads(out.decode().splitlines()[0])["uid"]
    for form in (["--ladder", uid], ["--ladder=" + uid]):
        for mode in ([], ["--json"], ["--stream"]):
            rc, out, err = pu.run([wl, "-r", pcap] + form + mode)
            text = out.decode()
            f.check(rc == 0 and err == "" and uid in text and "no TCP connection" not in text,
                    "%s %s: want the ladder alone, got exit %s, %r"
                    % (" ".join(form), " ".join(mode), rc, err))
    bad = "CXXXXXXXXXXXXXXXXX"
    for form in (["--ladder", bad], ["--ladder=" + bad]):
        for mode in ([], ["--json"], ["--stream"]):
            rc, out, err = pu.run([wl, "-r", pcap] + form + mode)
            label = "%s %s" % (" ".join(form), " ".join(mode) or "(text)")
            f.check(rc == pu.EXIT_ERROR
                    and err == "wirelens: --ladder %s: no TCP connection with this uid\n" % bad,
                    "%s: want exit 1 and one line, got exit %s, %r" % (label, rc, err))
            f.check(b"no TCP connection" not in out and len(out) > 0,
                    "%s: want the normal output without a ladder note, got %r" % (label, out[-200:]))
    rc, out, err = pu.run([wl, "-r", pcap, "--ladder=C123"])
    f.check(rc == pu.EXIT_ERROR and out == b""
            and err == "wirelens: --ladder C123: not a connection uid (C and 17 letters or digits)\n",
            "--ladder=C123: want exit 1 before reading, got exit %s, %r" % (rc, err))


def expected_for_cut(pcap, cut):
    """(exit code, whole records before the cut) for the file cut to `cut` bytes."""
    if cut < pu.PCAP_HEADER_LEN:
        return pu.EXIT_ERROR, 0
    whole = sum(1 for rec in pcap.records if rec.end <= cut)
    at_boundary = cut == pu.PCAP_HEADER_LEN or any(rec.end == cut for rec in pcap.records)
    return (pu.EXIT_OK if at_boundary else pu.EXIT_CUT_SHORT), whole


def cut_offsets(pcap):
    """Every offset through the end of record 3, then around a few later records."""
    recs = pcap.records
    offsets = set(range(0, recs[min(2, len(recs) - 1)].end + 1))
    later = sorted({len(recs) // 2, len(recs) - 2, len(recs) - 1} - {0, 1, 2})
    for i in later:
        if i < 3 or i >= len(recs):
            continue
        rec = recs[i]
        for d in (0, 1, 8, 15, 16, 17, 16 + rec.caplen // 2, 16 + rec.caplen - 1):
            if rec.offset + d <= rec.end:
                offsets.add(rec.offset + d)
        offsets.add(rec.end)
    return sorted(offsets)


def check_cut(f, wl, data, pcap, cut, path):
    with open(path, "wb") as fh:
        fh.write(data[:cut])
    want_rc, whole = expected_for_cut(pcap, cut)
    r = pu.wirelens_json(wl, ["--packets", "-r", path], timeout=60)
    label = "cut at byte %d of %d" % (cut, len(data))
    if pu.crashed(r.rc):
        f.fail("%s: crashed: %s" % (label, r.describe()))
        return
    if not f.check(r.rc == want_rc, "%s: want exit %d, got %s" % (label, want_rc, r.describe())):
        return
    if want_rc == pu.EXIT_ERROR:
        one_line_error(f, r, label)
        f.check(r.stdout == b"", "%s: exit 1 but stdout has %r" % (label, r.stdout[:120]))
        return
    if not f.check(r.stats is not None, "%s: no stats record" % label):
        return
    f.check(
        r.stats["packets"] == whole and len(r.packets) == whole,
        "%s: want %d whole records counted, stats say %d, %d packet records"
        % (label, whole, r.stats["packets"], len(r.packets)),
    )
    if want_rc == pu.EXIT_OK:
        f.check(r.stderr == "", "%s: exit 0 but stderr %r" % (label, r.stderr))
        f.check(r.stats.get("cut_short") is False, "%s: exit 0 but cut_short set" % label)
    else:
        one_line_error(f, r, label)
        f.check(
            "cut short" in r.stderr,
            "%s: stderr does not say the input was cut short: %r" % (label, r.stderr),
        )
        f.check(r.stats.get("cut_short") is True, "%s: stats cut_short is not true" % label)


def test_cuts(f, wl, tmp, path):
    with open(path, "rb") as fh:
        data = fh.read()
    pcap = pu.parse_pcap(data)
    offsets = cut_offsets(pcap)
    cutdir = os.path.join(tmp, "cuts")
    os.makedirs(cutdir)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [
            pool.submit(check_cut, f, wl, data, pcap, c, os.path.join(cutdir, "cut%06d" % c))
            for c in offsets
        ]
        for j in jobs:
            j.result()
    print("cuts: %s cut at %d offsets" % (os.path.basename(path), len(offsets)))

    # The same through a pipe: stdin cut inside record 2.
    cut = pcap.records[1].offset + 20
    part = os.path.join(tmp, "cut-stdin.pcap")
    with open(part, "wb") as fh:
        fh.write(data[:cut])
    r = pu.wirelens_json(wl, ["--packets", "-r", "-"], stdin_file=part)
    f.check(
        r.rc == pu.EXIT_CUT_SHORT and r.stats is not None and r.stats["packets"] == 1,
        "stdin cut inside record 2: want exit 2 and 1 packet, got %s, stats %r"
        % (r.describe(), r.stats),
    )


def without_source(stats):
    return {k: v for k, v in (stats or {}).items() if k != "source"}


def test_stdin_and_count(f, wl, path):
    full = pu.wirelens_json(wl, ["--packets", "-r", path])
    if not f.check(full.rc == 0 and full.stats, "reading %s: %s" % (path, full.describe())):
        return
    piped = pu.wirelens_json(wl, ["--packets", "-r", "-"], stdin_file=path)
    f.check(piped.rc == 0, "-r - < %s: %s" % (path, piped.describe()))
    f.check(
        piped.packets == full.packets,
        "-r - gives different packet records than -r %s (%d vs %d records)"
        % (path, len(piped.packets), len(full.packets)),
    )
    f.check(
        without_source(piped.stats) == without_source(full.stats),
        "-r - stats differ: %r vs %r" % (piped.stats, full.stats),
    )
    f.check(piped.stats and piped.stats.get("source") == "-", "stdin source is not '-'")

    n = min(3, len(full.packets))
    c3 = pu.wirelens_json(wl, ["--packets", "-c", "3", "-r", path])
    f.check(c3.rc == 0, "-c 3: %s" % c3.describe())
    f.check(
        c3.stats is not None and c3.stats["packets"] == n and c3.packets == full.packets[:n],
        "-c 3: want the first %d packets, got %d records, stats %r"
        % (n, len(c3.packets), c3.stats and c3.stats["packets"]),
    )
    c3p = pu.wirelens_json(wl, ["--packets", "-c", "3", "-r", "-"], stdin_file=path)
    f.check(c3p.packets == full.packets[:n], "-c 3 on stdin: not the first %d packets" % n)


def test_filters(f, wl, path):
    base = os.path.basename(path)
    for expr in ("tcp", "udp", "not tcp", "ip6", "tcp and port 80", "vlan"):
        want, terr = pu.tcpdump_count(path, expr.split())
        if want is None:
            f.fail("tcpdump -r %s %s failed: %s" % (base, expr, terr))
            continue
        for form, args in (("-f", ["-f", expr]), ("trailing", expr.split())):
            r = pu.wirelens_json(wl, ["--packets", "-r", path] + args)
            label = "filter %r (%s) on %s" % (expr, form, base)
            if not f.check(r.rc == 0 and r.stats, "%s: %s" % (label, r.describe())):
                continue
            f.check(
                r.stats["packets"] == want and len(r.packets) == want,
                "%s: tcpdump keeps %d packets, wirelens %d (%d records)"
                % (label, want, r.stats["packets"], len(r.packets)),
            )


def records_by_type(stdout):
    recs = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        rec = json.loads(line)
        recs.setdefault(rec["type"], []).append(rec)
    return recs


def canonical(recs):
    # ts_logged: when a stream record was written, absent from the batch output.
    return sorted(json.dumps({k: v for k, v in r.items() if k != "ts_logged"}, sort_keys=True)
                  for r in recs)


def test_stream(f, wl, samples):
    checked = 0
    for path in pu.sample_captures(samples):
        batch_rc, batch_out, _ = pu.run([wl, "--json", "-r", path])
        rc, out, err = pu.run([wl, "--json", "--stream", "-r", path])
        label = "--stream -r %s" % os.path.basename(path)
        if not f.check(rc == batch_rc, "%s: exit %d, batch exit %d" % (label, rc, batch_rc)):
            continue
        if rc not in (0, 2):
            continue
        checked += 1
        batch, stream = records_by_type(batch_out), records_by_type(out)
        for kind in ("conn", "upload", "alert", "anomaly", "stats"):
            f.check(
                canonical(batch.get(kind, [])) == canonical(stream.get(kind, [])),
                "%s: %s records differ from the batch output" % (label, kind),
            )
        # One conn_established per TCP connection whose handshake completed (history
        # holds S, h and the originator's first ACK A), stamped with its ACK's time.
        want = sorted(
            c["uid"] for c in batch.get("conn", [])
            if c["proto"] == "tcp" and "handshake_rtt" in c
            and "synack_ack" in c["handshake_rtt"] and c["history"].startswith("Sh")
        )
        got = sorted(e["uid"] for e in stream.get("conn_established", []))
        f.check(set(want) <= set(got) and len(got) == len(set(got)),
                "%s: conn_established for %s, want at least %s" % (label, got, want))
        # Events come in the order the stages produce them: a connection's
        # uploads and its establishment before its conn record.
        order = [json.loads(l) for l in out.decode().splitlines()]
        seen_conn = set()
        for rec in order:
            if rec["type"] == "conn":
                seen_conn.add(rec["uid"])
            elif rec["type"] in ("upload", "conn_established"):
                f.check(rec["uid"] not in seen_conn,
                        "%s: %s of %s after its conn record" % (label, rec["type"], rec["uid"]))
    f.check(checked >= 3, "--stream: only %d samples could be compared" % checked)
    # Text: one line per event, each starting with the time of day.
    upload = os.path.join(samples, "upload-v4.pcap")
    if os.path.isfile(upload):
        rc, out, err = pu.run([wl, "--stream", "-r", upload])
        lines = out.decode().splitlines()
        events = [l for l in lines if re.match(r"^\d\d:\d\d:\d\d\.\d{6} ", l)]
        kinds = [l.split()[1] for l in events]
        f.check(rc == 0 and kinds.count("established") == 2 and kinds.count("conn") == 2
                and kinds.count("upload") == 8,
                "--stream text: want 2 established, 2 conn, 8 upload lines, got %s" % kinds)
        f.check(not any("connections, by start time" in l for l in lines),
                "--stream text still prints the batch connection table")


def test_crafted(f, wl, tmp):
    def run_file(name, records, **kw):
        path = os.path.join(tmp, name)
        pu.write_pcap(path, 1, records, **kw)
        return pu.wirelens_json(wl, ["--packets", "-r", path])

    n = len(ETH_TCP)
    # Only the global header: a valid, empty capture.
    r = run_file("header-only.pcap", [])
    f.check(
        r.rc == 0 and r.stats and r.stats["packets"] == 0 and not r.packets and r.stderr == "",
        "header-only file: want exit 0 and 0 packets, got %s stats %r" % (r.describe(), r.stats),
    )

    # A record longer than the snap length in the file header: libpcap keeps the first snaplen bytes.
    padded = ETH_TCP + b"\x00" * 40
    r = run_file("over-snaplen.pcap", [(padded, len(padded))] * 3, snaplen=60)
    f.check(
        r.rc == 0 and r.stats and r.stats["packets"] == 3,
        "caplen > snaplen: want exit 0 and 3 packets, got %s" % r.describe(),
    )
    for p in r.packets:
        f.check(
            p["caplen"] <= 60 and p["len"] == len(padded) and "malformed" not in p
            and p.get("src_port") == 54321,
            "caplen > snaplen: packet not decoded within the snap length: %r" % p,
        )

    # An absurd caplen after two good records: the two are reported, then exit 2.
    r = run_file("absurd.pcap", [(ETH_TCP, n), (ETH_TCP, n), (ETH_TCP, n, 1, 0, 0xFFFFFFF0)])
    f.check(
        r.rc == pu.EXIT_CUT_SHORT and r.stats and r.stats["packets"] == 2 and len(r.packets) == 2,
        "absurd caplen: want exit 2 after 2 packets, got %s stats %r" % (r.describe(), r.stats),
    )
    if r.rc == pu.EXIT_CUT_SHORT:
        one_line_error(f, r, "absurd caplen")
    # Just over libpcap's limit, as the first record.
    r = run_file("huge.pcap", [(ETH_TCP, n, 1, 0, pu.LIBPCAP_MAX_CAPLEN + 1)])
    f.check(
        r.rc == pu.EXIT_CUT_SHORT and r.stats and r.stats["packets"] == 0,
        "caplen 262145: want exit 2 with 0 packets, got %s" % r.describe(),
    )

    # Snap length 1: every frame keeps one byte; counted, marked truncated, no crash.
    r = run_file("snaplen1.pcap", [(ETH_TCP, n)] * 4, snaplen=1)
    f.check(
        r.rc == 0 and r.stats and r.stats["packets"] == 4,
        "snaplen 1: want exit 0 and 4 packets, got %s" % r.describe(),
    )
    for p in r.packets:
        f.check(
            p["caplen"] == 1 and p["len"] == n and p.get("malformed") == "eth.truncated"
            and "eth.src" not in p,
            "snaplen 1: want a 1-byte frame marked eth.truncated, got %r" % p,
        )
    if r.stats:
        f.check(r.stats.get("snapped") == 4, "snaplen 1: stats snapped %r" % r.stats.get("snapped"))

    # caplen 0.
    r = run_file("caplen0.pcap", [(b"", 60)])
    f.check(
        r.rc == 0 and len(r.packets) == 1 and r.packets[0].get("malformed") == "eth.truncated",
        "caplen 0: want one packet marked eth.truncated, got %s %r" % (r.describe(), r.packets),
    )

    # Big-endian and nanosecond files decode like the little-endian microsecond one.
    le = run_file("le.pcap", [(ETH_TCP, n, 5, 123456)])
    be = run_file("be.pcap", [(ETH_TCP, n, 5, 123456)], endian=">")
    ns = run_file("ns.pcap", [(ETH_TCP, n, 5, 123456789)], nano=True)
    f.check(le.rc == 0 and le.packets and le.packets[0].get("dst_port") == 80,
            "crafted frame: %s %r" % (le.describe(), le.packets))
    f.check(be.packets == le.packets, "big-endian pcap: %r vs %r" % (be.packets, le.packets))
    if ns.packets and le.packets:
        a, b = dict(ns.packets[0]), dict(le.packets[0])
        f.check(abs(a.pop("ts") - 5.123456789) < 1e-6 and abs(b.pop("ts") - 5.123456) < 1e-9,
                "timestamps: ns file %r, us file %r" % (ns.packets[0]["ts"], le.packets[0]["ts"]))
        f.check(a == b, "nanosecond pcap decodes differently: %r vs %r" % (a, b))


def test_counts(f, wl, paths, what):
    """wirelens counts every packet tcpdump reads (and, for classic pcap, every whole
    record a Python parse finds)."""
    compared = 0
    for path in paths:
        name = os.path.basename(path)
        want, terr = pu.tcpdump_count(path)
        r = pu.wirelens_json(wl, ["-r", path])
        if pu.crashed(r.rc):
            f.fail("%s: crashed: %s" % (name, r.describe()))
            continue
        if want is None or r.rc == pu.EXIT_ERROR:
            # Neither may read a file the other cannot open.
            f.check(
                (want is None) == (r.rc == pu.EXIT_ERROR),
                "%s: tcpdump %s, wirelens %s" % (name, terr or "reads it", r.describe()),
            )
            continue
        compared += 1
        f.check(
            r.stats is not None and r.stats["packets"] == want,
            "%s: tcpdump reads %d packets, wirelens counts %s"
            % (name, want, r.stats and r.stats["packets"]),
        )
        kind, _ = pu.capture_kind(path)
        if kind == "pcap" and r.stats:
            mine = pu.read_pcap(path)
            f.check(
                r.stats["packets"] == len(mine.records)
                and (r.rc == pu.EXIT_OK) == mine.clean,
                "%s: %d whole records (file %s), wirelens %d with exit %d"
                % (name, len(mine.records), "clean" if mine.clean else "cut short",
                   r.stats["packets"], r.rc),
            )
    print("%s counts: %d of %d files compared with tcpdump" % (what, compared, len(paths)))
    return compared


def test_corpus_counts(f, wl, corpus):
    """A spread of about 30 corpus files, every n-th by name."""
    names = sorted(n for n in os.listdir(corpus) if os.path.isfile(os.path.join(corpus, n)))
    picked = [os.path.join(corpus, n) for n in names[:: max(1, len(names) // 30)]]
    compared = test_counts(f, wl, picked, "corpus")
    f.check(compared >= 5, "too few corpus files compared (%d)" % compared)


def ipv4_protocols(pcap):
    """IP protocol numbers of the untagged Ethernet/IPv4 frames of a pcap."""
    return {r.data[23] for r in pcap.records if len(r.data) > 23 and r.data[12:14] == b"\x08\x00"}


def corpus_candidates(corpus):
    """Clean Ethernet corpus pcaps with at least 10 records, the first three small."""
    if not corpus or not os.path.isdir(corpus):
        return
    for name in sorted(os.listdir(corpus)):
        path = os.path.join(corpus, name)
        p = pu.read_pcap(path) if os.path.isfile(path) else None
        if p and p.clean and p.linktype == 1 and len(p.records) >= 10 \
                and p.records[2].end <= 1200:
            yield path, p


def mixed_corpus_capture(corpus):
    """The first candidate corpus file carrying both TCP and UDP over IPv4."""
    for path, p in corpus_candidates(corpus):
        if {6, 17} <= ipv4_protocols(p):
            return path
    return None


def pick_capture(samples, corpus):
    """The capture for the cut/stdin/count tests: a preferred sample, else a corpus
    file with TCP and UDP, else any candidate corpus file."""
    for name in PREFERRED_SAMPLES:
        path = os.path.join(samples or "", name)
        if os.path.isfile(path):
            p = pu.read_pcap(path)
            if p and p.clean and len(p.records) >= 4:
                return path
    mixed = mixed_corpus_capture(corpus)
    if mixed:
        return mixed
    for path, _ in corpus_candidates(corpus):
        return path
    return None


def main():
    ap = pu.arguments(__doc__, default="")
    args = ap.parse_args()
    if not os.access(args.wirelens, os.X_OK):
        print("FAIL: no wirelens binary at %s" % args.wirelens)
        return 1
    if shutil.which("tcpdump") is None:
        pu.skip("tcpdump is not installed")
    capture = pick_capture(args.samples, args.corpus)
    if capture is None:
        pu.skip("no sample capture in %s and no usable corpus in %s" % (args.samples, args.corpus))
    print("capture under test: %s" % capture)

    f = pu.Failures("test_cli")
    with tempfile.TemporaryDirectory(prefix="wirelens-cli-") as tmp:
        test_error_paths(f, args.wirelens, tmp, capture)
        test_numeric_options(f, args.wirelens, capture)
        test_memory_too_small(f, args.wirelens, capture)
        test_help(f, args.wirelens)
        if args.samples and os.path.isdir(args.samples):
            test_ladder(f, args.wirelens, args.samples)
        test_cuts(f, args.wirelens, tmp, capture)
        test_stdin_and_count(f, args.wirelens, capture)
        filter_files = [capture]
        for name in PREFERRED_SAMPLES:
            path = os.path.join(args.samples or "", name)
            if os.path.isfile(path) and path not in filter_files:
                filter_files.append(path)
        mixed = mixed_corpus_capture(args.corpus)
        if mixed:
            filter_files.append(mixed)
        for path in filter_files:
            test_filters(f, args.wirelens, path)
        test_counts(f, args.wirelens, pu.sample_captures(args.samples), "samples")
        test_crafted(f, args.wirelens, tmp)
        if args.samples and os.path.isdir(args.samples):
            test_stream(f, args.wirelens, args.samples)
    if args.corpus and os.path.isdir(args.corpus):
        test_corpus_counts(f, args.wirelens, args.corpus)
    else:
        print("no corpus at %s: corpus counts not checked" % args.corpus)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

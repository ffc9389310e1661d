#!/usr/bin/env python3
"""--log-dir DIR, --log-format, --log-rotate and --sensor.

* On every sample, in both formats: every file parses back (the Zeek-TSV
  reader below follows the format description: header lines, tab separator,
  \\xNN escapes, "-" unset, "(empty)" empty), each file holds records of its
  own type only, and the union of the files equals the --json stream record
  for record (JSON: as parsed objects; Zeek: every column of a row against the
  same record's member, absent members unset); stdout stays empty.
* conn.log's first 21 columns are Zeek's conn.log names and types.
* --sensor x is in every record, on stdout (--json) and in the logs; a bad
  --sensor is one line and exit 1.
* A folder holding a .log file (a file or a symlink to a file outside) is
  refused in one line, exit 1, and nothing is written there or outside.
* --threads 2 gives the same files, as multisets of records (conn's `end` and
  the stats record aside, as test_threads.py explains).
* --log-rotate 1 on a capture spanning several seconds (offline: capture
  time): files named TYPE.START-END.log with END - START = 1 s, each record of
  a rotated packet.log inside its file's span, and the union of the files
  equal to the unrotated output: nothing lost, nothing doubled.

Usage: test_log_dir.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.
"""

import calendar
import collections
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

import pcaputil

F = pcaputil.Failures("test_log_dir")

ZEEK_CONN = [
    ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"),
    ("id.resp_h", "addr"), ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"),
    ("duration", "interval"), ("orig_bytes", "count"), ("resp_bytes", "count"),
    ("conn_state", "string"), ("local_orig", "bool"), ("local_resp", "bool"),
    ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
]


def run(wirelens, args, rc=0):
    p = subprocess.run([wirelens, "--no-progress", *args], capture_output=True, timeout=300)
    F.check(p.returncode == rc, "%s: exit %d (want %d): %s" %
            (" ".join(args), p.returncode, rc, p.stderr.decode(errors="replace").strip()))
    return p


def lines_json(data):
    return [json.loads(l) for l in data.decode().splitlines() if l]


# ---- a Zeek-TSV reader, from the format's description ----

def unescape(s):
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        if b[i:i + 2] == b"\\x" and i + 4 <= len(b):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode("utf-8", errors="replace")


def read_zeek(path):
    """(header dict, fields, types, rows as lists of raw fields, closed)."""
    with open(path, "rb") as f:
        text = f.read().decode()
    lines = text.split("\n")
    F.check(lines[-1] == "", "%s: does not end with a newline" % path)
    head, rows, closed = {}, [], False
    F.check(lines[0] == "#separator \\x09", "%s: first line %r" % (path, lines[0]))
    for line in lines[1:-1]:
        if line.startswith("#"):
            key, _, value = line.partition("\t")
            if key == "#close":
                closed = True
                F.check(re.fullmatch(r"\d{4}(-\d\d){5}", value) is not None,
                        "%s: #close %r" % (path, value))
            head[key] = value
            continue
        F.check(not closed, "%s: a row after #close" % path)
        rows.append(line.split("\t"))
    for key, want in (("#set_separator", ","), ("#empty_field", "(empty)"),
                      ("#unset_field", "-")):
        F.check(head.get(key) == want, "%s: %s %r" % (path, key, head.get(key)))
    F.check(re.fullmatch(r"\d{4}(-\d\d){5}", head.get("#open", "")) is not None,
            "%s: #open %r" % (path, head.get("#open")))
    F.check(closed, "%s: no #close" % path)
    fields = head.get("#fields", "").split("\t")
    types = head.get("#types", "").split("\t")
    F.check(len(fields) == len(types) and len(set(fields)) == len(fields),
            "%s: #fields/#types mismatch" % path)
    for r in rows:
        F.check(len(r) == len(fields), "%s: a row of %d fields for %d columns" %
                (path, len(r), len(fields)))
    return head, fields, types, rows


def flatten(obj, prefix=""):
    out = {}
    for k, v in obj.items():
        name = prefix + k
        if isinstance(v, dict) and not (prefix == "" and k == "header"):
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


def zeek_value(raw, typ):
    """The raw field as a Python value of its Zeek type; None for unset."""
    if raw == "-":
        return None
    container = typ.startswith("set[") or typ.startswith("vector[")
    if container:
        if raw == "(empty)":
            return []
        elem = typ[typ.index("[") + 1:-1]
        return [zeek_value_scalar(unescape(x), elem) for x in raw.split(",")]
    if raw == "(empty)":
        return ""
    return zeek_value_scalar(unescape(raw), typ)


def zeek_value_scalar(s, typ):
    if typ in ("count", "port", "int"):
        return int(s) if re.fullmatch(r"-?\d+", s) else float(s)
    if typ in ("time", "interval", "double"):
        return float(s)
    if typ == "bool":
        return {"T": True, "F": False}[s]
    return s


def same(z, j):
    if isinstance(j, (dict, list)) and isinstance(z, str):
        return json.loads(z) == j  # a member kept as its JSON text
    if isinstance(j, bool) or isinstance(z, bool):
        return z == j
    if isinstance(j, (int, float)) and isinstance(z, (int, float)):
        return abs(float(z) - float(j)) <= 1e-6 * max(1.0, abs(float(j)))
    if isinstance(j, list):
        return isinstance(z, list) and len(z) == len(j) and all(map(same, z, j))
    return z == j


def check_zeek_dir(d, ref, name):
    by_type = collections.defaultdict(list)
    for r in ref:
        by_type[r["type"]].append(r)
    files = sorted(os.listdir(d))
    F.check(sorted(t + ".log" for t in by_type) == files,
            "%s: files %s for types %s" % (name, files, sorted(by_type)))
    for fn in files:
        typ = fn[:-4]
        head, fields, types, rows = read_zeek(os.path.join(d, fn))
        F.check(head.get("#path") == typ, "%s/%s: #path %r" % (name, fn, head.get("#path")))
        want = by_type.get(typ, [])
        F.check(len(rows) == len(want), "%s/%s: %d rows for %d records" %
                (name, fn, len(rows), len(want)))
        if typ == "conn":
            F.check(list(zip(fields, types))[:21] == ZEEK_CONN,
                    "%s: conn.log's first columns %s" % (name, list(zip(fields, types))[:21]))
        for row, rec in zip(rows, want):
            flat = flatten(rec)
            for col, t, raw in zip(fields, types, row):
                z = zeek_value(raw, t)
                j = flat.get(col)
                if j is None:
                    F.check(z is None, "%s/%s: %s=%r, absent from the record" %
                            (name, fn, col, raw))
                else:
                    F.check(same(z, j), "%s/%s: %s=%r, the record has %r" %
                            (name, fn, col, raw, j))


def read_json_dir(d):
    got = {}
    for fn in sorted(os.listdir(d)):
        with open(os.path.join(d, fn)) as f:
            got[fn] = [json.loads(l) for l in f.read().splitlines()]
    return got


def canon(recs):
    return sorted(json.dumps(r, sort_keys=True) for r in recs)


def check_sample(wirelens, sample, tmp):
    name = os.path.basename(sample)
    ref = lines_json(run(wirelens, ["-r", sample, "--json", "--sensor", "x"]).stdout)
    F.check(ref and all(r.get("sensor") == "x" for r in ref),
            "%s: --json --sensor x: a record without the sensor" % name)
    F.check(all(list(r)[:2] == ["type", "sensor"] for r in ref),
            "%s: the sensor is not right after the type" % name)
    # JSON logs.
    d = os.path.join(tmp, name + ".json")
    p = run(wirelens, ["-r", sample, "--log-dir", d, "--sensor", "x"])
    F.check(p.stdout == b"", "%s: --log-dir without --json wrote to stdout" % name)
    got = read_json_dir(d)
    for fn, recs in got.items():
        F.check(all(fn == r["type"] + ".log" for r in recs), "%s: %s holds another type" %
                (name, fn))
    union = [r for recs in got.values() for r in recs]
    F.check(canon(union) == canon(ref), "%s: json logs differ from the --json stream" % name)
    # --json and --log-dir: both.
    d2 = os.path.join(tmp, name + ".both")
    p = run(wirelens, ["-r", sample, "--log-dir", d2, "--sensor", "x", "--json"])
    F.check(canon(lines_json(p.stdout)) == canon(ref), "%s: --json with --log-dir" % name)
    # Zeek logs.
    dz = os.path.join(tmp, name + ".zeek")
    p = run(wirelens, ["-r", sample, "--log-dir", dz, "--log-format", "zeek", "--sensor", "x"])
    F.check(p.stdout == b"", "%s: zeek: stdout not empty" % name)
    check_zeek_dir(dz, ref, name)
    return ref


def check_refusals(wirelens, sample, tmp):
    # An existing log file.
    d = os.path.join(tmp, "taken")
    os.mkdir(d)
    with open(os.path.join(d, "conn.log"), "w") as f:
        f.write("mine\n")
    p = run(wirelens, ["-r", sample, "--log-dir", d], rc=1)
    err = p.stderr.decode().strip()
    F.check(len(err.splitlines()) == 1 and "conn.log" in err, "existing conn.log: %r" % err)
    F.check(os.listdir(d) == ["conn.log"] and open(os.path.join(d, "conn.log")).read() == "mine\n",
            "existing conn.log: the folder was touched")
    # A symlink to a file outside.
    d = os.path.join(tmp, "link")
    os.mkdir(d)
    outside = os.path.join(tmp, "outside.txt")
    os.symlink(outside, os.path.join(d, "conn.log"))
    p = run(wirelens, ["-r", sample, "--log-dir", d, "--log-format", "zeek"], rc=1)
    F.check(len(p.stderr.decode().strip().splitlines()) == 1, "symlink: not one line")
    F.check(not os.path.exists(outside), "symlink: a file was written outside the folder")
    F.check(os.listdir(d) == ["conn.log"], "symlink: the folder was touched")
    # A missing folder is made (one level), a missing parent is an error.
    d = os.path.join(tmp, "made")
    run(wirelens, ["-r", sample, "--log-dir", d, "-q"])
    F.check(os.path.isdir(d) and "conn.log" in os.listdir(d), "a missing folder is not made")
    p = run(wirelens, ["-r", sample, "--log-dir", os.path.join(tmp, "no", "such")], rc=1)
    F.check(len(p.stderr.decode().strip().splitlines()) == 1, "missing parent: not one line")
    # Bad sensors, bad formats.
    for bad in ["", "a\"b", "a\\b", "tab\there", "x" * 65, "caf\u00e9"]:
        p = run(wirelens, ["-r", sample, "--json", "--sensor", bad], rc=1)
        F.check(p.stdout == b"" and len(p.stderr.decode().strip().splitlines()) == 1,
                "--sensor %r: %r" % (bad, p.stderr))
    p = run(wirelens, ["-r", sample, "--json", "--sensor", "y" * 64])
    F.check(all(r["sensor"] == "y" * 64 for r in lines_json(p.stdout)), "a 64-byte sensor")
    run(wirelens, ["-r", sample, "--log-dir", os.path.join(tmp, "fmt"), "--log-format", "csv"],
        rc=1)
    run(wirelens, ["-r", sample, "--log-rotate", "5"], rc=1)
    # The host name is the default sensor with --log-dir.
    d = os.path.join(tmp, "host")
    run(wirelens, ["-r", sample, "--log-dir", d])
    host = os.uname().nodename
    recs = [r for rs in read_json_dir(d).values() for r in rs]
    F.check(recs and all(r.get("sensor") == host for r in recs),
            "the default sensor is not the host name %r" % host)


def check_threads(wirelens, sample, tmp):
    def files(threads):
        d = os.path.join(tmp, "threads%d" % threads)
        run(wirelens, ["-r", sample, "--log-dir", d, "--sensor", "t", "--threads", str(threads)])
        got = read_json_dir(d)
        got.pop("stats.log", None)
        return {fn: canon({k: v for k, v in r.items() if k != "end"} for r in recs)
                for fn, recs in got.items()}
    one, two = files(1), files(2)
    F.check(one == two, "--threads 2: the logs differ from one thread's (%s vs %s)" %
            (sorted(one), sorted(two)))


def udp_frame(i):
    src, dst = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
    payload = b"tick %d" % i
    udp = struct.pack("!HHHH", 40000 + i, 7, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", pcaputil.checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ip + udp


def check_rotation(wirelens, tmp):
    start = 1796670000  # 2026-12-07 19:40:00 UTC, a whole second
    recs = []
    for i in range(12):  # every 0.4 s: 4.8 s, six intervals of one second
        data = udp_frame(i)
        usec = i * 400000
        recs.append((data, len(data), start + usec // 1000000, usec % 1000000))
    cap = os.path.join(tmp, "rot.pcap")
    pcaputil.write_pcap(cap, 1, recs)
    for fmt in ("json", "zeek"):
        plain = os.path.join(tmp, "plain-" + fmt)
        rot = os.path.join(tmp, "rot-" + fmt)
        common = ["-r", cap, "--packets", "--sensor", "r", "--log-format", fmt]
        run(wirelens, common + ["--log-dir", plain])
        run(wirelens, common + ["--log-dir", rot, "--log-rotate", "1"])
        names = sorted(os.listdir(rot))
        pat = re.compile(r"([a-z_]+)\.(\d{4}(?:-\d\d){5})-(\d{4}(?:-\d\d){5})\.log")

        def epoch(s):
            return calendar.timegm(time.strptime(s, "%Y-%m-%d-%H-%M-%S"))
        by_type = collections.defaultdict(list)
        for n in names:
            m = pat.fullmatch(n)
            if not F.check(m is not None, "rotated name %r" % n):
                continue
            a, b = epoch(m.group(2)), epoch(m.group(3))
            F.check(b - a == 1, "%s: a span of %d s" % (n, b - a))
            by_type[m.group(1)].append((a, n))
        packet_files = sorted(by_type["packet"])
        F.check(len(packet_files) == 5, "%s: %d packet logs for 5 seconds: %s" %
                (fmt, len(packet_files), names))
        for typ, spans in by_type.items():
            F.check(len(set(a for a, _ in spans)) == len(spans), "%s: two %s files for one span" %
                    (fmt, typ))

        def read(path):
            if fmt == "json":
                with open(path) as f:
                    return [l for l in f.read().splitlines()]
            _, fields, _, rows = read_zeek(path)
            return [dict(zip(fields, r)) for r in rows]
        for a, n in packet_files:
            for line in read(os.path.join(rot, n)):
                ts = float(json.loads(line)["ts"] if fmt == "json" else line["ts"])
                F.check(a <= ts < a + 1, "%s: a packet of %.6f in %s" % (fmt, ts, n))
        for typ in set(list(by_type) + [n[:-4] for n in os.listdir(plain)]):
            whole = read(os.path.join(plain, typ + ".log"))
            parts = [l for _, n in sorted(by_type.get(typ, [])) for l in read(os.path.join(rot, n))]
            F.check(whole == parts, "%s: %s: the rotated files' union (%d records) is not the "
                    "unrotated log (%d)" % (fmt, typ, len(parts), len(whole)))


def main():
    ap = pcaputil.arguments(__doc__, samples_required=True)
    a = ap.parse_args()
    samples = pcaputil.sample_captures(a.samples)
    if not samples:
        pcaputil.skip("no samples")
    with tempfile.TemporaryDirectory() as tmp:
        for s in samples:
            check_sample(a.wirelens, s, tmp)
        upload = os.path.join(a.samples, "upload-v4.pcap")
        sample = upload if os.path.exists(upload) else samples[0]
        check_refusals(a.wirelens, sample, tmp)
        check_threads(a.wirelens, sample, tmp)
        check_rotation(a.wirelens, tmp)
    return F.finish()


if __name__ == "__main__":
    sys.exit(main())

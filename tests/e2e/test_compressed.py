#!/usr/bin/env python3
"""End-to-end contracts of compressed captures (gzip, zstd, xz) read directly.

Asserts:
  * Every sample (pcap and pcapng), compressed with gzip, xz and zstd, gives
    byte-identical stdout (text and --json) and the same exit code as the
    uncompressed file. (Both are read under the same name from folders of their
    own, so the "source" the reports name is the same.)
  * Concatenated gzip members and concatenated zstd frames read as one stream.
  * Standard input (-r -) compressed gives what the uncompressed file does.
  * A gzip file cut in the middle: exit 2, one stderr line saying the gzip data
    is truncated, and the packets are exactly the whole records zlib could
    decompress before the cut. A corrupted .xz: exit 2, one stderr line saying
    the xz data is corrupt, and fewer packets than the full run's (the first
    of them the same: xz emits a block's data before its check fails).
  * Random bytes after a gzip magic: exit 1, one stderr line, nothing on stdout.
    A gzip file that is no capture: exit 1, "unknown file format" naming gzip.
  * -c 3 on a compressed file bigger than the pipe: exit 0 at once (the
    decompression thread is not left blocked on a full pipe).

zstd files are made with the zstd command; without it those parts are skipped
(with a note). Usage: test_compressed.py --wirelens PATH --samples DIR [--corpus DIR]
Exit 0 pass, 1 fail, 77 skip.  Standard library only; deterministic.
"""

import gzip
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaputil as pu  # noqa: E402

ETH_TCP = bytes.fromhex(
    "ffffffffffff" "020000000001" "0800"
    "45000028000100004006f97cc0a80001c0a80002"
    "d431005000000001000000005002200000000000"
)


def zstd_bytes(data):
    p = subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True)
    return p.stdout


def compressors(have_zstd):
    c = [("gz", lambda d: gzip.compress(d, mtime=0)), ("xz", lzma.compress)]
    if have_zstd:
        c.append(("zst", zstd_bytes))
    return c


def run_in(wl, folder, args, stdin_data=None):
    p = subprocess.run(
        [wl] + args,
        cwd=folder,
        input=stdin_data if stdin_data is not None else b"",
        capture_output=True,
        timeout=120,
    )
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def one_line(f, stderr, what, words):
    lines = stderr.splitlines()
    ok = f.check(
        len(lines) == 1 and lines[0].startswith("wirelens: "),
        "%s: want one 'wirelens: ' stderr line, got %r" % (what, stderr),
    )
    for w in words:
        ok = f.check(w in stderr, "%s: stderr does not say %r: %r" % (what, w, stderr)) and ok
    return ok


def test_samples(f, wl, tmp, samples, comps):
    plain_dir = os.path.join(tmp, "plain")
    os.makedirs(plain_dir, exist_ok=True)
    for path in samples:
        with open(path, "rb") as fh:
            data = fh.read()
        shutil.copyfile(path, os.path.join(plain_dir, "cap"))
        want = {mode: run_in(wl, plain_dir, args) for mode, args in
                (("text", ["-r", "cap"]), ("json", ["--json", "-r", "cap"]))}
        for ext, compress in comps:
            d = os.path.join(tmp, ext)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "cap"), "wb") as fh:
                fh.write(compress(data))
            for mode, args in (("text", ["-r", "cap"]), ("json", ["--json", "-r", "cap"])):
                rc, out, err = run_in(wl, d, args)
                label = "%s as %s (%s)" % (os.path.basename(path), ext, mode)
                f.check(rc == want[mode][0], "%s: exit %d, uncompressed %d: %s"
                        % (label, rc, want[mode][0], err.strip()))
                f.check(out == want[mode][1], "%s: stdout differs from the uncompressed file's"
                        % label)
                f.check(err == want[mode][2], "%s: stderr %r, uncompressed %r"
                        % (label, err, want[mode][2]))


def test_concatenated(f, wl, tmp, sample, have_zstd):
    with open(sample, "rb") as fh:
        data = fh.read()
    d = os.path.join(tmp, "concat")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "cap"), "wb") as fh:
        fh.write(data)
    want = run_in(wl, d, ["--json", "--packets", "-r", "cap"])
    thirds = [data[: len(data) // 3], data[len(data) // 3 : 2 * len(data) // 3],
              data[2 * len(data) // 3 :]]
    kinds = [("gzip members", lambda b: gzip.compress(b, mtime=0))]
    if have_zstd:
        kinds.append(("zstd frames", zstd_bytes))
    for what, compress in kinds:
        with open(os.path.join(d, "cap"), "wb") as fh:
            fh.write(b"".join(compress(p) for p in thirds))
        got = run_in(wl, d, ["--json", "--packets", "-r", "cap"])
        f.check(got == want, "three concatenated %s: not the uncompressed output (exit %d: %s)"
                % (what, got[0], got[2].strip()))


def test_stdin(f, wl, sample, comps):
    with open(sample, "rb") as fh:
        data = fh.read()
    want = run_in(wl, None, ["--json", "--packets", "-r", "-"], stdin_data=data)
    f.check(want[0] == 0, "-r - < uncompressed: exit %d %s" % (want[0], want[2]))
    for ext, compress in comps:
        got = run_in(wl, None, ["--json", "--packets", "-r", "-"], stdin_data=compress(data))
        f.check(got == want, "-r - with %s on stdin: not the uncompressed output (exit %d: %s)"
                % (ext, got[0], got[2].strip()))


def test_damage(f, wl, tmp, sample):
    with open(sample, "rb") as fh:
        data = fh.read()
    pcap = pu.parse_pcap(data)
    full = pu.wirelens_json(wl, ["--packets", "-r", sample])
    if not f.check(full.rc == 0 and pcap is not None and len(pcap.records) > 10,
                   "%s: not a clean pcap of more than 10 records" % sample):
        return

    gz = gzip.compress(data, mtime=0)
    cut = gz[: len(gz) // 2]
    path = os.path.join(tmp, "cut.pcap.gz")
    with open(path, "wb") as fh:
        fh.write(cut)
    prefix = zlib.decompressobj(16 + 15).decompress(cut)
    whole = sum(1 for rec in pcap.records if rec.end <= len(prefix))
    r = pu.wirelens_json(wl, ["--packets", "-r", path])
    f.check(r.rc == pu.EXIT_CUT_SHORT, "truncated .gz: exit %d, want 2" % r.rc)
    one_line(f, r.stderr, "truncated .gz", ["cut short", "gzip data truncated"])
    f.check(r.stats is not None and r.stats.get("packets") == whole and r.packets
            == full.packets[:whole], "truncated .gz: want the %d whole records decompressed, "
            "got %r" % (whole, r.stats and r.stats.get("packets")))
    f.check(r.stats is not None and r.stats.get("cut_short") is True,
            "truncated .gz: stats cut_short is not true")

    xz = bytearray(lzma.compress(data))
    xz[len(xz) // 2] ^= 0xFF
    path = os.path.join(tmp, "bad.pcap.xz")
    with open(path, "wb") as fh:
        fh.write(xz)
    r = pu.wirelens_json(wl, ["--packets", "-r", path])
    f.check(r.rc == pu.EXIT_CUT_SHORT, "corrupted .xz: exit %d, want 2" % r.rc)
    one_line(f, r.stderr, "corrupted .xz", ["cut short", "xz data corrupt"])
    # xz hands out what it decoded before the block's check catches the damage:
    # the last records read may be garbled, the first half of them are not.
    n = r.stats.get("packets", 0) if r.stats else 0
    f.check(0 < n < len(pcap.records) and r.packets[: n // 2] == full.packets[: n // 2],
            "corrupted .xz: want a proper prefix of the %d packets, got %d"
            % (len(pcap.records), n))


def test_not_captures(f, wl, tmp):
    path = os.path.join(tmp, "random.gz")
    with open(path, "wb") as fh:
        fh.write(b"\x1f\x8b" + bytes((i * 73 + 41) & 0xFF for i in range(4000)))
    for args in (["-r", path], ["--json", "-r", path]):
        rc, out, err = pu.run([wl] + args)
        f.check(rc == pu.EXIT_ERROR, "random bytes after a gzip magic: exit %d, want 1" % rc)
        f.check(out == b"", "random bytes after a gzip magic: something on stdout")
        one_line(f, err, "random bytes after a gzip magic", ["gzip"])

    path = os.path.join(tmp, "text.gz")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"not a capture at all\n" * 100, mtime=0))
    rc, out, err = pu.run([wl, "-r", path])
    f.check(rc == pu.EXIT_ERROR and out == b"", "text in gzip: exit %d, want 1" % rc)
    one_line(f, err, "text in gzip", ["unknown file format", "gzip"])


def test_count_stops(f, wl, tmp):
    # 40000 records, about 2.8 MB: more than the pipe and the decompressor's buffers hold.
    data = pu.pcap_bytes(1, [(ETH_TCP, len(ETH_TCP))] * 40000)
    path = os.path.join(tmp, "big.pcap.gz")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data, mtime=0))
    try:
        r = pu.wirelens_json(wl, ["-c", "3", "-r", path], timeout=60)
    except subprocess.TimeoutExpired:
        f.fail("-c 3 on a big .gz: no exit within 60 s")
        return
    f.check(r.rc == 0 and r.stats is not None and r.stats.get("packets") == 3,
            "-c 3 on a big .gz: %s" % r.describe())


def main():
    ap = pu.arguments(__doc__, default="")
    args = ap.parse_args()
    if not os.access(args.wirelens, os.X_OK):
        print("FAIL: no wirelens binary at %s" % args.wirelens)
        return 1
    samples = pu.sample_captures(args.samples)
    if not samples:
        pu.skip("no sample captures in %s" % args.samples)
    if not any(p.endswith(".pcapng") for p in samples):
        print("note: no pcapng among the samples")
    have_zstd = shutil.which("zstd") is not None
    if not have_zstd:
        print("note: no zstd command: zstd files not tested")
    comps = compressors(have_zstd)
    wl = os.path.abspath(args.wirelens)
    big = max((p for p in samples if pu.read_pcap(p) is not None), key=os.path.getsize)
    f = pu.Failures("test_compressed")
    with tempfile.TemporaryDirectory(prefix="wirelens-compressed-") as tmp:
        test_samples(f, wl, tmp, samples, comps)
        test_concatenated(f, wl, tmp, big, have_zstd)
        test_stdin(f, wl, big, comps)
        test_damage(f, wl, tmp, big)
        test_not_captures(f, wl, tmp)
        test_count_stops(f, wl, tmp)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

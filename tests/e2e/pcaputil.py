"""Shared helpers for the wirelens end-to-end tests (python3 standard library only).

- reading and writing classic pcap files with `struct` (to craft inputs and to
  compute expected answers independently of libpcap),
- the link types of a pcapng file,
- running wirelens and splitting its JSON Lines output,
- a small failure collector so each test reports every problem, not just the first,
- the command line CTest gives every test.

Not a test itself: CMake only registers tests/e2e/test_*.py.
"""

import argparse
import json
import os
import struct
import subprocess
import sys

PCAP_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

# magic bytes as stored in the file -> (struct byte order, nanosecond timestamps)
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}

# Largest record libpcap 1.10 accepts for most link types (MAXIMUM_SNAPLEN).
LIBPCAP_MAX_CAPLEN = 262144

# Exit codes of wirelens, and the one a sanitizer uses in the test environment.
EXIT_OK, EXIT_ERROR, EXIT_CUT_SHORT = 0, 1, 2
EXIT_SKIP = 77


class Record:
    """One pcap record: where it starts in the file and its header fields."""

    __slots__ = ("offset", "ts_sec", "ts_frac", "caplen", "wire_len", "data")

    def __init__(self, offset, ts_sec, ts_frac, caplen, wire_len, data):
        self.offset = offset  # of the 16-byte record header
        self.ts_sec = ts_sec
        self.ts_frac = ts_frac
        self.caplen = caplen
        self.wire_len = wire_len
        self.data = data

    @property
    def end(self):
        return self.offset + RECORD_HEADER_LEN + self.caplen


class Pcap:
    """A parsed classic pcap file. `records` holds every whole record up to the
    first that is cut short or impossible; `clean` says whether the file ended
    exactly after the last record."""

    def __init__(self, endian, nano, version, snaplen, linktype, records, clean):
        self.endian = endian
        self.nano = nano
        self.version = version
        self.snaplen = snaplen
        self.linktype = linktype
        self.records = records
        self.clean = clean


def parse_pcap(data):
    """Parses classic pcap bytes; returns None for anything else (pcapng, text)."""
    if len(data) < PCAP_HEADER_LEN or data[:4] not in _PCAP_MAGICS:
        return None
    endian, nano = _PCAP_MAGICS[data[:4]]
    major, minor, _, _, snaplen, linktype = struct.unpack(endian + "HHiIII", data[4:24])
    records = []
    off = PCAP_HEADER_LEN
    clean = True
    while off < len(data):
        if off + RECORD_HEADER_LEN > len(data):
            clean = False
            break
        ts_sec, ts_frac, caplen, wire_len = struct.unpack(endian + "IIII", data[off : off + 16])
        if caplen > LIBPCAP_MAX_CAPLEN or off + RECORD_HEADER_LEN + caplen > len(data):
            clean = False
            break
        body = data[off + 16 : off + 16 + caplen]
        records.append(Record(off, ts_sec, ts_frac, caplen, wire_len, body))
        off += RECORD_HEADER_LEN + caplen
    return Pcap(endian, nano, (major, minor), snaplen, linktype & 0xFFFF, records, clean)


def read_pcap(path):
    with open(path, "rb") as f:
        return parse_pcap(f.read())


def pcap_bytes(linktype, records, snaplen=262144, endian="<", nano=False):
    """A classic pcap file. `records` are (data, wire_len) or (data, wire_len, ts_sec,
    ts_frac) tuples; caplen is len(data) unless given as a 5th element."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, rec in enumerate(records):
        data, wire_len = rec[0], rec[1]
        ts_sec = rec[2] if len(rec) > 2 else 1700000000 + i
        ts_frac = rec[3] if len(rec) > 3 else 0
        caplen = rec[4] if len(rec) > 4 else len(data)
        out.append(struct.pack(endian + "IIII", ts_sec, ts_frac, caplen, wire_len))
        out.append(bytes(data))
    return b"".join(out)


def write_pcap(path, linktype, records, **kw):
    with open(path, "wb") as f:
        f.write(pcap_bytes(linktype, records, **kw))


def checksum(data):
    """The Internet checksum (RFC 1071) of `data`, as IPv4, TCP and UDP headers carry it."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pcapng_linktypes(data):
    """Link types of the Interface Description Blocks of a pcapng file (None if
    it is not pcapng or not readable that far)."""
    if data[:4] != PCAPNG_MAGIC or len(data) < 12:
        return None
    bom = data[8:12]
    endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else None
    if endian is None:
        return None
    types = []
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(endian + "II", data[off : off + 8])
        if blen < 12 or blen % 4 or off + blen > len(data):
            break
        if btype == 1 and blen >= 16:
            types.append(struct.unpack(endian + "H", data[off + 8 : off + 10])[0])
        off += blen
    return types


def capture_kind(path):
    """('pcap', linktype), ('pcapng', [linktypes]) or (None, None)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None, None
    p = parse_pcap(data)
    if p is not None:
        return "pcap", p.linktype
    types = pcapng_linktypes(data)
    if types is not None:
        return "pcapng", types
    return None, None


# ---------------------------------------------------------------------------
# Running programs


def run(cmd, stdin_data=None, stdin_file=None, timeout=120):
    """Runs cmd; returns (returncode, stdout bytes, stderr text)."""
    if stdin_file is not None:
        with open(stdin_file, "rb") as f:
            p = subprocess.run(cmd, stdin=f, capture_output=True, timeout=timeout)
    else:
        p = subprocess.run(
            cmd,
            input=stdin_data if stdin_data is not None else b"",
            capture_output=True,
            timeout=timeout,
        )
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


class WlRun:
    """One wirelens --json run: exit code, packet and conn records, the stats record, stderr."""

    def __init__(self, rc, stdout, stderr):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.stderr_lines = stderr.splitlines()
        self.packets = []
        self.conns = []
        self.stats = None
        self.bad_lines = []
        for line in stdout.decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            if rec.get("type") == "stats":
                self.stats = rec
            elif rec.get("type") == "conn":
                self.conns.append(rec)
            elif rec.get("type") == "packet":
                self.packets.append(rec)

    def describe(self):
        return "exit %d, stderr %r" % (self.rc, self.stderr[:300])


def wirelens_json(wirelens, args, stdin_file=None, timeout=120):
    rc, out, err = run([wirelens, "--json"] + list(args), stdin_file=stdin_file, timeout=timeout)
    return WlRun(rc, out, err)


def crashed(rc):
    """A signal, or any exit code wirelens never uses on purpose (sanitizers exit 99)."""
    return rc not in (EXIT_OK, EXIT_ERROR, EXIT_CUT_SHORT)


def tcpdump_count(path, filter_args=()):
    """How many packets tcpdump keeps: it writes them out again (-w -) and we
    count the records, which is exact where `tcpdump | wc -l` depends on every
    packet printing on one line."""
    rc, out, err = run(["tcpdump", "-r", path, "-w", "-"] + list(filter_args), timeout=120)
    p = parse_pcap(out)
    if p is None:
        return None, err.strip()
    return len(p.records), err.strip()


class Failures:
    """Collects failures; prints each one as it happens."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.checks = 0

    def check(self, cond, msg):
        self.checks += 1
        if not cond:
            self.fail(msg)
        return cond

    def fail(self, msg):
        self.items.append(msg)
        print("FAIL: " + msg, flush=True)

    def finish(self):
        if self.items:
            print("%s: %d of %d checks failed" % (self.name, len(self.items), self.checks))
            return 1
        print("%s: all %d checks passed" % (self.name, self.checks))
        return 0


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(EXIT_SKIP)


def sample_captures(samples_dir):
    """samples/*.pcap and samples/linktypes/*, sorted, existing ones only."""
    found = []
    if samples_dir and os.path.isdir(samples_dir):
        for name in sorted(os.listdir(samples_dir)):
            if name.endswith(".pcap") or name.endswith(".pcapng"):
                found.append(os.path.join(samples_dir, name))
        lt = os.path.join(samples_dir, "linktypes")
        if os.path.isdir(lt):
            for name in sorted(os.listdir(lt)):
                path = os.path.join(lt, name)
                if os.path.isfile(path):
                    found.append(path)
    return [p for p in found if os.path.getsize(p) > 0]


def arguments(doc=None, samples_required=False, default=None):
    """The parser of the arguments tests/CMakeLists.txt gives every e2e test
    (--wirelens PATH --samples DIR --corpus DIR); a test adds its own before parsing.
    `doc`: the test's docstring, whose first line describes it; `default`: the value of
    --samples and --corpus when they are not given."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    ap.add_argument("--wirelens", required=True)
    ap.add_argument("--samples", required=samples_required, default=default)
    ap.add_argument("--corpus", default=default)
    return ap

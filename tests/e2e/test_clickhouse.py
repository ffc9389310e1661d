#!/usr/bin/env python3
"""End-to-end contracts of the ClickHouse destination, against a real private server.

Asserts, with a clickhouse-server of its own (tests/e2e/clickhouse_server.py) holding
schema/clickhouse.sql, records fed through clickhouse_feed (the destination's driver,
built next to wirelens) and by wirelens --clickhouse, under six sensor names:
  * s1: the samples' --json records, the server up, credentials from the environment
    (a user with a password): every record is in its table once.
  * s2: a generated workload (bench/gen_workload: uploads, a SYN flood) fed slowly while
    the server is stopped and started again mid-feed: batches went to the spool and were
    re-sent, exit 0, every record there once.
  * s3: the samples again, through a proxy that relays the first INSERT to the server but
    cuts the connection before the answer (and the next two requests too): the outcome is
    unknown, the sink checks which rows are there and re-sends none twice.
  * s4: a run against a stopped server leaves its batches in the spool (exit 2, the error
    says so); the next run with the same spool and no input sends them, once.
  * s5: wirelens itself with --clickhouse URL (credentials in the URL) --spool DIR on every
    sample: its exit code is the --json run's, stdout is empty, the password never shows;
    s6: --clickhouse with --json also prints the records. --spool without --clickhouse and
    a URL that is not http:// are one line, exit 1.
  * Per sensor and table: the row count is the record count, no (batch_id, batch_row)
    twice, and every row equals its record column by column (absent members: NULL or
    the default), in feed order.
  * The five queries of docs/clickhouse.md run as written (now() replaced by the data's
    last second) and return what the records say (computed here independently).
  * Credentials never appear in the driver's output.
Exit 0 pass, 1 fail, 77 skip (clickhouse-server not installed). Bounded: about a minute.
"""

import base64
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clickhouse_server as chs  # noqa: E402
import pcaputil as pu  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLES = ("conn", "upload", "alert", "attempts", "stats")
PROTO = {"tcp": 6, "udp": 17}


def community_id(r):
    """Community ID v1 (seed 0) of a record's 5-tuple, for tcp and udp."""
    proto = PROTO.get(r.get("proto", "tcp"))
    if proto is None or "id.orig_h" not in r:
        return ""
    a = ipaddress.ip_address(r["id.orig_h"]).packed
    b = ipaddress.ip_address(r["id.resp_h"]).packed
    pa, pb = r["id.orig_p"], r["id.resp_p"]
    if (a, pa) > (b, pb):
        a, b, pa, pb = b, a, pb, pa
    data = struct.pack("!H", 0) + a + b + bytes([proto, 0]) + struct.pack("!HH", pa, pb)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def load_lines(raw):
    """wirelens --json output -> [(line, record)], with community_id added where the
    record has none yet (wirelens adds it itself in another change)."""
    out = []
    for line in raw.decode().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("type") in ("conn", "upload") and "community_id" not in r:
            cid = community_id(r)
            if cid:
                r["community_id"] = cid
                line = line[:-1] + ',"community_id":"%s"}' % cid
        out.append((line, r))
    return out


class CuttingProxy:
    """127.0.0.1:port -> server; the first `cut` connections relay the request but
    close, unanswered, as soon as the server's answer starts."""

    def __init__(self, target_port, cut):
        self.target = target_port
        self.cut = cut
        self.cut_done = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                cutting = self.cut_done < self.cut
                if cutting:
                    self.cut_done += 1
            threading.Thread(target=self._serve, args=(c, cutting), daemon=True).start()

    def _serve(self, c, cutting):
        s = socket.create_connection(("127.0.0.1", self.target))

        def up():
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    s.sendall(d)
            except OSError:
                pass
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                if cutting:
                    # The server answered (the INSERT is committed): the client never knows.
                    break
                c.sendall(d)
        except OSError:
            pass
        for sock in (c, s):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self.sock.close()


def feed(driver, url, lines, args, env=None, timeout=120):
    p = subprocess.run([driver, url] + args, input="".join(l + "\n" for l, _ in lines).encode(),
                       capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def counters(stdout):
    for line in stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {}


def expected_value(col_type, rec, col):
    if col not in rec:
        if col_type.startswith("Nullable"):
            return None
        if col_type.startswith("Array"):
            return []
        return "" if col_type == "String" else 0
    v = rec[col]
    if isinstance(v, bool):
        return int(v)
    return v


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-6
    return a == b


def check_tables(f, srv, sensor, recs, columns):
    """Every table holds exactly the sensor's records, once, in feed order."""
    for t in TABLES:
        want = [r for _, r in recs if r["type"] == t]
        rows = [json.loads(x) for x in srv.query(
            "SELECT * FROM wirelens.%s WHERE sensor = '%s' ORDER BY batch_id, batch_row "
            "FORMAT JSONEachRow" % (t, sensor),
            settings={"output_format_json_quote_64bit_integers": 0}).splitlines()]
        f.check(len(rows) == len(want), "%s %s: %d rows, %d records" % (sensor, t, len(rows), len(want)))
        dup = srv.query("SELECT count() - uniqExact(batch_id, batch_row) FROM wirelens.%s "
                        "WHERE sensor = '%s'" % (t, sensor)).strip()
        f.check(dup == "0", "%s %s: %s rows twice" % (sensor, t, dup))
        bad = 0
        for row, rec in zip(rows, want):
            for col, ctype in columns[t]:
                if col in ("sensor", "batch_id", "batch_row"):
                    continue
                if not same(row[col], expected_value(ctype, rec, col)):
                    bad += 1
                    if bad <= 3:
                        f.fail("%s %s: column %s is %r, the record says %r (%s)"
                               % (sensor, t, col, row[col], expected_value(ctype, rec, col),
                                  json.dumps(rec)[:200]))
        f.check(bad == 0, "%s %s: %d values differ from their records" % (sensor, t, bad))


def docs_queries():
    text = open(os.path.join(ROOT, "docs", "clickhouse.md")).read()
    out = {}
    for block in re.findall(r"```sql\n(.*?)```", text, re.S):
        m = re.match(r"-- query: (\w+)\n", block)
        if m:
            out[m.group(1)] = block[m.end():].strip()
    return out


def expected_answers(all_recs, now, cid):
    """The five docs queries, computed from the records. all_recs: [(sensor, record)]."""
    day, hour = now - 86400, now - 3600
    conns = [(s, r) for s, r in all_recs if r["type"] == "conn" and int(r["ts"]) >= day]
    talk = {}
    for s, r in conns:
        t = talk.setdefault(r["id.orig_h"], [0, 0, set()])
        t[0] += r["orig_ip_bytes"] + r["resp_ip_bytes"]
        t[1] += 1
        t[2].add(s)
    top = sorted(([h, v[0], v[1], len(v[2])] for h, v in talk.items()), key=lambda x: (-x[1], x[0]))[:10]
    fl = {}
    for s, r in all_recs:
        if r["type"] == "alert" and r["kind"] == "syn_flood" and int(r["ts_start"]) >= hour:
            v = fl.setdefault((r["victim"], r["port"]), [0, 0, set()])
            v[0] = max(v[0], r["syns"])
            v[1] = max(v[1], r["distinct_sources"])
            v[2].add(s)
    flooded = sorted(([k[0], k[1], v[0], v[1], sorted(v[2])] for k, v in fl.items()),
                     key=lambda x: (-x[2], x[0]))
    failed = []
    for s, r in all_recs:
        if r["type"] == "upload" and int(r["ts_start"]) >= day and (
                not r["complete"] or r.get("digest_ok") is False):
            failed.append((r["ts_start"], r["uid"], r["index"],
                           [s, r["uid"], r.get("community_id", ""), r["id.orig_h"], r["id.resp_h"],
                            r.get("file_name", ""), r.get("declared_size"), r["received"],
                            "digest mismatch" if r["complete"] else r.get("missing", "")]))
    # Rows of equal ts, uid and index (the same record from two sensors) in any order.
    failed = sorted(x[3] for x in failed)
    flow = []
    for s, r in all_recs:
        if r.get("community_id") == cid and r["type"] in ("conn", "upload"):
            if r["type"] == "conn":
                flow.append(["conn", s, r["uid"], r["ts"], r["conn_state"]])
            else:
                flow.append(["upload", s, r["uid"], r["ts_start"], r.get("file_name", "")])
    flow.sort(key=lambda x: (x[3], x[0], x[4], x[1]))
    states = {}
    for s, r in conns:
        states[(s, r["conn_state"])] = states.get((s, r["conn_state"]), 0) + 1
    per = sorted(([k[0], k[1], v] for k, v in states.items()), key=lambda x: (x[0], -x[2], x[1]))
    return {"top_talkers": top, "flooded_victims": flooded, "failed_uploads": failed,
            "flow_by_community_id": flow, "states_per_sensor": per}


def run_query(srv, sql, now, cid):
    sql = sql.replace("now()", "toDateTime(%d)" % now)
    sql = re.sub(r"'1:[A-Za-z0-9+/=]+'", "'%s'" % cid, sql)
    out = srv.query(sql + "\nFORMAT JSONCompactEachRow" if False else sql + "\nFORMAT TSVWithNames")
    lines = out.splitlines()
    return lines[0].split("\t") if lines else [], [l.split("\t") for l in lines[1:]]


def as_tsv(v):
    if v is None:
        return "\\N"
    if isinstance(v, list):
        return "[" + ",".join("'%s'" % x for x in v) + "]"
    if isinstance(v, float):
        return v
    return str(v)


def check_queries(f, srv, all_recs, cid):
    queries = docs_queries()
    f.check(sorted(queries) == sorted(["top_talkers", "flooded_victims", "failed_uploads",
                                       "flow_by_community_id", "states_per_sensor"]),
            "docs/clickhouse.md has the five queries: %s" % sorted(queries))
    ends = sorted({max(int(r["ts"]) for s, r in all_recs if r["type"] == "conn" and s == sensor)
                   for sensor in ("s1", "s2")})
    nonempty = {}
    for now in ends:
        want = expected_answers(all_recs, now, cid)
        for name, sql in queries.items():
            try:
                cols, rows = run_query(srv, sql, now, cid)
            except RuntimeError as e:
                f.fail("query %s: %s" % (name, e))
                continue
            exp = want[name]
            if name == "failed_uploads":
                rows = sorted(rows)
                exp = sorted([as_tsv(v) for v in row] for row in exp)
            else:
                exp = [[as_tsv(v) for v in row] for row in exp]
            ok = len(rows) == len(exp) and all(
                len(a) == len(b) and all(same(float(x), y) if isinstance(y, float) else x == y
                                         for x, y in zip(a, b))
                for a, b in zip(rows, exp))
            f.check(ok, "query %s (now = %d): got %r, the records say %r"
                    % (name, now, rows[:5], exp[:5]))
            nonempty[name] = nonempty.get(name, 0) + len(rows)
    for name, n in nonempty.items():
        f.check(n > 0, "query %s returned no row at either time: the data should give some" % name)


def log(msg, t0=[time.monotonic()]):
    print("%6.1fs %s" % (time.monotonic() - t0[0], msg), flush=True)


def main():
    args = pu.arguments(__doc__, samples_required=True).parse_args()
    f = pu.Failures("test_clickhouse")
    if chs.ClickHouseServer.find() is None:
        pu.skip("clickhouse-server is not installed (scripts/setup.sh --test installs it)")
    build = os.path.dirname(os.path.abspath(args.wirelens))
    driver = os.path.join(build, "clickhouse_feed")
    gen = os.path.join(build, "bench", "gen_workload")
    for p in (driver, gen):
        if not os.path.exists(p):
            print("FAIL: %s is missing (built with wirelens)" % p)
            return 1
    tmp = tempfile.mkdtemp(prefix="wl-chtest-")
    try:
        # --- the records ---
        samples_raw = b""
        for cap in pu.sample_captures(args.samples):
            rc, out, _ = pu.run([args.wirelens, "--json", "-r", cap])
            if rc in (0, 2):
                samples_raw += out
        samples = load_lines(samples_raw)
        wl_pcap = os.path.join(tmp, "workload.pcap")
        subprocess.run([gen, "mixed", wl_pcap, "--seed", "7", "--connections", "400",
                        "--flood", "30000"], check=True, capture_output=True, timeout=120)
        rc, out, err = pu.run([args.wirelens, "--json", "-r", wl_pcap])
        f.check(rc == 0, "wirelens on the workload: exit %d %s" % (rc, err))
        workload = load_lines(out)
        v6 = [x for x in load_lines(pu.run([args.wirelens, "--json", "-r",
                                            os.path.join(args.samples, "upload-v6.pcap")])[1])]
        types = {r["type"] for _, r in samples + workload}
        f.check({"conn", "upload", "alert", "attempts", "stats"} <= types,
                "the records cover every table: %s" % sorted(types))

        with chs.ClickHouseServer() as srv:
            srv.run_script(open(os.path.join(ROOT, "schema", "clickhouse.sql")).read())
            columns = {}
            for t in TABLES:
                desc = [l.split("\t") for l in srv.query("DESCRIBE TABLE wirelens.%s" % t).splitlines()]
                columns[t] = [(d[0], d[1]) for d in desc if len(d) < 3 or d[2] != "MATERIALIZED"]
            url = srv.url + "?database=wirelens"
            common = ["--batch-bytes", "262144", "--flush", "0.2", "--finish-wait", "60"]

            log('s1: the samples')
            # s1: the samples, credentials from the environment.
            env = dict(os.environ, WIRELENS_CLICKHOUSE_USER=chs.USER,
                       WIRELENS_CLICKHOUSE_PASSWORD=chs.PASSWORD)
            rc, out, err = feed(driver, url, samples, ["--sensor", "s1"] + common, env=env)
            f.check(rc == 0, "s1 feed: exit %d, %s" % (rc, err.strip()))
            f.check(chs.PASSWORD not in out + err, "s1: the password is never printed")
            bad_env = dict(os.environ, WIRELENS_CLICKHOUSE_USER=chs.USER,
                           WIRELENS_CLICKHOUSE_PASSWORD="wrong-" + chs.PASSWORD)
            rc, out, err = feed(driver, srv.url.replace("//", "//%s:%s@" % (chs.USER, "wrong-pw")),
                                samples[:3], ["--sensor", "s9", "--finish-wait", "2"], env=bad_env)
            f.check(rc == 2 and "wrong-pw" not in out + err and chs.PASSWORD not in out + err,
                    "bad password: exit 2 and no credentials in the output (exit %d, %r)"
                    % (rc, err.strip()[:300]))

            log('s2: the workload')
            # s2: the workload, the server stopped and started again mid-feed.
            spool2 = os.path.join(tmp, "spool2")
            p = subprocess.Popen([driver, url, "--sensor", "s2", "--spool", spool2,
                                  "--queue-bytes", "524288", "--request-timeout", "5",
                                  "--connect-timeout", "1"] + common,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            n = len(workload)
            chunks = [workload[i * n // 20:(i + 1) * n // 20] for i in range(20)]
            for i, chunk in enumerate(chunks):
                if i == 5:
                    srv.stop()
                if i == 15:
                    srv.start()
                p.stdin.write("".join(l + "\n" for l, _ in chunk).encode())
                p.stdin.flush()
                time.sleep(0.15)
            p.stdin.close()
            p.wait(timeout=120)
            out, err = p.stdout.read(), p.stderr.read()
            c2 = counters(out.decode())
            f.check(p.returncode == 0, "s2 feed across a restart: exit %d, %s"
                    % (p.returncode, err.decode().strip()))
            f.check(c2.get("batches_spooled", 0) > 0 and c2.get("batches_resent", 0) > 0,
                    "s2: batches went to the spool and were re-sent: %s" % c2)
            f.check(not [x for x in os.listdir(spool2) if x.endswith(".jsonl")],
                    "s2: the spool is empty afterwards")

            log('s3: the samples')
            # s3: the samples, first answers cut after the INSERT reached the server.
            proxy = CuttingProxy(srv.http_port, cut=3)
            rc, out, err = feed(driver, "http://127.0.0.1:%d/?database=wirelens" % proxy.port,
                                samples, ["--sensor", "s3", "--request-timeout", "5"] + common)
            proxy.close()
            c3 = counters(out)
            f.check(rc == 0, "s3 feed through the cutting proxy: exit %d, %s" % (rc, err.strip()))
            f.check(c3.get("checks", 0) > 0 and c3.get("rows_already_there", 0) > 0,
                    "s3: the unknown outcome was checked and rows found there: %s" % c3)

            log('s4: a run')
            # s4: a run against a stopped server keeps its batches; the next run sends them.
            spool4 = os.path.join(tmp, "spool4")
            srv.stop()
            rc, out, err = feed(driver, url, v6, ["--sensor", "s4", "--spool", spool4,
                                                  "--finish-wait", "2", "--connect-timeout", "1"])
            f.check(rc == 2 and "spool" in err and spool4 in err,
                    "s4 with the server down: exit 2, the error names the spool (%d, %r)"
                    % (rc, err.strip()))
            kept = sorted(x for x in os.listdir(spool4) if x.endswith(".jsonl"))
            f.check(len(kept) > 0, "s4: batches kept in the spool")
            srv.start()
            rc, out, err = feed(driver, url, [], ["--sensor", "s4", "--spool", spool4] + common)
            c4 = counters(out)
            f.check(rc == 0 and c4.get("batches_resent") == len(kept),
                    "s4: the next run sent the %d spooled batches: exit %d %s %s"
                    % (len(kept), rc, c4, err.strip()))

            # s5: wirelens itself with --clickhouse (and --spool), credentials from the
            # environment: the same records as its --json output, nothing on stdout.
            log('s5: wirelens --clickhouse')
            url5 = url.replace("//", "//%s:%s@" % (chs.USER, chs.PASSWORD), 1)
            s5_recs = []
            for cap in pu.sample_captures(args.samples):
                rc, out, _ = pu.run([args.wirelens, "--json", "--sensor", "s5", "-r", cap])
                if rc not in (0, 2):
                    continue
                s5_recs += load_lines(out)
                rc2, out2, err2 = pu.run([args.wirelens, "-r", cap, "--clickhouse", url5,
                                          "--sensor", "s5", "--spool",
                                          os.path.join(tmp, "spool5")], timeout=180)
                f.check(rc2 == rc and out2 == b"" and chs.PASSWORD not in err2,
                        "s5 %s: --clickhouse exit %d (--json: %d), stdout %r, stderr %r"
                        % (os.path.basename(cap), rc2, rc, out2[:100], err2.strip()[:300]))
            rc, out, err = pu.run([args.wirelens, "-r", os.path.join(args.samples, "upload-v4.pcap"),
                                   "--clickhouse", url5, "--json", "--sensor", "s6"])
            s6_recs = load_lines(out)
            f.check(rc == 0 and len(s6_recs) > 0,
                    "--clickhouse --json: records on stdout too: exit %d %s" % (rc, err.strip()))
            rc, out, err = pu.run([args.wirelens, "-r", os.path.join(args.samples, "upload-v4.pcap"),
                                   "--spool", os.path.join(tmp, "spool6")])
            f.check(rc == 1 and err.count("\n") == 1 and "--clickhouse" in err,
                    "--spool without --clickhouse: exit %d, stderr %r" % (rc, err))
            rc, out, err = pu.run([args.wirelens, "-r", os.path.join(args.samples, "upload-v4.pcap"),
                                   "--clickhouse", "ftp://x/"])
            f.check(rc == 1 and err.count("\n") == 1,
                    "--clickhouse with a bad URL: exit %d, stderr %r" % (rc, err))

            log('for sensor, recs in (("s1"')
            for sensor, recs in (("s1", samples), ("s2", workload), ("s3", samples), ("s4", v6),
                                 ("s5", s5_recs), ("s6", s6_recs)):
                check_tables(f, srv, sensor, recs, columns)

            log('all_recs = (')
            all_recs = ([("s1", r) for _, r in samples] + [("s2", r) for _, r in workload]
                        + [("s3", r) for _, r in samples] + [("s4", r) for _, r in v6]
                        + [("s5", r) for _, r in s5_recs] + [("s6", r) for _, r in s6_recs])
            cid = next(r["community_id"] for _, r in samples
                       if r["type"] == "upload" and r.get("community_id"))
            check_queries(f, srv, all_recs, cid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return f.finish()


if __name__ == "__main__":
    sys.exit(main())

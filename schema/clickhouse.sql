-- wirelens records in ClickHouse (18.16 or later), one table per record type.
-- Loaded by: clickhouse-client --multiquery < schema/clickhouse.sql
-- (docs/clickhouse.md: the same tables on a cluster, and the queries they are ordered for).
--
-- Columns are named after the JSON members, dots included (`id.orig_h`), so that
-- INSERT ... FORMAT JSONEachRow takes wirelens' lines as they are; members a table
-- has no column for are skipped (input_format_skip_unknown_fields=1). Nested objects
-- (handshake_rtt, header, stats' counters, top_sources) are not stored: 18.16's
-- JSONEachRow cannot read an object into columns.
--
-- Every table has:
--   sensor     the capturing sensor's name (the sink stores it in every row)
--   batch_id   the batch the row came in, batch_row its number there: a batch whose
--              INSERT had an unknown outcome is re-sent without the rows already here
--   time, day  the record's time as DateTime and Date (MATERIALIZED: computed at
--              insert, not in SELECT *); tables are partitioned by day.
-- Optional members absent from a record are NULL where "absent" means something
-- (duration, orig_bytes, ...), else the type's default (0, '').

CREATE DATABASE IF NOT EXISTS wirelens;

-- conn: one row per connection (Zeek's conn.log fields and wirelens' own).
-- Ordered for "everything about this victim" and "this connection", per sensor.
CREATE TABLE IF NOT EXISTS wirelens.conn (
    sensor String,
    batch_id String,
    batch_row UInt32,
    ts Float64,
    ts_logged Nullable(Float64),
    uid String,
    community_id String,
    `id.orig_h` String,
    `id.orig_p` UInt16,
    `id.resp_h` String,
    `id.resp_p` UInt16,
    proto String,
    duration Nullable(Float64),
    orig_bytes Nullable(UInt64),
    resp_bytes Nullable(UInt64),
    conn_state String,
    missed_bytes UInt64,
    capture_loss_bytes UInt64,
    retransmitted_bytes UInt64,
    history String,
    history_truncated UInt8,
    orig_pkts UInt64,
    orig_ip_bytes UInt64,
    resp_pkts UInt64,
    resp_ip_bytes UInt64,
    orig_l2_addr String,
    resp_l2_addr String,
    orig_vendor String,
    resp_vendor String,
    teardown String,
    retransmits UInt64,
    out_of_order UInt64,
    flipped UInt8,
    icmp_errors UInt64,
    `end` String,
    time DateTime MATERIALIZED toDateTime(toUInt32(ts)),
    day Date MATERIALIZED toDate(toDateTime(toUInt32(ts)))
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (sensor, `id.resp_h`, `id.orig_h`, time, uid);

-- upload: one row per framed upload (a frame: length prefix, JSON header, body).
CREATE TABLE IF NOT EXISTS wirelens.upload (
    sensor String,
    batch_id String,
    batch_row UInt32,
    uid String,
    community_id String,
    `id.orig_h` String,
    `id.orig_p` UInt16,
    `id.resp_h` String,
    `id.resp_p` UInt16,
    dir String,
    `index` UInt64,
    `offset` UInt64,
    byte_order String,
    file_name String,
    declared_size Nullable(UInt64),
    received UInt64,
    complete UInt8,
    missing String,
    md5 String,
    sha256 String,
    digest_ok Nullable(UInt8),
    ts_start Float64,
    ts_end Float64,
    throughput Float64,
    segments UInt64,
    coalesced UInt8,
    split UInt8,
    extracted String,
    extract_refused String,
    time DateTime MATERIALIZED toDateTime(toUInt32(ts_start)),
    day Date MATERIALIZED toDate(toDateTime(toUInt32(ts_start)))
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (sensor, `id.resp_h`, time, uid);

-- alert: SYN-flood alerts (state "start" when detected, "end" with the totals).
CREATE TABLE IF NOT EXISTS wirelens.alert (
    sensor String,
    batch_id String,
    batch_row UInt32,
    kind String,
    state String,
    victim String,
    port UInt16,
    ts_start Float64,
    ts_end Nullable(Float64),
    syns UInt64,
    synacks UInt64,
    rsts UInt64,
    completed UInt64,
    peak_syn_rate Float64,
    completion_ratio Float64,
    distinct_sources UInt64,
    spoofed UInt8,
    `trigger` String,
    detected_after Float64,
    peak_queue UInt64,
    hop_checked UInt64,
    hop_mismatch UInt64,
    syn_rate Array(UInt64),
    time DateTime MATERIALIZED toDateTime(toUInt32(ts_start)),
    day Date MATERIALIZED toDate(toDateTime(toUInt32(ts_start)))
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (sensor, victim, time);

-- attempts: unanswered SYNs folded per responder and second (a flood's connections).
CREATE TABLE IF NOT EXISTS wirelens.attempts (
    sensor String,
    batch_id String,
    batch_row UInt32,
    ts Float64,
    ts_last Float64,
    `id.resp_h` String,
    `id.resp_p` UInt16,
    proto String,
    conn_state String,
    attempts UInt64,
    orig_pkts UInt64,
    orig_ip_bytes UInt64,
    `end` String,
    time DateTime MATERIALIZED toDateTime(toUInt32(ts)),
    day Date MATERIALIZED toDate(toDateTime(toUInt32(ts)))
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (sensor, `id.resp_h`, time);

-- stats: one row per run (or per interval in stream mode): what was read.
CREATE TABLE IF NOT EXISTS wirelens.stats (
    sensor String,
    batch_id String,
    batch_row UInt32,
    source String,
    linktype String,
    packets UInt64,
    bytes UInt64,
    captured_bytes UInt64,
    snapped UInt64,
    ts_first Float64,
    ts_last Float64,
    malformed UInt64,
    cut_short UInt8,
    time DateTime MATERIALIZED toDateTime(toUInt32(ts_first)),
    day Date MATERIALIZED toDate(toDateTime(toUInt32(ts_first)))
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (sensor, time);

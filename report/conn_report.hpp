// Connection records: Zeek conn.log fields as JSON Lines, a connection table
// sorted by start time for the terminal, and handshake/teardown ladders.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "decode/oui.hpp"
#include "flow/flow_tracker.hpp"
#include "report/out_buffer.hpp"

namespace wl {

class ConnReporter : public ConnSink {
  public:
    // Text rows wait to be sorted by start time; beyond this many they are
    // printed as a sorted batch so that memory stays bounded.
    static constexpr std::size_t kMaxBufferedRows = 16384;

    ConnReporter(OutBuffer& out, const OuiRegistry& oui, bool json);
    // The most memory the buffered rows and ladders can hold, in bytes.
    static std::uint64_t memory_bound(std::uint32_t ladder_conns);
    // Stream mode (live capture, --stream): every record is written as it
    // happens, text included (one line per event, nothing held for sorting).
    void set_stream(bool on) { stream_ = on; }
    // Stream mode: the packet clock (the latest capture time the pipeline has
    // reached), which begins every stream line and is every stream record's
    // ts_logged, so that they never go backwards; the event's own time is beside.
    void set_clock(const std::uint64_t* clock) { clock_ = clock; }
    // Unanswered attempts evicted because the table's share for them was full
    // (a SYN flood) are folded into one `attempts` record per responder and
    // second (text table: one line per responder at the end) instead of a
    // conn record each. Off: every attempt gets its record (--all-attempts).
    void set_fold_attempts(bool on) { fold_ = on; }
    // --community-id-seed: the seed of the records' community_id (JSON).
    void set_community_id_seed(std::uint16_t seed) { cid_seed_ = seed; }
    // --ladder (text tables): the ladders are the report; no connection table.
    void set_ladders_only(bool on) { ladders_only_ = on; }
    // Stream mode: time has reached `now_ns`; the folded attempts of a second
    // no attempt can still be evicted from (an attempt older than Zeek's 5 s
    // attempt delay times out instead) are written.
    void advance(std::uint64_t now_ns) {
        if (nfolded_ != 0 && stream_ && now_ns / 1000000000ull > fold_sec_ + 6) flush_folded();
    }
    void conn_ended(const Connection& c, ConnEnd why, const LadderLog* ladder) override;
    // Stream mode's `conn_established` event: the handshake just completed.
    void established(const Connection& c, std::uint64_t ts_ns);
    // Prints what is buffered (text table, ladders). Call once at the end.
    // With a uid named (ladder_named), no "no TCP connection matched" line:
    // the command says it (ladders_drawn() == 0).
    void finish(const FlowCounters& counters, std::uint32_t ladder_cap, bool ladder_wanted,
                bool ladder_named);
    // Ladders written or buffered so far, in every output mode.
    std::uint64_t ladders_drawn() const { return ladders_drawn_; }

  private:
    struct Row {
        std::uint64_t start_ns;
        std::uint64_t duration_ns;
        Endpoint orig, resp;
        std::uint8_t ip_version;
        std::uint8_t proto;
        std::uint64_t uid_tie;  // with the rest, what the uid is made of
        std::uint64_t pkts[2];
        std::uint64_t bytes[2];
        const char* state;
        Teardown teardown;
        std::uint8_t history_len;
        char history[Connection::kHistoryMax];
        std::uint32_t icmp_errors;
    };

    static Row make_row(const Connection& c);
    static void row_uid(const Row& r, char out[19]) {
        make_uid(r.proto, r.ip_version, r.orig, r.resp, r.start_ns, r.uid_tie, out);
    }
    void write_json(const Connection& c, ConnEnd why);
    void write_ladder_json(const Row& row, const LadderLog& log);
    void write_ladder_text(const Row& row, const LadderLog& log);
    void print_rows();
    void write_stream_text(const Connection& c, ConnEnd why);
    std::string_view vendor_of(const std::uint8_t* mac);
    bool fold(const Connection& c, ConnEnd why);
    void flush_folded();

    // Attempts folded lately, per responder (bounded: a full table is flushed).
    struct Folded {
        std::uint8_t ip_version;
        Endpoint resp;
        std::uint64_t count, orig_pkts, orig_ip_bytes, first_ns, last_ns;
    };
    static constexpr int kFoldSlots = 16;
    bool fold_ = true;
    Folded folded_[kFoldSlots];
    int nfolded_ = 0;
    int last_folded_ = 0;  // the record the last attempt was folded into
    std::uint64_t fold_sec_ = 0;
    std::uint64_t folded_other_ = 0;  // text table: attempts to responders beyond the slots

    OutBuffer& out_;
    const OuiRegistry& oui_;
    bool json_;
    bool stream_ = false;
    std::uint16_t cid_seed_ = 0;
    const std::uint64_t* clock_ = nullptr;
    std::uint64_t now() const { return clock_ != nullptr ? *clock_ : 0; }
    static constexpr int kVendorCacheBits = 8;
    struct VendorCache {
        std::uint64_t key = 0;  // MAC + 1; 0: empty
        std::string_view vendor;
    };
    VendorCache vendors_[1 << kVendorCacheBits];
    std::vector<Row> rows_;
    std::uint64_t rows_printed_ = 0;
    // Text ladders wait for the table to be printed (bounded by --ladder's cap).
    std::vector<std::pair<Row, LadderLog>> ladders_;
    std::uint64_t ladders_drawn_ = 0;
    bool ladders_only_ = false;
};

const char* teardown_name(Teardown t);
// The uid and Zeek's id.* fields of a connection, each preceded by a comma.
void put_conn_id(OutBuffer& out, const Connection& c);
// ,"community_id":"1:...": the connection's Community ID v1 (flow/community_id.hpp)
// with `seed`, computed as it is written.
void put_community_id(OutBuffer& out, const Connection& c, std::uint16_t seed);
const char* proto_name(std::uint8_t proto);
// HH:MM:SS.mmm in UTC; with `micro`, HH:MM:SS.uuuuuu.
OutBuffer& put_clock(OutBuffer& out, std::uint64_t ns, bool micro = false);

}  // namespace wl

// One connection as the flow stage follows it: per-endpoint TCP state in the
// shape of Zeek's TCP analyzer, counters, and the history letters. Fixed
// size; lives in ConnTable's preallocated pool (flow/conn_table.hpp).
#pragma once

#include <cstdint>

#include "decode/seq_number.hpp"
#include "flow/flow_key.hpp"

namespace wl {

// Zeek's endpoint states (TCP_ENDPOINT_*), plus UDP's active/inactive.
enum class TcpState : std::uint8_t {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset
};

struct TcpSide {
    TcpState state = TcpState::Inactive;
    TcpState prev_state = TcpState::Inactive;
    bool did_close = false;    // the FIN or RST that closes this side was processed
    bool seq_init = false;     // start_seq is known
    std::uint8_t fin_cnt = 0;  // saturating
    bool syn_seen = false;     // the stream's start is known
    // Sequence ranges skipped when a later segment arrived first; a segment
    // filling one is out of order, not a retransmission. How many are held;
    // the ranges themselves live beside the record (HoleRanges).
    // Beyond kHoles open at once a skipped range is not followed: its bytes
    // count neither as lost nor as retransmitted, and a segment filling it is
    // a retransmission (README "Connections").
    static constexpr int kHoles = 4;
    std::uint8_t holes = 0;
    // Zeek's skip_deliveries: data piled up unacknowledged beyond its limits
    // (tcp_max_above_hole_without_any_acks, tcp_excessive_data_without_further_acks);
    // no content gap of this side is reported from then on.
    bool gaps_skipped = false;
    SeqNumber start_seq;  // ISN (or first seq - 1 when picked up midstream)
    // Scaled history letters (c, g, t, w): how often each happened.
    // data_not_advancing is Zeek's 't': data segments that did not advance the
    // stream, whether resent or late (out_of_order + retransmits + those
    // beyond the holes followed).
    std::uint32_t checksum_errors = 0, gaps = 0, data_not_advancing = 0, zero_windows = 0;
    std::uint32_t out_of_order = 0;  // data segments that filled a hole
    std::uint32_t retransmits = 0;   // data segments repeating bytes already seen
    std::uint64_t last_rel = 0;      // highest sequence end seen, relative to start_seq
    std::uint64_t ack_rel = 0;       // highest ack the peer sent for our data, relative
    std::uint64_t hist_last_syn = 0, hist_last_fin = 0, hist_last_rst = 0;
    std::uint64_t gap_checked_rel = 0;  // peer acks up to here were checked for gaps
    // Zeek's: content gaps reported, only while both sides are cleanly
    // established or closing (see check_gaps in tcp_tracking.cpp).
    std::uint64_t missed_bytes = 0;
    // Acknowledged by the peer and never seen, in every state.
    std::uint64_t capture_loss_bytes = 0;
    // Missing at first, filled kReorderWindowNs or more after the hole opened
    // (a loss the sender repaired); sooner fills are reordering.
    std::uint64_t retransmitted_bytes = 0;
};

struct ConnSide {
    std::uint64_t pkts = 0;
    std::uint64_t ip_bytes = 0;
    // UDP and ICMP: payload bytes as the packets state them (TCP's come from
    // its sequence numbers: FlowTracker::payload_bytes).
    std::uint64_t payload_bytes = 0;
    bool active = false;  // UDP/ICMP: sent something
    std::uint8_t mac[6] = {};
    bool has_mac = false;
    TcpSide tcp;
};

// The skipped ranges [lo, hi) of one side's stream, TcpSide::holes of them in
// use. Kept apart from the connection (ConnTable holds two per record): few
// connections have any, and the record must stay eight cache lines.
struct HoleRanges {
    std::uint64_t lo[TcpSide::kHoles], hi[TcpSide::kHoles];
    std::uint64_t opened_ns[TcpSide::kHoles];  // when the segment beyond it arrived
};

enum class Teardown : std::uint8_t { None, Fin, Simultaneous, HalfClosed, ResetOrig, ResetResp };

// Cache-line aligned and sized (512 bytes): a record is eight whole lines,
// fetched and written as such when a connection starts or is evicted.
struct alignas(64) Connection {
    static constexpr int kHistoryMax = 40;

    FlowKey key;
    Endpoint orig, resp;  // orig is the originator
    // 0, or how many earlier connections with this key started in the same
    // nanosecond (start_ns): the uid is made of the key, start_ns and this (flow/uid.hpp).
    std::uint64_t uid_tie = 0;
    std::uint64_t start_ns = 0;
    std::uint64_t last_ns = 0;      // Zeek's last_time (not moved by trailing packets after close)
    std::uint64_t last_pkt_ns = 0;  // any packet
    std::uint64_t expire_ns = 0;    // when the connection is over if nothing else arrives
    std::uint64_t syn_ns = 0, synack_ns = 0, ack_ns = 0;  // handshake timestamps
    ConnSide side[2];                                     // 0: originator, 1: responder
    std::uint8_t proto = 0;
    bool flipped = false;
    bool simultaneous_close = false;  // a FIN crossed the peer's FIN (sent before acking it)
    std::int8_t rst_first = -1;       // side that sent the first RST
    bool close_complete = false;      // Zeek's close_complete: the close timer is running
    bool close_timer_set = false;
    std::uint64_t attempt_ns = 0;  // when the originator's SYN started the attempt timer
    std::uint32_t hist_seen = 0;   // once-only letters already recorded (bit per letter/side)
    std::uint8_t history_len = 0;
    bool history_cut = false;
    char history[kHistoryMax] = {};
    std::uint32_t ladder = 0xffffffff;  // index of the ladder log, when one is kept
    // ICMP errors that quoted a packet of this connection (not in Zeek).
    std::uint32_t icmp_errors = 0;
    // TCP: the order of the connection's first packet among TCP connections,
    // from 0 (Wireshark's tcp.stream); set by FlowTracker.
    std::uint64_t tcp_stream = 0;

    void add_history(char c) {
        if (history_len < kHistoryMax) {
            history[history_len++] = c;
        } else {
            history_cut = true;
        }
    }
    // Adds `c` the first time `bit` is seen; true if it was seen before.
    bool check_history(std::uint32_t bit, char c) {
        if (hist_seen & bit) return true;
        hist_seen |= bit;
        add_history(c);
        return false;
    }
};
static_assert(sizeof(Connection) == 512, "eight cache lines, see above");

}  // namespace wl

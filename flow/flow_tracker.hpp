// The flow stage: every TCP connection, UDP flow and ICMP exchange followed
// from its first packet to its end, in a bounded, preallocated table, with
// Zeek's conn.log semantics (see README "Connections").
#pragma once

#include <cstdint>
#include <vector>

#include "decode/packet.hpp"
#include "flow/conn_table.hpp"
#include "flow/connection.hpp"
#include "flow/ladder.hpp"
#include "flow/server_ports.hpp"
#include "flow/stream_anomaly.hpp"
#include "flow/uid.hpp"

namespace wl {

class TcpReassembler;

enum class ConnEnd : std::uint8_t { Closed, Timeout, Reused, Evicted, EndOfInput };

struct FlowOptions {
    std::uint32_t max_flows = 32768;
    // Connections nobody has answered (a SYN flood's) may hold at most this
    // many of the max_flows slots; beyond it the oldest attempt is evicted, as
    // a kernel's SYN cache is bounded apart from its established connections.
    // 0: half of max_flows.
    std::uint32_t max_attempts = 0;
    std::uint64_t tcp_inactivity_ns = 300ull * 1000000000ull;  // Zeek's tcp_inactivity_timeout
    std::uint64_t udp_inactivity_ns = 60ull * 1000000000ull;   // udp_inactivity_timeout
    std::uint64_t icmp_inactivity_ns = 60ull * 1000000000ull;  // icmp_inactivity_timeout
    std::uint64_t tcp_attempt_ns = 5ull * 1000000000ull;       // tcp_attempt_delay
    std::uint64_t tcp_close_ns = 5ull * 1000000000ull;         // tcp_close_delay
    // Keep a ladder log (packets of the handshake and teardown) for at most
    // this many TCP connections; 0: none. With ladder_uid set, only for that one.
    std::uint32_t ladder_conns = 0;
    char ladder_uid[19] = {};  // empty: any
};

// Told when a TCP handshake completes (the originator's ACK of the SYN-ACK).
class HandshakeObserver {
  public:
    virtual ~HandshakeObserver() = default;
    virtual void handshake_completed(const Connection& c, std::uint64_t ts_ns) = 0;
};

class ConnSink {
  public:
    virtual ~ConnSink() = default;
    virtual void conn_ended(const Connection& c, ConnEnd why, const LadderLog* ladder) = 0;
};

struct FlowCounters {
    std::uint64_t conns_created = 0;
    std::uint64_t conns_ended = 0;
    std::uint64_t evicted = 0;           // ended early because the table was full
    std::uint64_t evicted_attempts = 0;  // of which never answered (SYN-sent, one-sided)
    std::uint64_t reused = 0;
    std::uint64_t not_tracked = 0;  // IP packets that belong to no connection we track
    std::uint64_t max_open = 0;
    std::uint64_t icmp_errors_matched = 0;  // ICMP errors counted against the connection they quote
};

class FlowTracker {
  public:
    // The most memory a tracker with these options can hold, in bytes.
    static std::uint64_t memory_bound(const FlowOptions& opts);

    FlowTracker(const FlowOptions& opts, ConnSink& sink);

    // Feeds one decoded packet; ts_ns must not go backwards by much (capture time).
    void process(const Packet& pkt) {
        FlowPacketInfo info;
        process(pkt, prepare(pkt, info) ? &info : nullptr);
    }
    // The same in two steps, so that the caller can do other work while the
    // packet's table slot is fetched from memory: prepare() computes the key
    // and its hash and starts that fetch (false: a packet no connection is kept
    // for), process(pkt, &info or null) then follows the packet.
    bool prepare(const Packet& pkt, FlowPacketInfo& info) const {
        if (!flow_info(pkt, info, hash_seed_)) return false;
        table_.prefetch_slot(info.hash);
        return true;
    }
    void process(const Packet& pkt, const FlowPacketInfo* info);
    // Ends every connection whose time is up at `now_ns` (live capture calls this
    // when packets are scarce; process() does it incrementally).
    void expire(std::uint64_t now_ns);
    // Ends everything still open (end of input).
    void flush();

    const FlowCounters& counters() const { return counters_; }
    // Stream anomalies seen so far (not yet part of any report).
    const StreamAnomalyCounts& anomalies() const { return anomalies_; }
    std::size_t open() const { return open_; }
    // The connection in slot `idx` (for stream consumers, while it is open).
    const Connection& connection(std::uint32_t idx) const { return table_.conn(idx); }
    // Feeds TCP payload to `r` (null: no reassembly).
    void set_reassembler(TcpReassembler* r) { reasm_ = r; }
    void set_handshake_observer(HandshakeObserver* o) { handshake_observer_ = o; }

    // Zeek's conn_state for a connection as it stands.
    static const char* conn_state(const Connection& c);
    static Teardown teardown(const Connection& c);
    // orig_bytes / resp_bytes as Zeek counts them.
    static std::uint64_t payload_bytes(const Connection& c, int side);

  private:
    static constexpr std::uint32_t kNone = ConnTable::kNone;

    std::uint32_t create(const FlowPacketInfo& info, std::uint64_t hash, const Packet& pkt);
    void end(std::uint32_t idx, ConnEnd why);
    // Ends the connection in `idx` as its time being up does: closed, or timed out.
    void end_due(std::uint32_t idx) {
        end(idx, table_.conn(idx).close_complete ? ConnEnd::Closed : ConnEnd::Timeout);
    }
    void update_expiry(std::uint32_t idx, Connection& c);
    bool tcp_is_reuse(const Connection& c, int dir, const Packet& pkt) const;
    void count_icmp_error(const Packet& pkt);
    // Connection::uid_tie for a connection with `key` starting at `ts_ns`.
    std::uint64_t uid_tie(const FlowKey& key, std::uint64_t ts_ns);
    std::uint64_t count_tie(const FlowKey& key, std::uint64_t ts_ns);

    // flow/tcp_tracking.cpp: one TCP segment.
    void update_tcp(std::uint32_t idx, Connection& c, int dir, const Packet& pkt);

    FlowOptions opts_;
    ConnSink& sink_;
    ConnTable table_;
    std::vector<LadderLog> ladders_;
    std::uint32_t ladders_used_ = 0;
    std::size_t open_ = 0;
    // Ties (Connection::uid_tie). The latest nanosecond a connection started
    // in, and the key of the first to start then; when another connection
    // starts in that nanosecond or earlier (a clock gone back), the
    // (key, nanosecond) pairs are counted in ties_ (open addressing, by a
    // fixed-seed hash; slots of an older epoch are free) until a connection
    // starts later: a new epoch. Past kTieLoad pairs in an epoch new pairs are
    // not counted (their ties stay 0: README "Connections"). See uid_tie() for
    // clocks that jump back.
    struct TieSlot {
        std::uint64_t key_hash = 0;
        std::uint32_t epoch = 0;
        std::uint32_t count = 0;
    };
    static constexpr std::uint32_t kTieSlots = 4096, kTieLoad = kTieSlots / 4 * 3;
    static constexpr std::uint64_t kTieJumpNs = 1000000;  // a clock going back more: a jump
    std::vector<TieSlot> ties_;
    std::uint32_t ties_used_ = 0;
    std::uint32_t tie_epoch_ = 0;
    bool tie_any_ = false, tie_counting_ = false;
    std::uint64_t tie_max_ns_ = 0;
    FlowKey tie_first_{};
    std::uint64_t next_tcp_stream_ = 0;  // Connection::tcp_stream of the next TCP connection
    std::uint64_t hash_seed_ = 0;
    std::uint64_t now_ns_ = 0;
    FlowCounters counters_;
    StreamAnomalyCounts anomalies_;
    TcpReassembler* reasm_ = nullptr;
    HandshakeObserver* handshake_observer_ = nullptr;
};

}  // namespace wl

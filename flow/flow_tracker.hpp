// The flow stage: every TCP connection, UDP flow and ICMP exchange followed
// from its first packet to its end, in a bounded, preallocated table, with
// Zeek's conn.log semantics (see README "Connections").
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "decode/packet.hpp"
#include "flow/connection.hpp"

namespace wl {

class TcpReassembler;

// Owns memory from calloc or aligned_alloc: the flow stage's large tables take
// fresh pages that are never touched until used (resident memory follows what
// is used).
struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};

enum class ConnEnd : std::uint8_t { Closed, Timeout, Reused, Evicted, EndOfInput };

struct FlowOptions {
    std::uint32_t max_flows = 32768;
    // Connections nobody has answered (a SYN flood's) may hold at most this
    // many of the max_flows slots; beyond it the oldest attempt is evicted, as
    // a kernel's SYN cache is bounded apart from its established connections.
    // 0: half of max_flows.
    std::uint32_t max_attempts = 0;
    // Connections' uid sequence numbers: first, first + step, ... (one shard of
    // several numbers its own: shard i of n starts at i + 1, steps by n).
    std::uint64_t uid_first = 1, uid_step = 1;
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

// One arrow of a ladder diagram.
struct LadderStep {
    std::uint64_t ts_ns;
    std::uint64_t rel_seq, rel_ack;
    std::uint32_t len;
    std::uint16_t flags;
    std::uint8_t dir;            // 0 orig -> resp, 1 resp -> orig
    std::uint32_t skipped_pkts;  // data packets elided before this step
    std::uint64_t skipped_bytes;
};

struct LadderLog {
    static constexpr int kSteps = 24;
    LadderStep steps[kSteps];
    std::uint8_t count = 0;
    std::uint32_t pending_pkts = 0;  // elided since the last step
    std::uint64_t pending_bytes = 0;
    std::uint32_t dropped = 0;  // steps that did not fit
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
        __builtin_prefetch(&slots_[info.hash & slot_mask_]);
        return true;
    }
    void process(const Packet& pkt, const FlowPacketInfo* info);
    // Ends every connection whose time is up at `now_ns` (live capture calls this
    // when packets are scarce; process() does it incrementally).
    void expire(std::uint64_t now_ns);
    // Ends everything still open (end of input).
    void flush();

    const FlowCounters& counters() const { return counters_; }
    std::size_t open() const { return open_; }
    // The connection in slot `idx` (for stream consumers, while it is open).
    const Connection& connection(std::uint32_t idx) const { return pool_[idx]; }
    // Feeds TCP payload to `r` (null: no reassembly).
    void set_reassembler(TcpReassembler* r) { reasm_ = r; }
    void set_handshake_observer(HandshakeObserver* o) { handshake_observer_ = o; }

    // Zeek's conn_state for a connection as it stands.
    static const char* conn_state(const Connection& c);
    static Teardown teardown(const Connection& c);
    // orig_bytes / resp_bytes as Zeek counts them.
    static std::uint64_t payload_bytes(const Connection& c, int side);

  private:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    enum ListId : std::uint8_t { kAttempts = 0, kActive = 1, kFree = 2 };

    std::uint32_t find(const FlowKey& key, std::uint64_t hash) const;
    std::uint32_t create(const FlowPacketInfo& info, std::uint64_t hash, const Packet& pkt);
    void end(std::uint32_t idx, ConnEnd why);
    bool must_evict(ListId& from) const;
    void prefetch_next_victim();
    void prefetch_record(std::uint32_t idx) const;
    // A connection's hole ranges for one side (0: originator, 1: responder).
    HoleRanges& holes(std::uint32_t idx, int side) { return holes_[2 * std::size_t{idx} + side]; }
    void table_insert(std::uint32_t idx, std::uint64_t hash);
    void table_erase(std::uint32_t idx);
    void list_push_back(ListId list, std::uint32_t idx);
    void list_push_front(ListId list, std::uint32_t idx);
    void list_unlink(std::uint32_t idx);
    void touch(std::uint32_t idx);
    void sweep(std::uint64_t now_ns, int budget);

    void update_tcp(std::uint32_t idx, Connection& c, int dir, const Packet& pkt, std::uint64_t ts);
    void update_expiry(Connection& c);
    void log_ladder(Connection& c, int dir, const Packet& pkt, std::uint64_t ts);
    bool tcp_is_reuse(const Connection& c, int dir, const Packet& pkt) const;

    FlowOptions opts_;
    ConnSink& sink_;
    // From aligned_alloc, never cleared (a record is written whole when its
    // connection starts): pages of connections never used are never touched,
    // so the resident size follows the connections open, not --max-flows.
    std::unique_ptr<Connection[], FreeDeleter> pool_;
    std::vector<std::uint64_t>
        slots_;  // open addressing: hash low 32 bits, conn index + 1; 0 empty
    // Two per conn (holes(idx, side)); calloc'd: touched only by connections
    // that skip data, read only up to TcpSide::holes.
    std::unique_ptr<HoleRanges[], FreeDeleter> holes_;
    // What the table, the lists and the sweep keep of each connection, apart
    // from its record and together: an eviction or a sweep must read one
    // cache line of them, not one line per field.
    struct alignas(32) Meta {
        std::uint64_t hash;    // for erase
        std::uint64_t expire;  // a copy of expire_ns for the sweep
        std::uint32_t prev, next;
        std::uint8_t list;
    };
    static_assert(sizeof(Meta) == 32, "two to a cache line");
    std::vector<Meta> meta_;
    std::uint32_t head_[3] = {kNone, kNone, kNone}, tail_[3] = {kNone, kNone, kNone};
    std::uint32_t list_len_[3] = {0, 0, 0};
    std::vector<LadderLog> ladders_;
    std::uint32_t ladders_used_ = 0;
    std::uint64_t slot_mask_ = 0;
    std::size_t open_ = 0;
    std::uint32_t sweep_pos_ = 0;
    std::uint32_t sweep_ahead_ = 0;           // where the sweep prefetches due records
    std::uint32_t prefetched_ = 0xffffffffu;  // the last victim prefetch_next_victim fetched
    std::uint64_t next_uid_ = 1;
    std::uint64_t hash_seed_ = 0;
    std::uint64_t now_ns_ = 0;
    FlowCounters counters_;
    TcpReassembler* reasm_ = nullptr;
    HandshakeObserver* handshake_observer_ = nullptr;
};

// Zeek-style unique id: "C" and 17 base62 characters, derived from `seq`.
void make_uid(std::uint64_t seq, char out[19]);

// Ports Zeek's likely_server_ports would list (the well-known service ports).
bool likely_server_port(std::uint16_t port, std::uint8_t proto);

}  // namespace wl

#include "flow/flow_tracker.hpp"

#include "flow/tcp_reassembler.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <random>
#include <type_traits>

namespace wl {

namespace {

// History bits for letters recorded at most once per direction (Zeek's HIST_*).
enum HistBit : std::uint32_t {
    kHistSyn = 1u << 0,
    kHistFin = 1u << 1,
    kHistRst = 1u << 2,
    kHistFinRst = 1u << 3,
    kHistData = 1u << 4,
    kHistAck = 1u << 5,
    kHistMulti = 1u << 6,
};

constexpr std::int64_t kTooLargeSeqDelta = 1048576;  // Zeek's TOO_LARGE_SEQ_DELTA

std::uint32_t side_bit(std::uint32_t bit, int dir) {
    return dir == 0 ? bit : bit << 16;
}
char side_letter(char upper, int dir) {
    return dir == 0 ? upper : static_cast<char>(upper - 'A' + 'a');
}

// Position of `seq` relative to `start`, unwrapped around `ref_rel` (a
// position already known): sequence numbers wrap past 2^32, positions do not.
std::int64_t unwrap(std::uint64_t ref_rel, SeqNumber start, SeqNumber seq) {
    const SeqNumber ref = start + static_cast<std::uint32_t>(ref_rel);
    return static_cast<std::int64_t>(ref_rel) + (seq - ref);
}

// Zeek records c, g, t and w on the 1st, 10th, 100th, ... occurrence.
void scaled(Connection& c, std::uint32_t& counter, char upper, int dir) {
    if (counter != 0xffffffffu) ++counter;
    std::uint32_t n = counter;
    while (n % 10 == 0)
        n /= 10;
    if (n == 1) c.add_history(side_letter(upper, dir));
}

void init_side(TcpSide& s, SeqNumber start, std::uint64_t last_rel, bool by_syn) {
    s.start_seq = start;
    s.syn_seen = by_syn;
    s.seq_init = true;
    s.ack_rel = 0;
    s.last_rel = last_rel;
    s.holes = 0;
    s.gap_checked_rel = 1;  // position 0 is the SYN; data starts at 1
}

void set_state(TcpSide& s, TcpState st) {
    if (st == s.state) return;
    s.prev_state = s.state;
    s.state = st;
}

// Zeek's is_clean (TCP_Reassembler): established, or closed from established.
bool cleanly_open(const TcpSide& s) {
    return s.state == TcpState::Established ||
           (s.state == TcpState::Closed && s.prev_state == TcpState::Established);
}

bool in_attempt(const Connection& c) {
    const TcpState o = c.side[0].tcp.state;
    return (o == TcpState::SynSent || o == TcpState::SynAckSent) &&
           c.side[1].tcp.state == TcpState::Inactive;
}

std::uint32_t ip_datagram_len(const Packet& pkt) {
    return pkt.ip_version == 4
               ? pkt.ip4.datagram_len()
               : static_cast<std::uint32_t>(Ipv6View::kHeaderLen) + pkt.ip6.payload_wire_len;
}

// Records a skipped range [lo, hi) of the sender's stream.
void add_hole(TcpSide& s, HoleRanges& h, std::uint64_t lo, std::uint64_t hi) {
    if (s.holes == TcpSide::kHoles) return;  // beyond the few we follow: counted as retransmits
    h.lo[s.holes] = lo;
    h.hi[s.holes] = hi;
    ++s.holes;
}

// A segment [lo, hi) that did not advance the stream: does it fill a hole?
bool fill_hole(TcpSide& s, HoleRanges& h, std::uint64_t lo, std::uint64_t hi) {
    for (int i = 0; i < s.holes; ++i) {
        if (hi <= h.lo[i] || lo >= h.hi[i]) continue;
        if (lo <= h.lo[i] && hi >= h.hi[i]) {  // filled
            h.lo[i] = h.lo[s.holes - 1];
            h.hi[i] = h.hi[s.holes - 1];
            --s.holes;
        } else if (lo <= h.lo[i]) {
            h.lo[i] = hi;
        } else if (hi >= h.hi[i]) {
            h.hi[i] = lo;
        } else if (s.holes < TcpSide::kHoles) {  // split
            h.lo[s.holes] = hi;
            h.hi[s.holes] = h.hi[i];
            h.hi[i] = lo;
            ++s.holes;
        }
        return true;
    }
    return false;
}

}  // namespace

static_assert(std::is_trivially_destructible_v<Connection>,
              "connections are reused in place without destruction");

std::uint64_t FlowTracker::memory_bound(const FlowOptions& opts) {
    const std::uint64_t n = std::max<std::uint32_t>(opts.max_flows, 1);
    std::uint64_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    // Per connection: the connection, its two sides' hole ranges, its hash,
    // expiry, list links and list id (Meta); then the open-addressing slots and
    // the ladder logs.
    return n * (sizeof(Connection) + 2 * sizeof(HoleRanges) + sizeof(Meta)) + cap * 8 +
           std::uint64_t{opts.ladder_conns} * sizeof(LadderLog);
}

FlowTracker::FlowTracker(const FlowOptions& opts, ConnSink& sink) : opts_(opts), sink_(sink) {
    if (opts_.max_flows == 0) opts_.max_flows = 1;
    if (opts_.uid_step == 0) opts_.uid_step = 1;
    // The table's layout never shows in the output (records follow the
    // connections' lists and slots, not their hashes), so a random seed costs
    // no reproducibility and keeps crafted keys from piling onto one probe chain.
    std::random_device rd;
    hash_seed_ = (std::uint64_t{rd()} << 32) ^ rd();
    next_uid_ = opts_.uid_first;
    if (opts_.max_attempts == 0 || opts_.max_attempts > opts_.max_flows) {
        opts_.max_attempts =
            opts_.max_attempts == 0 ? std::max(opts_.max_flows / 2, 1u) : opts_.max_flows;
    }
    // Records are written whole when a connection starts, never read before:
    // the pages need no clearing (and are taken from the system as used).
    pool_.reset(static_cast<Connection*>(std::aligned_alloc(
        alignof(Connection), std::size_t{opts_.max_flows} * sizeof(Connection))));
    if (!pool_) throw std::bad_alloc();
    meta_.resize(opts_.max_flows);
    holes_.reset(static_cast<HoleRanges*>(
        std::calloc(2 * std::size_t{opts_.max_flows}, sizeof(HoleRanges))));
    if (!holes_) throw std::bad_alloc();
    std::uint64_t cap = 16;
    while (cap < 2ull * opts_.max_flows)
        cap <<= 1;  // load factor <= 1/2
    slots_.assign(cap, 0);
    slot_mask_ = cap - 1;
    sweep_ahead_ = 16 % opts_.max_flows;  // positions ahead of sweep_pos_
    for (std::uint32_t i = 0; i < opts_.max_flows; ++i)
        list_push_back(kFree, i);
    if (opts_.ladder_conns) ladders_.resize(opts_.ladder_conns);
}

// ---------------------------------------------------------------- table

// A slot holds the low 32 bits of the key's hash (its home is derived from
// them) above the connection's index + 1: probing compares hashes without
// touching the per-connection arrays, and a miss (every new SYN of a flood)
// costs one cache line of the table.
namespace {
constexpr std::uint64_t slot_of(std::uint64_t hash, std::uint32_t idx) {
    return (hash << 32) | (std::uint64_t{idx} + 1);
}
constexpr std::uint32_t slot_idx(std::uint64_t s) {
    return static_cast<std::uint32_t>(s) - 1;
}
constexpr std::uint64_t slot_hash(std::uint64_t s) {
    return s >> 32;
}
}  // namespace

std::uint32_t FlowTracker::find(const FlowKey& key, std::uint64_t hash) const {
    const std::uint64_t h32 = hash & 0xffffffffu;
    for (std::uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
        const std::uint64_t s = slots_[i];
        if (s == 0) return kNone;
        if (slot_hash(s) == h32 && pool_[slot_idx(s)].key == key) return slot_idx(s);
    }
}

void FlowTracker::table_insert(std::uint32_t idx, std::uint64_t hash) {
    meta_[idx].hash = hash;
    std::uint64_t i = hash & slot_mask_;
    while (slots_[i] != 0)
        i = (i + 1) & slot_mask_;
    slots_[i] = slot_of(hash, idx);
}

void FlowTracker::table_erase(std::uint32_t idx) {
    std::uint64_t i = meta_[idx].hash & slot_mask_;
    while (slot_idx(slots_[i]) != idx || slots_[i] == 0)
        i = (i + 1) & slot_mask_;
    // Backward-shift deletion keeps linear probing free of tombstones.
    for (std::uint64_t j = (i + 1) & slot_mask_;; j = (j + 1) & slot_mask_) {
        const std::uint64_t s = slots_[j];
        if (s == 0) break;
        const std::uint64_t home = slot_hash(s) & slot_mask_;
        const bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            slots_[i] = s;
            i = j;
        }
    }
    slots_[i] = 0;
}

void FlowTracker::list_push_back(ListId list, std::uint32_t idx) {
    ++list_len_[list];
    meta_[idx].list = list;
    meta_[idx].prev = tail_[list];
    meta_[idx].next = kNone;
    if (tail_[list] != kNone) {
        meta_[tail_[list]].next = idx;
    } else {
        head_[list] = idx;
    }
    tail_[list] = idx;
}

// Freed slots go to the front of the free list: the next connection reuses
// the one whose memory is warm, and resident memory follows the connections
// open at once rather than every slot the table ever used.
void FlowTracker::list_push_front(ListId list, std::uint32_t idx) {
    ++list_len_[list];
    meta_[idx].list = list;
    meta_[idx].next = head_[list];
    meta_[idx].prev = kNone;
    if (head_[list] != kNone) {
        meta_[head_[list]].prev = idx;
    } else {
        tail_[list] = idx;
    }
    head_[list] = idx;
}

void FlowTracker::list_unlink(std::uint32_t idx) {
    const std::uint8_t list = meta_[idx].list;
    --list_len_[list];
    if (meta_[idx].prev != kNone) {
        meta_[meta_[idx].prev].next = meta_[idx].next;
    } else {
        head_[list] = meta_[idx].next;
    }
    if (meta_[idx].next != kNone) {
        meta_[meta_[idx].next].prev = meta_[idx].prev;
    } else {
        tail_[list] = meta_[idx].prev;
    }
}

void FlowTracker::touch(std::uint32_t idx) {
    // Connections nobody answered wait on their own list, evicted first.
    const ListId want = pool_[idx].side[1].pkts == 0 ? kAttempts : kActive;
    if (meta_[idx].list == want && tail_[want] == idx) return;
    list_unlink(idx);
    list_push_back(want, idx);
}

// ---------------------------------------------------------------- lifecycle

namespace {
const Connection kFreshConnection{};
static_assert(std::is_trivially_copyable_v<Connection>, "records are copied from a blank one");
}  // namespace

// Whether a new connection must first evict one, and from which list.
// Unanswered attempts hold their share of the table: the oldest attempt goes.
// The table is full otherwise: the least recently active connection goes
// (mostly closed ones waiting out their close delay), so that a flood of
// attempts cannot push out answered connections, nor can lingering
// connections leave new handshakes no room to complete.
bool FlowTracker::must_evict(ListId& from) const {
    const bool attempts_full = list_len_[kAttempts] >= opts_.max_attempts;
    if (head_[kFree] != kNone && !attempts_full) return false;
    from = attempts_full || head_[kActive] == kNone ? kAttempts : kActive;
    return true;
}

std::uint32_t FlowTracker::create(const FlowPacketInfo& info, std::uint64_t hash,
                                  const Packet& pkt) {
    ListId from = kAttempts;
    if (must_evict(from)) {
        const std::uint32_t victim = head_[from];
        // Its Meta (not the record) says whether it is due: under a flood the
        // record is only read again when its end is written.
        if (meta_[victim].expire <= now_ns_) {
            end(victim, pool_[victim].close_complete ? ConnEnd::Closed : ConnEnd::Timeout);
        } else {
            ++counters_.evicted;
            if (from == kAttempts) ++counters_.evicted_attempts;
            end(victim, ConnEnd::Evicted);
        }
    }
    const std::uint32_t idx = head_[kFree];
    list_unlink(idx);
    // Copied from a blank record by the library's memcpy (vector stores) rather
    // than value-initialised in place: the compiler writes the known size with
    // rep stos or rep movs, whose start-up costs too much once per packet of a
    // flood. The size is hidden from it (an empty asm) so that it calls the library.
    std::size_t size = sizeof(Connection);
    asm("" : "+r"(size));
    std::memcpy(static_cast<void*>(&pool_[idx]), &kFreshConnection, size);
    Connection& c = pool_[idx];
    c.key = info.key;
    c.orig = info.src;
    c.resp = info.dst;
    c.proto = info.key.proto;
    c.start_ns = c.last_ns = c.last_pkt_ns = pkt.ts_ns;
    c.uid_seq = next_uid_;
    next_uid_ += opts_.uid_step;

    // Who is the originator when the first packet does not say so by a SYN.
    bool flip = false;
    const std::uint16_t sport = info.src.port, dport = info.dst.port;
    if (c.proto == ipproto::kTcp) {
        const bool syn = pkt.tcp.has(tcpflag::kSyn), ack = pkt.tcp.has(tcpflag::kAck);
        if (syn && ack) {
            flip = true;  // a SYN-ACK answers the other side's SYN
        } else if (!syn && likely_server_port(sport, c.proto)) {
            flip = likely_server_port(dport, c.proto) ? sport < dport : true;
        }
    } else if (c.proto == ipproto::kUdp) {
        flip = likely_server_port(sport, c.proto) && !likely_server_port(dport, c.proto);
    }
    if (flip) {
        std::swap(c.orig, c.resp);
        c.flipped = true;
        c.add_history('^');
    }
    if (opts_.ladder_conns != 0 && ladders_used_ < opts_.ladder_conns && c.proto == ipproto::kTcp) {
        char uid[19];
        make_uid(c.uid_seq, uid);
        if (opts_.ladder_uid[0] == '\0' || std::strcmp(uid, opts_.ladder_uid) == 0) {
            c.ladder = ladders_used_++;
        }
    }
    table_insert(idx, hash);
    list_push_back(kAttempts, idx);
    if (reasm_ != nullptr && c.proto == ipproto::kTcp) reasm_->start(idx);
    ++open_;
    ++counters_.conns_created;
    counters_.max_open = std::max<std::uint64_t>(counters_.max_open, open_);
    return idx;
}

// A full table evicts one connection per new one: the one the next new
// connection would evict has its record, table slot and links fetched from
// memory after each packet (the lists may have changed: an answered attempt
// moves, the attempts' share frees up), instead of stalling the packet that
// evicts it. Once per victim: it stays cached until then.
void FlowTracker::prefetch_next_victim() {
    ListId list = kAttempts;
    if (!must_evict(list)) return;
    const std::uint32_t n = head_[list];
    if (n == kNone || n == prefetched_) return;
    prefetched_ = n;
    // The table slot and links first: with more prefetches in flight than the
    // core has fill buffers, the last ones may be dropped.
    __builtin_prefetch(&slots_[meta_[n].hash & slot_mask_]);
    const std::uint32_t after = meta_[n].next;
    if (after != kNone) __builtin_prefetch(&meta_[after]);
    prefetch_record(n);
}

// Every cache line of a connection's record (whole lines, see Connection).
void FlowTracker::prefetch_record(std::uint32_t idx) const {
    static_assert(sizeof(Connection) % 64 == 0 && alignof(Connection) == 64);
    const auto* p = reinterpret_cast<const char*>(&pool_[idx]);
    for (std::size_t line = 0; line < sizeof(Connection); line += 64)
        __builtin_prefetch(p + line);
}

void FlowTracker::end(std::uint32_t idx, ConnEnd why) {
    Connection& c = pool_[idx];
    const LadderLog* ladder = c.ladder != 0xffffffffu ? &ladders_[c.ladder] : nullptr;
    if (reasm_ != nullptr && c.proto == ipproto::kTcp) {
        // What waits in the reassembler is delivered (or declared lost) first.
        const bool reset =
            c.side[0].tcp.state == TcpState::Reset || c.side[1].tcp.state == TcpState::Reset;
        reasm_->finish(idx, why, reset);
    }
    sink_.conn_ended(c, why, ladder);
    table_erase(idx);
    list_unlink(idx);
    list_push_front(kFree, idx);
    if (idx == prefetched_) prefetched_ = kNone;  // its next life is fetched anew
    --open_;
    ++counters_.conns_ended;
}

void FlowTracker::sweep(std::uint64_t now_ns, int budget) {
    for (int i = 0; i < budget; ++i) {
        const std::uint32_t idx = sweep_pos_;
        sweep_pos_ = sweep_pos_ + 1 == opts_.max_flows ? 0 : sweep_pos_ + 1;
        // A due connection's record is fetched some positions (a few packets)
        // before the sweep ends it, so that ending it does not wait on memory.
        // Capture time only grows: due then, due when reached.
        // (Its own counter: sweep_pos_ + 16 modulo the table is a division a step.)
        const std::uint32_t ahead = sweep_ahead_;
        sweep_ahead_ = sweep_ahead_ + 1 == opts_.max_flows ? 0 : sweep_ahead_ + 1;
        // The Meta entries, read in order: the sweep touches a connection's
        // record only when it is due.
        if (meta_[ahead].list != kFree && meta_[ahead].expire <= now_ns) prefetch_record(ahead);
        if (meta_[idx].list == kFree || meta_[idx].expire > now_ns) continue;
        end(idx, pool_[idx].close_complete ? ConnEnd::Closed : ConnEnd::Timeout);
    }
}

void FlowTracker::expire(std::uint64_t now_ns) {
    if (now_ns > now_ns_) now_ns_ = now_ns;
    sweep(now_ns_, static_cast<int>(opts_.max_flows));
}

void FlowTracker::flush() {
    for (std::uint32_t idx = 0; idx < opts_.max_flows; ++idx) {
        if (meta_[idx].list != kFree) {
            end(idx, pool_[idx].close_complete ? ConnEnd::Closed : ConnEnd::EndOfInput);
        }
    }
}

void FlowTracker::update_expiry(Connection& c) {
    if (c.proto == ipproto::kTcp) {
        if (c.close_complete) {
            // Zeek deletes a closed connection tcp_close_delay after its last time;
            // trailing packets (the last ACK) do not move that.
            if (!c.close_timer_set) {
                c.expire_ns = c.last_ns + opts_.tcp_close_ns;
                c.close_timer_set = true;
            }
        } else if (in_attempt(c)) {
            c.expire_ns = c.attempt_ns + opts_.tcp_attempt_ns;
        } else {
            c.expire_ns = c.last_pkt_ns + opts_.tcp_inactivity_ns;
        }
    } else if (c.proto == ipproto::kUdp) {
        c.expire_ns = c.last_pkt_ns + opts_.udp_inactivity_ns;
    } else {
        c.expire_ns = c.last_pkt_ns + opts_.icmp_inactivity_ns;
    }
    meta_[static_cast<std::size_t>(&c - pool_.get())].expire = c.expire_ns;
}

// ---------------------------------------------------------------- packets

bool FlowTracker::tcp_is_reuse(const Connection& c, int dir, const Packet& pkt) const {
    const TcpView& t = pkt.tcp;
    if (!t.has(tcpflag::kSyn)) return false;
    const TcpSide& o = c.side[0].tcp;
    const TcpSide& r = c.side[1].tcp;
    const TcpSide* conn_orig = &o;
    if (t.has(tcpflag::kAck)) {
        if (o.state != TcpState::Inactive) return false;  // a SYN-ACK within the handshake
        conn_orig = &r;
    }
    if (!o.did_close && !r.did_close) {
        if (SeqNumber(t.seq()) == conn_orig->start_seq) return false;  // a retransmitted SYN
        if (!t.has(tcpflag::kAck) && o.state == TcpState::SynAckSent &&
            r.state == TcpState::Inactive && SeqNumber(t.seq()) == r.start_seq) {
            return false;  // SYN and SYN-ACK captured in the wrong order
        }
        // The responder's own SYN while the originator's is unanswered:
        // simultaneous open, not a new connection.
        if (dir == 1 && !t.has(tcpflag::kAck) && o.state == TcpState::SynSent &&
            r.state == TcpState::Inactive) {
            return false;
        }
    }
    return true;
}

void FlowTracker::process(const Packet& pkt, const FlowPacketInfo* prepared) {
    if (pkt.ts_ns > now_ns_) now_ns_ = pkt.ts_ns;
    if (prepared == nullptr) {
        if (pkt.ip_version != 0) ++counters_.not_tracked;
        return;
    }
    const FlowPacketInfo& info = *prepared;
    const std::uint64_t hash = info.hash;
    const std::uint64_t ts = pkt.ts_ns;
    std::uint32_t idx = find(info.key, hash);
    if (idx != kNone) {
        Connection& old = pool_[idx];
        if (old.expire_ns <= ts) {
            end(idx, old.close_complete ? ConnEnd::Closed : ConnEnd::Timeout);
            idx = kNone;
        } else if (old.proto == ipproto::kTcp &&
                   tcp_is_reuse(old, same_endpoint(info.src, old.orig) ? 0 : 1, pkt)) {
            ++counters_.reused;
            end(idx, ConnEnd::Reused);
            idx = kNone;
        }
    }
    if (idx == kNone) idx = create(info, hash, pkt);
    Connection& c = pool_[idx];
    int dir = same_endpoint(info.src, c.orig) ? 0 : 1;

    const bool bad_checksum = pkt.error == DecodeError::BadChecksum &&
                              (pkt.error_layer == Layer::Tcp || pkt.error_layer == Layer::Udp);
    if (bad_checksum) {
        // Zeek's 'c': the packet is counted in the history only, not analysed.
        TcpSide& s = c.side[dir].tcp;
        scaled(c, s.checksum_errors, 'C', dir);
    } else {
        ConnSide& side = c.side[dir];
        ++side.pkts;
        side.ip_bytes += ip_datagram_len(pkt);
        if (!side.has_mac && pkt.has(Layer::Ethernet)) {
            std::memcpy(side.mac, pkt.eth.src().p, 6);
            side.has_mac = true;
        }
        c.last_pkt_ns = ts;
        if (c.proto == ipproto::kTcp) {
            update_tcp(idx, c, dir, pkt, ts);
        } else if (c.proto == ipproto::kUdp) {
            side.active = true;
            side.payload_bytes += pkt.udp.length() - UdpView::kHeaderLen;
            c.check_history(side_bit(kHistData, dir), side_letter('D', dir));
            c.last_ns = ts;
        } else {
            side.active = true;
            // ICMP payload after the 8-byte header, as Zeek sizes ICMP "connections".
            const std::uint32_t icmp_len = pkt.payload_wire_len + IcmpView::kHeaderLen;
            side.payload_bytes += icmp_len > 8 ? icmp_len - 8 : 0;
            c.last_ns = ts;
        }
    }
    update_expiry(c);
    touch(idx);
    sweep(now_ns_, 2);
    prefetch_next_victim();
}

void FlowTracker::update_tcp(std::uint32_t idx, Connection& c, int dir, const Packet& pkt,
                             std::uint64_t ts) {
    const TcpView& t = pkt.tcp;
    const std::uint16_t flags = t.flags();
    const bool syn = flags & tcpflag::kSyn, fin = flags & tcpflag::kFin;
    const bool rst = flags & tcpflag::kRst, ack = flags & tcpflag::kAck;
    const std::uint32_t len = pkt.payload_wire_len;
    const SeqNumber seq(t.seq());
    std::uint32_t seg_len = len + (syn ? 1 : 0) + (fin ? 1 : 0);
    if (rst) seg_len -= len;  // a RST's data is not part of the stream
    const SeqNumber seq_end = seq + seg_len;

    // Sequence bookkeeping of the sender, as Zeek's init_endpoint.
    {
        TcpSide& me = c.side[dir].tcp;
        switch (me.state) {
            case TcpState::Inactive:
                if (syn) {
                    init_side(me, seq, seg_len, true);
                } else {
                    init_side(me, seq - 1, 1, false);  // as though a SYN had been seen
                }
                break;
            case TcpState::SynSent:
            case TcpState::SynAckSent:
                if (syn && seq != me.start_seq) init_side(me, seq, seg_len, true);
                break;
            case TcpState::Established:
            case TcpState::Partial:
                if (syn) init_side(me, seq, seg_len, true);
                break;
            case TcpState::Reset:
                if (syn && me.prev_state == TcpState::Inactive) init_side(me, seq, seg_len, true);
                break;
            case TcpState::Closed:
                break;
        }
    }
    TcpSide* me = &c.side[dir].tcp;
    TcpSide* peer = &c.side[1 - dir].tcp;
    const std::int64_t rel_seq = unwrap(me->last_rel, me->start_seq, seq);
    const std::uint64_t rseq = rel_seq < 0 ? 0 : static_cast<std::uint64_t>(rel_seq);

    // History letters.
    const int bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0);
    if (bits > 1) {
        if (fin && rst) {
            c.check_history(side_bit(kHistFinRst, dir), side_letter('I', dir));
        } else {
            c.check_history(side_bit(kHistMulti, dir), side_letter('Q', dir));
        }
    } else if (bits == 1) {
        if (syn) {
            const char code = side_letter(ack ? 'H' : 'S', dir);
            if (c.check_history(side_bit(kHistSyn, dir), code) && rseq != me->hist_last_syn) {
                c.add_history(code);
            }
            me->hist_last_syn = rseq;
        }
        if (fin) {
            // A FIN's position is after the data it carries.
            if (c.check_history(side_bit(kHistFin, dir), side_letter('F', dir)) &&
                rseq + len != me->hist_last_fin) {
                c.add_history(side_letter('F', dir));
            }
            me->hist_last_fin = rseq + len;
        }
        if (rst) {
            if (c.check_history(side_bit(kHistRst, dir), side_letter('R', dir)) &&
                rseq != me->hist_last_rst) {
                c.add_history(side_letter('R', dir));
            }
            me->hist_last_rst = rseq;
        }
    } else if (len != 0) {
        c.check_history(side_bit(kHistData, dir), side_letter('D', dir));
    } else if (ack) {
        c.check_history(side_bit(kHistAck, dir), side_letter('A', dir));
    }
    if (t.window() == 0 && !rst && peer->state != TcpState::Closed &&
        me->state != TcpState::Reset) {
        scaled(c, me->zero_windows, 'W', dir);
    }
    if (!c.side[0].tcp.did_close || !c.side[1].tcp.did_close) c.last_ns = ts;

    // Handshake and teardown facts for wirelens' own fields.
    if (syn && !ack && dir == 0 && c.syn_ns == 0) c.syn_ns = ts;
    if (syn && ack && dir == 1 && c.synack_ns == 0) c.synack_ns = ts;
    if (ack && !syn && dir == 0 && c.synack_ns != 0 && c.ack_ns == 0) {
        c.ack_ns = ts;
        if (handshake_observer_ != nullptr) handshake_observer_->handshake_completed(c, ts);
    }
    if (rst && c.rst_first < 0) c.rst_first = static_cast<std::int8_t>(dir);

    if (fin && me->fin_cnt < 255) ++me->fin_cnt;

    // What this packet acknowledges of the peer's stream.
    std::int64_t rel_ack = 0;
    if (ack) {
        if (peer->state == TcpState::Inactive) {
            init_side(*peer, SeqNumber(t.ack()) - 1, 0, false);
            rel_ack = 1;
        } else {
            rel_ack = unwrap(peer->ack_rel, peer->start_seq, SeqNumber(t.ack()));
            if (rel_ack < 0) {
                rel_ack = 0;
            } else if (!rst) {
                const std::int64_t delta = rel_ack - static_cast<std::int64_t>(peer->ack_rel);
                if (!(t.ack() == 0 && delta > kTooLargeSeqDelta) && delta > 0) {
                    peer->ack_rel = static_cast<std::uint64_t>(rel_ack);
                }
            }
        }
    }
    if (fin && peer->fin_cnt > 0 &&
        (!ack || rel_ack <= static_cast<std::int64_t>(peer->hist_last_fin))) {
        c.simultaneous_close = true;
    }

    // Advance the sender's highest sequence (Zeek's update_last_seq).
    {
        const std::int64_t rel_end = unwrap(me->last_rel, me->start_seq, seq_end);
        const std::int64_t delta = rel_end - static_cast<std::int64_t>(me->last_rel);
        if ((syn || rst) && (delta > kTooLargeSeqDelta || delta < -kTooLargeSeqDelta)) {
            // an outlandish SYN/RST sequence number is not trusted
        } else if (fin && me->last_rel == 1) {
            me->last_rel = rel_end < 0 ? 0 : static_cast<std::uint64_t>(rel_end);
        } else if (me->state == TcpState::Reset) {
            // nothing after a reset is trusted
        } else if (delta > 0) {
            if (len != 0 && rel_seq > static_cast<std::int64_t>(me->last_rel)) {
                add_hole(*me, holes(idx, dir), me->last_rel, rseq);
            }
            me->last_rel = static_cast<std::uint64_t>(rel_end);
        } else if (len != 0) {
            scaled(c, me->data_not_advancing, 'T', dir);
            if (fill_hole(*me, holes(idx, dir), rseq, rseq + len)) {
                ++me->out_of_order;
            } else if (!(syn && delta == 0)) {  // Zeek's 't' for a SYN's own data is none
                ++me->retransmits;
            }
        }
    }

    // The endpoint state machine (Zeek's UpdateStateMachine).
    bool do_close = false;
    switch (me->state) {
        case TcpState::Inactive: {
            if (syn) {
                if (dir == 0) {
                    set_state(*me, ack ? TcpState::SynAckSent : TcpState::SynSent);
                    c.attempt_ns = ts;
                } else {
                    if (!ack && peer->state == TcpState::SynAckSent && seq == me->start_seq) {
                        // The SYN-ACK was seen before its SYN: swap the roles.
                        std::swap(c.side[0], c.side[1]);
                        std::swap(c.orig, c.resp);
                        if (reasm_ != nullptr) reasm_->swap(idx);
                        c.flipped = !c.flipped;
                        c.add_history('^');
                        dir = 1 - dir;
                        me = &c.side[dir].tcp;
                        peer = &c.side[1 - dir].tcp;
                        set_state(*peer, TcpState::Established);
                    }
                    if (peer->state == TcpState::SynSent) set_state(*peer, TcpState::Established);
                    set_state(*me, TcpState::Established);
                }
            }
            if (fin) {
                set_state(*me, TcpState::Closed);
                do_close = true;
            }
            if (rst) {
                set_state(*me, TcpState::Reset);
                do_close = true;
            }
            if (me->state == TcpState::Inactive) {
                if (dir == 1 && len == 0 && c.side[0].tcp.state == TcpState::SynSent) {
                    // some stacks ACK a SYN before answering it: not a partial connection
                } else if (ack && peer->state == TcpState::Established) {
                    set_state(*me, TcpState::Established);  // the SYN was missed, not the rest
                } else {
                    set_state(*me, TcpState::Partial);
                }
            }
            break;
        }
        case TcpState::SynSent:
        case TcpState::SynAckSent:
            if (fin) {
                set_state(*me, TcpState::Closed);
                do_close = true;
            }
            if (rst) {
                set_state(*me, TcpState::Reset);
                do_close = true;
            }
            break;
        case TcpState::Established:
        case TcpState::Partial:
            if (syn && me->state == TcpState::Partial && peer->state == TcpState::Inactive &&
                !ack) {
                set_state(*me, TcpState::SynSent);
            }
            if (fin && !rst) {
                set_state(*me, TcpState::Closed);
                if (peer->state == TcpState::Reset && peer->prev_state == TcpState::Closed) {
                    set_state(*peer, TcpState::Closed);  // FIN then RST was a normal close
                }
                do_close = true;
            }
            if (rst) {
                set_state(*me, TcpState::Reset);
                do_close = true;
            }
            break;
        case TcpState::Closed:
            if (rst && peer->state != TcpState::Closed) {
                set_state(*me, TcpState::Reset);
                if (!me->did_close) do_close = true;
            }
            break;
        case TcpState::Reset:
            break;
    }

    // Content gaps: the peer acknowledged bytes of ours we never saw.
    if (ack && rel_ack > 0) {
        TcpSide& sender = *peer;  // this packet acknowledges the peer's data
        const std::uint64_t upto = static_cast<std::uint64_t>(rel_ack);
        if (upto > sender.gap_checked_rel && sender.seq_init) {
            std::uint64_t lost = 0;
            HoleRanges& h = holes(idx, 1 - dir);
            for (int i = 0; i < sender.holes;) {
                if (h.hi[i] <= upto) {
                    lost += h.hi[i] - h.lo[i];
                    h.lo[i] = h.lo[sender.holes - 1];
                    h.hi[i] = h.hi[sender.holes - 1];
                    --sender.holes;
                    continue;
                }
                if (h.lo[i] < upto) {
                    lost += upto - h.lo[i];
                    h.lo[i] = upto;
                }
                ++i;
            }
            const std::uint64_t seen = std::max(sender.last_rel, sender.gap_checked_rel);
            if (upto > seen) lost += upto - seen;
            sender.gap_checked_rel = upto;
            if (lost != 0) {
                sender.missed_bytes += lost;
                // Zeek letters a gap only while both sides are cleanly established
                // or closing: not in partial connections, nor once a side reset.
                if (cleanly_open(sender) && cleanly_open(*me)) {
                    scaled(c, sender.gaps, 'G', 1 - dir);
                }
            }
        }
    }

    if (do_close && !me->did_close) {
        me->did_close = true;
        if (me->state == TcpState::Reset || peer->did_close || peer->state == TcpState::Inactive) {
            c.close_complete = true;
        }
    }
    if (reasm_ != nullptr) {
        // Stream positions: the SYN is position 0, data starts at 1.
        const std::uint64_t data_rel = rseq + (syn ? 1 : 0);
        if (len != 0 && !rst && rel_seq >= 0) {
            reasm_->segment(idx, dir, data_rel, pkt.payload.data(),
                            static_cast<std::uint32_t>(pkt.payload.size()), len, me->syn_seen, ts);
        }
        if (fin && rel_seq >= 0) reasm_->fin(idx, dir, data_rel + len);
        if (ack && rel_ack > 0 && !rst) {
            reasm_->acked(idx, 1 - dir, static_cast<std::uint64_t>(rel_ack));
        }
    }
    if (c.ladder != 0xffffffffu) log_ladder(c, dir, pkt, ts);
}

void FlowTracker::log_ladder(Connection& c, int dir, const Packet& pkt, std::uint64_t ts) {
    LadderLog& log = ladders_[c.ladder];
    const TcpView& t = pkt.tcp;
    const TcpSide& me = c.side[dir].tcp;
    const TcpSide& peer = c.side[1 - dir].tcp;
    const std::uint16_t flags = t.flags();
    const std::uint32_t len = pkt.payload_wire_len;
    const std::uint64_t rel_seq = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, unwrap(me.last_rel, me.start_seq, SeqNumber(t.seq()))));
    const std::uint64_t rel_ack =
        (flags & tcpflag::kAck) && peer.seq_init
            ? static_cast<std::uint64_t>(std::max<std::int64_t>(
                  0, unwrap(peer.ack_rel, peer.start_seq, SeqNumber(t.ack()))))
            : 0;
    const bool control = flags & (tcpflag::kSyn | tcpflag::kFin | tcpflag::kRst);
    // A pure ACK of the peer's FIN completes a close: it belongs on the ladder.
    const bool acks_fin =
        (flags & tcpflag::kAck) && len == 0 && peer.fin_cnt > 0 && rel_ack > peer.hist_last_fin;
    if (!(log.count < 5 || control || acks_fin)) {
        ++log.pending_pkts;
        log.pending_bytes += len;
        return;
    }
    if (log.count == LadderLog::kSteps) {
        ++log.dropped;
        return;
    }
    log.steps[log.count++] = LadderStep{ts,
                                        rel_seq,
                                        rel_ack,
                                        len,
                                        flags,
                                        static_cast<std::uint8_t>(dir),
                                        log.pending_pkts,
                                        log.pending_bytes};
    log.pending_pkts = 0;
    log.pending_bytes = 0;
}

// ---------------------------------------------------------------- results

const char* FlowTracker::conn_state(const Connection& c) {
    if (c.proto == ipproto::kUdp) {
        const bool o = c.side[0].active, r = c.side[1].active;
        return o ? (r ? "SF" : "S0") : (r ? "SHR" : "OTH");
    }
    if (c.proto != ipproto::kTcp) return "OTH";
    const TcpState os = c.side[0].tcp.state, rs = c.side[1].tcp.state;
    const bool o_inactive = os == TcpState::Inactive || os == TcpState::Partial;
    const bool r_inactive = rs == TcpState::Inactive || rs == TcpState::Partial;
    if (rs == TcpState::Reset) {
        if (os == TcpState::SynSent || os == TcpState::SynAckSent ||
            (os == TcpState::Reset && payload_bytes(c, 0) == 0 && payload_bytes(c, 1) == 0)) {
            return "REJ";
        }
        return o_inactive ? "RSTRH" : "RSTR";
    }
    if (os == TcpState::Reset) {
        if (r_inactive) {
            // Zeek: history matches /^\^?S[^HAFGIQ]*R.*/
            const char* h = c.history;
            int i = 0;
            if (i < c.history_len && h[i] == '^') ++i;
            if (i < c.history_len && h[i] == 'S') {
                for (++i; i < c.history_len; ++i) {
                    if (h[i] == 'R') return "RSTOS0";
                    if (std::strchr("HAFGIQ", h[i]) != nullptr) break;
                }
            }
            return "OTH";
        }
        return "RSTO";
    }
    if (rs == TcpState::Closed && os == TcpState::Closed) return "SF";
    if (os == TcpState::Closed) return r_inactive ? "SH" : "S2";
    if (rs == TcpState::Closed) return o_inactive ? "SHR" : "S3";
    if (os == TcpState::SynSent && rs == TcpState::Inactive) return "S0";
    if (os == TcpState::Established && rs == TcpState::Established) return "S1";
    return "OTH";
}

std::uint64_t FlowTracker::payload_bytes(const Connection& c, int side) {
    if (c.proto != ipproto::kTcp) return c.side[side].payload_bytes;
    const TcpSide& s = c.side[side].tcp;
    const TcpSide& peer = c.side[1 - side].tcp;
    if (!s.seq_init) return 0;
    // A half-open attempt discovered and aborted: its sequence numbers mean nothing.
    if (s.prev_state == TcpState::SynSent && s.state == TcpState::Reset &&
        peer.state == TcpState::Inactive && s.ack_rel > 1) {
        return 0;
    }
    std::uint64_t size = std::max(s.last_rel, s.ack_rel);
    if (size != 0) --size;                   // the SYN
    if (s.fin_cnt > 0 && size != 0) --size;  // the FIN
    return size;
}

Teardown FlowTracker::teardown(const Connection& c) {
    const bool fin0 = c.side[0].tcp.fin_cnt > 0, fin1 = c.side[1].tcp.fin_cnt > 0;
    if (fin0 && fin1 && c.side[0].tcp.state != TcpState::Reset &&
        c.side[1].tcp.state != TcpState::Reset) {
        return c.simultaneous_close ? Teardown::Simultaneous : Teardown::Fin;
    }
    if (c.rst_first == 0) return Teardown::ResetOrig;
    if (c.rst_first == 1) return Teardown::ResetResp;
    if (fin0 || fin1) return Teardown::HalfClosed;
    return Teardown::None;
}

namespace {
// Two base-62 digits (low first) per table read: 62 * 62 entries.
constexpr auto kBase62Pairs = [] {
    constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::array<char, 62 * 62 * 2> t{};
    for (std::size_t i = 0; i < 62 * 62; ++i) {
        t[2 * i] = kDigits[i % 62];
        t[2 * i + 1] = kDigits[i / 62];
    }
    return t;
}();
}  // namespace

void make_uid(std::uint64_t seq, char out[19]) {
    std::uint64_t a = seq * 0x9e3779b97f4a7c15ull;
    a = (a ^ (a >> 30)) * 0xbf58476d1ce4e5b9ull;
    a = (a ^ (a >> 27)) * 0x94d049bb133111ebull;
    a ^= a >> 31;
    std::uint64_t b = (seq + 0x632be59bd9b4e019ull) * 0xd6e8feb86659fd93ull;
    b ^= b >> 32;
    out[0] = 'C';
    // Characters 1-10 are a's base-62 digits, 11-17 b's, lowest first.
    for (int i = 1; i <= 9; i += 2) {
        std::memcpy(out + i, &kBase62Pairs[static_cast<std::size_t>(a % 3844) * 2], 2);
        a /= 3844;
    }
    for (int i = 11; i <= 15; i += 2) {
        std::memcpy(out + i, &kBase62Pairs[static_cast<std::size_t>(b % 3844) * 2], 2);
        b /= 3844;
    }
    out[17] = kBase62Pairs[static_cast<std::size_t>(b % 62) * 2];
    out[18] = '\0';
}

bool likely_server_port(std::uint16_t port, std::uint8_t proto) {
    // The ports Zeek's base protocol scripts add to likely_server_ports (its
    // analyzers' well-known ports), as far as they are known here.
    static constexpr std::uint16_t kTcp[] = {
        21,   22,   23,   25,   53,   79,   80,   81,   88,   110,  111,  135,  139,
        143,  389,  443,  445,  465,  502,  563,  585,  587,  614,  631,  636,  989,
        990,  992,  993,  995,  1080, 1883, 2049, 2811, 3128, 3268, 3306, 3389, 5222,
        5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000};
    static constexpr std::uint16_t kUdp[] = {53,  67,  68,  88,   111,  123,  137,  161,  162,
                                             389, 443, 514, 1812, 2049, 5060, 5353, 5355, 20000};
    if (proto == ipproto::kTcp) {
        return std::binary_search(std::begin(kTcp), std::end(kTcp), port);
    }
    return std::binary_search(std::begin(kUdp), std::end(kUdp), port);
}

}  // namespace wl

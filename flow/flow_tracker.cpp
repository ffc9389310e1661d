#include "flow/flow_tracker.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <type_traits>

#include "flow/tcp_endpoint.hpp"
#include "flow/tcp_reassembler.hpp"

namespace wl {

namespace {

std::uint32_t ip_datagram_len(const Packet& pkt) {
    return pkt.ip_version == 4
               ? pkt.ip4.datagram_len()
               : static_cast<std::uint32_t>(Ipv6View::kHeaderLen) + pkt.ip6.payload_wire_len;
}

bool in_attempt(const Connection& c) {
    const TcpState o = c.side[0].tcp.state;
    return (o == TcpState::SynSent || o == TcpState::SynAckSent) &&
           c.side[1].tcp.state == TcpState::Inactive;
}

// Only one side sent anything.
bool one_sided(const Connection& c) {
    return c.side[0].pkts == 0 || c.side[1].pkts == 0;
}

// How long to wait for the next resend of something (a SYN, a FIN) resent
// for `lasted` so far. Intervals double, so the next one is as long as all
// before it and the first: wait `lasted` plus `least` (at most `most`).
std::uint64_t resend_wait(std::uint64_t lasted, std::uint64_t least, std::uint64_t most) {
    return std::max(least, std::min(lasted + least, most));
}

// The options as the tracker uses them: at least one flow, and the attempts'
// share of the table decided.
FlowOptions normalized(FlowOptions o) {
    if (o.max_flows == 0) o.max_flows = 1;
    if (o.max_attempts == 0 || o.max_attempts > o.max_flows) {
        o.max_attempts = o.max_attempts == 0 ? std::max(o.max_flows / 2, 1u) : o.max_flows;
    }
    return o;
}

// Whether the first packet of a connection came from its responder, by
// Zeek's rules (WantConnection of its TCP and UDP analyzers, then NewConn):
// TCP without a SYN, or a SYN-ACK, from a likely server port to one that is
// not (both server ports: flip a packet without SYN when the source port is
// the lower); UDP from a server port to one that is not; never ICMP, and
// never towards the IPv4 broadcast address (a DHCP server answering
// 255.255.255.255 stays the originator).
bool first_packet_from_responder(const FlowPacketInfo& info, const Packet& pkt) {
    const std::uint16_t sport = info.src.port, dport = info.dst.port;
    const std::uint8_t proto = info.key.proto;
    bool flip = false;
    if (proto == ipproto::kTcp) {
        const bool syn = pkt.tcp.has(tcpflag::kSyn), ack = pkt.tcp.has(tcpflag::kAck);
        if ((!syn || ack) && likely_server_port(sport, proto)) {
            flip = likely_server_port(dport, proto) ? !syn && sport < dport : true;
        }
    } else if (proto == ipproto::kUdp) {
        flip = likely_server_port(sport, proto) && !likely_server_port(dport, proto);
    }
    if (flip && pkt.ip_version == 4) {
        static constexpr std::uint8_t kBroadcast[4] = {255, 255, 255, 255};
        if (std::memcmp(info.dst.addr, kBroadcast, 4) == 0) return false;
    }
    return flip;
}

const Connection kFreshConnection{};
static_assert(std::is_trivially_copyable_v<Connection>, "records are copied from a blank one");

}  // namespace

std::uint64_t FlowTracker::memory_bound(const FlowOptions& opts) {
    // The table (records, hole ranges, Meta, slots), the ladder logs, the ties.
    return ConnTable::memory_bound(opts.max_flows) +
           std::uint64_t{opts.ladder_conns} * sizeof(LadderLog) + kTieSlots * sizeof(TieSlot);
}

FlowTracker::FlowTracker(const FlowOptions& opts, ConnSink& sink)
    : opts_(normalized(opts)), sink_(sink), table_(opts_.max_flows, opts_.max_attempts) {
    // The table's layout never shows in the output (records follow the
    // connections' lists and slots, not their hashes), so a random seed costs
    // no reproducibility and keeps crafted keys from piling onto one probe chain.
    std::random_device rd;
    hash_seed_ = (std::uint64_t{rd()} << 32) ^ rd();
    if (opts_.ladder_conns) ladders_.resize(opts_.ladder_conns);
    ties_.resize(kTieSlots);
}

// ---------------------------------------------------------------- lifecycle

std::uint32_t FlowTracker::create(const FlowPacketInfo& info, std::uint64_t hash,
                                  const Packet& pkt) {
    ConnTable::ListId from = ConnTable::kAttempts;
    if (table_.must_evict(from)) {
        const std::uint32_t victim = table_.head(from);
        // Its Meta (not the record) says whether it is due: under a flood the
        // record is only read again when its end is written.
        if (table_.expire(victim) <= now_ns_) {
            end_due(victim);
        } else {
            ++counters_.evicted;
            if (from == ConnTable::kAttempts) ++counters_.evicted_attempts;
            end(victim, ConnEnd::Evicted);
        }
    }
    const std::uint32_t idx = table_.take_free();
    // Copied from a blank record by the library's memcpy (vector stores) rather
    // than value-initialised in place: the compiler writes the known size with
    // rep stos or rep movs, whose start-up costs too much once per packet of a
    // flood. The size is hidden from it (an empty asm) so that it calls the library.
    std::size_t size = sizeof(Connection);
    asm("" : "+r"(size));
    std::memcpy(static_cast<void*>(&table_.conn(idx)), &kFreshConnection, size);
    Connection& c = table_.conn(idx);
    c.key = info.key;
    c.orig = info.src;
    c.resp = info.dst;
    c.proto = info.key.proto;
    c.start_ns = c.last_ns = c.last_pkt_ns = pkt.ts_ns;
    c.uid_tie = uid_tie(info.key, pkt.ts_ns);
    if (c.proto == ipproto::kTcp) c.tcp_stream = next_tcp_stream_++;
    if (first_packet_from_responder(info, pkt)) {
        std::swap(c.orig, c.resp);
        c.flipped = true;
        c.add_history('^');
    }
    if (opts_.ladder_conns != 0 && ladders_used_ < opts_.ladder_conns && c.proto == ipproto::kTcp) {
        char uid[19];
        conn_uid(c, uid);
        if (opts_.ladder_uid[0] == '\0' || std::strcmp(uid, opts_.ladder_uid) == 0) {
            c.ladder = ladders_used_++;
        }
    }
    table_.insert(idx, hash);
    if (reasm_ != nullptr && c.proto == ipproto::kTcp) reasm_->start(idx);
    ++open_;
    ++counters_.conns_created;
    counters_.max_open = std::max<std::uint64_t>(counters_.max_open, open_);
    return idx;
}

std::uint64_t FlowTracker::uid_tie(const FlowKey& key, std::uint64_t ts_ns) {
    if (!tie_any_ || ts_ns > tie_max_ns_) {
        // The usual case: the first connection to start this late. Whatever
        // was counted before is dropped (lazily: the next count starts an epoch).
        tie_any_ = true;
        tie_counting_ = false;
        tie_max_ns_ = ts_ns;
        tie_first_ = key;
        return 0;
    }
    // Another connection in the latest nanosecond, or one starting earlier
    // (the capture's clock went back): count from here on, until a later
    // nanosecond starts one.
    if (!tie_counting_) {
        if (++tie_epoch_ == 0) {
            std::fill(ties_.begin(), ties_.end(), TieSlot{});
            tie_epoch_ = 1;
        }
        ties_used_ = 0;
        tie_counting_ = true;
        count_tie(tie_first_, tie_max_ns_);
    }
    const std::uint64_t n = count_tie(key, ts_ns);
    // Counting starts afresh with each epoch, so a connection that starts
    // well before the latest start (the clock jumped back, not packets a
    // little out of order) could repeat the (key, nanosecond, count) of an
    // earlier epoch: the epoch's number goes into its tie, which keeps it
    // unique (though no longer the same in a filtered run).
    if (tie_max_ns_ - ts_ns > kTieJumpNs) return std::uint64_t{tie_epoch_} << 32 | n;
    return n;
}

// How many connections with `key` starting at `ts_ns` were counted before
// this one in the current epoch.
std::uint64_t FlowTracker::count_tie(const FlowKey& key, std::uint64_t ts_ns) {
    // A fixed seed: which keys share a slot must not depend on the run.
    const std::uint64_t h = key.hash(0x7469657369647321ull ^ (ts_ns * 0x9e3779b97f4a7c15ull));
    for (std::uint32_t i = static_cast<std::uint32_t>(h) % kTieSlots;; i = (i + 1) % kTieSlots) {
        TieSlot& s = ties_[i];
        if (s.epoch != tie_epoch_) {
            if (ties_used_ >= kTieLoad) return 0;
            s = TieSlot{h, tie_epoch_, 1};
            ++ties_used_;
            return 0;
        }
        if (s.key_hash == h) return s.count++;
    }
}

void FlowTracker::end(std::uint32_t idx, ConnEnd why) {
    Connection& c = table_.conn(idx);
    const LadderLog* ladder = c.ladder != 0xffffffffu ? &ladders_[c.ladder] : nullptr;
    if (reasm_ != nullptr && c.proto == ipproto::kTcp) {
        // What waits in the reassembler is delivered (or declared lost) first.
        const bool reset =
            c.side[0].tcp.state == TcpState::Reset || c.side[1].tcp.state == TcpState::Reset;
        reasm_->finish(idx, why, reset);
    }
    sink_.conn_ended(c, why, ladder);
    table_.release(idx);
    --open_;
    ++counters_.conns_ended;
}

void FlowTracker::expire(std::uint64_t now_ns) {
    if (now_ns > now_ns_) now_ns_ = now_ns;
    table_.sweep(now_ns_, static_cast<int>(opts_.max_flows),
                 [this](std::uint32_t idx) { end_due(idx); });
}

void FlowTracker::flush() {
    for (std::uint32_t idx = 0; idx < opts_.max_flows; ++idx) {
        if (table_.in_use(idx)) {
            end(idx, table_.conn(idx).close_complete ? ConnEnd::Closed : ConnEnd::EndOfInput);
        }
    }
}

void FlowTracker::update_expiry(std::uint32_t idx, Connection& c) {
    if (c.proto == ipproto::kTcp) {
        if (c.close_complete) {
            // Zeek deletes a closed connection tcp_close_delay after its last time;
            // trailing packets (the last ACK) do not move that.
            if (!c.close_timer_set) {
                c.expire_ns = c.last_ns + opts_.tcp_close_ns;
                c.close_timer_set = true;
            } else if (one_sided(c)) {
                // Not Zeek (its issue 862): a close nobody answers is resent
                // with growing intervals; each resent FIN past the delay would
                // start a record of its own. Wait as long again as it lasted
                // (plus tcp_close_delay).
                c.expire_ns =
                    c.last_pkt_ns + resend_wait(c.last_pkt_ns - c.start_ns, opts_.tcp_close_ns,
                                                opts_.tcp_inactivity_ns);
            }
        } else if (in_attempt(c)) {
            // Zeek ends an attempt tcp_attempt_delay after its first SYN, and a
            // SYN resent later starts another record (its issue 863). Resent
            // SYNs back off (1, 2, 4, 8 s ...): from the last one, wait as long
            // again as the attempt has lasted, plus tcp_attempt_delay.
            c.expire_ns =
                c.last_pkt_ns + resend_wait(c.last_pkt_ns - c.attempt_ns, opts_.tcp_attempt_ns,
                                            opts_.tcp_inactivity_ns);
        } else {
            c.expire_ns = c.last_pkt_ns + opts_.tcp_inactivity_ns;
        }
    } else if (c.proto == ipproto::kUdp) {
        c.expire_ns = c.last_pkt_ns + opts_.udp_inactivity_ns;
    } else {
        c.expire_ns = c.last_pkt_ns + opts_.icmp_inactivity_ns;
    }
    table_.set_expire(idx, c.expire_ns);
}

// ---------------------------------------------------------------- packets

// An ICMP error counts against the connection whose packet it quotes, when
// that connection is open here (its own ICMP "connection" is kept as well).
void FlowTracker::count_icmp_error(const Packet& pkt) {
    FlowKey key;
    if (!quoted_flow_key(pkt, key)) return;
    const std::uint32_t idx = table_.find(key, key.hash(hash_seed_));
    if (idx == kNone) return;
    ++table_.conn(idx).icmp_errors;
    ++counters_.icmp_errors_matched;
}

// Zeek's IsReuse: whether a SYN for a connection still open starts a new one.
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
        const SeqNumber seq(t.seq());
        if (seq == conn_orig->start_seq) return false;  // a retransmitted SYN
        if (!t.has(tcpflag::kAck) && o.state == TcpState::SynAckSent &&
            r.state == TcpState::Inactive && seq == r.start_seq) {
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
    std::uint32_t idx = table_.find(info.key, hash);
    if (idx != kNone) {
        Connection& old = table_.conn(idx);
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
    Connection& c = table_.conn(idx);
    const int dir = same_endpoint(info.src, c.orig) ? 0 : 1;

    const bool bad_checksum = pkt.error == DecodeError::BadChecksum &&
                              (pkt.error_layer == Layer::Tcp || pkt.error_layer == Layer::Udp);
    if (bad_checksum && !pkt.checksum_offload) {
        // Zeek's 'c': the packet is counted in the history only, not analysed.
        TcpEndpoint(c, dir).checksum_error();
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
            update_tcp(idx, c, dir, pkt);
        } else if (c.proto == ipproto::kUdp) {
            side.active = true;
            side.payload_bytes += pkt.udp.length() - UdpView::kHeaderLen;
            TcpEndpoint(c, dir).check_history(kHistData, 'D');
            c.last_ns = ts;
        } else {
            side.active = true;
            count_icmp_error(pkt);
            // ICMP payload after the 8-byte header, as Zeek sizes ICMP "connections".
            const std::uint32_t icmp_len = pkt.payload_wire_len + IcmpView::kHeaderLen;
            side.payload_bytes += icmp_len > 8 ? icmp_len - 8 : 0;
            c.last_ns = ts;
        }
        // Checksum offload on its sender: analysed, and still marked.
        if (bad_checksum) TcpEndpoint(c, dir).checksum_error();
    }
    update_expiry(idx, c);
    table_.touch(idx);
    table_.sweep(now_ns_, 2, [this](std::uint32_t due) { end_due(due); });
    table_.prefetch_next_victim();
}

}  // namespace wl

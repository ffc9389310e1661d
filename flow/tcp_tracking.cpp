// FlowTracker's path for one TCP segment, in Zeek's order
// (TCPSessionAdapter::Process): the sender's sequence numbers, history
// letters, what the segment acknowledges, how far it advances the stream, the
// state machine (flow/tcp_state_machine.hpp), content gaps it reveals, and
// the payload handed to the reassembler.
#include <algorithm>

#include "flow/flow_tracker.hpp"
#include "flow/tcp_endpoint.hpp"
#include "flow/tcp_reassembler.hpp"
#include "flow/tcp_state_machine.hpp"

namespace wl {

namespace {

constexpr std::int64_t kTooLargeSeqDelta = 1048576;  // Zeek's TOO_LARGE_SEQ_DELTA

void init_side(TcpSide& s, SeqNumber start, std::uint64_t last_rel, bool by_syn) {
    s.start_seq = start;
    s.syn_seen = by_syn;
    s.seq_init = true;
    s.ack_rel = 0;
    s.last_rel = last_rel;
    s.holes = 0;
    s.gap_checked_rel = 1;  // position 0 is the SYN; data starts at 1
}

// Sequence space the segment takes: payload, SYN and FIN (a RST's payload is
// not part of the stream).
std::uint32_t sequence_length(const TcpSegment& seg) {
    std::uint32_t n = seg.len + (seg.syn ? 1 : 0) + (seg.fin ? 1 : 0);
    if (seg.rst) n -= seg.len;
    return n;
}

// Sequence bookkeeping of the sender, as Zeek's init_endpoint.
void init_sender(TcpSide& me, const TcpSegment& seg, std::uint32_t seg_len,
                 StreamAnomalyCounts& anomalies) {
    switch (me.state) {
        case TcpState::Inactive:
            if (seg.syn) {
                init_side(me, seg.seq, seg_len, true);
            } else {
                init_side(me, seg.seq - 1, 1, false);  // as though a SYN had been seen
            }
            break;
        case TcpState::SynSent:
        case TcpState::SynAckSent:
            if (seg.syn && seg.seq != me.start_seq) {
                anomalies.add(StreamAnomaly::SynSeqJump);
                init_side(me, seg.seq, seg_len, true);
            }
            break;
        case TcpState::Established:
        case TcpState::Partial:
            if (seg.syn) {
                // Zeek's Size() > 0: the side sent data (besides SYN and FIN).
                if (std::max(me.last_rel, me.ack_rel) > (me.fin_cnt > 0 ? 2u : 1u)) {
                    anomalies.add(StreamAnomaly::SynInsideConnection);
                }
                if (seg.seq != me.start_seq) anomalies.add(StreamAnomaly::SynSeqJump);
                init_side(me, seg.seq, seg_len, true);
            }
            break;
        case TcpState::Reset:
            if (seg.syn && me.prev_state == TcpState::Inactive) {
                init_side(me, seg.seq, seg_len, true);
            }
            break;
        case TcpState::Closed:
            break;
    }
}

// The history letters S H F R I Q D A (Zeek's update_history).
void update_history(const TcpEndpoint& ep, const TcpSegment& seg, std::uint64_t rseq) {
    TcpSide& me = ep.tcp();
    const int bits = (seg.syn ? 1 : 0) + (seg.fin ? 1 : 0) + (seg.rst ? 1 : 0);
    if (bits > 1) {
        if (seg.fin && seg.rst) {
            ep.check_history(kHistFinRst, 'I');
        } else {
            ep.check_history(kHistMulti, 'Q');
        }
    } else if (bits == 1) {
        if (seg.syn) {
            const char code = seg.ack ? 'H' : 'S';
            if (ep.check_history(kHistSyn, code) && rseq != me.hist_last_syn) {
                ep.add_history(code);
            }
            me.hist_last_syn = rseq;
        }
        if (seg.fin) {
            // A FIN's position is after the data it carries.
            if (ep.check_history(kHistFin, 'F') && rseq + seg.len != me.hist_last_fin) {
                ep.add_history('F');
            }
            me.hist_last_fin = rseq + seg.len;
        }
        if (seg.rst) {
            if (ep.check_history(kHistRst, 'R') && rseq != me.hist_last_rst) ep.add_history('R');
            me.hist_last_rst = rseq;
        }
    } else if (seg.len != 0) {
        ep.check_history(kHistData, 'D');
    } else if (seg.ack) {
        ep.check_history(kHistAck, 'A');
    }
}

// What the segment acknowledges of the peer's stream, relative to the peer's
// start (0: nothing); advances the peer's highest ack (Zeek's update_ack_seq).
std::int64_t acknowledge(const TcpEndpoint& ep, const TcpSegment& seg, SeqNumber ack_seq) {
    TcpSide& peer = ep.peer_tcp();
    if (peer.state == TcpState::Inactive) {
        init_side(peer, ack_seq - 1, 0, false);
        return 1;
    }
    const std::int64_t rel_ack = unwrap(peer.ack_rel, peer.start_seq, ack_seq);
    if (rel_ack < 0) return 0;
    if (!seg.rst) {  // a RST's ack is not trusted
        const std::int64_t delta = rel_ack - static_cast<std::int64_t>(peer.ack_rel);
        if (!(ack_seq.value == 0 && delta > kTooLargeSeqDelta) && delta > 0) {
            peer.ack_rel = static_cast<std::uint64_t>(rel_ack);
        }
    }
    return rel_ack;
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

// Advances the sender's highest sequence (Zeek's update_last_seq); data that
// does not advance it is a retransmission or fills a hole. Returns how far
// the segment's end lies past the highest sequence before.
std::int64_t advance_last_seq(const TcpEndpoint& ep, const TcpSegment& seg, SeqNumber seq_end,
                              std::int64_t rel_seq, HoleRanges& holes) {
    TcpSide& me = ep.tcp();
    const std::uint64_t rseq = rel_seq < 0 ? 0 : static_cast<std::uint64_t>(rel_seq);
    const std::int64_t rel_end = unwrap(me.last_rel, me.start_seq, seq_end);
    const std::int64_t delta = rel_end - static_cast<std::int64_t>(me.last_rel);
    if ((seg.syn || seg.rst) && (delta > kTooLargeSeqDelta || delta < -kTooLargeSeqDelta)) {
        // an outlandish SYN/RST sequence number is not trusted
    } else if (seg.fin && me.last_rel == 1) {
        me.last_rel = rel_end < 0 ? 0 : static_cast<std::uint64_t>(rel_end);
    } else if (me.state == TcpState::Reset) {
        // nothing after a reset is trusted
    } else if (delta > 0) {
        if (seg.len != 0 && rel_seq > static_cast<std::int64_t>(me.last_rel)) {
            add_hole(me, holes, me.last_rel, rseq);
        }
        me.last_rel = static_cast<std::uint64_t>(rel_end);
    } else if (seg.len != 0) {
        ep.did_rxmit();
        if (fill_hole(me, holes, rseq, rseq + seg.len)) {
            ++me.out_of_order;
        } else if (!(seg.syn && delta == 0)) {  // Zeek's 't' for a SYN's own data is none
            ++me.retransmits;
        }
    }
    return delta;
}

// Content gaps: the segment acknowledges bytes of the peer's stream
// (`sender`) never seen (Zeek's AckReceived).
void check_gaps(const TcpEndpoint& sender, const TcpSide& receiver, std::uint64_t upto,
                HoleRanges& h) {
    TcpSide& s = sender.tcp();
    if (upto <= s.gap_checked_rel || !s.seq_init) return;
    std::uint64_t lost = 0;
    for (int i = 0; i < s.holes;) {
        if (h.hi[i] <= upto) {
            lost += h.hi[i] - h.lo[i];
            h.lo[i] = h.lo[s.holes - 1];
            h.hi[i] = h.hi[s.holes - 1];
            --s.holes;
            continue;
        }
        if (h.lo[i] < upto) {
            lost += upto - h.lo[i];
            h.lo[i] = upto;
        }
        ++i;
    }
    const std::uint64_t seen = std::max(s.last_rel, s.gap_checked_rel);
    if (upto > seen) lost += upto - seen;
    s.gap_checked_rel = upto;
    if (lost == 0) return;
    s.missed_bytes += lost;
    // Zeek's is_clean (TCP_Reassembler): established, or closed from established.
    auto clean = [](const TcpSide& t) {
        return t.state == TcpState::Established ||
               (t.state == TcpState::Closed && t.prev_state == TcpState::Established);
    };
    // Zeek letters a gap only while both sides are cleanly established or
    // closing: not in partial connections, nor once a side reset.
    if (clean(s) && clean(receiver)) sender.content_gap();
}

// Zeek's ConnectionClosed: the sender's side is closed; the close is complete
// when it reset, or the peer closed too or never spoke.
void close_side(const TcpEndpoint& ep) {
    TcpSide& me = ep.tcp();
    if (me.did_close) return;
    me.did_close = true;
    const TcpSide& peer = ep.peer_tcp();
    if (me.state == TcpState::Reset || peer.did_close || peer.state == TcpState::Inactive) {
        ep.conn().close_complete = true;
    }
}

// Handshake and teardown facts for wirelens' own fields.
void note_handshake(Connection& c, int dir, const TcpSegment& seg, HandshakeObserver* observer,
                    StreamAnomalyCounts& anomalies) {
    if (seg.syn) {
        if (!seg.ack && dir == 0 && c.syn_ns == 0) c.syn_ns = seg.ts_ns;
        if (seg.ack && dir == 1 && c.synack_ns == 0) c.synack_ns = seg.ts_ns;
        if (seg.len != 0) anomalies.add(StreamAnomaly::SynWithData);
    } else if (seg.ack && dir == 0 && c.synack_ns != 0 && c.ack_ns == 0) {
        c.ack_ns = seg.ts_ns;
        if (observer != nullptr) observer->handshake_completed(c, seg.ts_ns);
    }
    if (seg.rst && c.rst_first < 0) c.rst_first = static_cast<std::int8_t>(dir);
}

// The segment's payload, FIN and ack, as stream positions (the SYN is
// position 0, data starts at 1).
void feed_reassembler(TcpReassembler& r, std::uint32_t idx, int dir, const TcpSegment& seg,
                      const Packet& pkt, std::int64_t rel_seq, std::int64_t rel_ack,
                      bool syn_seen) {
    const std::uint64_t rseq = rel_seq < 0 ? 0 : static_cast<std::uint64_t>(rel_seq);
    const std::uint64_t data_rel = rseq + (seg.syn ? 1 : 0);
    if (seg.len != 0 && !seg.rst && rel_seq >= 0) {
        r.segment(idx, dir, data_rel, pkt.payload.data(),
                  static_cast<std::uint32_t>(pkt.payload.size()), seg.len, syn_seen, seg.ts_ns);
    }
    if (seg.fin && rel_seq >= 0) r.fin(idx, dir, data_rel + seg.len);
    if (seg.rst && rel_seq >= 0) r.reset_at(idx, dir, data_rel);
    if (seg.ack && rel_ack > 0 && !seg.rst) {
        r.acked(idx, 1 - dir, static_cast<std::uint64_t>(rel_ack));
    }
}

}  // namespace

void FlowTracker::update_tcp(std::uint32_t idx, Connection& c, int dir, const Packet& pkt) {
    const TcpView& t = pkt.tcp;
    const std::uint16_t flags = t.flags();
    const TcpSegment seg{.syn = (flags & tcpflag::kSyn) != 0,
                         .fin = (flags & tcpflag::kFin) != 0,
                         .rst = (flags & tcpflag::kRst) != 0,
                         .ack = (flags & tcpflag::kAck) != 0,
                         .len = pkt.payload_wire_len,
                         .seq = SeqNumber(t.seq()),
                         .ts_ns = pkt.ts_ns};
    const std::uint32_t seg_len = sequence_length(seg);
    TcpEndpoint me(c, dir);
    init_sender(me.tcp(), seg, seg_len, anomalies_);
    const std::int64_t rel_seq = unwrap(me.tcp().last_rel, me.tcp().start_seq, seg.seq);
    update_history(me, seg, rel_seq < 0 ? 0 : static_cast<std::uint64_t>(rel_seq));
    if (t.window() == 0 && !seg.rst && me.peer_tcp().state != TcpState::Closed &&
        me.state() != TcpState::Reset) {
        me.zero_window();
    }
    if (!c.side[0].tcp.did_close || !c.side[1].tcp.did_close) c.last_ns = seg.ts_ns;
    note_handshake(c, dir, seg, handshake_observer_, anomalies_);
    if (seg.fin && me.tcp().fin_cnt < 255) ++me.tcp().fin_cnt;

    const std::int64_t rel_ack = seg.ack ? acknowledge(me, seg, SeqNumber(t.ack())) : 0;
    const TcpSide& peer = me.peer_tcp();
    if (seg.fin && peer.fin_cnt > 0 &&
        (!seg.ack || rel_ack <= static_cast<std::int64_t>(peer.hist_last_fin))) {
        c.simultaneous_close = true;
    }
    const std::int64_t delta_last =
        advance_last_seq(me, seg, seg.seq + seg_len, rel_seq, table_.holes(idx, dir));

    const bool do_close = update_state_machine(me, seg, delta_last, anomalies_);
    if (me.dir() != dir) {  // the roles flipped: the sender is now the other side
        if (reasm_ != nullptr) reasm_->swap(idx);
        dir = me.dir();
    }
    if (seg.ack && rel_ack > 0) {
        check_gaps(me.peer(), me.tcp(), static_cast<std::uint64_t>(rel_ack),
                   table_.holes(idx, 1 - dir));
    }
    if (do_close) close_side(me);
    if (reasm_ != nullptr) {
        feed_reassembler(*reasm_, idx, dir, seg, pkt, rel_seq, rel_ack, me.tcp().syn_seen);
    }
    if (c.ladder != 0xffffffffu) record_ladder_step(ladders_[c.ladder], c, dir, pkt, seg.ts_ns);
}

}  // namespace wl

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
                // Not Zeek (its issue 3313): once the side's own SYN started
                // an established stream, a SYN with another sequence number
                // (a late SYN-ACK, or forged numbers) does not restart it. Zeek
                // restarts the numbering, and the peer's acks, still relative to
                // the first ISN, then claim up to 4 GB sent.
                if (!(me.syn_seen && me.state == TcpState::Established)) {
                    init_side(me, seg.seq, seg_len, true);
                }
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

// Records a skipped range [lo, hi) of the sender's stream, opened at `ts`.
void add_hole(TcpSide& s, HoleRanges& h, std::uint64_t lo, std::uint64_t hi, std::uint64_t ts) {
    if (lo >= hi) return;
    if (s.holes == TcpSide::kHoles) return;  // beyond the few we follow: counted as retransmits
    h.lo[s.holes] = lo;
    h.hi[s.holes] = hi;
    h.opened_ns[s.holes] = ts;
    ++s.holes;
}

void drop_hole(TcpSide& s, HoleRanges& h, int i) {
    --s.holes;
    h.lo[i] = h.lo[s.holes];
    h.hi[i] = h.hi[s.holes];
    h.opened_ns[i] = h.opened_ns[s.holes];
}

// A segment [lo, hi) that did not advance the stream: the bytes of it that
// fill holes (0: none, a retransmission). Bytes of a hole open for
// kReorderWindowNs or longer were lost and resent; sooner, only reordered.
std::uint64_t fill_holes(TcpSide& s, HoleRanges& h, std::uint64_t lo, std::uint64_t hi,
                         std::uint64_t ts) {
    std::uint64_t filled = 0;
    for (int i = 0; i < s.holes;) {
        const std::uint64_t a = std::max(lo, h.lo[i]), b = std::min(hi, h.hi[i]);
        if (a >= b) {
            ++i;
            continue;
        }
        filled += b - a;
        if (ts >= h.opened_ns[i] + kReorderWindowNs) s.retransmitted_bytes += b - a;
        if (a == h.lo[i] && b == h.hi[i]) {
            drop_hole(s, h, i);  // its place now holds another: look at it again
            continue;
        }
        if (a == h.lo[i]) {
            h.lo[i] = b;
        } else if (b == h.hi[i]) {
            h.hi[i] = a;
        } else if (s.holes < TcpSide::kHoles) {  // split
            h.lo[s.holes] = b;
            h.hi[s.holes] = h.hi[i];
            h.opened_ns[s.holes] = h.opened_ns[i];
            h.hi[i] = a;
            ++s.holes;
        } else {
            h.hi[i] = a;  // no room for both parts: the upper one is no longer followed
        }
        ++i;
    }
    return filled;
}

// Advances the sender's highest sequence (Zeek's update_last_seq); data that
// does not advance it is a retransmission or fills a hole. Returns how far
// the segment's end lies past the highest sequence before. A segment that
// starts past the highest sequence (data, a FIN, or a bare ACK) leaves a hole
// behind it, from where the peer's acks were last checked at the earliest:
// what they acknowledged is accounted already.
std::int64_t advance_last_seq(const TcpEndpoint& ep, const TcpSegment& seg, SeqNumber seq_end,
                              std::int64_t rel_seq, HoleRanges& holes) {
    TcpSide& me = ep.tcp();
    const std::uint64_t rseq = rel_seq < 0 ? 0 : static_cast<std::uint64_t>(rel_seq);
    const std::int64_t rel_end = unwrap(me.last_rel, me.start_seq, seq_end);
    const std::int64_t delta = rel_end - static_cast<std::int64_t>(me.last_rel);
    auto skipped = [&] {
        if (!seg.syn && rel_seq > static_cast<std::int64_t>(me.last_rel)) {
            add_hole(me, holes, std::max(me.last_rel, me.gap_checked_rel), rseq, seg.ts_ns);
        }
    };
    if ((seg.syn || seg.rst) && (delta > kTooLargeSeqDelta || delta < -kTooLargeSeqDelta)) {
        // an outlandish SYN/RST sequence number is not trusted
    } else if (seg.fin && me.last_rel == 1) {
        if (delta > 0) skipped();  // data never seen before the FIN
        me.last_rel = rel_end < 0 ? 0 : static_cast<std::uint64_t>(rel_end);
    } else if (me.state == TcpState::Reset) {
        // nothing after a reset is trusted
    } else if (delta > 0) {
        skipped();
        me.last_rel = static_cast<std::uint64_t>(rel_end);
    } else if (seg.len != 0) {
        ep.did_rxmit();
        if (fill_holes(me, holes, rseq, rseq + seg.len, seg.ts_ns) != 0) {
            ++me.out_of_order;
        } else if (!(seg.syn && delta == 0)) {  // Zeek's 't' for a SYN's own data is none
            ++me.retransmits;
        }
    }
    return delta;
}

// Zeek's skip_deliveries (TCP_Reassembler::DataSent), checked after each data
// segment: more than tcp_max_above_hole_without_any_acks (16 KiB) waiting
// above a hole before the peer acknowledged anything, or more than
// tcp_excessive_data_without_further_acks (10 MiB) seen beyond the last ack.
void check_skip(TcpSide& s, const HoleRanges& h) {
    if (s.gaps_skipped) return;
    constexpr std::uint64_t kAboveHole = 16384, kExcessive = 10u << 20;
    std::uint64_t lowest = s.last_rel, in_holes = 0;
    for (int i = 0; i < s.holes; ++i) {
        lowest = std::min(lowest, h.lo[i]);
        in_holes += h.hi[i] - h.lo[i];
    }
    if (s.ack_rel <= 1 && s.last_rel - lowest > kAboveHole) s.gaps_skipped = true;
    const std::uint64_t held = s.last_rel > s.gap_checked_rel ? s.last_rel - s.gap_checked_rel : 0;
    if (held > in_holes && held - in_holes > kExcessive) s.gaps_skipped = true;
}

// Zeek's is_clean (TCP_Reassembler): established, or closed from established.
bool clean(const TcpSide& t) {
    return t.state == TcpState::Established ||
           (t.state == TcpState::Closed && t.prev_state == TcpState::Established);
}

// The segment acknowledges the peer's stream (`sender`'s) up to `ack`: what
// of it below was never seen is lost (Zeek's AckReceived and Undelivered).
// capture_loss_bytes counts it always; missed_bytes and the 'g' letter (one
// per range, as Zeek's Gap) only when Zeek raises content_gap: both sides
// cleanly established or closing, and the side's gaps not skipped.
// `partial`: the connection was picked up without a SYN (Zeek's IsPartial).
// `by_rst`: the ack came with a RST. Zeek trims to it all the same (its gap
// is reported only if both sides are still clean); capture_loss_bytes does not
// trust it, as the reassembler does not.
void check_gaps(const TcpEndpoint& sender, const TcpSide& receiver, std::uint64_t ack,
                HoleRanges& h, bool partial, bool by_rst) {
    TcpSide& s = sender.tcp();
    if (!s.seq_init) return;
    std::uint64_t upto = ack;
    // The FIN's own position is no data: an ack of it reaches the FIN only.
    if (s.fin_cnt > 0 && s.hist_last_fin != 0 && upto > s.hist_last_fin) upto = s.hist_last_fin;
    if (upto <= s.gap_checked_rel) return;  // Zeek's trim_seq
    // Zeek ignores (for now: the next ack reports it) the first byte or two
    // of a partial connection, whose start was made up.
    if (partial && upto <= 2) return;
    std::uint64_t lost = 0;
    int ranges = 0;
    for (int i = 0; i < s.holes;) {
        if (h.lo[i] >= upto) {
            ++i;
            continue;
        }
        ++ranges;
        if (h.hi[i] <= upto) {
            lost += h.hi[i] - h.lo[i];
            drop_hole(s, h, i);
            continue;
        }
        lost += upto - h.lo[i];
        h.lo[i] = upto;
        ++i;
    }
    const std::uint64_t seen = std::max(s.last_rel, s.gap_checked_rel);
    if (upto > seen) {
        lost += upto - seen;
        ++ranges;
    }
    s.gap_checked_rel = upto;
    if (lost == 0) return;
    if (!by_rst) s.capture_loss_bytes += lost;
    if (s.gaps_skipped || !clean(s) || !clean(receiver)) return;
    s.missed_bytes += lost;
    for (int i = 0; i < ranges; ++i)
        sender.content_gap();
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
        std::swap(table_.holes(idx, 0), table_.holes(idx, 1));
        dir = me.dir();
    }
    if (seg.len != 0 && !seg.rst) check_skip(me.tcp(), table_.holes(idx, dir));
    if (seg.ack && rel_ack > 0) {
        const bool partial = !c.side[0].tcp.syn_seen || !c.side[1].tcp.syn_seen;
        check_gaps(me.peer(), me.tcp(), static_cast<std::uint64_t>(rel_ack),
                   table_.holes(idx, 1 - dir), partial, seg.rst);
    }
    if (do_close) close_side(me);
    if (reasm_ != nullptr) {
        feed_reassembler(*reasm_, idx, dir, seg, pkt, rel_seq, rel_ack, me.tcp().syn_seen);
    }
    if (c.ladder != 0xffffffffu) record_ladder_step(ladders_[c.ladder], c, dir, pkt, seg.ts_ns);
}

}  // namespace wl

// The TCP endpoint state machine (Zeek's TCPSessionAdapter::UpdateStateMachine):
// one function per state of the sending side, each deciding what a segment
// moves it (and sometimes its peer) to. The rest of a segment's bookkeeping
// (sequence numbers, history, acks, gaps) is in flow/tcp_tracking.cpp.
#pragma once

#include <cstdint>

#include "decode/seq_number.hpp"
#include "flow/stream_anomaly.hpp"
#include "flow/tcp_endpoint.hpp"

namespace wl {

// What one TCP segment says, read once from the packet.
struct TcpSegment {
    bool syn, fin, rst, ack;
    std::uint32_t len;  // payload bytes on the wire
    SeqNumber seq;
    std::uint64_t ts_ns;
};

// Moves the sender `ep`'s state for `seg`; true when the segment closes the
// sender's side (Zeek's do_close). `delta_last`: how far the segment's end
// lies past what the sender had sent before. If the roles flip, `ep` follows
// its side (ep.dir() changes).
bool update_state_machine(TcpEndpoint& ep, const TcpSegment& seg, std::int64_t delta_last,
                          StreamAnomalyCounts& anomalies);

// ---------------------------------------------------------------- one function per state
// Inline: every TCP segment passes here, and a call per segment costs more
// than the transition it makes.

namespace tcp_state {

// A RST moves the sender to Reset (every state but Closed and Reset alike).
inline void take_reset(const TcpEndpoint& ep, const TcpSegment& seg,
                       StreamAnomalyCounts& anomalies) {
    ep.set_state(TcpState::Reset);
    if (seg.len != 0) anomalies.add(StreamAnomaly::RstWithData);
}

// The sender's SYN, as the first thing it sent.
inline void inactive_syn(TcpEndpoint& ep, const TcpSegment& seg, StreamAnomalyCounts& anomalies) {
    Connection& c = ep.conn();
    if (ep.is_orig()) {
        ep.set_state(seg.ack ? TcpState::SynAckSent : TcpState::SynSent);
        c.attempt_ns = seg.ts_ns;
        return;
    }
    if (!seg.ack) {
        if (ep.peer_tcp().state == TcpState::SynAckSent && seg.seq == ep.tcp().start_seq) {
            // The SYN-ACK was seen before its SYN: swap the roles.
            ep.flip_roles();
            set_state(ep.peer_tcp(), TcpState::Established);
        } else {
            anomalies.add(StreamAnomaly::SimultaneousOpen);
        }
    }
    if (ep.peer_tcp().state == TcpState::SynSent) set_state(ep.peer_tcp(), TcpState::Established);
    ep.set_state(TcpState::Established);
}

inline void inactive_state(TcpEndpoint& ep, const TcpSegment& seg, StreamAnomalyCounts& anomalies,
                           bool& do_close) {
    if (seg.syn) inactive_syn(ep, seg, anomalies);
    const TcpState peer = ep.peer_tcp().state;
    if (seg.fin) {
        ep.set_state(TcpState::Closed);
        do_close = true;
        if (peer != TcpState::Partial && !seg.syn) anomalies.add(StreamAnomaly::SpontaneousFin);
    }
    if (seg.rst) {
        take_reset(ep, seg, anomalies);
        do_close = true;
        const bool reject = ep.is_orig()
                                ? peer == TcpState::Established
                                : peer == TcpState::SynSent || peer == TcpState::SynAckSent;
        if (!reject && peer == TcpState::Inactive) anomalies.add(StreamAnomaly::SpontaneousRst);
    }
    if (ep.state() != TcpState::Inactive) return;
    if (!ep.is_orig() && seg.len == 0 && ep.conn().side[0].tcp.state == TcpState::SynSent) {
        // some stacks ACK a SYN before answering it: not a partial connection
    } else if (seg.ack && peer == TcpState::Established) {
        ep.set_state(TcpState::Established);  // the SYN was missed, not the rest
    } else {
        ep.set_state(TcpState::Partial);
    }
}

inline void syn_sent_state(const TcpEndpoint& ep, const TcpSegment& seg,
                           StreamAnomalyCounts& anomalies, bool& do_close) {
    if (seg.fin) {
        const TcpState peer = ep.peer_tcp().state;
        if (peer == TcpState::Inactive || peer == TcpState::SynSent) {
            anomalies.add(StreamAnomaly::InappropriateFin);
        }
        ep.set_state(TcpState::Closed);
        do_close = true;
    }
    if (seg.rst) {
        take_reset(ep, seg, anomalies);
        do_close = true;
    } else if (seg.len != 0) {
        anomalies.add(StreamAnomaly::DataBeforeEstablished);
    }
}

inline void established_state(const TcpEndpoint& ep, const TcpSegment& seg,
                              StreamAnomalyCounts& anomalies, bool& do_close) {
    TcpSide& peer = ep.peer_tcp();
    if (seg.syn && ep.state() == TcpState::Partial && peer.state == TcpState::Inactive &&
        !seg.ack) {
        anomalies.add(StreamAnomaly::SynAfterPartial);
        ep.set_state(TcpState::SynSent);
    }
    if (seg.fin && !seg.rst) {
        ep.set_state(TcpState::Closed);
        if (peer.state == TcpState::Reset && peer.prev_state == TcpState::Closed) {
            set_state(peer, TcpState::Closed);  // FIN then RST was a normal close
        }
        do_close = true;
    }
    if (seg.rst) {
        take_reset(ep, seg, anomalies);
        do_close = true;
    }
}

inline void closed_state(const TcpEndpoint& ep, const TcpSegment& seg, std::int64_t delta_last,
                         StreamAnomalyCounts& anomalies, bool& do_close) {
    if (seg.syn) anomalies.add(StreamAnomaly::SynAfterClose);
    if (seg.fin && delta_last > 0) anomalies.add(StreamAnomaly::FinAdvancedLastSeq);
    if (seg.rst && ep.peer_tcp().state != TcpState::Closed) {
        take_reset(ep, seg, anomalies);
        if (!ep.tcp().did_close) do_close = true;
    }
}

inline void reset_state(const TcpSegment& seg, StreamAnomalyCounts& anomalies) {
    if (seg.syn) anomalies.add(StreamAnomaly::SynAfterReset);
    if (seg.fin) anomalies.add(StreamAnomaly::FinAfterReset);
    if (seg.len != 0 && !seg.rst) anomalies.add(StreamAnomaly::DataAfterReset);
}

}  // namespace tcp_state

inline bool update_state_machine(TcpEndpoint& ep, const TcpSegment& seg, std::int64_t delta_last,
                                 StreamAnomalyCounts& anomalies) {
    bool do_close = false;
    switch (ep.state()) {
        case TcpState::Inactive:
            tcp_state::inactive_state(ep, seg, anomalies, do_close);
            break;
        case TcpState::SynSent:
        case TcpState::SynAckSent:
            tcp_state::syn_sent_state(ep, seg, anomalies, do_close);
            break;
        case TcpState::Established:
        case TcpState::Partial:
            tcp_state::established_state(ep, seg, anomalies, do_close);
            break;
        case TcpState::Closed:
            tcp_state::closed_state(ep, seg, delta_last, anomalies, do_close);
            break;
        case TcpState::Reset:
            tcp_state::reset_state(seg, anomalies);
            break;
    }
    return do_close;
}

}  // namespace wl

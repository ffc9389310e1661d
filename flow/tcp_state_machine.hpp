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

}  // namespace wl

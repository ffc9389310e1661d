// What a connection's end states say: Zeek's conn_state, its payload sizes,
// and how it was torn down.
#include <algorithm>
#include <cstring>

#include "flow/flow_tracker.hpp"

namespace wl {

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

}  // namespace wl

#include "flow/ladder.hpp"

#include <algorithm>

#include "flow/tcp_endpoint.hpp"

namespace wl {

void record_ladder_step(LadderLog& log, const Connection& c, int dir, const Packet& pkt,
                        std::uint64_t ts) {
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

}  // namespace wl
